//! The SQLite journal (see [`SqliteJournal`]).

mod schema;
mod worker;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use self::worker::{Worker, unavailable};
use super::row::{self, Row};
use super::sql::{count, from_json, from_micros, micros, to_json};
use super::{
    Claim, ClaimOptions, ClaimToken, DeliveryState, Finish, Journal, JournalEntry, JournalError,
    JournalRecord, LinkChoice, Owner, Pruned, Publication, Transition, closed_at,
};
use crate::audience::Target;
use crate::channel::{IdempotencyKey, MessageRef, Receipt, Thread};
use crate::incident::{Incident, IncidentId};

/// How hard SQLite makes each commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// Every commit is flushed to the disk before it returns: a claim or an
    /// outcome survives a power loss as well as a crash. The default.
    #[default]
    Full,
    /// Commits survive the process being killed, not always a power loss or
    /// an operating-system crash (the last commits may roll back; then the
    /// deliveries they claimed are sent again where the provider
    /// deduplicates, or reported in doubt). Faster on slow disks.
    Normal,
}

/// How a [`SqliteJournal`] is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct SqliteOptions {
    /// Durability of each commit (default [`Synchronous::Full`]).
    pub synchronous: Synchronous,
    /// How long a write waits for another process holding the file's write
    /// lock before it fails as unavailable (default 10 s).
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            busy_timeout: schema::BUSY_TIMEOUT,
        }
    }
}

impl SqliteOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`SqliteOptions::synchronous`].
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }
    /// Sets [`SqliteOptions::busy_timeout`].
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }
}

/// The SQLite journal: one embedded file, for a service that runs as one
/// process (or a few on one machine).
///
/// Every claim is committed to the file (and, with the default
/// [`Synchronous::Full`], flushed to the disk) before the send starts, so a
/// process killed at any moment, restarted on the same file, neither loses
/// nor repeats a delivery; what was in flight at the kill is found in doubt
/// after its lease, and resent only where the provider deduplicates.
///
/// Writes go through one thread that commits every write queued at that
/// moment in one transaction (group commit): many concurrent sends cost one
/// disk flush, not one each. Reads go through a second connection (WAL mode:
/// readers never wait for the writer). Several processes may open the same
/// file: SQLite's write lock keeps claims atomic between them (waiting up to
/// the busy timeout), but for replicas on several machines use PostgreSQL.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use tidings::journal::SqliteJournal;
/// # use tidings::channel::memory::MemoryChannel;
/// # use tidings::prelude::*;
///
/// let journal = Arc::new(SqliteJournal::open("/var/lib/my-service/tidings.db").await?);
/// let dispatcher = Dispatcher::builder("https://status.example.com/incidents/{id}")
/// #   .primary("page", Arc::new(MemoryChannel::primary("https://status.example.com/".parse()?)))
///     .journal(journal)
///     // … channels and audiences …
///     .build()?;
/// // Finish whatever a previous run left, then keep finishing.
/// tokio::spawn({
///     let outbox = dispatcher.outbox();
///     async move { outbox.run().await }
/// });
/// # Ok(())
/// # }
/// ```
pub struct SqliteJournal {
    path: PathBuf,
    writer: Worker,
    reader: Worker,
    /// Stops the checkpointer thread when dropped.
    _checkpoints: std::sync::mpsc::Sender<()>,
}

impl fmt::Debug for SqliteJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteJournal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteJournal {
    /// Opens (or creates) the journal at `path` with the default options,
    /// migrating its schema to this version.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, JournalError> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens (or creates) the journal at `path`, migrating its schema to this
    /// version. A file written by a newer version is refused
    /// ([`JournalError::SchemaMismatch`]).
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<Self, JournalError> {
        let path = path.as_ref().to_path_buf();
        let opened = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || {
                let writer = schema::connect(&path, &options)?;
                schema::migrate(&writer)?;
                let reader = schema::connect(&path, &options)?;
                reader
                    .execute_batch("PRAGMA query_only = ON")
                    .map_err(unavailable)?;
                let checkpoints = schema::connect(&path, &options)?;
                Ok::<_, JournalError>((writer, reader, checkpoints))
            })
            .await
            .map_err(|e| JournalError::unavailable(format!("opening the journal: {e}")))??
        };
        let (writer, reader, checkpoints) = opened;
        Ok(Self {
            writer: Worker::writer("tdg-sqlite-w", writer)?,
            reader: Worker::reader("tdg-sqlite-r", reader)?,
            _checkpoints: worker::checkpointer(checkpoints, Duration::from_millis(500))?,
            path,
        })
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version this build writes.
    pub const SCHEMA_VERSION: i64 = schema::VERSION;
}

/// A delivery row: its id, where it goes (for threads) and its state.
struct Found {
    id: i64,
    incident: String,
    channel: String,
    target: String,
    row: Row,
}

/// Reads the row of `key`, if any.
fn read_row(conn: &Connection, key: &str) -> Result<Option<Found>, JournalError> {
    let found = conn
        .prepare_cached(
            "SELECT id, incident, channel, target, state, fence, attempts \
             FROM deliveries WHERE key = ?1",
        )
        .map_err(unavailable)?
        .query_row([key], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .optional()
        .map_err(unavailable)?;
    found
        .map(|(id, incident, channel, target, state, fence, attempts)| {
            Ok(Found {
                id,
                incident,
                channel,
                target,
                row: Row {
                    state: from_json(&state)?,
                    fence: u64::try_from(fence).unwrap_or(0),
                    attempts: count(attempts),
                },
            })
        })
        .transpose()
}

/// The history lines of `transitions` at `at`: one JSON array per line,
/// `[at_micros, state]`.
fn history_lines(transitions: &[DeliveryState], at: DateTime<Utc>) -> Result<String, JournalError> {
    let mut lines = String::new();
    for state in transitions {
        lines.push_str(&to_json(&(micros(at), state))?);
        lines.push('\n');
    }
    Ok(lines)
}

/// The owner column of a row in `state`: the claim's owner, else NULL.
fn claimed_by(state: &DeliveryState) -> Option<&str> {
    match state {
        DeliveryState::Claimed { owner, .. } => Some(owner.as_str()),
        _ => None,
    }
}

/// Writes a row's state and appends each transition to its history.
fn write_row(
    conn: &Connection,
    id: i64,
    row: &Row,
    transitions: &[DeliveryState],
    at: DateTime<Utc>,
) -> Result<(), JournalError> {
    conn.prepare_cached(
        "UPDATE deliveries SET state = ?1, owner = ?2, fence = ?3, attempts = ?4, updated_at = ?5, \
         history = history || ?6 WHERE id = ?7",
    )
    .map_err(unavailable)?
    .execute(params![
        to_json(&row.state)?,
        claimed_by(&row.state),
        i64::try_from(row.fence).unwrap_or(i64::MAX),
        i64::from(row.attempts),
        micros(at),
        history_lines(transitions, at)?,
        id
    ])
    .map_err(unavailable)?;
    Ok(())
}

/// Starts a thread at `latest`, or makes `latest` its newest message.
fn upsert_thread(
    conn: &Connection,
    incident: &str,
    channel: &str,
    target: &str,
    latest: &str,
) -> Result<(), JournalError> {
    conn.prepare_cached(
        "INSERT INTO threads (incident, channel, target, root, latest) \
         VALUES (?1, ?2, ?3, ?4, ?4) \
         ON CONFLICT (incident, channel, target) DO UPDATE SET latest = excluded.latest",
    )
    .map_err(unavailable)?
    .execute(params![incident, channel, target, latest])
    .map_err(unavailable)?;
    Ok(())
}

fn store_incident(conn: &Connection, incident: &Incident) -> Result<(), JournalError> {
    let closed = closed_at(incident).map(micros);
    conn.prepare_cached(
        "INSERT INTO incidents (id, body, updates, closed_at, ord) \
         VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(ord), 0) + 1 FROM incidents)) \
         ON CONFLICT (id) DO UPDATE SET body = excluded.body, updates = excluded.updates, \
           closed_at = excluded.closed_at \
         WHERE excluded.updates >= incidents.updates",
    )
    .map_err(unavailable)?
    .execute(params![
        incident.id().as_str(),
        to_json(incident)?,
        incident.updates().len() as i64,
        closed
    ])
    .map_err(unavailable)?;
    Ok(())
}

const PUBLICATION_COLUMNS: &str =
    "incident, seq, link, created_at, deadline, next_attempt_at, passes";

fn publication(r: &rusqlite::Row<'_>) -> rusqlite::Result<PublicationRow> {
    Ok(PublicationRow {
        incident: r.get(0)?,
        seq: r.get(1)?,
        link: r.get(2)?,
        created_at: r.get(3)?,
        deadline: r.get(4)?,
        next_attempt_at: r.get(5)?,
        passes: r.get(6)?,
    })
}

/// A publication as stored.
struct PublicationRow {
    incident: String,
    seq: i64,
    link: Option<String>,
    created_at: i64,
    deadline: i64,
    next_attempt_at: Option<i64>,
    passes: i64,
}

impl PublicationRow {
    fn decode(self) -> Result<Publication, JournalError> {
        Ok(Publication {
            incident: IncidentId::new(self.incident).map_err(JournalError::corrupt)?,
            seq: u32::try_from(self.seq).map_err(JournalError::corrupt)?,
            link: self.link.as_deref().map(from_json).transpose()?,
            created_at: from_micros(self.created_at)?,
            deadline: from_micros(self.deadline)?,
            next_attempt_at: self.next_attempt_at.map(from_micros).transpose()?,
            passes: count(self.passes),
        })
    }
}

fn read_publication(
    conn: &Connection,
    incident: &str,
    seq: u32,
) -> Result<Option<Publication>, JournalError> {
    conn.prepare_cached(&format!(
        "SELECT {PUBLICATION_COLUMNS} FROM publications WHERE incident = ?1 AND seq = ?2"
    ))
    .map_err(unavailable)?
    .query_row(params![incident, seq], publication)
    .optional()
    .map_err(unavailable)?
    .map(PublicationRow::decode)
    .transpose()
}

fn unknown_publication(incident: &str, seq: u32) -> JournalError {
    JournalError::Invalid {
        reason: format!("no publication of update {seq} of incident {incident}"),
    }
}

#[async_trait]
impl Journal for SqliteJournal {
    async fn record_update(
        &self,
        incident: &Incident,
        seq: u32,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<Publication, JournalError> {
        let incident = incident.clone();
        self.writer
            .run(move |conn| {
                store_incident(conn, &incident)?;
                let id = incident.id().as_str();
                conn.prepare_cached(
                    "INSERT INTO publications (incident, seq, created_at, deadline, next_attempt_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (incident, seq) DO NOTHING",
                )
                .map_err(unavailable)?
                .execute(params![id, seq, micros(now), micros(deadline), micros(not_before)])
                .map_err(unavailable)?;
                read_publication(conn, id, seq)?.ok_or_else(|| unknown_publication(id, seq))
            })
            .await
    }

    async fn save_incident(&self, incident: &Incident) -> Result<(), JournalError> {
        let incident = incident.clone();
        self.writer
            .run(move |conn| store_incident(conn, &incident))
            .await
    }

    async fn incident(&self, id: &IncidentId) -> Result<Option<Incident>, JournalError> {
        let id = id.clone();
        self.reader
            .run(move |conn| {
                conn.prepare_cached("SELECT body FROM incidents WHERE id = ?1")
                    .map_err(unavailable)?
                    .query_row([id.as_str()], |r| r.get::<_, String>(0))
                    .optional()
                    .map_err(unavailable)?
                    .map(|body| from_json(&body))
                    .transpose()
            })
            .await
    }

    async fn open_incidents(&self) -> Result<Vec<Incident>, JournalError> {
        self.reader
            .run(|conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT body FROM incidents WHERE closed_at IS NULL ORDER BY ord",
                    )
                    .map_err(unavailable)?;
                let bodies = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(unavailable)?;
                bodies
                    .map(|b| from_json(&b.map_err(unavailable)?))
                    .collect()
            })
            .await
    }

    async fn publication(
        &self,
        incident: &IncidentId,
        seq: u32,
    ) -> Result<Option<Publication>, JournalError> {
        let incident = incident.clone();
        self.reader
            .run(move |conn| read_publication(conn, incident.as_str(), seq))
            .await
    }

    async fn choose_link(
        &self,
        incident: &IncidentId,
        seq: u32,
        link: &LinkChoice,
    ) -> Result<LinkChoice, JournalError> {
        let (incident, json) = (incident.clone(), to_json(link)?);
        self.writer
            .run(move |conn| {
                let id = incident.as_str();
                conn.prepare_cached(
                    "UPDATE publications SET link = ?1 WHERE incident = ?2 AND seq = ?3 AND link IS NULL",
                )
                .map_err(unavailable)?
                .execute(params![json, id, seq])
                .map_err(unavailable)?;
                read_publication(conn, id, seq)?
                    .and_then(|p| p.link)
                    .ok_or_else(|| unknown_publication(id, seq))
            })
            .await
    }

    async fn end_pass(
        &self,
        incident: &IncidentId,
        seq: u32,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<(), JournalError> {
        let incident = incident.clone();
        self.writer
            .run(move |conn| {
                let changed = conn
                    .prepare_cached(
                        "UPDATE publications SET next_attempt_at = ?1, passes = passes + 1 \
                         WHERE incident = ?2 AND seq = ?3",
                    )
                    .map_err(unavailable)?
                    .execute(params![next_attempt_at.map(micros), incident.as_str(), seq])
                    .map_err(unavailable)?;
                if changed == 0 {
                    return Err(unknown_publication(incident.as_str(), seq));
                }
                Ok(())
            })
            .await
    }

    async fn due_publications(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Publication>, JournalError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.reader
            .run(move |conn| {
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT {PUBLICATION_COLUMNS} FROM publications \
                         WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?1 \
                         ORDER BY next_attempt_at LIMIT ?2"
                    ))
                    .map_err(unavailable)?;
                let rows = stmt
                    .query_map(params![micros(now), limit], publication)
                    .map_err(unavailable)?;
                rows.map(|r| r.map_err(unavailable)?.decode()).collect()
            })
            .await
    }

    async fn claim(
        &self,
        entry: &JournalEntry,
        owner: &Owner,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        options: ClaimOptions,
    ) -> Result<Claim, JournalError> {
        let (entry, owner) = (entry.clone(), owner.clone());
        self.writer
            .run(move |conn| {
                let key = entry.key.as_str();
                // A delivery claimed for the first time (the common case): one
                // insert, which a row already there turns into nothing.
                let first = row::claim(&entry.key, None, &owner, now, lease_until, options);
                if let Some(new) = &first.row {
                    let inserted = conn
                        .prepare_cached(
                            "INSERT INTO deliveries (key, incident, channel, target, entry, state, \
                             owner, fence, attempts, updated_at, history) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                             ON CONFLICT (key) DO NOTHING",
                        )
                        .map_err(unavailable)?
                        .execute(params![
                            key,
                            entry.incident.as_str(),
                            &*entry.channel,
                            entry.target.as_str(),
                            to_json(&entry)?,
                            to_json(&new.state)?,
                            owner.as_str(),
                            i64::try_from(new.fence).unwrap_or(i64::MAX),
                            i64::from(new.attempts),
                            micros(now),
                            history_lines(&first.transitions, now)?
                        ])
                        .map_err(unavailable)?;
                    if inserted == 1 {
                        return Ok(first.answer);
                    }
                }
                let found = read_row(conn, key)?;
                let write = row::claim(
                    &entry.key,
                    found.as_ref().map(|f| &f.row),
                    &owner,
                    now,
                    lease_until,
                    options,
                );
                match (write.row, found) {
                    (Some(new), Some(found)) => {
                        write_row(conn, found.id, &new, &write.transitions, now)?;
                    }
                    (Some(_), None) => {
                        return Err(JournalError::corrupt(format!(
                            "delivery {key} is neither new nor stored"
                        )));
                    }
                    (None, _) => {}
                }
                Ok(write.answer)
            })
            .await
    }

    async fn renew(
        &self,
        token: &ClaimToken,
        lease_until: DateTime<Utc>,
    ) -> Result<(), JournalError> {
        let token = token.clone();
        self.writer
            .run(move |conn| {
                let state = DeliveryState::Claimed {
                    owner: token.owner().clone(),
                    fence: token.fence(),
                    lease_until,
                };
                let changed = conn
                    .prepare_cached(
                        "UPDATE deliveries SET state = ?1 WHERE key = ?2 AND owner = ?3 AND fence = ?4",
                    )
                    .map_err(unavailable)?
                    .execute(params![
                        to_json(&state)?,
                        token.key().as_str(),
                        token.owner().as_str(),
                        i64::try_from(token.fence()).unwrap_or(i64::MAX)
                    ])
                    .map_err(unavailable)?;
                if changed == 0 {
                    return Err(JournalError::Conflict {
                        key: token.key().clone(),
                    });
                }
                Ok(())
            })
            .await
    }

    async fn finish(
        &self,
        token: &ClaimToken,
        finish: Finish,
        at: DateTime<Utc>,
    ) -> Result<(), JournalError> {
        let token = token.clone();
        self.writer
            .run(move |conn| {
                let key = token.key().as_str();
                if let Finish::Sent(receipt) = &finish {
                    // Sent: the state does not depend on the row, so one
                    // update that only a holder of the claim matches.
                    let state = DeliveryState::Sent(receipt.clone());
                    let found = conn
                        .prepare_cached(
                            "UPDATE deliveries SET state = ?1, owner = NULL, updated_at = ?2, \
                             history = history || ?3 \
                             WHERE key = ?4 AND owner = ?5 AND fence = ?6 \
                             RETURNING incident, channel, target",
                        )
                        .map_err(unavailable)?
                        .query_row(
                            params![
                                to_json(&state)?,
                                micros(at),
                                history_lines(std::slice::from_ref(&state), at)?,
                                key,
                                token.owner().as_str(),
                                i64::try_from(token.fence()).unwrap_or(i64::MAX)
                            ],
                            |r| {
                                Ok((
                                    r.get::<_, String>(0)?,
                                    r.get::<_, String>(1)?,
                                    r.get::<_, String>(2)?,
                                ))
                            },
                        )
                        .optional()
                        .map_err(unavailable)?;
                    let Some((incident, channel, target)) = found else {
                        return Err(JournalError::Conflict {
                            key: token.key().clone(),
                        });
                    };
                    if let Some(latest) = &receipt.message_ref {
                        upsert_thread(conn, &incident, &channel, &target, latest.as_str())?;
                    }
                    return Ok(());
                }
                let found = read_row(conn, key)?;
                let sent_ref = match &finish {
                    Finish::Sent(Receipt {
                        message_ref: Some(r),
                        ..
                    }) => Some(r.clone()),
                    _ => None,
                };
                let new = row::finish(found.as_ref().map(|f| &f.row), &token, finish)?;
                let Some(Found {
                    id,
                    incident,
                    channel,
                    target,
                    ..
                }) = found
                else {
                    return Ok(());
                };
                write_row(conn, id, &new, std::slice::from_ref(&new.state), at)?;
                if let Some(latest) = sent_ref {
                    upsert_thread(conn, &incident, &channel, &target, latest.as_str())?;
                }
                Ok(())
            })
            .await
    }

    async fn release(
        &self,
        key: &IdempotencyKey,
        owner: &Owner,
        at: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        let (key, owner) = (key.clone(), owner.clone());
        self.writer
            .run(move |conn| {
                let found = read_row(conn, key.as_str())?;
                let Some(new) = row::release(found.as_ref().map(|f| &f.row), &owner) else {
                    return Ok(false);
                };
                if let Some(found) = found {
                    let state = new.state.clone();
                    write_row(conn, found.id, &new, &[state], at)?;
                }
                Ok(true)
            })
            .await
    }

    async fn state(&self, key: &IdempotencyKey) -> Result<Option<DeliveryState>, JournalError> {
        let key = key.clone();
        self.reader
            .run(move |conn| Ok(read_row(conn, key.as_str())?.map(|f| f.row.state)))
            .await
    }

    async fn thread(
        &self,
        incident: &IncidentId,
        channel: &str,
        target: &Target,
    ) -> Result<Option<Thread>, JournalError> {
        let (incident, channel, target) = (incident.clone(), channel.to_owned(), target.clone());
        self.reader
            .run(move |conn| {
                let found = conn
                    .prepare_cached(
                        "SELECT root, latest FROM threads WHERE incident = ?1 AND channel = ?2 AND target = ?3",
                    )
                    .map_err(unavailable)?
                    .query_row(params![incident.as_str(), channel, target.as_str()], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })
                    .optional()
                    .map_err(unavailable)?;
                Ok(found.map(|(root, latest)| Thread {
                    root: MessageRef::new(root),
                    latest: MessageRef::new(latest),
                }))
            })
            .await
    }

    async fn records(&self, incident: &IncidentId) -> Result<Vec<JournalRecord>, JournalError> {
        let incident = incident.clone();
        self.reader
            .run(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT entry, state, updated_at FROM deliveries WHERE incident = ?1 ORDER BY id",
                    )
                    .map_err(unavailable)?;
                let rows = stmt
                    .query_map([incident.as_str()], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                    })
                    .map_err(unavailable)?;
                rows.map(|r| {
                    let (entry, state, at) = r.map_err(unavailable)?;
                    Ok(JournalRecord::new(
                        from_json(&entry)?,
                        from_json(&state)?,
                        from_micros(at)?,
                    ))
                })
                .collect()
            })
            .await
    }

    async fn history(&self, incident: &IncidentId) -> Result<Vec<Transition>, JournalError> {
        let incident = incident.clone();
        self.reader
            .run(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT key, history FROM deliveries WHERE incident = ?1 ORDER BY id",
                    )
                    .map_err(unavailable)?;
                let rows = stmt
                    .query_map([incident.as_str()], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })
                    .map_err(unavailable)?;
                // (time, delivery order, change order): every change in time
                // order, ties in the order the deliveries were first claimed.
                let mut all = Vec::new();
                for (n, r) in rows.enumerate() {
                    let (key, history) = r.map_err(unavailable)?;
                    let key = IdempotencyKey::from_raw(key);
                    for (i, line) in history.lines().enumerate() {
                        let (at, state): (i64, DeliveryState) = from_json(line)?;
                        all.push((
                            (at, n, i),
                            Transition::new(key.clone(), from_micros(at)?, state),
                        ));
                    }
                }
                all.sort_by_key(|(order, _)| *order);
                Ok(all.into_iter().map(|(_, t)| t).collect())
            })
            .await
    }

    async fn prune(&self, closed_before: DateTime<Utc>) -> Result<Pruned, JournalError> {
        self.writer
            .run(move |conn| {
                let gone: Vec<String> = {
                    let mut stmt = conn
                        .prepare_cached("SELECT id FROM incidents WHERE closed_at < ?1")
                        .map_err(unavailable)?;
                    let ids = stmt
                        .query_map([micros(closed_before)], |r| r.get::<_, String>(0))
                        .map_err(unavailable)?;
                    ids.collect::<Result<_, _>>().map_err(unavailable)?
                };
                let mut pruned = Pruned::default();
                for id in &gone {
                    for table in ["threads", "publications"] {
                        conn.execute(&format!("DELETE FROM {table} WHERE incident = ?1"), [id])
                            .map_err(unavailable)?;
                    }
                    let deliveries = conn
                        .execute("DELETE FROM deliveries WHERE incident = ?1", [id])
                        .map_err(unavailable)?;
                    conn.execute("DELETE FROM incidents WHERE id = ?1", [id])
                        .map_err(unavailable)?;
                    pruned.deliveries += deliveries as u64;
                    pruned.incidents += 1;
                }
                Ok(pruned)
            })
            .await
    }
}
