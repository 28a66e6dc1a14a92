//! Atlassian Statuspage's REST API v1 against a real HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::status_page::statuspage_io::{MAX_BODY, StatuspageIoChannel};
use tidings::prelude::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const API_KEY: &str = "conformance-secret-api-key";
const PAGE: &str = "kctbh9vrtdwd";
const TIMEOUT: Duration = Duration::from_millis(300);

struct Statuspage {
    server: MockServer,
    channel: Arc<StatuspageIoChannel>,
}

fn incidents() -> String {
    format!("/v1/pages/{PAGE}/incidents")
}

async fn harness() -> Statuspage {
    let server = MockServer::start().await;
    let channel = StatuspageIoChannel::builder(API_KEY, PAGE)
        .base_url(server.uri())
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    // No unresolved incident or scheduled maintenance of ours: every first
    // contact creates one.
    for list in ["unresolved", "scheduled", "active_maintenance"] {
        Mock::given(method("GET"))
            .and(path(format!("{}/{list}", incidents())))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path(incidents()))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "p31zjtct2jer",
            "name": "API errors",
            "status": "identified",
            "shortlink": "https://stspg.io/p31zjtct2jer",
            "page_id": PAGE
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    Statuspage {
        server,
        channel: Arc::new(channel),
    }
}

impl Statuspage {
    async fn answer(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(incidents()))
            .respond_with(response)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}

#[async_trait]
impl Harness for Statuspage {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new("page").unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        None // the page is configured; the target is not used
    }
    fn secrets(&self) -> Vec<String> {
        vec![API_KEY.into()]
    }
    fn own_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    fn receives_link(&self) -> bool {
        false // the incident is the page every link points to
    }
    async fn respond_ok(&self) {}
    async fn respond_rate_limited(&self, after: Duration) {
        self.answer(
            ResponseTemplate::new(420)
                .insert_header("Retry-After", after.as_secs().to_string().as_str()),
        )
        .await;
    }
    async fn respond_transient(&self) {
        self.answer(ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"))
            .await;
    }
    async fn respond_permanent(&self) {
        self.answer(
            ResponseTemplate::new(422)
                .set_body_json(json!({"message": "Status is not included in the list"})),
        )
        .await;
    }
    async fn respond_hang(&self) {
        self.answer(ResponseTemplate::new(201).set_delay(TIMEOUT * 5))
            .await;
    }
    fn received_limit(&self) -> Option<tidings::render::TextLimit> {
        Some(tidings::render::TextLimit::chars(MAX_BODY))
    }
    async fn received(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.method.as_str() != "GET")
            .map(|r| {
                r.body_json::<serde_json::Value>().unwrap()["incident"]["body"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

conformance_tests!(harness().await);
