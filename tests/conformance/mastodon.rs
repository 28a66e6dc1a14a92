//! Mastodon against a real HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::social::mastodon::{DEFAULT_MAX_CHARACTERS, MastodonChannel};
use tidings::prelude::*;
use tidings::render::{LengthUnit, TextLimit};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const TOKEN: &str = "mastodon-conformance-secret-token";
const PATH: &str = "/api/v1/statuses";
const TIMEOUT: Duration = Duration::from_millis(300);

struct Mastodon {
    server: MockServer,
    channel: Arc<MastodonChannel>,
}

async fn harness() -> Mastodon {
    let server = MockServer::start().await;
    let channel = MastodonChannel::builder(server.uri(), TOKEN)
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "109347000000000042",
            "uri": "https://mastodon.example/users/status/statuses/109347000000000042",
            "url": "https://mastodon.example/@status/109347000000000042",
            "visibility": "public",
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    Mastodon {
        server,
        channel: Arc::new(channel),
    }
}

impl Mastodon {
    async fn answer(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(PATH))
            .respond_with(response)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}

#[async_trait]
impl Harness for Mastodon {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new("timeline").unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        Some(Target::new("some-other-account").unwrap())
    }
    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.into()]
    }
    fn own_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    async fn respond_ok(&self) {}
    async fn respond_rate_limited(&self, after: Duration) {
        // Mastodon names the moment the limit resets, to the microsecond.
        let reset = chrono::Utc::now() + chrono::Duration::from_std(after).unwrap();
        self.answer(
            ResponseTemplate::new(429)
                .insert_header("X-RateLimit-Limit", "300")
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header(
                    "X-RateLimit-Reset",
                    reset.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string().as_str(),
                )
                .set_body_json(json!({"error": "Too many requests"})),
        )
        .await;
    }
    async fn respond_transient(&self) {
        self.answer(
            ResponseTemplate::new(503)
                .set_body_string("<html><body>Mastodon is down for maintenance</body></html>"),
        )
        .await;
    }
    async fn respond_permanent(&self) {
        self.answer(
            ResponseTemplate::new(422)
                .set_body_json(json!({"error": "Validation failed: Text can't be blank"})),
        )
        .await;
    }
    async fn respond_hang(&self) {
        self.answer(ResponseTemplate::new(200).set_delay(TIMEOUT * 5))
            .await;
    }
    /// Mastodon's own count of the status it received (links 23).
    fn received_limit(&self) -> Option<TextLimit> {
        Some(TextLimit::new(
            DEFAULT_MAX_CHARACTERS,
            LengthUnit::MastodonChars,
        ))
    }
    async fn received(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                r.body_json::<serde_json::Value>().unwrap()["status"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

conformance_tests!(harness().await);
