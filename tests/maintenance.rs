//! Scheduled maintenance through the dispatcher: the announcement fans out
//! with the maintenance's link, each audience is reminded once at its lead
//! time before the start, and nothing is due before the work starts. On
//! tokio's paused clock: every time is exact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use support::{PERMALINK_BASE, advance_to, target};
use tidings::channel::ChannelError;
use tidings::channel::memory::MemoryChannel;
use tidings::dispatch::DispatchReport;
use tidings::incident::{ModelError, Recipients};
use tidings::prelude::*;
use tidings::review::MessageKind;

const HOUR: Duration = Duration::from_secs(3600);

fn hours(n: i64) -> chrono::Duration {
    chrono::Duration::hours(n)
}

struct Setup {
    dispatcher: Dispatcher,
    page: Arc<MemoryChannel>,
    chat: Arc<MemoryChannel>,
    mail: Arc<MemoryChannel>,
    all_hands: Arc<MemoryChannel>,
}

/// Responders on chat (reminded 1 h before), customers by mail (24 h
/// before), employees on their own chat (never reminded).
fn setup(retry: RetryPolicy) -> Setup {
    let page = Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap()));
    let chat = Arc::new(MemoryChannel::new());
    let mail = Arc::new(MemoryChannel::new());
    let all_hands = Arc::new(MemoryChannel::new());
    let dispatcher = Dispatcher::builder(support::CANONICAL)
        .canonical_maintenance_url(CANONICAL_MAINTENANCE)
        .primary("page", page.clone())
        .channel("chat", chat.clone())
        .channel("mail", mail.clone())
        .channel("all-hands", all_hands.clone())
        .retry(retry)
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("chat", [target("#ops")]))
                .max_silence(Duration::from_secs(20 * 60))
                .holding_statements(true),
        )
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("mail", [target("subscribers@example.com")]))
                .maintenance_reminder(Some(24 * HOUR)),
        )
        .audience(
            AudiencePolicy::new(Audience::Employees)
                .route(Route::new("all-hands", [target("#all-hands")]))
                .maintenance_reminder(None),
        )
        .build()
        .unwrap();
    Setup {
        dispatcher,
        page,
        chat,
        mail,
        all_hands,
    }
}

/// A maintenance announced at `t0`, from `t0 + 72 h` to `t0 + 74 h`.
fn maintenance(t0: DateTime<Utc>) -> Incident {
    support::maintenance("mnt-3", t0, t0 + hours(72), 2)
}

/// Shares the maintenance and spawns [`Dispatcher::watch`] on it.
fn watch(
    d: &Dispatcher,
    m: Incident,
) -> (
    Arc<tokio::sync::Mutex<Incident>>,
    tokio::task::JoinHandle<Result<(), tidings::cadence::CadenceError>>,
) {
    let shared = Arc::new(tokio::sync::Mutex::new(m));
    let watcher = tokio::spawn({
        let d = d.clone();
        let shared = shared.clone();
        async move { d.watch(shared).await }
    });
    (shared, watcher)
}

async fn post(d: &Dispatcher, m: &mut Incident, draft: UpdateDraft) -> DispatchReport {
    let update = m.post(draft).unwrap().clone();
    let report = d.publish(m, &update).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    report
}

fn announce(t0: DateTime<Utc>) -> UpdateDraft {
    UpdateDraft::new(
        Status::Scheduled,
        t0,
        "The API will be read-only while we upgrade its database.",
    )
}

/// The memory primary's permalink.
const LINK: &str = "https://status.example.com/incidents/mnt-3";
/// Where messages the primary is not sent link to.
const CANONICAL_MAINTENANCE: &str = "https://status.example.com/maintenance/{id}";
const CANONICAL_LINK: &str = "https://status.example.com/maintenance/mnt-3";

#[tokio::test(start_paused = true)]
async fn the_announcement_fans_out_with_the_link_and_promises_the_start() {
    let s = setup(RetryPolicy::default());
    let t0 = tidings::clock::now();
    let mut m = maintenance(t0);
    let report = post(&s.dispatcher, &mut m, announce(t0)).await;
    assert_eq!(report.link.as_str(), LINK);
    assert_eq!(report.link_source, tidings::journal::LinkSource::Primary);
    assert_eq!(s.page.len(), 1);
    for ch in [&s.chat, &s.mail, &s.all_hands] {
        let text = &ch.texts()[0];
        assert!(
            text.starts_with("[Maintenance scheduled] Database upgrade\n"),
            "{text}"
        );
        assert!(text.ends_with(LINK), "{text}");
    }
    let mail = &s.mail.texts()[0];
    assert!(mail.contains("The API will be read-only"), "{mail}");
    assert!(mail.contains("Planned from "), "{mail}");
    assert_eq!(m.latest().unwrap().next_update_at, Some(t0 + hours(72)));
    assert_eq!(m.latest().unwrap().act(), Act::Announcement);
}

#[tokio::test(start_paused = true)]
async fn watch_reminds_each_audience_once_at_its_lead_time() {
    let s = setup(RetryPolicy::default());
    let t0 = tidings::clock::now();
    let mut m = maintenance(t0);
    post(&s.dispatcher, &mut m, announce(t0)).await;
    assert_eq!(
        s.dispatcher.next_maintenance_reminder(&m),
        Some(t0 + hours(48)),
        "customers first, 24 h before the start"
    );
    let (shared, watcher) = watch(&s.dispatcher, m);

    // Just before the customers' lead time: nothing yet.
    tokio::time::sleep(48 * HOUR - Duration::from_secs(1)).await;
    assert_eq!((s.chat.len(), s.mail.len(), s.all_hands.len()), (1, 1, 1));
    // At it: the customers' reminder, and only theirs.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!((s.chat.len(), s.mail.len(), s.all_hands.len()), (1, 2, 1));
    let reminder = &s.mail.texts()[1];
    assert!(
        reminder.starts_with("[Maintenance reminder] Database upgrade\n"),
        "{reminder}"
    );
    assert!(
        reminder.contains("Reminder: this maintenance starts in 1 d, at "),
        "{reminder}"
    );
    assert!(
        reminder.contains("The API will be read-only"),
        "repeats the announcement: {reminder}"
    );
    assert!(reminder.ends_with(LINK), "{reminder}");
    // Responders at 71 h.
    tokio::time::sleep(23 * HOUR).await;
    assert_eq!((s.chat.len(), s.mail.len(), s.all_hands.len()), (2, 2, 1));
    assert!(
        s.chat.texts()[1].contains("Reminder: this maintenance starts in 1 h"),
        "{}",
        s.chat.texts()[1]
    );
    // Not for customers: the page is not sent it, the canonical URL is the
    // link.
    assert!(s.chat.texts()[1].ends_with(CANONICAL_LINK));
    // Past the start: no more reminders, and no holding statement while the
    // maintenance has not been said to start.
    tokio::time::sleep(2 * HOUR).await;
    assert_eq!((s.chat.len(), s.mail.len(), s.all_hands.len()), (2, 2, 1));
    {
        let m = shared.lock().await;
        let reminders: Vec<_> = m
            .updates()
            .iter()
            .filter(|u| u.reminder)
            .map(|u| (u.recipients.clone(), (u.at - t0).num_hours()))
            .collect();
        assert_eq!(
            reminders,
            [
                (Recipients::Only(vec![Audience::Customers]), 48),
                (Recipients::Only(vec![Audience::CoreResponders]), 71),
            ]
        );
        // The page was sent the customers' reminder (for its permalink) but
        // not the responders'.
        assert_eq!(s.page.len(), 2);
    }
    {
        let mut m = shared.lock().await;
        let now = tidings::clock::now();
        post(
            &s.dispatcher,
            &mut m,
            UpdateDraft::new(Status::Completed, now, "Done."),
        )
        .await;
    }
    tokio::time::sleep(HOUR).await;
    assert!(watcher.is_finished());
    watcher.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn only_audiences_told_of_the_maintenance_are_reminded() {
    let s = setup(RetryPolicy::default());
    let t0 = tidings::clock::now();
    let mut m = maintenance(t0);
    post(
        &s.dispatcher,
        &mut m,
        announce(t0).only_for([Audience::Customers]),
    )
    .await;
    let reports = s
        .dispatcher
        .send_maintenance_reminders(&mut m, t0 + hours(71) + chrono::Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        m.latest().unwrap().recipients,
        Recipients::Only(vec![Audience::Customers])
    );
    assert_eq!((s.chat.len(), s.mail.len()), (0, 2));
    assert_eq!(s.dispatcher.next_maintenance_reminder(&m), None);
}

#[tokio::test(start_paused = true)]
async fn a_failed_reminder_is_sent_again_not_posted_again() {
    let s = setup(RetryPolicy::never());
    let t0 = tidings::clock::now();
    let mut m = maintenance(t0);
    post(&s.dispatcher, &mut m, announce(t0)).await;
    let at = t0 + hours(50);
    s.mail
        .fail_next(ChannelError::transient("450 mailbox busy"));
    let reports = s
        .dispatcher
        .send_maintenance_reminders(&mut m, at)
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert!(!reports[0].all_sent());
    assert_eq!(m.updates().len(), 2);
    let reports = s
        .dispatcher
        .send_maintenance_reminders(&mut m, at + chrono::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].seq, 2, "the same reminder");
    assert_eq!(reports[0].sent_now(), 1, "only the failed delivery");
    assert_eq!(m.updates().len(), 2);
    assert_eq!(s.mail.len(), 2);
    // Delivered: nothing more.
    let reports = s
        .dispatcher
        .send_maintenance_reminders(&mut m, at + chrono::Duration::minutes(2))
        .await
        .unwrap();
    assert!(reports.is_empty());
}

#[tokio::test(start_paused = true)]
async fn no_reminder_once_started_before_announcement_or_for_incidents() {
    let s = setup(RetryPolicy::default());
    let t0 = tidings::clock::now();
    // Not announced yet.
    let mut m = maintenance(t0);
    assert!(
        s.dispatcher
            .send_maintenance_reminders(&mut m, t0 + hours(71))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.dispatcher.next_maintenance_reminder(&m), None);
    post(&s.dispatcher, &mut m, announce(t0)).await;
    // Past the start by the clock.
    assert!(
        s.dispatcher
            .send_maintenance_reminders(&mut m, t0 + hours(72))
            .await
            .unwrap()
            .is_empty()
    );
    // Said to have started early.
    post(
        &s.dispatcher,
        &mut m,
        UpdateDraft::new(Status::InProgress, t0 + hours(60), "We started early."),
    )
    .await;
    assert!(
        s.dispatcher
            .send_maintenance_reminders(&mut m, t0 + hours(71))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.dispatcher.next_maintenance_reminder(&m), None);
    assert_eq!(m.updates().len(), 2);
    // An incident has no reminders.
    let (mut incident, _) = support::incident();
    assert!(
        s.dispatcher
            .send_maintenance_reminders(&mut incident, t0)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn nothing_is_due_before_the_start_then_the_cadence_applies() {
    let s = setup(RetryPolicy::default());
    let t0 = tidings::clock::now();
    let mut m = maintenance(t0);
    post(&s.dispatcher, &mut m, announce(t0)).await;
    // Responders' 20-minute silence does not count before the start.
    let cadence = s.dispatcher.cadence(&m).await.unwrap();
    assert_eq!(cadence.due(&Audience::CoreResponders), Some(t0 + hours(72)));
    assert!(cadence.overdue(t0 + hours(71)).is_empty());
    assert!(
        s.dispatcher
            .send_holding_statements(&mut m, t0 + hours(73))
            .await
            .unwrap()
            .is_empty(),
        "no holding statement while still scheduled"
    );
    // Under way: the silence counts again, and holding statements say so.
    let started = advance_to(t0 + hours(72)).await;
    post(
        &s.dispatcher,
        &mut m,
        UpdateDraft::new(Status::InProgress, started, "The upgrade has started."),
    )
    .await;
    assert_eq!(
        m.latest().unwrap().next_update_at,
        Some(t0 + hours(74)),
        "the window's end is the promise"
    );
    let cadence = s.dispatcher.cadence(&m).await.unwrap();
    assert_eq!(
        cadence.due(&Audience::CoreResponders),
        Some(started + chrono::Duration::minutes(20))
    );
    let now = advance_to(started + chrono::Duration::minutes(20)).await;
    let reports = s
        .dispatcher
        .send_holding_statements(&mut m, now)
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    let holding = s.chat.texts().last().cloned().unwrap();
    assert!(
        holding.starts_with("[Maintenance in progress] Database upgrade\n"),
        "{holding}"
    );
    assert!(
        holding.contains("The maintenance is still in progress."),
        "{holding}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_review_counts_silences_only_once_the_work_starts() {
    let s = setup(RetryPolicy::default());
    let t0 = tidings::clock::now();
    let mut m = maintenance(t0);
    post(&s.dispatcher, &mut m, announce(t0)).await;
    let now = advance_to(t0 + hours(71)).await;
    s.dispatcher
        .send_maintenance_reminders(&mut m, now)
        .await
        .unwrap();
    let now = advance_to(t0 + hours(72)).await;
    post(
        &s.dispatcher,
        &mut m,
        UpdateDraft::new(Status::InProgress, now, "Started."),
    )
    .await;
    let now = advance_to(t0 + hours(73)).await;
    post(
        &s.dispatcher,
        &mut m,
        UpdateDraft::new(Status::Completed, now, "Done."),
    )
    .await;
    let review = s.dispatcher.review(&m).await.unwrap();
    let responders = review.audience(&Audience::CoreResponders).unwrap();
    let kinds: Vec<MessageKind> = responders
        .timeline
        .messages
        .iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            MessageKind::FirstContact,
            MessageKind::Reminder,
            MessageKind::Update,
            MessageKind::Resolution
        ]
    );
    // One silence under way: "Started." (at the start) → "Done." (1 h, over
    // the 20-minute target). The 72 h before the start do not count.
    let gaps: Vec<(i64, bool)> = responders
        .timeline
        .gaps
        .iter()
        .map(|g| (g.length.as_secs() as i64 / 60, g.over_target))
        .collect();
    assert_eq!(gaps, [(60, true)]);
    assert_eq!(review.resolved_at, Some(t0 + hours(73)));
    let svg = review.to_svg();
    assert!(svg.contains("Maintenance reminder"));
}

#[test]
fn the_model_keeps_maintenance_and_incident_statuses_apart() {
    let t0 = support::t0();
    let mut m = maintenance(t0);
    assert_eq!(m.status(), Status::Scheduled);
    assert!(matches!(
        m.post(UpdateDraft::new(Status::Investigating, t0, "x").next_update_at(t0 + hours(1))),
        Err(ModelError::WrongKindOfStatus {
            seq: 1,
            status: Status::Investigating,
            maintenance: true
        })
    ));
    // A reminder needs the announcement's status and must come before the start.
    assert!(matches!(
        m.post(UpdateDraft::new(Status::InProgress, t0, "x").reminder()),
        Err(ModelError::InvalidReminder { seq: 1 })
    ));
    assert!(matches!(
        m.post(UpdateDraft::new(Status::Scheduled, t0 + hours(72), "x").reminder()),
        Err(ModelError::InvalidReminder { seq: 1 })
    ));
    // Scheduled after the start needs an explicit promise.
    assert!(matches!(
        m.post(UpdateDraft::new(Status::Scheduled, t0 + hours(73), "late")),
        Err(ModelError::MissingNextUpdate { seq: 1 })
    ));
    m.post(announce(t0)).unwrap();
    m.post(UpdateDraft::new(
        Status::Completed,
        t0 + hours(1),
        "Cancelled.",
    ))
    .unwrap();
    assert!(m.status().is_closed());
    assert!(matches!(
        m.post(UpdateDraft::new(Status::InProgress, t0 + hours(72), "x")),
        Err(ModelError::InvalidTransition { .. })
    ));

    let (mut incident, _) = support::incident();
    assert!(matches!(
        incident.post(UpdateDraft::new(Status::Completed, t0 + hours(1), "x")),
        Err(ModelError::WrongKindOfStatus {
            maintenance: false,
            ..
        })
    ));
    assert!(matches!(
        incident.post(
            UpdateDraft::new(Status::Identified, t0 + hours(1), "x")
                .next_update_at(t0 + hours(2))
                .reminder()
        ),
        Err(ModelError::InvalidReminder { .. })
    ));
    assert!(matches!(
        MaintenanceWindow::new(t0, t0),
        Err(ModelError::EmptyWindow { .. })
    ));
    // A stored window is checked when read back.
    assert!(
        serde_json::from_str::<MaintenanceWindow>(
            r#"{"scheduled_for":"2026-11-25T15:00:00Z","scheduled_until":"2026-11-25T14:00:00Z"}"#
        )
        .is_err()
    );
    // Serde keeps the window and the reminder flag.
    let json = serde_json::to_string(&m).unwrap();
    let back: Incident = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
    assert!(back.is_maintenance());
}

#[test]
fn a_zero_reminder_lead_is_refused() {
    let policy = AudiencePolicy::new(Audience::Customers)
        .route(Route::new("mail", [target("a@example.com")]))
        .maintenance_reminder(Some(Duration::ZERO));
    assert!(matches!(
        policy.validate(),
        Err(tidings::audience::PolicyError::ZeroReminder(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_failed_primary_links_to_the_maintenance_canonical_url() {
    let page = Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap()));
    let mail = Arc::new(MemoryChannel::new());
    let dispatcher = Dispatcher::builder(support::CANONICAL)
        .canonical_maintenance_url("https://status.example.com/maintenance/{id}.html")
        .primary("page", page.clone())
        .channel("mail", mail.clone())
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("mail", [target("subscribers@example.com")])),
        )
        .build()
        .unwrap();
    let t0 = tidings::clock::now();
    let mut m = maintenance(t0);
    let announcement = m.post(announce(t0)).unwrap().clone();
    page.fail_next(ChannelError::rejected("page is read-only"));
    let report = dispatcher.publish(&m, &announcement).await.unwrap();
    let link = "https://status.example.com/maintenance/mnt-3.html";
    assert_eq!(report.link.as_str(), link);
    assert!(matches!(
        report.link_source,
        tidings::journal::LinkSource::Canonical { .. }
    ));
    assert!(mail.texts()[0].ends_with(link));
    // An incident keeps the incidents' canonical URL.
    let (incident, first) = support::incident();
    page.fail_next(ChannelError::rejected("page is read-only"));
    let report = dispatcher.publish(&incident, &first).await.unwrap();
    assert_eq!(
        report.link.as_str(),
        "https://status.example.com/incidents/inc-7"
    );
    // A template without {id} is refused.
    assert!(
        Dispatcher::builder(support::CANONICAL)
            .canonical_maintenance_url("https://status.example.com/maintenance")
            .primary("page", page)
            .build()
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn news_within_the_lead_time_is_its_own_reminder() {
    let s = setup(RetryPolicy::default());
    let t0 = tidings::clock::now();
    let mut m = maintenance(t0);
    // Announced 30 minutes before the start: inside every lead time.
    let late = t0 + hours(72) - chrono::Duration::minutes(30);
    post(&s.dispatcher, &mut m, announce(late)).await;
    assert_eq!(s.dispatcher.next_maintenance_reminder(&m), None);
    assert!(
        s.dispatcher
            .send_maintenance_reminders(&mut m, late)
            .await
            .unwrap()
            .is_empty()
    );
    // And a watch with nothing to remind (responders' holding statements
    // aside) keeps only the cadence: nothing is sent before the start.
    let cadence = s.dispatcher.cadence(&m).await.unwrap();
    assert_eq!(cadence.due(&Audience::CoreResponders), Some(t0 + hours(72)));
    assert_eq!(
        cadence.due(&Audience::Customers),
        Some(t0 + hours(72)),
        "not the announcement time plus max_silence"
    );
}

#[tokio::test(start_paused = true)]
async fn an_audience_not_told_is_due_at_the_start_not_before() {
    let s = setup(RetryPolicy::default());
    let t0 = tidings::clock::now();
    let mut m = maintenance(t0);
    post(
        &s.dispatcher,
        &mut m,
        announce(t0).only_for([Audience::Customers]),
    )
    .await;
    let cadence = s.dispatcher.cadence(&m).await.unwrap();
    assert_eq!(cadence.due(&Audience::CoreResponders), Some(t0 + hours(72)));
    assert!(cadence.overdue(t0 + hours(71)).is_empty());
}

#[tokio::test(start_paused = true)]
async fn watch_ends_when_the_work_starts() {
    // No holding statements anywhere: the watch only has reminders to send.
    let chat = Arc::new(MemoryChannel::new());
    let dispatcher = Dispatcher::builder(support::CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("chat", chat.clone())
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("chat", [target("#ops")])),
        )
        .build()
        .unwrap();
    let t0 = tidings::clock::now();
    let mut m = maintenance(t0);
    post(&dispatcher, &mut m, announce(t0)).await;
    let (_shared, watcher) = watch(&dispatcher, m);
    tokio::time::sleep(71 * HOUR + Duration::from_secs(1)).await;
    assert_eq!(chat.len(), 2);
    assert!(!watcher.is_finished(), "an audience may still be told");
    tokio::time::sleep(HOUR).await;
    assert!(watcher.is_finished(), "started: nothing left to keep");
    watcher.await.unwrap().unwrap();
}

#[test]
fn the_next_update_line_names_the_start_only_when_it_is_the_promise() {
    let t0 = support::t0();
    let templates = tidings::render::Templates::new();
    let mut m = maintenance(t0);
    let by_default = m.post(announce(t0)).unwrap().clone();
    let line = |m: &Incident, u| {
        templates
            .render(m, u, &Audience::Customers, Detail::Public)
            .unwrap()
            .next_update
            .unwrap()
    };
    assert_eq!(
        line(&m, &by_default),
        "Next update when the work starts, at 2026-11-28 14:00 UTC."
    );
    let sooner = m
        .post(
            UpdateDraft::new(Status::Scheduled, t0 + hours(1), "The date may move.")
                .next_update_at(t0 + hours(24)),
        )
        .unwrap()
        .clone();
    assert_eq!(line(&m, &sooner), "Next update by 2026-11-26 14:00 UTC.");
}

#[tokio::test(start_paused = true)]
async fn a_watch_started_early_reminds_audiences_told_later() {
    // No holding statements: the watch is only about reminders.
    let chat = Arc::new(MemoryChannel::new());
    let mail = Arc::new(MemoryChannel::new());
    let dispatcher = Dispatcher::builder(support::CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("chat", chat.clone())
        .channel("mail", mail.clone())
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("chat", [target("#ops")])),
        )
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("mail", [target("subscribers@example.com")]))
                .maintenance_reminder(Some(24 * HOUR)),
        )
        .build()
        .unwrap();
    let t0 = tidings::clock::now();
    // Watched before anything is announced.
    let (shared, watcher) = watch(&dispatcher, maintenance(t0));
    tokio::time::sleep(HOUR).await;
    assert!(!watcher.is_finished());
    // Customers are told first, responders a day later.
    {
        let mut m = shared.lock().await;
        let now = tidings::clock::now();
        post(
            &dispatcher,
            &mut m,
            announce(now).only_for([Audience::Customers]),
        )
        .await;
    }
    tokio::time::sleep(24 * HOUR).await;
    {
        let mut m = shared.lock().await;
        let now = tidings::clock::now();
        post(
            &dispatcher,
            &mut m,
            announce(now).only_for([Audience::CoreResponders]),
        )
        .await;
    }
    // Customers at 48 h, responders at 71 h, each once.
    tokio::time::sleep(47 * HOUR).await;
    assert_eq!((mail.len(), chat.len()), (2, 2));
    assert!(mail.texts()[1].contains("Reminder: this maintenance starts in 1 d"));
    assert!(chat.texts()[1].contains("Reminder: this maintenance starts in 1 h"));
    // The work starts: nothing left to remind of, the watch ends.
    tokio::time::sleep(2 * HOUR).await;
    assert!(watcher.is_finished());
    watcher.await.unwrap().unwrap();
    assert_eq!((mail.len(), chat.len()), (2, 2));
}
