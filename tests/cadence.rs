//! Cadence and holding statements, on tokio's paused clock: the journal's
//! times follow virtual time, so every due time is exact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use support::{PERMALINK_BASE, target};
use tidings::cadence::{Cadence, CadenceError};
use tidings::channel::ChannelError;
use tidings::channel::memory::MemoryChannel;
use tidings::incident::{Person, Recipients, Role, Update};
use tidings::journal::DeliveryState;
use tidings::prelude::*;
use tidings::review::MessageKind;

const MIN: Duration = Duration::from_secs(60);
const SEC: Duration = Duration::from_secs(1);

fn min(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

/// Moves tokio's (paused) clock forward and returns the new time.
async fn advance_to(t0: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    support::advance_to(t0 + min(minutes)).await
}

struct Setup {
    dispatcher: Dispatcher,
    page: Arc<MemoryChannel>,
    chat: Arc<MemoryChannel>,
    mail: Arc<MemoryChannel>,
    lead: Arc<MemoryChannel>,
}

/// Responders on chat (20 min; the first message within 5), customers by
/// mail (60 min; the first within 15), leadership on their own chat (30 min,
/// the first too; never holding statements).
fn setup(holding: bool) -> Setup {
    let page = Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap()));
    let chat = Arc::new(MemoryChannel::new());
    let mail = Arc::new(MemoryChannel::new());
    let lead = Arc::new(MemoryChannel::new());
    let dispatcher = Dispatcher::builder(support::CANONICAL)
        .primary("page", page.clone())
        .channel("chat", chat.clone())
        .channel("mail", mail.clone())
        .channel("lead", lead.clone())
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("chat", [target("#inc")]))
                .max_silence(20 * MIN)
                .holding_statements(holding),
        )
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("mail", [target("subscribers@example.com")]))
                .max_silence(60 * MIN)
                .holding_statements(holding),
        )
        .audience(
            AudiencePolicy::new(Audience::Leadership)
                .route(Route::new("lead", [target("#leadership")]))
                .max_silence(30 * MIN)
                .first_message_within(30 * MIN),
        )
        .build()
        .unwrap();
    Setup {
        dispatcher,
        page,
        chat,
        mail,
        lead,
    }
}

fn incident(t0: DateTime<Utc>) -> Incident {
    Incident::new(
        IncidentId::new("inc-9").unwrap(),
        "Checkout errors",
        Impact::Major,
        t0,
    )
    .unwrap()
}

async fn post(
    d: &Dispatcher,
    inc: &mut Incident,
    draft: UpdateDraft,
) -> tidings::dispatch::DispatchReport {
    let update = inc.post(draft).unwrap().clone();
    let report = d.publish(inc, &update).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    report
}

#[tokio::test(start_paused = true)]
async fn due_is_the_earlier_of_the_promise_and_max_silence() {
    let s = setup(false);
    let t0 = tidings::clock::now();
    let mut inc = incident(t0);

    // Before anything is sent, everyone is due at start + its first-message
    // target (the play: communicate early), not its longest silence.
    let c = s.dispatcher.cadence(&inc).await.unwrap();
    assert_eq!(c.due(&Audience::CoreResponders), Some(t0 + min(5)));
    assert_eq!(c.due(&Audience::Customers), Some(t0 + min(15)));
    assert_eq!(c.due(&Audience::Leadership), Some(t0 + min(30)));
    assert!(c.audiences().iter().all(|a| a.last.is_none()));

    // First contact at +5, promising +35, for responders and customers.
    let now = advance_to(t0, 5).await;
    post(
        &s.dispatcher,
        &mut inc,
        UpdateDraft::new(Status::Investigating, now, "Checkout fails for some.")
            .next_update_at(t0 + min(35))
            .only_for([Audience::CoreResponders, Audience::Customers]),
    )
    .await;
    let c = s.dispatcher.cadence(&inc).await.unwrap();
    let core = c.audience(&Audience::CoreResponders).unwrap();
    let last = core.last.as_ref().unwrap();
    assert_eq!(
        (last.at, last.seq, &*last.channel),
        (t0 + min(5), 1, "chat")
    );
    assert_eq!(last.target, target("#inc"));
    assert_eq!(core.promised, Some(t0 + min(35)));
    // max_silence (20 min) comes before the promise for responders …
    assert_eq!(core.due, Some(t0 + min(25)));
    // … the promise comes before max_silence (60 min) for customers.
    let customers = c.audience(&Audience::Customers).unwrap();
    assert_eq!(customers.last.as_ref().unwrap().channel.as_ref(), "mail");
    assert_eq!(customers.due, Some(t0 + min(35)));
    // Leadership was not told: still due at start + 30.
    assert_eq!(c.due(&Audience::Leadership), Some(t0 + min(30)));
    assert_eq!(c.next_due(), Some(t0 + min(25)));

    // Overdue lists, most overdue first, with how long.
    assert!(c.overdue(t0 + min(24)).is_empty());
    let at_due = c.overdue(t0 + min(25));
    assert_eq!(at_due.len(), 1);
    assert_eq!(at_due[0].audience, Audience::CoreResponders);
    assert_eq!(at_due[0].late_by, Duration::ZERO);
    let later = c.overdue(t0 + min(31));
    let who: Vec<_> = later
        .iter()
        .map(|o| (o.audience.clone(), o.late_by))
        .collect();
    assert_eq!(
        who,
        [
            (Audience::CoreResponders, 6 * MIN),
            (Audience::Leadership, MIN)
        ]
    );
    assert!(later[1].last.is_none());
    assert_eq!(c.overdue(t0 + min(40)).len(), 3);

    // An update at +30 for everyone, promising +90.
    let now = advance_to(t0, 30).await;
    post(
        &s.dispatcher,
        &mut inc,
        UpdateDraft::new(Status::Identified, now, "A bad deploy; rolling back.")
            .next_update_at(t0 + min(90)),
    )
    .await;
    let c = s.dispatcher.cadence(&inc).await.unwrap();
    assert_eq!(c.due(&Audience::CoreResponders), Some(t0 + min(50)));
    assert_eq!(c.due(&Audience::Customers), Some(t0 + min(90)));
    assert_eq!(c.due(&Audience::Leadership), Some(t0 + min(60)));
    assert!(c.overdue(now).is_empty());
    assert_eq!((s.chat.len(), s.mail.len(), s.lead.len()), (2, 2, 1));
}

#[tokio::test(start_paused = true)]
async fn a_failed_delivery_does_not_count_as_heard() {
    let s = setup(false);
    let t0 = tidings::clock::now();
    let mut inc = incident(t0);
    post(
        &s.dispatcher,
        &mut inc,
        UpdateDraft::new(Status::Investigating, t0, "Checkout fails.").next_update_at(t0 + min(30)),
    )
    .await;
    let now = advance_to(t0, 10).await;
    s.mail.fail_next(ChannelError::rejected("mailbox full"));
    let update = inc
        .post(UpdateDraft::new(Status::Identified, now, "Found it.").next_update_at(t0 + min(70)))
        .unwrap()
        .clone();
    let report = s.dispatcher.publish(&inc, &update).await.unwrap();
    assert!(!report.all_sent());
    let c = s.dispatcher.cadence(&inc).await.unwrap();
    // Customers last heard update 1 at +0: its promise (+30) still stands.
    let customers = c.audience(&Audience::Customers).unwrap();
    assert_eq!(customers.last.as_ref().unwrap().seq, 1);
    assert_eq!(customers.due, Some(t0 + min(30)));
    // Responders heard update 2 at +10.
    assert_eq!(c.due(&Audience::CoreResponders), Some(t0 + min(30)));
    assert_eq!(
        c.audience(&Audience::CoreResponders)
            .unwrap()
            .last
            .as_ref()
            .unwrap()
            .seq,
        2
    );
}

#[tokio::test(start_paused = true)]
async fn resolved_incidents_are_never_overdue() {
    let s = setup(true);
    let t0 = tidings::clock::now();
    let mut inc = incident(t0);
    post(
        &s.dispatcher,
        &mut inc,
        UpdateDraft::new(Status::Investigating, t0, "Checkout fails.").next_update_at(t0 + min(30)),
    )
    .await;
    let now = advance_to(t0, 15).await;
    post(
        &s.dispatcher,
        &mut inc,
        UpdateDraft::new(Status::Resolved, now, "Fixed."),
    )
    .await;
    let c = s.dispatcher.cadence(&inc).await.unwrap();
    assert!(c.is_closed());
    assert_eq!(c.next_due(), None);
    assert!(c.audiences().iter().all(|a| a.due.is_none()));
    assert!(c.overdue(t0 + chrono::Duration::days(30)).is_empty());
    // Still closed after the postmortem; and no holding statement is ever sent.
    let now = advance_to(t0, 600).await;
    post(
        &s.dispatcher,
        &mut inc,
        UpdateDraft::new(Status::Postmortem, now, "What happened."),
    )
    .await;
    let c = s.dispatcher.cadence(&inc).await.unwrap();
    assert!(c.is_closed() && c.overdue(now + min(1000)).is_empty());
    let sent = s.chat.len();
    let reports = s
        .dispatcher
        .send_holding_statements(&mut inc, now + min(1000))
        .await
        .unwrap();
    assert!(reports.is_empty());
    assert_eq!((s.chat.len(), inc.updates().len()), (sent, 3));
}

#[tokio::test(start_paused = true)]
async fn holding_statements_go_only_to_overdue_audiences_that_asked() {
    let s = setup(true);
    let t0 = tidings::clock::now();
    let mut inc = incident(t0);
    post(
        &s.dispatcher,
        &mut inc,
        UpdateDraft::new(Status::Investigating, t0, "Checkout fails for some.")
            .next_update_at(t0 + min(30)),
    )
    .await;
    assert_eq!(
        (s.page.len(), s.chat.len(), s.mail.len(), s.lead.len()),
        (1, 1, 1, 1)
    );

    // +19: nobody is due yet.
    let now = advance_to(t0, 19).await;
    let none = s
        .dispatcher
        .send_holding_statements(&mut inc, now)
        .await
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(inc.updates().len(), 1);

    // +20: responders reached their 20 minutes; only they get a statement,
    // and the status page (customers') is left alone.
    let now = advance_to(t0, 20).await;
    let reports = s
        .dispatcher
        .send_holding_statements(&mut inc, now)
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert!(reports[0].all_sent());
    assert!(reports[0].primary.is_none());
    let holding: &Update = inc.update(2).unwrap();
    assert!(holding.holding);
    assert_eq!(holding.status, Status::Investigating);
    assert_eq!(holding.at, t0 + min(20));
    assert_eq!(holding.next_update_at, Some(t0 + min(40)));
    assert_eq!(
        holding.recipients,
        Recipients::Only(vec![Audience::CoreResponders])
    );
    assert_eq!(
        (s.page.len(), s.chat.len(), s.mail.len(), s.lead.len()),
        (1, 2, 1, 1)
    );
    let text = &s.chat.texts()[1];
    assert!(
        text.contains("We are still investigating this issue."),
        "{text}"
    );
    let next = (t0 + min(40)).format("%Y-%m-%d %H:%M UTC").to_string();
    assert!(text.contains(&format!("Next update by {next}.")), "{text}");
    assert!(
        text.ends_with("https://status.example.com/incidents/inc-9"),
        "{text}"
    );
    // Threaded under the first contact, like any update.
    assert!(s.chat.deliveries()[1].thread.is_some());

    // Journaled like every message.
    let records = s.dispatcher.journal().records(inc.id()).await.unwrap();
    let seq2: Vec<_> = records.iter().filter(|r| r.entry.seq == 2).collect();
    assert_eq!(seq2.len(), 1);
    assert_eq!(&*seq2[0].entry.channel, "chat");
    assert!(matches!(seq2[0].state, DeliveryState::Sent(_)));

    // Asking again at the same time sends nothing more.
    assert!(
        s.dispatcher
            .send_holding_statements(&mut inc, now)
            .await
            .unwrap()
            .is_empty()
    );

    // +30: customers' promise is due (leadership's 30 minutes too, but it did
    // not ask for holding statements); responders are not due until +40.
    let now = advance_to(t0, 30).await;
    let reports = s
        .dispatcher
        .send_holding_statements(&mut inc, now)
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    let for_customers = inc.update(3).unwrap();
    assert!(for_customers.holding);
    assert_eq!(
        for_customers.recipients,
        Recipients::Only(vec![Audience::Customers])
    );
    assert_eq!(for_customers.next_update_at, Some(t0 + min(90)));
    // Customers' statement also updates the status page.
    assert!(reports[0].primary.is_some());
    assert_eq!(
        (s.page.len(), s.chat.len(), s.mail.len(), s.lead.len()),
        (2, 2, 2, 1)
    );
    let c = s.dispatcher.cadence(&inc).await.unwrap();
    let overdue: Vec<_> = c.overdue(now).into_iter().map(|o| o.audience).collect();
    assert_eq!(overdue, [Audience::Leadership]);
    assert_eq!(c.due(&Audience::CoreResponders), Some(t0 + min(40)));
    assert_eq!(c.due(&Audience::Customers), Some(t0 + min(90)));

    // The review shows them as holding statements.
    let review = s.dispatcher.review(&inc).await.unwrap();
    let kinds: Vec<_> = review
        .channel("chat", &Audience::CoreResponders)
        .unwrap()
        .timeline
        .messages
        .iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(kinds, [MessageKind::FirstContact, MessageKind::Holding]);
}

#[tokio::test(start_paused = true)]
async fn audiences_with_different_silences_get_one_statement_each() {
    let s = setup(true);
    let t0 = tidings::clock::now();
    let mut inc = incident(t0);
    post(
        &s.dispatcher,
        &mut inc,
        UpdateDraft::new(Status::Identified, t0, "Found the cause.").next_update_at(t0 + min(10)),
    )
    .await;
    // At +10 both are overdue on the update's promise.
    let now = advance_to(t0, 10).await;
    let reports = s
        .dispatcher
        .send_holding_statements(&mut inc, now)
        .await
        .unwrap();
    assert_eq!(reports.len(), 2);
    let core = inc.update(2).unwrap();
    let customers = inc.update(3).unwrap();
    assert_eq!(
        core.recipients,
        Recipients::Only(vec![Audience::CoreResponders])
    );
    assert_eq!(core.next_update_at, Some(t0 + min(30)));
    assert_eq!(
        customers.recipients,
        Recipients::Only(vec![Audience::Customers])
    );
    assert_eq!(customers.next_update_at, Some(t0 + min(70)));
    // The wording follows the status.
    assert!(
        core.message.contains("working on a fix"),
        "{}",
        core.message
    );
    assert_eq!(core.status, Status::Identified);
}

#[tokio::test(start_paused = true)]
async fn holding_statements_are_off_by_default() {
    let s = setup(false);
    let t0 = tidings::clock::now();
    let mut inc = incident(t0);
    post(
        &s.dispatcher,
        &mut inc,
        UpdateDraft::new(Status::Investigating, t0, "Checkout fails.").next_update_at(t0 + min(30)),
    )
    .await;
    let now = advance_to(t0, 120).await;
    let c = s.dispatcher.cadence(&inc).await.unwrap();
    assert_eq!(c.overdue(now).len(), 3);
    assert!(c.overdue(now).iter().all(|o| !o.holding_statements));
    let reports = s
        .dispatcher
        .send_holding_statements(&mut inc, now)
        .await
        .unwrap();
    assert!(reports.is_empty());
    assert_eq!(inc.updates().len(), 1);
    assert_eq!((s.chat.len(), s.mail.len(), s.lead.len()), (1, 1, 1));
    assert!(!AudiencePolicy::new(Audience::Customers).sends_holding_statements());
    // And watching returns at once.
    let shared = Arc::new(tokio::sync::Mutex::new(inc));
    s.dispatcher.watch(shared).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn no_holding_statement_before_the_first_contact() {
    let s = setup(true);
    let t0 = tidings::clock::now();
    let mut inc = incident(t0);
    let now = advance_to(t0, 90).await;
    assert_eq!(
        s.dispatcher.cadence(&inc).await.unwrap().overdue(now).len(),
        3
    );
    let reports = s
        .dispatcher
        .send_holding_statements(&mut inc, now)
        .await
        .unwrap();
    assert!(reports.is_empty());
    assert!(s.chat.is_empty() && s.page.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_undelivered_holding_statement_is_sent_again_not_posted_twice() {
    let s = setup(true);
    let t0 = tidings::clock::now();
    let mut inc = incident(t0);
    post(
        &s.dispatcher,
        &mut inc,
        UpdateDraft::new(Status::Investigating, t0, "Checkout fails.").next_update_at(t0 + min(60)),
    )
    .await;
    let now = advance_to(t0, 20).await;
    s.chat.fail_next(ChannelError::rejected("channel archived"));
    let reports = s
        .dispatcher
        .send_holding_statements(&mut inc, now)
        .await
        .unwrap();
    assert!(!reports[0].all_sent());
    assert_eq!(inc.updates().len(), 2);
    // Still overdue; the same statement is published again.
    let now = advance_to(t0, 21).await;
    let reports = s
        .dispatcher
        .send_holding_statements(&mut inc, now)
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].seq, 2);
    assert!(reports[0].all_sent());
    assert_eq!(inc.updates().len(), 2);
    assert_eq!(s.chat.len(), 2);
    // Delivered at +21: its promise (+40) is now what counts.
    let c = s.dispatcher.cadence(&inc).await.unwrap();
    assert_eq!(c.due(&Audience::CoreResponders), Some(t0 + min(40)));
}

#[tokio::test(start_paused = true)]
async fn watch_keeps_the_cadence_until_the_incident_is_resolved() {
    let s = setup(true);
    let t0 = tidings::clock::now();
    let mut inc = incident(t0);
    post(
        &s.dispatcher,
        &mut inc,
        UpdateDraft::new(Status::Investigating, t0, "Checkout fails.").next_update_at(t0 + min(30)),
    )
    .await;
    let shared = Arc::new(tokio::sync::Mutex::new(inc));
    let watcher = tokio::spawn({
        let d = s.dispatcher.clone();
        let shared = shared.clone();
        async move { d.watch(shared).await }
    });

    // Responders at +20 and +40, customers at +30.
    tokio::time::sleep(45 * MIN).await;
    assert_eq!((s.chat.len(), s.mail.len(), s.lead.len()), (3, 2, 1));
    {
        let inc = shared.lock().await;
        let holding: Vec<_> = inc
            .updates()
            .iter()
            .filter(|u| u.holding)
            .map(|u| (u.recipients.clone(), (u.at - t0).num_seconds() / 60))
            .collect();
        assert_eq!(
            holding,
            [
                (Recipients::Only(vec![Audience::CoreResponders]), 20),
                (Recipients::Only(vec![Audience::Customers]), 30),
                (Recipients::Only(vec![Audience::CoreResponders]), 40),
            ]
        );
    }
    {
        let mut inc = shared.lock().await;
        let now = tidings::clock::now();
        post(
            &s.dispatcher,
            &mut inc,
            UpdateDraft::new(Status::Resolved, now, "Fixed."),
        )
        .await;
    }
    tokio::time::sleep(60 * MIN).await;
    assert!(watcher.is_finished());
    watcher.await.unwrap().unwrap();
    // Nothing after the resolution.
    assert_eq!((s.chat.len(), s.mail.len()), (4, 3));
}

#[tokio::test(start_paused = true)]
async fn a_target_shared_by_audiences_counts_for_each() {
    let page = Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap()));
    let chat = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder(support::CANONICAL)
        .primary("page", page)
        .channel("chat", chat.clone())
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("chat", [target("#inc")])),
        )
        .audience(
            AudiencePolicy::new(Audience::FrontLineSupport)
                .route(Route::new("chat", [target("#inc")])),
        )
        .build()
        .unwrap();
    let t0 = tidings::clock::now();
    let mut inc = incident(t0);
    post(
        &d,
        &mut inc,
        UpdateDraft::new(Status::Investigating, t0, "Checkout fails.").next_update_at(t0 + min(60)),
    )
    .await;
    assert_eq!(chat.len(), 1, "one message to the shared target");
    let c = d.cadence(&inc).await.unwrap();
    for a in [Audience::CoreResponders, Audience::FrontLineSupport] {
        assert_eq!(
            c.audience(&a).unwrap().last.as_ref().map(|l| l.seq),
            Some(1),
            "{a}"
        );
    }
    assert_eq!(c.due(&Audience::FrontLineSupport), Some(t0 + min(30)));

    // The same, computed from the records alone.
    let records = d.journal().records(inc.id()).await.unwrap();
    assert_eq!(Cadence::from_records(&inc, &records, d.policies()), c);
}

// ─── Roles: the owner reminded, the commander told, then the holding statement ───

/// Customers by mail (30 min, holding statements, the owner reminded 5
/// minutes before they are due); the owner and the commander on chat.
struct Roles {
    d: Dispatcher,
    page: Arc<MemoryChannel>,
    chat: Arc<MemoryChannel>,
    mail: Arc<MemoryChannel>,
}

fn roles() -> Roles {
    let page = Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap()));
    let chat = Arc::new(MemoryChannel::new());
    let mail = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder(support::CANONICAL)
        .primary("page", page.clone())
        .channel("chat", chat.clone())
        .channel("mail", mail.clone())
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("mail", [target("subscribers@example.com")]))
                .max_silence(30 * MIN)
                .holding_statements(true)
                .owner_reminder(Some(5 * MIN)),
        )
        .build()
        .unwrap();
    Roles {
        d,
        page,
        chat,
        mail,
    }
}

fn person(name: &str, on: &str) -> Person {
    Person::new(name, Route::new("chat", [target(on)])).unwrap()
}

fn staffed(t0: DateTime<Utc>) -> Incident {
    incident(t0)
        .with_owner(person("Dana Reyes", "@dana"))
        .with_commander(person("Sam Okafor", "@sam"))
}

/// What went to whom on chat: (target, title line).
fn chat_log(chat: &MemoryChannel) -> Vec<(String, String)> {
    chat.deliveries()
        .iter()
        .map(|d| {
            let first_line = d.text.lines().next().unwrap_or_default().to_owned();
            (d.target.as_str().to_owned(), first_line)
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_watch_reminds_the_owner_then_tells_the_commander_then_holds() {
    let s = roles();
    let t0 = tidings::clock::now();
    let mut inc = staffed(t0);
    post(
        &s.d,
        &mut inc,
        UpdateDraft::new(Status::Investigating, t0, "Checkout fails.").next_update_at(t0 + min(30)),
    )
    .await;
    let shared = Arc::new(tokio::sync::Mutex::new(inc));
    let watcher = tokio::spawn({
        let d = s.d.clone();
        let shared = shared.clone();
        async move { d.watch(shared).await }
    });

    // Nothing before the lead time.
    tokio::time::sleep(24 * MIN).await;
    assert!(s.chat.is_empty());
    // +25: the owner is reminded, on their route alone. (A second more for
    // the watch, woken at the same instant, to publish.)
    tokio::time::sleep(MIN + SEC).await;
    assert_eq!(
        chat_log(&s.chat),
        [("@dana".into(), "[Update due] Checkout errors".into())]
    );
    let reminder = s.chat.texts()[0].clone();
    assert!(
        reminder.contains("Customers must hear again by")
            && reminder.contains("(in 5 min). You own the communication: post an update now.")
            && reminder.contains("Otherwise customers will get a holding statement then.")
            && reminder.contains("Sam Okafor (incident commander) will be told."),
        "{reminder}"
    );
    assert_eq!(s.mail.len(), 1);

    // +30, due: the commander is told, then the holding statement goes out.
    tokio::time::sleep(5 * MIN).await;
    assert_eq!(
        chat_log(&s.chat)[1],
        ("@sam".into(), "[Update overdue] Checkout errors".into())
    );
    let escalation = s.chat.texts()[1].clone();
    assert!(
        escalation.contains("Customers were due to hear at")
            && escalation.contains("Dana Reyes (communication owner) was reminded at")
            && escalation.contains("A holding statement goes out to customers now."),
        "{escalation}"
    );
    assert_eq!(s.mail.len(), 2);
    assert!(s.mail.texts()[1].contains("We are still investigating"));
    {
        let inc = shared.lock().await;
        let kinds: Vec<_> = inc
            .updates()
            .iter()
            .map(|u| {
                (
                    u.prompt.as_ref().map(|p| p.role),
                    u.holding,
                    (u.at - t0).num_minutes(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (None, false, 0),
                (Some(Role::CommunicationOwner), false, 25),
                (Some(Role::IncidentCommander), false, 30),
                (None, true, 30),
            ]
        );
        let prompt = inc.update(2).unwrap().prompt.as_ref().unwrap();
        assert_eq!(prompt.audiences, [Audience::Customers]);
        assert_eq!(prompt.due, t0 + min(30));
    }

    // The holding statement promised +60; an update at +50 promises +80, so
    // the owner's next reminder moves to +75; the resolution at +70 ends it.
    tokio::time::sleep(20 * MIN).await;
    {
        let mut inc = shared.lock().await;
        let now = tidings::clock::now();
        post(
            &s.d,
            &mut inc,
            UpdateDraft::new(Status::Identified, now, "A bad deploy.").next_update_at(t0 + min(80)),
        )
        .await;
    }
    tokio::time::sleep(20 * MIN).await;
    {
        let mut inc = shared.lock().await;
        let now = tidings::clock::now();
        post(
            &s.d,
            &mut inc,
            UpdateDraft::new(Status::Resolved, now, "Fixed."),
        )
        .await;
    }
    tokio::time::sleep(60 * MIN).await;
    assert!(watcher.is_finished());
    watcher.await.unwrap().unwrap();
    assert_eq!(s.chat.len(), 2, "no reminder about a due time that moved");

    // Prompts never reach an audience or the status page.
    for ch in [&s.page, &s.mail] {
        assert!(ch.deliveries().iter().all(|d| d.update.prompt.is_none()));
    }
    assert!(
        s.chat
            .deliveries()
            .iter()
            .all(|d| d.update.prompt.is_some() && d.link.as_str().contains("inc-9"))
    );

    // The review names the owner and lists both prompts, delivered.
    let inc = shared.lock().await;
    let review = s.d.review(&inc).await.unwrap();
    let prompts: Vec<_> = review
        .prompts
        .iter()
        .map(|p| {
            (
                p.role,
                p.person.clone(),
                (p.due - t0).num_minutes(),
                p.delivered_at.map(|at| (at - t0).num_minutes()),
            )
        })
        .collect();
    assert_eq!(
        prompts,
        [
            (
                Role::CommunicationOwner,
                Some("Dana Reyes".to_owned()),
                30,
                Some(25)
            ),
            (
                Role::IncidentCommander,
                Some("Sam Okafor".to_owned()),
                30,
                Some(30)
            ),
        ]
    );
    // Customers' timeline has no prompt in it.
    let customers = &review.audience(&Audience::Customers).unwrap().timeline;
    assert!(customers.messages.iter().all(|m| !m.kind.is_prompt()));
    assert_eq!(customers.messages.len(), 4);
    let md = review.to_markdown();
    for line in [
        "- Communication owner: Dana Reyes (chat: @dana)",
        "- Incident commander: Sam Okafor (chat: @sam)",
        "- Reminders to the communication owner: 1; escalations to the incident commander: 1",
        "| Reminder to the owner |",
        "| Escalation to the commander |",
    ] {
        assert!(md.contains(line), "missing {line:?} in\n{md}");
    }
    assert!(
        md.contains("| communication owner (Dana Reyes) | customers |"),
        "{md}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_owner_is_reminded_before_the_first_contact() {
    let s = roles();
    let t0 = tidings::clock::now();
    let mut inc = staffed(t0);
    // Customers must hear first within 15 minutes: the owner is reminded at
    // +10, once.
    let now = advance_to(t0, 9).await;
    assert!(
        s.d.send_role_prompts(&mut inc, now)
            .await
            .unwrap()
            .is_empty()
    );
    let now = advance_to(t0, 10).await;
    let reports = s.d.send_role_prompts(&mut inc, now).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert!(
        s.d.send_role_prompts(&mut inc, now)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.chat.texts()[0].contains("Customers must hear first about this incident by"));
    // No holding statement before the first contact, whatever the prompts.
    assert!(
        s.d.send_holding_statements(&mut inc, now)
            .await
            .unwrap()
            .is_empty()
    );
    // The first contact, after the prompt, is still the first contact.
    let now = advance_to(t0, 12).await;
    let report = post(
        &s.d,
        &mut inc,
        UpdateDraft::new(Status::Investigating, now, "Checkout fails.")
            .next_update_at(t0 + min(40)),
    )
    .await;
    assert_eq!(report.seq, 2);
    assert_eq!(inc.update(2).unwrap().act(), Act::FirstContact);
    assert!(s.mail.texts()[0].starts_with("[Investigating] Checkout errors"));
    let review = s.d.review(&inc).await.unwrap();
    assert_eq!(review.updates[1].kind, MessageKind::FirstContact);
    assert_eq!(review.updates[0].kind, MessageKind::OwnerReminder);
    let customers = &review.audience(&Audience::Customers).unwrap().timeline;
    assert_eq!(customers.first_message, Some(12 * MIN));
    assert!(!customers.first_message_late());
    // Due at +40 now: the commander is told then if nothing went out.
    let now = advance_to(t0, 40).await;
    let reports = s.d.send_role_prompts(&mut inc, now).await.unwrap();
    assert_eq!(reports.len(), 1, "the owner's reminder at +35 was missed");
    assert_eq!(
        chat_log(&s.chat).last().unwrap().0,
        "@sam",
        "{:?}",
        chat_log(&s.chat)
    );
}

#[tokio::test(start_paused = true)]
async fn a_role_on_an_unknown_channel_is_refused_before_anything_is_posted() {
    let s = roles();
    let t0 = tidings::clock::now();
    let mut inc = incident(t0)
        .with_owner(Person::new("Dana Reyes", Route::new("pager", [target("+15550100")])).unwrap());
    let now = advance_to(t0, 14).await;
    let err = s.d.send_role_prompts(&mut inc, now).await.unwrap_err();
    assert!(
        matches!(&err, CadenceError::UnknownRoleChannel { role: Role::CommunicationOwner, channel } if channel == "pager"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("register it with DispatcherBuilder::channel")
    );
    assert!(inc.updates().is_empty());
    // Nobody named: nothing to prompt.
    let mut bare = incident(t0);
    assert!(
        s.d.send_role_prompts(&mut bare, now)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Compiles only if the dispatcher's futures are `Send`, so that a publish or
/// a watch can be spawned on a multi-threaded runtime.
#[allow(dead_code)]
fn futures_are_send(d: &Dispatcher, inc: &mut Incident, update: &Update) {
    fn send<T: Send>(_: T) {}
    send(d.publish(inc, update));
    send(d.cadence(inc));
    send(d.review(inc));
    send(d.send_holding_statements(inc, tidings::clock::now()));
    send(d.send_role_prompts(inc, tidings::clock::now()));
    send(d.review_at(inc, tidings::clock::now()));
    send(d.watch(Arc::new(tokio::sync::Mutex::new(inc.clone()))));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_overdue_gauge_counts_overdue_audiences_per_incident() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let gauge = |text: &str| -> Option<String> {
        text.lines()
            .find(|l| l.starts_with("tidings_audiences_overdue{incident=\"inc-9\"}"))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_owned)
    };

    let s = setup(false);
    let t0 = tidings::clock::now();
    let mut inc = incident(t0);
    // First contact at +2 to everyone, promising +22.
    let now = advance_to(t0, 2).await;
    post(
        &s.dispatcher,
        &mut inc,
        UpdateDraft::new(Status::Investigating, now, "Checkout fails for some.")
            .next_update_at(t0 + min(22)),
    )
    .await;
    s.dispatcher.cadence(&inc).await.unwrap();
    assert_eq!(gauge(&handle.render()).as_deref(), Some("0"));

    // At +23 the promise is broken for every audience.
    advance_to(t0, 23).await;
    s.dispatcher.cadence(&inc).await.unwrap();
    assert_eq!(gauge(&handle.render()).as_deref(), Some("3"));

    // Resolved: nobody is overdue any more.
    let now = advance_to(t0, 25).await;
    post(
        &s.dispatcher,
        &mut inc,
        UpdateDraft::new(Status::Resolved, now, "Fixed."),
    )
    .await;
    s.dispatcher.cadence(&inc).await.unwrap();
    assert_eq!(gauge(&handle.render()).as_deref(), Some("0"));
}
