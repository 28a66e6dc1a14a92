//! X API v2 against a real HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::json;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::social::x::{MAX_WEIGHTED_LENGTH, XChannel};
use tidings::prelude::*;
use tidings::render::{LengthUnit, TextLimit};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const TOKEN: &str = "x-conformance-secret-user-token";
const PATH: &str = "/2/tweets";
const TIMEOUT: Duration = Duration::from_millis(300);

struct X {
    server: MockServer,
    channel: Arc<XChannel>,
}

async fn harness() -> X {
    let server = MockServer::start().await;
    let channel = XChannel::builder(TOKEN)
        .base_url(server.uri())
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "data": {"id": "1870000000000000042", "text": "…", "edit_history_tweet_ids": ["1870000000000000042"]},
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    X {
        server,
        channel: Arc::new(channel),
    }
}

impl X {
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
impl Harness for X {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new("timeline").unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        Some(Target::new("@someone-else").unwrap())
    }
    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.into()]
    }
    fn own_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    async fn respond_ok(&self) {}
    async fn respond_rate_limited(&self, after: Duration) {
        // X names the reset in whole epoch seconds and sends no Retry-After.
        // Start early in a second, so the channel reads the clock within it.
        while SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_millis()
            > 500
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let reset = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + after;
        self.answer(
            ResponseTemplate::new(429)
                .insert_header("x-rate-limit-limit", "200")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.as_secs().to_string().as_str())
                .set_body_json(json!({
                    "title": "Too Many Requests",
                    "detail": "Too Many Requests",
                    "type": "about:blank",
                    "status": 429,
                })),
        )
        .await;
    }
    async fn respond_transient(&self) {
        self.answer(ResponseTemplate::new(503).set_body_json(json!({
            "title": "Service Unavailable",
            "detail": "Service Unavailable",
            "type": "about:blank",
            "status": 503,
        })))
        .await;
    }
    async fn respond_permanent(&self) {
        self.answer(ResponseTemplate::new(403).set_body_json(json!({
            "detail": "You are not allowed to create a Tweet with duplicate content.",
            "type": "about:blank",
            "title": "Forbidden",
            "status": 403,
        })))
        .await;
    }
    async fn respond_hang(&self) {
        self.answer(ResponseTemplate::new(201).set_delay(TIMEOUT * 5))
            .await;
    }
    /// X's own weighted count of the post it received (NFC, links 23).
    fn received_limit(&self) -> Option<TextLimit> {
        Some(TextLimit::new(MAX_WEIGHTED_LENGTH, LengthUnit::XWeighted))
    }
    async fn received(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                r.body_json::<serde_json::Value>().unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

conformance_tests!(harness().await);
