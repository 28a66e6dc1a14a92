//! A circuit breaker per channel.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
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

/// The breaker of one lane. The healthy path (no failures) touches only
/// atomics; the lock is taken when failures accumulate.
#[derive(Debug)]
pub(crate) struct Breaker {
    config: CircuitBreaker,
    consecutive: AtomicU32,
    open: AtomicBool,
    open_until: Mutex<Option<Instant>>,
}

impl Breaker {
    pub(crate) fn new(config: CircuitBreaker) -> Self {
        Self {
            config,
            consecutive: AtomicU32::new(0),
            open: AtomicBool::new(false),
            open_until: Mutex::new(None),
        }
    }

    fn open_until(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.open_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an attempt may go out now.
    pub(crate) fn allows(&self) -> bool {
        if !self.open.load(Ordering::Acquire) {
            return true;
        }
        self.open_until()
            .is_none_or(|until| Instant::now() >= until)
    }

    pub(crate) fn success(&self) {
        if self.consecutive.load(Ordering::Relaxed) != 0 {
            self.consecutive.store(0, Ordering::Relaxed);
        }
        if self.open.load(Ordering::Acquire) {
            *self.open_until() = None;
            self.open.store(false, Ordering::Release);
        }
    }

    pub(crate) fn failure(&self) {
        if self.config.failures == 0 {
            return;
        }
        let failures = self
            .consecutive
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if failures >= self.config.failures {
            *self.open_until() = Some(Instant::now() + self.config.cool_down);
            self.open.store(true, Ordering::Release);
            tracing::warn!(failures, cool_down = ?self.config.cool_down, "circuit opened");
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
