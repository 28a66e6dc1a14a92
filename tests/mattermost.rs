//! Mattermost incoming webhooks against a real HTTP server on 127.0.0.1:
//! exact requests, escaping, length limits, and Mattermost's real failure
//! answers.
#![cfg(feature = "mattermost")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::*;
use tidings::channel::ChannelError;
use tidings::channel::chat::mattermost::{MAX_TEXT, MattermostChannel, MattermostWebhook};
use tidings::channel::memory::MemoryChannel;
use tidings::channel::{BuildError, HttpOptions};
use tidings::prelude::*;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "SECRETkey8s4qzjw3xbm1tgc9ehy";
const HOOK_PATH: &str = "/hooks/SECRETkey8s4qzjw3xbm1tgc9ehy";
const LINK: &str = "[View status page](https://status.example.com/incidents/inc-7)";

fn hook_url(server: &MockServer) -> String {
    format!("{}{HOOK_PATH}", server.uri())
}

/// Mattermost's success answer.
fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/plain")
        .set_body_string("ok")
}

/// Mattermost's error body (an AppError), as the server serialises it.
fn app_error(status: u16, id: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "id": id,
        "message": message,
        "detailed_error": "",
        "request_id": "5xkqz8ftjbn3fgbgffjwr3nq6c",
        "status_code": status,
    }))
}

fn dispatcher_with(mattermost: MattermostChannel, route: Route, audience: Audience) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("mattermost", Arc::new(mattermost))
        .audience(AudiencePolicy::new(audience).route(route))
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

fn dispatcher(mattermost: MattermostChannel) -> Dispatcher {
    dispatcher_with(
        mattermost,
        Route::new("mattermost", [target("ops")]),
        Audience::Employees,
    )
}

fn channel(server: &MockServer) -> MattermostChannel {
    MattermostChannel::builder()
        .webhook("ops", hook_url(server))
        .build()
        .unwrap()
}

/// Publishes the first update to `ops` and returns the channel's error.
async fn failure(mattermost: MattermostChannel) -> ChannelError {
    let (inc, first) = incident();
    let report = dispatcher(mattermost).publish(&inc, &first).await.unwrap();
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

fn text_of(request: &wiremock::Request) -> String {
    let body: serde_json::Value = request.body_json().unwrap();
    body["text"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn posts_json_text_to_the_hook() {
    let server = MockServer::start().await;
    let text = format!(
        "\\[Investigating\\] API errors\n\nSome API requests fail.\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:33 UTC.\n{LINK}"
    );
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"text": text})))
        .respond_with(ok())
        .expect(1)
        .mount(&server)
        .await;
    let (inc, first) = incident();
    let report = dispatcher(channel(&server))
        .publish(&inc, &first)
        .await
        .unwrap();
    assert!(report.all_sent(), "{report:?}");
    let receipt = report.deliveries[0].outcome.receipt().unwrap();
    assert_eq!(receipt.status, Some(200));
    assert_eq!(receipt.message_ref, None, "webhooks return no post id");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].url.query(), None);
}

#[tokio::test]
async fn channel_and_username_overrides_are_sent_when_configured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(ok())
        .expect(2)
        .mount(&server)
        .await;
    let mattermost = MattermostChannel::builder()
        .webhook(
            "ops",
            MattermostWebhook::new(hook_url(&server))
                .channel("ops-incidents")
                .username("Status"),
        )
        .webhook(
            "dm",
            MattermostWebhook::new(hook_url(&server)).channel("@alice"),
        )
        .build()
        .unwrap();
    let route = Route::new("mattermost", [target("ops"), target("dm")]);
    let (inc, first) = incident();
    let report = dispatcher_with(mattermost, route, Audience::Employees)
        .publish(&inc, &first)
        .await
        .unwrap();
    assert!(report.all_sent(), "{report:?}");
    let mut bodies: Vec<serde_json::Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.body_json().unwrap())
        .collect();
    bodies.sort_by_key(|b| b["channel"].as_str().unwrap().to_owned());
    let text = bodies[0]["text"].clone();
    assert_eq!(bodies[0], json!({"text": text, "channel": "@alice"}));
    assert_eq!(
        bodies[1],
        json!({"text": text, "channel": "ops-incidents", "username": "Status"})
    );
}

#[tokio::test]
async fn mattermost_failures_map_to_what_to_do_next() {
    let cases = [
        (
            app_error(
                400,
                "web.incoming_webhook.invalid.app_error",
                "Invalid webhook.",
            ),
            "invalid_target",
        ),
        (
            app_error(
                501,
                "web.incoming_webhook.disabled.app_error",
                "Incoming webhooks have been disabled by the system admin.",
            ),
            "config",
        ),
        (
            app_error(
                403,
                "web.incoming_webhook.channel_locked.app_error",
                "This webhook is not permitted to post to the requested channel.",
            ),
            "config",
        ),
        (
            app_error(
                404,
                "web.incoming_webhook.channel.app_error",
                "Couldn't find the channel.",
            ),
            "invalid_target",
        ),
        (
            app_error(
                400,
                "web.incoming_webhook.parse.app_error",
                "Unable to parse incoming data.",
            ),
            "rejected",
        ),
        (
            app_error(
                500,
                "app.channel.get.find.app_error",
                "Unable to find the existing channel.",
            ),
            "transient",
        ),
        (
            ResponseTemplate::new(502).set_body_string("<html>502 Bad Gateway</html>"),
            "transient",
        ),
        (
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .insert_header("X-Ratelimit-Limit", "10")
                .insert_header("X-Ratelimit-Remaining", "0")
                .insert_header("X-Ratelimit-Reset", "1")
                .set_body_string("limit exceeded\n"),
            "rate_limited",
        ),
    ];
    for (response, kind) in cases {
        let err = failure_for(response).await;
        assert_eq!(err.kind().as_str(), kind, "{err}");
        assert!(!err.to_string().contains(KEY), "{err}");
        assert!(
            !err.to_string().contains("5xkqz8"),
            "no body fields but the id: {err}"
        );
        if kind == "rate_limited" {
            assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
        }
    }
}

#[tokio::test]
async fn a_hanging_mattermost_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok().set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let mattermost = MattermostChannel::builder()
        .webhook("ops", hook_url(&server))
        .http(HttpOptions::new().timeout(Duration::from_millis(200)))
        .build()
        .unwrap();
    assert_eq!(
        failure(mattermost).await,
        ChannelError::Timeout {
            after: Duration::from_millis(200)
        }
    );
}

#[tokio::test]
async fn user_text_cannot_mention_format_or_link() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok())
        .mount(&server)
        .await;
    let (mut inc, _) = incident();
    let hostile = post(
        &mut inc,
        Status::Identified,
        10,
        "<!channel> <!here> <!all> <@abc123> @channel @all @here a&b <b>x</b> *em* **bold** [x](https://evil.example) ~town-square `code`\n# heading\n> quote",
    );
    dispatcher(channel(&server))
        .publish(&inc, &hostile)
        .await
        .unwrap();
    let text = text_of(&server.received_requests().await.unwrap()[0]);
    let z = '\u{200B}';
    assert!(
        text.contains(&format!(
            "\\<{z}!channel> \\<{z}!here> \\<{z}!all> \\<@{z}abc123> @{z}channel @{z}all @{z}here a&b \\<b>x\\</b> \\*em\\* \\*\\*bold\\*\\* \\[x\\](https://evil.example) \\~town-square \\`code\\`\n\\# heading\n\\> quote"
        )),
        "{text}"
    );
    // Mattermost rewrites Slack's <!channel> and <@id> in webhook text: none
    // may survive.
    for mention in [
        "<!channel>",
        "<!here>",
        "<!all>",
        "<@abc",
        "@channel",
        "@all",
        "@here",
    ] {
        assert!(!text.contains(mention), "{mention} in {text}");
    }
    assert_eq!(
        text.replace("\\](", "").matches("](").count(),
        1,
        "the only link is the status page: {text}"
    );
    assert!(text.ends_with(LINK), "{text}");
}

#[tokio::test]
async fn long_text_stays_within_the_post_limit_and_keeps_the_link() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok())
        .mount(&server)
        .await;
    let (mut inc, _) = incident();
    let long = post(
        &mut inc,
        Status::Identified,
        10,
        &"*Ünïcödé* (✓) [a] 👩‍👩‍👧 <!here> <x> _u_ ".repeat(1_500),
    );
    for (max, overflow) in [(MAX_TEXT, Overflow::Shorten), (4_000, Overflow::split(3))] {
        let mattermost = MattermostChannel::builder()
            .webhook("ops", hook_url(&server))
            .max_text(max)
            .build()
            .unwrap();
        let route = Route::new("mattermost", [target("ops")]).overflow(overflow);
        let report = dispatcher_with(mattermost, route, Audience::Employees)
            .publish(&inc, &long)
            .await
            .unwrap();
        assert!(report.all_sent(), "{report:?}");
    }
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 4, "one shortened post, then three parts");
    for (i, request) in requests.iter().enumerate() {
        let text = text_of(request);
        let max = if i == 0 { MAX_TEXT } else { 4_000 };
        assert!(
            text.chars().count() <= max,
            "{} chars",
            text.chars().count()
        );
        assert!(text.ends_with(LINK), "link kept whole");
    }
}

/// The limit is measured on exactly what Mattermost receives: a text with no
/// word to cut at, all of it escaped, fills each post to within one escaped
/// grapheme of the limit in runes (as the server counts), and a link with
/// parentheses stays one whole masked link.
#[tokio::test]
async fn the_limit_is_measured_on_the_text_mattermost_receives() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok())
        .mount(&server)
        .await;
    // The primary's permalink, https://status.example.com/(eu)/incidents/inc-7.
    let primary = MemoryChannel::primary("https://status.example.com/(eu)/".parse().unwrap());
    let masked = "[View status page](https://status.example.com/%28eu%29/incidents/inc-7)";
    let max = 4_000;
    let mattermost = MattermostChannel::builder()
        .webhook("ops", hook_url(&server))
        .max_text(max)
        .build()
        .unwrap();
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", Arc::new(primary))
        .channel("mattermost", Arc::new(mattermost))
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("mattermost", [target("ops")]).overflow(Overflow::split(3))),
        )
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let (mut inc, _) = incident();
    let long = post(
        &mut inc,
        Status::Identified,
        10,
        &"*(<!all>)👩‍👩‍👧".repeat(2_000),
    );
    let report = d.publish(&inc, &long).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    for (i, request) in requests.iter().enumerate() {
        let text = text_of(request);
        let n = text.chars().count();
        assert!(n <= max, "{n} runes");
        if i < 2 {
            assert!(n > max - 16, "within a grapheme of the limit: {n}");
        }
        assert!(text.ends_with(&format!("\n{masked}")), "{text}");
        assert_eq!(text.matches("](").count(), 1, "one link: {text}");
        assert!(!text.contains("<!"), "{text}");
    }
}

#[tokio::test]
async fn webhook_urls_never_appear_in_debug_or_errors() {
    let server = MockServer::start().await;
    let webhook = MattermostWebhook::new(hook_url(&server)).channel("ops-incidents");
    let errors = [
        failure_for(app_error(
            400,
            "web.incoming_webhook.invalid.app_error",
            "Invalid webhook.",
        ))
        .await,
        failure(
            MattermostChannel::builder()
                .webhook("ops", format!("http://127.0.0.1:9{HOOK_PATH}"))
                .build()
                .unwrap(),
        )
        .await,
    ];
    let refused = MattermostChannel::builder()
        .webhook("ops", format!("http://chat.example.com{HOOK_PATH}"))
        .build()
        .unwrap_err();
    assert!(
        matches!(refused, BuildError::InvalidUrl { .. }),
        "{refused:?}"
    );
    let builder = MattermostChannel::builder().webhook("ops", webhook.clone());
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
        assert!(!text.contains(KEY) && !text.contains("/hooks/"), "{text}");
    }
}
