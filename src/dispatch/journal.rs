//! The journal: every delivery's state, recorded before and after sending.
//!
//! The dispatcher claims a delivery in the journal before it sends it and
//! records the outcome after, so that publishing the same update again sends
//! nothing new, a restarted process can tell what was sent, and later updates
//! find the thread of the first contact on each target without the caller
//! keeping provider ids.
//!
//! [`MemoryJournal`] keeps everything in memory (the default). A durable journal
//! (a file, a database shared by several replicas) implements the same trait:
//! [`Journal::claim`] must be atomic across everyone sharing the journal and
//! durable before it returns, and should give in-flight claims a lease so a
//! crashed worker's deliveries can be claimed again.

use std::collections::hash_map::Entry;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;

use crate::audience::{Audience, Target};
use crate::channel::{ChannelError, IdempotencyKey, Part, Receipt, Thread};
use crate::incident::IncidentId;

/// The journal could not be read or written. The delivery concerned is not
/// sent (an unrecorded send could be sent twice later).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journal unavailable: {reason}")]
pub struct JournalError {
    /// What went wrong.
    pub reason: String,
}

/// One planned delivery, as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The audience.
    pub audience: Audience,
    /// The target.
    pub target: Target,
    /// Which part of a split message.
    pub part: Part,
    /// Whether the text carries the link to the source of truth.
    pub has_link: bool,
    /// When it was planned.
    pub planned_at: DateTime<Utc>,
}

/// What [`Journal::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// Nobody sent it yet: the caller now owns the send.
    Claimed,
    /// It was sent before; here is the receipt. Send nothing.
    AlreadySent(Receipt),
    /// Someone else is sending it right now. Send nothing.
    InFlight,
}

/// A delivery's state in the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryState {
    /// Claimed, not finished.
    InFlight,
    /// Sent.
    Sent(Receipt),
    /// Given up on, after `attempts` attempts; may be claimed again by a later
    /// publish of the same update.
    Failed {
        /// The last error.
        error: ChannelError,
        /// How many attempts were made.
        attempts: u32,
    },
}

/// A journal entry and its latest state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JournalRecord {
    /// The planned delivery.
    pub entry: JournalEntry,
    /// Its latest state.
    pub state: DeliveryState,
    /// When the state last changed.
    pub updated_at: DateTime<Utc>,
}

/// Where deliveries are recorded.
///
/// The dispatcher claims a delivery before it sends it and records the outcome
/// after, so that publishing the same update again sends nothing new, a
/// restarted process can tell what was sent, and later updates find the thread
/// of the first contact on each target without the caller keeping provider ids.
///
/// [`MemoryJournal`] keeps everything in memory (the default). A durable journal
/// (a file, a database shared by several replicas) implements the same trait:
/// [`Journal::claim`] must be atomic across everyone sharing the journal and
/// durable before it returns, and should give in-flight claims a lease so that
/// a crashed worker's deliveries can be claimed again.
#[async_trait]
pub trait Journal: Send + Sync + fmt::Debug {
    /// Atomically: if `entry.key` was sent, returns [`Claim::AlreadySent`]; if it
    /// is in flight, [`Claim::InFlight`]; otherwise records it as in flight and
    /// returns [`Claim::Claimed`].
    async fn claim(&self, entry: &JournalEntry) -> Result<Claim, JournalError>;

    /// Records the outcome of a claimed delivery. On success with a message
    /// reference, the thread of (incident, channel, target) is started (root) or
    /// advanced (latest).
    async fn finish(&self, key: &IdempotencyKey, state: DeliveryState) -> Result<(), JournalError>;

    /// The thread of earlier messages on this incident, channel and target.
    async fn thread(
        &self,
        incident: &IncidentId,
        channel: &str,
        target: &Target,
    ) -> Result<Option<Thread>, JournalError>;

    /// Every record about an incident, in the order planned.
    async fn records(&self, incident: &IncidentId) -> Result<Vec<JournalRecord>, JournalError>;
}

/// Threads by incident, then channel, then target: looked up without
/// allocating.
type Threads = FxHashMap<IncidentId, FxHashMap<Arc<str>, FxHashMap<Target, Thread>>>;

#[derive(Default)]
struct Inner {
    records: Vec<JournalRecord>,
    // Keys come from configuration and SHA-256, not from attackers: a fast
    // hasher without DoS resistance is fine here.
    by_key: FxHashMap<IdempotencyKey, usize>,
    threads: Threads,
}

/// A [`Journal`] in memory: exact within one process, forgotten at exit.
#[derive(Default)]
pub struct MemoryJournal {
    inner: Mutex<Inner>,
}

impl fmt::Debug for MemoryJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryJournal")
            .field("records", &inner.records.len())
            .field("threads", &inner.threads.len())
            .finish()
    }
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record, in the order planned.
    pub fn all(&self) -> Vec<JournalRecord> {
        self.lock().records.clone()
    }

    /// How many deliveries are recorded.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything (then the same updates would be sent again).
    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every mutation below is completed before the guard drops, so a
        // poisoned lock holds consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Journal for MemoryJournal {
    async fn claim(&self, entry: &JournalEntry) -> Result<Claim, JournalError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let next = inner.records.len();
        match inner.by_key.entry(entry.key.clone()) {
            Entry::Occupied(slot) => {
                let record = &mut inner.records[*slot.get()];
                Ok(match &record.state {
                    DeliveryState::Sent(receipt) => Claim::AlreadySent(receipt.clone()),
                    DeliveryState::InFlight => Claim::InFlight,
                    DeliveryState::Failed { .. } => {
                        record.state = DeliveryState::InFlight;
                        record.updated_at = Utc::now();
                        Claim::Claimed
                    }
                })
            }
            Entry::Vacant(slot) => {
                slot.insert(next);
                inner.records.push(JournalRecord {
                    entry: entry.clone(),
                    state: DeliveryState::InFlight,
                    updated_at: entry.planned_at,
                });
                Ok(Claim::Claimed)
            }
        }
    }

    async fn finish(&self, key: &IdempotencyKey, state: DeliveryState) -> Result<(), JournalError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(&i) = inner.by_key.get(key) else {
            return Err(JournalError {
                reason: format!("finish of unclaimed delivery {key}"),
            });
        };
        let record = &mut inner.records[i];
        if let DeliveryState::Sent(Receipt {
            message_ref: Some(latest),
            ..
        }) = &state
        {
            let e = &record.entry;
            inner
                .threads
                .entry(e.incident.clone())
                .or_default()
                .entry(e.channel.clone())
                .or_default()
                .entry(e.target.clone())
                .and_modify(|t| t.latest = latest.clone())
                .or_insert_with(|| Thread {
                    root: latest.clone(),
                    latest: latest.clone(),
                });
        }
        record.state = state;
        record.updated_at = Utc::now();
        Ok(())
    }

    async fn thread(
        &self,
        incident: &IncidentId,
        channel: &str,
        target: &Target,
    ) -> Result<Option<Thread>, JournalError> {
        Ok(self
            .lock()
            .threads
            .get(incident)
            .and_then(|by_channel| by_channel.get(channel))
            .and_then(|by_target| by_target.get(target))
            .cloned())
    }

    async fn records(&self, incident: &IncidentId) -> Result<Vec<JournalRecord>, JournalError> {
        Ok(self
            .lock()
            .records
            .iter()
            .filter(|r| &r.entry.incident == incident)
            .cloned()
            .collect())
    }
}
