//! E-mail against a real SMTP server (aiosmtpd) on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mail_parser::MessageParser;
use tidings::channel::Channel;
use tidings::channel::email::EmailChannel;
use tidings::prelude::*;

use crate::suite::Harness;
use crate::support::smtp::SmtpServer;

const TIMEOUT: Duration = Duration::from_millis(500);

struct Email {
    server: SmtpServer,
    channel: Arc<EmailChannel>,
}

async fn harness() -> Email {
    let server = SmtpServer::start();
    let channel = EmailChannel::builder_dangerous("127.0.0.1")
        .port(server.port)
        .from("Status <status@example.com>")
        .timeout(TIMEOUT)
        .build()
        .unwrap();
    Email {
        server,
        channel: Arc::new(channel),
    }
}

#[async_trait]
impl Harness for Email {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new("ann@example.com").unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        Some(Target::new("ann at example dot com").unwrap())
    }
    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }
    fn own_timeout(&self) -> Option<Duration> {
        Some(TIMEOUT)
    }
    fn answers_rate_limits(&self) -> bool {
        false
    }
    async fn respond_ok(&self) {}
    async fn respond_rate_limited(&self, _after: Duration) {}
    async fn respond_transient(&self) {
        self.server.answer_next("451 4.3.0 Try again later");
    }
    async fn respond_permanent(&self) {
        self.server.answer_next("554 5.7.1 Rejected");
    }
    async fn respond_hang(&self) {
        self.server.answer_next("hang");
    }
    async fn received(&self) -> Vec<String> {
        self.server
            .messages()
            .iter()
            .map(|raw| {
                MessageParser::default()
                    .parse(raw)
                    .unwrap()
                    .body_text(0)
                    .unwrap()
                    .trim_end()
                    .to_owned()
            })
            .collect()
    }
}

conformance_tests!(harness().await);
