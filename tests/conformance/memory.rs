//! The in-memory channel: its "provider" is its failure script.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::{Channel, ChannelError};
use tidings::prelude::*;

use crate::suite::Harness;

struct Memory {
    channel: Arc<MemoryChannel>,
}

async fn harness() -> Memory {
    Memory {
        channel: Arc::new(MemoryChannel::primary(
            "https://status.example.com/".parse().unwrap(),
        )),
    }
}

#[async_trait]
impl Harness for Memory {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new("anyone").unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        None
    }
    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }
    fn own_timeout(&self) -> Option<Duration> {
        None
    }
    async fn respond_ok(&self) {}
    async fn respond_rate_limited(&self, after: Duration) {
        self.channel.fail_next(ChannelError::RateLimited {
            retry_after: Some(after),
        });
    }
    async fn respond_transient(&self) {
        self.channel
            .fail_next(ChannelError::transient("scripted 503"));
    }
    async fn respond_permanent(&self) {
        self.channel
            .fail_next(ChannelError::rejected("scripted 400"));
    }
    async fn respond_hang(&self) {}
    async fn received(&self) -> Vec<String> {
        self.channel.texts()
    }
}

conformance_tests!(harness().await);
