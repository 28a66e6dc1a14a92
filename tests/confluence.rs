//! Confluence Cloud postmortem pages against a real HTTP server on
//! 127.0.0.1: the exact requests (create, then update rather than
//! duplicate), and Confluence's real failure answers.
#![cfg(feature = "confluence")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::records::confluence::{ConfluenceChannel, ConfluenceSpace};
use tidings::channel::{Channel, ChannelError, Delivery, HttpOptions};
use tidings::prelude::*;
use tidings::render::{Templates, fit};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const EMAIL: &str = "sre-bot@acme.example";
const TOKEN: &str = "ATATT3xFfGF0-SECRET-token";
const PERMALINK: &str = "https://status.example.com/incidents/inc-7";
const TITLE: &str = "Postmortem: API errors (inc-7)";

/// `Basic base64(email:token)`.
fn basic() -> String {
    // sre-bot@acme.example:ATATT3xFfGF0-SECRET-token
    "Basic c3JlLWJvdEBhY21lLmV4YW1wbGU6QVRBVFQzeEZmR0YwLVNFQ1JFVC10b2tlbg==".to_owned()
}

const REVIEW: &str = "## Timeline\n\n| time | what |\n|---|---|\n| 14:02 | deploy <v2> |\n\n## What we change\n\n1. Canary deploys\n\n```sh\nrollback --now\n```";

const STORAGE: &str = "<h2>Timeline</h2>\n<table><tbody><tr><th>time</th><th>what</th></tr>\n<tr><td>14:02</td><td>deploy &lt;v2&gt;</td></tr>\n</tbody></table>\n<h2>What we change</h2>\n<ol>\n<li>Canary deploys</li>\n</ol>\n<ac:structured-macro ac:name=\"code\"><ac:parameter ac:name=\"language\">sh</ac:parameter><ac:plain-text-body><![CDATA[rollback --now\n]]></ac:plain-text-body></ac:structured-macro><p>Status page: <a href=\"https://status.example.com/incidents/inc-7\">https://status.example.com/incidents/inc-7</a></p>";

async fn spaces(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/wiki/api/v2/spaces"))
        .and(query_param("keys", "OPS"))
        .and(header("authorization", basic().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"id": "98306", "key": "OPS", "name": "Operations", "type": "global", "status": "current"}],
            "_links": {}
        })))
        // Once per channel value (the test makes two), then kept.
        .expect(2)
        .mount(server)
        .await;
}

fn page(version: u64, value: &str) -> Value {
    json!({
        "id": "557060",
        "status": "current",
        "title": TITLE,
        "spaceId": "98306",
        "version": {"number": version, "message": "", "minorEdit": false},
        "body": {"storage": {"representation": "storage", "value": value}},
        "_links": {"webui": "/spaces/OPS/pages/557060"}
    })
}

fn channel(server: &MockServer) -> ConfluenceChannel {
    ConfluenceChannel::builder(server.uri(), EMAIL, TOKEN)
        .space(
            "postmortems",
            ConfluenceSpace::new("OPS").parent_page("131073"),
        )
        .build()
        .unwrap()
}

fn dispatcher(ch: ConfluenceChannel) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("wiki", Arc::new(ch))
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("wiki", [target("postmortems")])),
        )
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_postmortem_is_one_page_created_then_updated() {
    let server = MockServer::start().await;
    spaces(&server).await;
    let find = || {
        Mock::given(method("GET"))
            .and(path("/wiki/api/v2/pages"))
            .and(query_param("space-id", "98306"))
            .and(query_param("title", TITLE))
            .and(query_param("status", "current"))
            .and(query_param("body-format", "storage"))
            .and(header("authorization", basic().as_str()))
    };
    // First: no page yet.
    find()
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"results": [], "_links": {}})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/wiki/api/v2/pages"))
        .and(header("authorization", basic().as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "spaceId": "98306",
            "status": "current",
            "title": TITLE,
            "parentId": "131073",
            "body": {"representation": "storage", "value": STORAGE}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(1, STORAGE)))
        .expect(1)
        .mount(&server)
        .await;
    let d = dispatcher(channel(&server));
    let (mut inc, first) = incident();
    // Every act before the postmortem is declined: nothing sent.
    assert!(d.publish(&inc, &first).await.unwrap().all_sent());
    let resolved = post(&mut inc, Status::Resolved, 40, "Fixed.");
    assert!(d.publish(&inc, &resolved).await.unwrap().all_sent());
    let requests = server.received_requests().await.unwrap();
    assert!(requests.is_empty(), "{requests:?}");

    let postmortem = post(&mut inc, Status::Postmortem, 60, REVIEW);
    let r = d.publish(&inc, &postmortem).await.unwrap();
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
        "557060"
    );

    // Published again with a correction: the page is found and updated.
    find()
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"results": [page(1, STORAGE)], "_links": {}})),
        )
        .mount(&server)
        .await;
    let corrected = format!("{REVIEW}\n\nCorrected: the deploy was at 14:01.");
    let corrected_storage = STORAGE.replace(
        "</ac:structured-macro><p>Status page:",
        "</ac:structured-macro>\n<p>Corrected: the deploy was at 14:01.</p>\n<p>Status page:",
    );
    Mock::given(method("PUT"))
        .and(path("/wiki/api/v2/pages/557060"))
        .and(header("authorization", basic().as_str()))
        .and(body_json(json!({
            "id": "557060",
            "status": "current",
            "title": TITLE,
            "body": {"representation": "storage", "value": corrected_storage},
            "version": {"number": 2, "message": "Postmortem updated by tidings"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(2, &corrected_storage)))
        .expect(1)
        .mount(&server)
        .await;
    let ch = channel(&server);
    let mut again = delivery(&ch, corrected.as_str());
    let r = ch.send(&again).await.unwrap();
    assert_eq!(r.message_ref.unwrap().as_str(), "557060");

    // The same postmortem once more (a resend): the page already has it.
    again = delivery(&ch, REVIEW);
    let r = ch.send(&again).await.unwrap();
    assert_eq!(r.message_ref.unwrap().as_str(), "557060");
    let puts = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .count();
    assert_eq!(puts, 1, "an unchanged page is not written again");
}

/// A postmortem delivery of `body` for `ch`.
fn delivery(ch: &dyn Channel, body: &str) -> Delivery {
    let (mut inc, _) = incident();
    post(&mut inc, Status::Resolved, 40, "Fixed.");
    let update = post(&mut inc, Status::Postmortem, 60, body);
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
        "wiki",
        Arc::new(inc),
        Arc::new(update),
        Audience::Customers,
        Detail::Public,
        target("postmortems"),
        Arc::new(message),
        fitted,
        Arc::new(PERMALINK.parse().unwrap()),
    )
}

#[tokio::test]
async fn an_unknown_space_is_an_invalid_target() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wiki/api/v2/spaces"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"results": [], "_links": {}})),
        )
        .mount(&server)
        .await;
    let ch = channel(&server);
    let e = ch.send(&delivery(&ch, REVIEW)).await.unwrap_err();
    assert!(matches!(e, ChannelError::InvalidTarget { .. }), "{e}");
}

#[tokio::test]
async fn confluences_failure_answers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wiki/api/v2/spaces"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"id": "98306", "key": "OPS"}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/wiki/api/v2/pages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .mount(&server)
        .await;
    let ch = channel(&server);
    let d = delivery(&ch, REVIEW);
    let answer = |r: ResponseTemplate| {
        Mock::given(method("POST"))
            .and(path("/wiki/api/v2/pages"))
            .respond_with(r)
            .up_to_n_times(1)
    };
    answer(ResponseTemplate::new(401).set_body_json(json!({
        "code": 401,
        "message": "Unauthorized; scope does not match"
    })))
    .mount(&server)
    .await;
    let e = ch.send(&d).await.unwrap_err();
    assert!(matches!(e, ChannelError::Config { .. }), "{e}");
    assert!(!e.to_string().contains(TOKEN) && !format!("{e:?}").contains(TOKEN));
    answer(ResponseTemplate::new(400).set_body_json(json!({
        "errors": [{
            "status": 400,
            "code": "INVALID_REQUEST_PARAMETER",
            "title": "Error parsing xhtml: Unexpected close tag </p>; expected </b>.",
            "detail": null
        }]
    })))
    .mount(&server)
    .await;
    let e = ch.send(&d).await.unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Rejected {
                status: Some(400),
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("Error parsing xhtml"), "{e}");
    // A page with this title was created meanwhile: the next attempt updates it.
    answer(ResponseTemplate::new(400).set_body_json(json!({
        "errors": [{
            "status": 400,
            "code": "BAD_REQUEST",
            "title": "A page with this title already exists: A page already exists with the same TITLE in this space",
            "detail": null
        }]
    })))
    .mount(&server)
    .await;
    assert!(ch.send(&d).await.unwrap_err().is_retryable());
    answer(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .mount(&server)
        .await;
    assert_eq!(
        ch.send(&d).await.unwrap_err(),
        ChannelError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    answer(ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"))
        .mount(&server)
        .await;
    assert!(matches!(
        ch.send(&d).await.unwrap_err(),
        ChannelError::Transient {
            status: Some(503),
            ..
        }
    ));
    assert!(!format!("{ch:?}").contains(TOKEN));
}

#[tokio::test(start_paused = true)]
async fn no_answer_is_a_timeout_on_the_paused_clock() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let timeout = Duration::from_secs(10);
    let ch = ConfluenceChannel::builder(
        format!("http://{}", listener.local_addr().unwrap()),
        EMAIL,
        TOKEN,
    )
    .space("postmortems", ConfluenceSpace::new("OPS"))
    .http(HttpOptions::new().timeout(timeout))
    .build()
    .unwrap();
    let start = tokio::time::Instant::now();
    let e = ch.send(&delivery(&ch, REVIEW)).await.unwrap_err();
    assert_eq!(e, ChannelError::Timeout { after: timeout });
    assert_eq!(start.elapsed(), timeout);
}
