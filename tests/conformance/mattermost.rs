//! Mattermost incoming webhooks against a real HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::chat::mattermost::{MAX_TEXT, MattermostChannel};
use tidings::prelude::*;
use tidings::render::TextLimit;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const KEY: &str = "conformancesecretwebhookkey";
const HOOK_PATH: &str = "/hooks/conformancesecretwebhookkey";
const TIMEOUT: Duration = Duration::from_millis(300);

struct Mattermost {
    server: MockServer,
    channel: Arc<MattermostChannel>,
}

async fn harness() -> Mattermost {
    let server = MockServer::start().await;
    let channel = MattermostChannel::builder()
        .webhook("ops", format!("{}{HOOK_PATH}", server.uri()))
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/plain")
                .set_body_string("ok"),
        )
        .with_priority(10)
        .mount(&server)
        .await;
    Mattermost {
        server,
        channel: Arc::new(channel),
    }
}

impl Mattermost {
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

fn app_error(id: &str, message: &str, status: u16) -> serde_json::Value {
    json!({
        "id": id,
        "message": message,
        "detailed_error": "",
        "request_id": "5xkqz8ftjbn3fgbgffjwr3nq6c",
        "status_code": status,
    })
}

#[async_trait]
impl Harness for Mattermost {
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
        vec![KEY.into()]
    }
    fn own_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    async fn respond_ok(&self) {}
    async fn respond_rate_limited(&self, after: Duration) {
        let secs = after.as_secs().to_string();
        self.answer(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", secs.as_str())
                .insert_header("X-Ratelimit-Limit", "10")
                .insert_header("X-Ratelimit-Remaining", "0")
                .insert_header("X-Ratelimit-Reset", secs.as_str())
                .set_body_string("limit exceeded\n"),
        )
        .await;
    }
    async fn respond_transient(&self) {
        self.answer(ResponseTemplate::new(500).set_body_json(app_error(
            "app.channel.get.find.app_error",
            "Unable to find the existing channel.",
            500,
        )))
        .await;
    }
    async fn respond_permanent(&self) {
        self.answer(ResponseTemplate::new(400).set_body_json(app_error(
            "web.incoming_webhook.invalid.app_error",
            "Invalid webhook.",
            400,
        )))
        .await;
    }
    async fn respond_hang(&self) {
        self.answer(ResponseTemplate::new(200).set_delay(TIMEOUT * 5))
            .await;
    }
    fn received_limit(&self) -> Option<TextLimit> {
        // Mattermost counts runes (Unicode scalar values).
        Some(TextLimit::chars(MAX_TEXT))
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
