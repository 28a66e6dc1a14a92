//! Slack's Web API against a real HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::chat::slack::SlackChannel;
use tidings::prelude::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const TOKEN: &str = "xoxb-conformance-secret-token";
const TIMEOUT: Duration = Duration::from_millis(300);

struct Slack {
    server: MockServer,
    channel: Arc<SlackChannel>,
}

async fn harness() -> Slack {
    let server = MockServer::start().await;
    let channel = SlackChannel::web_api(TOKEN)
        .base_url(format!("{}/api/", server.uri()))
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "channel": "C1", "ts": "1503435956.000247"})),
        )
        .with_priority(10)
        .mount(&server)
        .await;
    Slack {
        server,
        channel: Arc::new(channel),
    }
}

impl Slack {
    async fn answer(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path("/api/chat.postMessage"))
            .respond_with(response)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}

#[async_trait]
impl Harness for Slack {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new("C0123ABCD").unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        Some(Target::new("not a channel").unwrap())
    }
    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.into()]
    }
    fn own_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    async fn respond_ok(&self) {}
    async fn respond_rate_limited(&self, after: Duration) {
        self.answer(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", after.as_secs().to_string().as_str()),
        )
        .await;
    }
    async fn respond_transient(&self) {
        self.answer(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "internal_error"})),
        )
        .await;
    }
    async fn respond_permanent(&self) {
        self.answer(
            ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "invalid_auth"})),
        )
        .await;
    }
    async fn respond_hang(&self) {
        self.answer(ResponseTemplate::new(200).set_delay(TIMEOUT * 5))
            .await;
    }
    fn received_limit(&self) -> Option<tidings::render::TextLimit> {
        Some(tidings::render::TextLimit::chars(
            tidings::channel::chat::slack::MAX_TEXT,
        ))
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
