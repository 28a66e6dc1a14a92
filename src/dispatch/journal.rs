//! The journal: every delivery's state, recorded before and after sending.

use std::collections::hash_map::Entry;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::audience::{Audience, Target};
use crate::channel::{IdempotencyKey, Part, Receipt, Thread};
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
    /// The audience.
    pub audience: Audience,
    /// The target.
    pub target: Target,
    /// Which part of a split message.
    pub part: Part,
    /// Whether the text carries the link to the source of truth.
    pub has_link: bool,
    /// When the update was planned for sending.
    pub planned_at: DateTime<Utc>,
}

/// What [`Journal::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// Nobody sent it yet, or an earlier attempt failed or was abandoned: the
    /// caller now owns the send until the lease ends.
    Claimed,
    /// It was sent before; here is the receipt. Send nothing.
    AlreadySent(Receipt),
    /// Someone else holds a live claim on it. Send nothing.
    InFlight {
        /// When that claim's lease ends.
        lease_until: DateTime<Utc>,
    },
}

/// A delivery's state in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DeliveryState {
    /// Claimed, not finished. After `lease_until` the claim is considered
    /// abandoned (its worker crashed) and may be claimed again.
    InFlight {
        /// When the claim's lease ends.
        lease_until: DateTime<Utc>,
    },
    /// Sent.
    Sent(Receipt),
    /// Not sent; a later publish of the same update tries again.
    Failed {
        /// Why, without secrets.
        reason: String,
        /// Whether trying again may succeed.
        retryable: bool,
        /// How many times the channel was called.
        attempts: u32,
    },
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

/// Where deliveries are recorded, before and after each send.
///
/// The dispatcher claims a delivery before it sends it and records the outcome
/// after, so that publishing the same update again sends nothing new, a
/// restarted process can tell what was sent, and later updates find the thread
/// of the first contact on each target without the caller keeping provider ids.
///
/// [`MemoryJournal`] keeps everything in memory (the default). A durable journal
/// (a file, a database shared by several replicas) implements the same trait:
/// [`Journal::claim`] must be atomic across everyone sharing the journal and
/// durable before it returns; entries, states and records are serde types so
/// they can be stored as they are.
#[async_trait]
pub trait Journal: Send + Sync + fmt::Debug {
    /// Atomically, at time `now`: if `entry.key` was sent, returns
    /// [`Claim::AlreadySent`]; if it holds a claim whose lease has not ended,
    /// [`Claim::InFlight`]; otherwise (new, failed, or an abandoned claim)
    /// records it as in flight until `lease_until` and returns
    /// [`Claim::Claimed`].
    async fn claim(
        &self,
        entry: &JournalEntry,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, JournalError>;

    /// Records, at time `at`, the outcome of a claimed delivery. On success with
    /// a message reference, the thread of (incident, channel, target) is started
    /// (root) or advanced (latest).
    async fn finish(
        &self,
        key: &IdempotencyKey,
        state: DeliveryState,
        at: DateTime<Utc>,
    ) -> Result<(), JournalError>;

    /// The thread of earlier messages on this incident, channel and target.
    async fn thread(
        &self,
        incident: &IncidentId,
        channel: &str,
        target: &Target,
    ) -> Result<Option<Thread>, JournalError>;

    /// Every record about an incident, in the order first planned.
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
    async fn claim(
        &self,
        entry: &JournalEntry,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, JournalError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let next = inner.records.len();
        match inner.by_key.entry(entry.key.clone()) {
            Entry::Occupied(slot) => {
                let record = &mut inner.records[*slot.get()];
                match &record.state {
                    DeliveryState::Sent(receipt) => return Ok(Claim::AlreadySent(receipt.clone())),
                    DeliveryState::InFlight { lease_until } if *lease_until > now => {
                        return Ok(Claim::InFlight {
                            lease_until: *lease_until,
                        });
                    }
                    DeliveryState::InFlight { .. } | DeliveryState::Failed { .. } => {}
                }
                record.state = DeliveryState::InFlight { lease_until };
                record.updated_at = now;
            }
            Entry::Vacant(slot) => {
                slot.insert(next);
                inner.records.push(JournalRecord {
                    entry: entry.clone(),
                    state: DeliveryState::InFlight { lease_until },
                    updated_at: now,
                });
            }
        }
        Ok(Claim::Claimed)
    }

    async fn finish(
        &self,
        key: &IdempotencyKey,
        state: DeliveryState,
        at: DateTime<Utc>,
    ) -> Result<(), JournalError> {
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
        record.updated_at = at;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::MessageRef;

    fn entry(key: &str) -> JournalEntry {
        let target = Target::new("t").unwrap();
        let incident = IncidentId::new("i").unwrap();
        JournalEntry {
            key: IdempotencyKey::derive(&incident, 1, key, &target, 1),
            incident,
            seq: 1,
            channel: Arc::from(key),
            primary: false,
            audience: Audience::Customers,
            target,
            part: Part::WHOLE,
            has_link: true,
            planned_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn claims_expire_and_failures_can_be_reclaimed() {
        let j = MemoryJournal::new();
        let e = entry("ch");
        let t = |s: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(s);
        assert_eq!(j.claim(&e, t(0), t(60)).await.unwrap(), Claim::Claimed);
        assert_eq!(
            j.claim(&e, t(59), t(120)).await.unwrap(),
            Claim::InFlight { lease_until: t(60) }
        );
        // The first worker vanished: after its lease, the delivery is claimable.
        assert_eq!(j.claim(&e, t(61), t(121)).await.unwrap(), Claim::Claimed);
        let failed = DeliveryState::Failed {
            reason: "503".into(),
            retryable: true,
            attempts: 3,
        };
        j.finish(&e.key, failed, t(70)).await.unwrap();
        assert_eq!(j.claim(&e, t(71), t(131)).await.unwrap(), Claim::Claimed);
        let receipt = Receipt::new(t(72)).with_message_ref(MessageRef::new("m1"));
        j.finish(&e.key, DeliveryState::Sent(receipt.clone()), t(72))
            .await
            .unwrap();
        assert_eq!(
            j.claim(&e, t(500), t(560)).await.unwrap(),
            Claim::AlreadySent(receipt)
        );
        let thread = j
            .thread(&e.incident, "ch", &e.target)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(thread.root.as_str(), "m1");
        assert_eq!(j.records(&e.incident).await.unwrap().len(), 1);
        let other = entry("other");
        let unclaimed = j.finish(&other.key, DeliveryState::Sent(Receipt::new(t(0))), t(0));
        assert!(unclaimed.await.is_err());
    }

    #[test]
    fn records_round_trip_through_serde() {
        let r = JournalRecord::new(
            entry("ch"),
            DeliveryState::Failed {
                reason: "x".into(),
                retryable: false,
                attempts: 1,
            },
            DateTime::<Utc>::UNIX_EPOCH,
        );
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<JournalRecord>(&json).unwrap(), r);
    }
}
