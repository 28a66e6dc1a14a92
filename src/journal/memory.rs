//! A journal in memory: exact within one process, forgotten at exit.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;

use super::row::{self, Row};
use super::{
    Claim, ClaimOptions, ClaimToken, DeliveryState, Finish, Journal, JournalEntry, JournalError,
    JournalRecord, LinkChoice, Owner, Pruned, Publication, Transition, closed_at,
};
use crate::audience::Target;
use crate::channel::{IdempotencyKey, Receipt, Thread};
use crate::incident::{Incident, IncidentId};

/// Threads by incident, then channel, then target: looked up without
/// allocating.
type Threads = FxHashMap<IncidentId, FxHashMap<Arc<str>, FxHashMap<Target, Thread>>>;

/// One delivery: its entry, its row (state, fence, attempts) and when it
/// last changed.
struct Stored {
    entry: JournalEntry,
    row: Row,
    updated_at: DateTime<Utc>,
}

impl Stored {
    fn record(&self) -> JournalRecord {
        JournalRecord::new(self.entry.clone(), self.row.state.clone(), self.updated_at)
    }
}

#[derive(Default)]
struct Inner {
    rows: Vec<Stored>,
    // Keys come from configuration and SHA-256, not from attackers: a fast
    // hasher without DoS resistance is fine here.
    by_key: FxHashMap<IdempotencyKey, usize>,
    threads: Threads,
    transitions: Vec<(IncidentId, Transition)>,
    incidents: BTreeMap<IncidentId, (Incident, u64)>,
    next_incident: u64,
    publications: BTreeMap<(IncidentId, u32), Publication>,
}

impl Inner {
    /// Writes row `i` and records each transition.
    fn write(&mut self, i: usize, row: Row, transitions: Vec<DeliveryState>, at: DateTime<Utc>) {
        let stored = &mut self.rows[i];
        stored.row = row;
        stored.updated_at = at;
        let (incident, key) = (stored.entry.incident.clone(), stored.entry.key.clone());
        for state in transitions {
            self.transitions
                .push((incident.clone(), Transition::new(key.clone(), at, state)));
        }
    }

    fn row(&self, key: &IdempotencyKey) -> Option<(usize, &Row)> {
        let &i = self.by_key.get(key)?;
        Some((i, &self.rows[i].row))
    }
}

/// A [`Journal`] in memory: exact within one process, forgotten at exit. For
/// tests and throwaway use; a service that must survive a restart uses the
/// SQLite journal (feature `journal-sqlite`), and replicas share a PostgreSQL
/// one (feature `journal-postgres`).
#[derive(Default)]
pub struct MemoryJournal {
    inner: Mutex<Inner>,
}

impl fmt::Debug for MemoryJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryJournal")
            .field("records", &inner.rows.len())
            .field("incidents", &inner.incidents.len())
            .finish()
    }
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record, in the order claimed.
    pub fn all(&self) -> Vec<JournalRecord> {
        self.lock().rows.iter().map(Stored::record).collect()
    }

    /// How many deliveries are recorded.
    pub fn len(&self) -> usize {
        self.lock().rows.len()
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
    async fn record_update(
        &self,
        incident: &Incident,
        seq: u32,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<Publication, JournalError> {
        let mut inner = self.lock();
        store_incident(&mut inner, incident);
        let publication = inner
            .publications
            .entry((incident.id().clone(), seq))
            .or_insert_with(|| Publication {
                incident: incident.id().clone(),
                seq,
                link: None,
                created_at: now,
                deadline,
                next_attempt_at: Some(not_before),
                passes: 0,
            });
        Ok(publication.clone())
    }

    async fn save_incident(&self, incident: &Incident) -> Result<(), JournalError> {
        store_incident(&mut self.lock(), incident);
        Ok(())
    }

    async fn incident(&self, id: &IncidentId) -> Result<Option<Incident>, JournalError> {
        Ok(self.lock().incidents.get(id).map(|(i, _)| i.clone()))
    }

    async fn open_incidents(&self) -> Result<Vec<Incident>, JournalError> {
        let inner = self.lock();
        let mut open: Vec<&(Incident, u64)> = inner
            .incidents
            .values()
            .filter(|(i, _)| closed_at(i).is_none())
            .collect();
        open.sort_by_key(|(_, order)| *order);
        Ok(open.into_iter().map(|(i, _)| i.clone()).collect())
    }

    async fn publication(
        &self,
        incident: &IncidentId,
        seq: u32,
    ) -> Result<Option<Publication>, JournalError> {
        Ok(self
            .lock()
            .publications
            .get(&(incident.clone(), seq))
            .cloned())
    }

    async fn choose_link(
        &self,
        incident: &IncidentId,
        seq: u32,
        link: &LinkChoice,
    ) -> Result<LinkChoice, JournalError> {
        let mut inner = self.lock();
        let Some(p) = inner.publications.get_mut(&(incident.clone(), seq)) else {
            return Err(unknown_publication(incident, seq));
        };
        Ok(p.link.get_or_insert_with(|| link.clone()).clone())
    }

    async fn end_pass(
        &self,
        incident: &IncidentId,
        seq: u32,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<(), JournalError> {
        let mut inner = self.lock();
        let Some(p) = inner.publications.get_mut(&(incident.clone(), seq)) else {
            return Err(unknown_publication(incident, seq));
        };
        p.next_attempt_at = next_attempt_at;
        p.passes = p.passes.saturating_add(1);
        Ok(())
    }

    async fn due_publications(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Publication>, JournalError> {
        let inner = self.lock();
        let mut due: Vec<&Publication> = inner
            .publications
            .values()
            .filter(|p| p.next_attempt_at.is_some_and(|at| at <= now))
            .collect();
        due.sort_by_key(|p| p.next_attempt_at);
        Ok(due.into_iter().take(limit).cloned().collect())
    }

    async fn claim(
        &self,
        entry: &JournalEntry,
        owner: &Owner,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        options: ClaimOptions,
    ) -> Result<Claim, JournalError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let found = inner.row(&entry.key);
        let write = row::claim(
            &entry.key,
            found.map(|(_, r)| r),
            owner,
            now,
            lease_until,
            options,
        );
        let index = found.map(|(i, _)| i);
        if let Some(new) = write.row {
            let i = index.unwrap_or_else(|| {
                let i = inner.rows.len();
                inner.by_key.insert(entry.key.clone(), i);
                inner.rows.push(Stored {
                    entry: entry.clone(),
                    row: new.clone(),
                    updated_at: now,
                });
                i
            });
            inner.write(i, new, write.transitions, now);
        }
        Ok(write.answer)
    }

    async fn renew(
        &self,
        token: &ClaimToken,
        lease_until: DateTime<Utc>,
    ) -> Result<(), JournalError> {
        let mut inner = self.lock();
        let found = inner.row(token.key());
        let new = row::renew(found.map(|(_, r)| r), token, lease_until)?;
        if let Some((i, _)) = found {
            inner.rows[i].row = new;
        }
        Ok(())
    }

    async fn finish(
        &self,
        token: &ClaimToken,
        finish: Finish,
        at: DateTime<Utc>,
    ) -> Result<(), JournalError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let found = inner.row(token.key());
        let sent_ref = match &finish {
            Finish::Sent(Receipt {
                message_ref: Some(r),
                ..
            }) => Some(r.clone()),
            _ => None,
        };
        let new = row::finish(found.map(|(_, r)| r), token, finish)?;
        let Some((i, _)) = found else {
            return Ok(());
        };
        if let Some(latest) = sent_ref {
            let e = &inner.rows[i].entry;
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
        let state = new.state.clone();
        inner.write(i, new, vec![state], at);
        Ok(())
    }

    async fn release(
        &self,
        key: &IdempotencyKey,
        owner: &Owner,
        at: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        let mut inner = self.lock();
        let found = inner.row(key);
        let Some(new) = row::release(found.map(|(_, r)| r), owner) else {
            return Ok(false);
        };
        if let Some((i, _)) = found {
            let state = new.state.clone();
            inner.write(i, new, vec![state], at);
        }
        Ok(true)
    }

    async fn state(&self, key: &IdempotencyKey) -> Result<Option<DeliveryState>, JournalError> {
        let inner = self.lock();
        Ok(inner.row(key).map(|(_, r)| r.state.clone()))
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
            .rows
            .iter()
            .filter(|r| &r.entry.incident == incident)
            .map(Stored::record)
            .collect())
    }

    async fn history(&self, incident: &IncidentId) -> Result<Vec<Transition>, JournalError> {
        Ok(self
            .lock()
            .transitions
            .iter()
            .filter(|(i, _)| i == incident)
            .map(|(_, t)| t.clone())
            .collect())
    }

    async fn prune(&self, closed_before: DateTime<Utc>) -> Result<Pruned, JournalError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let gone: Vec<IncidentId> = inner
            .incidents
            .values()
            .filter(|(i, _)| closed_at(i).is_some_and(|at| at < closed_before))
            .map(|(i, _)| i.id().clone())
            .collect();
        if gone.is_empty() {
            return Ok(Pruned::default());
        }
        let before = inner.rows.len();
        inner.rows.retain(|r| !gone.contains(&r.entry.incident));
        inner.by_key = inner
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.entry.key.clone(), i))
            .collect();
        inner.transitions.retain(|(i, _)| !gone.contains(i));
        inner.publications.retain(|(i, _), _| !gone.contains(i));
        for id in &gone {
            inner.threads.remove(id);
            inner.incidents.remove(id);
        }
        Ok(Pruned {
            incidents: gone.len() as u64,
            deliveries: (before - inner.rows.len()) as u64,
        })
    }
}

/// Stores `incident` unless the journal holds a copy with more updates
/// (another worker posted since this copy was read): updates are only ever
/// added, so the longer copy is the newer one.
fn store_incident(inner: &mut Inner, incident: &Incident) {
    let order = match inner.incidents.get(incident.id()) {
        Some((stored, _)) if stored.updates().len() > incident.updates().len() => return,
        Some((_, order)) => *order,
        None => {
            inner.next_incident += 1;
            inner.next_incident
        }
    };
    inner
        .incidents
        .insert(incident.id().clone(), (incident.clone(), order));
}

fn unknown_publication(incident: &IncidentId, seq: u32) -> JournalError {
    JournalError::Invalid {
        reason: format!("no publication of update {seq} of incident {incident}"),
    }
}
