//! When to try again.

use std::time::Duration;

/// How the dispatcher retries a retryable failure: jittered exponential backoff
/// that honours the provider's `retry_after`, within a bounded number of
/// attempts and a longest single wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct RetryPolicy {
    max_attempts: u32,
    base: Duration,
    max_backoff: Duration,
    max_wait: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts; backoff from 500 ms doubling up to 30 s; waits of more than
    /// 5 minutes (a provider's `retry_after` included) give up instead.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_wait: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Total attempts, the first included (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The first backoff and the cap it doubles up to.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base = base;
        self.max_backoff = max.max(base);
        self
    }

    /// The longest single wait; a provider asking for longer fails the delivery
    /// (as retryable) instead of holding it.
    pub fn max_wait(mut self, max: Duration) -> Self {
        self.max_wait = max;
        self
    }

    /// The configured number of attempts.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before attempt `failed + 1`, after `failed` failed attempts, or
    /// `None` to give up. Backoff is "equal jitter": half fixed, half random, so
    /// that many deliveries failing together do not retry together. A provider's
    /// `retry_after` is a floor: the wait is that plus up to 10 % (at most 1 s)
    /// of jitter.
    pub fn delay(&self, failed: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if failed >= self.max_attempts {
            return None;
        }
        let wait = match retry_after {
            Some(after) => after + jitter((after / 10).min(Duration::from_secs(1))),
            None => {
                let exp = 2u32.saturating_pow(failed.saturating_sub(1));
                let backoff = self.base.saturating_mul(exp).min(self.max_backoff);
                backoff / 2 + jitter(backoff / 2)
            }
        };
        (wait <= self.max_wait).then_some(wait)
    }
}

/// A uniformly random duration in `0..=max`.
fn jitter(max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(fastrand::u64(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let p = RetryPolicy::default()
            .max_attempts(10)
            .backoff(Duration::from_secs(1), Duration::from_secs(8));
        for _ in 0..200 {
            for (failed, lo, hi) in [
                (1, 500, 1000),
                (2, 1000, 2000),
                (3, 2000, 4000),
                (4, 4000, 8000),
                (9, 4000, 8000),
            ] {
                let d = p.delay(failed, None).unwrap();
                assert!(
                    d >= Duration::from_millis(lo) && d <= Duration::from_millis(hi),
                    "{failed}: {d:?}"
                );
            }
        }
        assert_eq!(p.delay(10, None), None);
    }

    #[test]
    fn retry_after_is_a_floor_and_bounded() {
        let p = RetryPolicy::default();
        for _ in 0..200 {
            let d = p.delay(1, Some(Duration::from_secs(7))).unwrap();
            assert!(
                d >= Duration::from_secs(7) && d <= Duration::from_millis(7700),
                "{d:?}"
            );
        }
        assert_eq!(p.delay(1, Some(Duration::from_secs(301))), None);
        assert_eq!(RetryPolicy::never().delay(1, None), None);
    }
}
