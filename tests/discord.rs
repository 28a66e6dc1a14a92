//! Discord webhooks against a real HTTP server on 127.0.0.1: exact requests,
//! escaping, length limits, and Discord's real failure answers.
#![cfg(feature = "discord")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::*;
use tidings::channel::ChannelError;
use tidings::channel::chat::discord::{DiscordChannel, DiscordWebhook, MAX_CONTENT};
use tidings::channel::memory::MemoryChannel;
use tidings::channel::{BuildError, HttpOptions};
use tidings::journal::Failure;
use tidings::prelude::*;
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "SECRET-webhook-token-Zx81";
const HOOK_PATH: &str = "/api/webhooks/1180000000000000001/SECRET-webhook-token-Zx81";
const LINK: &str = "[View status page](https://status.example.com/incidents/inc-7)";

fn hook_url(server: &MockServer) -> String {
    format!("{}{HOOK_PATH}", server.uri())
}

/// Discord's answer to `?wait=true`: the Message object.
fn message(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("X-RateLimit-Limit", "5")
        .insert_header("X-RateLimit-Remaining", "4")
        .insert_header("X-RateLimit-Reset-After", "2")
        .set_body_json(json!({
            "id": id,
            "type": 0,
            "content": "…",
            "channel_id": "1180000000000000007",
            "author": {"bot": true, "id": "1180000000000000001", "username": "Status"},
            "webhook_id": "1180000000000000001",
        }))
}

fn dispatcher(discord: DiscordChannel, audience: Audience, targets: &[&str]) -> Dispatcher {
    dispatcher_with(
        discord,
        Route::new("discord", targets.iter().map(|t| target(t))),
        audience,
    )
}

fn dispatcher_with(discord: DiscordChannel, route: Route, audience: Audience) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("discord", Arc::new(discord))
        .audience(AudiencePolicy::new(audience).route(route))
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

fn channel(server: &MockServer) -> DiscordChannel {
    DiscordChannel::builder()
        .webhook("ops", hook_url(server))
        .build()
        .unwrap()
}

/// Publishes the first update to `ops` and returns the channel's error.
async fn failure(discord: DiscordChannel) -> ChannelError {
    let (inc, first) = incident();
    let report = dispatcher(discord, Audience::Customers, &["ops"])
        .publish(&inc, &first)
        .await
        .unwrap();
    let err = report
        .all()
        .find_map(|d| d.outcome.channel_error())
        .expect("the delivery fails");
    err.clone()
}

async fn failure_for(response: ResponseTemplate) -> ChannelError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    failure(channel(&server)).await
}

fn content_of(request: &wiremock::Request) -> String {
    let body: serde_json::Value = request.body_json().unwrap();
    body["content"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn executes_the_webhook_with_wait_and_keeps_the_message_id() {
    let server = MockServer::start().await;
    let content = format!(
        "\\[Investigating\\] API errors\n\nSome API requests fail.\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:33 UTC.\n{LINK}"
    );
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .and(query_param("wait", "true"))
        .and(query_param_is_missing("thread_id"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "content": content,
            "allowed_mentions": {"parse": []},
        })))
        .respond_with(message("1180000000000000042"))
        .expect(1)
        .mount(&server)
        .await;
    let (inc, first) = incident();
    let report = dispatcher(channel(&server), Audience::Customers, &["ops"])
        .publish(&inc, &first)
        .await
        .unwrap();
    assert!(report.all_sent(), "{report:?}");
    let receipt = report.deliveries[0].outcome.receipt().unwrap();
    assert_eq!(
        receipt.message_ref.as_ref().unwrap().as_str(),
        "1180000000000000042"
    );
    assert_eq!(receipt.status, Some(200));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].url.query(), Some("wait=true"));
    assert!(!content_of(&requests[0]).contains("SECRET-NOTE"));
}

#[tokio::test]
async fn posts_into_the_configured_thread_under_the_configured_name() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .and(query_param("wait", "true"))
        .and(query_param("thread_id", "1180000000000000099"))
        .respond_with(message("1180000000000000043"))
        .expect(2)
        .mount(&server)
        .await;
    let discord = DiscordChannel::builder()
        .webhook(
            "ops-thread",
            DiscordWebhook::new(hook_url(&server))
                .thread_id("1180000000000000099")
                .username("Status"),
        )
        .build()
        .unwrap();
    let d = dispatcher(discord, Audience::CoreResponders, &["ops-thread"]);
    let (mut inc, first) = incident();
    assert!(d.publish(&inc, &first).await.unwrap().all_sent());
    let second = post(&mut inc, Status::Identified, 20, "Found it.");
    assert!(d.publish(&inc, &second).await.unwrap().all_sent());
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests[0].url.query(),
        Some("wait=true&thread_id=1180000000000000099")
    );
    let body: serde_json::Value = requests[1].body_json().unwrap();
    assert_eq!(
        body,
        json!({
            "content": format!("\\[Identified\\] API errors\n\nFound it.\n\nImpact: major. Started 2026-11-25 14:00 UTC (20 min before this update).\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:50 UTC.\n{LINK}"),
            "allowed_mentions": {"parse": []},
            "username": "Status",
        })
    );
    assert!(
        content_of(&requests[0]).contains("SECRET-NOTE"),
        "responders see internal notes"
    );
}

#[tokio::test]
async fn rate_limit_answers_map_to_the_right_delay() {
    // Discord's documented 429 for a per-route limit: the body's fractional
    // retry_after wins over the rounded Retry-After header.
    let err = failure_for(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "65")
            .insert_header("X-RateLimit-Limit", "10")
            .insert_header("X-RateLimit-Remaining", "0")
            .insert_header("X-RateLimit-Reset", "1470173023.123")
            .insert_header("X-RateLimit-Reset-After", "64.57")
            .insert_header("X-RateLimit-Bucket", "abcd1234")
            .insert_header("X-RateLimit-Scope", "user")
            .set_body_json(json!({
                "message": "You are being rate limited.",
                "retry_after": 64.57,
                "global": false,
            })),
    )
    .await;
    assert_eq!(
        err,
        ChannelError::RateLimited {
            retry_after: Some(Duration::from_secs_f64(64.57))
        }
    );
    // The global limit.
    let err = failure_for(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "1")
            .insert_header("X-RateLimit-Global", "true")
            .insert_header("X-RateLimit-Scope", "global")
            .set_body_json(json!({
                "message": "You are being rate limited.",
                "retry_after": 0.75,
                "global": true,
            })),
    )
    .await;
    assert_eq!(err.retry_after(), Some(Duration::from_millis(750)));
    assert!(err.is_retryable());
    // A Cloudflare ban: no JSON, only the header.
    let err = failure_for(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "7")
            .set_body_string("<html>error code: 1015</html>"),
    )
    .await;
    assert_eq!(
        err,
        ChannelError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert!(!err.to_string().contains("html"));
}

#[tokio::test]
async fn server_errors_are_transient() {
    for (status, body) in [
        (
            500,
            json!({"message": "500: Internal Server Error", "code": 0}),
        ),
        (502, json!("<html>502 Bad Gateway</html>")),
        (503, json!({"message": "upstream connect error", "code": 0})),
    ] {
        let response = match body.as_str() {
            Some(html) => ResponseTemplate::new(status).set_body_string(html),
            None => ResponseTemplate::new(status).set_body_json(body),
        }
        .insert_header("Retry-After", "2");
        let err = failure_for(response).await;
        assert_eq!(err.kind().as_str(), "transient", "{err}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    }
}

#[tokio::test]
async fn a_deleted_webhook_is_invalid_and_never_called_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"message": "Unknown Webhook", "code": 10015})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let d = dispatcher(channel(&server), Audience::Customers, &["ops"]);
    let (mut inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();
    let (_, failure) = report.failures().next().unwrap();
    let Failure::Channel(err @ ChannelError::InvalidTarget { .. }) = failure else {
        panic!("{failure:?}")
    };
    let text = err.to_string();
    assert!(text.contains("Unknown Webhook (code 10015)"), "{text}");
    assert!(text.contains("deleted") && !text.contains(TOKEN), "{text}");
    assert!(!err.is_retryable());
    // Discord: "If a webhook returns a 404 status you should not attempt to
    // use it again."
    let second = post(&mut inc, Status::Identified, 20, "Found it.");
    let report = d.publish(&inc, &second).await.unwrap();
    let (_, failure) = report.failures().next().unwrap();
    assert!(
        matches!(
            failure,
            Failure::Channel(ChannelError::InvalidTarget { .. })
        ),
        "{failure:?}"
    );
}

#[tokio::test]
async fn client_errors_are_permanent_with_discords_code() {
    let err = failure_for(
        ResponseTemplate::new(401)
            .set_body_json(json!({"message": "Invalid Webhook Token", "code": 50027})),
    )
    .await;
    assert!(matches!(err, ChannelError::Config { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("Invalid Webhook Token (code 50027)")
    );
    let err = failure_for(ResponseTemplate::new(400).set_body_json(json!({
        "message": "Invalid Form Body",
        "code": 50035,
        "errors": {"username": {"_errors": [{"code": "USERNAME_INVALID_CONTAINS", "message": "Username cannot contain \"discord\""}]}},
    })))
    .await;
    assert_eq!(err.status(), Some(400));
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .contains("Invalid Form Body (code 50035) in username"),
        "{err}"
    );
    assert!(!err.to_string().contains("USERNAME_INVALID"), "{err}");
    let err = failure_for(
        ResponseTemplate::new(403)
            .set_body_json(json!({"message": "Missing Permissions", "code": 50013})),
    )
    .await;
    assert!(
        matches!(
            err,
            ChannelError::Rejected {
                status: Some(403),
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_hanging_discord_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(message("1").set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let discord = DiscordChannel::builder()
        .webhook("ops", hook_url(&server))
        .http(HttpOptions::new().timeout(Duration::from_millis(200)))
        .build()
        .unwrap();
    let err = failure(discord).await;
    assert_eq!(
        err,
        ChannelError::Timeout {
            after: Duration::from_millis(200)
        }
    );
}

#[tokio::test]
async fn user_text_cannot_mention_format_or_link() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(message("1"))
        .mount(&server)
        .await;
    let mut inc = Incident::new(
        IncidentId::new("inc-7").unwrap(),
        "@everyone <@&123> *API* errors",
        Impact::Major,
        t0(),
    )
    .unwrap();
    let first = inc
        .post(UpdateDraft::new(
            Status::Investigating,
            t0(),
            "<b>x</b> a&b @channel @here [x](https://evil.example) **bold** ||spoiler|| `code` ~~no~~ <https://evil.example>\n# heading\n> quote\n-# small",
        ).next_update_at(t0() + minutes(30)))
        .unwrap()
        .clone();
    let report = dispatcher(channel(&server), Audience::Customers, &["ops"])
        .publish(&inc, &first)
        .await
        .unwrap();
    assert!(report.all_sent(), "{report:?}");
    let requests = server.received_requests().await.unwrap();
    let body: serde_json::Value = requests[0].body_json().unwrap();
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    let content = content_of(&requests[0]);
    let zwsp = '\u{200B}';
    assert!(
        content.starts_with(&format!(
            "\\[Investigating\\] @{zwsp}everyone \\<@{zwsp}&123> \\*API\\* errors\n\n"
        )),
        "{content}"
    );
    assert!(
        content.contains(&format!(
            "\\<b>x\\</b> a&b @{zwsp}channel @{zwsp}here \\[x\\](https://evil.example) \\*\\*bold\\*\\* \\|\\|spoiler\\|\\| \\`code\\` \\~\\~no\\~\\~ \\<https://evil.example>\n\\# heading\n\\> quote\n\\-# small"
        )),
        "{content}"
    );
    for mention in ["@everyone", "@here", "@channel", "<@&"] {
        assert!(!content.contains(mention), "{mention} in {content}");
    }
    assert_eq!(
        content.replace("\\](", "").matches("](").count(),
        1,
        "the only link is the status page: {content}"
    );
    assert!(content.ends_with(LINK), "{content}");
}

#[tokio::test]
async fn long_text_stays_within_2000_characters_and_keeps_the_link() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(message("1"))
        .mount(&server)
        .await;
    let (mut inc, _) = incident();
    let long = post(
        &mut inc,
        Status::Identified,
        10,
        &"*Ünïcödé* (✓) [a] 👩‍👩‍👧 @here <x> _u_ ".repeat(200),
    );
    for overflow in [Overflow::Shorten, Overflow::split(4)] {
        let route = Route::new("discord", [target("ops")]).overflow(overflow);
        let report = dispatcher_with(channel(&server), route, Audience::Customers)
            .publish(&inc, &long)
            .await
            .unwrap();
        assert!(report.all_sent(), "{report:?}");
    }
    let requests = server.received_requests().await.unwrap();
    assert!(requests.len() >= 3, "one shortened message, then parts");
    for request in &requests {
        // Discord counts code points (Python 3's `len`).
        let content = content_of(request);
        let n = content.chars().count();
        assert!(n <= MAX_CONTENT, "{n} characters");
        assert!(content.ends_with(LINK), "link kept whole: {content}");
    }
    assert!(
        content_of(&requests[0]).chars().count() > MAX_CONTENT * 3 / 4,
        "the limit is used, not wasted"
    );
}

/// The limit is measured on exactly what Discord receives: a text with no
/// word to cut at, all of it escaped, fills the content to within one
/// escaped grapheme of 2,000 code points, and a link with parentheses stays
/// one whole masked link.
#[tokio::test]
async fn the_limit_is_measured_on_the_content_discord_receives() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(message("1"))
        .mount(&server)
        .await;
    // The primary's permalink, https://status.example.com/(eu)/incidents/inc-7.
    let primary = MemoryChannel::primary("https://status.example.com/(eu)/".parse().unwrap());
    let masked = "[View status page](https://status.example.com/%28eu%29/incidents/inc-7)";
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", Arc::new(primary))
        .channel("discord", Arc::new(channel(&server)))
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("discord", [target("ops")]).overflow(Overflow::split(3))),
        )
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let (mut inc, _) = incident();
    let long = post(&mut inc, Status::Identified, 10, &"*(<@1>)👩‍👩‍👧".repeat(2_000));
    let report = d.publish(&inc, &long).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    for (i, request) in requests.iter().enumerate() {
        let content = content_of(request);
        let n = content.chars().count();
        assert!(n <= MAX_CONTENT, "{n} characters");
        if i < 2 {
            assert!(n > MAX_CONTENT - 16, "within a grapheme of the limit: {n}");
        }
        assert!(content.ends_with(&format!("\n{masked}")), "{content}");
        assert_eq!(content.matches("](").count(), 1, "one link: {content}");
    }
}

#[tokio::test]
async fn webhook_urls_never_appear_in_debug_or_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"message": "Unknown Webhook", "code": 10015})),
        )
        .mount(&server)
        .await;
    let webhook = DiscordWebhook::new(hook_url(&server)).thread_id("1180000000000000099");
    let builder = DiscordChannel::builder().webhook("ops", webhook.clone());
    let discord = builder.build().unwrap();
    let mut errors = vec![failure(discord).await];
    // Nothing listens on port 9 (discard) of the loopback address.
    errors.push(
        failure(
            DiscordChannel::builder()
                .webhook("ops", format!("http://127.0.0.1:9{HOOK_PATH}"))
                .build()
                .unwrap(),
        )
        .await,
    );
    let refused = DiscordChannel::builder()
        .webhook("ops", format!("http://discord.example{HOOK_PATH}"))
        .build()
        .unwrap_err();
    assert!(
        matches!(refused, BuildError::InvalidUrl { .. }),
        "{refused:?}"
    );
    let builder = DiscordChannel::builder().webhook("ops", webhook.clone());
    let shown = [
        format!("{webhook:?}"),
        format!("{builder:?}"),
        format!("{:?}", builder.build().unwrap()),
        refused.to_string(),
        format!("{refused:?}"),
    ];
    for text in shown.iter().cloned().chain(
        errors
            .iter()
            .flat_map(|e| [e.to_string(), format!("{e:?}")]),
    ) {
        assert!(!text.contains(TOKEN), "{text}");
        assert!(!text.contains("/api/webhooks"), "{text}");
    }
}
