//! Jira Service Management Operations and Opsgenie alerts against a real
//! HTTP server on 127.0.0.1: the exact requests of an incident, and the
//! providers' real failure answers.
#![cfg(any(feature = "jsm", feature = "opsgenie"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::records::alerts::{AlertChannel, AlertChannelBuilder};
use tidings::channel::{Channel, ChannelError, Delivery, HttpOptions};
use tidings::prelude::*;
use tidings::render::{Templates, fit};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "eb243592-faa2-4ba2-a551-1afdf565c889-SECRET";
const PERMALINK: &str = "https://status.example.com/incidents/inc-7";

fn accepted(request_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(202).set_body_json(json!({
        "result": "Request will be processed",
        "took": 0.107,
        "requestId": request_id
    }))
}

fn dispatcher(ch: AlertChannel) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("alerts", Arc::new(ch))
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("alerts", [target("payments")])),
        )
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

fn delivery(ch: &dyn Channel) -> Delivery {
    let (mut inc, _) = incident();
    let update = post(&mut inc, Status::Identified, 10, "We found the cause.");
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
    Delivery::fitted(
        "alerts",
        Arc::new(inc),
        Arc::new(update),
        Audience::Customers,
        Detail::Public,
        target("payments"),
        Arc::new(message),
        fitted,
        Arc::new(PERMALINK.parse().unwrap()),
    )
}

/// A whole incident: create, a note per update, close, the postmortem as a
/// note; every request exactly, under `alerts` (the provider's path).
async fn an_incident_is_one_alert(builder: AlertChannelBuilder, alerts: &str) {
    let server = MockServer::start().await;
    let auth = format!("GenieKey {KEY}");
    Mock::given(method("POST"))
        .and(path(alerts))
        .and(header("authorization", auth.as_str()))
        .and(header("content-type", "application/json"))
        .respond_with(accepted("43a29c5c-3dbf-4fa4-9c26-f4f71023e120"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{alerts}/tidings-inc-7/notes")))
        .and(query_param("identifierType", "alias"))
        .and(header("authorization", auth.as_str()))
        .respond_with(accepted("5f0c1a2b-0000-4000-8000-000000000002"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{alerts}/tidings-inc-7/close")))
        .and(query_param("identifierType", "alias"))
        .and(header("authorization", auth.as_str()))
        .respond_with(accepted("5f0c1a2b-0000-4000-8000-000000000003"))
        .expect(1)
        .mount(&server)
        .await;
    let d = dispatcher(
        builder
            .integration("payments", KEY)
            .source("status.example.com")
            .base_url(server.uri())
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
        "43a29c5c-3dbf-4fa4-9c26-f4f71023e120",
        "the receipt keeps the request id"
    );
    let identified = post(&mut inc, Status::Identified, 20, "A bad deploy.");
    assert!(d.publish(&inc, &identified).await.unwrap().all_sent());
    let resolved = post(&mut inc, Status::Resolved, 40, "Fixed.");
    assert!(d.publish(&inc, &resolved).await.unwrap().all_sent());
    let postmortem = post(&mut inc, Status::Postmortem, 60, "What happened.");
    assert!(d.publish(&inc, &postmortem).await.unwrap().all_sent());

    let requests = server.received_requests().await.unwrap();
    let sent: Vec<(String, Value)> = requests
        .iter()
        .map(|r| (r.url.path().to_owned(), r.body_json().unwrap()))
        .collect();
    assert_eq!(sent.len(), 4);
    let first_text = format!(
        "[Investigating] API errors\n\nSome API requests fail.\n\nInternal notes: SECRET-NOTE: db primary at 100% CPU\nImpact: major. Started 2026-11-25 14:00 UTC (3 min before this update).\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:33 UTC.\n{PERMALINK}"
    );
    assert_eq!(
        sent[0].1,
        json!({
            "message": "[Investigating] API errors",
            "alias": "tidings-inc-7",
            "description": first_text,
            "priority": "P2",
            "source": "status.example.com",
            "details": {
                "impact": "major",
                "incident_id": "inc-7",
                "status": "investigating",
                "status_page": PERMALINK,
                "update": "1"
            }
        })
    );
    assert!(sent[1].0.ends_with("/tidings-inc-7/notes"));
    assert_eq!(sent[1].1["source"], "status.example.com");
    assert!(
        sent[1].1["note"]
            .as_str()
            .unwrap()
            .starts_with("[Identified] API errors\n\nA bad deploy."),
        "{}",
        sent[1].1
    );
    assert!(sent[1].1["note"].as_str().unwrap().ends_with(PERMALINK));
    assert!(sent[2].0.ends_with("/tidings-inc-7/close"));
    assert!(
        sent[2].1["note"]
            .as_str()
            .unwrap()
            .starts_with("[Resolved] API errors\n\nFixed."),
        "{}",
        sent[2].1
    );
    assert!(sent[3].0.ends_with("/tidings-inc-7/notes"));
    assert!(
        sent[3].1["note"]
            .as_str()
            .unwrap()
            .contains("What happened.")
    );
}

#[cfg(feature = "jsm")]
#[tokio::test]
async fn jsm_an_incident_is_one_alert() {
    an_incident_is_one_alert(AlertChannel::jsm(), "/jsm/ops/integration/v2/alerts").await;
}

#[cfg(feature = "opsgenie")]
#[tokio::test]
async fn opsgenie_an_incident_is_one_alert() {
    an_incident_is_one_alert(AlertChannel::opsgenie(), "/v2/alerts").await;
}

/// The providers' failure answers, on the create.
async fn failure_answers(builder: AlertChannelBuilder, alerts: &str) {
    let server = MockServer::start().await;
    let ch = builder
        .integration("payments", KEY)
        .base_url(server.uri())
        .build()
        .unwrap();
    let d = delivery(&ch);
    let answer = |r: ResponseTemplate| {
        Mock::given(method("POST"))
            .and(path(alerts.to_owned()))
            .respond_with(r)
            .up_to_n_times(1)
    };
    answer(ResponseTemplate::new(422).set_body_json(json!({
        "message": "Request body is not processable. Please check the errors.",
        "errors": {"message": "Message can not be empty."},
        "took": 0.001,
        "requestId": "5b6b4c3a-3e2a-4a7b-9d3e-2f9c7d6e1a01"
    })))
    .mount(&server)
    .await;
    let e = ch.send(&d).await.unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Rejected {
                status: Some(422),
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("Message can not be empty"), "{e}");
    answer(ResponseTemplate::new(400).set_body_json(json!({
        "message": "Could not read JSON: Unexpected end-of-input",
        "took": 0.0,
        "requestId": "9d2c1b0a-0000-4000-8000-000000000400"
    })))
    .mount(&server)
    .await;
    assert!(matches!(
        ch.send(&d).await.unwrap_err(),
        ChannelError::Rejected {
            status: Some(400),
            ..
        }
    ));
    for code in [401, 403] {
        answer(ResponseTemplate::new(code).set_body_json(json!({
            "message": "Key format is not valid!",
            "took": 0.0,
            "requestId": "9d2c1b0a-0000-4000-8000-000000000401"
        })))
        .mount(&server)
        .await;
        let e = ch.send(&d).await.unwrap_err();
        assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        assert!(
            !e.to_string().contains(KEY) && !format!("{e:?}").contains(KEY),
            "{e}"
        );
    }
    answer(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "12")
            .set_body_json(json!({"message": "You are making too many requests!", "took": 0.0, "requestId": "r"})),
    )
    .mount(&server)
    .await;
    assert_eq!(
        ch.send(&d).await.unwrap_err(),
        ChannelError::RateLimited {
            retry_after: Some(Duration::from_secs(12))
        }
    );
    answer(ResponseTemplate::new(429)).mount(&server).await;
    assert_eq!(
        ch.send(&d).await.unwrap_err(),
        ChannelError::RateLimited { retry_after: None }
    );
    for code in [500, 503] {
        answer(ResponseTemplate::new(code).set_body_string("Internal Server Error"))
            .mount(&server)
            .await;
        let e = ch.send(&d).await.unwrap_err();
        assert!(
            matches!(e, ChannelError::Transient { status: Some(c), .. } if c == code),
            "{e}"
        );
    }
    assert!(!format!("{ch:?}").contains(KEY));
}

#[cfg(feature = "jsm")]
#[tokio::test]
async fn jsm_failure_answers() {
    failure_answers(AlertChannel::jsm(), "/jsm/ops/integration/v2/alerts").await;
}

#[cfg(feature = "opsgenie")]
#[tokio::test]
async fn opsgenie_failure_answers() {
    failure_answers(AlertChannel::opsgenie(), "/v2/alerts").await;
}

#[cfg(feature = "jsm")]
#[tokio::test]
async fn an_incident_first_heard_resolved_is_created_then_closed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("r"))
        .mount(&server)
        .await;
    let ch = AlertChannel::jsm()
        .integration("payments", KEY)
        .base_url(server.uri())
        .build()
        .unwrap();
    let (mut inc, _) = incident();
    let resolved = post(&mut inc, Status::Resolved, 10, "Fixed.");
    let mut d = delivery(&ch);
    d.incident = Arc::new(inc);
    d.update = Arc::new(resolved);
    ch.send(&d).await.unwrap();
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "/jsm/ops/integration/v2/alerts",
            "/jsm/ops/integration/v2/alerts/tidings-inc-7/close"
        ]
    );
}

#[cfg(feature = "opsgenie")]
#[tokio::test(start_paused = true)]
async fn no_answer_is_a_timeout_on_the_paused_clock() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let timeout = Duration::from_secs(10);
    let ch = AlertChannel::opsgenie()
        .integration("payments", KEY)
        .base_url(format!("http://{}", listener.local_addr().unwrap()))
        .http(HttpOptions::new().timeout(timeout))
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let e = ch.send(&delivery(&ch)).await.unwrap_err();
    assert_eq!(e, ChannelError::Timeout { after: timeout });
    assert_eq!(start.elapsed(), timeout);
}
