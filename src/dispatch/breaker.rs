//! A circuit breaker per channel.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// When a channel is considered down: after `failures` retryable failures in a
/// row (5xx, timeouts, connection errors; not rate limits, which prove the
/// provider is alive, nor permanent errors, which are about one message), its
/// remaining deliveries fail fast for `cool_down`, then one attempt probes it
/// again. Failed deliveries are journaled as retryable: publishing the update
/// again sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreaker {
    failures: u32,
    cool_down: Duration,
}

impl Default for CircuitBreaker {
    /// Opens after 10 failures in a row, for 30 seconds.
    fn default() -> Self {
        Self {
            failures: 10,
            cool_down: Duration::from_secs(30),
        }
    }
}

impl CircuitBreaker {
    /// Opens after `failures` retryable failures in a row, for `cool_down`.
    pub fn new(failures: u32, cool_down: Duration) -> Self {
        Self {
            failures,
            cool_down,
        }
    }

    /// Never opens.
    pub fn disabled() -> Self {
        Self::new(0, Duration::ZERO)
    }
}

#[derive(Debug, Default)]
struct State {
    consecutive: u32,
    open_until: Option<Instant>,
}

/// The breaker of one lane.
#[derive(Debug)]
pub(crate) struct Breaker {
    config: CircuitBreaker,
    state: Mutex<State>,
}

impl Breaker {
    pub(crate) fn new(config: CircuitBreaker) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an attempt may go out now.
    pub(crate) fn allows(&self) -> bool {
        if self.config.failures == 0 {
            return true;
        }
        self.state()
            .open_until
            .is_none_or(|until| Instant::now() >= until)
    }

    pub(crate) fn success(&self) {
        if self.config.failures > 0 {
            *self.state() = State::default();
        }
    }

    pub(crate) fn failure(&self) {
        if self.config.failures == 0 {
            return;
        }
        let mut s = self.state();
        s.consecutive = s.consecutive.saturating_add(1);
        if s.consecutive >= self.config.failures {
            s.open_until = Some(Instant::now() + self.config.cool_down);
            tracing::warn!(failures = s.consecutive, cool_down = ?self.config.cool_down, "circuit opened");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_and_probes_after_the_cool_down() {
        let b = Breaker::new(CircuitBreaker::new(3, Duration::from_secs(30)));
        b.failure();
        b.failure();
        b.success();
        b.failure();
        b.failure();
        assert!(b.allows(), "a success resets the count");
        b.failure();
        assert!(!b.allows());
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(b.allows(), "half-open after the cool-down");
        b.failure();
        assert!(!b.allows(), "a failed probe opens it again");
        b.success();
        assert!(b.allows());
        let never = Breaker::new(CircuitBreaker::disabled());
        for _ in 0..100 {
            never.failure();
        }
        assert!(never.allows());
    }
}
