//! Twilio Programmable Messaging against a real HTTP server on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tidings::channel::Channel;
use tidings::channel::HttpOptions;
use tidings::channel::sms::twilio::TwilioChannel;
use tidings::prelude::*;
use tidings::render::TextLimit;
use tidings::render::sms::segment_limit;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::suite::Harness;

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-conformance-secret-token";
const PATH: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";
const TIMEOUT: Duration = Duration::from_millis(300);

struct Twilio {
    server: MockServer,
    channel: Arc<TwilioChannel>,
}

fn error(status: u16, code: u32, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    }))
}

async fn harness() -> Twilio {
    let server = MockServer::start().await;
    let channel = TwilioChannel::with_auth_token(ACCOUNT, TOKEN)
        .from("+14155550199")
        .base_url(server.uri())
        .http(HttpOptions::new().timeout(TIMEOUT))
        .build()
        .unwrap();
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM0123456789abcdef0123456789abcdef",
            "status": "queued",
            "num_segments": "1",
        })))
        .with_priority(10)
        .mount(&server)
        .await;
    Twilio {
        server,
        channel: Arc::new(channel),
    }
}

impl Twilio {
    async fn answer(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(PATH))
            .respond_with(response)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}

#[async_trait]
impl Harness for Twilio {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new("+14155550100").unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        Some(Target::new("(415) 555-0100").unwrap())
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
            error(429, 20429, "Too Many Requests")
                .insert_header("Retry-After", after.as_secs().to_string().as_str()),
        )
        .await;
    }
    async fn respond_transient(&self) {
        self.answer(error(500, 20500, "Internal Server Error"))
            .await;
    }
    async fn respond_permanent(&self) {
        self.answer(error(400, 21602, "Message body is required."))
            .await;
    }
    async fn respond_hang(&self) {
        self.answer(ResponseTemplate::new(201).set_delay(TIMEOUT * 5))
            .await;
    }
    /// What Twilio bills: segments of the `Body` exactly as received.
    fn received_limit(&self) -> Option<TextLimit> {
        Some(segment_limit(2))
    }
    async fn received(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                url::form_urlencoded::parse(&r.body)
                    .find(|(k, _)| k == "Body")
                    .map(|(_, v)| v.into_owned())
                    .expect("a Body field")
            })
            .collect()
    }
}

conformance_tests!(harness().await);
