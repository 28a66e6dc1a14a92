//! Discord webhooks against a real HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::chat::discord::{DiscordChannel, MAX_CONTENT};
use tidings::prelude::*;
use tidings::render::TextLimit;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const TOKEN: &str = "conformance-secret-webhook-token";
const HOOK_PATH: &str = "/api/webhooks/1180000000000000001/conformance-secret-webhook-token";
const TIMEOUT: Duration = Duration::from_millis(300);

struct Discord {
    server: MockServer,
    channel: Arc<DiscordChannel>,
}

async fn harness() -> Discord {
    let server = MockServer::start().await;
    let channel = DiscordChannel::builder()
        .webhook("ops", format!("{}{HOOK_PATH}", server.uri()))
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .and(query_param("wait", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "1180000000000000042",
            "type": 0,
            "channel_id": "1180000000000000007",
            "content": "…",
            "webhook_id": "1180000000000000001",
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    Discord {
        server,
        channel: Arc::new(channel),
    }
}

impl Discord {
    async fn answer(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(HOOK_PATH))
            .respond_with(response)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}

#[async_trait]
impl Harness for Discord {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new("ops").unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        Some(Target::new("no-such-webhook").unwrap())
    }
    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.into(), HOOK_PATH.into()]
    }
    fn own_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    async fn respond_ok(&self) {}
    async fn respond_rate_limited(&self, after: Duration) {
        self.answer(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", after.as_secs().to_string().as_str())
                .insert_header("X-RateLimit-Scope", "user")
                .set_body_json(json!({
                    "message": "You are being rate limited.",
                    "retry_after": after.as_secs_f64(),
                    "global": false,
                })),
        )
        .await;
    }
    async fn respond_transient(&self) {
        self.answer(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "500: Internal Server Error", "code": 0})),
        )
        .await;
    }
    async fn respond_permanent(&self) {
        self.answer(
            ResponseTemplate::new(404)
                .set_body_json(json!({"message": "Unknown Webhook", "code": 10015})),
        )
        .await;
    }
    async fn respond_hang(&self) {
        self.answer(ResponseTemplate::new(200).set_delay(TIMEOUT * 5))
            .await;
    }
    fn received_limit(&self) -> Option<TextLimit> {
        // What Discord receives (escaped, with the masked link), counted as
        // Discord counts: code points.
        Some(TextLimit::chars(MAX_CONTENT))
    }
    async fn received(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                r.body_json::<serde_json::Value>().unwrap()["content"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

conformance_tests!(harness().await);
