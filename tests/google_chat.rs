//! Google Chat (incoming webhooks) against a real HTTP server on 127.0.0.1:
//! the exact request, one thread per incident, escaping, length, and the
//! answers Google really gives.
#![cfg(feature = "google-chat")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;
use tidings::channel::HttpOptions;
use tidings::channel::chat::google_chat::{GoogleChatChannel, GoogleChatChannelBuilder, MAX_TEXT};
use tidings::channel::memory::MemoryChannel;
use tidings::channel::{Channel, ChannelError, RateLimit};
use tidings::journal::Failure;
use tidings::prelude::*;
use tidings::render::RenderedMessage;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "AIzaSyD-SECRETKEY";
const TOKEN: &str = "Tok3n_SECRET%3D";
const SPACE: &str = "/v1/spaces/AAAAxyz/messages";
const PERMALINK: &str = "https://status.example.com/incidents/inc-7";

fn webhook_url(server: &MockServer) -> String {
    format!("{}{SPACE}?key={KEY}&token={TOKEN}", server.uri())
}

fn chat(server: &MockServer) -> GoogleChatChannelBuilder {
    GoogleChatChannel::builder()
        .webhook("incidents", webhook_url(server))
        .per_target_rate(RateLimit::new(100, Duration::from_secs(1)).unwrap())
}

fn created(n: u32) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "name": format!("spaces/AAAAxyz/messages/m{n}.m{n}"),
        "sender": {"name": "users/114022495153014004089", "type": "BOT"},
        "text": "…",
        "thread": {"name": "spaces/AAAAxyz/threads/t1"},
        "space": {"name": "spaces/AAAAxyz"},
        "createTime": "2026-11-25T14:03:00.000000Z",
    }))
}

fn dispatcher(chat: GoogleChatChannel) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("gchat", Arc::new(chat))
        .audience(
            AudiencePolicy::new(Audience::Employees)
                .route(Route::new("gchat", [target("incidents")])),
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

#[tokio::test]
async fn posts_text_into_the_incidents_thread() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SPACE))
        .and(query_param("key", KEY))
        .and(query_param("token", "Tok3n_SECRET="))
        .and(query_param(
            "messageReplyOption",
            "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD",
        ))
        .and(header("content-type", "application/json; charset=UTF-8"))
        .and(body_json(json!({
            "text": format!("[Investigating] API errors\n\nSome API requests fail.\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:33 UTC.\n<{PERMALINK}|View status page>"),
            "thread": {"threadKey": "tidings-inc-7"},
        })))
        .respond_with(created(1))
        .expect(1)
        .mount(&server)
        .await;
    let (inc, first) = incident();
    let report = dispatcher(chat(&server).build().unwrap())
        .publish(&inc, &first)
        .await
        .unwrap();
    assert!(report.all_sent(), "{report:?}");
    let receipt = report.deliveries[0].outcome.receipt().unwrap();
    assert_eq!(
        receipt.message_ref.as_ref().unwrap().as_str(),
        "spaces/AAAAxyz/messages/m1.m1"
    );
    assert_eq!(receipt.status, Some(200));
    assert_eq!(
        server.received_requests().await.unwrap()[0].url.query(),
        Some(
            "key=AIzaSyD-SECRETKEY&token=Tok3n_SECRET%3D&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
        ),
        "key and token are sent as configured"
    );
}

#[tokio::test]
async fn one_incident_one_thread() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created(1))
        .mount(&server)
        .await;
    let d = dispatcher(chat(&server).build().unwrap());
    let (mut inc, first) = incident();
    assert!(d.publish(&inc, &first).await.unwrap().all_sent());
    let update = post(&mut inc, Status::Identified, 20, "Found it.");
    assert!(d.publish(&inc, &update).await.unwrap().all_sent());
    let resolved = post(&mut inc, Status::Resolved, 40, "Fixed.");
    assert!(d.publish(&inc, &resolved).await.unwrap().all_sent());
    let mut other = Incident::new(
        IncidentId::new("inc-8").unwrap(),
        "Login slow",
        Impact::Minor,
        t0(),
    )
    .unwrap();
    let other_first = post(&mut other, Status::Investigating, 1, "Looking.");
    assert!(d.publish(&other, &other_first).await.unwrap().all_sent());
    let keys: Vec<Value> = bodies(&server)
        .await
        .iter()
        .map(|b| b["thread"]["threadKey"].clone())
        .collect();
    assert_eq!(
        keys,
        [
            "tidings-inc-7",
            "tidings-inc-7",
            "tidings-inc-7",
            "tidings-inc-8"
        ]
    );
    for r in server.received_requests().await.unwrap() {
        assert!(
            r.url
                .query()
                .unwrap()
                .ends_with("&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD")
        );
    }
}

#[tokio::test]
async fn thread_keys_take_the_configured_prefix_and_the_reply_option_is_ours() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created(1))
        .mount(&server)
        .await;
    let channel = GoogleChatChannel::builder()
        .webhook(
            "incidents",
            format!(
                "{}{SPACE}?messageReplyOption=REPLY_MESSAGE_OR_FAIL&key={KEY}&token={TOKEN}",
                server.uri()
            ),
        )
        .thread_key_prefix("acme-status-")
        .build()
        .unwrap();
    let (inc, first) = incident();
    assert!(
        dispatcher(channel)
            .publish(&inc, &first)
            .await
            .unwrap()
            .all_sent()
    );
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        request.url.query(),
        Some(
            "key=AIzaSyD-SECRETKEY&token=Tok3n_SECRET%3D&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
        )
    );
    assert_eq!(
        request.body_json::<Value>().unwrap()["thread"],
        json!({"threadKey": "acme-status-inc-7"})
    );
}

#[tokio::test]
async fn user_text_cannot_mention_or_link() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created(1))
        .mount(&server)
        .await;
    let mut inc = Incident::new(
        IncidentId::new("inc-7").unwrap(),
        "API <users/all>",
        Impact::Major,
        t0(),
    )
    .unwrap();
    let hostile = inc
        .post(UpdateDraft::new(
            Status::Resolved,
            t0() + minutes(5),
            "<users/all> <users/123456789> <https://evil.example|Official status> <https://evil.example> [click](https://evil.example) a&b &lt; *bold* _it_ ~s~ `code` @channel @all",
        ))
        .unwrap()
        .clone();
    dispatcher(chat(&server).build().unwrap())
        .publish(&inc, &hostile)
        .await
        .unwrap();
    let text = bodies(&server).await[0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        text,
        format!(
            "[Resolved] API ＜users/all＞\n\n＜users/all＞ ＜users/123456789＞ ＜https://evil.example|Official status＞ ＜https://evil.example＞ [click]\u{200B}(https://evil.example) a&b &lt; *bold* _it_ ~s~ `code` @channel @all\n\nThis incident is resolved; it lasted 5 min. Thank you for your patience.\n<{PERMALINK}|View status page>"
        )
    );
    assert_eq!(
        text.matches('<').count(),
        1,
        "the only link is the status page: {text}"
    );
    assert!(!text.contains("]("));
}

#[tokio::test]
async fn long_text_stays_within_4096_and_keeps_the_link() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created(1))
        .mount(&server)
        .await;
    let (mut inc, _) = incident();
    let long = post(
        &mut inc,
        Status::Identified,
        10,
        &"<b>|</b> 👩‍👩‍👧 Ünïcödé [x](y) ".repeat(1_000),
    );
    let report = dispatcher(chat(&server).build().unwrap())
        .publish(&inc, &long)
        .await
        .unwrap();
    assert!(report.all_sent(), "{report:?}");
    let text = bodies(&server).await[0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.chars().count() <= MAX_TEXT);
    assert!(
        text.encode_utf16().count() <= MAX_TEXT,
        "even in UTF-16 units"
    );
    assert!(
        text.encode_utf16().count() > MAX_TEXT * 3 / 4,
        "the room is used"
    );
    assert!(text.ends_with(&format!(
        "…\n\nNext update by 2026-11-25 14:40 UTC.\n<{PERMALINK}|View status page>"
    )));
}

/// The limit is measured on exactly what Chat receives: a text with no word
/// to cut at, all of it escaped, fills each message to within one escaped
/// grapheme of 4,096 UTF-16 units, and a link with a `|` stays one whole
/// `<url|label>` link.
#[tokio::test]
async fn the_limit_is_measured_on_the_text_chat_receives() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created(1))
        .mount(&server)
        .await;
    // The primary's permalink, https://status.example.com/a|b/incidents/inc-7.
    let primary = MemoryChannel::primary("https://status.example.com/a|b/".parse().unwrap());
    let linked = "\n<https://status.example.com/a%7Cb/incidents/inc-7|View status page>";
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", Arc::new(primary))
        .channel("gchat", Arc::new(chat(&server).build().unwrap()))
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("gchat", [target("incidents")]).overflow(Overflow::split(3))),
        )
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let (mut inc, _) = incident();
    let long = post(&mut inc, Status::Identified, 10, &"<|>](👩‍👩‍👧".repeat(2_000));
    let report = d.publish(&inc, &long).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    let bodies = bodies(&server).await;
    assert_eq!(bodies.len(), 3);
    for (i, body) in bodies.iter().enumerate() {
        let text = body["text"].as_str().unwrap();
        let n = text.encode_utf16().count();
        assert!(n <= MAX_TEXT, "{n} UTF-16 units");
        if i < 2 {
            assert!(n > MAX_TEXT - 16, "within a grapheme of the limit: {n}");
        }
        assert!(text.ends_with(linked), "{text}");
        assert_eq!(text.matches('<').count(), 1, "one link: {text}");
    }
}

fn google_error(code: u16, message: &str, status: &str) -> ResponseTemplate {
    ResponseTemplate::new(code)
        .set_body_json(json!({"error": {"code": code, "message": message, "status": status}}))
}

#[tokio::test]
async fn google_failures_map_to_what_to_do_next() {
    let cases = [
        (
            google_error(
                429,
                "Resource has been exhausted (e.g. check quota).",
                "RESOURCE_EXHAUSTED",
            )
            .insert_header("Retry-After", "30"),
            "rate_limited",
        ),
        (
            google_error(
                429,
                "Resource has been exhausted (e.g. check quota).",
                "RESOURCE_EXHAUSTED",
            ),
            "rate_limited",
        ),
        (
            google_error(503, "The service is currently unavailable.", "UNAVAILABLE"),
            "transient",
        ),
        (
            google_error(500, "Internal error encountered.", "INTERNAL"),
            "transient",
        ),
        (
            google_error(
                400,
                "Message is longer than 4096 characters",
                "INVALID_ARGUMENT",
            ),
            "rejected",
        ),
        (
            ResponseTemplate::new(400).set_body_json(json!({"error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [{
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "chat.googleapis.com"},
                }],
            }})),
            "config",
        ),
        (
            google_error(
                403,
                "The API is called without a valid token. Instructions on how to use incoming webhooks can be found at https://developers.google.com/chat/how-tos/webhooks",
                "PERMISSION_DENIED",
            ),
            "config",
        ),
        (
            google_error(
                401,
                "Request had invalid authentication credentials.",
                "UNAUTHENTICATED",
            ),
            "config",
        ),
        (
            google_error(404, "Requested entity was not found.", "NOT_FOUND"),
            "invalid_target",
        ),
    ];
    for (response, kind) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(response)
            .mount(&server)
            .await;
        let (inc, first) = incident();
        let report = dispatcher(chat(&server).build().unwrap())
            .publish(&inc, &first)
            .await
            .unwrap();
        let (_, failure) = report.failures().next().unwrap();
        let Failure::Channel(err) = failure else {
            panic!("{failure:?}")
        };
        assert_eq!(err.kind().as_str(), kind, "{err}");
        let shown = format!("{err} {err:?}");
        for secret in [KEY, TOKEN, "SECRET"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            !shown.contains("exhausted") && !shown.contains("4096") && !shown.contains("API key"),
            "only Google's status is kept: {shown}"
        );
        if err.retry_after().is_some() {
            assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
        }
    }
}

fn delivery(text: String) -> Delivery {
    let (mut inc, _) = incident();
    let update = post(&mut inc, Status::Identified, 10, "x");
    let message = RenderedMessage {
        title: "[Identified] API errors".into(),
        body: text.clone(),
        next_update: None,
    };
    Delivery::new(
        "gchat",
        Arc::new(inc),
        Arc::new(update),
        Audience::Employees,
        Detail::Public,
        target("incidents"),
        Arc::new(message),
        text,
        Arc::new(PERMALINK.parse().unwrap()),
    )
}

#[tokio::test]
async fn a_silent_space_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created(1).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let timeout = Duration::from_millis(200);
    let channel = chat(&server)
        .http(HttpOptions::new().timeout(timeout))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = channel
        .send(&delivery(format!("Slow.\n{PERMALINK}")))
        .await
        .unwrap_err();
    assert_eq!(err, ChannelError::Timeout { after: timeout });
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_answer_without_a_name_is_still_delivered() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&server)
        .await;
    let receipt = chat(&server)
        .build()
        .unwrap()
        .send(&delivery(format!("Fine.\n{PERMALINK}")))
        .await
        .unwrap();
    assert!(receipt.message_ref.is_none());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_webhook_url_stays_secret() {
    let server = MockServer::start().await;
    let channel = chat(&server).build().unwrap();
    for shown in [format!("{channel:?}"), format!("{:?}", chat(&server))] {
        assert!(!shown.contains("SECRET"), "{shown}");
    }
    let closed = GoogleChatChannel::builder()
        .webhook(
            "incidents",
            format!("http://127.0.0.1:9{SPACE}?key={KEY}&token={TOKEN}"),
        )
        .build()
        .unwrap();
    let err = closed
        .send(&delivery(format!("Down.\n{PERMALINK}")))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(!format!("{err} {err:?}").contains("SECRET"), "{err:?}");
    let mut d = delivery(format!("x\n{PERMALINK}"));
    d.target = target("elsewhere");
    assert!(matches!(
        channel.send(&d).await.unwrap_err(),
        ChannelError::InvalidTarget { .. }
    ));
}
