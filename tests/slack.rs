//! Slack against a real HTTP server on 127.0.0.1: exact requests, threading,
//! escaping, and Slack's real failure answers.
#![cfg(feature = "slack")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::*;
use tidings::channel::ChannelError;
use tidings::channel::chat::slack::SlackChannel;
use tidings::channel::memory::MemoryChannel;
use tidings::journal::Failure;
use tidings::prelude::*;
use wiremock::matchers::{body_json, body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "xoxb-1234-secret";
const PERMALINK: &str = "https://status.example.com/incidents/inc-7";

fn ok(ts: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": true, "channel": "C123", "ts": ts}))
}

fn dispatcher(slack: SlackChannel) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("slack", Arc::new(slack))
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("slack", [target("C123")])),
        )
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

fn web_api(server: &MockServer) -> tidings::channel::chat::slack::SlackChannelBuilder {
    SlackChannel::web_api(TOKEN).base_url(format!("{}/api", server.uri()))
}

#[tokio::test]
async fn posts_then_replies_in_the_first_contacts_thread() {
    let server = MockServer::start().await;
    let (mut inc, first) = incident();
    let first_text = format!(
        "[Investigating] API errors\n\nSome API requests fail.\n\nInternal notes: SECRET-NOTE: db primary at 100% CPU\nImpact: major. Started 2026-11-25 14:00 UTC (3 min before this update).\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:33 UTC.\n<{PERMALINK}|View status page>"
    );
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json; charset=utf-8"))
        .and(body_json(json!({"channel": "C123", "text": first_text})))
        .respond_with(ok("1700000000.000100"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(body_partial_json(
            json!({"channel": "C123", "thread_ts": "1700000000.000100", "reply_broadcast": true}),
        ))
        .respond_with(ok("1700000000.000200"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.update"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_partial_json(
            json!({"channel": "C123", "ts": "1700000000.000100"}),
        ))
        .respond_with(ok("1700000000.000100"))
        .expect(2)
        .mount(&server)
        .await;
    let d = dispatcher(
        web_api(&server)
            .reply_broadcast(true)
            .keep_first_message_current(true)
            .build()
            .unwrap(),
    );
    let r1 = d.publish(&inc, &first).await.unwrap();
    assert!(r1.all_sent(), "{r1:?}");
    assert_eq!(
        r1.deliveries[0]
            .outcome
            .receipt()
            .unwrap()
            .message_ref
            .as_ref()
            .unwrap()
            .as_str(),
        "1700000000.000100"
    );
    let second = post(&mut inc, Status::Identified, 20, "Found it.");
    assert!(d.publish(&inc, &second).await.unwrap().all_sent());
    let resolved = post(&mut inc, Status::Resolved, 40, "Fixed.");
    assert!(d.publish(&inc, &resolved).await.unwrap().all_sent());
    let edits: Vec<serde_json::Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/api/chat.update")
        .map(|r| r.body_json().unwrap())
        .collect();
    assert!(
        edits[1]["text"]
            .as_str()
            .unwrap()
            .starts_with("[Resolved] API errors"),
        "the first message shows the latest state"
    );
}

#[tokio::test]
async fn user_text_cannot_mention_or_link() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok("1.2"))
        .mount(&server)
        .await;
    let (mut inc, _) = incident();
    let hostile = post(
        &mut inc,
        Status::Identified,
        10,
        "<!channel> <@U123> <https://evil.example|click> a&b *bold* @here",
    );
    dispatcher(web_api(&server).build().unwrap())
        .publish(&inc, &hostile)
        .await
        .unwrap();
    let body: serde_json::Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains(
            "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt; a&amp;b *bold* @here"
        ),
        "{text}"
    );
    assert_eq!(
        text.matches('<').count(),
        1,
        "the only link is the status page: {text}"
    );
    assert!(text.ends_with(&format!("<{PERMALINK}|View status page>")));
}

#[tokio::test]
async fn slack_failures_map_to_what_to_do_next() {
    let cases = [
        (
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "channel_not_found"})),
            "invalid_target",
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "invalid_auth"})),
            "config",
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "msg_too_long"})),
            "rejected",
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "ratelimited"})),
            "rate_limited",
        ),
        (
            ResponseTemplate::new(429).insert_header("Retry-After", "30"),
            "rate_limited",
        ),
        (ResponseTemplate::new(503), "transient"),
        (
            ResponseTemplate::new(200).set_body_string("<html>proxy error</html>"),
            "transient",
        ),
    ];
    for (response, kind) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(response)
            .mount(&server)
            .await;
        let (inc, first) = incident();
        let report = dispatcher(web_api(&server).build().unwrap())
            .publish(&inc, &first)
            .await
            .unwrap();
        let (_, failure) = report.failures().next().unwrap();
        let Failure::Channel(err) = failure else {
            panic!("{failure:?}")
        };
        assert_eq!(err.kind().as_str(), kind, "{err}");
        assert!(!err.to_string().contains(TOKEN));
        if kind == "rate_limited" && err.retry_after().is_some() {
            assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
        }
    }
}

#[tokio::test]
async fn incoming_webhooks_post_text_and_map_plain_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T000/B000/SECRETXYZ"))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({})))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/T000/B000/GONE"))
        .respond_with(ResponseTemplate::new(410).set_body_string("channel_is_archived"))
        .mount(&server)
        .await;
    let slack = SlackChannel::incoming_webhooks()
        .webhook(
            "ops",
            format!("{}/services/T000/B000/SECRETXYZ", server.uri()),
        )
        .webhook("old", format!("{}/services/T000/B000/GONE", server.uri()))
        .build()
        .unwrap();
    let d = Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("slack", Arc::new(slack))
        .audience(AudiencePolicy::new(Audience::Employees).route(Route::new(
            "slack",
            [target("ops"), target("old"), target("nope")],
        )))
        .build()
        .unwrap();
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();
    let by = |t: &str| {
        report
            .deliveries
            .iter()
            .find(|d| d.target.as_str() == t)
            .unwrap()
    };
    assert!(matches!(by("ops").outcome, Outcome::Sent(_)));
    assert!(matches!(
        &by("old").outcome,
        Outcome::Failed(Failure::Channel(ChannelError::InvalidTarget { .. }))
    ));
    assert!(matches!(
        &by("nope").outcome,
        Outcome::Failed(Failure::Channel(ChannelError::InvalidTarget { .. }))
    ));
    let body: serde_json::Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["text"]
    );
    assert!(
        !body["text"].as_str().unwrap().contains("SECRET-NOTE"),
        "employees get public text"
    );
    for r in report.all() {
        if let Outcome::Failed(f) = &r.outcome {
            assert!(!f.to_string().contains("SECRETXYZ"));
        }
    }
}
