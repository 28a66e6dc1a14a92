//! The journal: every delivery's state, recorded before and after each send,
//! and every incident and publication, so that nothing is sent twice, nothing
//! is lost, and a restarted process (or another replica) finishes the job.
//!
//! | backend | feature | for |
//! |---|---|---|
//! | [`MemoryJournal`] | (none) | tests and throwaway use: forgotten at exit |
//! | `SqliteJournal` | `journal-sqlite` | one process: an embedded file; every claim is on disk before the send |
//! | `PostgresJournal` | `journal-postgres` | several replicas sharing one database; claims atomic across processes |
//!
//! ## States
//!
//! A delivery is **claimed** (by an [`Owner`], with a fencing counter and a
//! lease the sender renews while it sends), then **sent** (with the
//! provider's receipt), **failed** (with a typed [`Failure`]; retried later if
//! it is retryable) or **in doubt** (nobody knows whether the provider got it:
//! the send was cancelled or timed out after the request left, or its worker
//! died). A delivery in doubt is sent again, with the same idempotency key,
//! only where the provider deduplicates by that key or the route accepts a
//! duplicate; elsewhere it is reported, never guessed. Every change is also
//! kept as a [`Transition`], for the review.
//!
//! The rule that decides what a claim does in each state is one function,
//! [`decide`], shared by every backend; the `conformance` suite (feature
//! `journal-conformance`) checks a backend against the contract.
//!
//! ## Incidents and publications
//!
//! The journal also stores each incident with its updates, and one
//! [`Publication`] per published update: the link its messages carry (fixed
//! once, for every replica and every pass), its deadline, and when the outbox
//! should look at it again. A restarted process finds there everything it
//! needs to finish what was pending.

mod error;
mod memory;
mod record;
mod row;
#[cfg(any(feature = "journal-sqlite", feature = "journal-postgres"))]
mod sql;
mod state;

#[cfg(feature = "journal-conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "journal-conformance")))]
pub mod conformance;
#[cfg(feature = "journal-postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "journal-postgres")))]
mod postgres;
#[cfg(feature = "journal-sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "journal-sqlite")))]
mod sqlite;

pub use error::JournalError;
pub use memory::MemoryJournal;
#[cfg(feature = "journal-postgres")]
pub use postgres::{PostgresJournal, PostgresOptions};
pub use record::{
    JournalEntry, JournalRecord, LinkChoice, LinkSource, Pruned, Publication, Transition,
};
#[cfg(feature = "journal-sqlite")]
pub use sqlite::{SqliteJournal, SqliteOptions, Synchronous};
pub use state::{
    Claim, ClaimOptions, ClaimToken, Decision, DeliveryState, DoubtReason, Failure, Finish, Owner,
    decide, holds,
};

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audience::Target;
use crate::channel::{IdempotencyKey, Thread};
use crate::incident::{Incident, IncidentId};

/// Where deliveries, incidents and publications are recorded.
///
/// The dispatcher claims a delivery before it sends it and records the
/// outcome after, so that publishing the same update again sends nothing new,
/// a restarted process can tell what was sent, and later updates find the
/// thread of the first contact on each target without the caller keeping
/// provider ids.
///
/// A backend must make [`Journal::claim`] atomic across everyone sharing the
/// journal and durable before it returns, apply the claim rule [`decide`],
/// and refuse a stale [`ClaimToken`] ([`JournalError::Conflict`]) without
/// changing anything. Run `conformance` (feature `journal-conformance`)
/// against a new backend.
#[async_trait]
pub trait Journal: Send + Sync + fmt::Debug {
    /// Stores `incident` (with all its updates; replacing what was stored)
    /// and, if it is new, the publication of update `seq`, created at `now`,
    /// to be finished by `deadline`; the outbox leaves it alone until
    /// `not_before` (while the first publish is still running). Returns the
    /// publication as stored (an earlier one, if `seq` was published before).
    async fn record_update(
        &self,
        incident: &Incident,
        seq: u32,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<Publication, JournalError>;

    /// Stores `incident`, replacing what was stored under its id.
    async fn save_incident(&self, incident: &Incident) -> Result<(), JournalError>;

    /// The stored incident with this id.
    async fn incident(&self, id: &IncidentId) -> Result<Option<Incident>, JournalError>;

    /// Every stored incident that is not closed, oldest first.
    async fn open_incidents(&self) -> Result<Vec<Incident>, JournalError>;

    /// The publication of update `seq` of `incident`.
    async fn publication(
        &self,
        incident: &IncidentId,
        seq: u32,
    ) -> Result<Option<Publication>, JournalError>;

    /// Fixes the link of a publication if none is fixed yet; returns the link
    /// that is (the first one chosen wins, across replicas).
    async fn choose_link(
        &self,
        incident: &IncidentId,
        seq: u32,
        link: &LinkChoice,
    ) -> Result<LinkChoice, JournalError>;

    /// Ends a pass over a publication: `next_attempt_at` is when the outbox
    /// should look again, `None` once every delivery is settled.
    async fn end_pass(
        &self,
        incident: &IncidentId,
        seq: u32,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<(), JournalError>;

    /// Publications due for a pass at `now` (oldest due first), at most
    /// `limit`.
    async fn due_publications(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Publication>, JournalError>;

    /// Claims a delivery for `owner` at `now`, until `lease_until`, following
    /// [`decide`]: atomic across everyone sharing the journal, and durable
    /// before it returns.
    async fn claim(
        &self,
        entry: &JournalEntry,
        owner: &Owner,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        options: ClaimOptions,
    ) -> Result<Claim, JournalError>;

    /// Extends a claim's lease to `lease_until`. A stale token is refused
    /// with [`JournalError::Conflict`] and changes nothing.
    async fn renew(
        &self,
        token: &ClaimToken,
        lease_until: DateTime<Utc>,
    ) -> Result<(), JournalError>;

    /// Records, at `at`, the outcome of a claimed delivery. On
    /// [`Finish::Sent`] with a message reference, the thread of (incident,
    /// channel, target) is started (root) or advanced (latest). A stale token
    /// is refused with [`JournalError::Conflict`] and changes nothing.
    async fn finish(
        &self,
        token: &ClaimToken,
        finish: Finish,
        at: DateTime<Utc>,
    ) -> Result<(), JournalError>;

    /// Gives up a claim `owner` holds on `key` before anything was sent (a
    /// publish cancelled while it was claiming): records it failed with
    /// [`Failure::Cancelled`], which is retried. Returns whether `owner` held
    /// it.
    async fn release(
        &self,
        key: &IdempotencyKey,
        owner: &Owner,
        at: DateTime<Utc>,
    ) -> Result<bool, JournalError>;

    /// The latest state of a delivery, if it was ever claimed.
    async fn state(&self, key: &IdempotencyKey) -> Result<Option<DeliveryState>, JournalError>;

    /// The thread of earlier messages on this incident, channel and target.
    async fn thread(
        &self,
        incident: &IncidentId,
        channel: &str,
        target: &Target,
    ) -> Result<Option<Thread>, JournalError>;

    /// Every record about an incident, in the order first claimed.
    async fn records(&self, incident: &IncidentId) -> Result<Vec<JournalRecord>, JournalError>;

    /// Every state change of every delivery of an incident, in order.
    async fn history(&self, incident: &IncidentId) -> Result<Vec<Transition>, JournalError>;

    /// Removes every incident closed (resolved, or its maintenance completed)
    /// before `closed_before`, with its deliveries, history, threads and
    /// publications.
    async fn prune(&self, closed_before: DateTime<Utc>) -> Result<Pruned, JournalError>;
}

/// When an incident closed: the time of its closing update, if it has one.
pub(crate) fn closed_at(incident: &Incident) -> Option<DateTime<Utc>> {
    incident
        .updates()
        .iter()
        .find(|u| u.status.is_closed())
        .map(|u| u.at)
}
