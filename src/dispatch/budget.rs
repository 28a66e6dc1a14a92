//! A retry budget per channel, as tower's: retries stay within a fraction of
//! recent first attempts plus a small floor, so an outage cannot multiply
//! the traffic to a struggling provider.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How many retries a channel may make: over the last `ttl`, at most
/// `ratio` × first attempts + `min_per_sec` × `ttl` seconds. A retry the
/// budget refuses is not made now; the delivery is recorded failed
/// (retryable, or in doubt) and the outbox tries it later.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudget {
    ttl: Duration,
    min_per_sec: u32,
    ratio: f64,
}

impl Default for RetryBudget {
    /// Tower's defaults: 20 % of first attempts over 10 s, plus 10 retries a
    /// second.
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(10),
            min_per_sec: 10,
            ratio: 0.2,
        }
    }
}

impl RetryBudget {
    /// A budget of `ratio` (0 to 1000) × first attempts over `ttl` (1 s to
    /// 60 s), plus `min_per_sec` retries a second. Out-of-range values are
    /// clamped.
    pub fn new(ttl: Duration, min_per_sec: u32, ratio: f64) -> Self {
        let ratio = if ratio.is_finite() {
            ratio.clamp(0.0, 1000.0)
        } else {
            0.0
        };
        Self {
            ttl: ttl.clamp(Duration::from_secs(1), Duration::from_secs(60)),
            min_per_sec,
            ratio,
        }
    }

    /// No limit on retries (only the retry policy's).
    pub fn unlimited() -> Self {
        Self {
            ttl: Duration::from_secs(1),
            min_per_sec: u32::MAX,
            ratio: 1000.0,
        }
    }
}

/// One second's counts.
#[derive(Debug, Clone, Copy)]
struct Slot {
    start: Instant,
    deposits: u64,
    withdrawals: u64,
}

/// The live budget of one lane.
#[derive(Debug)]
pub(crate) struct Budget {
    config: RetryBudget,
    slots: Mutex<VecDeque<Slot>>,
}

impl Budget {
    pub(crate) fn new(config: RetryBudget) -> Self {
        Self {
            config,
            slots: Mutex::new(VecDeque::new()),
        }
    }

    fn slots(&self, now: Instant) -> MutexGuard<'_, VecDeque<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        while slots
            .front()
            .is_some_and(|s| now >= s.start + self.config.ttl)
        {
            slots.pop_front();
        }
        if slots
            .back()
            .is_none_or(|s| now >= s.start + Duration::from_secs(1))
        {
            slots.push_back(Slot {
                start: now,
                deposits: 0,
                withdrawals: 0,
            });
        }
        slots
    }

    /// A first attempt was made.
    pub(crate) fn deposit(&self) {
        let now = Instant::now();
        if let Some(slot) = self.slots(now).back_mut() {
            slot.deposits += 1;
        }
    }

    /// Whether a retry may be made now (and counts it if so).
    pub(crate) fn withdraw(&self) -> bool {
        let now = Instant::now();
        let mut slots = self.slots(now);
        let (deposits, withdrawals) = slots.iter().fold((0u64, 0u64), |(d, w), s| {
            (d + s.deposits, w + s.withdrawals)
        });
        let floor = f64::from(self.config.min_per_sec) * self.config.ttl.as_secs_f64();
        let allowed = floor + self.config.ratio * deposits as f64;
        if (withdrawals as f64) + 1.0 > allowed {
            return false;
        }
        if let Some(slot) = slots.back_mut() {
            slot.withdrawals += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_stay_within_the_floor_and_the_ratio() {
        let b = Budget::new(RetryBudget::new(Duration::from_secs(10), 1, 0.5));
        // Floor: 1 a second over 10 s = 10 retries with no first attempts.
        assert_eq!((0..100).filter(|_| b.withdraw()).count(), 10);
        // 40 first attempts buy 20 more.
        for _ in 0..40 {
            b.deposit();
        }
        assert_eq!((0..100).filter(|_| b.withdraw()).count(), 20);
        // Once the window has passed, the floor is back.
        tokio::time::sleep(Duration::from_secs(11)).await;
        assert_eq!((0..100).filter(|_| b.withdraw()).count(), 10);
        let unlimited = Budget::new(RetryBudget::unlimited());
        assert!((0..10_000).all(|_| unlimited.withdraw()));
    }
}
