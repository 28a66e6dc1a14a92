//! A circuit breaker per channel.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// When a channel is considered down: after `failures` failures in a row
/// that say the provider is unwell (5xx, timeouts, connection errors; not
/// rate limits, which prove the provider is alive, nor permanent errors,
/// which are about one message), its deliveries fail fast
/// ([`Failure::CircuitOpen`](crate::journal::Failure::CircuitOpen), retried
/// by the outbox) for `cool_down`; then exactly one attempt probes it: its
/// success closes the circuit, its failure opens it again. While the probe is
/// out, the others still fail fast.
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
    /// Opens after `failures` failures in a row, for `cool_down`.
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

/// What a finished attempt says about the provider's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    /// It answered (a success, a rate limit, a refusal of this message).
    Alive,
    /// It failed in a way that says it is unwell (5xx, timeout, connection).
    Unwell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open {
        until: Instant,
    },
    /// One probe is out.
    HalfOpen,
}

/// The breaker of one lane. The healthy path (closed, no failures) touches
/// only atomics; the lock is taken when failures accumulate.
#[derive(Debug)]
pub(crate) struct Breaker {
    config: CircuitBreaker,
    consecutive: AtomicU32,
    tripped: AtomicBool,
    state: Mutex<State>,
}

/// Leave to attempt a send. A probe dropped without [`Breaker::record`] (its
/// send was cancelled) reopens the circuit at once, so the next attempt
/// probes.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
}

impl Breaker {
    pub(crate) fn new(config: CircuitBreaker) -> Self {
        Self {
            config,
            consecutive: AtomicU32::new(0),
            tripped: AtomicBool::new(false),
            state: Mutex::new(State::Closed),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every change is one assignment: a poisoned lock holds a state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the circuit is open or half-open.
    pub(crate) fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::Acquire)
    }

    /// Leave for an attempt now, or `None` (fail fast).
    pub(crate) fn admit(&self) -> Option<Permit<'_>> {
        self.admit_at(Instant::now())
    }

    pub(crate) fn admit_at(&self, now: Instant) -> Option<Permit<'_>> {
        if !self.tripped.load(Ordering::Acquire) {
            return Some(Permit {
                breaker: self,
                probe: false,
            });
        }
        let mut state = self.state();
        match *state {
            State::Closed => Some(Permit {
                breaker: self,
                probe: false,
            }),
            State::Open { until } if now < until => None,
            State::Open { .. } => {
                *state = State::HalfOpen;
                Some(Permit {
                    breaker: self,
                    probe: true,
                })
            }
            State::HalfOpen => None,
        }
    }

    /// Records what an attempt under `permit` said about the provider.
    pub(crate) fn record(&self, mut permit: Permit<'_>, health: Health) {
        self.record_at(&mut permit, health, Instant::now());
    }

    fn record_at(&self, permit: &mut Permit<'_>, health: Health, now: Instant) {
        let probe = std::mem::replace(&mut permit.probe, false);
        match health {
            Health::Alive => {
                if self.consecutive.load(Ordering::Relaxed) != 0 {
                    self.consecutive.store(0, Ordering::Relaxed);
                }
                if probe {
                    *self.state() = State::Closed;
                    self.tripped.store(false, Ordering::Release);
                    tracing::info!("circuit closed: the probe succeeded");
                }
            }
            Health::Unwell => {
                if self.config.failures == 0 {
                    return;
                }
                let failures = self
                    .consecutive
                    .fetch_add(1, Ordering::Relaxed)
                    .saturating_add(1);
                let mut state = self.state();
                let reopen = probe || (*state == State::Closed && failures >= self.config.failures);
                if reopen {
                    *state = State::Open {
                        until: now + self.config.cool_down,
                    };
                    self.tripped.store(true, Ordering::Release);
                    tracing::warn!(failures, cool_down = ?self.config.cool_down, "circuit opened");
                }
            }
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe {
            // The probe never answered: let the next attempt probe.
            *self.breaker.state() = State::Open {
                until: Instant::now(),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_and_one_probe_decides() {
        let b = Breaker::new(CircuitBreaker::new(3, Duration::from_secs(30)));
        for health in [
            Health::Unwell,
            Health::Unwell,
            Health::Alive,
            Health::Unwell,
            Health::Unwell,
        ] {
            b.record(b.admit().unwrap(), health);
        }
        assert!(b.admit().is_some(), "a success resets the count");
        b.record(b.admit().unwrap(), Health::Unwell);
        assert!(b.admit().is_none(), "open: fail fast");
        tokio::time::sleep(Duration::from_secs(30)).await;
        let probe = b.admit().unwrap();
        assert!(probe.probe);
        assert!(b.admit().is_none(), "one probe at a time");
        b.record(probe, Health::Unwell);
        assert!(b.admit().is_none(), "a failed probe opens it again");
        tokio::time::sleep(Duration::from_secs(30)).await;
        let probe = b.admit().unwrap();
        drop(probe);
        let probe = b.admit().unwrap();
        assert!(probe.probe, "a dropped probe hands over");
        b.record(probe, Health::Alive);
        assert!(b.admit().is_some_and(|p| !p.probe));
        let never = Breaker::new(CircuitBreaker::disabled());
        for _ in 0..100 {
            never.record(never.admit().unwrap(), Health::Unwell);
        }
        assert!(never.admit().is_some());
    }

    proptest! {
        /// However many threads ask at once when the cool-down is over,
        /// exactly one gets the probe; the others fail fast until it answers.
        #[test]
        fn half_open_admits_exactly_one_probe(threads in 2usize..24, alive in any::<bool>()) {
            let b = Breaker::new(CircuitBreaker::new(1, Duration::from_secs(30)));
            let start = Instant::now();
            b.record(b.admit_at(start).unwrap(), Health::Unwell);
            let later = start + Duration::from_secs(31);
            let barrier = std::sync::Barrier::new(threads);
            let permits: Vec<Option<Permit<'_>>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            b.admit_at(later)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let mut probes: Vec<Permit<'_>> = permits.into_iter().flatten().collect();
            prop_assert_eq!(probes.len(), 1);
            prop_assert!(probes[0].probe);
            prop_assert!(b.admit_at(later).is_none(), "still half-open: the rest fail fast");
            // The probe's answer decides for everyone.
            let health = if alive { Health::Alive } else { Health::Unwell };
            let mut probe = probes.remove(0);
            b.record_at(&mut probe, health, later);
            drop(probe);
            prop_assert_eq!(b.admit_at(later).is_some(), alive);
        }
    }
}
