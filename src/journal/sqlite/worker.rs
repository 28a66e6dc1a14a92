//! The threads that own the SQLite connections: one writer that commits
//! every queued write in one transaction (group commit), one reader.

use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::journal::JournalError;

/// Sends a job's result once its transaction's fate is known.
type Completion = Box<dyn FnOnce(Result<(), JournalError>) + Send>;

/// A unit of work for a connection's thread. Given the connection, it runs
/// and returns whether the transaction may still commit and how to report
/// its result; given none (the transaction could not start, or was already
/// broken), it reports the error without running.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, Completion) + Send>;

/// Most writes committed together.
const MAX_BATCH: usize = 512;

/// A handle on one connection's thread.
#[derive(Debug, Clone)]
pub(super) struct Worker {
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    /// Starts the writer thread: every job runs in a savepoint of a
    /// transaction shared with the jobs queued beside it; their results are
    /// reported after the commit (so a caller never hears "claimed" before
    /// the claim is on disk).
    pub(super) fn writer(name: &str, conn: Connection) -> Result<Self, JournalError> {
        Self::spawn(name, conn, run_batch)
    }

    /// Starts the reader thread: jobs run one at a time, outside any write
    /// transaction.
    pub(super) fn reader(name: &str, conn: Connection) -> Result<Self, JournalError> {
        Self::spawn(name, conn, |conn, jobs| {
            for job in jobs {
                job(Some(conn)).1(Ok(()));
            }
        })
    }

    fn spawn(
        name: &str,
        conn: Connection,
        run: fn(&Connection, Vec<Job>),
    ) -> Result<Self, JournalError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // Ends when every handle is dropped.
                while let Ok(first) = queue.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    run(&conn, batch);
                }
            })
            .map_err(|e| JournalError::unavailable(format!("cannot start {name}: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the thread and returns its result (for the writer: once
    /// committed).
    pub(super) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, JournalError> + Send + 'static,
    ) -> Result<T, JournalError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => f(conn),
                None => Err(JournalError::unavailable("the transaction did not start")),
            };
            // Refusals write nothing; store errors may leave a partial write.
            let ok = !matches!(
                result,
                Err(JournalError::Unavailable { .. } | JournalError::Corrupt { .. })
            );
            let completion: Completion = Box::new(move |commit: Result<(), JournalError>| {
                let _ = tx.send(commit.and(result));
            });
            (ok, completion)
        });
        self.jobs
            .send(job)
            .map_err(|_| JournalError::unavailable("the SQLite journal's thread has stopped"))?;
        rx.await
            .map_err(|_| JournalError::unavailable("the SQLite journal's thread has stopped"))?
    }
}

/// One group commit: `BEGIN IMMEDIATE`, every job, `COMMIT`, then every
/// result. A job that refuses (a stale token, an unknown publication) writes
/// nothing; a job whose statement fails (disk full, I/O) may have written
/// part of its change, so the whole group is rolled back and every job in it
/// fails with the error (their callers retry, or the claims run out).
fn run_batch(conn: &Connection, jobs: Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let e = unavailable(e);
        for job in jobs {
            job(None).1(Err(e.clone()));
        }
        return;
    }
    let mut done = Vec::with_capacity(jobs.len());
    let mut broken = false;
    for job in jobs {
        if broken {
            done.push(job(None).1);
            continue;
        }
        let (ok, completion) = job(Some(conn));
        broken = !ok;
        done.push(completion);
    }
    let commit = if broken {
        let _ = conn.execute_batch("ROLLBACK");
        Err(JournalError::unavailable(
            "a write in this group failed; the group was rolled back",
        ))
    } else {
        let commit = conn.execute_batch("COMMIT").map_err(unavailable);
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        commit
    };
    for completion in done {
        completion(commit.clone());
    }
}

pub(super) fn unavailable(e: rusqlite::Error) -> JournalError {
    JournalError::unavailable(format!("SQLite: {e}"))
}

/// Checkpoints the WAL into the database file on a thread of its own, so
/// the writer never stops for it (the writer's automatic checkpoints are
/// off). Passive: it never blocks the writer or a reader. Ends when `stop`
/// is dropped.
pub(super) fn checkpointer(
    conn: Connection,
    every: std::time::Duration,
) -> Result<mpsc::Sender<()>, JournalError> {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("tdg-sqlite-c".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; will try again");
                }
            }
        })
        .map_err(|e| JournalError::unavailable(format!("cannot start the checkpointer: {e}")))?;
    Ok(stop)
}
