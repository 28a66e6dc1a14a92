//! The signed webhook, against a real HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::webhook::WebhookChannel;
use tidings::prelude::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TIMEOUT: Duration = Duration::from_millis(300);

struct Webhook {
    server: MockServer,
    channel: Arc<WebhookChannel>,
}

async fn harness() -> Webhook {
    let server = MockServer::start().await;
    let channel = WebhookChannel::builder()
        .endpoint(
            "bridge",
            format!("{}/hooks/s3cr3t-path", server.uri()),
            SECRET,
        )
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    // By default the receiver accepts; each scenario mounts a one-shot answer
    // of higher priority in front of it.
    Mock::given(method("POST"))
        .and(path("/hooks/s3cr3t-path"))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(10)
        .mount(&server)
        .await;
    Webhook {
        server,
        channel: Arc::new(channel),
    }
}

impl Webhook {
    async fn answer(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path("/hooks/s3cr3t-path"))
            .respond_with(response)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}

#[async_trait]
impl Harness for Webhook {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new("bridge").unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        Some(Target::new("no-such-endpoint").unwrap())
    }
    fn secrets(&self) -> Vec<String> {
        vec![
            SECRET.into(),
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            "s3cr3t-path".into(),
        ]
    }
    fn own_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    async fn respond_ok(&self) {
        self.answer(ResponseTemplate::new(200).set_body_string("ok"))
            .await;
    }
    async fn respond_rate_limited(&self, after: Duration) {
        self.answer(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", after.as_secs().to_string().as_str())
                .set_body_string("slow down"),
        )
        .await;
    }
    async fn respond_transient(&self) {
        self.answer(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
            .await;
    }
    async fn respond_permanent(&self) {
        self.answer(ResponseTemplate::new(400).set_body_string("bad payload"))
            .await;
    }
    async fn respond_hang(&self) {
        self.answer(ResponseTemplate::new(200).set_delay(TIMEOUT * 5))
            .await;
    }
    async fn received(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                v["data"]["text"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

conformance_tests!(harness().await);
