//! The dispatcher: primary first, then a rate-limited, retried, journaled
//! fan-out in which every message links back to the primary.
//!
//! [`Dispatcher::publish`] does, for one update:
//!
//! 1. **Primary first.** The update is rendered for the public and sent to the
//!    primary; its receipt's permalink becomes the link in every other message.
//!    If the primary fails, the fan-out still goes out with the incident's
//!    canonical URL, and [`DispatchReport::link_source`] says so.
//! 2. **Plan.** For every audience the update is for (and whose component scope
//!    it touches), every route and every target: one delivery, rendered once per
//!    route at the audience's detail level and fitted to the channel, with a
//!    deterministic [idempotency key](crate::channel::IdempotencyKey). Targets
//!    are streamed, not copied: memory stays flat in the number of targets.
//!    Internal notes are only ever rendered for audiences allowed to see them.
//! 3. **Execute.** Each channel is a lane with its own concurrency bound,
//!    `governor` limiters (per channel and per target), per-send timeout and
//!    retries (jittered exponential backoff honouring `retry_after`; permanent
//!    errors are not retried). Lanes run side by side, so a slow or failing
//!    channel never delays another.
//! 4. **Journal.** Each delivery is claimed in the [`Journal`] before sending
//!    and its outcome recorded after, with the receipt's thread handle; sent
//!    deliveries are never sent again, and later updates thread under the first
//!    contact.
//!
//! Tracing: a `publish` span (incident, seq) and a `send` span per attempt
//! (channel, kind, key, attempt); message bodies and secrets are never fields.
//! Counters per channel: [`Dispatcher::metrics`] (see [`metrics`]).

mod breaker;
mod builder;
mod dispatcher;
mod journal;
mod limiter;
pub mod metrics;
mod report;
mod retry;

pub use breaker::CircuitBreaker;
pub use builder::{ConfigError, DispatcherBuilder};
pub use dispatcher::{DispatchError, Dispatcher};
pub use journal::{
    Claim, DeliveryState, Journal, JournalEntry, JournalError, JournalRecord, MemoryJournal,
};
pub use report::{DeliveryReport, DispatchReport, Failure, LinkSource, Outcome};
pub use retry::RetryPolicy;
