//! The status page checked the way browsers and validators read it: a site
//! with several open incidents, hostile text (markup, bidirectional
//! overrides, long words and URLs), maintenance, uptime history, subscribe
//! forms and branding, then
//!
//! - every page parsed by an HTML5 parser (html5ever, through `scraper`):
//!   no parse error, `lang`, unique ids, headings in order, landmarks, a
//!   status on every component row, user text isolated (`<bdi>`,
//!   `dir="auto"`) with its bidi controls balanced;
//! - the Atom feed and the JSON: bidi controls balanced, and isolated in the
//!   feed;
//! - the uptime bars against the incidents recorded;
//! - the widget run in Node.js against a small DOM (`TIDINGS_TEST_NODE`);
//! - every page through the W3C Nu HTML checker, `vnu.jar` from the npm
//!   package `vnu-jar` (`TIDINGS_TEST_NPM_DIR`, pinned by
//!   `tests/oracle/package-lock.json`; needs Java);
//! - every page in headless Chromium at 390 px wide (`TIDINGS_TEST_CHROMIUM`):
//!   nothing wider than the screen, no time broken across lines, dark mode.
//!
//! `./scripts/test` installs and names all three; without one of the
//! variables, the check that needs it says so and is skipped.
#![cfg(feature = "status-page")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;
use tidings::channel::BuildError;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::status_page::{
    Maintenance, MaintenanceStatus, PageComponent, StaticStatusPage,
};
use tidings::incident::Update;
use tidings::prelude::*;

const BASE: &str = "https://status.example.com/";

/// A right-to-left override left open: it would reverse everything after
/// it on the line if it were not isolated.
const RLO_TITLE: &str = "Login \u{202E}deliaf <b>tpircs</b>";
/// An isolate left open, a stray pop, an override closed by a line break.
const BIDI_MESSAGE: &str =
    "\u{2067}unclosed isolate \u{2069}\u{2069} and \u{202E}override\nnext line & <i>markup</i>";
const LONG_WORD: &str =
    "Authenticationandauthorizationserviceforenterprisesinglesignonintegrations";
const LONG_URL: &str = "https://example.com/a/very/long/path/that/goes/on/and/on/without/any/space/at/all/until/it/is/much/wider/than/a/phone?query=parameters&and=more";

fn id(s: &str) -> ComponentId {
    ComponentId::new(s).unwrap()
}

/// Bidi controls.
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Every opener closed, in order, before the end and before each line
/// break; nothing closed that was not open.
fn well_nested(s: &str) -> bool {
    let mut stack = Vec::new();
    for c in s.chars() {
        match c {
            '\u{202A}' | '\u{202B}' | '\u{202D}' | '\u{202E}' => stack.push('\u{202C}'),
            '\u{2066}'..='\u{2068}' => stack.push('\u{2069}'),
            '\u{202C}' | '\u{2069}' if stack.pop() != Some(c) => return false,
            '\n' if !stack.is_empty() => return false,
            _ => {}
        }
    }
    stack.is_empty()
}

struct Site {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    now: DateTime<Utc>,
}

fn builder(
    dir: &Path,
    start: chrono::NaiveDate,
) -> tidings::channel::status_page::StaticStatusPageBuilder {
    StaticStatusPage::builder(dir, BASE)
        .name("Example \u{202E}status")
        .page_id("pg1")
        .page_component(
            PageComponent::new(id("api"), "API")
                .with_description("REST and GraphQL")
                .with_start_date(start),
        )
        .page_component(PageComponent::new(id("auth"), LONG_WORD).with_start_date(start))
        .page_component(PageComponent::new(id("web"), "Web \u{202E}ppa").with_start_date(start))
        .component(id("db"), "Database")
}

async fn publish(d: &Dispatcher, inc: &Incident, u: &Update) {
    let report = d.publish(inc, u).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
}

fn draft(status: Status, at: DateTime<Utc>, msg: &str) -> UpdateDraft {
    let d = UpdateDraft::new(status, at, msg);
    if status.is_closed() {
        d
    } else {
        d.next_update_at(at + Duration::minutes(30))
    }
}

/// The site: three open incidents (two with hostile text), a resolved one
/// ten days ago (a major outage of the API for three hours), a maintenance
/// in progress and one completed.
async fn site() -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let start = (now - Duration::days(40)).date_naive();
    let page = Arc::new(
        builder(&tmp.path().join("site"), start)
            .logo("https://cdn.example.com/logo.svg", "Example")
            .accent_colours("#6b2fb3", "#c9a8ff")
            .footer_link("Support", "https://example.com/support")
            .footer_link("Write to us", "mailto:support@example.com")
            .subscribe_email("https://example.com/subscribe")
            .subscribe_webhook("https://example.com/subscribe-webhook")
            .build()
            .unwrap(),
    );
    let dir = page.served_dir();
    let mail = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder("https://status.example.com/incidents/{id}.html")
        .primary("status-page", page.clone())
        .channel("mail", mail)
        .audience(AudiencePolicy::new(Audience::Customers).route(Route::new(
            "mail",
            [Target::new("subscribers@example.com").unwrap()],
        )))
        .build()
        .unwrap();

    // Resolved ten days ago: the API down for three hours.
    let past = now - Duration::days(10);
    let past =
        past - Duration::seconds(i64::from(chrono::Timelike::num_seconds_from_midnight(
            &past,
        ))) + Duration::hours(9);
    let mut old = Incident::new(
        IncidentId::new("old").unwrap(),
        "Old outage",
        Impact::Critical,
        past,
    )
    .unwrap()
    .with_component(id("api"), "API", ComponentStatus::MajorOutage);
    let u = old
        .post(draft(Status::Investigating, past, "Down."))
        .unwrap()
        .clone();
    publish(&d, &old, &u).await;
    let u = old
        .post(draft(Status::Resolved, past + Duration::hours(3), "Back."))
        .unwrap()
        .clone();
    publish(&d, &old, &u).await;

    let open = |n: &str, title: &str, component: &str, status| {
        Incident::new(
            IncidentId::new(n).unwrap(),
            title,
            Impact::Major,
            now - Duration::hours(2),
        )
        .unwrap()
        .with_component(id(component), component, status)
    };
    let mut a = open("inc-a", RLO_TITLE, "web", ComponentStatus::PartialOutage);
    let u = a
        .post(draft(
            Status::Investigating,
            now - Duration::hours(2),
            BIDI_MESSAGE,
        ))
        .unwrap()
        .clone();
    publish(&d, &a, &u).await;
    let u = a
        .post(draft(
            Status::Identified,
            now - Duration::hours(1),
            &format!("See {LONG_URL} and {LONG_WORD}."),
        ))
        .unwrap()
        .clone();
    publish(&d, &a, &u).await;
    let mut b = open(
        "inc-b",
        &format!("{LONG_WORD} unavailable"),
        "auth",
        ComponentStatus::DegradedPerformance,
    );
    let u = b
        .post(draft(
            Status::Investigating,
            now - Duration::minutes(50),
            "Slow sign-ins.",
        ))
        .unwrap()
        .clone();
    publish(&d, &b, &u).await;
    let mut c = open(
        "inc-c",
        "\u{2067}نظام الدفع\u{2069} errors",
        "db",
        ComponentStatus::MajorOutage,
    );
    let u = c
        .post(draft(
            Status::Investigating,
            now - Duration::minutes(20),
            "Payments fail.",
        ))
        .unwrap()
        .clone();
    publish(&d, &c, &u).await;

    let mut m = Maintenance::new(
        IncidentId::new("mnt-now").unwrap(),
        "Database \u{202E}upgrade",
        now - Duration::minutes(30),
        now + Duration::hours(2),
    )
    .unwrap()
    .with_component(id("db"));
    m.post(
        MaintenanceStatus::Scheduled,
        now - Duration::days(2),
        "Planned.",
    )
    .unwrap();
    m.post(
        MaintenanceStatus::InProgress,
        now - Duration::minutes(30),
        "Started.",
    )
    .unwrap();
    page.publish_maintenance(&m).await.unwrap();
    let mut done = Maintenance::new(
        IncidentId::new("mnt-done").unwrap(),
        "Network work",
        now - Duration::days(5),
        now - Duration::days(5) + Duration::hours(1),
    )
    .unwrap()
    .with_component(id("api"));
    done.post(
        MaintenanceStatus::Scheduled,
        now - Duration::days(7),
        "Planned.",
    )
    .unwrap();
    done.post(
        MaintenanceStatus::Completed,
        now - Duration::days(5) + Duration::hours(1),
        "Done.",
    )
    .unwrap();
    page.publish_maintenance(&done).await.unwrap();
    Site {
        _tmp: tmp,
        dir,
        now,
    }
}

fn html_files(dir: &Path) -> Vec<String> {
    let mut out = vec!["index.html".to_owned()];
    for sub in ["incidents", "maintenance"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            out.push(format!(
                "{sub}/{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    out.sort();
    out
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap()
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn text(e: ElementRef<'_>) -> String {
    e.text().collect()
}

#[tokio::test]
async fn every_page_parses_as_html5_with_unique_ids_headings_landmarks_and_isolated_text() {
    let s = site().await;
    let files = html_files(&s.dir);
    assert_eq!(files.len(), 7, "{files:?}");
    for f in &files {
        let source = read(&s.dir, f);
        let doc = Html::parse_document(&source);
        assert!(
            doc.errors.is_empty(),
            "{f}: HTML5 parse errors {:?}",
            doc.errors
        );
        let html = doc.select(&sel("html")).next().unwrap();
        assert_eq!(html.value().attr("lang"), Some("en"), "{f}");
        assert_eq!(doc.select(&sel("title")).count(), 1, "{f}");

        // Ids: unique, and every in-page link points at one.
        let ids: Vec<&str> = doc
            .select(&sel("[id]"))
            .filter_map(|e| e.value().attr("id"))
            .collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(ids.len(), unique.len(), "{f}: duplicate ids in {ids:?}");
        for a in doc.select(&sel("a[href^='#'], [aria-labelledby]")) {
            let target = a
                .value()
                .attr("href")
                .map(|h| h.trim_start_matches('#'))
                .or(a.value().attr("aria-labelledby"))
                .unwrap();
            assert!(unique.contains(target), "{f}: #{target} does not exist");
        }

        // Headings: one h1, first; no level skipped.
        let levels: Vec<u8> = doc
            .select(&sel("h1, h2, h3, h4, h5, h6"))
            .map(|h| h.value().name()[1..].parse().unwrap())
            .collect();
        assert_eq!(levels.first(), Some(&1), "{f}");
        assert_eq!(levels.iter().filter(|l| **l == 1).count(), 1, "{f}");
        for w in levels.windows(2) {
            assert!(w[1] <= w[0] + 1, "{f}: heading levels {levels:?}");
        }

        // Landmarks: one banner, one main, one contentinfo with its nav.
        assert_eq!(doc.select(&sel("body > header")).count(), 1, "{f}");
        assert_eq!(doc.select(&sel("main#main")).count(), 1, "{f}");
        assert_eq!(
            doc.select(&sel("body > footer nav[aria-label]")).count(),
            1,
            "{f}"
        );
        let links: Vec<String> = doc.select(&sel("footer nav a")).map(text).collect();
        assert_eq!(
            links,
            [
                "Current status",
                "Atom feed",
                "JSON API",
                "Support",
                "Write to us"
            ],
            "{f}"
        );
        // The logo has its text alternative; it is the only asset loaded.
        let srcs: Vec<&str> = doc
            .select(&sel("[src]"))
            .filter_map(|e| e.value().attr("src"))
            .collect();
        assert_eq!(srcs, ["https://cdn.example.com/logo.svg"], "{f}");
        assert_eq!(doc.select(&sel("img[alt='Example']")).count(), 1, "{f}");
        assert_eq!(
            doc.select(&sel("script")).count(),
            0,
            "{f}: readable without JavaScript"
        );

        // Every component row says its status in words.
        for row in doc.select(&sel("li.component")) {
            let state = row.select(&sel(".state")).next();
            let state = state.map(text).unwrap_or_default();
            assert!(
                state.trim().len() > 2,
                "{f}: a component row without status: {}",
                text(row)
            );
        }

        // User text: no markup survived; wherever a bidi control occurs it
        // is balanced within an isolating element (<bdi>, or dir="auto").
        assert_eq!(doc.select(&sel("main b, main i")).count(), 0, "{f}");
        let mut controls = 0;
        for node in doc.tree.nodes() {
            let Some(t) = node.value().as_text() else {
                continue;
            };
            if !t.chars().any(is_bidi) {
                continue;
            }
            if node
                .ancestors()
                .any(|a| a.value().as_element().is_some_and(|e| e.name() == "title"))
            {
                assert!(well_nested(t), "{f}: <title> {t:?}");
                continue;
            }
            controls += 1;
            let isolating = node
                .ancestors()
                .filter_map(ElementRef::wrap)
                .find(|e| e.value().name() == "bdi" || e.value().attr("dir").is_some())
                .unwrap_or_else(|| panic!("{f}: {t:?} is not isolated"));
            assert!(well_nested(&text(isolating)), "{f}: {:?}", text(isolating));
        }
        assert!(controls > 0, "{f}: the page name carries an override");
    }

    // The index: several open incidents, each with its own update ids.
    let index = Html::parse_document(&read(&s.dir, "index.html"));
    assert_eq!(index.select(&sel("#active-heading ~ article")).count(), 3);
    assert!(index.select(&sel("#i-inc-a-update-2")).next().is_some());
    assert!(index.select(&sel("#i-inc-b-update-1")).next().is_some());
    // Its own page keeps the short anchors the feed links to.
    let own = Html::parse_document(&read(&s.dir, "incidents/inc-a.html"));
    assert!(own.select(&sel("#update-2")).next().is_some());
    let h1 = own.select(&sel("h1 > bdi")).next().unwrap();
    assert_eq!(
        text(h1),
        format!("{RLO_TITLE}\u{202C}"),
        "closed at its end"
    );
    let msg = own
        .select(&sel("#update-1 .msg[dir='auto']"))
        .next()
        .unwrap();
    assert_eq!(
        text(msg),
        "\u{2067}unclosed isolate \u{2069} and \u{202E}override\u{202C}\nnext line & <i>markup</i>"
    );
    // The maintenance page: its component with its status (the database's
    // major outage is worse than its maintenance).
    let mnt = Html::parse_document(&read(&s.dir, "maintenance/mnt-now.html"));
    let state = mnt
        .select(&sel("li.component .state"))
        .next()
        .map(text)
        .unwrap();
    assert!(state.ends_with("Major outage"), "{state}");
    let mnt = Html::parse_document(&read(&s.dir, "maintenance/mnt-done.html"));
    let state = mnt
        .select(&sel("li.component .state"))
        .next()
        .map(text)
        .unwrap();
    assert!(state.ends_with("Operational"), "{state}");
}

#[tokio::test]
async fn subscribe_forms_post_to_the_configured_endpoints_and_exist_only_when_configured() {
    let s = site().await;
    let index = Html::parse_document(&read(&s.dir, "index.html"));
    let forms: Vec<(String, String, String)> = index
        .select(&sel("form"))
        .map(|f| {
            let input = f.select(&sel("input:not([type='hidden'])")).next().unwrap();
            let id = input.value().attr("id").unwrap();
            assert_eq!(
                f.select(&sel(&format!("label[for='{id}']"))).count(),
                1,
                "the field has a label"
            );
            assert_eq!(input.value().attr("required"), Some("required"));
            let page_id = f
                .select(&sel("input[type='hidden'][name='page_id']"))
                .next()
                .unwrap();
            assert_eq!(page_id.value().attr("value"), Some("pg1"));
            (
                f.value().attr("method").unwrap().to_owned(),
                f.value().attr("action").unwrap().to_owned(),
                format!(
                    "{}:{}",
                    input.value().attr("name").unwrap(),
                    input.value().attr("type").unwrap()
                ),
            )
        })
        .collect();
    assert_eq!(
        forms,
        [
            (
                "post".into(),
                "https://example.com/subscribe".into(),
                "email:email".into()
            ),
            (
                "post".into(),
                "https://example.com/subscribe-webhook".into(),
                "url:url".into()
            ),
        ]
    );
    // Only on the index.
    let own = Html::parse_document(&read(&s.dir, "incidents/inc-a.html"));
    assert_eq!(own.select(&sel("form")).count(), 0);

    // Not configured: no form, no heading for one; no logo either.
    let tmp = tempfile::tempdir().unwrap();
    let plain = builder(&tmp.path().join("site"), s.now.date_naive())
        .build()
        .unwrap();
    plain.refresh().await.unwrap();
    let index = Html::parse_document(&read(&plain.served_dir(), "index.html"));
    assert_eq!(index.select(&sel("form")).count(), 0);
    assert!(index.select(&sel("#subscribe-heading")).next().is_none());
    assert!(index.select(&sel("img")).next().is_none());

    // The builder refuses what would make a broken page.
    let b = || builder(tmp.path(), s.now.date_naive());
    for (what, result) in [
        (
            "a relative endpoint",
            b().subscribe_email("/subscribe").build(),
        ),
        (
            "a javascript: endpoint",
            b().subscribe_webhook("javascript:alert(1)").build(),
        ),
        (
            "two e-mail forms",
            b().subscribe_email("https://a.example/")
                .subscribe_email("https://b.example/")
                .build(),
        ),
        (
            "a logo without text",
            b().logo("https://cdn.example.com/l.svg", " ").build(),
        ),
        (
            "a data: logo",
            b().logo("data:image/png;base64,AAAA", "x").build(),
        ),
        (
            "a pale accent",
            b().accent_colours("#9ec5ff", "#c9a8ff").build(),
        ),
        (
            "a dark accent for dark mode",
            b().accent_colours("#0b4fa8", "#0b4fa8").build(),
        ),
        (
            "not a colour",
            b().accent_colours("blue", "#c9a8ff").build(),
        ),
        (
            "a javascript: footer link",
            b().footer_link("x", "javascript:alert(1)").build(),
        ),
        (
            "a footer link without label",
            b().footer_link("", "https://example.com/").build(),
        ),
    ] {
        let err = result.expect_err(what);
        // The error names the setting at fault.
        assert!(
            matches!(
                &err,
                BuildError::InvalidUrl { field: name, .. }
                    | BuildError::InvalidSetting { setting: name, .. }
                    if name.starts_with("status page ")
            ),
            "{what}: {err:?}"
        );
    }
}

#[tokio::test]
async fn uptime_bars_follow_the_recorded_incidents_and_maintenance() {
    let s = site().await;
    let index = Html::parse_document(&read(&s.dir, "index.html"));
    let rows: Vec<ElementRef<'_>> = index.select(&sel("li.component")).collect();
    assert_eq!(rows.len(), 4);
    let bars = |row: ElementRef<'_>| -> Vec<(String, String)> {
        row.select(&sel(".bar"))
            .map(|b| {
                (
                    b.value()
                        .attr("class")
                        .unwrap()
                        .trim_start_matches("bar bar-")
                        .to_owned(),
                    b.value().attr("title").unwrap().to_owned(),
                )
            })
            .collect()
    };
    // The API: 90 days, no data before its start date (40 days ago), the
    // major outage ten days ago (3 h), the maintenance five days ago.
    let api = bars(rows[0]);
    assert_eq!(api.len(), 90);
    assert!(
        api[..49].iter().all(|(l, _)| l == "nodata"),
        "{:?}",
        &api[..52]
    );
    assert_eq!(api[49].0, "operational");
    let (level, title) = &api[89 - 10];
    assert_eq!(level, "major");
    assert!(title.ends_with("Major outage, 3 h down"), "{title}");
    assert_eq!(api[89 - 5].0, "maintenance");
    assert_eq!(
        api.iter()
            .filter(|(l, _)| l != "nodata" && l != "operational")
            .count(),
        2
    );
    let percent = text(rows[0].select(&sel(".scale")).next().unwrap());
    // 3 h down out of a little over 40 days.
    assert!(percent.contains("99.6"), "{percent}");
    let label = rows[0].select(&sel(".bars[role='img']")).next().unwrap();
    assert!(
        label
            .value()
            .attr("aria-label")
            .unwrap()
            .contains("1 day with degraded performance or outages"),
        "{:?}",
        label.value().attr("aria-label")
    );
    // Today: web partial (inc-a), auth degraded (inc-b, not downtime), the
    // database's major outage (inc-c) and maintenance: the worst shows.
    assert_eq!(bars(rows[1]).last().unwrap().0, "degraded");
    assert!(text(rows[1].select(&sel(".scale")).next().unwrap()).contains("100.00 %"));
    assert_eq!(bars(rows[2]).last().unwrap().0, "partial");
    assert_eq!(bars(rows[3]).last().unwrap().0, "major");
    // The database has no start date: it counts from the page's first
    // write, today.
    assert!(bars(rows[3])[..89].iter().all(|(l, _)| l == "nodata"));
    let summary: Value = serde_json::from_str(&read(&s.dir, "api/v2/summary.json")).unwrap();
    let starts: Vec<&str> = summary["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["start_date"].as_str().unwrap())
        .collect();
    let start = (s.now - Duration::days(40)).date_naive().to_string();
    assert_eq!(
        &starts[..3],
        [start.as_str(), start.as_str(), start.as_str()]
    );
}

#[tokio::test]
async fn bidi_controls_are_balanced_in_the_feed_and_the_json() {
    let s = site().await;
    let feed = feed_rs::parser::parse(read(&s.dir, "history.atom").as_bytes()).unwrap();
    let mut hostile = 0;
    for e in &feed.entries {
        let title = &e.title.as_ref().unwrap().content;
        let body = e
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .unwrap_or_default();
        for t in [title.as_str(), body.as_str()] {
            assert!(well_nested(t), "{t:?}");
            if t.chars().any(is_bidi) {
                hostile += 1;
            }
        }
        if title.contains('\u{202E}') {
            // The user's part is isolated: the status label stays first.
            assert!(title.starts_with('['), "{title:?}");
            let user = title.split_once("] ").unwrap().1;
            assert!(
                user.starts_with('\u{2068}') && user.ends_with('\u{2069}'),
                "{title:?}"
            );
        }
    }
    assert!(hostile >= 4, "{hostile}");

    for path in [
        "api/v2/summary.json",
        "api/v2/incidents.json",
        "api/v2/scheduled-maintenances.json",
    ] {
        let raw = read(&s.dir, path);
        let doc: Value = serde_json::from_str(&raw).unwrap();
        let mut strings = Vec::new();
        collect_strings(&doc, &mut strings);
        assert!(strings.iter().any(|t| t.contains('\u{202E}')), "{path}");
        for t in strings {
            assert!(well_nested(&t), "{path}: {t:?}");
        }
    }
    let summary: Value = serde_json::from_str(&read(&s.dir, "api/v2/summary.json")).unwrap();
    let a = summary["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "inc-a")
        .unwrap();
    assert_eq!(
        a["name"],
        format!("{RLO_TITLE}\u{202C}"),
        "exact but for the closer"
    );
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// The path in `name`, or `None` after saying why the check is skipped.
fn tool(name: &str, what: &str) -> Option<PathBuf> {
    match std::env::var_os(name) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => {
            eprintln!(
                "SKIPPED: {name} is not set, so {what} is not checked; ./scripts/test installs it and sets {name}"
            );
            None
        }
    }
}

/// The widget in Node.js with a small DOM: it fetches `summary.json` beside
/// it, shows the status and the open incidents' names, each in its own
/// `<bdi dir="auto">`, and never writes HTML.
#[tokio::test]
async fn the_widget_runs_and_isolates_incident_names() {
    let Some(node) = tool("TIDINGS_TEST_NODE", "the widget in Node.js") else {
        return;
    };
    let s = site().await;
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/widget/run.js");
    let out = Command::new(&node)
        .arg(&harness)
        .arg(s.dir.join("widget.js"))
        .arg(s.dir.join("api/v2/summary.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let banner: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        banner["fetched"],
        "https://status.example.com/api/v2/summary.json"
    );
    assert_eq!(banner["role"], "status");
    assert_eq!(banner["link"]["href"], BASE);
    assert_eq!(banner["link"]["text"], "Major System Outage");
    let names: Vec<&str> = banner["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            assert_eq!(n["tag"], "bdi");
            assert_eq!(n["dir"], "auto");
            n["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names.contains(&format!("{RLO_TITLE}\u{202C}").as_str()),
        "{names:?}"
    );
    assert_eq!(banner["html_written"], false);
}

/// The W3C Nu HTML checker (vnu.jar, from npm) finds no error and no
/// warning on any page, and the style sheet is valid CSS. Its only notes are
/// on the trailing slash of void elements (`<meta ... />`), which the pages
/// keep so that they also parse as XML.
#[tokio::test]
async fn the_nu_html_checker_finds_nothing_on_any_page() {
    let Some(npm) = tool("TIDINGS_TEST_NPM_DIR", "HTML with the W3C Nu checker") else {
        return;
    };
    let jar = npm.join("node_modules/vnu-jar/build/dist/vnu.jar");
    assert!(
        jar.exists(),
        "{} is missing: run ./scripts/test (npm ci of tests/oracle)",
        jar.display()
    );
    let java = std::env::var_os("TIDINGS_TEST_JAVA").unwrap_or_else(|| "java".into());
    let s = site().await;
    let files: Vec<PathBuf> = html_files(&s.dir).iter().map(|f| s.dir.join(f)).collect();
    let out = Command::new(&java)
        .arg("-jar")
        .arg(&jar)
        .args(["--format", "json", "--also-check-css", "--stdout"])
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("run {java:?} (Java 11 or later runs vnu.jar): {e}"));
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("vnu: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    let messages: Vec<&Value> = report["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            !(m["type"] == "info"
                && m.get("subType").is_none()
                && m["message"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Trailing slash on void elements")))
        })
        .collect();
    assert!(
        messages.is_empty(),
        "{}",
        serde_json::to_string_pretty(&messages).unwrap()
    );
    assert!(
        report["messages"].as_array().unwrap().len() >= files.len(),
        "vnu read every page"
    );
}

/// Headless Chromium at 390 px: no element reaches past the screen's right
/// edge, the page does not scroll sideways, no time breaks across lines;
/// dark mode follows the reader's preference.
#[tokio::test]
async fn on_a_phone_nothing_overflows_and_dark_mode_follows_the_reader() {
    let Some(chromium) = tool("TIDINGS_TEST_CHROMIUM", "layout in headless Chromium") else {
        return;
    };
    let s = site().await;
    let probe = r#"<script>
(function () {
  var w = document.documentElement.clientWidth, wide = [], broken = [];
  document.querySelectorAll("body *").forEach(function (e) {
    var r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 0.5 && !e.closest(".skip, .visually-hidden")) { wide.push(e.tagName + "." + e.className + " " + r.right); }
  });
  document.querySelectorAll("time").forEach(function (t) {
    if (t.getClientRects().length > 1) { broken.push(t.textContent); }
  });
  parent.postMessage(JSON.stringify({ width: w, scroll: document.documentElement.scrollWidth, wide: wide, broken: broken,
    background: getComputedStyle(document.body).backgroundColor }), "*");
}());
</script>"#;
    // Headless windows are at least 500 px wide: the page is shown in a
    // frame 390 px wide (its media queries and layout follow the frame),
    // and the frame's probe reports to the shell, which Chromium dumps.
    let frame = |page: &str| {
        format!(
            r#"<!DOCTYPE html><html lang="en"><head><title>probe</title></head><body style="margin:0">
<iframe src="{page}" width="390" height="844" style="border:0"></iframe><pre id="probe"></pre>
<script>window.addEventListener("message", function (e) {{ document.getElementById("probe").textContent = e.data; }});</script>
</body></html>"#
        )
    };
    let shell = tempfile::tempdir().unwrap();
    for f in html_files(&s.dir) {
        // A copy with the probe, next to the original (same relative paths).
        let probed = s.dir.join(format!("{f}.probe.html"));
        let source = read(&s.dir, &f).replace("</body>", &format!("{probe}</body>"));
        let _ = std::fs::remove_file(&probed);
        std::fs::write(&probed, source).unwrap();
        let name = Path::new(&probed)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let shell_page = probed.with_file_name(format!("{name}.frame.html"));
        std::fs::write(&shell_page, frame(&name)).unwrap();
        for dark in [false, true] {
            let mut cmd = Command::new(&chromium);
            cmd.args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--window-size=600,1000",
                "--virtual-time-budget=3000",
            ])
            .arg(format!("--user-data-dir={}", shell.path().display()));
            if dark {
                cmd.arg("--force-dark-mode");
            }
            let out = cmd
                .arg("--dump-dom")
                .arg(format!("file://{}", shell_page.display()))
                .output()
                .unwrap();
            let dom = String::from_utf8_lossy(&out.stdout);
            let doc = Html::parse_document(&dom);
            let probe = doc
                .select(&sel("#probe"))
                .next()
                .map(text)
                .unwrap_or_else(|| {
                    panic!(
                        "{f}: no probe result: {}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                });
            let r: Value = serde_json::from_str(&probe).unwrap();
            let width = r["width"].as_f64().unwrap();
            assert!(
                (300.0..=400.0).contains(&width),
                "{f}: a phone's width, not {width}"
            );
            assert!(
                r["scroll"].as_f64().unwrap() <= width,
                "{f}: scrolls sideways: {r}"
            );
            assert_eq!(
                r["wide"],
                Value::Array(vec![]),
                "{f}: wider than the screen"
            );
            assert_eq!(
                r["broken"],
                Value::Array(vec![]),
                "{f}: times broken across lines"
            );
            let background = if dark {
                "rgb(18, 21, 26)"
            } else {
                "rgb(255, 255, 255)"
            };
            assert_eq!(r["background"], background, "{f} (dark: {dark})");
        }
    }
}
