//! Jira Service Management Operations and Opsgenie alerts against a real
//! HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::records::alerts::{AlertChannel, AlertChannelBuilder, MAX_DESCRIPTION};
use tidings::prelude::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const API_KEY: &str = "eb243592-faa2-4ba2-a551-1afdf565c889-conformance-secret";
const TIMEOUT: Duration = Duration::from_millis(300);

struct Alerts {
    server: MockServer,
    alerts: &'static str,
    channel: Arc<AlertChannel>,
}

async fn harness(builder: AlertChannelBuilder, alerts: &'static str) -> Alerts {
    let server = MockServer::start().await;
    let channel = builder
        .integration("payments", API_KEY)
        .base_url(server.uri())
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    Mock::given(method("POST"))
        .and(path(alerts))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "result": "Request will be processed",
            "took": 0.107,
            "requestId": "43a29c5c-3dbf-4fa4-9c26-f4f71023e120"
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    Alerts {
        server,
        alerts,
        channel: Arc::new(channel),
    }
}

impl Alerts {
    async fn answer(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(self.alerts))
            .respond_with(response)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}

#[async_trait]
impl Harness for Alerts {
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
        vec![API_KEY.into()]
    }
    fn own_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    async fn respond_ok(&self) {}
    async fn respond_rate_limited(&self, after: Duration) {
        self.answer(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", after.as_secs().to_string().as_str())
                .set_body_json(json!({
                    "message": "You are making too many requests! To avoid errors, we recommend you limit requests.",
                    "took": 0.001,
                    "requestId": "d4e6a1f2-0000-4000-8000-000000000429"
                })),
        )
        .await;
    }
    async fn respond_transient(&self) {
        self.answer(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
            .await;
    }
    async fn respond_permanent(&self) {
        self.answer(ResponseTemplate::new(422).set_body_json(json!({
            "message": "Request body is not processable. Please check the errors.",
            "errors": {"message": "Message can not be empty."},
            "took": 0.001,
            "requestId": "5b6b4c3a-3e2a-4a7b-9d3e-2f9c7d6e1a01"
        })))
        .await;
    }
    async fn respond_hang(&self) {
        self.answer(ResponseTemplate::new(202).set_delay(TIMEOUT * 5))
            .await;
    }
    fn received_limit(&self) -> Option<tidings::render::TextLimit> {
        Some(tidings::render::TextLimit::chars(MAX_DESCRIPTION))
    }
    /// Each alert's description (the first contact on the target creates).
    async fn received(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let v = r.body_json::<serde_json::Value>().unwrap();
                v["description"]
                    .as_str()
                    .or(v["note"].as_str())
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

#[cfg(feature = "jsm")]
mod jsm {
    use super::*;
    conformance_tests!(harness(AlertChannel::jsm(), "/jsm/ops/integration/v2/alerts").await);
}

#[cfg(feature = "opsgenie")]
mod opsgenie {
    use super::*;
    conformance_tests!(harness(AlertChannel::opsgenie(), "/v2/alerts").await);
}
