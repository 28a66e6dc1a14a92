//! Microsoft Teams (Workflows webhook) against a real HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::chat::teams::{DEFAULT_MAX_PAYLOAD, TeamsChannel};
use tidings::prelude::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const SIG: &str = "conformance-secret-signature";
const FLOW: &str = "/workflows/0123abcd/triggers/manual/paths/invoke";
const TIMEOUT: Duration = Duration::from_millis(300);

struct Teams {
    server: MockServer,
    channel: Arc<TeamsChannel>,
}

async fn harness() -> Teams {
    let server = MockServer::start().await;
    let channel = TeamsChannel::builder()
        .webhook(
            "incidents",
            format!(
                "{}{FLOW}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}",
                server.uri()
            ),
        )
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    Mock::given(method("POST"))
        .and(path(FLOW))
        .respond_with(ResponseTemplate::new(202))
        .with_priority(10)
        .mount(&server)
        .await;
    Teams {
        server,
        channel: Arc::new(channel),
    }
}

impl Teams {
    async fn answer(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(FLOW))
            .respond_with(response)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}

#[async_trait]
impl Harness for Teams {
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
        vec![SIG.into()]
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
        self.answer(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
            .await;
    }
    async fn respond_permanent(&self) {
        self.answer(ResponseTemplate::new(400).set_body_string(
            r#"{"error":{"code":"TriggerInputSchemaMismatch","message":"The input body for trigger 'manual' of type 'Request' did not match its schema definition."}}"#,
        ))
        .await;
    }
    async fn respond_hang(&self) {
        self.answer(ResponseTemplate::new(202).set_delay(TIMEOUT * 5))
            .await;
    }
    /// Teams' limit is on the whole JSON payload.
    fn received_limit(&self) -> Option<tidings::render::TextLimit> {
        Some(tidings::render::TextLimit::bytes(DEFAULT_MAX_PAYLOAD))
    }
    /// The whole payload as received: the card's text blocks, and the link in
    /// its "Open status page" button.
    async fn received(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| String::from_utf8(r.body.clone()).unwrap())
            .collect()
    }
}

conformance_tests!(harness().await);
