//! The threads that own the SQLite connections: one writer that commits
//! every queued write in one transaction (group commit), one reader.

use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::journal::JournalError;

/// Sends a job's result once its transaction's fate is known.
type Completion = Box<dyn FnOnce(Result<(), JournalError>) + Send>;

/// A unit of work for a connection's thread. Given the connection, it runs
/// and returns whether it succeeded and how to report its result; given none
/// (the transaction could not start), it reports the error without running.
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
            let ok = result.is_ok();
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

/// One group commit: `BEGIN IMMEDIATE`, each job in its own savepoint (a job
/// that fails leaves no partial write), `COMMIT`, then every result.
fn run_batch(conn: &Connection, jobs: Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let e = unavailable(e);
        for job in jobs {
            job(None).1(Err(e.clone()));
        }
        return;
    }
    let mut done = Vec::with_capacity(jobs.len());
    for job in jobs {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            tracing::error!(error = %e, "SQLite savepoint failed");
            done.push(job(None).1);
            continue;
        }
        let (ok, completion) = job(Some(conn));
        let end = if ok {
            "RELEASE job"
        } else {
            // The job failed part-way: none of its writes stay.
            "ROLLBACK TO job; RELEASE job"
        };
        if let Err(e) = conn.execute_batch(end) {
            tracing::error!(error = %e, "SQLite savepoint end failed");
        }
        done.push(completion);
    }
    let commit = conn.execute_batch("COMMIT").map_err(unavailable);
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for completion in done {
        completion(commit.clone());
    }
}

pub(super) fn unavailable(e: rusqlite::Error) -> JournalError {
    JournalError::unavailable(format!("SQLite: {e}"))
}
