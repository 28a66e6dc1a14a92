//! One channel's lane: claim, send (with its limits, timeout, retries and
//! breaker), record. Every send is journaled first.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use super::breaker::{Breaker, Health};
use super::budget::Budget;
use super::dispatcher::Dispatcher;
use super::guard::{ClaimGuard, renew_while};
use super::limiter::Limiters;
use super::metrics::{Counters, Telemetry};
use super::pause::Pauses;
use super::plan::Prepared;
use super::report::{DeliveryReport, Outcome};
use crate::audience::{Audience, Target};
use crate::channel::{Channel, ChannelError, Delivery, ErrorKind, IdempotencyKey, Part, Receipt};
use crate::clock;
use crate::journal::{
    Claim, ClaimOptions, Decision, DoubtReason, Failure, Finish, JournalEntry, decide,
};

/// A registered channel with its limiters and circuit breaker.
pub(crate) struct Lane {
    pub(crate) name: Arc<str>,
    pub(crate) channel: Arc<dyn Channel>,
    pub(crate) limiters: Limiters,
    pub(crate) pauses: Pauses,
    pub(crate) breaker: Breaker,
    pub(crate) budget: Budget,
    pub(crate) counters: Counters,
    pub(crate) telemetry: Telemetry,
    /// Whether the provider deduplicates by the idempotency key, so a send
    /// whose outcome is unknown may be repeated.
    pub(crate) deduplicates: bool,
}

/// One message to one target on one lane: every part, in order.
pub(crate) struct Job<'a> {
    pub(crate) lane: &'a Lane,
    pub(crate) primary: bool,
    pub(crate) prepared: &'a Prepared,
    pub(crate) target: Target,
    /// Every audience the message reaches (first: the one it was planned for).
    pub(crate) audiences: Vec<Audience>,
    pub(crate) link: &'a Arc<Url>,
    pub(crate) options: ClaimOptions,
    /// Past the publication's deadline: record what is not settled as failed
    /// for good instead of sending it.
    pub(crate) expired: Option<chrono::DateTime<chrono::Utc>>,
    /// Read the delivery's state before claiming it: where a claim would
    /// wait for a rate-limit permit first, or most deliveries are expected
    /// to be settled (an outbox pass).
    pub(crate) peek: bool,
    /// Where the background writes of final outcomes are collected.
    pub(crate) finishes: &'a Finishes,
}

/// The background tasks writing deliveries' final outcomes to the journal;
/// a pass waits for all of them before it ends.
#[derive(Default)]
pub(crate) struct Finishes {
    /// Writes spawned and not yet done; memory stays flat however many
    /// deliveries a pass has (no handle is kept per write).
    pending: Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>,
}

impl Finishes {
    /// Runs `write` as a task of its own (it completes even if the pass is
    /// dropped), counted until it is done.
    fn spawn(&self, write: impl std::future::Future<Output = ()> + Send + 'static) {
        let pending = self.pending.clone();
        pending.0.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        tokio::spawn(async move {
            write.await;
            if pending.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel) == 1 {
                pending.1.notify_waiters();
            }
        });
    }

    /// Waits until every write spawned so far is done.
    pub(crate) async fn wait(&self) {
        loop {
            let done = self.pending.1.notified();
            let mut done = std::pin::pin!(done);
            // Registered before the count is read: a wake-up between the
            // two is not missed.
            done.as_mut().enable();
            if self.pending.0.load(std::sync::atomic::Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }
}

/// What one delivery came to.
struct Done {
    outcome: Outcome,
    attempts: u32,
    resend: bool,
}

impl Done {
    fn new(outcome: Outcome) -> Self {
        Self {
            outcome,
            attempts: 0,
            resend: false,
        }
    }
}

impl Dispatcher {
    /// Sends every part of one message to one target, in order; a part that
    /// is not delivered holds back the later ones.
    pub(crate) async fn run_job(&self, job: Job<'_>) -> Vec<DeliveryReport> {
        let lane = job.lane;
        let prepared = job.prepared;
        let view = &prepared.view;
        let key = |index: u16| {
            IdempotencyKey::derive(
                view.incident.id(),
                view.update.seq,
                &lane.name,
                &job.target,
                index,
            )
        };
        let entry = |key: IdempotencyKey, part: Part, has_link: bool| {
            JournalEntry::new(
                key,
                view.incident.id().clone(),
                view.update.seq,
                lane.name.clone(),
                job.primary,
                job.audiences.clone(),
                job.target.clone(),
                part,
                has_link,
                prepared.planned_at,
            )
        };
        let report = |key, part, done: Done, latency| DeliveryReport {
            key,
            channel: lane.name.clone(),
            audience: prepared.audience.clone(),
            target: job.target.clone(),
            part,
            outcome: done.outcome,
            attempts: done.attempts,
            latency,
            resend: done.resend,
        };
        let parts = match &prepared.parts {
            Ok(parts) => parts,
            Err(e) => {
                let key = key(1);
                let entry = entry(key.clone(), Part::WHOLE, false);
                let failure = job.expired.map_or_else(|| Failure::from(e), deadline);
                let done = Done::new(self.record_unsent(lane, entry, failure, job.options).await);
                count_outcome(lane, &done.outcome);
                return vec![report(key, Part::WHOLE, done, Duration::ZERO)];
            }
        };
        let count = u16::try_from(parts.len()).unwrap_or(u16::MAX);
        let mut reports = Vec::with_capacity(parts.len());
        let mut held_back = false;
        for (index, (fitted, has_link)) in (1..=count).zip(parts) {
            let part = Part { index, count };
            let key = key(index);
            let entry = entry(key.clone(), part, *has_link);
            let started = Instant::now();
            let done = if let Some(at) = job.expired {
                Done::new(
                    self.record_unsent(lane, entry, deadline(at), job.options)
                        .await,
                )
            } else if held_back {
                let failure = Failure::EarlierPartFailed;
                Done::new(self.record_unsent(lane, entry, failure, job.options).await)
            } else {
                let delivery = Delivery {
                    key: key.clone(),
                    channel: lane.name.clone(),
                    incident: view.incident.clone(),
                    update: view.update.clone(),
                    audience: prepared.audience.clone(),
                    detail: prepared.detail,
                    target: job.target.clone(),
                    message: prepared.message.clone(),
                    fitted: fitted.clone(),
                    text: fitted.text.clone(),
                    link: job.link.clone(),
                    thread: None,
                    part,
                    resend: false,
                };
                // Later parts read the thread this part extends: its record
                // is written before they start.
                let last = index == count;
                self.deliver(
                    lane,
                    &entry,
                    delivery,
                    job.options,
                    job.peek,
                    last.then_some(job.finishes),
                )
                .await
            };
            count_outcome(lane, &done.outcome);
            held_back = done.outcome.receipt().is_none();
            reports.push(report(key, part, done, started.elapsed()));
        }
        reports
    }

    /// Journals a delivery that will not be attempted (it cannot fit, an
    /// earlier part failed, its deadline passed), so the journal and the
    /// review see every planned message. Settled deliveries stay as they are.
    async fn record_unsent(
        &self,
        lane: &Lane,
        entry: JournalEntry,
        failure: Failure,
        options: ClaimOptions,
    ) -> Outcome {
        let inner = &*self.inner;
        let now = clock::now();
        let claim = inner
            .journal
            .claim(&entry, &inner.owner, now, self.lease_from(now), options)
            .await;
        match claim {
            Ok(Claim::Claimed { token, .. }) => {
                let finish = Finish::Failed {
                    failure: failure.clone(),
                    attempts: 0,
                };
                if let Err(e) = inner.journal.finish(&token, finish, now).await {
                    tracing::error!(channel = %lane.name, key = %entry.key, error = %e, "journal finish failed");
                }
                Outcome::Failed(failure)
            }
            Ok(other) => settled(other),
            Err(e) => Outcome::Failed(Failure::Journal(e)),
        }
    }

    /// Claims, sends and records one delivery, retrying as the policy allows.
    /// Each attempt is claimed on its own: between attempts the delivery is
    /// recorded failed (retryable) or in doubt, so a crash during a backoff
    /// loses nothing and leaves no false doubt.
    async fn deliver(
        &self,
        lane: &Lane,
        entry: &JournalEntry,
        mut delivery: Delivery,
        options: ClaimOptions,
        peek: bool,
        finishes: Option<&Finishes>,
    ) -> Done {
        let inner = &*self.inner;
        let journal = &inner.journal;
        let mut done = Done::new(Outcome::Failed(Failure::Cancelled));
        let mut threaded = !lane.channel.limits().threads;
        if peek {
            // Ask before taking a rate-limit permit (a delivery sent earlier
            // must not wait for, or use up, one) or a write.
            match journal.state(&entry.key).await {
                Ok(state) => {
                    if let Decision::Answer(claim) = decide(state.as_ref(), clock::now(), options) {
                        return Done::new(settled(claim));
                    }
                }
                Err(e) => return Done::new(Outcome::Failed(Failure::Journal(e))),
            }
        }
        loop {
            // A provider's pause holds the whole bucket; then the rate
            // limiters; then the breaker's leave, taken last so a probe is
            // not held through the waits.
            let waiting = Instant::now();
            let ticket = lane.pauses.wait(&delivery.target).await;
            lane.limiters.until_ready(&delivery.target).await;
            lane.telemetry.waited(waiting.elapsed());
            let Some(permit) = lane.breaker.admit() else {
                let failure = Failure::CircuitOpen {
                    channel: lane.name.to_string(),
                };
                done.outcome = self
                    .record_unsent(lane, entry.clone(), failure, options)
                    .await;
                return done;
            };

            let now = clock::now();
            let mut guard =
                ClaimGuard::claiming(journal.clone(), entry.key.clone(), inner.owner.clone());
            let token = match journal
                .claim(entry, &inner.owner, now, self.lease_from(now), options)
                .await
            {
                Ok(Claim::Claimed { token, resend }) => {
                    done.resend |= resend;
                    delivery.resend = done.resend;
                    token
                }
                Ok(other) => {
                    guard.disarm();
                    done.outcome = settled(other);
                    return done;
                }
                Err(e) => {
                    tracing::error!(channel = %lane.name, key = %entry.key, error = %e, "journal claim failed; not sending");
                    done.outcome = Outcome::Failed(Failure::Journal(e));
                    return done;
                }
            };
            guard.sending(token.clone());

            if !threaded {
                threaded = true;
                match journal
                    .thread(delivery.incident.id(), &lane.name, &delivery.target)
                    .await
                {
                    Ok(thread) => delivery.thread = thread,
                    Err(e) => {
                        tracing::warn!(channel = %lane.name, key = %delivery.key, error = %e, "thread lookup failed; sending unthreaded");
                    }
                }
            }

            if done.attempts == 0 {
                lane.budget.deposit();
            }
            done.attempts += 1;
            Counters::add(&lane.counters.attempts);
            let sending = Instant::now();
            let sent = renew_while(
                journal,
                &token,
                inner.claim_lease,
                self.send_once(lane, &delivery, done.attempts),
            )
            .await;
            lane.telemetry.attempt(sending.elapsed());
            let was_open = lane.breaker.is_tripped();

            let (finish, next) = match sent {
                Ok(receipt) => {
                    lane.breaker.record(permit, Health::Alive);
                    ticket.finish(false);
                    (Finish::Sent(receipt.clone()), Err(Outcome::Sent(receipt)))
                }
                Err(Attempt::Panicked(message)) => {
                    lane.breaker.record(permit, Health::Unwell);
                    ticket.finish(false);
                    let failure = Failure::Panicked {
                        channel: lane.name.to_string(),
                        message,
                    };
                    tracing::error!(channel = %lane.name, key = %entry.key, "channel panicked: {failure}");
                    let finish = Finish::Failed {
                        failure: failure.clone(),
                        attempts: 1,
                    };
                    (finish, Err(Outcome::Failed(failure)))
                }
                Err(Attempt::Error(error)) => {
                    let rate_limited = matches!(error, ChannelError::RateLimited { .. });
                    let health = match error.kind() {
                        ErrorKind::Transient | ErrorKind::Timeout | ErrorKind::ConnectionLost => {
                            Health::Unwell
                        }
                        _ => Health::Alive,
                    };
                    lane.breaker.record(permit, health);
                    if rate_limited {
                        Counters::add(&lane.counters.rate_limited);
                        lane.telemetry.rate_limited();
                        // The whole bucket waits; this delivery's retry with it.
                        lane.pauses
                            .rate_limited(&delivery.target, error.retry_after());
                    }
                    ticket.finish(rate_limited);
                    let wait = if error.is_retryable() {
                        inner
                            .retry
                            .delay(done.attempts, error.retry_after())
                            .filter(|_| {
                                let allowed = lane.budget.withdraw();
                                if !allowed {
                                    Counters::add(&lane.counters.retries_denied);
                                    lane.telemetry.retry_denied();
                                    tracing::warn!(channel = %lane.name, key = %entry.key, "retry budget spent; the outbox tries later");
                                }
                                allowed
                            })
                            // A rate limit's wait is the pause itself.
                            .map(|wait| if rate_limited { Duration::ZERO } else { wait })
                    } else {
                        None
                    };
                    if error.is_outcome_unknown() {
                        let reason = DoubtReason::NoAnswer {
                            error: error.clone(),
                        };
                        let finish = Finish::InDoubt {
                            reason: reason.clone(),
                            attempts: 1,
                        };
                        match wait.filter(|_| options.resend_in_doubt) {
                            Some(wait) => (finish, Ok((wait, error))),
                            None => (finish, Err(Outcome::InDoubt(reason))),
                        }
                    } else {
                        let finish = Finish::Failed {
                            failure: Failure::Channel(error.clone()),
                            attempts: 1,
                        };
                        match wait {
                            Some(wait) => (finish, Ok((wait, error))),
                            None => (finish, Err(Outcome::Failed(Failure::Channel(error)))),
                        }
                    }
                }
            };
            if lane.breaker.is_tripped() != was_open {
                lane.telemetry.circuit(!was_open);
            }
            let at = match &finish {
                Finish::Sent(receipt) => receipt.at,
                _ => clock::now(),
            };
            guard.disarm();
            let record = {
                let (journal, channel, key) =
                    (journal.clone(), lane.name.clone(), entry.key.clone());
                async move {
                    if let Err(e) = journal.finish(&token, finish, at).await {
                        // The send happened (or failed) regardless; report
                        // what happened. If the journal missed it, the claim
                        // runs out and the delivery is reported in doubt
                        // later, never guessed.
                        tracing::error!(%channel, %key, error = %e, "journal finish failed");
                    }
                }
            };
            match (&next, finishes) {
                // The last record of the delivery: written in the background
                // (its own task, so a dropped publish still writes it), so the
                // lane's slot goes to the next delivery at once; the publish
                // waits for every such record before it returns.
                (Err(_), Some(finishes)) => finishes.spawn(record),
                _ => record.await,
            }
            match next {
                Err(outcome) => {
                    if let Outcome::Failed(failure) = &outcome {
                        tracing::warn!(channel = %lane.name, key = %entry.key, attempts = done.attempts, "delivery failed: {failure}");
                    }
                    done.outcome = outcome;
                    return done;
                }
                Ok((wait, error)) => {
                    tracing::debug!(channel = %lane.name, key = %entry.key, ?wait, "retrying: {error}");
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
    }

    /// One call to the channel, within the send timeout; a panic in the
    /// channel is caught and reported, never propagated.
    async fn send_once(
        &self,
        lane: &Lane,
        delivery: &Delivery,
        attempt: u32,
    ) -> Result<Receipt, Attempt> {
        let timeout = self.inner.send_timeout;
        // Every field a reader filters on: the incident, the update, the
        // channel, the audience (the target may be personal: not logged).
        let span = tracing::debug_span!(
            "send",
            incident = %delivery.incident.id(),
            update = delivery.update.seq,
            channel = %lane.name,
            kind = %lane.channel.kind(),
            audience = delivery.audience.as_str(),
            key = %delivery.key,
            attempt,
        );
        let call = tokio::time::timeout(timeout, lane.channel.send(delivery)).instrument(span);
        match AssertUnwindSafe(call).catch_unwind().await {
            Ok(Ok(Ok(receipt))) => Ok(receipt),
            Ok(Ok(Err(error))) => Err(Attempt::Error(error)),
            Ok(Err(_elapsed)) => Err(Attempt::Error(ChannelError::Timeout { after: timeout })),
            Err(panic) => Err(Attempt::Panicked(panic_message(panic.as_ref()))),
        }
    }
}

/// Why one attempt did not succeed.
enum Attempt {
    Error(ChannelError),
    Panicked(String),
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(not a string)".to_owned())
}

fn deadline(at: chrono::DateTime<chrono::Utc>) -> Failure {
    Failure::DeadlinePassed { deadline: at }
}

/// The outcome of a claim that was not granted.
fn settled(claim: Claim) -> Outcome {
    match claim {
        Claim::AlreadySent(receipt) => Outcome::AlreadySent(receipt),
        Claim::InFlight { owner, lease_until } => Outcome::InFlight { owner, lease_until },
        Claim::InDoubt { reason } => Outcome::InDoubt(reason),
        Claim::Failed { failure } => Outcome::Failed(failure),
        // Granted claims are handled by the callers; treat one reaching here
        // as not sent (its lease will run out).
        Claim::Claimed { .. } => Outcome::Failed(Failure::Cancelled),
    }
}

/// Counts a delivery's outcome on its lane.
fn count_outcome(lane: &Lane, outcome: &Outcome) {
    let c = &lane.counters;
    let t = &lane.telemetry;
    match outcome {
        Outcome::Sent(_) => {
            Counters::add(&c.sent);
            t.outcome("sent");
        }
        Outcome::AlreadySent(_) => {
            Counters::add(&c.already_sent);
            t.outcome("already_sent");
        }
        Outcome::Failed(failure) => {
            Counters::add(&c.failed);
            t.outcome("failed");
            t.failure(failure.kind());
            if matches!(failure, Failure::CircuitOpen { .. }) {
                Counters::add(&c.circuit_open);
            }
        }
        Outcome::InDoubt(_) => {
            Counters::add(&c.in_doubt);
            t.outcome("in_doubt");
        }
        Outcome::InFlight { .. } => t.outcome("in_flight"),
    }
}

/// Whether a delivery's outcome still needs work (by the outbox, or by
/// whoever holds it): a retryable failure, a claim held elsewhere, or a doubt
/// that will be resent.
pub(crate) fn unsettled(outcome: &Outcome, resend_in_doubt: bool) -> bool {
    match outcome {
        Outcome::Sent(_) | Outcome::AlreadySent(_) => false,
        Outcome::InFlight { .. } => true,
        Outcome::Failed(failure) => failure.is_retryable(),
        Outcome::InDoubt(_) => resend_in_doubt,
    }
}
