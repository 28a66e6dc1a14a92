//! Rate limiters per channel and per target, on tokio's clock.
//!
//! governor's own async waits run on a timer tokio's paused clock does not
//! control, so the limiters here read time from tokio (`TokioClock`), are asked
//! with `check`/`check_key` (which never block), and waits happen in
//! `tokio::time::sleep`. Time in tests is then deterministic.

use std::time::Instant;

use governor::RateLimiter;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};

use crate::audience::Target;
use crate::channel::RateLimit;

/// A governor clock that reads tokio's (pausable) clock.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TokioClock;

impl Clock for TokioClock {
    type Instant = Instant;
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

type Direct = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Instant>>;
type Keyed = RateLimiter<Target, DashMapStateStore<Target>, TokioClock, NoOpMiddleware<Instant>>;

/// The limiters of one channel.
#[derive(Debug, Default)]
pub(crate) struct Limiters {
    channel: Option<Direct>,
    per_target: Option<Keyed>,
}

impl Limiters {
    pub(crate) fn new(channel: Option<RateLimit>, per_target: Option<RateLimit>) -> Self {
        Self {
            channel: channel.map(|r| RateLimiter::direct_with_clock(r.quota(), TokioClock)),
            per_target: per_target
                .map(|r| RateLimiter::new(r.quota(), DashMapStateStore::default(), TokioClock)),
        }
    }

    /// Whether any limit applies (then a delivery waits for a permit).
    pub(crate) fn is_limited(&self) -> bool {
        self.channel.is_some() || self.per_target.is_some()
    }

    /// Waits (on tokio's clock) until both the target's and the channel's
    /// limiter allow one more message.
    pub(crate) async fn until_ready(&self, target: &Target) {
        if let Some(keyed) = &self.per_target {
            while let Err(not_until) = keyed.check_key(target) {
                tokio::time::sleep(not_until.wait_time_from(TokioClock.now())).await;
            }
        }
        if let Some(direct) = &self.channel {
            while let Err(not_until) = direct.check() {
                tokio::time::sleep(not_until.wait_time_from(TokioClock.now())).await;
            }
        }
    }

    /// Drops per-target state that no longer limits anything.
    pub(crate) fn shrink(&self) {
        if let Some(keyed) = &self.per_target {
            keyed.retain_recent();
        }
    }
}
