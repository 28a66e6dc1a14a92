//! The hosted status page as the primary: a whole incident through the
//! dispatcher into a temporary directory, then every file read back the way
//! its readers read it (JSON by field name, Atom with a feed parser, HTML as
//! XML).

#![cfg(feature = "status-page")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use support::*;
use tidings::channel::BuildError;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::status_page::{
    Maintenance, MaintenanceStatus, PageComponent, StaticStatusPage, api,
};
use tidings::channel::{ChannelError, ErrorKind};
use tidings::incident::Update;
use tidings::journal::{Failure, LinkSource};
use tidings::prelude::*;

const BASE: &str = "https://status.example.com/";
const PAGE_URL: &str = "https://status.example.com/incidents/inc-7.html";
const CANONICAL_HTML: &str = "https://status.example.com/incidents/{id}.html";

/// Hostile text: markup, entities, quotes, a CDATA end, a control character.
const TITLE: &str = r#"<script>alert("t")</script> & 'API' ]]> errors"#;
const MESSAGE: &str =
    "Errors <img src=x onerror=alert(1)> & \"quoted\" ]]> <![CDATA[x]]>\nSecond line.";
const COMPONENT: &str = r#"Web <b>app</b> & "co""#;

fn api() -> ComponentId {
    ComponentId::new("api").unwrap()
}
fn web() -> ComponentId {
    ComponentId::new("web").unwrap()
}
fn db() -> ComponentId {
    ComponentId::new("db").unwrap()
}

fn page(dir: &Path) -> StaticStatusPage {
    StaticStatusPage::builder(dir, BASE)
        // The tests' incidents have fixed dates; they must not age out.
        .history_days(36_500)
        .name("Example <Status> & Co")
        .page_id("pg1")
        .component(api(), "API")
        .page_component(PageComponent::new(web(), COMPONENT).with_description("The <site>"))
        .component(db(), "Database")
        .build()
        .unwrap()
}

struct Rig {
    _tmp: tempfile::TempDir,
    /// The served directory, `<page dir>/current`.
    dir: PathBuf,
    page: Arc<StaticStatusPage>,
    chat: Arc<MemoryChannel>,
    mail: Arc<MemoryChannel>,
    dispatcher: Dispatcher,
}

fn rig() -> Rig {
    let tmp = tempfile::tempdir().unwrap();
    let page = Arc::new(page(&tmp.path().join("site")));
    let dir = page.served_dir();
    let chat = Arc::new(MemoryChannel::new());
    let mail = Arc::new(MemoryChannel::new());
    let dispatcher = Dispatcher::builder(CANONICAL_HTML)
        .primary("status-page", page.clone())
        .channel("chat", chat.clone())
        .channel("mail", mail.clone())
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("chat", [target("#inc")])),
        )
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("mail", [target("subscribers@example.com")])),
        )
        .build()
        .unwrap();
    Rig {
        _tmp: tmp,
        dir,
        page,
        chat,
        mail,
        dispatcher,
    }
}

fn hostile_incident() -> Incident {
    Incident::new(
        IncidentId::new("inc-7").unwrap(),
        TITLE,
        Impact::Major,
        t0(),
    )
    .unwrap()
    .with_component(api(), "API", ComponentStatus::MajorOutage)
}

fn draft(status: Status, min: i64, msg: &str) -> UpdateDraft {
    let d = UpdateDraft::new(status, t0() + minutes(min), msg);
    if status.is_closed() {
        d
    } else {
        d.next_update_at(t0() + minutes(min + 30))
    }
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap()
}

fn json(dir: &Path, path: &str) -> Value {
    serde_json::from_str(&read(dir, path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

fn parse_html(text: &str) -> roxmltree::Document<'_> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, opts)
        .unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{text}"))
}

/// The text of an element and its descendants.
fn text_of(node: roxmltree::Node<'_, '_>) -> String {
    node.descendants()
        .filter(|d| d.is_text())
        .map(|d| d.text().unwrap_or_default())
        .collect()
}

fn feed(dir: &Path) -> feed_rs::model::Feed {
    feed_rs::parser::parse(read(dir, "history.atom").as_bytes()).expect("a valid Atom feed")
}

/// Every file of the site, relative paths.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(
                    p.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    out.sort();
    out
}

/// Every file parses as what it is; no temporary file is left; no markup
/// from user text survives anywhere.
fn check_site(dir: &Path) {
    for f in files(dir) {
        assert!(!f.contains(".tidings-"), "temporary file left: {f}");
        let text = read(dir, &f);
        let lower = text.to_lowercase();
        assert!(
            !lower.contains("<script") && !lower.contains("<img") && !lower.contains("<b>"),
            "{f} carries user markup unescaped"
        );
        if f.ends_with(".json") {
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{f}: {e}"));
        } else if f.ends_with(".html") {
            let doc = parse_html(&text);
            for bad in ["script", "img", "b", "iframe"] {
                assert!(
                    !doc.descendants().any(|n| n.has_tag_name(bad)),
                    "{f} has a <{bad}> element"
                );
            }
        } else if f.ends_with(".atom") {
            parse_html(&text);
            feed_rs::parser::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
    }
}

async fn publish(r: &Rig, inc: &Incident, u: &Update) -> DispatchReport {
    let report = r.dispatcher.publish(inc, u).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    check_site(&r.dir);
    report
}

/// First contact, an update, one for responders only, monitoring, the
/// resolution and the postmortem.
async fn run_incident(r: &Rig) -> Incident {
    let mut inc = hostile_incident();
    let steps: Vec<UpdateDraft> = vec![
        draft(Status::Investigating, 3, MESSAGE).internal_notes("SECRET-NOTE db at 100%"),
        draft(Status::Identified, 20, "A bad deploy & a <rollback>.")
            .component(api(), ComponentStatus::PartialOutage),
        draft(Status::Identified, 25, "RESPONDERS-ONLY: paging the DBA")
            .only_for([Audience::CoreResponders]),
        draft(Status::Monitoring, 40, "The fix is out; watching."),
        draft(Status::Resolved, 60, "Resolved.").component(api(), ComponentStatus::Operational),
        draft(
            Status::Postmortem,
            600,
            "What happened, and what we changed.",
        ),
    ];
    for step in steps {
        let u = inc.post(step).unwrap().clone();
        let report = publish(r, &inc, &u).await;
        if u.recipients.includes(&Audience::Customers) {
            assert_eq!(report.link_source, LinkSource::Primary);
            let receipt = match &report.primary.as_ref().unwrap().outcome {
                Outcome::Sent(receipt) => receipt.clone(),
                other => panic!("{other:?}"),
            };
            assert_eq!(receipt.permalink.unwrap().as_str(), PAGE_URL);
            assert_eq!(receipt.message_ref.unwrap().as_str(), "inc-7");
        }
    }
    inc
}

#[tokio::test]
async fn every_message_carries_the_incident_page_and_the_page_has_every_public_update() {
    let r = rig();
    let inc = run_incident(&r).await;

    // Every fanned-out message links to the page, which exists.
    let texts: Vec<String> = r.chat.texts().into_iter().chain(r.mail.texts()).collect();
    assert_eq!(texts.len(), 6 + 5);
    for t in &texts {
        assert!(t.ends_with(PAGE_URL), "{t}");
    }
    assert_eq!(r.page.permalink(inc.id()).as_str(), PAGE_URL);
    assert!(r.dir.join("incidents/inc-7.html").is_file());
    assert!(r.page.leftover_temp_files().is_empty());

    // The incident page: the title, every public update newest first, no
    // internal note and no responders-only update.
    let html = read(&r.dir, "incidents/inc-7.html");
    assert!(!html.contains("SECRET-NOTE") && !html.contains("RESPONDERS-ONLY"));
    let doc = parse_html(&html);
    let h1: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("h1")).collect();
    assert_eq!(h1.len(), 1);
    assert_eq!(text_of(h1[0]), TITLE);
    let updates: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("li") && n.attribute("class") == Some("update"))
        .map(|li| {
            let status = li
                .descendants()
                .find(|n| n.has_tag_name("strong"))
                .and_then(|n| n.text())
                .unwrap()
                .to_owned();
            let msg = li
                .descendants()
                .find(|n| n.attribute("class") == Some("msg"))
                .and_then(|n| n.text())
                .unwrap()
                .to_owned();
            (status, msg)
        })
        .collect();
    let labels: Vec<&str> = updates.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Postmortem",
            "Resolved",
            "Monitoring",
            "Identified",
            "Investigating"
        ]
    );
    assert_eq!(updates[4].1, MESSAGE, "the message is text, byte for byte");
    assert_eq!(updates[3].1, "A bad deploy & a <rollback>.");

    // The index: all operational again, the incident in the history.
    let index = read(&r.dir, "index.html");
    let doc = parse_html(&index);
    let history: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("a") && n.attribute("href") == Some("incidents/inc-7.html"))
        .collect();
    assert_eq!(history.len(), 1);
    assert_eq!(text_of(history[0]), TITLE);
    assert!(index.contains("All Systems Operational"));
    assert!(!index.contains("Active incidents"));
}

#[tokio::test]
async fn summary_and_status_json_have_the_statuspage_shape() {
    let r = rig();
    let mut inc = hostile_incident();
    let first = inc
        .post(draft(Status::Investigating, 3, MESSAGE).internal_notes("SECRET-NOTE"))
        .unwrap()
        .clone();
    publish(&r, &inc, &first).await;

    let status = json(&r.dir, "api/v2/status.json");
    assert_eq!(keys(&status), set(&["page", "status"]));
    assert_eq!(
        keys(&status["page"]),
        set(&["id", "name", "url", "time_zone", "updated_at"])
    );
    assert_eq!(status["page"]["id"], "pg1");
    assert_eq!(status["page"]["name"], "Example <Status> & Co");
    assert_eq!(status["page"]["url"], BASE);
    assert_eq!(status["page"]["time_zone"], "Etc/UTC");
    chrono::DateTime::parse_from_rfc3339(status["page"]["updated_at"].as_str().unwrap()).unwrap();
    assert_eq!(keys(&status["status"]), set(&["indicator", "description"]));
    // A major outage on a component is critical, whatever the impact says.
    assert_eq!(status["status"]["indicator"], "critical");
    assert_eq!(status["status"]["description"], "Major System Outage");

    let summary = json(&r.dir, "api/v2/summary.json");
    assert_eq!(
        keys(&summary),
        set(&[
            "page",
            "components",
            "incidents",
            "scheduled_maintenances",
            "status"
        ])
    );
    assert_eq!(summary["page"], status["page"]);
    // The public types read what the page writes.
    let typed: api::Summary = serde_json::from_value(summary.clone()).unwrap();
    assert_eq!(typed.status.indicator, api::Indicator::Critical);
    assert_eq!(typed.incidents[0].incident_updates[0].body, MESSAGE);
    let _: api::StatusDocument = serde_json::from_value(status.clone()).unwrap();
    assert_eq!(summary["status"], status["status"]);
    assert_eq!(summary["scheduled_maintenances"], Value::Array(vec![]));

    let components = summary["components"].as_array().unwrap();
    assert_eq!(components.len(), 3);
    for c in components {
        assert_eq!(
            keys(c),
            set(&[
                "id",
                "name",
                "status",
                "created_at",
                "updated_at",
                "position",
                "description",
                "showcase",
                "start_date",
                "group_id",
                "page_id",
                "group",
                "only_show_if_degraded"
            ])
        );
        assert_eq!(c["page_id"], "pg1");
    }
    let cs: Vec<(&str, &str, u64)> = components
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["position"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cs,
        [
            ("api", "major_outage", 1),
            ("web", "operational", 2),
            ("db", "operational", 3)
        ]
    );
    assert_eq!(components[1]["name"], COMPONENT);
    assert_eq!(components[1]["description"], "The <site>");
    assert_eq!(components[0]["description"], Value::Null);

    let incidents = summary["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1);
    let i = &incidents[0];
    for k in [
        "id",
        "name",
        "status",
        "impact",
        "created_at",
        "updated_at",
        "started_at",
        "monitoring_at",
        "resolved_at",
        "shortlink",
        "page_id",
        "incident_updates",
        "components",
    ] {
        assert!(i.get(k).is_some(), "incident has no {k}: {i}");
    }
    assert_eq!(i["id"], "inc-7");
    assert_eq!(i["name"], TITLE);
    assert_eq!(i["status"], "investigating");
    assert_eq!(i["impact"], "major");
    assert_eq!(i["shortlink"], PAGE_URL);
    assert_eq!(i["resolved_at"], Value::Null);
    assert_eq!(i["started_at"], "2026-11-25T14:00:00.000Z");
    assert_eq!(i["created_at"], "2026-11-25T14:03:00.000Z");
    assert_eq!(i["components"][0]["id"], "api");
    let u = &i["incident_updates"][0];
    assert_eq!(
        keys(u),
        set(&[
            "id",
            "status",
            "body",
            "incident_id",
            "created_at",
            "updated_at",
            "display_at",
            "affected_components",
            "deliver_notifications",
            "custom_tweet",
            "tweet_id",
            "twitter_updated_at",
        ])
    );
    assert_eq!(u["deliver_notifications"], true);
    assert_eq!(u["custom_tweet"], Value::Null);
    assert_eq!(u["tweet_id"], Value::Null);
    assert_eq!(u["id"], "inc-7-u1");
    assert_eq!(u["incident_id"], "inc-7");
    assert_eq!(u["status"], "investigating");
    assert_eq!(u["body"], MESSAGE);
    assert_eq!(u["display_at"], "2026-11-25T14:03:00.000Z");
    assert!(!read(&r.dir, "api/v2/summary.json").contains("SECRET-NOTE"));

    // An update: partial outage (major), newest update first, affected
    // components named.
    let second = inc
        .post(
            draft(Status::Monitoring, 20, "Watching.")
                .component(api(), ComponentStatus::DegradedPerformance),
        )
        .unwrap()
        .clone();
    publish(&r, &inc, &second).await;
    let summary = json(&r.dir, "api/v2/summary.json");
    // The impact (major) is worse than the component (degraded): worst wins.
    assert_eq!(summary["status"]["indicator"], "major");
    assert_eq!(summary["status"]["description"], "Partial System Outage");
    let i = &summary["incidents"][0];
    assert_eq!(i["status"], "monitoring");
    assert_eq!(i["monitoring_at"], "2026-11-25T14:20:00.000Z");
    let ids: Vec<&str> = i["incident_updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["inc-7-u2", "inc-7-u1"]);
    assert_eq!(
        i["incident_updates"][0]["affected_components"],
        serde_json::json!([{"code": "api", "name": "API", "old_status": "operational", "new_status": "degraded_performance"}])
    );

    // Resolved: no unresolved incident, everything operational.
    let done = inc
        .post(draft(Status::Resolved, 30, "Fixed."))
        .unwrap()
        .clone();
    publish(&r, &inc, &done).await;
    let summary = json(&r.dir, "api/v2/summary.json");
    assert_eq!(summary["incidents"], Value::Array(vec![]));
    assert_eq!(summary["status"]["indicator"], "none");
    assert_eq!(summary["status"]["description"], "All Systems Operational");
    assert!(
        summary["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "operational")
    );
    let all = json(&r.dir, "api/v2/incidents.json");
    assert_eq!(all["incidents"][0]["status"], "resolved");
    assert_eq!(
        all["incidents"][0]["resolved_at"],
        "2026-11-25T14:30:00.000Z"
    );
    assert_eq!(
        json(&r.dir, "api/v2/incidents/unresolved.json")["incidents"],
        Value::Array(vec![])
    );
    assert_eq!(
        json(&r.dir, "api/v2/components.json")["components"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn a_minor_incident_on_degraded_components_reads_degraded() {
    let r = rig();
    let mut inc = Incident::new(
        IncidentId::new("slow").unwrap(),
        "Slow",
        Impact::Minor,
        t0(),
    )
    .unwrap()
    .with_component(api(), "API", ComponentStatus::DegradedPerformance);
    let u = inc
        .post(draft(Status::Investigating, 1, "Slow."))
        .unwrap()
        .clone();
    publish(&r, &inc, &u).await;
    let status = json(&r.dir, "api/v2/status.json");
    assert_eq!(status["status"]["indicator"], "minor");
    assert_eq!(
        status["status"]["description"],
        "Partially Degraded Service"
    );

    let mut other = Incident::new(
        IncidentId::new("tiny").unwrap(),
        "Tiny",
        Impact::Minor,
        t0(),
    )
    .unwrap();
    let u = other
        .post(draft(Status::Identified, 1, "Tiny."))
        .unwrap()
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let page = page(dir.path());
    let d = Dispatcher::builder(CANONICAL_HTML)
        .primary("page", Arc::new(page))
        .build()
        .unwrap();
    d.publish(&other, &u).await.unwrap();
    let status = json(&dir.path().join("current"), "api/v2/status.json");
    assert_eq!(status["status"]["indicator"], "minor");
    assert_eq!(status["status"]["description"], "Minor Service Outage");
}

#[tokio::test]
async fn hostile_text_is_escaped_in_the_feed_and_the_json() {
    let r = rig();
    let inc = run_incident(&r).await;

    let f = feed(&r.dir);
    assert_eq!(f.entries.len(), 5, "one entry per public update");
    let newest = &f.entries[0];
    assert_eq!(
        newest.title.as_ref().unwrap().content,
        format!("[Postmortem] {TITLE}")
    );
    assert_eq!(newest.links[0].href, format!("{PAGE_URL}#update-6"));
    assert_eq!(newest.id, format!("{PAGE_URL}#update-6"));
    let oldest = f.entries.last().unwrap();
    assert_eq!(
        oldest.title.as_ref().unwrap().content,
        format!("[Investigating] {TITLE}")
    );
    let body = oldest.content.as_ref().unwrap().body.as_ref().unwrap();
    assert!(body.starts_with(MESSAGE), "{body}");
    assert!(body.contains("Next update by 2026-11-25 14:33 UTC."));
    assert!(oldest.updated.is_some());
    let raw = read(&r.dir, "history.atom");
    assert!(!raw.contains("SECRET-NOTE") && !raw.contains("RESPONDERS-ONLY"));
    assert!(raw.contains("&lt;script&gt;"));

    // JSON: the exact text, with no raw markup characters in the file.
    let all = json(&r.dir, "api/v2/incidents.json");
    assert_eq!(all["incidents"][0]["name"], TITLE);
    let bodies: Vec<&str> = all["incidents"][0]["incident_updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.len(), 5);
    assert_eq!(bodies[4], MESSAGE);
    let raw = read(&r.dir, "api/v2/incidents.json");
    assert!(!raw.contains('<') && !raw.contains('&'));

    // The state file holds public text only, too.
    let state = read(&r.dir, "state.json");
    assert!(!state.contains("SECRET-NOTE") && !state.contains("RESPONDERS-ONLY"));
    let _ = inc;

    // Control characters are replaced, so every page stays well-formed.
    let mut bad =
        Incident::new(IncidentId::new("ctl").unwrap(), "Ctl", Impact::Minor, t0()).unwrap();
    let u = bad
        .post(draft(
            Status::Investigating,
            1,
            "bell \u{7} and nul \u{0} here",
        ))
        .unwrap()
        .clone();
    publish(&r, &bad, &u).await;
    assert!(read(&r.dir, "incidents/ctl.html").contains("bell \u{FFFD} and nul \u{FFFD} here"));
    assert_eq!(
        json(&r.dir, "api/v2/summary.json")["incidents"][0]["incident_updates"][0]["body"],
        "bell \u{7} and nul \u{0} here",
        "JSON keeps the text exactly"
    );
}

#[tokio::test]
async fn pages_are_accessible_readable_on_a_phone_and_self_contained() {
    let r = rig();
    run_incident(&r).await;
    let mut inc = Incident::new(
        IncidentId::new("inc-8").unwrap(),
        "Open",
        Impact::Critical,
        t0(),
    )
    .unwrap()
    .with_component(web(), "Web", ComponentStatus::PartialOutage);
    let u = inc
        .post(draft(Status::Identified, 700, MESSAGE))
        .unwrap()
        .clone();
    publish(&r, &inc, &u).await;

    for f in files(&r.dir).iter().filter(|f| f.ends_with(".html")) {
        let text = read(&r.dir, f);
        let doc = parse_html(&text);
        let root = doc.root_element();
        assert_eq!(root.attribute("lang"), Some("en"), "{f}");
        assert!(
            doc.descendants().any(|n| n.has_tag_name("meta")
                && n.attribute("name") == Some("viewport")
                && n.attribute("content")
                    .is_some_and(|c| c.contains("width=device-width"))),
            "{f}: no viewport"
        );
        assert!(doc.descendants().any(|n| n.has_tag_name("title")));
        // Headings: one h1 first, and no level skipped.
        let levels: Vec<u8> = doc
            .descendants()
            .filter_map(|n| match n.tag_name().name() {
                "h1" => Some(1),
                "h2" => Some(2),
                "h3" => Some(3),
                "h4" => Some(4),
                "h5" => Some(5),
                "h6" => Some(6),
                _ => None,
            })
            .collect();
        assert_eq!(levels.first(), Some(&1), "{f}");
        assert_eq!(levels.iter().filter(|l| **l == 1).count(), 1, "{f}");
        for w in levels.windows(2) {
            assert!(w[1] <= w[0] + 1, "{f}: heading levels {levels:?}");
        }
        // No external asset: no script, no stylesheet link, no image, no
        // url() in the inline CSS.
        assert!(
            !doc.descendants().any(|n| n.attribute("src").is_some()),
            "{f}"
        );
        assert!(
            !doc.descendants()
                .any(|n| n.has_tag_name("link") && n.attribute("rel") == Some("stylesheet")),
            "{f}"
        );
        let style = doc
            .descendants()
            .find(|n| n.has_tag_name("style"))
            .and_then(|n| n.text())
            .unwrap();
        assert!(!style.contains("url(") && !style.contains("@import"));
        assert!(style.contains("@media"), "responsive CSS");
    }

    // Status in words, not colour alone: every component row says its state.
    let doc_text = read(&r.dir, "index.html");
    let doc = parse_html(&doc_text);
    let states: Vec<String> = doc
        .descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|c| c == "state"))
        })
        .map(|n| {
            n.descendants()
                .filter(|d| d.is_text())
                .map(|d| d.text().unwrap())
                .collect::<String>()
        })
        .collect();
    assert_eq!(states.len(), 3);
    assert!(states[0].contains("Operational"), "{states:?}");
    assert!(states[1].contains("Partial outage"), "{states:?}");
    assert!(doc_text.contains("Major System Outage"), "critical impact");
    assert!(doc_text.contains("Active incidents"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_readers_never_see_partial_files() {
    let r = rig();
    let mut inc = hostile_incident();
    let u = inc
        .post(draft(Status::Investigating, 1, MESSAGE))
        .unwrap()
        .clone();
    publish(&r, &inc, &u).await;

    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let dir = r.dir.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut reads = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    for f in ["api/v2/summary.json", "api/v2/status.json", "state.json"] {
                        let text = std::fs::read_to_string(dir.join(f)).unwrap();
                        serde_json::from_str::<Value>(&text)
                            .unwrap_or_else(|e| panic!("{f} read half-written: {e}"));
                    }
                    for f in ["index.html", "incidents/inc-7.html", "history.atom"] {
                        let text = std::fs::read_to_string(dir.join(f)).unwrap();
                        assert!(text.trim_end().ends_with('>'), "{f} read half-written");
                        parse_html(&text);
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();

    // Many updates with long messages, so each write takes a while.
    let long = "A long message. ".repeat(300);
    for n in 0..30 {
        let u = inc
            .post(draft(Status::Identified, 2 + n, &format!("{n}: {long}")))
            .unwrap()
            .clone();
        r.dispatcher.publish(&inc, &u).await.unwrap();
        assert!(r.page.leftover_temp_files().is_empty());
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.join().expect("no reader saw a partial file") > 0);
    }
    check_site(&r.dir);
    let summary = json(&r.dir, "api/v2/summary.json");
    assert_eq!(
        summary["incidents"][0]["incident_updates"]
            .as_array()
            .unwrap()
            .len(),
        31
    );
}

#[tokio::test]
async fn a_restart_keeps_the_history() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    {
        let page = Arc::new(page(&dir));
        let d = Dispatcher::builder(CANONICAL_HTML)
            .primary("page", page)
            .build()
            .unwrap();
        let mut inc = hostile_incident();
        let u = inc
            .post(draft(Status::Investigating, 1, MESSAGE))
            .unwrap()
            .clone();
        d.publish(&inc, &u).await.unwrap();
        let u = inc
            .post(draft(Status::Resolved, 9, "Fixed."))
            .unwrap()
            .clone();
        d.publish(&inc, &u).await.unwrap();
    }
    // A new process: a new page on the same directory.
    let page = Arc::new(page(&dir));
    let d = Dispatcher::builder(CANONICAL_HTML)
        .primary("page", page.clone())
        .build()
        .unwrap();
    let mut next = Incident::new(
        IncidentId::new("inc-9").unwrap(),
        "Later",
        Impact::Minor,
        t0(),
    )
    .unwrap();
    let u = next
        .post(draft(Status::Investigating, 100, "Again."))
        .unwrap()
        .clone();
    d.publish(&next, &u).await.unwrap();
    let root = dir;
    let dir = page.served_dir();
    check_site(&dir);

    let all = json(&dir, "api/v2/incidents.json");
    let ids: Vec<&str> = all["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["inc-9", "inc-7"], "newest first, the old one kept");
    assert_eq!(
        all["incidents"][1]["incident_updates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let index = read(&dir, "index.html");
    assert!(
        parse_html(&index)
            .descendants()
            .any(|n| n.attribute("href") == Some("incidents/inc-7.html"))
    );
    assert!(dir.join("incidents/inc-7.html").is_file());
    assert_eq!(feed(&dir).entries.len(), 3);

    // `fresh()` starts over; a corrupt state is a configuration error.
    let fresh = StaticStatusPage::builder(&root, BASE)
        .fresh()
        .build()
        .unwrap();
    drop(fresh);
    std::fs::write(dir.join("state.json"), "{ not json").unwrap();
    let err = StaticStatusPage::builder(&root, BASE).build().unwrap_err();
    assert!(
        matches!(&err, BuildError::InvalidSetting { setting, .. } if setting.starts_with("status page directory")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unwritable_directory_fails_as_config_and_the_fan_out_uses_the_canonical_url() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    let page = Arc::new(page(&dir));
    // After the page was built, a file takes the directory's place: nothing
    // can be written (permissions would not stop root; a file does).
    std::fs::write(&dir, "not a directory").unwrap();
    let mail = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder(CANONICAL_HTML)
        .primary("page", page.clone())
        .channel("mail", mail.clone())
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("mail", [target("subscribers@example.com")])),
        )
        .build()
        .unwrap();
    let mut inc = hostile_incident();
    let u = inc
        .post(draft(Status::Investigating, 1, "x"))
        .unwrap()
        .clone();
    let report = d.publish(&inc, &u).await.unwrap();
    let primary = report.primary.as_ref().unwrap();
    match &primary.outcome {
        Outcome::Failed(Failure::Channel(e @ ChannelError::Config { .. })) => {
            assert!(!e.is_retryable());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(primary.attempts, 1, "a config error is not retried");
    assert!(matches!(report.link_source, LinkSource::Canonical { .. }));
    // The canonical URL is configured to the same page.
    assert!(mail.texts()[0].ends_with(PAGE_URL));

    // Once the directory is fixed, publishing again writes the page; the
    // update's messages keep the link they went out with.
    std::fs::remove_file(&dir).unwrap();
    let report = d.publish(&inc, &u).await.unwrap();
    assert!(matches!(
        report.primary.as_ref().unwrap().outcome,
        Outcome::Sent(_)
    ));
    assert!(matches!(report.link_source, LinkSource::Canonical { .. }));
    check_site(&page.served_dir());
    // The next update links to the page.
    let u2 = inc.post(draft(Status::Identified, 2, "y")).unwrap().clone();
    let report = d.publish(&inc, &u2).await.unwrap();
    assert_eq!(report.link_source, LinkSource::Primary);
}

#[tokio::test]
async fn the_widget_reads_summary_json_beside_it_and_sets_text_only() {
    let r = rig();
    let mut inc = hostile_incident();
    let u = inc
        .post(draft(Status::Investigating, 1, "x"))
        .unwrap()
        .clone();
    publish(&r, &inc, &u).await;
    let js = read(&r.dir, "widget.js");
    assert!(js.contains(r#"new URL("api/v2/summary.json", root)"#));
    assert!(js.contains("document.currentScript"));
    assert!(js.contains("textContent"));
    for banned in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!js.contains(banned), "{banned}");
    }
    let code: String = js
        .lines()
        .filter(|l| !l.trim_start().starts_with('*') && !l.trim_start().starts_with("/*"))
        .collect();
    assert!(
        !code.contains("http://") && !code.contains("https://"),
        "no external asset"
    );
}

#[tokio::test]
async fn maintenance_is_shown_upcoming_in_progress_then_completed() {
    let r = rig();
    let now = chrono::Utc::now();
    let hour = chrono::Duration::hours(1);
    let mut upcoming = Maintenance::new(
        IncidentId::new("mnt-1").unwrap(),
        "DB <upgrade> & more",
        now + hour,
        now + hour * 3,
    )
    .unwrap()
    .with_component(db());
    upcoming
        .post(
            MaintenanceStatus::Scheduled,
            now - hour,
            "The database will be read-only.",
        )
        .unwrap();
    let link = r.page.publish_maintenance(&upcoming).await.unwrap();
    assert_eq!(
        link.as_str(),
        "https://status.example.com/maintenance/mnt-1.html"
    );
    check_site(&r.dir);

    let summary = json(&r.dir, "api/v2/summary.json");
    let m = &summary["scheduled_maintenances"][0];
    assert_eq!(m["id"], "mnt-1");
    assert_eq!(m["name"], "DB <upgrade> & more");
    assert_eq!(m["status"], "scheduled");
    assert_eq!(m["impact"], "maintenance");
    assert_eq!(m["shortlink"], link.as_str());
    assert!(m["scheduled_for"].is_string() && m["scheduled_until"].is_string());
    assert_eq!(m["components"][0]["id"], "db");
    assert_eq!(m["incident_updates"][0]["status"], "scheduled");
    assert_eq!(summary["status"]["description"], "All Systems Operational");
    assert_eq!(
        json(&r.dir, "api/v2/scheduled-maintenances/upcoming.json")["scheduled_maintenances"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        json(&r.dir, "api/v2/scheduled-maintenances/upcoming.json")["scheduled_maintenances"][0]["started_at"],
        Value::Null,
        "not started yet"
    );
    let index = read(&r.dir, "index.html");
    assert!(index.contains("Scheduled maintenance") && index.contains("Upcoming"));

    // Started: the component is under maintenance, the page says so.
    upcoming
        .post(MaintenanceStatus::InProgress, now, "Started.")
        .unwrap();
    r.page.publish_maintenance(&upcoming).await.unwrap();
    check_site(&r.dir);
    let summary = json(&r.dir, "api/v2/summary.json");
    assert_eq!(
        summary["scheduled_maintenances"][0]["status"],
        "in_progress"
    );
    // In progress: started when its in-progress update said so.
    let started = summary["scheduled_maintenances"][0]["started_at"]
        .as_str()
        .expect("a maintenance in progress has started_at");
    let started = chrono::DateTime::parse_from_rfc3339(started).unwrap();
    assert!(
        (started.timestamp_millis() - now.timestamp_millis()).abs() < 1,
        "{started}"
    );
    assert_eq!(summary["status"]["indicator"], "none");
    assert_eq!(
        summary["status"]["description"],
        "Service Under Maintenance"
    );
    let db_row = summary["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "db")
        .unwrap()
        .clone();
    assert_eq!(db_row["status"], "under_maintenance");
    assert_eq!(
        json(&r.dir, "api/v2/scheduled-maintenances/active.json")["scheduled_maintenances"][0]["id"],
        "mnt-1"
    );
    assert!(read(&r.dir, "index.html").contains("In progress"));
    let page_html = read(&r.dir, "maintenance/mnt-1.html");
    let doc = parse_html(&page_html);
    assert_eq!(
        text_of(doc.descendants().find(|n| n.has_tag_name("h1")).unwrap()),
        "DB <upgrade> & more"
    );

    // Completed: gone from summary, listed as past, in the feed.
    upcoming
        .post(MaintenanceStatus::Completed, now + hour * 2, "Done.")
        .unwrap();
    r.page.publish_maintenance(&upcoming).await.unwrap();
    check_site(&r.dir);
    let summary = json(&r.dir, "api/v2/summary.json");
    assert_eq!(summary["scheduled_maintenances"], Value::Array(vec![]));
    assert_eq!(summary["status"]["description"], "All Systems Operational");
    let all = json(&r.dir, "api/v2/scheduled-maintenances.json");
    assert_eq!(all["scheduled_maintenances"][0]["status"], "completed");
    assert!(read(&r.dir, "index.html").contains("Past maintenance"));
    let f = feed(&r.dir);
    assert_eq!(f.entries.len(), 3);
    assert!(f.entries.iter().all(|e| {
        e.title
            .as_ref()
            .unwrap()
            .content
            .contains("DB <upgrade> & more")
    }));

    // A maintenance still "scheduled" moves by the clock on refresh.
    let mut by_clock = Maintenance::new(
        IncidentId::new("mnt-2").unwrap(),
        "Network work",
        now - hour,
        now + hour,
    )
    .unwrap()
    .with_component(api());
    by_clock
        .post(MaintenanceStatus::Scheduled, now - hour * 2, "Planned.")
        .unwrap();
    r.page.publish_maintenance(&by_clock).await.unwrap();
    r.page.refresh().await.unwrap();
    let summary = json(&r.dir, "api/v2/summary.json");
    assert_eq!(
        summary["scheduled_maintenances"][0]["status"],
        "in_progress"
    );
}

#[test]
fn the_builder_validates() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        "not a url",
        "ftp://status.example.com/",
        "mailto:a@example.com",
    ] {
        let err = StaticStatusPage::builder(dir.path(), bad)
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, BuildError::InvalidUrl { field, .. } if field == "status page base URL"),
            "{bad}: {err:?}"
        );
    }
    let err = StaticStatusPage::builder(dir.path(), BASE)
        .component(api(), "A")
        .component(api(), "B")
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid status page component api: it is listed twice"
    );
    let err = StaticStatusPage::builder(dir.path(), BASE)
        .name(" ")
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid status page name: it is empty");
    // A base without its trailing slash gets one.
    let page = StaticStatusPage::builder(dir.path(), "https://example.com/status")
        .build()
        .unwrap();
    assert_eq!(page.base_url().as_str(), "https://example.com/status/");
    assert_eq!(
        page.permalink(&IncidentId::new("x").unwrap()).as_str(),
        "https://example.com/status/incidents/x.html"
    );
    assert!(page.limits().primary);
    assert_eq!(page.kind().as_str(), "status_page");
}

/// Under tokio's paused clock (as cadence tests run), the blocking writes do
/// not let virtual time race past the dispatcher's send timeout.
#[tokio::test(start_paused = true)]
async fn works_under_a_paused_clock() {
    let r = rig();
    let mut inc = hostile_incident();
    for n in 0..5 {
        let u = inc
            .post(draft(Status::Investigating, 1 + n, MESSAGE))
            .unwrap()
            .clone();
        let report = publish(&r, &inc, &u).await;
        assert_eq!(report.link_source, LinkSource::Primary);
    }
}

/// Routed by mistake as an ordinary channel for an inner ring, the page
/// refuses what customers may not see, and writes nothing.
#[tokio::test]
async fn updates_not_for_customers_are_refused() {
    use tidings::channel::{Channel, Delivery};
    use tidings::render::Templates;

    let tmp = tempfile::tempdir().unwrap();
    let page = page(tmp.path());
    let mut inc = hostile_incident();
    let u = inc
        .post(
            draft(Status::Investigating, 1, "responders only").only_for([Audience::CoreResponders]),
        )
        .unwrap()
        .clone();
    let message = Templates::new()
        .render(&inc, &u, &Audience::CoreResponders, Detail::Internal)
        .unwrap();
    let d = Delivery::new(
        "page",
        Arc::new(inc),
        Arc::new(u),
        Audience::CoreResponders,
        Detail::Internal,
        target("page"),
        Arc::new(message),
        "text",
        Arc::new(PAGE_URL.parse().unwrap()),
    );
    let err = page.send(&d).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");
    assert!(files(tmp.path()).is_empty());
}

#[tokio::test]
async fn a_maintenance_through_the_dispatcher_is_a_scheduled_maintenance_on_the_page() {
    let r = rig();
    let now = chrono::Utc::now();
    let hour = chrono::Duration::hours(1);
    let mut m = Incident::maintenance(
        IncidentId::new("mnt-9").unwrap(),
        TITLE,
        MaintenanceWindow::new(now + hour * 2, now + hour * 3).unwrap(),
        now,
    )
    .unwrap()
    .with_component(db(), "Database", ComponentStatus::UnderMaintenance);
    let announcement = m
        .post(UpdateDraft::new(Status::Scheduled, now, MESSAGE))
        .unwrap()
        .clone();
    let report = r.dispatcher.publish(&m, &announcement).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    assert_eq!(report.link_source, LinkSource::Primary);
    let link = "https://status.example.com/maintenance/mnt-9.html";
    assert_eq!(report.link.as_str(), link);
    assert!(r.mail.texts()[0].ends_with(link));
    assert!(r.chat.texts()[0].ends_with(link));
    check_site(&r.dir);

    // A scheduled maintenance, not an incident.
    let summary = json(&r.dir, "api/v2/summary.json");
    assert_eq!(summary["incidents"].as_array().unwrap().len(), 0);
    assert!(
        json(&r.dir, "api/v2/incidents.json")["incidents"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let upcoming = json(&r.dir, "api/v2/scheduled-maintenances/upcoming.json");
    let listed = &upcoming["scheduled_maintenances"][0];
    assert_eq!(listed["id"], "mnt-9");
    assert_eq!(listed["name"], TITLE);
    assert_eq!(listed["status"], "scheduled");
    assert_eq!(listed["impact"], "maintenance");
    assert_eq!(listed["shortlink"], link);
    assert_eq!(listed["components"][0]["id"], "db");
    assert_eq!(listed["incident_updates"][0]["body"], MESSAGE);
    assert_eq!(
        summary["status"]["description"], "All Systems Operational",
        "not under maintenance before the window"
    );
    let html = read(&r.dir, "maintenance/mnt-9.html");
    assert!(!html.contains("<script>alert"), "escaped");

    // The reminder links to the same page and adds no update to it.
    let reminded = r
        .dispatcher
        .send_maintenance_reminders(&mut m, now + hour + chrono::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(reminded.len(), 1);
    assert!(reminded[0].all_sent(), "{:?}", reminded[0]);
    assert_eq!(reminded[0].link.as_str(), link);
    assert!(r.mail.texts()[1].contains("Reminder: this maintenance starts in 59 min"));
    let upcoming = json(&r.dir, "api/v2/scheduled-maintenances/upcoming.json");
    assert_eq!(
        upcoming["scheduled_maintenances"][0]["incident_updates"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Completed early: shown as completed, nothing left upcoming.
    let done = m
        .post(UpdateDraft::new(
            Status::Completed,
            now + hour + chrono::Duration::minutes(2),
            "Cancelled: the upgrade is not needed.",
        ))
        .unwrap()
        .clone();
    assert!(r.dispatcher.publish(&m, &done).await.unwrap().all_sent());
    check_site(&r.dir);
    let all = json(&r.dir, "api/v2/scheduled-maintenances.json");
    let listed = &all["scheduled_maintenances"][0];
    assert_eq!(listed["status"], "completed");
    assert_eq!(listed["incident_updates"].as_array().unwrap().len(), 2);
    assert!(
        json(&r.dir, "api/v2/scheduled-maintenances/upcoming.json")["scheduled_maintenances"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The page itself, sent the announcement again (a retry from another
    // worker), rolls nothing back.
    let again = tidings::channel::Delivery::new(
        "status-page",
        Arc::new(m.clone()),
        Arc::new(announcement),
        Audience::Customers,
        Detail::Public,
        target("page"),
        Arc::new(tidings::render::RenderedMessage {
            title: String::new(),
            body: String::new(),
            next_update: None,
        }),
        "text",
        Arc::new(link.parse().unwrap()),
    );
    tidings::channel::Channel::send(&*r.page, &again)
        .await
        .unwrap();
    let all = json(&r.dir, "api/v2/scheduled-maintenances.json");
    let listed = &all["scheduled_maintenances"][0];
    assert_eq!(listed["status"], "completed");
    assert_eq!(listed["incident_updates"].as_array().unwrap().len(), 2);
}
