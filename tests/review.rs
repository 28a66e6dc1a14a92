//! The post-incident review: exact numbers on a scripted incident (tokio's
//! paused clock), well-formed Markdown and SVG, and hostile text escaped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use support::{PERMALINK_BASE, target};
use tidings::channel::memory::MemoryChannel;
use tidings::channel::{ChannelError, IdempotencyKey, Thread};
use tidings::journal::{
    Claim, ClaimOptions, ClaimToken, DeliveryState, Finish, Journal, JournalEntry, JournalError,
    JournalRecord, LinkChoice, MemoryJournal, Owner, Pruned, Publication, Transition,
};
use tidings::prelude::*;
use tidings::review::{
    FindingKind, Gap, GapEnd, MessageKind, PostmortemStatus, PromiseOutcome, Recommendation, Review,
};

const MIN: Duration = Duration::from_secs(60);

fn min(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

async fn advance_to(t0: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    let target = t0 + min(minutes);
    let now = tidings::clock::now();
    tokio::time::advance((target - now).to_std().unwrap()).await;
    assert_eq!(tidings::clock::now(), target);
    target
}

/// A journal that says the `mail` delivery of update 2 went out without the
/// link: impossible through the dispatcher, but a journal could hold it.
#[derive(Debug, Default)]
struct Linkless {
    inner: MemoryJournal,
}

#[async_trait]
impl Journal for Linkless {
    async fn record_update(
        &self,
        incident: &Incident,
        seq: u32,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<Publication, JournalError> {
        self.inner
            .record_update(incident, seq, now, deadline, not_before)
            .await
    }
    async fn save_incident(&self, incident: &Incident) -> Result<(), JournalError> {
        self.inner.save_incident(incident).await
    }
    async fn incident(&self, id: &IncidentId) -> Result<Option<Incident>, JournalError> {
        self.inner.incident(id).await
    }
    async fn open_incidents(&self) -> Result<Vec<Incident>, JournalError> {
        self.inner.open_incidents().await
    }
    async fn publication(
        &self,
        incident: &IncidentId,
        seq: u32,
    ) -> Result<Option<Publication>, JournalError> {
        self.inner.publication(incident, seq).await
    }
    async fn choose_link(
        &self,
        incident: &IncidentId,
        seq: u32,
        link: &LinkChoice,
    ) -> Result<LinkChoice, JournalError> {
        self.inner.choose_link(incident, seq, link).await
    }
    async fn end_pass(
        &self,
        incident: &IncidentId,
        seq: u32,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), JournalError> {
        self.inner.end_pass(incident, seq, next).await
    }
    async fn due_publications(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Publication>, JournalError> {
        self.inner.due_publications(now, limit).await
    }
    async fn claim(
        &self,
        entry: &JournalEntry,
        owner: &Owner,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        options: ClaimOptions,
    ) -> Result<Claim, JournalError> {
        let mut entry = entry.clone();
        if &*entry.channel == "mail" && entry.seq == 2 {
            entry.has_link = false;
        }
        self.inner
            .claim(&entry, owner, now, lease_until, options)
            .await
    }
    async fn renew(&self, token: &ClaimToken, until: DateTime<Utc>) -> Result<(), JournalError> {
        self.inner.renew(token, until).await
    }
    async fn finish(
        &self,
        token: &ClaimToken,
        finish: Finish,
        at: DateTime<Utc>,
    ) -> Result<(), JournalError> {
        self.inner.finish(token, finish, at).await
    }
    async fn release(
        &self,
        key: &IdempotencyKey,
        owner: &Owner,
        at: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        self.inner.release(key, owner, at).await
    }
    async fn state(&self, key: &IdempotencyKey) -> Result<Option<DeliveryState>, JournalError> {
        self.inner.state(key).await
    }
    async fn thread(
        &self,
        incident: &IncidentId,
        channel: &str,
        target: &Target,
    ) -> Result<Option<Thread>, JournalError> {
        self.inner.thread(incident, channel, target).await
    }
    async fn records(&self, incident: &IncidentId) -> Result<Vec<JournalRecord>, JournalError> {
        self.inner.records(incident).await
    }
    async fn history(&self, incident: &IncidentId) -> Result<Vec<Transition>, JournalError> {
        self.inner.history(incident).await
    }
    async fn prune(&self, before: DateTime<Utc>) -> Result<Pruned, JournalError> {
        self.inner.prune(before).await
    }
}

struct Scripted {
    dispatcher: Dispatcher,
    incident: Incident,
    t0: DateTime<Utc>,
}

/// Responders on chat (target 20 min); customers by mail and SMS (60 min);
/// SMS refuses the first two updates. Updates at +4 (first contact), +30,
/// +75, the resolution at +100 and the postmortem a day later.
async fn scripted() -> Scripted {
    let page = Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap()));
    let chat = Arc::new(MemoryChannel::new());
    let mail = Arc::new(MemoryChannel::new());
    let sms = Arc::new(MemoryChannel::new());
    sms.fail_next(ChannelError::rejected("carrier refused the number"));
    sms.fail_next(ChannelError::rejected("carrier refused the number"));
    let dispatcher = Dispatcher::builder(support::CANONICAL)
        .primary("page", page)
        .channel("chat", chat)
        .channel("mail", mail)
        .channel("sms", sms)
        .journal(Arc::new(Linkless::default()))
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("chat", [target("#inc")]))
                .max_silence(20 * MIN),
        )
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("mail", [target("a@example.com")]))
                .route(Route::new("sms", [target("+15550100")]))
                .max_silence(60 * MIN),
        )
        .build()
        .unwrap();
    let t0 = tidings::clock::now();
    let mut incident = Incident::new(
        IncidentId::new("inc-12").unwrap(),
        "Payments delayed",
        Impact::Major,
        t0,
    )
    .unwrap();
    let script = [
        (4, Status::Investigating, Some(34)),
        (30, Status::Identified, Some(60)),
        (75, Status::Monitoring, Some(105)),
        (100, Status::Resolved, None),
        (1540, Status::Postmortem, None),
    ];
    for (at, status, next) in script {
        let now = advance_to(t0, at).await;
        let mut draft = UpdateDraft::new(status, now, format!("{status} at +{at}"));
        if let Some(next) = next {
            draft = draft.next_update_at(t0 + min(next));
        }
        let update = incident.post(draft).unwrap().clone();
        dispatcher.publish(&incident, &update).await.unwrap();
    }
    Scripted {
        dispatcher,
        incident,
        t0,
    }
}

type GapRow = (Option<u32>, GapEnd, Duration, bool);

/// A silence after `after` (`None`: the start) ended by message `before`.
fn gap(after: Option<u32>, before: u32, minutes: u32, over: bool) -> GapRow {
    (after, GapEnd::Message(before), minutes * MIN, over)
}

/// A silence after `after` ended by `end` (the resolution, or now).
fn gap_to(after: Option<u32>, end: GapEnd, minutes: u32, over: bool) -> GapRow {
    (after, end, minutes * MIN, over)
}

/// `t0 + minutes` as the review writes it.
fn short(t0: DateTime<Utc>, minutes: i64) -> String {
    let t = t0 + min(minutes);
    if t.date_naive() == t0.date_naive() {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

fn gaps(g: &[Gap]) -> Vec<GapRow> {
    g.iter()
        .map(|g| (g.after, g.end, g.length, g.over_target))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_numbers_of_a_scripted_incident_are_exact() {
    let s = scripted().await;
    let r = s.dispatcher.review(&s.incident).await.unwrap();
    let t0 = s.t0;

    assert_eq!(r.started_at, t0);
    assert_eq!(r.resolved_at, Some(t0 + min(100)));
    assert_eq!(r.first_message, Some(4 * MIN));
    assert_eq!(r.last_update_to_resolution, Some(25 * MIN));
    let kinds: Vec<_> = r.updates.iter().map(|u| u.kind).collect();
    assert_eq!(
        kinds,
        [
            MessageKind::FirstContact,
            MessageKind::Update,
            MessageKind::Update,
            MessageKind::Resolution,
            MessageKind::Postmortem
        ]
    );

    // Rows: the primary first, then policies' routes in order.
    let rows: Vec<_> = r
        .channels
        .iter()
        .map(|c| (c.channel.to_string(), c.audience.clone(), c.primary))
        .collect();
    assert_eq!(
        rows,
        [
            ("page".into(), Audience::Customers, true),
            ("chat".into(), Audience::CoreResponders, false),
            ("mail".into(), Audience::Customers, false),
            ("sms".into(), Audience::Customers, false),
        ]
    );

    // Responders on chat: target 20 min.
    let chat = &r
        .channel("chat", &Audience::CoreResponders)
        .unwrap()
        .timeline;
    assert_eq!(chat.target, 20 * MIN);
    assert_eq!(chat.first_message, Some(4 * MIN));
    let at: Vec<_> = chat.messages.iter().map(|m| (m.seq, m.at)).collect();
    assert_eq!(
        at,
        [
            (1, t0 + min(4)),
            (2, t0 + min(30)),
            (3, t0 + min(75)),
            (4, t0 + min(100)),
            (5, t0 + min(1540)),
        ]
    );
    // Silences up to the resolution; none after it.
    assert_eq!(
        gaps(&chat.gaps),
        [
            gap(None, 1, 4, false),
            gap(Some(1), 2, 26, true),
            gap(Some(2), 3, 45, true),
            gap(Some(3), 4, 25, true),
        ]
    );
    let longest = chat.longest_silence().unwrap();
    assert_eq!((longest.after, longest.length), (Some(2), 45 * MIN));
    assert_eq!((longest.from, longest.to), (t0 + min(30), t0 + min(75)));
    assert_eq!(chat.gaps_over_target().count(), 3);
    assert_eq!(chat.last_update_to_resolution, Some(25 * MIN));
    assert!(chat.resolution_received());

    // Customers by mail: within the hour every time; one message without the
    // link (as the journal says).
    let mail = r.channel("mail", &Audience::Customers).unwrap();
    assert_eq!(mail.timeline.gaps_over_target().count(), 0);
    assert_eq!(
        mail.timeline.longest_silence().map(|g| g.length),
        Some(45 * MIN)
    );
    assert_eq!(mail.missing_link.len(), 1);
    assert_eq!(
        (mail.missing_link[0].seq, &mail.missing_link[0].target),
        (2, &target("a@example.com"))
    );
    assert_eq!(mail.missing_link[0].at, t0 + min(30));
    assert!(mail.failures.is_empty());

    // Customers by SMS: the first two failed, so the first message came after
    // 75 minutes, over the hour.
    let sms = r.channel("sms", &Audience::Customers).unwrap();
    assert_eq!(sms.timeline.first_message, Some(75 * MIN));
    assert_eq!(
        gaps(&sms.timeline.gaps),
        [gap(None, 3, 75, true), gap(Some(3), 4, 25, false)]
    );
    let failed: Vec<_> = sms
        .failures
        .iter()
        .map(|f| (f.seq, f.at, f.attempts, f.retryable))
        .collect();
    assert_eq!(
        failed,
        [(1, t0 + min(4), 1, false), (2, t0 + min(30), 1, false)]
    );
    assert!(
        sms.failures[0]
            .reason
            .contains("carrier refused the number")
    );
    assert_eq!(r.failures().count(), 2);
    assert_eq!(r.missing_links().count(), 1);

    // The primary: every update, no silence over the customers' hour.
    let page = r.channel("page", &Audience::Customers).unwrap();
    assert_eq!(page.timeline.messages.len(), 5);
    assert_eq!(page.timeline.gaps_over_target().count(), 0);

    // Per audience, all channels together: customers heard by mail at +4.
    let customers = &r.audience(&Audience::Customers).unwrap().timeline;
    assert_eq!(customers.first_message, Some(4 * MIN));
    assert_eq!(customers.messages.len(), 5);
    assert_eq!(customers.messages[0].deliveries, 1);
    assert_eq!(customers.messages[2].deliveries, 2, "mail and SMS");
    assert_eq!(customers.gaps_over_target().count(), 0);
    let core = &r.audience(&Audience::CoreResponders).unwrap().timeline;
    assert_eq!(gaps(&core.gaps), gaps(&chat.gaps));
}

#[tokio::test(start_paused = true)]
async fn the_markdown_report_has_the_numbers_in_tables() {
    let s = scripted().await;
    let md = s
        .dispatcher
        .review(&s.incident)
        .await
        .unwrap()
        .to_markdown();
    assert!(
        md.starts_with("# Communication review: Payments delayed (inc-12)\n"),
        "{md}"
    );
    for line in [
        "- First message, on any channel: 4 min after the start",
        "- Last update before the resolution: 25 min before it",
        "- Deliveries: 18 sent, 2 failed, 0 sent after failing first, 1 without the link, 0 unfinished",
        // Per audience: the SMS silence is the customers' on one channel only
        // (they heard by mail).
        "- Silences over target: 3 (counted per audience)",
        "- First messages later than their target: 0",
        "- Promises of a next update (per audience): 4 kept, 2 late, 0 broken or overdue, 0 pending",
        "- Postmortem: published 1 d after the resolution",
        "- Communication owner: **none named**: nobody owned the communication",
        "| Channel | Audience | Target silence | First message after | Messages | Longest silence | Over target | Last update → resolution | Without link | Failed |",
        "| page (primary) | customers | 1 h | 4 min | 5 | 45 min | 0 | 25 min | 0 | 0 |",
        "| chat | core\\_responders | 20 min | 4 min | 5 | 45 min | 3 | 25 min | 0 | 0 |",
        "| mail | customers | 1 h | 4 min | 5 | 45 min | 0 | 25 min | 1 | 0 |",
        "| sms | customers | 1 h | 1 h 15 min | 3 | 1 h 15 min | 1 | 25 min | 0 | 2 |",
        "| core\\_responders | 5 min | 4 min | 20 min | 5 | 45 min | 3 | 2 | 1 | 0 | 0 | 25 min |",
        "| customers | 15 min | 4 min | 1 h | 5 | 45 min | 0 | 2 | 1 | 0 | 0 | 25 min |",
        "## Silences over target",
        "## Messages without the link",
        "## Failed deliveries",
    ] {
        assert!(md.contains(line), "missing {line:?} in\n{md}");
    }
    let over_rows = md
        .lines()
        .filter(|l| {
            l.starts_with("| chat | core\\_responders | #")
                || l.starts_with("| sms | customers | start")
        })
        .count();
    assert_eq!(over_rows, 4, "{md}");
    let t = |m| short(s.t0, m);
    let late = format!(
        "| core\\_responders | #2 | {} | {} | late by 15 min: #3 at {} |",
        t(30),
        t(60),
        t(75)
    );
    assert!(md.contains(&late), "{late} in\n{md}");
    // The SMS wait for a first message, against the first-message target.
    assert!(md.contains("| 1 h 15 min | 15 min |"), "{md}");
    // The play's review table: the gaps, with the common cause.
    assert!(md.contains("## Review table"), "{md}");
    assert!(
        md.contains("*To be filled in.* Common cause: Nobody owned the communication."),
        "{md}"
    );
    assert!(md.contains("carrier refused the number"));
    // Every table row has as many cells as its header.
    check_tables(&md);
}

#[tokio::test(start_paused = true)]
async fn the_svg_timeline_is_well_formed_and_marks_what_matters() {
    let s = scripted().await;
    let review = s.dispatcher.review(&s.incident).await.unwrap();
    let svg = review.to_svg();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    assert_eq!(root.attribute("role"), Some("img"));
    let first = root.first_element_child().unwrap();
    assert_eq!(first.tag_name().name(), "title");
    assert_eq!(
        first.text(),
        Some("Communication timeline: Payments delayed (inc-12)")
    );
    assert!(root.children().any(|n| n.has_tag_name("desc")));

    let circles: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .collect();
    // Five in the legend, then one per message on each row (5 + 5 + 5 + 3).
    assert_eq!(circles.len(), 5 + 18);
    let dots = &circles[5..];
    assert!(dots.iter().all(|c| {
        c.first_element_child()
            .is_some_and(|t| t.has_tag_name("title"))
    }));
    let fill = |colour: &str| {
        dots.iter()
            .filter(|c| c.attribute("fill") == Some(colour))
            .count()
    };
    assert_eq!(fill("#0072B2"), 3, "first contact on page, chat and mail");
    assert_eq!(fill("#009E73"), 4, "the resolution on every row");
    assert_eq!(fill("#CC79A7"), 4, "the postmortem on every row");
    // Red bands: one in the legend, then one per silence over target.
    let bands = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#D55E00"))
        .count();
    assert_eq!(bands, 1 + 4);
    // Crosses for the two failed SMS.
    let crosses = doc
        .descendants()
        .filter(|n| n.has_tag_name("path") && n.attribute("stroke") == Some("#000000"))
        .count();
    assert_eq!(crosses, 1 + 2);
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    for label in [
        "page (primary) · customers",
        "chat · core_responders",
        "sms · customers",
        "later",
        "start",
        "resolved",
        "Holding statement",
        "silence over target",
    ] {
        assert!(texts.contains(&label), "no {label:?} in {texts:?}");
    }
    assert!(texts.iter().any(|t| t.starts_with("Time (UTC) from ")));
    // Postmortems sit in the "later" column, right of everything else.
    let xs = |colour: &str| -> Vec<f64> {
        dots.iter()
            .filter(|c| c.attribute("fill") == Some(colour))
            .map(|c| c.attribute("cx").unwrap().parse().unwrap())
            .collect()
    };
    let resolution_x = xs("#009E73")[0];
    assert!(xs("#CC79A7").iter().all(|x| *x > resolution_x + 20.0));
}

#[tokio::test(start_paused = true)]
async fn output_is_deterministic_for_a_journal() {
    let s = scripted().await;
    let records = s
        .dispatcher
        .journal()
        .records(s.incident.id())
        .await
        .unwrap();
    let history = s
        .dispatcher
        .journal()
        .history(s.incident.id())
        .await
        .unwrap();
    let policies: Vec<_> = s.dispatcher.policies().cloned().collect();
    let now = tidings::clock::now();
    let a = Review::builder(&s.incident, now)
        .records(&records)
        .history(&history)
        .policies(&policies)
        .build();
    // The same journal, stored and read back.
    let json = serde_json::to_string(&records).unwrap();
    let stored: Vec<JournalRecord> = serde_json::from_str(&json).unwrap();
    let json = serde_json::to_string(&history).unwrap();
    let stored_history: Vec<Transition> = serde_json::from_str(&json).unwrap();
    let b = Review::builder(&s.incident, now)
        .records(&stored)
        .history(&stored_history)
        .policies(&policies)
        .build();
    assert_eq!(a, b);
    assert_eq!(a.to_markdown(), b.to_markdown());
    assert_eq!(a.to_svg(), b.to_svg());
    assert_eq!(a, s.dispatcher.review(&s.incident).await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn hostile_text_is_escaped_everywhere() {
    let title = r#"Login <b>broken</b> & "quoted" 'single' ]]> <!-- x -->"#;
    let channel = r#"<script>alert("c")</script> & 'co' | x"#;
    let hostile_target = r#""><script>alert(1)</script>"#;
    let reason = "</title><script>alert(2)</script> | `code` [link](javascript:x)";
    let page = Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap()));
    let evil = Arc::new(MemoryChannel::new());
    evil.fail_next(ChannelError::rejected(reason));
    let d = Dispatcher::builder(support::CANONICAL)
        .primary("page", page)
        .channel(channel, evil)
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new(channel, [target(hostile_target), target("#ok")])),
        )
        .build()
        .unwrap();
    let t0 = tidings::clock::now();
    let mut inc =
        Incident::new(IncidentId::new("inc-x").unwrap(), title, Impact::Minor, t0).unwrap();
    let now = advance_to(t0, 2).await;
    let first = inc
        .post(
            UpdateDraft::new(Status::Investigating, now, "Looking.").next_update_at(now + min(30)),
        )
        .unwrap()
        .clone();
    d.publish(&inc, &first).await.unwrap();
    let review = d.review(&inc).await.unwrap();
    assert_eq!(review.failures().count(), 1);

    let svg = review.to_svg();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(!doc.descendants().any(|n| n.has_tag_name("script")));
    assert_eq!(
        doc.root_element().first_element_child().unwrap().text(),
        Some(format!("Communication timeline: {title} (inc-x)").as_str())
    );
    let all_text: String = doc
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all_text.contains(channel), "{all_text}");
    assert!(all_text.contains(hostile_target), "{all_text}");
    assert!(all_text.contains(reason), "{all_text}");
    assert!(!svg.contains("<script"));
    assert!(!svg.contains("<b>"));

    let md = review.to_markdown();
    for raw in ["<script", "<b>", "</title>", "<!--", "[link]", "`code`"] {
        assert!(!md.contains(raw), "{raw:?} in\n{md}");
    }
    assert!(md.contains(r"\`code\` \[link\](javascript:x)"), "{md}");
    assert!(md.contains("Login &lt;b&gt;broken&lt;/b&gt; &amp;"), "{md}");
    assert!(md.contains(r"\| x"), "{md}");
    check_tables(&md);
}

#[tokio::test(start_paused = true)]
async fn an_incident_without_deliveries_still_renders() {
    let t0 = tidings::clock::now();
    let inc = Incident::new(IncidentId::new("quiet").unwrap(), "Quiet", Impact::None, t0).unwrap();
    let empty = Review::builder(&inc, t0).build();
    assert!(empty.channels.is_empty() && empty.first_message.is_none());
    let svg = empty.to_svg();
    roxmltree::Document::parse(&svg).unwrap();
    assert!(svg.contains("No delivery was recorded."));
    let md = empty.to_markdown();
    assert!(md.contains("- Resolved: not yet"));
    assert!(md.contains("- First message, on any channel: none"));

    // A configured route that never carried anything is a row of silence:
    // one silence, from the start to the review.
    let policy = AudiencePolicy::new(Audience::Leadership)
        .route(Route::new("mail", [target("ceo@example.com")]));
    let review = Review::builder(&inc, t0 + min(30))
        .policies([&policy])
        .build();
    let row = review.channel("mail", &Audience::Leadership).unwrap();
    assert!(row.timeline.messages.is_empty() && row.timeline.first_message.is_none());
    assert_eq!(
        gaps(&row.timeline.gaps),
        [gap_to(None, GapEnd::Now, 30, true)]
    );
    roxmltree::Document::parse(&review.to_svg()).unwrap();
    let md = review.to_markdown();
    assert!(md.contains("No message was received."), "{md}");
    check_tables(&md);
}

/// Every Markdown table row has as many cells as its header.
fn check_tables(md: &str) {
    let cells = |line: &str| {
        let mut n = 0;
        let mut escaped = false;
        for c in line.chars() {
            match c {
                '\\' if !escaped => escaped = true,
                '|' if !escaped => n += 1,
                _ => escaped = false,
            }
            if c != '\\' {
                escaped = false;
            }
        }
        n
    };
    let mut header: Option<usize> = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = cells(line);
            match header {
                None => header = Some(n),
                Some(h) => assert_eq!(n, h, "ragged row {line:?}"),
            }
        } else {
            header = None;
        }
    }
}

#[tokio::test(start_paused = true)]
#[ignore = "writes the scripted review to $TIDINGS_REVIEW_OUT for a look"]
async fn write_the_scripted_review() {
    let s = scripted().await;
    let r = s.dispatcher.review(&s.incident).await.unwrap();
    let dir = std::env::var("TIDINGS_REVIEW_OUT").unwrap();
    std::fs::write(format!("{dir}/review.svg"), r.to_svg()).unwrap();
    std::fs::write(format!("{dir}/review.md"), r.to_markdown()).unwrap();
    // An open incident, reviewed 90 minutes after its only update.
    let mut open = story(true);
    open.post(25, Status::Investigating, Some(55)).await;
    advance_to(open.t0, 115).await;
    let r = open.d.review(&open.inc).await.unwrap();
    std::fs::write(format!("{dir}/open.svg"), r.to_svg()).unwrap();
    std::fs::write(format!("{dir}/open.md"), r.to_markdown()).unwrap();
}

// ─── Gaps the review exists to find, on timelines whose answers are known ───

/// Customers on mail (longest silence 30 min, first message within 15),
/// responders on chat (30 min, the first within 5); no retries. An owner can
/// be named.
struct Story {
    d: Dispatcher,
    mail: Arc<MemoryChannel>,
    sms: Arc<MemoryChannel>,
    inc: Incident,
    t0: DateTime<Utc>,
}

fn story(owner: bool) -> Story {
    let page = Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap()));
    let chat = Arc::new(MemoryChannel::new());
    let mail = Arc::new(MemoryChannel::new());
    let sms = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder(support::CANONICAL)
        .primary("page", page)
        .channel("chat", chat)
        .channel("mail", mail.clone())
        .channel("sms", sms.clone())
        .retry(RetryPolicy::never())
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("chat", [target("#inc")]))
                .max_silence(30 * MIN),
        )
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("mail", [target("subscribers@example.com")]))
                .max_silence(30 * MIN),
        )
        .build()
        .unwrap();
    let t0 = tidings::clock::now();
    let mut inc = Incident::new(
        IncidentId::new("inc-18").unwrap(),
        "Checkout errors",
        Impact::Major,
        t0,
    )
    .unwrap();
    if owner {
        inc = inc.with_owner(
            tidings::incident::Person::new("Dana Reyes", Route::new("chat", [target("@dana")]))
                .unwrap(),
        );
    }
    Story {
        d,
        mail,
        sms,
        inc,
        t0,
    }
}

impl Story {
    /// Posts and publishes at `t0 + at`; `next` in minutes from t0.
    async fn post(&mut self, at: i64, status: Status, next: Option<i64>) -> u32 {
        let now = advance_to(self.t0, at).await;
        let mut draft = UpdateDraft::new(status, now, format!("{status} at +{at}"));
        if let Some(next) = next {
            draft = draft.next_update_at(self.t0 + min(next));
        }
        let update = self.inc.post(draft).unwrap().clone();
        self.d.publish(&self.inc, &update).await.unwrap();
        update.seq
    }

    /// The mail channel refuses the next update.
    fn refuse_mail(&self) {
        self.mail
            .fail_next(ChannelError::rejected("mailbox unavailable"));
    }

    /// Updates at +5, +30, +55 (each promising 25 minutes on), the
    /// resolution at +80; mail refuses the updates in `refused` (1-based).
    async fn play(&mut self, refused: &[u32]) {
        for (seq, (at, status)) in [
            (5, Status::Investigating),
            (30, Status::Identified),
            (55, Status::Monitoring),
            (80, Status::Resolved),
        ]
        .into_iter()
        .enumerate()
        {
            if refused.contains(&(seq as u32 + 1)) {
                self.refuse_mail();
            }
            let next = (!status.is_closed()).then_some(at + 25);
            self.post(at, status, next).await;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_audience_that_hears_nothing_is_one_silence_over_the_whole_span() {
    let mut s = story(false);
    s.play(&[1, 2, 3, 4]).await;
    let r = s.d.review(&s.inc).await.unwrap();
    let customers = &r.audience(&Audience::Customers).unwrap().timeline;
    assert!(customers.messages.is_empty());
    // From the start to the resolution: 80 minutes, against the target for a
    // first message (15 min).
    assert_eq!(
        gaps(&customers.gaps),
        [gap_to(None, GapEnd::Resolution, 80, true)]
    );
    assert_eq!(customers.gaps[0].target, 15 * MIN);
    assert!(customers.first_message_late());
    // The mail row says the same; the responders heard everything.
    let mail = r.channel("mail", &Audience::Customers).unwrap();
    assert_eq!(gaps(&mail.timeline.gaps), gaps(&customers.gaps));
    assert_eq!(mail.failures.len(), 4);
    // The review table has it, with the play's most common cause.
    let finding = &r.findings[0];
    assert_eq!(finding.kind, FindingKind::NeverHeard);
    assert_eq!(finding.audience, Some(Audience::Customers));
    assert_eq!(finding.recommendation, Recommendation::DefineRoles);
    assert!(finding.root_cause.is_none());
    let md = r.to_markdown();
    assert!(!md.contains("every silence was within its target"), "{md}");
    assert!(
        md.contains("- Silences over target: 1 (counted per audience)"),
        "{md}"
    );
    assert!(
        md.contains("customers heard nothing for 1 h 20 min"),
        "{md}"
    );
    check_tables(&md);
}

#[tokio::test(start_paused = true)]
async fn the_last_silence_runs_to_the_resolution() {
    // Mail delivers the first two updates, then fails until the resolution.
    let mut s = story(false);
    s.play(&[3, 4]).await;
    let r = s.d.review(&s.inc).await.unwrap();
    let customers = &r.audience(&Audience::Customers).unwrap().timeline;
    assert_eq!(
        gaps(&customers.gaps),
        [
            gap(None, 1, 5, false),
            gap(Some(1), 2, 25, false),
            gap_to(Some(2), GapEnd::Resolution, 50, true),
        ]
    );
    let longest = customers.longest_silence().unwrap();
    assert_eq!((longest.from, longest.to), (s.t0 + min(30), s.t0 + min(80)));
    assert!(!customers.resolution_received());
    // #1 promised +30 and #2 came then; #2 promised +55 and nothing came
    // before the resolution.
    let promises: Vec<_> = customers
        .promises
        .iter()
        .map(|p| (p.seq, p.outcome))
        .collect();
    assert_eq!(
        promises,
        [
            (1, PromiseOutcome::Kept { at: s.t0 + min(30) }),
            (
                2,
                PromiseOutcome::Broken {
                    resolved_at: s.t0 + min(80)
                }
            ),
        ]
    );
    // Responders heard the resolution: their last silence ends with it.
    let core = &r.audience(&Audience::CoreResponders).unwrap().timeline;
    assert_eq!(core.gaps.last().unwrap().end, GapEnd::Message(4));
    let kinds: Vec<_> = r.findings.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [FindingKind::Silence, FindingKind::PromiseBroken],
        "{:#?}",
        r.findings
    );
    assert!(
        r.findings
            .iter()
            .all(|f| f.audience == Some(Audience::Customers))
    );
    let md = r.to_markdown();
    assert!(md.contains("until the resolution at"), "{md}");
    assert!(
        md.contains("**broken**: no update before the resolution"),
        "{md}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_open_incident_is_silent_until_now() {
    let mut s = story(false);
    // Nothing posted yet, 20 minutes in: everyone has been silent so far.
    let now = advance_to(s.t0, 20).await;
    let r = s.d.review_at(&s.inc, now).await.unwrap();
    assert_eq!(r.reviewed_at, now);
    let customers = &r.audience(&Audience::Customers).unwrap().timeline;
    assert_eq!(gaps(&customers.gaps), [gap_to(None, GapEnd::Now, 20, true)]);
    assert_eq!(r.findings[0].kind, FindingKind::NeverHeard);

    // One update at +25 promising +55; the review at +115 sees a silence of
    // 90 minutes so far, and the promise an hour overdue.
    s.post(25, Status::Investigating, Some(55)).await;
    let now = advance_to(s.t0, 115).await;
    let r = s.d.review(&s.inc).await.unwrap();
    assert_eq!(r, s.d.review_at(&s.inc, now).await.unwrap());
    let customers = &r.audience(&Audience::Customers).unwrap().timeline;
    assert_eq!(
        gaps(&customers.gaps),
        [
            gap(None, 1, 25, true),
            gap_to(Some(1), GapEnd::Now, 90, true)
        ]
    );
    assert_eq!(
        customers.promises[0].outcome,
        PromiseOutcome::Overdue { by: 60 * MIN }
    );
    assert_eq!(r.postmortem, PostmortemStatus::NotExpected);
    let md = r.to_markdown();
    assert!(md.contains("- Resolved: not yet (reviewed"), "{md}");
    assert!(md.contains("| 1 h 30 min | 30 min |"), "{md}");
    assert!(md.contains("**overdue** by 1 h"), "{md}");
    let svg = r.to_svg();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(
        doc.descendants()
            .any(|n| n.has_tag_name("text") && n.text() == Some("now"))
    );
    check_tables(&md);
}

#[tokio::test(start_paused = true)]
async fn promises_are_kept_late_or_broken() {
    let mut s = story(false);
    // #1 at +5 promises +30; #2 comes at +50 and promises +70; the
    // resolution comes at +90 with nothing between.
    s.post(5, Status::Investigating, Some(30)).await;
    s.post(50, Status::Identified, Some(70)).await;
    s.post(90, Status::Resolved, None).await;
    let r = s.d.review(&s.inc).await.unwrap();
    for audience in [Audience::Customers, Audience::CoreResponders] {
        let t = &r.audience(&audience).unwrap().timeline;
        let promises: Vec<_> = t
            .promises
            .iter()
            .map(|p| (p.seq, p.due, p.outcome))
            .collect();
        assert_eq!(
            promises,
            [
                (
                    1,
                    s.t0 + min(30),
                    PromiseOutcome::Late {
                        at: s.t0 + min(50),
                        by: 20 * MIN
                    }
                ),
                (
                    2,
                    s.t0 + min(70),
                    PromiseOutcome::Broken {
                        resolved_at: s.t0 + min(90)
                    }
                ),
            ],
            "{audience}"
        );
        assert_eq!(t.promise_counts(), (0, 1, 1, 0));
    }
    let promise_rows: Vec<_> = r
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                FindingKind::PromiseLate | FindingKind::PromiseBroken
            )
        })
        .collect();
    assert_eq!(promise_rows.len(), 4, "two audiences × two promises");
    assert!(
        promise_rows[0].gap.contains("20 min late"),
        "{}",
        promise_rows[0].gap
    );
    // On the timeline: a diamond per promise and row (page, chat, mail), late
    // ones orange with a line to when the update came, broken ones vermilion.
    let svg = r.to_svg();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let diamonds = |fill: &str| {
        doc.descendants()
            .filter(|n| n.has_tag_name("polygon") && n.attribute("fill") == Some(fill))
            .count()
    };
    // One of each in the legend.
    assert_eq!(diamonds("#E69F00"), 1 + 3);
    assert_eq!(diamonds("#D55E00"), 1 + 3);
    assert!(svg.contains("kept late: the next update came at"));
    let md = r.to_markdown();
    assert!(
        md.contains("0 kept, 2 late, 2 broken or overdue, 0 pending"),
        "{md}"
    );
    check_tables(&md);
}

#[tokio::test(start_paused = true)]
async fn a_missing_postmortem_is_flagged() {
    let mut s = story(true);
    s.play(&[]).await;
    let resolved = s.t0 + min(80);
    let days = chrono::Duration::days;
    let r = s.d.review_at(&s.inc, resolved + days(4)).await.unwrap();
    assert_eq!(
        r.postmortem,
        PostmortemStatus::Pending {
            due: resolved + days(5)
        }
    );
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert!(
        r.to_markdown()
            .contains("No gap: every audience heard in time")
    );

    let r = s.d.review_at(&s.inc, resolved + days(6)).await.unwrap();
    assert_eq!(
        r.postmortem,
        PostmortemStatus::Missing {
            due: resolved + days(5),
            late_by: Duration::from_secs(24 * 3600)
        }
    );
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].kind, FindingKind::PostmortemMissing);
    assert_eq!(
        r.findings[0].recommendation,
        Recommendation::CommunicationPlan
    );
    assert!(r.to_markdown().contains("- Postmortem: **missing**"));

    // Within a day, as a team may ask.
    let records = s.d.journal().records(s.inc.id()).await.unwrap();
    let r = Review::builder(&s.inc, resolved + days(2))
        .records(&records)
        .postmortem_within(Duration::from_secs(24 * 3600))
        .build();
    assert!(matches!(r.postmortem, PostmortemStatus::Missing { .. }));

    // Published after three days: on time.
    s.post(80 + 3 * 24 * 60, Status::Postmortem, None).await;
    let r = s.d.review_at(&s.inc, resolved + days(9)).await.unwrap();
    assert_eq!(
        r.postmortem,
        PostmortemStatus::Published {
            at: resolved + days(3),
            after: Duration::from_secs(3 * 24 * 3600),
            late: false
        }
    );
    assert!(r.findings.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_delivery_that_failed_then_went_out_shows_both() {
    let mut s = story(false);
    s.post(5, Status::Investigating, Some(30)).await;
    // At +30 the mail provider is down for a while: the delivery fails (and
    // may be retried)...
    s.mail
        .fail_next(ChannelError::transient("503 from the mail provider"));
    s.post(30, Status::Identified, Some(60)).await;
    // ...and the outbox sends it at +40.
    advance_to(s.t0, 40).await;
    let pass = s.d.outbox().run_once().await.unwrap();
    assert_eq!(pass.sent_now(), 1);
    let r = s.d.review(&s.inc).await.unwrap();
    let mail = r.channel("mail", &Audience::Customers).unwrap();
    assert!(mail.failures.is_empty(), "its final state is sent");
    assert_eq!(mail.recovered.len(), 1);
    let rec = &mail.recovered[0];
    assert_eq!(
        (
            rec.seq,
            rec.first_failed_at,
            rec.sent_at,
            rec.failures,
            rec.delay
        ),
        (2, s.t0 + min(30), s.t0 + min(40), 1, 10 * MIN)
    );
    assert!(
        rec.reason.contains("503 from the mail provider"),
        "{}",
        rec.reason
    );
    // The customers heard #2 at +40, not +30.
    let customers = &r.audience(&Audience::Customers).unwrap().timeline;
    assert_eq!(customers.messages[1].at, s.t0 + min(40));
    let md = r.to_markdown();
    assert!(
        md.contains("0 failed, 1 sent after failing first (up to 10 min late)"),
        "{md}"
    );
    assert!(md.contains("## Deliveries that failed before they went out"));
    assert!(md.contains("| 10 min | transient failure: 503"), "{md}");
    check_tables(&md);
    // Without the history, the review cannot know.
    let records = s.d.journal().records(s.inc.id()).await.unwrap();
    let policies: Vec<_> = s.d.policies().cloned().collect();
    let blind = Review::builder(&s.inc, tidings::clock::now())
        .records(&records)
        .policies(&policies)
        .build();
    assert_eq!(blind.recovered().count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_silence_seen_on_three_channels_counts_once() {
    let page = Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap()));
    let mut s = story(false);
    s.d = Dispatcher::builder(support::CANONICAL)
        .primary("page", page)
        .channel("mail", s.mail.clone())
        .channel("sms", s.sms.clone())
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("mail", [target("subscribers@example.com")]))
                .route(Route::new("sms", [target("+15550100")]))
                .max_silence(30 * MIN),
        )
        .build()
        .unwrap();
    s.post(5, Status::Investigating, Some(30)).await;
    s.post(80, Status::Resolved, None).await;
    let r = s.d.review(&s.inc).await.unwrap();
    // The page, the mail and the SMS all show the 75-minute silence...
    let rows = r
        .channels
        .iter()
        .filter(|c| c.timeline.gaps_over_target().count() == 1)
        .count();
    assert_eq!(rows, 3);
    // ...and the customers suffered it once.
    assert_eq!(r.silences_over_target().count(), 1);
    let md = r.to_markdown();
    assert!(
        md.contains("- Silences over target: 1 (counted per audience)"),
        "{md}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_first_message_has_a_target_of_its_own_and_the_table_recommends() {
    // The first message at +20: within the customers' 30-minute silence,
    // but not their 15-minute first-message target.
    let mut s = story(true);
    s.post(20, Status::Investigating, Some(45)).await;
    s.post(40, Status::Resolved, None).await;
    let r = s.d.review(&s.inc).await.unwrap();
    let customers = &r.audience(&Audience::Customers).unwrap().timeline;
    assert_eq!(customers.first_message_target, 15 * MIN);
    assert_eq!(customers.first_message, Some(20 * MIN));
    assert!(customers.first_message_late());
    assert_eq!(customers.gaps_over_target().count(), 1);
    // With an owner, a late first message is the words not being ready.
    let rows: Vec<_> = r
        .findings
        .iter()
        .map(|f| (f.kind, f.audience.clone(), f.recommendation))
        .collect();
    assert_eq!(
        rows,
        [
            (
                FindingKind::FirstMessageLate,
                Some(Audience::CoreResponders),
                Recommendation::Templates
            ),
            (
                FindingKind::FirstMessageLate,
                Some(Audience::Customers),
                Recommendation::Templates
            ),
        ]
    );
    assert_eq!(r.roles.owner.as_ref().unwrap().name(), "Dana Reyes");
    let mut r = r;
    assert!(r.set_root_cause(1, "The status page login was with someone on leave."));
    assert!(!r.set_root_cause(9, "nothing"));
    let table = r.review_table();
    assert!(
        table.starts_with("| # | Gap | Root cause | Recommendation |"),
        "{table}"
    );
    assert!(table.contains("The status page login was with someone on leave."));
    assert!(table.contains("Approve templates in advance"), "{table}");
    assert!(
        r.to_markdown()
            .contains("- Communication owner: Dana Reyes (chat: @dana)")
    );

    // Without an owner: define roles. With an owner and a failing channel:
    // a plan (with a second channel).
    let mut s = story(true);
    s.refuse_mail();
    s.post(5, Status::Investigating, Some(30)).await;
    s.post(30, Status::Resolved, None).await;
    let r = s.d.review(&s.inc).await.unwrap();
    let customers = r
        .findings
        .iter()
        .find(|f| f.audience == Some(Audience::Customers))
        .unwrap();
    assert_eq!(customers.kind, FindingKind::FirstMessageLate);
    assert_eq!(customers.recommendation, Recommendation::CommunicationPlan);
}
