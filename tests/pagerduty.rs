//! PagerDuty's Events API v2 against a real HTTP server on 127.0.0.1: the
//! exact events of an incident, and PagerDuty's real failure answers.
#![cfg(feature = "pagerduty")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::records::pagerduty::{MAX_SUMMARY, PagerDutyChannel, RATE_LIMIT_BACKOFF};
use tidings::channel::{Channel, ChannelError, Delivery, HttpOptions};
use tidings::prelude::*;
use tidings::render::{Templates, fit};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "R0PAYMENTSsecretROUTINGkey012345";
const PERMALINK: &str = "https://status.example.com/incidents/inc-7";

fn accepted() -> ResponseTemplate {
    ResponseTemplate::new(202).set_body_json(json!({
        "status": "success",
        "message": "Event processed",
        "dedup_key": "tidings-inc-7"
    }))
}

fn channel(server: &MockServer) -> tidings::channel::records::pagerduty::PagerDutyChannelBuilder {
    PagerDutyChannel::builder()
        .integration("payments", KEY)
        .source("status.example.com")
        .base_url(server.uri())
}

fn dispatcher(pd: PagerDutyChannel) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("pagerduty", Arc::new(pd))
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("pagerduty", [target("payments")])),
        )
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.body_json().unwrap())
        .collect()
}

/// A delivery of an update with `status` for `ch`, as the dispatcher fits it.
fn delivery(ch: &dyn Channel, status: Status) -> Delivery {
    let (mut inc, _) = incident();
    let update = post(&mut inc, status, 10, "We found the cause.");
    let message = Templates::new()
        .render(&inc, &update, &Audience::CoreResponders, Detail::Internal)
        .unwrap();
    let fitted = fit(
        &message,
        PERMALINK,
        ch.limits().text.as_ref(),
        ch.format(),
        Overflow::Shorten,
    )
    .unwrap()
    .remove(0);
    Delivery::fitted(
        "pagerduty",
        Arc::new(inc),
        Arc::new(update),
        Audience::CoreResponders,
        Detail::Internal,
        target("payments"),
        Arc::new(message),
        fitted,
        Arc::new(PERMALINK.parse().unwrap()),
    )
}

#[tokio::test]
async fn an_incident_is_one_alert_triggered_acknowledged_and_resolved() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/enqueue"))
        .and(header("content-type", "application/json"))
        .respond_with(accepted())
        .expect(4)
        .mount(&server)
        .await;
    let d = dispatcher(
        channel(&server)
            .acknowledge_when_identified(true)
            .build()
            .unwrap(),
    );
    let (mut inc, first) = incident();
    let r = d.publish(&inc, &first).await.unwrap();
    assert!(r.all_sent(), "{r:?}");
    assert_eq!(
        r.deliveries[0]
            .outcome
            .receipt()
            .unwrap()
            .message_ref
            .as_ref()
            .unwrap()
            .as_str(),
        "tidings-inc-7",
        "the receipt keeps the dedup_key"
    );
    let identified = post(&mut inc, Status::Identified, 20, "A bad deploy.");
    assert!(d.publish(&inc, &identified).await.unwrap().all_sent());
    let monitoring = post(&mut inc, Status::Monitoring, 30, "Rolled back.");
    assert!(d.publish(&inc, &monitoring).await.unwrap().all_sent());
    let resolved = post(&mut inc, Status::Resolved, 40, "Fixed.");
    assert!(d.publish(&inc, &resolved).await.unwrap().all_sent());
    // The postmortem is declined: nothing sent, reported sent.
    let postmortem = post(&mut inc, Status::Postmortem, 60, "What happened.");
    assert!(d.publish(&inc, &postmortem).await.unwrap().all_sent());

    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 4);
    assert_eq!(
        sent[0],
        json!({
            "routing_key": KEY,
            "event_action": "trigger",
            "dedup_key": "tidings-inc-7",
            "payload": {
                "summary": "[Investigating] API errors — Some API requests fail. Internal notes: SECRET-NOTE: db primary at 100% CPU Impact: major. Started 2026-11-25 14:00 UTC (3 min before this update). Affected: API (major outage). — Next update by 2026-11-25 14:33 UTC.",
                "source": "status.example.com",
                "severity": "error",
                "timestamp": "2026-11-25T14:03:00Z",
                "custom_details": {
                    "incident_id": "inc-7",
                    "title": "API errors",
                    "status": "investigating",
                    "impact": "major",
                    "update": 1
                }
            },
            "client": "status.example.com",
            "client_url": PERMALINK,
            "links": [{"href": PERMALINK, "text": "Status page"}]
        })
    );
    assert_eq!(
        sent[1],
        json!({"routing_key": KEY, "event_action": "acknowledge", "dedup_key": "tidings-inc-7"})
    );
    assert_eq!(sent[2]["event_action"], "trigger");
    assert_eq!(sent[2]["dedup_key"], "tidings-inc-7");
    assert_eq!(sent[2]["payload"]["custom_details"]["status"], "monitoring");
    assert_eq!(
        sent[3],
        json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "tidings-inc-7"})
    );
}

#[tokio::test]
async fn without_acknowledging_identified_triggers_and_severity_follows_impact() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/enqueue"))
        .respond_with(accepted())
        .mount(&server)
        .await;
    let ch = channel(&server).build().unwrap();
    ch.send(&delivery(&ch, Status::Identified)).await.unwrap();
    let sent = bodies(&server).await;
    assert_eq!(sent[0]["event_action"], "trigger");
    assert_eq!(sent[0]["payload"]["severity"], "error");
}

#[tokio::test]
async fn a_long_summary_is_fitted_to_pagerdutys_limit() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/enqueue"))
        .respond_with(accepted())
        .mount(&server)
        .await;
    let ch = channel(&server).build().unwrap();
    let (mut inc, _) = incident();
    let update = post(&mut inc, Status::Identified, 10, &"ünïcödé 👩‍👩‍👧 ".repeat(400));
    let message = Templates::new()
        .render(&inc, &update, &Audience::Customers, Detail::Public)
        .unwrap();
    let fitted = fit(
        &message,
        PERMALINK,
        ch.limits().text.as_ref(),
        ch.format(),
        Overflow::Shorten,
    )
    .unwrap()
    .remove(0);
    let d = Delivery::fitted(
        "pagerduty",
        Arc::new(inc),
        Arc::new(update),
        Audience::Customers,
        Detail::Public,
        target("payments"),
        Arc::new(message),
        fitted,
        Arc::new(PERMALINK.parse().unwrap()),
    );
    ch.send(&d).await.unwrap();
    let summary = bodies(&server).await[0]["payload"]["summary"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        summary.chars().count() <= MAX_SUMMARY,
        "{}",
        summary.chars().count()
    );
    assert!(summary.chars().count() > MAX_SUMMARY - 20);
    assert!(summary.contains('…'));
}

#[tokio::test]
async fn an_update_after_the_resolution_does_not_open_a_new_alert() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/enqueue"))
        .respond_with(accepted())
        .expect(0)
        .mount(&server)
        .await;
    let ch = channel(&server).build().unwrap();
    // An outbox resending the Identified update once the incident is resolved.
    let (mut inc, _) = incident();
    let identified = post(&mut inc, Status::Identified, 10, "Found it.");
    post(&mut inc, Status::Resolved, 20, "Fixed.");
    let mut d = delivery(&ch, Status::Identified);
    d.incident = Arc::new(inc);
    d.update = Arc::new(identified);
    let receipt = ch.send(&d).await.unwrap();
    assert_eq!(receipt.message_ref, None);
    assert_eq!(receipt.status, None);
}

#[tokio::test]
async fn pagerdutys_failure_answers() {
    let server = MockServer::start().await;
    let ch = channel(&server).build().unwrap();
    let d = delivery(&ch, Status::Identified);
    let answer = |r: ResponseTemplate| {
        Mock::given(method("POST"))
            .and(path("/v2/enqueue"))
            .respond_with(r)
            .up_to_n_times(1)
    };
    // 429 "Request Limit Exceeded", without Retry-After: the documented backoff.
    answer(ResponseTemplate::new(429).set_body_string("Request Limit Exceeded"))
        .mount(&server)
        .await;
    assert_eq!(
        ch.send(&d).await.unwrap_err(),
        ChannelError::RateLimited {
            retry_after: Some(RATE_LIMIT_BACKOFF)
        }
    );
    // 400: PagerDuty's documented "invalid event".
    answer(ResponseTemplate::new(400).set_body_json(json!({
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"]
    })))
    .mount(&server)
    .await;
    let e = ch.send(&d).await.unwrap_err();
    assert!(matches!(e, ChannelError::Config { .. }), "{e}");
    assert!(!e.to_string().contains(KEY), "{e}");
    answer(ResponseTemplate::new(400).set_body_json(json!({
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["'payload.summary' is missing or blank"]
    })))
    .mount(&server)
    .await;
    let e = ch.send(&d).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(!e.is_retryable(), "{e}");
    assert!(e.to_string().contains("Event object is invalid"), "{e}");
    // 5xx: transient.
    for code in [500, 502, 503] {
        answer(ResponseTemplate::new(code).set_body_string("<html>Server Error</html>"))
            .mount(&server)
            .await;
        let e = ch.send(&d).await.unwrap_err();
        assert!(
            matches!(e, ChannelError::Transient { status: Some(c), .. } if c == code),
            "{e}"
        );
        assert!(!e.to_string().contains(KEY));
    }
}

#[tokio::test(start_paused = true)]
async fn no_answer_is_a_timeout_on_the_paused_clock() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let timeout = Duration::from_secs(10);
    let ch = PagerDutyChannel::builder()
        .integration("payments", KEY)
        .base_url(format!("http://{}", listener.local_addr().unwrap()))
        .http(HttpOptions::new().timeout(timeout))
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let e = ch
        .send(&delivery(&ch, Status::Identified))
        .await
        .unwrap_err();
    assert_eq!(e, ChannelError::Timeout { after: timeout });
    assert_eq!(start.elapsed(), timeout);
    // The key is a secret.
    assert!(!format!("{ch:?}").contains(KEY));
    assert!(!format!("{e:?}").contains(KEY));
}
