//! A provider's rate limit pauses its bucket, not one delivery.
//!
//! When a provider answers "rate limited, come back in 30 s", every delivery
//! of the same bucket (the whole channel, or one target, as the channel
//! declares with [`RateLimitScope`]) waits for the pause instead of each
//! collecting its own 429. When the pause ends, one delivery goes first (a
//! probe); the others wait for its answer: a success lifts the pause, another
//! rate limit starts a new one.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::audience::Target;
use crate::channel::RateLimitScope;

/// A pause's key: the whole channel, or one target.
type Key = Option<Target>;

#[derive(Debug)]
struct Gate {
    until: Instant,
    probing: bool,
}

/// The pauses of one lane.
#[derive(Debug)]
pub(crate) struct Pauses {
    scope: RateLimitScope,
    gates: Mutex<HashMap<Key, Gate>>,
    changed: Notify,
}

/// A delivery's pass through the pause: normal, or the probe after a pause.
/// Dropped without [`Ticket::finish`] (a cancelled send), a probe hands the
/// probe to the next delivery.
pub(crate) struct Ticket<'a> {
    pauses: &'a Pauses,
    probe: Option<Key>,
}

/// How long the bucket stays paused when the provider gives no time.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);

/// Pauses older than this with nobody probing are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(600);

impl Pauses {
    pub(crate) fn new(scope: RateLimitScope) -> Self {
        Self {
            scope,
            gates: Mutex::new(HashMap::new()),
            changed: Notify::new(),
        }
    }

    fn gates(&self) -> MutexGuard<'_, HashMap<Key, Gate>> {
        // Every change is one assignment or removal: a poisoned lock holds
        // consistent data.
        self.gates.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn key(&self, target: &Target) -> Key {
        match self.scope {
            RateLimitScope::Target => Some(target.clone()),
            _ => None,
        }
    }

    /// Waits while `target`'s bucket is paused (on tokio's clock); the first
    /// delivery after a pause gets a probe ticket, and the rest wait for it.
    pub(crate) async fn wait(&self, target: &Target) -> Ticket<'_> {
        let key = self.key(target);
        loop {
            let changed = self.changed.notified();
            let now = Instant::now();
            let wait = {
                let mut gates = self.gates();
                match gates.get_mut(&key) {
                    None => {
                        return Ticket {
                            pauses: self,
                            probe: None,
                        };
                    }
                    Some(gate) if now < gate.until => Some(gate.until),
                    Some(gate) if gate.probing => None,
                    Some(gate) => {
                        gate.probing = true;
                        return Ticket {
                            pauses: self,
                            probe: Some(key),
                        };
                    }
                }
            };
            match wait {
                Some(until) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(until) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// The provider rate-limited a delivery to `target`: pause its bucket for
    /// `after` (or a second when it gave no time).
    pub(crate) fn rate_limited(&self, target: &Target, after: Option<Duration>) {
        let key = self.key(target);
        let now = Instant::now();
        let until = now + after.unwrap_or(DEFAULT_PAUSE);
        let mut gates = self.gates();
        gates.retain(|_, g| g.probing || g.until + FORGET_AFTER > now);
        let gate = gates.entry(key).or_insert(Gate {
            until,
            probing: false,
        });
        gate.until = gate.until.max(until);
        gate.probing = false;
        drop(gates);
        self.changed.notify_waiters();
    }

    /// Whether anything is paused (for metrics and tests).
    #[cfg(test)]
    fn is_paused(&self, target: &Target) -> bool {
        self.gates().contains_key(&self.key(target))
    }
}

impl Ticket<'_> {
    /// Ends the delivery's pass: `rate_limited` is whether the provider
    /// rate-limited it again (then the pause was renewed by
    /// [`Pauses::rate_limited`]). A probe that was not rate-limited lifts the
    /// pause for everyone.
    pub(crate) fn finish(mut self, rate_limited: bool) {
        if let Some(key) = self.probe.take() {
            let mut gates = self.pauses.gates();
            if rate_limited {
                if let Some(gate) = gates.get_mut(&key) {
                    gate.probing = false;
                }
            } else {
                gates.remove(&key);
            }
            drop(gates);
            self.pauses.changed.notify_waiters();
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.probe.take() {
            if let Some(gate) = self.pauses.gates().get_mut(&key) {
                gate.probing = false;
            }
            self.pauses.changed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(s: &str) -> Target {
        Target::new(s).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_everyone_then_one_probe_goes_first() {
        let p = Pauses::new(RateLimitScope::Channel);
        let a = target("a");
        assert!(p.wait(&a).await.probe.is_none());
        let start = Instant::now();
        p.rate_limited(&a, Some(Duration::from_secs(30)));
        let probe = p.wait(&target("b")).await;
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        assert!(probe.probe.is_some());
        // While the probe is out, others wait for its answer.
        let other = tokio::time::timeout(Duration::from_secs(5), p.wait(&a)).await;
        assert!(other.is_err(), "nobody passes while the probe is out");
        probe.finish(false);
        assert!(p.wait(&a).await.probe.is_none());
        assert!(!p.is_paused(&a));
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_rate_limited_again_renews_the_pause_and_a_dropped_one_hands_over() {
        let p = Pauses::new(RateLimitScope::Channel);
        let a = target("a");
        p.rate_limited(&a, Some(Duration::from_secs(10)));
        let probe = p.wait(&a).await;
        p.rate_limited(&a, Some(Duration::from_secs(10)));
        probe.finish(true);
        let start = Instant::now();
        let probe = p.wait(&a).await;
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        drop(probe); // cancelled: the next delivery probes
        let next = p.wait(&a).await;
        assert!(next.probe.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_target_scope_pauses_one_target_only() {
        let p = Pauses::new(RateLimitScope::Target);
        p.rate_limited(&target("a"), Some(Duration::from_secs(30)));
        let start = Instant::now();
        assert!(p.wait(&target("b")).await.probe.is_none());
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(p.is_paused(&target("a")));
    }
}
