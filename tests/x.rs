//! X API v2 against a real HTTP server on 127.0.0.1: exact requests, threaded
//! updates, defused mentions, weighted length, and X's real failure answers.
#![cfg(feature = "x")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use support::*;
use tidings::channel::HttpOptions;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::social::x::{MAX_WEIGHTED_LENGTH, XChannel, weighted_length};
use tidings::channel::{Channel, ChannelError, Delivery};
use tidings::prelude::*;
use tidings::render::Templates;
use wiremock::matchers::{body_json, body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "SECRET-x-user-token-Lp3";
const LINK: &str = "https://status.example.com/incidents/inc-7";
const TWEETS: &str = "/2/tweets";

/// X's answer to a created post.
fn created(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(201)
        .insert_header("x-rate-limit-limit", "200")
        .insert_header("x-rate-limit-remaining", "199")
        .insert_header("x-rate-limit-reset", "1795000000")
        .set_body_json(json!({
            "data": {"id": id, "text": "…", "edit_history_tweet_ids": [id]},
        }))
}

/// X's problem-details error body.
fn problem(status: u16, title: &str, detail: &str, kind: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "title": title,
        "detail": detail,
        "type": kind,
        "status": status,
    }))
}

fn channel(server: &MockServer) -> XChannel {
    XChannel::builder(TOKEN)
        .base_url(server.uri())
        .http(HttpOptions::new().timeout(Duration::from_millis(500)))
        .build()
        .unwrap()
}

fn dispatcher(x: Arc<XChannel>) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("x", x)
        .audience(
            AudiencePolicy::new(Audience::Customers).route(Route::new("x", [target("timeline")])),
        )
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

/// Publishes the first update and returns the channel's error.
async fn failure_for(response: ResponseTemplate) -> ChannelError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    let (inc, first) = incident();
    let report = dispatcher(Arc::new(channel(&server)))
        .publish(&inc, &first)
        .await
        .unwrap();
    let err = report
        .all()
        .find_map(|d| d.outcome.channel_error())
        .expect("the delivery fails");
    assert!(!err.to_string().contains(TOKEN), "{err}");
    assert!(!format!("{err:?}").contains(TOKEN), "{err:?}");
    err.clone()
}

fn text_of(request: &Request) -> String {
    let body: serde_json::Value = request.body_json().unwrap();
    body["text"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn posts_with_the_user_token_and_keeps_the_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TWEETS))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "text": format!("[Investigating] API errors\n\nSome API requests fail.\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:33 UTC.\n{LINK}"),
        })))
        .respond_with(created("1870000000000000001"))
        .expect(1)
        .mount(&server)
        .await;
    let (inc, first) = incident();
    let report = dispatcher(Arc::new(channel(&server)))
        .publish(&inc, &first)
        .await
        .unwrap();
    assert!(report.all_sent(), "{report:?}");
    let receipt = report.deliveries[0].outcome.receipt().unwrap();
    assert_eq!(
        receipt.message_ref.as_ref().unwrap().as_str(),
        "1870000000000000001"
    );
    assert_eq!(receipt.status, Some(201));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert!(
        !requests[0].headers.contains_key("idempotency-key"),
        "X takes no idempotency key"
    );
}

#[tokio::test]
async fn updates_and_resolution_reply_to_the_previous_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TWEETS))
        .and(body_json(json!({
            "text": format!("[Investigating] API errors\n\nSome API requests fail.\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:33 UTC.\n{LINK}"),
        })))
        .respond_with(created("1001"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TWEETS))
        .and(body_json(json!({
            "text": format!("[Identified] API errors\n\nFound it.\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:50 UTC.\n{LINK}"),
            "reply": {"in_reply_to_tweet_id": "1001"},
        })))
        .respond_with(created("1002"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TWEETS))
        .and(body_partial_json(
            json!({"reply": {"in_reply_to_tweet_id": "1002"}}),
        ))
        .respond_with(created("1003"))
        .expect(1)
        .mount(&server)
        .await;
    let d = dispatcher(Arc::new(channel(&server)));
    let (mut inc, first) = incident();
    assert!(d.publish(&inc, &first).await.unwrap().all_sent());
    let second = post(&mut inc, Status::Identified, 20, "Found it.");
    assert!(d.publish(&inc, &second).await.unwrap().all_sent());
    let resolved = post(&mut inc, Status::Resolved, 40, "Fixed.");
    let report = d.publish(&inc, &resolved).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    let last = text_of(&requests[2]);
    assert!(
        last.starts_with("[Resolved] API errors") && last.ends_with(LINK),
        "{last}"
    );
}

#[tokio::test]
async fn user_text_mentions_nobody() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created("1"))
        .mount(&server)
        .await;
    let (mut inc, _) = incident();
    let hostile = post(
        &mut inc,
        Status::Identified,
        10,
        "@everyone @someone ＠XSupport .@elonmusk RT:@x, see https://evil.example/@z and status.example.com #outage $TSLA",
    );
    dispatcher(Arc::new(channel(&server)))
        .publish(&inc, &hostile)
        .await
        .unwrap();
    let text = text_of(&server.received_requests().await.unwrap()[0]);
    let z = '\u{200B}';
    assert!(
        text.contains(&format!(
            "@{z}everyone @{z}someone ＠{z}XSupport .@{z}elonmusk RT:@{z}x, see https://evil.example/@{z}z and status.example.com #outage $TSLA"
        )),
        "{text}"
    );
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if matches!(c, '@' | '＠') {
            let in_word = i > 0 && (chars[i - 1].is_ascii_alphanumeric() || chars[i - 1] == '_');
            assert!(in_word || chars.get(i + 1) == Some(&z), "{text}");
        }
    }
    assert!(text.ends_with(&format!("\n{LINK}")));
}

#[tokio::test]
async fn long_wide_updates_fit_280_weighted_characters() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created("1"))
        .mount(&server)
        .await;
    let (mut inc, _) = incident();
    let body = "障害が発生しています 👩‍💻 see https://docs.example.com/outages/2026/11/25/api-errors-eu café ".repeat(10);
    let update = post(&mut inc, Status::Identified, 10, &body);
    dispatcher(Arc::new(channel(&server)))
        .publish(&inc, &update)
        .await
        .unwrap();
    let text = text_of(&server.received_requests().await.unwrap()[0]);
    let weight = weighted_length(&text);
    assert!(weight <= MAX_WEIGHTED_LENGTH, "{weight}: {text}");
    assert!(weight >= 270, "fitting uses the room it has: {weight}");
    assert!(
        text.ends_with(&format!("\n{LINK}")) && text.contains('…'),
        "{text}"
    );
}

#[tokio::test]
async fn a_post_over_the_limit_is_refused_before_any_request() {
    let server = MockServer::start().await;
    let x = channel(&server);
    let (inc, first) = incident();
    let message = Templates::new()
        .render(&inc, &first, &Audience::Customers, Detail::Public)
        .unwrap();
    let delivery = Delivery::new(
        "x",
        Arc::new(inc),
        Arc::new(first),
        Audience::Customers,
        Detail::Public,
        target("timeline"),
        Arc::new(message),
        format!("{}\n{LINK}", "障".repeat(140)),
        Arc::new(LINK.parse().unwrap()),
    );
    let err = x.send(&delivery).await.unwrap_err();
    assert_eq!(err.kind().as_str(), "rejected", "{err}");
    assert!(err.to_string().contains("at most 280"), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn rate_limits_wait_until_x_rate_limit_reset() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let err = failure_for(
        problem(429, "Too Many Requests", "Too Many Requests", "about:blank")
            .insert_header("x-rate-limit-limit", "200")
            .insert_header("x-rate-limit-remaining", "0")
            .insert_header("x-rate-limit-reset", (now + 600).to_string().as_str()),
    )
    .await;
    let ChannelError::RateLimited {
        retry_after: Some(after),
    } = err
    else {
        panic!("{err}")
    };
    assert!(
        (Duration::from_secs(598)..=Duration::from_secs(600)).contains(&after),
        "{after:?}"
    );
    // The 24-hour user cap is used up: its reset, not the window's.
    let err = failure_for(
        problem(429, "Too Many Requests", "Too Many Requests", "about:blank")
            .insert_header("x-rate-limit-remaining", "150")
            .insert_header("x-rate-limit-reset", (now + 600).to_string().as_str())
            .insert_header("x-user-limit-24hour-limit", "100")
            .insert_header("x-user-limit-24hour-remaining", "0")
            .insert_header(
                "x-user-limit-24hour-reset",
                (now + 7_200).to_string().as_str(),
            ),
    )
    .await;
    let after = err.retry_after().unwrap();
    assert!(
        (Duration::from_secs(7_198)..=Duration::from_secs(7_200)).contains(&after),
        "{after:?}"
    );
}

#[tokio::test]
async fn auth_failures_are_configuration_errors() {
    let err = failure_for(problem(401, "Unauthorized", "Unauthorized", "about:blank")).await;
    assert!(matches!(err, ChannelError::Config { .. }), "{err}");
    // An app-only bearer token cannot post.
    let err = failure_for(problem(
        403,
        "Unsupported Authentication",
        "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
        "https://api.twitter.com/2/problems/unsupported-authentication",
    ))
    .await;
    assert!(matches!(err, ChannelError::Config { .. }), "{err}");
    assert!(err.to_string().contains("user access token"), "{err}");
}

#[tokio::test]
async fn refused_posts_are_permanent() {
    let err = failure_for(problem(
        403,
        "Forbidden",
        "You are not allowed to create a Tweet with duplicate content.",
        "about:blank",
    ))
    .await;
    assert_eq!(err.kind().as_str(), "rejected", "{err}");
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("duplicate content"), "{err}");
    let err = failure_for(ResponseTemplate::new(400).set_body_json(json!({
        "errors": [{"parameters": {"reply.in_reply_to_tweet_id": ["1001"]}, "message": "The reply.in_reply_to_tweet_id query parameter value [1001] is not valid"}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    })))
    .await;
    assert_eq!(err.kind().as_str(), "rejected", "{err}");
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("Invalid Request"), "{err}");
}

#[tokio::test]
async fn server_errors_and_timeouts_are_transient() {
    for status in [500, 502, 503, 504] {
        let err = failure_for(problem(
            status,
            "Service Unavailable",
            "Service Unavailable",
            "about:blank",
        ))
        .await;
        assert_eq!(err.kind().as_str(), "transient", "{err}");
        assert_eq!(err.status(), Some(status));
    }
    let err = failure_for(ResponseTemplate::new(201).set_delay(Duration::from_secs(3))).await;
    assert_eq!(
        err,
        ChannelError::Timeout {
            after: Duration::from_millis(500)
        }
    );
}

#[tokio::test]
async fn a_refreshed_token_is_used_for_the_next_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(created("1001"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer SECRET-refreshed"))
        .and(body_partial_json(
            json!({"reply": {"in_reply_to_tweet_id": "1001"}}),
        ))
        .respond_with(created("1002"))
        .expect(1)
        .mount(&server)
        .await;
    let x = Arc::new(channel(&server));
    let d = dispatcher(x.clone());
    let (mut inc, first) = incident();
    assert!(d.publish(&inc, &first).await.unwrap().all_sent());
    x.set_access_token("SECRET-refreshed").unwrap();
    let second = post(&mut inc, Status::Identified, 20, "Found it.");
    assert!(d.publish(&inc, &second).await.unwrap().all_sent());
    assert!(!format!("{x:?}").contains("SECRET"));
    assert!(!format!("{d:?}").contains("SECRET"));
}
