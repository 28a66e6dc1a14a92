//! The outbox: finishes every publication that still has work, after a
//! failure, a crash or a restart, here or on another replica.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::Instrument;

use super::dispatcher::{Dispatcher, Mode, add};
use super::report::DispatchReport;
use crate::clock;
use crate::incident::IncidentId;
use crate::journal::{JournalError, Pruned};

/// Re-drives every publication that is not settled: deliveries that failed
/// and may succeed, claims abandoned by a worker that died (after their
/// lease), and deliveries in doubt that may be resent (where the provider
/// deduplicates, or the route says so); until each is sent or its deadline
/// passes, when it fails for good
/// ([`Failure::DeadlinePassed`](crate::journal::Failure::DeadlinePassed)).
///
/// It reads everything it needs from the journal (the incident, its updates,
/// the link chosen), so a restarted process resumes without the caller
/// supplying anything. Several replicas may run one each over a shared
/// journal: claims keep every delivery to one sender.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use std::sync::Arc;
/// # use tidings::channel::memory::MemoryChannel;
/// # use tidings::prelude::*;
/// # let dispatcher = Dispatcher::builder("https://status.example.com/incidents/{id}")
/// #     .primary("page", Arc::new(MemoryChannel::primary("https://status.example.com/".parse()?)))
/// #     .build()?;
/// // In the service: one task for the life of the process.
/// let outbox = dispatcher.outbox();
/// let task = tokio::spawn(async move { outbox.run().await });
/// # task.abort();
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct Outbox {
    dispatcher: Dispatcher,
    poll: Duration,
    batch: usize,
    retention: Option<Duration>,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("poll", &self.poll)
            .field("batch", &self.batch)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

/// What one [`Outbox::run_once`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct OutboxPass {
    /// One report per publication passed over.
    pub reports: Vec<DispatchReport>,
    /// Publications that could not be passed over, and why.
    pub errors: Vec<(IncidentId, u32, String)>,
    /// What retention pruned in this pass.
    pub pruned: Pruned,
    /// How many publications still had work after the pass (due now or
    /// later).
    pub unsettled: usize,
}

impl OutboxPass {
    /// How many messages this pass sent.
    pub fn sent_now(&self) -> usize {
        self.reports.iter().map(DispatchReport::sent_now).sum()
    }
}

impl Dispatcher {
    /// The outbox of this dispatcher: run it as a task for the life of the
    /// service ([`Outbox::run`]), or call [`Outbox::run_once`] yourself.
    pub fn outbox(&self) -> Outbox {
        Outbox {
            dispatcher: self.clone(),
            poll: Duration::from_secs(5),
            batch: 64,
            retention: None,
        }
    }
}

impl Outbox {
    /// How often [`Outbox::run`] looks for work (default 5 s).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll = every.max(Duration::from_millis(1));
        self
    }

    /// How many publications one pass takes on at most (default 64).
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n.max(1);
        self
    }

    /// Prunes, on every pass, incidents closed longer than `age` ago (with
    /// their deliveries, history and threads), so the journal does not grow
    /// without bound. Off by default.
    pub fn retention(mut self, age: Duration) -> Self {
        self.retention = Some(age);
        self
    }

    /// One pass at `now`: every due publication is passed over once.
    pub async fn run_once(&self) -> Result<OutboxPass, JournalError> {
        let d = &self.dispatcher;
        let journal = d.journal();
        let now = clock::now();
        let mut pass = OutboxPass::default();
        for publication in journal.due_publications(now, self.batch).await? {
            let (id, seq) = (publication.incident.clone(), publication.seq);
            let incident = match journal.incident(&id).await? {
                Some(incident) => incident,
                None => {
                    pass.errors.push((
                        id.clone(),
                        seq,
                        "the incident is not in the journal".into(),
                    ));
                    journal.end_pass(&id, seq, None).await?;
                    continue;
                }
            };
            let Some(update) = incident.update(seq).cloned() else {
                pass.errors.push((
                    id.clone(),
                    seq,
                    "the update is not in the stored incident".into(),
                ));
                journal.end_pass(&id, seq, None).await?;
                continue;
            };
            let span = tracing::info_span!("outbox", incident = %id, seq);
            let result = d
                .pass(&incident, &update, &publication, Mode::Outbox)
                .instrument(span)
                .await;
            match result {
                Ok(report) => pass.reports.push(report),
                Err(e) => {
                    tracing::error!(incident = %id, seq, error = %e, "outbox pass failed");
                    pass.errors.push((id.clone(), seq, e.to_string()));
                    // Look again later: a template or journal error may pass.
                    let (base, _) = d.inner.outbox_backoff;
                    journal.end_pass(&id, seq, Some(add(now, base))).await?;
                }
            }
        }
        if let Some(age) = self.retention {
            let cutoff = now - super::dispatcher::chrono_duration(age);
            pass.pruned = journal.prune(cutoff).await?;
        }
        pass.unsettled = self.unsettled().await?;
        Ok(pass)
    }

    /// Runs passes every poll interval, for as long as the future is polled
    /// (abort the task to stop it). Journal errors are logged and the pass
    /// is tried again at the next interval.
    pub async fn run(&self) {
        loop {
            match self.run_once().await {
                Ok(pass) if !pass.reports.is_empty() => {
                    tracing::info!(
                        publications = pass.reports.len(),
                        sent = pass.sent_now(),
                        "outbox pass"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox pass failed; trying again"),
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Runs passes until no publication has work left, or `timeout` has
    /// passed; returns every pass's reports together, and in
    /// [`OutboxPass::unsettled`] how many publications still have work. For
    /// tests, drills and a command line that must finish what it started.
    pub async fn drain(&self, timeout: Duration) -> Result<OutboxPass, JournalError> {
        let until = tokio::time::Instant::now() + timeout;
        let mut all = OutboxPass::default();
        loop {
            let pass = self.run_once().await?;
            all.reports.extend(pass.reports);
            all.errors.extend(pass.errors);
            all.pruned.incidents += pass.pruned.incidents;
            all.pruned.deliveries += pass.pruned.deliveries;
            all.unsettled = pass.unsettled;
            if all.unsettled == 0 || tokio::time::Instant::now() >= until {
                return Ok(all);
            }
            let next = self.next_due().await?;
            let wait = next
                .and_then(|at| (at - clock::now()).to_std().ok())
                .unwrap_or(Duration::ZERO)
                .clamp(Duration::from_millis(1), self.poll);
            tokio::time::sleep(wait).await;
        }
    }

    /// How many publications still have work.
    pub async fn unsettled(&self) -> Result<usize, JournalError> {
        Ok(self
            .dispatcher
            .journal()
            .due_publications(DateTime::<Utc>::MAX_UTC, usize::MAX)
            .await?
            .len())
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, JournalError> {
        Ok(self
            .dispatcher
            .journal()
            .due_publications(DateTime::<Utc>::MAX_UTC, 1)
            .await?
            .first()
            .and_then(|p| p.next_attempt_at))
    }
}
