//! PagerDuty's Events API v2 against a real HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::records::pagerduty::{MAX_SUMMARY, PagerDutyChannel};
use tidings::prelude::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const ROUTING_KEY: &str = "R0CONFORMANCEsecretKEY0123456789";
const TIMEOUT: Duration = Duration::from_millis(300);
const LINK: &str = "https://status.example.com/incidents/inc-7";

struct PagerDuty {
    server: MockServer,
    channel: Arc<PagerDutyChannel>,
}

async fn harness() -> PagerDuty {
    let server = MockServer::start().await;
    let channel = PagerDutyChannel::builder()
        .integration("payments", ROUTING_KEY)
        .base_url(server.uri())
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    Mock::given(method("POST"))
        .and(path("/v2/enqueue"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "status": "success",
            "message": "Event processed",
            "dedup_key": "tidings-inc-7"
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    PagerDuty {
        server,
        channel: Arc::new(channel),
    }
}

impl PagerDuty {
    async fn answer(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path("/v2/enqueue"))
            .respond_with(response)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}

#[async_trait]
impl Harness for PagerDuty {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new("payments").unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        Some(Target::new("no-such-integration").unwrap())
    }
    fn secrets(&self) -> Vec<String> {
        vec![ROUTING_KEY.into()]
    }
    fn own_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    async fn respond_ok(&self) {}
    async fn respond_rate_limited(&self, after: Duration) {
        // PagerDuty sends no Retry-After; one that is sent is honoured.
        self.answer(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", after.as_secs().to_string().as_str()),
        )
        .await;
    }
    async fn respond_transient(&self) {
        self.answer(ResponseTemplate::new(503).set_body_json(json!({
            "status": "Internal server error",
            "message": "Service temporarily unavailable"
        })))
        .await;
    }
    async fn respond_permanent(&self) {
        self.answer(ResponseTemplate::new(400).set_body_json(json!({
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": ["'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')"]
        })))
        .await;
    }
    async fn respond_hang(&self) {
        self.answer(ResponseTemplate::new(202).set_delay(TIMEOUT * 5))
            .await;
    }
    fn received_limit(&self) -> Option<tidings::render::TextLimit> {
        // The summary, a line break and the link (sent in `links`).
        Some(tidings::render::TextLimit::chars(
            MAX_SUMMARY + 1 + LINK.len(),
        ))
    }
    /// Each event's summary and, on the next line, its link.
    async fn received(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let v = r.body_json::<serde_json::Value>().unwrap();
                format!(
                    "{}\n{}",
                    v["payload"]["summary"].as_str().unwrap(),
                    v["links"][0]["href"].as_str().unwrap()
                )
            })
            .collect()
    }
}

conformance_tests!(harness().await);
