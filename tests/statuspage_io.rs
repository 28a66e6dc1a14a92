//! Atlassian Statuspage against a real HTTP server on 127.0.0.1: the exact
//! documented requests (create, update, resolve), the duplicate check, the
//! postmortem, and Statuspage's failure answers.
#![cfg(feature = "statuspage-io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;
use tidings::channel::HttpOptions;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::status_page::statuspage_io::{
    MAX_BODY, MAX_NAME, Postmortem, StatuspageIoChannel, StatuspageIoChannelBuilder,
};
use tidings::channel::{ChannelError, MessageRef, RateLimit, Thread};
use tidings::incident::Update;
use tidings::journal::{Failure, LinkSource};
use tidings::prelude::*;
use tidings::render::Templates;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "sp-key-SECRET-5f1b2c3d";
const PAGE: &str = "kctbh9vrtdwd";
const SP_ID: &str = "p31zjtct2jer";
const SHORTLINK: &str = "https://stspg.io/p31zjtct2jer";
const CMP_API: &str = "8kbf7d35c070";
const CMP_DB: &str = "vtnh60py4yd7";

fn incidents() -> String {
    format!("/v1/pages/{PAGE}/incidents")
}

fn incident_path(id: &str) -> String {
    format!("/v1/pages/{PAGE}/incidents/{id}")
}

fn auth() -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("OAuth {KEY}").as_str())
}

/// An Incident as Statuspage answers it (the fields the OpenAPI lists).
fn incident_json(id: &str, status: &str, ours: &str, updates: Value) -> Value {
    json!({
        "id": id,
        "components": [],
        "created_at": "2026-11-25T14:03:00.000Z",
        "impact": "major",
        "impact_override": "major",
        "incident_updates": updates,
        "metadata": {"tidings": {"incident_id": ours}},
        "monitoring_at": null,
        "name": "API errors",
        "page_id": PAGE,
        "postmortem_body": null,
        "resolved_at": null,
        "shortlink": format!("https://stspg.io/{id}"),
        "status": status,
        "updated_at": "2026-11-25T14:03:00.000Z"
    })
}

fn fast() -> RateLimit {
    RateLimit::per_second(NonZeroU32::new(100).unwrap())
}

fn builder(server: &MockServer) -> StatuspageIoChannelBuilder {
    StatuspageIoChannel::builder(KEY, PAGE)
        .base_url(server.uri())
        .component("api", CMP_API)
        .rate(fast())
        .http(HttpOptions::new().timeout(Duration::from_millis(400)))
}

/// Statuspage as the primary, chat (in memory) for the responders.
fn dispatcher(
    page: StatuspageIoChannel,
    chat: Arc<MemoryChannel>,
    retry: RetryPolicy,
) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary("statuspage", Arc::new(page))
        .channel("chat", chat)
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("chat", [target("#incidents")])),
        )
        .retry(retry)
        .build()
        .unwrap()
}

/// A delivery to the page, as the dispatcher builds it for the primary.
fn delivery(inc: &Incident, update: &Update, root: Option<&str>) -> Delivery {
    let incident = Arc::new(inc.without_internal_notes());
    let update = Arc::new(update.public());
    let message = Templates::new()
        .render(&incident, &update, &Audience::Customers, Detail::Public)
        .unwrap();
    let link: url::Url = "https://status.example.com/incidents/inc-7"
        .parse()
        .unwrap();
    Delivery::new(
        "statuspage",
        incident,
        update,
        Audience::Customers,
        Detail::Public,
        target("page"),
        Arc::new(message),
        "text",
        Arc::new(link),
    )
    .with_thread(root.map(|r| Thread {
        root: MessageRef::new(r),
        latest: MessageRef::new(r),
    }))
}

async fn bodies(server: &MockServer) -> Vec<(String, String, Value)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r: &Request| {
            (
                r.method.to_string(),
                r.url.path().to_owned(),
                r.body_json().unwrap_or(Value::Null),
            )
        })
        .collect()
}

#[tokio::test]
async fn creates_then_updates_then_resolves_one_incident_and_everything_links_to_its_shortlink() {
    let server = MockServer::start().await;
    let (inc, first) = incident();
    // `db` has no Statuspage id: it is not sent.
    let mut inc = inc.with_component(
        ComponentId::new("db").unwrap(),
        "Database",
        ComponentStatus::DegradedPerformance,
    );
    // The look-up finds other incidents, none of them ours.
    Mock::given(method("GET"))
        .and(path(format!("{}/unresolved", incidents())))
        .and(auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            incident_json("other1", "investigating", "inc-6", json!([])),
            {"id": "manual1", "name": "Made by hand", "status": "identified", "metadata": {}},
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(incidents()))
        .and(auth())
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"incident": {
            "name": "API errors",
            "status": "investigating",
            "body": "Some API requests fail.",
            "impact_override": "major",
            "components": {CMP_API: "major_outage"},
            "component_ids": [CMP_API],
            "deliver_notifications": true,
            "metadata": {"tidings": {"incident_id": "inc-7"}}
        }})))
        .respond_with(ResponseTemplate::new(201).set_body_json(incident_json(
            SP_ID,
            "investigating",
            "inc-7",
            json!([{"id": "u1", "status": "investigating", "body": "Some API requests fail."}]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(incident_path(SP_ID)))
        .and(auth())
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"incident": {
            "status": "identified",
            "body": "A bad deploy; rolling back.",
            "impact_override": "major",
            "components": {CMP_API: "partial_outage"},
            "deliver_notifications": true
        }})))
        .respond_with(ResponseTemplate::new(200).set_body_json(incident_json(
            SP_ID,
            "identified",
            "inc-7",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(incident_path(SP_ID)))
        .and(auth())
        .and(body_json(json!({"incident": {
            "status": "resolved",
            "body": "Fixed: the deploy is rolled back.",
            "impact_override": "major",
            "components": {CMP_API: "operational"},
            "deliver_notifications": true
        }})))
        .respond_with(ResponseTemplate::new(200).set_body_json(incident_json(
            SP_ID,
            "resolved",
            "inc-7",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;

    let chat = Arc::new(MemoryChannel::new());
    let d = dispatcher(
        builder(&server).build().unwrap(),
        chat.clone(),
        RetryPolicy::never(),
    );
    // Each update is published as soon as it is posted.
    let drafts = [
        UpdateDraft::new(
            Status::Identified,
            t0() + minutes(20),
            "A bad deploy; rolling back.",
        )
        .internal_notes("SECRET-NOTE: release 4411")
        .component(
            ComponentId::new("api").unwrap(),
            ComponentStatus::PartialOutage,
        )
        .next_update_at(t0() + minutes(50)),
        UpdateDraft::new(
            Status::Resolved,
            t0() + minutes(40),
            "Fixed: the deploy is rolled back.",
        )
        .component(
            ComponentId::new("api").unwrap(),
            ComponentStatus::Operational,
        ),
    ];
    let mut updates = vec![first];
    let mut drafts = drafts.into_iter();
    loop {
        let update = updates.last().unwrap().clone();
        let report = d.publish(&inc, &update).await.unwrap();
        assert!(report.all_sent(), "{report:?}");
        assert_eq!(report.link_source, LinkSource::Primary);
        assert_eq!(report.link.as_str(), SHORTLINK);
        let receipt = report.primary.as_ref().unwrap().outcome.receipt().unwrap();
        assert_eq!(receipt.message_ref.as_ref().unwrap().as_str(), SP_ID);
        assert_eq!(receipt.permalink.as_ref().unwrap().as_str(), SHORTLINK);
        let Some(draft) = drafts.next() else { break };
        updates.push(inc.post(draft).unwrap().clone());
    }
    // Publishing the first update again, after the resolution, sends nothing.
    assert_eq!(d.publish(&inc, &updates[0]).await.unwrap().sent_now(), 0);
    let texts = chat.texts();
    assert_eq!(texts.len(), 3);
    for text in &texts {
        assert!(
            text.ends_with(SHORTLINK),
            "every message links to the incident: {text}"
        );
    }
    let requests = bodies(&server).await;
    let order: Vec<&str> = requests.iter().map(|(m, _, _)| m.as_str()).collect();
    assert_eq!(order, ["GET", "POST", "PATCH", "PATCH"]);
    for (_, _, body) in &requests {
        assert!(
            !body.to_string().contains("SECRET-NOTE"),
            "internal notes stay internal"
        );
    }
    for r in server.received_requests().await.unwrap() {
        assert!(r.url.query().is_none(), "the key is never in the URL");
    }
}

#[tokio::test]
async fn component_statuses_follow_the_configured_mapping() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(incidents()))
        .and(body_json(json!({"incident": {
            "name": "Slow everything",
            "status": "identified",
            "body": "Databases are slow; the API is partly down.",
            "impact_override": "critical",
            "components": {CMP_API: "partial_outage", CMP_DB: "degraded_performance"},
            "component_ids": [CMP_API, CMP_DB],
            "deliver_notifications": false,
            "metadata": {"tidings": {"incident_id": "inc-9"}}
        }})))
        .respond_with(ResponseTemplate::new(201).set_body_json(incident_json(
            "newinc1",
            "identified",
            "inc-9",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(incident_path("newinc1")))
        .and(body_json(json!({"incident": {
            "status": "monitoring",
            "body": "The database is back; watching.",
            "impact_override": "critical",
            "components": {CMP_API: "partial_outage", CMP_DB: "operational"},
            "deliver_notifications": false
        }})))
        .respond_with(ResponseTemplate::new(200).set_body_json(incident_json(
            "newinc1",
            "monitoring",
            "inc-9",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let channel = builder(&server)
        .component("db", CMP_DB)
        .deliver_notifications(false)
        .build()
        .unwrap();
    let mut inc = Incident::new(
        IncidentId::new("inc-9").unwrap(),
        "Slow everything",
        Impact::Critical,
        t0(),
    )
    .unwrap()
    .with_component(
        ComponentId::new("api").unwrap(),
        "API",
        ComponentStatus::PartialOutage,
    )
    .with_component(
        ComponentId::new("db").unwrap(),
        "Database",
        ComponentStatus::DegradedPerformance,
    )
    .with_component(
        ComponentId::new("cdn").unwrap(),
        "CDN",
        ComponentStatus::Operational,
    );
    let first = inc
        .post(
            UpdateDraft::new(
                Status::Identified,
                t0() + minutes(2),
                "Databases are slow; the API is partly down.",
            )
            .next_update_at(t0() + minutes(30)),
        )
        .unwrap()
        .clone();
    let receipt = channel.send(&delivery(&inc, &first, None)).await.unwrap();
    assert_eq!(receipt.message_ref.unwrap().as_str(), "newinc1");
    assert_eq!(receipt.status, Some(201));
    let second = inc
        .post(
            UpdateDraft::new(
                Status::Monitoring,
                t0() + minutes(20),
                "The database is back; watching.",
            )
            .component(
                ComponentId::new("db").unwrap(),
                ComponentStatus::Operational,
            )
            .next_update_at(t0() + minutes(50)),
        )
        .unwrap()
        .clone();
    let receipt = channel
        .send(&delivery(&inc, &second, Some("newinc1")))
        .await
        .unwrap();
    assert_eq!(receipt.message_ref.unwrap().as_str(), "newinc1");
    assert_eq!(
        receipt.permalink.unwrap().as_str(),
        "https://stspg.io/newinc1"
    );
    assert_eq!(receipt.status, Some(200));
}

/// A create whose answer is lost (a timeout) did create the incident: the
/// retry finds it by its metadata and does not create a second one.
#[tokio::test]
async fn a_retried_first_contact_finds_the_incident_its_lost_answer_created() {
    let server = MockServer::start().await;
    let (inc, first) = incident();
    // Attempt 1: nothing yet; the create is applied but answered too late.
    Mock::given(method("GET"))
        .and(path(format!("{}/unresolved", incidents())))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(incidents()))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(incident_json(SP_ID, "investigating", "inc-7", json!([])))
                .set_delay(Duration::from_secs(2)),
        )
        .expect(1)
        .mount(&server)
        .await;
    // Attempt 2: the incident is there, with the first update already posted.
    Mock::given(method("GET"))
        .and(path(format!("{}/unresolved", incidents())))
        .and(auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            incident_json("other1", "identified", "inc-70", json!([])),
            incident_json(
                SP_ID,
                "investigating",
                "inc-7",
                json!([{"id": "u1", "status": "investigating", "body": "Some API requests fail."}]),
            ),
        ])))
        .with_priority(5)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let chat = Arc::new(MemoryChannel::new());
    let retry = RetryPolicy::default()
        .max_attempts(2)
        .backoff(Duration::from_millis(10), Duration::from_millis(10));
    let d = dispatcher(builder(&server).build().unwrap(), chat.clone(), retry);
    let report = d.publish(&inc, &first).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    let primary = report.primary.as_ref().unwrap();
    assert_eq!(primary.attempts, 2);
    let receipt = primary.outcome.receipt().unwrap();
    assert_eq!(receipt.message_ref.as_ref().unwrap().as_str(), SP_ID);
    assert_eq!(report.link.as_str(), SHORTLINK);
    assert!(chat.texts()[0].ends_with(SHORTLINK));
}

/// The found incident lacks this update (the lost request was an earlier
/// one): the update is posted to it with `PATCH`, not created again.
#[tokio::test]
async fn an_earlier_incident_of_ours_is_updated_instead_of_created() {
    let server = MockServer::start().await;
    let (inc, first) = incident();
    Mock::given(method("GET"))
        .and(path(format!("{}/unresolved", incidents())))
        .and(auth())
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([incident_json(
                "earlier1",
                "investigating",
                "inc-7",
                json!([{"id": "u0", "status": "investigating", "body": "Something else."}]),
            )])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(incident_path("earlier1")))
        .and(auth())
        .and(body_json(json!({"incident": {
            "status": "investigating",
            "body": "Some API requests fail.",
            "impact_override": "major",
            "components": {CMP_API: "major_outage"},
            "deliver_notifications": true
        }})))
        .respond_with(ResponseTemplate::new(200).set_body_json(incident_json(
            "earlier1",
            "investigating",
            "inc-7",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let channel = builder(&server).build().unwrap();
    let receipt = channel.send(&delivery(&inc, &first, None)).await.unwrap();
    assert_eq!(receipt.message_ref.unwrap().as_str(), "earlier1");
    assert_eq!(
        receipt.permalink.unwrap().as_str(),
        "https://stspg.io/earlier1"
    );
}

#[tokio::test]
async fn rate_limits_420_and_429_honour_retry_after() {
    for code in [420, 429] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(code)
                    .insert_header("Retry-After", "7")
                    .set_body_json(json!({"error": "Rate limit exceeded"})),
            )
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .respond_with(ResponseTemplate::new(code).insert_header("Retry-After", "60"))
            .mount(&server)
            .await;
        let channel = builder(&server).build().unwrap();
        let (mut inc, first) = incident();
        let err = channel
            .send(&delivery(&inc, &first, None))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ChannelError::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            },
            "{code}"
        );
        let second = post(&mut inc, Status::Identified, 10, "Found it.");
        let err = channel
            .send(&delivery(&inc, &second, Some(SP_ID)))
            .await
            .unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(60)), "{code}");
        assert!(err.is_retryable());
    }

    // A rate-limited look-up stops the first contact before any create.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(420).insert_header("Retry-After", "30"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount(&server)
        .await;
    let (inc, first) = incident();
    let err = builder(&server)
        .build()
        .unwrap()
        .send(&delivery(&inc, &first, None))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ChannelError::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        }
    );
}

#[tokio::test]
async fn the_dispatcher_waits_out_a_rate_limit_and_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(incident_json(
            SP_ID,
            "investigating",
            "inc-7",
            json!([]),
        )))
        .with_priority(5)
        .expect(1)
        .mount(&server)
        .await;
    let chat = Arc::new(MemoryChannel::new());
    let retry = RetryPolicy::default()
        .max_attempts(3)
        .backoff(Duration::from_millis(10), Duration::from_millis(10));
    let d = dispatcher(builder(&server).build().unwrap(), chat, retry);
    let (inc, first) = incident();
    let started = std::time::Instant::now();
    let report = d.publish(&inc, &first).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    assert_eq!(report.primary.as_ref().unwrap().attempts, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(report.link.as_str(), SHORTLINK);
}

#[tokio::test]
async fn failures_map_to_what_to_do_next_without_the_key() {
    let cases: Vec<(ResponseTemplate, &str, Option<&str>)> = vec![
        (
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": format!("Invalid key {KEY}")})),
            "config",
            None,
        ),
        (
            ResponseTemplate::new(422).set_body_json(json!({"message": "Name can't be blank"})),
            "rejected",
            Some("Statuspage answered 422: Name can't be blank"),
        ),
        (
            ResponseTemplate::new(422)
                .set_body_json(json!({"message": format!("api key {KEY} may not\n\u{7}do that")})),
            "rejected",
            Some("Statuspage answered 422: api key <redacted> may not do that"),
        ),
        (
            ResponseTemplate::new(400).set_body_json(json!({"error": "incident is missing"})),
            "rejected",
            Some("Statuspage answered 400: incident is missing"),
        ),
        (
            ResponseTemplate::new(500).set_body_string("<html>oops</html>"),
            "transient",
            None,
        ),
        (
            ResponseTemplate::new(503).insert_header("Retry-After", "5"),
            "transient",
            None,
        ),
        (
            // Created, but the answer is not Statuspage's JSON: retry (the
            // look-up then finds the incident).
            ResponseTemplate::new(201).set_body_string("<html>proxy</html>"),
            "transient",
            None,
        ),
        (
            ResponseTemplate::new(201).set_delay(Duration::from_secs(2)),
            "timeout",
            None,
        ),
    ];
    for (response, kind, reason) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(response)
            .mount(&server)
            .await;
        let channel = builder(&server).build().unwrap();
        let (inc, first) = incident();
        let err = channel
            .send(&delivery(&inc, &first, None))
            .await
            .unwrap_err();
        assert_eq!(err.kind().as_str(), kind, "{err}");
        if let Some(reason) = reason {
            assert_eq!(
                err,
                ChannelError::Rejected {
                    reason: reason.into(),
                    status: err.status()
                }
            );
        }
        if kind == "timeout" {
            assert_eq!(
                err,
                ChannelError::Timeout {
                    after: Duration::from_millis(400)
                }
            );
        }
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(KEY), "the key leaks: {shown}");
        }
    }

    // 404 on an update: the incident is gone (deleted by hand); not retried.
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(incident_path("gone1")))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error": "Record not found"})),
        )
        .mount(&server)
        .await;
    let (mut inc, _) = incident();
    let second = post(&mut inc, Status::Identified, 10, "Found it.");
    let err = builder(&server)
        .build()
        .unwrap()
        .send(&delivery(&inc, &second, Some("gone1")))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ChannelError::Rejected {
            reason: "Statuspage answered 404: Record not found".into(),
            status: Some(404)
        }
    );
}

#[tokio::test]
async fn a_failed_page_still_fans_out_with_the_canonical_link() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "Unauthorized"})))
        .mount(&server)
        .await;
    let chat = Arc::new(MemoryChannel::new());
    let d = dispatcher(
        builder(&server).build().unwrap(),
        chat.clone(),
        RetryPolicy::never(),
    );
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();
    let Some(primary) = &report.primary else {
        panic!("no primary report")
    };
    assert!(matches!(
        &primary.outcome,
        Outcome::Failed(Failure::Channel(ChannelError::Config { .. }))
    ));
    assert!(matches!(report.link_source, LinkSource::Canonical { .. }));
    assert!(chat.texts()[0].ends_with("https://status.example.com/incidents/inc-7"));
    let shown = format!("{report:?}");
    assert!(!shown.contains(KEY));
}

#[tokio::test]
async fn the_key_is_never_in_debug_output() {
    let server = MockServer::start().await;
    let b = builder(&server).page_url("https://status.example.com");
    assert!(!format!("{b:?}").contains(KEY));
    let channel = b.build().unwrap();
    let shown = format!("{channel:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains(PAGE) && shown.contains(CMP_API), "{shown}");
    let err = StatuspageIoChannel::builder(format!("{KEY}\n"), PAGE)
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains(KEY), "{err}");
}

#[tokio::test]
async fn the_postmortem_is_skipped_by_default_and_still_links_to_the_incident() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{}/unresolved", incidents())))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(incident_json(
            SP_ID,
            "investigating",
            "inc-7",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(body_json(json!({"incident": {
            "status": "resolved",
            "body": "Fixed.",
            "impact_override": "major",
            "components": {CMP_API: "major_outage"},
            "deliver_notifications": true
        }})))
        .respond_with(ResponseTemplate::new(200).set_body_json(incident_json(
            SP_ID,
            "resolved",
            "inc-7",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    // The postmortem only reads the incident, for its shortlink.
    Mock::given(method("GET"))
        .and(path(incident_path(SP_ID)))
        .and(auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(incident_json(
            SP_ID,
            "resolved",
            "inc-7",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let chat = Arc::new(MemoryChannel::new());
    let d = dispatcher(
        builder(&server).build().unwrap(),
        chat.clone(),
        RetryPolicy::never(),
    );
    let (mut inc, first) = incident();
    d.publish(&inc, &first).await.unwrap();
    let resolved = post(&mut inc, Status::Resolved, 30, "Fixed.");
    d.publish(&inc, &resolved).await.unwrap();
    let pm = post(
        &mut inc,
        Status::Postmortem,
        600,
        "What happened, and what we change.",
    );
    let report = d.publish(&inc, &pm).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    assert_eq!(report.link.as_str(), SHORTLINK);
    assert!(chat.texts()[2].ends_with(SHORTLINK));
    let methods: Vec<String> = bodies(&server)
        .await
        .into_iter()
        .map(|(m, _, _)| m)
        .collect();
    assert_eq!(methods, ["GET", "POST", "PATCH", "GET"]);
}

#[tokio::test]
async fn the_postmortem_can_be_posted_as_a_resolved_update() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(incident_path(SP_ID)))
        .and(auth())
        .and(body_json(json!({"incident": {
            "status": "resolved",
            "body": "What happened, and what we change.",
            "impact_override": "major",
            "components": {CMP_API: "major_outage"},
            "deliver_notifications": true
        }})))
        .respond_with(ResponseTemplate::new(200).set_body_json(incident_json(
            SP_ID,
            "resolved",
            "inc-7",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let channel = builder(&server)
        .postmortem(Postmortem::AsUpdate)
        .build()
        .unwrap();
    let (mut inc, _) = incident();
    post(&mut inc, Status::Resolved, 30, "Fixed.");
    let pm = post(
        &mut inc,
        Status::Postmortem,
        600,
        "What happened, and what we change.",
    );
    let receipt = channel
        .send(&delivery(&inc, &pm, Some(SP_ID)))
        .await
        .unwrap();
    assert_eq!(receipt.permalink.unwrap().as_str(), SHORTLINK);
    // A postmortem of an incident never created on Statuspage: nothing to do.
    let receipt = channel.send(&delivery(&inc, &pm, None)).await.unwrap();
    assert!(receipt.message_ref.is_none() && receipt.permalink.is_none());
}

#[tokio::test]
async fn long_titles_and_bodies_are_cut_to_statuspage_limits() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(incident_json(
            SP_ID,
            "investigating",
            "inc-long",
            json!([]),
        )))
        .mount(&server)
        .await;
    let title = format!("{} 👩‍👩‍👧 tail", "Ünïcödé ".repeat(40));
    let mut inc = Incident::new(
        IncidentId::new("inc-long").unwrap(),
        &title,
        Impact::Minor,
        t0(),
    )
    .unwrap();
    let body = "Ünïcödé ✓ e\u{301} 👩‍👩‍👧 <b>&amp;</b> ".repeat(2_000);
    let first = inc
        .post(
            UpdateDraft::new(Status::Investigating, t0(), &body).next_update_at(t0() + minutes(30)),
        )
        .unwrap()
        .clone();
    builder(&server)
        .build()
        .unwrap()
        .send(&delivery(&inc, &first, None))
        .await
        .unwrap();
    let (_, _, sent) = bodies(&server).await.pop().unwrap();
    let name = sent["incident"]["name"].as_str().unwrap();
    let text = sent["incident"]["body"].as_str().unwrap();
    assert!(
        name.chars().count() <= MAX_NAME && name.ends_with('…'),
        "{name}"
    );
    assert!(title.starts_with(name.trim_end_matches('…')));
    assert!(text.chars().count() <= MAX_BODY && text.ends_with('…'));
    assert!(body.starts_with(text.trim_end_matches('…')));
    assert_eq!(sent["incident"]["impact_override"], "minor");
    assert!(
        sent["incident"].get("components").is_none(),
        "no components, no field"
    );
}

#[tokio::test]
async fn without_a_shortlink_the_permalink_is_the_page_url() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": SP_ID, "status": "investigating"})),
        )
        .mount(&server)
        .await;
    let (inc, first) = incident();
    let with_page = builder(&server)
        .page_url("https://status.example.com")
        .build()
        .unwrap();
    let receipt = with_page.send(&delivery(&inc, &first, None)).await.unwrap();
    assert_eq!(
        receipt.permalink.unwrap().as_str(),
        format!("https://status.example.com/incidents/{SP_ID}")
    );
    // Without a page URL there is no permalink: the dispatcher links to its
    // canonical URL and says why.
    let chat = Arc::new(MemoryChannel::new());
    let d = dispatcher(
        builder(&server).build().unwrap(),
        chat.clone(),
        RetryPolicy::never(),
    );
    let report = d.publish(&inc, &first).await.unwrap();
    assert!(report.all_sent());
    assert!(matches!(report.link_source, LinkSource::Canonical { .. }));
    assert!(chat.texts()[0].ends_with("https://status.example.com/incidents/inc-7"));
}

#[tokio::test]
async fn a_maintenance_is_a_scheduled_incident_and_its_reminder_changes_nothing() {
    let server = MockServer::start().await;
    let t0 = t0();
    let hours = chrono::Duration::hours;
    let mut m = maintenance("mnt-2", t0, t0 + hours(72), 2);
    // The duplicate check reads the scheduled incidents and the active
    // maintenances, not the unresolved.
    for list in ["scheduled", "active_maintenance"] {
        Mock::given(method("GET"))
            .and(path(format!("{}/{list}", incidents())))
            .and(auth())
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!([incident_json(
                    "other",
                    "scheduled",
                    "mnt-1",
                    json!([])
                ),])),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    // Scheduled: components listed but not yet under maintenance.
    Mock::given(method("POST"))
        .and(path(incidents()))
        .and(auth())
        .and(body_json(json!({"incident": {
            "name": "Database upgrade",
            "status": "scheduled",
            "body": "The API will be read-only.",
            "impact_override": "maintenance",
            "component_ids": [CMP_API],
            "deliver_notifications": true,
            "metadata": {"tidings": {"incident_id": "mnt-2"}},
            "scheduled_for": "2026-11-28T14:00:00Z",
            "scheduled_until": "2026-11-28T16:00:00Z",
            "scheduled_remind_prior": true,
            "scheduled_auto_in_progress": true,
            "scheduled_auto_completed": false,
            "auto_transition_to_maintenance_state": true,
            "auto_transition_to_operational_state": false,
            "auto_transition_deliver_notifications_at_start": true,
            "auto_transition_deliver_notifications_at_end": true
        }})))
        .respond_with(ResponseTemplate::new(201).set_body_json(incident_json(
            SP_ID,
            "scheduled",
            "mnt-2",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    // The reminder only reads the incident for its shortlink.
    Mock::given(method("GET"))
        .and(path(incident_path(SP_ID)))
        .and(auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(incident_json(
            SP_ID,
            "scheduled",
            "mnt-2",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    // Under way: the components' statuses are sent.
    Mock::given(method("PATCH"))
        .and(path(incident_path(SP_ID)))
        .and(auth())
        .and(body_json(json!({"incident": {
            "status": "in_progress",
            "body": "Started.",
            "impact_override": "maintenance",
            "components": {CMP_API: "under_maintenance"},
            "deliver_notifications": true
        }})))
        .respond_with(ResponseTemplate::new(200).set_body_json(incident_json(
            SP_ID,
            "in_progress",
            "mnt-2",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;

    // Completed: the components are given back.
    Mock::given(method("PATCH"))
        .and(path(incident_path(SP_ID)))
        .and(auth())
        .and(body_json(json!({"incident": {
            "status": "completed",
            "body": "Done.",
            "impact_override": "maintenance",
            "components": {CMP_API: "operational"},
            "deliver_notifications": true
        }})))
        .respond_with(ResponseTemplate::new(200).set_body_json(incident_json(
            SP_ID,
            "completed",
            "mnt-2",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;

    let chat = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder(CANONICAL)
        .primary("statuspage", Arc::new(builder(&server).build().unwrap()))
        .channel("chat", chat.clone())
        .audience(
            AudiencePolicy::new(Audience::Customers).route(Route::new("chat", [target("#status")])),
        )
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let announcement = m
        .post(UpdateDraft::new(
            Status::Scheduled,
            t0,
            "The API will be read-only.",
        ))
        .unwrap()
        .clone();
    let report = d.publish(&m, &announcement).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    assert_eq!(report.link.as_str(), SHORTLINK);
    let reminders = d
        .send_maintenance_reminders(&mut m, t0 + hours(71))
        .await
        .unwrap();
    assert_eq!(reminders.len(), 1);
    assert!(reminders[0].all_sent(), "{:?}", reminders[0]);
    assert_eq!(reminders[0].link.as_str(), SHORTLINK);
    assert!(chat.texts()[1].ends_with(SHORTLINK));
    let started = m
        .post(UpdateDraft::new(
            Status::InProgress,
            t0 + hours(72),
            "Started.",
        ))
        .unwrap()
        .clone();
    assert!(d.publish(&m, &started).await.unwrap().all_sent());
    let done = m
        .post(UpdateDraft::new(Status::Completed, t0 + hours(73), "Done."))
        .unwrap()
        .clone();
    assert!(d.publish(&m, &done).await.unwrap().all_sent());
    let methods: Vec<String> = bodies(&server).await.into_iter().map(|b| b.0).collect();
    assert_eq!(methods, ["GET", "GET", "POST", "GET", "PATCH", "PATCH"]);
}

#[tokio::test]
async fn a_retried_maintenance_announcement_finds_the_one_already_under_way() {
    let server = MockServer::start().await;
    let t0 = t0();
    let hours = chrono::Duration::hours;
    let mut m = maintenance("mnt-2", t0, t0 - hours(1), 2);
    Mock::given(method("GET"))
        .and(path(format!("{}/scheduled", incidents())))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{}/active_maintenance", incidents())))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([incident_json(
                SP_ID,
                "in_progress",
                "mnt-2",
                json!([{"status": "in_progress", "body": "Under way."}]),
            )])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let update = m
        .post(UpdateDraft::new(Status::InProgress, t0, "Under way."))
        .unwrap()
        .clone();
    let page = builder(&server).build().unwrap();
    let receipt = page.send(&delivery(&m, &update, None)).await.unwrap();
    assert_eq!(receipt.message_ref, Some(MessageRef::new(SP_ID)));
    assert_eq!(receipt.permalink.unwrap().as_str(), SHORTLINK);
}

#[tokio::test]
async fn a_maintenance_put_off_after_its_start_gives_its_components_back() {
    let server = MockServer::start().await;
    let t0 = t0();
    let hours = chrono::Duration::hours;
    let mut m = maintenance("mnt-2", t0 - hours(24), t0, 2);
    m.post(UpdateDraft::new(
        Status::Scheduled,
        t0 - hours(24),
        "Planned.",
    ))
    .unwrap();
    // After the start (Statuspage may have moved it in progress by itself),
    // the team puts it off.
    let delayed = m
        .post(
            UpdateDraft::new(Status::Scheduled, t0 + hours(1), "Delayed to tomorrow.")
                .next_update_at(t0 + hours(3)),
        )
        .unwrap()
        .clone();
    Mock::given(method("PATCH"))
        .and(path(incident_path(SP_ID)))
        .and(body_json(json!({"incident": {
            "status": "scheduled",
            "body": "Delayed to tomorrow.",
            "impact_override": "maintenance",
            "components": {CMP_API: "operational"},
            "deliver_notifications": true
        }})))
        .respond_with(ResponseTemplate::new(200).set_body_json(incident_json(
            SP_ID,
            "scheduled",
            "mnt-2",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let page = builder(&server).build().unwrap();
    page.send(&delivery(&m, &delayed, Some(SP_ID)))
        .await
        .unwrap();
}
