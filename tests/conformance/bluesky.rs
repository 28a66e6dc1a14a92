//! Bluesky (AT Protocol) against a real HTTP server on 127.0.0.1: a PDS
//! that logs in once and accepts posts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::social::bluesky::BlueskyChannel;
use tidings::prelude::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const HANDLE: &str = "status.example.com";
const APP_PASSWORD: &str = "conf-secr-etap-pwd1";
const ACCESS: &str = "eyJ.conformance-access-jwt-secret.sig";
const REFRESH: &str = "eyJ.conformance-refresh-jwt-secret.sig";
const CREATE_RECORD: &str = "/xrpc/com.atproto.repo.createRecord";
const TIMEOUT: Duration = Duration::from_millis(300);

struct Bluesky {
    server: MockServer,
    channel: Arc<BlueskyChannel>,
}

async fn harness() -> Bluesky {
    let server = MockServer::start().await;
    let channel = BlueskyChannel::builder(HANDLE, APP_PASSWORD)
        .base_url(server.uri())
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    // At most one login per test, however many posts it sends.
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accessJwt": ACCESS,
            "refreshJwt": REFRESH,
            "did": "did:plc:conformance",
            "handle": HANDLE,
        })))
        .expect(0..=1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "uri": "at://did:plc:conformance/app.bsky.feed.post/3lconformance2",
            "cid": "bafyreiconformance",
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    Bluesky {
        server,
        channel: Arc::new(channel),
    }
}

impl Bluesky {
    async fn answer(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(CREATE_RECORD))
            .respond_with(response)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}

#[async_trait]
impl Harness for Bluesky {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new(HANDLE).unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        Some(Target::new("someone-else.bsky.social").unwrap())
    }
    fn secrets(&self) -> Vec<String> {
        vec![APP_PASSWORD.into(), ACCESS.into(), REFRESH.into()]
    }
    fn own_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    async fn respond_ok(&self) {}
    async fn respond_rate_limited(&self, after: Duration) {
        self.answer(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", after.as_secs().to_string().as_str())
                .set_body_json(
                    json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}),
                ),
        )
        .await;
    }
    async fn respond_transient(&self) {
        self.answer(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
            .await;
    }
    async fn respond_permanent(&self) {
        self.answer(ResponseTemplate::new(400).set_body_json(json!({
            "error": "InvalidRequest",
            "message": "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
        })))
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
            .filter(|r| r.url.path() == CREATE_RECORD)
            .map(|r| {
                r.body_json::<serde_json::Value>().unwrap()["record"]["text"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

conformance_tests!(harness().await);
