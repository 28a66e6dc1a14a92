//! Mastodon against a real HTTP server on 127.0.0.1: exact requests, threaded
//! updates, defused mentions, length, and Mastodon's real failure answers.
#![cfg(feature = "mastodon")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::*;
use tidings::channel::HttpOptions;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::social::mastodon::{MastodonChannel, Visibility, status_length};
use tidings::channel::{ChannelError, IdempotencyKey};
use tidings::prelude::*;
use wiremock::matchers::{body_json, body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "SECRET-mastodon-token-Qw7";
const LINK: &str = "https://status.example.com/incidents/inc-7";
const STATUSES: &str = "/api/v1/statuses";

/// Mastodon's answer to a created status: the Status entity.
fn status(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("X-RateLimit-Limit", "300")
        .insert_header("X-RateLimit-Remaining", "299")
        .insert_header("X-RateLimit-Reset", "2026-11-25T14:05:00.000Z")
        .set_body_json(json!({
            "id": id,
            "created_at": "2026-11-25T14:03:00.000Z",
            "in_reply_to_id": null,
            "visibility": "public",
            "uri": format!("https://mastodon.example/users/status/statuses/{id}"),
            "url": format!("https://mastodon.example/@status/{id}"),
            "content": "<p>…</p>",
            "account": {"id": "1", "username": "status", "acct": "status"},
        }))
}

fn channel(server: &MockServer) -> MastodonChannel {
    MastodonChannel::builder(server.uri(), TOKEN)
        .http(HttpOptions::new().timeout(Duration::from_millis(500)))
        .build()
        .unwrap()
}

fn dispatcher(mastodon: MastodonChannel) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("mastodon", Arc::new(mastodon))
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("mastodon", [target("timeline")])),
        )
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

/// Publishes the first update and returns the channel's error.
async fn failure(mastodon: MastodonChannel) -> ChannelError {
    let (inc, first) = incident();
    let report = dispatcher(mastodon).publish(&inc, &first).await.unwrap();
    let err = report
        .all()
        .find_map(|d| d.outcome.channel_error())
        .expect("the delivery fails");
    assert!(!err.to_string().contains(TOKEN), "{err}");
    assert!(!format!("{err:?}").contains(TOKEN), "{err:?}");
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

fn status_of(request: &Request) -> String {
    let body: serde_json::Value = request.body_json().unwrap();
    body["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn posts_a_status_with_the_token_and_the_idempotency_key() {
    let server = MockServer::start().await;
    let (inc, first) = incident();
    let key = IdempotencyKey::derive(inc.id(), first.seq, "mastodon", &target("timeline"), 1);
    Mock::given(method("POST"))
        .and(path(STATUSES))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("idempotency-key", key.as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "status": format!("[Investigating] API errors\n\nSome API requests fail.\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:33 UTC.\n{LINK}"),
            "visibility": "public",
        })))
        .respond_with(status("109347000000000001"))
        .expect(1)
        .mount(&server)
        .await;
    let report = dispatcher(channel(&server))
        .publish(&inc, &first)
        .await
        .unwrap();
    assert!(report.all_sent(), "{report:?}");
    let receipt = report.deliveries[0].outcome.receipt().unwrap();
    assert_eq!(
        receipt.message_ref.as_ref().unwrap().as_str(),
        "109347000000000001"
    );
    assert_eq!(receipt.status, Some(200));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method.as_str(), "POST");
    assert!(
        !status_of(&requests[0]).contains("SECRET-NOTE"),
        "customers never see internal notes"
    );
}

#[tokio::test]
async fn updates_and_resolution_reply_to_the_previous_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(STATUSES))
        .and(body_json(json!({
            "status": format!("[Investigating] API errors\n\nSome API requests fail.\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:33 UTC.\n{LINK}"),
            "visibility": "unlisted",
        })))
        .respond_with(status("1001"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(STATUSES))
        .and(body_json(json!({
            "status": format!("[Identified] API errors\n\nFound it.\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:50 UTC.\n{LINK}"),
            "visibility": "unlisted",
            "in_reply_to_id": "1001",
        })))
        .respond_with(status("1002"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(STATUSES))
        .and(body_partial_json(
            json!({"visibility": "unlisted", "in_reply_to_id": "1002"}),
        ))
        .respond_with(status("1003"))
        .expect(1)
        .mount(&server)
        .await;
    let mastodon = MastodonChannel::builder(server.uri(), TOKEN)
        .visibility(Visibility::Unlisted)
        .build()
        .unwrap();
    let d = dispatcher(mastodon);
    let (mut inc, first) = incident();
    assert!(d.publish(&inc, &first).await.unwrap().all_sent());
    let second = post(&mut inc, Status::Identified, 20, "Found it.");
    assert!(d.publish(&inc, &second).await.unwrap().all_sent());
    let resolved = post(&mut inc, Status::Resolved, 40, "Fixed.");
    let report = d.publish(&inc, &resolved).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    let last = status_of(&requests[2]);
    assert!(
        last.starts_with("[Resolved] API errors") && last.ends_with(LINK),
        "{last}"
    );
    // Three deliveries, three keys: a retry of one never dedups another.
    let keys: std::collections::HashSet<_> = requests
        .iter()
        .map(|r| r.headers["idempotency-key"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 3);
}

#[tokio::test]
async fn user_text_mentions_nobody_and_keeps_its_links() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(status("1"))
        .mount(&server)
        .await;
    let (mut inc, _) = incident();
    let hostile = post(
        &mut inc,
        Status::Identified,
        10,
        "@everyone @someone @admin@mastodon.example ＠x (@y) mail ops@example.com, see https://evil.example/@z #outage",
    );
    let report = dispatcher(channel(&server))
        .publish(&inc, &hostile)
        .await
        .unwrap();
    assert!(report.all_sent(), "{report:?}");
    let text = status_of(&server.received_requests().await.unwrap()[0]);
    let z = '\u{200B}';
    assert!(
        text.contains(&format!(
            "@{z}everyone @{z}someone @{z}admin@mastodon.example ＠{z}x (@{z}y) mail ops@example.com, see https://evil.example/@{z}z #outage"
        )),
        "{text}"
    );
    // No `@` that could start a mention is left: each one either follows a
    // letter or digit, or is followed by the zero-width space.
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if matches!(c, '@' | '＠') {
            let in_word = i > 0 && chars[i - 1].is_ascii_alphanumeric();
            assert!(in_word || chars.get(i + 1) == Some(&z), "{text}");
        }
    }
    assert!(text.ends_with(&format!("\n{LINK}")));
}

#[tokio::test]
async fn long_updates_fit_the_instances_limit_counting_links_as_23() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(status("1"))
        .mount(&server)
        .await;
    let (mut inc, _) = incident();
    let body = "Requests to https://api.example.com/v2/orders/by-customer/region/eu-west-1 fail for some @team members; details follow. "
        .repeat(20);
    let update = post(&mut inc, Status::Identified, 10, &body);
    let mastodon = MastodonChannel::builder(server.uri(), TOKEN)
        .max_characters(300)
        .build()
        .unwrap();
    assert!(
        dispatcher(mastodon)
            .publish(&inc, &update)
            .await
            .unwrap()
            .all_sent()
    );
    let text = status_of(&server.received_requests().await.unwrap()[0]);
    let counted = status_length(&text);
    assert!(counted <= 300, "{counted}: {text}");
    // Links counted at 23 leave room for more text than their length.
    assert!(text.chars().count() > 300, "{}", text.chars().count());
    assert!(counted >= 290, "fitting uses the room it has: {counted}");
    assert!(
        text.ends_with(&format!("\n{LINK}")) && text.contains('…'),
        "{text}"
    );
}

#[tokio::test]
async fn auth_failures_are_configuration_errors() {
    let err = failure_for(
        ResponseTemplate::new(401).set_body_json(json!({"error": "The access token is invalid"})),
    )
    .await;
    assert!(matches!(err, ChannelError::Config { .. }), "{err}");
    assert!(
        err.to_string().contains("The access token is invalid"),
        "{err}"
    );
    let err = failure_for(
        ResponseTemplate::new(403)
            .set_body_json(json!({"error": "This action is outside the authorized scopes"})),
    )
    .await;
    assert!(matches!(err, ChannelError::Config { .. }), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn refused_statuses_are_permanent() {
    let err = failure_for(ResponseTemplate::new(422).set_body_json(
        json!({"error": "Validation failed: Text character limit of 500 exceeded"}),
    ))
    .await;
    assert_eq!(err.kind().as_str(), "rejected", "{err}");
    assert_eq!(err.status(), Some(422));
    assert!(
        err.to_string().contains("character limit of 500 exceeded"),
        "{err}"
    );
    let err =
        failure_for(ResponseTemplate::new(404).set_body_json(json!({"error": "Record not found"})))
            .await;
    assert_eq!(err.kind().as_str(), "rejected", "{err}");
    assert!(err.to_string().contains("Record not found"), "{err}");
}

#[tokio::test]
async fn rate_limits_wait_until_the_reset() {
    let reset = chrono::Utc::now() + chrono::Duration::seconds(120);
    let err = failure_for(
        ResponseTemplate::new(429)
            .insert_header("X-RateLimit-Limit", "300")
            .insert_header("X-RateLimit-Remaining", "0")
            .insert_header(
                "X-RateLimit-Reset",
                reset.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string().as_str(),
            )
            .set_body_json(json!({"error": "Too many requests"})),
    )
    .await;
    let ChannelError::RateLimited {
        retry_after: Some(after),
    } = err
    else {
        panic!("{err}")
    };
    assert!(
        (Duration::from_secs(118)..=Duration::from_secs(120)).contains(&after),
        "{after:?}"
    );
    // An unreadable reset: Retry-After.
    let err = failure_for(
        ResponseTemplate::new(429)
            .insert_header("X-RateLimit-Reset", "later")
            .insert_header("Retry-After", "30"),
    )
    .await;
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn server_errors_and_timeouts_are_transient() {
    for status in [500, 502, 503, 504] {
        let err = failure_for(
            ResponseTemplate::new(status)
                .insert_header("Retry-After", "5")
                .set_body_string("<html>We're sorry, but something went wrong.</html>"),
        )
        .await;
        assert_eq!(err.kind().as_str(), "transient", "{err}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
        assert!(!err.to_string().contains("html"), "{err}");
    }
    let err = failure_for(ResponseTemplate::new(200).set_delay(Duration::from_secs(3))).await;
    assert_eq!(
        err,
        ChannelError::Timeout {
            after: Duration::from_millis(500)
        }
    );
}

#[tokio::test]
async fn the_token_never_appears_in_debug_output() {
    let server = MockServer::start().await;
    let mastodon = channel(&server);
    assert!(!format!("{mastodon:?}").contains(TOKEN));
    let builder = MastodonChannel::builder(server.uri(), TOKEN);
    assert!(!format!("{builder:?}").contains(TOKEN));
    let d = dispatcher(mastodon);
    assert!(!format!("{d:?}").contains(TOKEN));
}
