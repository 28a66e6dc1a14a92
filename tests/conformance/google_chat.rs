//! Google Chat (incoming webhook) against a real HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::chat::google_chat::{GoogleChatChannel, MAX_TEXT};
use tidings::prelude::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const KEY: &str = "AIzaSy-conformance-secret-key";
const TOKEN: &str = "conformance-secret-token";
const SPACE: &str = "/v1/spaces/AAAAconf/messages";
const TIMEOUT: Duration = Duration::from_millis(300);

struct GoogleChat {
    server: MockServer,
    channel: Arc<GoogleChatChannel>,
}

async fn harness() -> GoogleChat {
    let server = MockServer::start().await;
    let channel = GoogleChatChannel::builder()
        .webhook(
            "incidents",
            format!("{}{SPACE}?key={KEY}&token={TOKEN}", server.uri()),
        )
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    Mock::given(method("POST"))
        .and(path(SPACE))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "spaces/AAAAconf/messages/m1.m1",
            "thread": {"name": "spaces/AAAAconf/threads/t1"},
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    GoogleChat {
        server,
        channel: Arc::new(channel),
    }
}

impl GoogleChat {
    async fn answer(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(SPACE))
            .respond_with(response)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}

fn google_error(code: u16, message: &str, status: &str) -> ResponseTemplate {
    ResponseTemplate::new(code)
        .set_body_json(json!({"error": {"code": code, "message": message, "status": status}}))
}

#[async_trait]
impl Harness for GoogleChat {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new("incidents").unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        Some(Target::new("no-such-webhook").unwrap())
    }
    fn secrets(&self) -> Vec<String> {
        vec![KEY.into(), TOKEN.into()]
    }
    fn own_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    async fn respond_ok(&self) {}
    async fn respond_rate_limited(&self, after: Duration) {
        self.answer(
            google_error(
                429,
                "Resource has been exhausted (e.g. check quota).",
                "RESOURCE_EXHAUSTED",
            )
            .insert_header("Retry-After", after.as_secs().to_string().as_str()),
        )
        .await;
    }
    async fn respond_transient(&self) {
        self.answer(google_error(
            503,
            "The service is currently unavailable.",
            "UNAVAILABLE",
        ))
        .await;
    }
    async fn respond_permanent(&self) {
        self.answer(google_error(
            400,
            "Message is longer than 4096 characters",
            "INVALID_ARGUMENT",
        ))
        .await;
    }
    async fn respond_hang(&self) {
        self.answer(ResponseTemplate::new(200).set_delay(TIMEOUT * 5))
            .await;
    }
    fn received_limit(&self) -> Option<tidings::render::TextLimit> {
        Some(tidings::render::TextLimit::chars(MAX_TEXT))
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
