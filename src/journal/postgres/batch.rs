//! Group commit for the hot path: every claim, renewal, finish and release
//! queued at one moment runs in one transaction, with set-based statements
//! (a few round trips for the whole batch, not a few per delivery).
//!
//! Every writer of a delivery row first takes a transaction-scoped advisory
//! lock on its key, in a global order, so claims are atomic across replicas
//! (and batches cannot deadlock); the claim rule itself is the shared one,
//! applied in Rust to the rows read under those locks.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::{db, within};
use crate::channel::{IdempotencyKey, Receipt};
use crate::journal::row::{self, Row};
use crate::journal::sql::{count, from_json, micros, to_json};
use crate::journal::{
    Claim, ClaimOptions, ClaimToken, DeliveryState, Finish, JournalEntry, JournalError, Owner,
};

/// Most operations committed together.
const MAX_BATCH: usize = 1024;

/// One queued write.
pub(super) enum Op {
    Claim {
        entry: Box<JournalEntry>,
        owner: Owner,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        options: ClaimOptions,
        reply: oneshot::Sender<Result<Claim, JournalError>>,
    },
    Renew {
        token: ClaimToken,
        until: DateTime<Utc>,
        reply: oneshot::Sender<Result<(), JournalError>>,
    },
    Finish {
        token: ClaimToken,
        finish: Finish,
        at: DateTime<Utc>,
        reply: oneshot::Sender<Result<(), JournalError>>,
    },
    Release {
        key: IdempotencyKey,
        owner: Owner,
        at: DateTime<Utc>,
        reply: oneshot::Sender<Result<bool, JournalError>>,
    },
}

impl Op {
    fn key(&self) -> &str {
        match self {
            Op::Claim { entry, .. } => entry.key.as_str(),
            Op::Renew { token, .. } | Op::Finish { token, .. } => token.key().as_str(),
            Op::Release { key, .. } => key.as_str(),
        }
    }

    fn fail(self, e: JournalError) {
        match self {
            Op::Claim { reply, .. } => drop(reply.send(Err(e))),
            Op::Renew { reply, .. } | Op::Finish { reply, .. } => drop(reply.send(Err(e))),
            Op::Release { reply, .. } => drop(reply.send(Err(e))),
        }
    }
}

/// Starts the task that commits queued operations in batches; it ends when
/// every sender is dropped.
pub(super) fn spawn(pool: Pool, timeout: Duration) -> mpsc::UnboundedSender<Op> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Op>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut ops = vec![first];
            while ops.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(op) => ops.push(op),
                    Err(_) => break,
                }
            }
            run(&pool, timeout, ops).await;
        }
    });
    tx
}

/// A delivery row as the batch sees it.
struct Stored {
    incident: String,
    channel: String,
    target: String,
    row: Option<Row>,
    /// Whether the row exists in the database (else it is inserted).
    exists: bool,
    /// The entry, for a row to insert.
    entry: Option<String>,
    changed: bool,
    updated_at: DateTime<Utc>,
    /// For a row to insert: its place among the batch's new rows.
    order: usize,
}

/// What each operation answers, once the batch commits.
enum Answer {
    Claim(
        oneshot::Sender<Result<Claim, JournalError>>,
        Result<Claim, JournalError>,
    ),
    Unit(
        oneshot::Sender<Result<(), JournalError>>,
        Result<(), JournalError>,
    ),
    Bool(
        oneshot::Sender<Result<bool, JournalError>>,
        Result<bool, JournalError>,
    ),
}

impl Answer {
    fn send(self, commit: &Result<(), JournalError>) {
        match self {
            Answer::Claim(tx, r) => drop(tx.send(commit.clone().and(r))),
            Answer::Unit(tx, r) => drop(tx.send(commit.clone().and(r))),
            Answer::Bool(tx, r) => drop(tx.send(commit.clone().and(r))),
        }
    }
}

async fn run(pool: &Pool, timeout: Duration, ops: Vec<Op>) {
    let mut answers = Vec::with_capacity(ops.len());
    let mut keys: Vec<String> = ops.iter().map(|op| op.key().to_owned()).collect();
    keys.sort_unstable();
    keys.dedup();
    let commit = within(timeout, apply(pool, &keys, ops, &mut answers)).await;
    if let Err(e) = &commit {
        tracing::error!(error = %e, "PostgreSQL journal batch failed");
    }
    for answer in answers {
        answer.send(&commit);
    }
}

/// Runs the batch in one transaction; fills `answers` as it goes (an
/// operation whose answer is not filled when this fails is failed with the
/// error by the caller's commit result).
async fn apply(
    pool: &Pool,
    keys: &[String],
    ops: Vec<Op>,
    answers: &mut Vec<Answer>,
) -> Result<(), JournalError> {
    let mut client = match pool.get().await {
        Ok(client) => client,
        Err(e) => {
            let e = JournalError::unavailable(format!("PostgreSQL pool: {e}"));
            for op in ops {
                op.fail(e.clone());
            }
            return Err(e);
        }
    };
    let tx = match client.transaction().await {
        Ok(tx) => tx,
        Err(e) => {
            let e = db(e);
            for op in ops {
                op.fail(e.clone());
            }
            return Err(e);
        }
    };
    // From here on every op gets an answer (its result, sent with the
    // commit's); a failed statement fails them all through the commit.
    let prepared = prepare(&tx, keys).await;
    let mut rows = match prepared {
        Ok(rows) => rows,
        Err(e) => {
            for op in ops {
                op.fail(e.clone());
            }
            return Err(e);
        }
    };
    let mut transitions: Vec<(String, String, DateTime<Utc>, DeliveryState)> = Vec::new();
    let mut threads: HashMap<(String, String, String), (String, String)> = HashMap::new();
    for op in ops {
        answers.push(step(op, &mut rows, &mut transitions, &mut threads));
    }
    write(&tx, rows, transitions, threads).await?;
    tx.commit().await.map_err(db)
}

const LOCK: &str = "SELECT pg_advisory_xact_lock(h) FROM \
     (SELECT DISTINCT hashtextextended(k, 7) AS h FROM unnest($1::text[]) AS k) AS s ORDER BY h";
const SELECT: &str = "SELECT key, incident, channel, target, state, fence, attempts, updated_at \
     FROM tidings_deliveries WHERE key = ANY($1)";

/// Takes the keys' advisory locks (in one global order) and reads their
/// rows: two statements, sent together (the server runs them in order).
async fn prepare(
    tx: &deadpool_postgres::Transaction<'_>,
    keys: &[String],
) -> Result<HashMap<String, Stored>, JournalError> {
    let (lock, select) =
        tokio::try_join!(tx.prepare_cached(LOCK), tx.prepare_cached(SELECT)).map_err(db)?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&keys];
    let (_, found) =
        tokio::try_join!(tx.execute(&lock, &params), tx.query(&select, &params)).map_err(db)?;
    let mut rows = HashMap::with_capacity(keys.len());
    for r in found {
        let state: String = r.get(4);
        let fence: i64 = r.get(5);
        let attempts: i64 = r.get(6);
        rows.insert(
            r.get::<_, String>(0),
            Stored {
                incident: r.get(1),
                channel: r.get(2),
                target: r.get(3),
                row: Some(Row {
                    state: from_json(&state)?,
                    fence: u64::try_from(fence).unwrap_or(0),
                    attempts: count(attempts),
                }),
                exists: true,
                entry: None,
                changed: false,
                updated_at: crate::journal::sql::from_micros(r.get(7))?,
                order: 0,
            },
        );
    }
    Ok(rows)
}

/// Applies one operation to the rows in memory (the shared rules), noting
/// what to write.
fn step(
    op: Op,
    rows: &mut HashMap<String, Stored>,
    transitions: &mut Vec<(String, String, DateTime<Utc>, DeliveryState)>,
    threads: &mut HashMap<(String, String, String), (String, String)>,
) -> Answer {
    match op {
        Op::Claim {
            entry,
            owner,
            now,
            lease_until,
            options,
            reply,
        } => {
            let key = entry.key.as_str().to_owned();
            let current = rows.get(&key).and_then(|s| s.row.as_ref());
            let write = row::claim(&entry.key, current, &owner, now, lease_until, options);
            let Some(new) = write.row else {
                return Answer::Claim(reply, Ok(write.answer));
            };
            let stored = match rows.get_mut(&key) {
                Some(stored) => stored,
                None => {
                    let json = match to_json(&*entry) {
                        Ok(json) => json,
                        Err(e) => return Answer::Claim(reply, Err(e)),
                    };
                    let order = rows.len();
                    rows.entry(key.clone()).or_insert(Stored {
                        incident: entry.incident.as_str().to_owned(),
                        channel: entry.channel.to_string(),
                        target: entry.target.as_str().to_owned(),
                        row: None,
                        exists: false,
                        entry: Some(json),
                        changed: true,
                        updated_at: now,
                        order,
                    })
                }
            };
            stored.row = Some(new);
            stored.changed = true;
            stored.updated_at = now;
            for state in write.transitions {
                transitions.push((stored.incident.clone(), key.clone(), now, state));
            }
            Answer::Claim(reply, Ok(write.answer))
        }
        Op::Renew {
            token,
            until,
            reply,
        } => {
            let stored = rows.get_mut(token.key().as_str());
            let result = row::renew(stored.as_ref().and_then(|s| s.row.as_ref()), &token, until);
            Answer::Unit(
                reply,
                result.map(|new| {
                    if let Some(stored) = stored {
                        stored.row = Some(new);
                        stored.changed = true;
                    }
                }),
            )
        }
        Op::Finish {
            token,
            finish,
            at,
            reply,
        } => {
            let key = token.key().as_str().to_owned();
            let stored = rows.get_mut(&key);
            let sent_ref = match &finish {
                Finish::Sent(Receipt {
                    message_ref: Some(r),
                    ..
                }) => Some(r.as_str().to_owned()),
                _ => None,
            };
            let result = row::finish(stored.as_ref().and_then(|s| s.row.as_ref()), &token, finish);
            let outcome = result.map(|new| {
                if let Some(stored) = stored {
                    transitions.push((stored.incident.clone(), key.clone(), at, new.state.clone()));
                    if let Some(latest) = sent_ref {
                        let triple = (
                            stored.incident.clone(),
                            stored.channel.clone(),
                            stored.target.clone(),
                        );
                        threads
                            .entry(triple)
                            .and_modify(|(_, l)| *l = latest.clone())
                            .or_insert_with(|| (latest.clone(), latest));
                    }
                    stored.row = Some(new);
                    stored.changed = true;
                    stored.updated_at = at;
                }
            });
            Answer::Unit(reply, outcome)
        }
        Op::Release {
            key,
            owner,
            at,
            reply,
        } => {
            let stored = rows.get_mut(key.as_str());
            let new = row::release(stored.as_ref().and_then(|s| s.row.as_ref()), &owner);
            let held = new.is_some();
            if let (Some(new), Some(stored)) = (new, stored) {
                transitions.push((
                    stored.incident.clone(),
                    key.as_str().to_owned(),
                    at,
                    new.state.clone(),
                ));
                stored.row = Some(new);
                stored.changed = true;
                stored.updated_at = at;
            }
            Answer::Bool(reply, Ok(held))
        }
    }
}

/// Writes what the batch changed: new rows, changed rows, transitions and
/// threads, each as one statement over arrays.
async fn write(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: HashMap<String, Stored>,
    transitions: Vec<(String, String, DateTime<Utc>, DeliveryState)>,
    threads: HashMap<(String, String, String), (String, String)>,
) -> Result<(), JournalError> {
    let mut new = NewRows::default();
    let mut changed = ChangedRows::default();
    let mut rows: Vec<(String, Stored)> = rows.into_iter().filter(|(_, s)| s.changed).collect();
    rows.sort_by_key(|(_, s)| s.order);
    for (key, stored) in rows {
        let Some(row) = stored.row else { continue };
        let state = to_json(&row.state)?;
        let fence = i64::try_from(row.fence).unwrap_or(i64::MAX);
        let attempts = i64::from(row.attempts);
        let at = micros(stored.updated_at);
        if stored.exists {
            changed.keys.push(key);
            changed.states.push(state);
            changed.fences.push(fence);
            changed.attempts.push(attempts);
            changed.at.push(at);
        } else {
            new.keys.push(key);
            new.incidents.push(stored.incident);
            new.channels.push(stored.channel);
            new.targets.push(stored.target);
            new.entries.push(stored.entry.unwrap_or_default());
            new.states.push(state);
            new.fences.push(fence);
            new.attempts.push(attempts);
            new.at.push(at);
        }
    }
    let mut transition_cols = TransitionRows::default();
    for (incident, key, when, state) in transitions {
        transition_cols.incidents.push(incident);
        transition_cols.keys.push(key);
        transition_cols.at.push(micros(when));
        transition_cols.states.push(to_json(&state)?);
    }
    let mut thread_cols: [Vec<String>; 5] = Default::default();
    for ((incident, channel, target), (root, latest)) in threads {
        for (col, value) in thread_cols
            .iter_mut()
            .zip([incident, channel, target, root, latest])
        {
            col.push(value);
        }
    }
    // The statements touch different rows: sent together, one round trip.
    let insert = async {
        if new.keys.is_empty() {
            return Ok(0);
        }
        let stmt = tx.prepare_cached(INSERT).await?;
        tx.execute(
            &stmt,
            &[
                &new.keys,
                &new.incidents,
                &new.channels,
                &new.targets,
                &new.entries,
                &new.states,
                &new.fences,
                &new.attempts,
                &new.at,
            ],
        )
        .await
    };
    let update = async {
        if changed.keys.is_empty() {
            return Ok(0);
        }
        let stmt = tx.prepare_cached(UPDATE).await?;
        tx.execute(
            &stmt,
            &[
                &changed.keys,
                &changed.states,
                &changed.fences,
                &changed.attempts,
                &changed.at,
            ],
        )
        .await
    };
    let history = async {
        if transition_cols.keys.is_empty() {
            return Ok(0);
        }
        let stmt = tx.prepare_cached(TRANSITIONS).await?;
        let t = &transition_cols;
        tx.execute(&stmt, &[&t.incidents, &t.keys, &t.at, &t.states])
            .await
    };
    let thread = async {
        if thread_cols[0].is_empty() {
            return Ok(0);
        }
        let stmt = tx.prepare_cached(THREADS).await?;
        let c = &thread_cols;
        tx.execute(&stmt, &[&c[0], &c[1], &c[2], &c[3], &c[4]])
            .await
    };
    tokio::try_join!(insert, update, history, thread).map_err(db)?;
    Ok(())
}

/// New rows, inserted in the order they were first claimed (so records come
/// back in that order).
const INSERT: &str = "INSERT INTO tidings_deliveries \
     (key, incident, channel, target, entry, state, fence, attempts, updated_at) \
     SELECT key, incident, channel, target, entry, state, fence, attempts, at \
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                 $6::text[], $7::int8[], $8::int8[], $9::int8[]) WITH ORDINALITY \
       AS n(key, incident, channel, target, entry, state, fence, attempts, at, i) \
     ORDER BY i";
const UPDATE: &str = "UPDATE tidings_deliveries AS d SET state = u.state, fence = u.fence, \
       attempts = u.attempts, updated_at = u.at \
     FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[]) \
       AS u(key, state, fence, attempts, at) \
     WHERE d.key = u.key";
const TRANSITIONS: &str = "INSERT INTO tidings_transitions (incident, key, at, state) \
     SELECT incident, key, at, state \
     FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[]) WITH ORDINALITY \
       AS t(incident, key, at, state, n) ORDER BY n";
const THREADS: &str = "INSERT INTO tidings_threads (incident, channel, target, root, latest) \
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
     ON CONFLICT (incident, channel, target) DO UPDATE SET latest = EXCLUDED.latest";

#[derive(Default)]
struct TransitionRows {
    incidents: Vec<String>,
    keys: Vec<String>,
    at: Vec<i64>,
    states: Vec<String>,
}

#[derive(Default)]
struct NewRows {
    keys: Vec<String>,
    incidents: Vec<String>,
    channels: Vec<String>,
    targets: Vec<String>,
    entries: Vec<String>,
    states: Vec<String>,
    fences: Vec<i64>,
    attempts: Vec<i64>,
    at: Vec<i64>,
}

#[derive(Default)]
struct ChangedRows {
    keys: Vec<String>,
    states: Vec<String>,
    fences: Vec<i64>,
    attempts: Vec<i64>,
    at: Vec<i64>,
}
