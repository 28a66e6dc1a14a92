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
use tidings::review::{Gap, MessageKind, Review};

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

fn gap(
    after: Option<u32>,
    before: u32,
    minutes: u32,
    over: bool,
) -> (Option<u32>, u32, Duration, bool) {
    (after, before, minutes * MIN, over)
}

fn gaps(g: &[Gap]) -> Vec<(Option<u32>, u32, Duration, bool)> {
    g.iter()
        .map(|g| (g.after, g.before, g.length, g.over_target))
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
        "- Deliveries: 18 sent, 2 failed, 1 without the link, 0 unfinished",
        "- Silences over target: 4",
        "| Channel | Audience | Target silence | First message after | Messages | Longest silence | Over target | Last update → resolution | Without link | Failed |",
        "| page (primary) | customers | 1 h | 4 min | 5 | 45 min | 0 | 25 min | 0 | 0 |",
        "| chat | core\\_responders | 20 min | 4 min | 5 | 45 min | 3 | 25 min | 0 | 0 |",
        "| mail | customers | 1 h | 4 min | 5 | 45 min | 0 | 25 min | 1 | 0 |",
        "| sms | customers | 1 h | 1 h 15 min | 3 | 1 h 15 min | 1 | 25 min | 0 | 2 |",
        "| core\\_responders | 20 min | 4 min | 5 | 45 min | 3 | 25 min |",
        "| customers | 1 h | 4 min | 5 | 45 min | 0 | 25 min |",
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
    assert!(md.contains("| 1 h 15 min | 1 h |"), "{md}");
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
    let policies: Vec<_> = s.dispatcher.policies().cloned().collect();
    let a = Review::new(&s.incident, &records, &policies);
    // The same journal, stored and read back.
    let json = serde_json::to_string(&records).unwrap();
    let stored: Vec<JournalRecord> = serde_json::from_str(&json).unwrap();
    let b = Review::new(&s.incident, &stored, &policies);
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
    let empty = Review::new(&inc, &[], []);
    assert!(empty.channels.is_empty() && empty.first_message.is_none());
    let svg = empty.to_svg();
    roxmltree::Document::parse(&svg).unwrap();
    assert!(svg.contains("No delivery was recorded."));
    let md = empty.to_markdown();
    assert!(md.contains("- Resolved: not yet"));
    assert!(md.contains("- First message, on any channel: none"));

    // A configured route that never carried anything is a row of silence.
    let policy = AudiencePolicy::new(Audience::Leadership)
        .route(Route::new("mail", [target("ceo@example.com")]));
    let review = Review::new(&inc, &[], [&policy]);
    let row = review.channel("mail", &Audience::Leadership).unwrap();
    assert!(row.timeline.messages.is_empty() && row.timeline.first_message.is_none());
    roxmltree::Document::parse(&review.to_svg()).unwrap();
    assert!(
        review
            .to_markdown()
            .contains("No message was sent on this channel.")
    );
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
}
