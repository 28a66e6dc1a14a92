//! The signed webhook against a real HTTP server on 127.0.0.1: the exact
//! request, and the receiver's real failure answers.
#![cfg(feature = "webhook")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use support::*;
use tidings::channel::BuildError;
use tidings::channel::HttpOptions;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::webhook::{self, WebhookChannel, WebhookSecret};
use tidings::channel::{Channel, ChannelError, IdempotencyKey};
use tidings::journal::Failure;
use tidings::prelude::*;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PERMALINK: &str = "https://status.example.com/incidents/inc-7";

/// Matches only requests whose Standard Webhooks signature verifies.
struct Signed;

impl Match for Signed {
    fn matches(&self, request: &Request) -> bool {
        let secret: WebhookSecret = SECRET.parse().unwrap();
        webhook::verify_headers(&secret, &request.headers, &request.body).is_ok()
    }
}

fn channel(server: &MockServer) -> WebhookChannel {
    WebhookChannel::builder()
        .endpoint("bridge", format!("{}/hooks/tidings", server.uri()), SECRET)
        .http(HttpOptions::new().timeout(Duration::from_millis(500)))
        .build()
        .unwrap()
}

fn dispatcher(server: &MockServer, policy: AudiencePolicy) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("hooks", Arc::new(channel(server)))
        .audience(policy)
        .retry(RetryPolicy::default().backoff(Duration::from_millis(10), Duration::from_millis(50)))
        .build()
        .unwrap()
}

fn customers() -> AudiencePolicy {
    AudiencePolicy::new(Audience::Customers).route(Route::new("hooks", [target("bridge")]))
}

#[tokio::test]
async fn posts_the_documented_body_signed_with_the_idempotency_key() {
    let server = MockServer::start().await;
    let (inc, first) = incident();
    let key = IdempotencyKey::derive(inc.id(), 1, "hooks", &target("bridge"), 1);
    let expected = json!({
        "type": "incident.first_contact",
        "timestamp": "2026-11-25T14:03:00Z",
        "data": {
            "idempotency_key": key.as_str(),
            "incident": {
                "id": "inc-7",
                "title": "API errors",
                "impact": "major",
                "status": "investigating",
                "started_at": "2026-11-25T14:00:00Z",
                "components": [{"id": "api", "name": "API", "status": "major_outage"}]
            },
            "update": {
                "seq": 1,
                "status": "investigating",
                "at": "2026-11-25T14:03:00Z",
                "message": "Some API requests fail.",
                "next_update_at": "2026-11-25T14:33:00Z"
            },
            "audience": "customers",
            "detail": "public",
            "target": "bridge",
            "link": PERMALINK,
            "text": format!(
                "[Investigating] API errors\n\nSome API requests fail.\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:33 UTC.\n{PERMALINK}"
            ),
            "part": {"index": 1, "count": 1}
        }
    });
    Mock::given(method("POST"))
        .and(path("/hooks/tidings"))
        .and(header("content-type", "application/json"))
        .and(header("webhook-id", key.as_str()))
        .and(Signed)
        .and(body_json(&expected))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let report = dispatcher(&server, customers())
        .publish(&inc, &first)
        .await
        .unwrap();
    assert!(report.all_sent(), "{report:?}");
    let receipt = report.deliveries[0].outcome.receipt().unwrap();
    assert_eq!(receipt.status, Some(204));

    let request = &server.received_requests().await.unwrap()[0];
    let ts: u64 = request.headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(ts) <= 5, "timestamp is the attempt's time");
    let sig = request.headers["webhook-signature"].to_str().unwrap();
    assert!(sig.starts_with("v1,"));
    assert!(!String::from_utf8_lossy(&request.body).contains("SECRET-NOTE"));
}

#[tokio::test]
async fn inner_rings_get_internal_notes_in_the_payload() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let (inc, first) = incident();
    let core = AudiencePolicy::new(Audience::CoreResponders)
        .route(Route::new("hooks", [target("bridge")]));
    dispatcher(&server, core)
        .publish(&inc, &first)
        .await
        .unwrap();
    let body: serde_json::Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert_eq!(body["data"]["detail"], "internal");
    assert_eq!(
        body["data"]["update"]["internal_notes"],
        "SECRET-NOTE: db primary at 100% CPU"
    );
    assert!(
        body["data"]["text"]
            .as_str()
            .unwrap()
            .contains("SECRET-NOTE")
    );
}

#[tokio::test]
async fn a_429_then_success_is_retried_after_the_delay_with_the_same_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(Signed)
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let (inc, first) = incident();
    let d = dispatcher(&server, customers());
    let started = std::time::Instant::now();
    let report = d.publish(&inc, &first).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    assert_eq!(report.deliveries[0].attempts, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].headers["webhook-id"],
        requests[1].headers["webhook-id"]
    );
    assert_eq!(
        requests[0].body, requests[1].body,
        "the same bytes are signed and sent again"
    );
    // Publishing again sends nothing new.
    d.publish(&inc, &first).await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

async fn send_once(server: &MockServer, response: ResponseTemplate) -> ChannelError {
    Mock::given(method("POST"))
        .and(path("/hooks/tidings"))
        .respond_with(response)
        .mount(server)
        .await;
    let ch = channel(server);
    let (inc, first) = incident();
    let d = one_delivery(inc, first);
    ch.send(&d).await.unwrap_err()
}

fn one_delivery(inc: Incident, update: tidings::incident::Update) -> Delivery {
    let msg = tidings::render::Templates::new()
        .render(&inc, &update, &Audience::Customers, Detail::Public)
        .unwrap();
    Delivery::new(
        "hooks",
        Arc::new(inc),
        Arc::new(update),
        Audience::Customers,
        Detail::Public,
        target("bridge"),
        Arc::new(msg),
        format!("text {PERMALINK}"),
        Arc::new(PERMALINK.parse().unwrap()),
    )
}

#[tokio::test]
async fn receivers_answers_map_to_what_to_do_next() {
    let in_90s = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(90));
    let err = send_once(
        &MockServer::start().await,
        ResponseTemplate::new(429).insert_header("Retry-After", in_90s.as_str()),
    )
    .await;
    let after = err.retry_after().unwrap();
    assert!(matches!(err, ChannelError::RateLimited { .. }));
    assert!(
        after > Duration::from_secs(85) && after <= Duration::from_secs(90),
        "{after:?}"
    );

    let err = send_once(
        &MockServer::start().await,
        ResponseTemplate::new(503).insert_header("Retry-After", "5"),
    )
    .await;
    assert!(
        matches!(err, ChannelError::Transient { status: Some(503), retry_after: Some(d), .. } if d == Duration::from_secs(5))
    );

    for status in [500, 502, 504, 408] {
        let err = send_once(&MockServer::start().await, ResponseTemplate::new(status)).await;
        assert!(err.is_retryable(), "{status}: {err}");
    }

    let err = send_once(
        &MockServer::start().await,
        ResponseTemplate::new(410).set_body_string("gone"),
    )
    .await;
    assert!(
        matches!(
            err,
            ChannelError::Rejected {
                status: Some(410),
                ..
            }
        ) && err.to_string().contains("disable")
    );

    for status in [400, 401, 403, 404, 413, 422] {
        let err = send_once(&MockServer::start().await, ResponseTemplate::new(status)).await;
        assert!(!err.is_retryable(), "{status}: {err}");
        assert_eq!(err.status(), Some(status));
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let location = format!("{}/elsewhere", server.uri());
    let err = send_once(
        &server,
        ResponseTemplate::new(307).insert_header("Location", location.as_str()),
    )
    .await;
    assert!(
        matches!(
            err,
            ChannelError::Rejected {
                status: Some(307),
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn connection_failures_and_timeouts_are_transient_and_leak_no_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let ch = WebhookChannel::builder()
        .endpoint(
            "bridge",
            format!("http://127.0.0.1:{port}/hooks/s3cr3t"),
            SECRET,
        )
        .build()
        .unwrap();
    let (inc, first) = incident();
    let err = ch.send(&one_delivery(inc, first)).await.unwrap_err();
    assert!(matches!(err, ChannelError::Transient { .. }), "{err}");
    assert!(!err.to_string().contains("s3cr3t") && !format!("{err:?}").contains("s3cr3t"));

    let server = MockServer::start().await;
    let err = send_once(
        &server,
        ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
    )
    .await;
    assert_eq!(
        err,
        ChannelError::Timeout {
            after: Duration::from_millis(500)
        }
    );
}

#[tokio::test]
async fn a_failing_webhook_is_reported_not_dropped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let (inc, first) = incident();
    let report = dispatcher(&server, customers())
        .publish(&inc, &first)
        .await
        .unwrap();
    let (d, failure) = report.failures().next().unwrap();
    assert_eq!(d.attempts, 1);
    assert!(matches!(
        failure,
        Failure::Channel(ChannelError::Rejected {
            status: Some(401),
            ..
        })
    ));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_gone_endpoint_is_disabled() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(410))
        .expect(1)
        .mount(&server)
        .await;
    let ch = channel(&server);
    let (inc, first) = incident();
    let d = one_delivery(inc, first);
    let first_err = ch.send(&d).await.unwrap_err();
    let second_err = ch.send(&d).await.unwrap_err();
    for err in [first_err, second_err] {
        assert!(
            matches!(
                err,
                ChannelError::Rejected {
                    status: Some(410),
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_shared_client_that_follows_redirects_is_still_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let location = format!("{}/elsewhere", server.uri());
    Mock::given(path("/hooks/tidings"))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", location.as_str()))
        .mount(&server)
        .await;
    // A client of the caller's own: reqwest needs a TLS crypto provider,
    // installed for the process here.
    install_crypto_provider();
    let ch = WebhookChannel::builder()
        .endpoint("bridge", format!("{}/hooks/tidings", server.uri()), SECRET)
        .http(HttpOptions::new().client(reqwest::Client::new()))
        .build()
        .unwrap();
    let (inc, first) = incident();
    let err = ch.send(&one_delivery(inc, first)).await.unwrap_err();
    assert!(
        matches!(err, ChannelError::Rejected { .. }) && err.to_string().contains("redirect"),
        "{err}"
    );
}

#[tokio::test]
async fn maintenance_events_carry_their_type_and_window() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/tidings"))
        .and(Signed)
        .respond_with(ResponseTemplate::new(200))
        .expect(2)
        .mount(&server)
        .await;
    let t0 = t0();
    let hours = chrono::Duration::hours;
    let mut m = maintenance("mnt-1", t0, t0 + hours(72), 2);
    let d = dispatcher(&server, customers());
    let announcement = m
        .post(UpdateDraft::new(
            Status::Scheduled,
            t0,
            "Read-only for two hours.",
        ))
        .unwrap()
        .clone();
    assert!(d.publish(&m, &announcement).await.unwrap().all_sent());
    let reminders = d
        .send_maintenance_reminders(&mut m, t0 + hours(71))
        .await
        .unwrap();
    assert!(reminders[0].all_sent());
    let bodies: Vec<serde_json::Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.body_json().unwrap())
        .collect();
    assert_eq!(bodies[0]["type"], "maintenance.announcement");
    assert_eq!(bodies[1]["type"], "maintenance.reminder");
    for body in &bodies {
        let incident = &body["data"]["incident"];
        assert_eq!(incident["status"], "scheduled");
        assert_eq!(incident["scheduled_for"], "2026-11-28T14:00:00Z");
        assert_eq!(incident["scheduled_until"], "2026-11-28T16:00:00Z");
        assert_eq!(
            body["data"]["link"],
            "https://status.example.com/incidents/mnt-1"
        );
    }
    assert_eq!(
        bodies[1]["data"]["update"]["next_update_at"],
        "2026-11-28T14:00:00Z"
    );
}

#[tokio::test]
async fn a_fragment_in_the_url_is_ignored_and_the_delivery_sent_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/tidings"))
        .and(Signed)
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let ch = WebhookChannel::builder()
        .endpoint(
            "bridge",
            format!("{}/hooks/tidings#ops-team", server.uri()),
            SECRET,
        )
        .http(HttpOptions::new().timeout(Duration::from_millis(500)))
        .build()
        .unwrap();
    let d = Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("hooks", Arc::new(ch))
        .audience(customers())
        .build()
        .unwrap();
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    assert_eq!(
        report.deliveries[0].outcome.receipt().unwrap().status,
        Some(204)
    );
    let again = d.publish(&inc, &first).await.unwrap();
    assert_eq!(again.sent_now(), 0, "{again:?}");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "sent once, recorded sent");
    assert_eq!(requests[0].url.fragment(), None, "a fragment is never sent");
}

#[test]
fn user_information_in_the_url_is_refused_at_build() {
    let err = WebhookChannel::builder()
        .endpoint(
            "bridge",
            "https://hook-user:pa55w0rd@hooks.example.com/secret-path",
            SECRET,
        )
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, BuildError::InvalidUrl { field, .. } if field == r#"webhook endpoint "bridge""#),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(shown.contains("user name or password"), "{shown}");
    assert!(shown.contains("\"bridge\""), "names the endpoint: {shown}");
    for secret in ["hook-user", "pa55w0rd", "secret-path"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}
