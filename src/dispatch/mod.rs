//! The dispatcher: primary first, then a rate-limited, retried, journaled
//! fan-out in which every message links back to the primary.
//!
//! [`Dispatcher::publish`] does, for one update:
//!
//! 1. **Record.** The incident and the update's [publication](crate::journal::Publication)
//!    are journaled first, so a restarted process can finish the job.
//! 2. **Primary first.** The update is rendered for the public and sent to the
//!    primary; its receipt's permalink becomes the link in every other message.
//!    If the primary fails or misses its deadline, the fan-out still goes out
//!    with the incident's canonical URL, and [`DispatchReport::link_source`]
//!    says so. The link is fixed in the journal, the same for every pass and
//!    every replica.
//! 3. **Plan.** For every audience the update is for (and whose component scope
//!    it touches), every route and every target: one delivery, rendered once per
//!    route at the audience's detail level and fitted to the channel, with a
//!    deterministic [idempotency key](crate::channel::IdempotencyKey). Targets
//!    are streamed, not copied. Internal notes are only ever rendered for
//!    audiences allowed to see them.
//! 4. **Execute.** Each channel is a lane with its own concurrency bound,
//!    `governor` limiters (per channel and per target), per-send timeout,
//!    retries (jittered exponential backoff honouring `retry_after`; permanent
//!    errors are not retried), a circuit breaker, and panic isolation. Lanes run
//!    side by side, so a slow or failing channel never delays another.
//! 5. **Journal.** Each attempt is claimed in the [`Journal`](crate::journal::Journal)
//!    before sending and its outcome recorded after: sent, failed (typed), or
//!    in doubt when the outcome is unknown. Sent deliveries are never sent
//!    again; later updates thread under the first contact.
//!
//! What is left (a retryable failure, a claim abandoned by a crashed worker, a
//! doubt that may be resent) the [`Outbox`] finishes, here or on another
//! replica sharing the journal.
//!
//! Tracing: a `publish` span (incident, seq) and a `send` span per attempt
//! (channel, kind, key, attempt); message bodies and secrets are never fields.
//! Counters per channel: [`Dispatcher::metrics`] (see [`metrics`]).

mod breaker;
mod budget;
mod builder;
mod dispatcher;
mod guard;
mod lane;
mod limiter;
pub mod metrics;
mod outbox;
mod pause;
mod plan;
mod report;
mod retry;
mod roles;

pub use breaker::CircuitBreaker;
pub use budget::RetryBudget;
pub use builder::{
    ConfigError, DEFAULT_CLAIM_LEASE, DEFAULT_DELIVERY_DEADLINE, DEFAULT_PRIMARY_DEADLINE,
    DEFAULT_REPORT_LIMIT, DispatcherBuilder,
};
pub use dispatcher::{DispatchError, Dispatcher};
pub use outbox::{Outbox, OutboxPass};
pub use report::{DeliveryCounts, DeliveryReport, DispatchReport, Outcome};
pub use retry::RetryPolicy;
