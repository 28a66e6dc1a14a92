//! Confluence Cloud postmortem pages against a real HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::records::confluence::{ConfluenceChannel, ConfluenceSpace};
use tidings::prelude::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const TOKEN: &str = "ATATT3xFfGF0-conformance-secret-token";
const TIMEOUT: Duration = Duration::from_millis(300);

struct Confluence {
    server: MockServer,
    channel: Arc<ConfluenceChannel>,
}

async fn harness() -> Confluence {
    let server = MockServer::start().await;
    let channel = ConfluenceChannel::builder(server.uri(), "sre-bot@acme.example", TOKEN)
        .space("postmortems", ConfluenceSpace::new("OPS"))
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    Mock::given(method("GET"))
        .and(path("/wiki/api/v2/spaces"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"id": "98306", "key": "OPS", "name": "Operations", "type": "global", "status": "current"}],
            "_links": {}
        })))
        .mount(&server)
        .await;
    // No page yet: every publish creates one.
    Mock::given(method("GET"))
        .and(path("/wiki/api/v2/pages"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"results": [], "_links": {}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/wiki/api/v2/pages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "557060",
            "status": "current",
            "title": "Postmortem: API errors (inc-7)",
            "spaceId": "98306",
            "version": {"number": 1, "message": "", "minorEdit": false},
            "_links": {"webui": "/spaces/OPS/pages/557060/Postmortem+API+errors+inc-7"}
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    Confluence {
        server,
        channel: Arc::new(channel),
    }
}

impl Confluence {
    async fn answer(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path("/wiki/api/v2/pages"))
            .respond_with(response)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}

#[async_trait]
impl Harness for Confluence {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new("postmortems").unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        Some(Target::new("no-such-space").unwrap())
    }
    fn secrets(&self) -> Vec<String> {
        vec![TOKEN.into()]
    }
    fn own_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    fn status(&self) -> Status {
        Status::Postmortem
    }
    fn sends_maintenance(&self) -> bool {
        false
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
        self.answer(ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"))
            .await;
    }
    async fn respond_permanent(&self) {
        self.answer(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{
                "status": 400,
                "code": "INVALID_REQUEST_PARAMETER",
                "title": "Error parsing xhtml: Unexpected close tag </p>; expected </b>.",
                "detail": null
            }]
        })))
        .await;
    }
    async fn respond_hang(&self) {
        self.answer(ResponseTemplate::new(200).set_delay(TIMEOUT * 5))
            .await;
    }
    fn received_limit(&self) -> Option<tidings::render::TextLimit> {
        None
    }
    /// The storage-format body of every page created or updated.
    async fn received(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.method.as_str() != "GET")
            .map(|r| {
                r.body_json::<serde_json::Value>().unwrap()["body"]["value"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

conformance_tests!(harness().await);
