//! What a journal stores: planned deliveries with their states and history,
//! and the publications (one per update) the outbox finishes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::state::DeliveryState;
use crate::audience::{Audience, Target};
use crate::channel::{IdempotencyKey, Part};
use crate::incident::IncidentId;

/// One planned delivery, as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JournalEntry {
    /// The delivery's idempotency key (unique per delivery).
    pub key: IdempotencyKey,
    /// The incident.
    pub incident: IncidentId,
    /// The update's sequence number.
    pub seq: u32,
    /// The channel's registered name.
    pub channel: Arc<str>,
    /// Whether the channel is the primary.
    pub primary: bool,
    /// Every audience this message reaches: a target routed from several
    /// audiences is sent one message, for all of them. Never empty.
    pub audiences: Vec<Audience>,
    /// The target.
    pub target: Target,
    /// Which part of a split message.
    pub part: Part,
    /// Whether the text carries the link to the source of truth.
    pub has_link: bool,
    /// When the update was planned for sending.
    pub planned_at: DateTime<Utc>,
}

impl JournalEntry {
    /// A planned delivery (for journals and tests of your own; the dispatcher
    /// makes its own).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        key: IdempotencyKey,
        incident: IncidentId,
        seq: u32,
        channel: impl Into<Arc<str>>,
        primary: bool,
        audiences: Vec<Audience>,
        target: Target,
        part: Part,
        has_link: bool,
        planned_at: DateTime<Utc>,
    ) -> Self {
        Self {
            key,
            incident,
            seq,
            channel: channel.into(),
            primary,
            audiences,
            target,
            part,
            has_link,
            planned_at,
        }
    }

    /// The audience the message was planned for first (the first of
    /// [`JournalEntry::audiences`]).
    pub fn audience(&self) -> Option<&Audience> {
        self.audiences.first()
    }
}

/// A journal entry and its latest state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JournalRecord {
    /// The planned delivery.
    pub entry: JournalEntry,
    /// Its latest state.
    pub state: DeliveryState,
    /// When the state last changed.
    pub updated_at: DateTime<Utc>,
}

impl JournalRecord {
    /// A record (for journals that store entries and states apart).
    pub fn new(entry: JournalEntry, state: DeliveryState, updated_at: DateTime<Utc>) -> Self {
        Self {
            entry,
            state,
            updated_at,
        }
    }
}

/// One state change of one delivery: the journal keeps every one, so a
/// delivery that failed at +30 and went out at +40 shows both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Transition {
    /// The delivery.
    pub key: IdempotencyKey,
    /// When.
    pub at: DateTime<Utc>,
    /// The state it entered.
    pub state: DeliveryState,
}

impl Transition {
    /// A transition.
    pub fn new(key: IdempotencyKey, at: DateTime<Utc>, state: DeliveryState) -> Self {
        Self { key, at, state }
    }
}

/// Where the link every message carries came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LinkSource {
    /// The primary's permalink.
    Primary,
    /// The incident's canonical URL, because the primary gave no permalink
    /// (it failed, missed its deadline, is still busy elsewhere, or the
    /// update is not public).
    Canonical {
        /// Why the primary's permalink could not be used.
        reason: String,
    },
}

/// The link a publication's messages carry, fixed once for every pass and
/// every replica, so a message resent after a restart reads like the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LinkChoice {
    /// The link.
    pub url: Url,
    /// Where it came from.
    pub source: LinkSource,
}

impl LinkChoice {
    /// A link and its source.
    pub fn new(url: Url, source: LinkSource) -> Self {
        Self { url, source }
    }
}

/// One update's publication: what the outbox needs to finish it after a
/// restart, without the caller supplying anything again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Publication {
    /// The incident (stored in the journal with its updates).
    pub incident: IncidentId,
    /// The update's sequence number.
    pub seq: u32,
    /// The link its messages carry, once chosen.
    pub link: Option<LinkChoice>,
    /// When it was first published.
    pub created_at: DateTime<Utc>,
    /// After this, what is not sent fails for good.
    pub deadline: DateTime<Utc>,
    /// When the outbox should look at it again; `None` once every delivery
    /// is settled (sent, failed for good, or in doubt and not resendable).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// How many passes (the first publish included) ran over it.
    pub passes: u32,
}

/// What [`Journal::prune`](super::Journal::prune) removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Pruned {
    /// Incidents removed (with everything about them).
    pub incidents: u64,
    /// Delivery records removed.
    pub deliveries: u64,
}
