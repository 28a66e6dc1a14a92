//! Cadence: when each audience last heard about an incident, and when it must
//! hear again.
//!
//! Every update promises the next one ([`Update::next_update_at`]) and every
//! audience has a longest silence ([`AudiencePolicy::max_silence`]). From the
//! [journal](crate::journal::Journal), [`Cadence`] tells for each audience the
//! last message it was sent and when the next one is due: the earlier of the
//! promise made by the update it last received and that message's time plus
//! its `max_silence` (before any message: the incident start plus
//! `max_silence`; for a scheduled maintenance that has not started, see
//! below). [`Cadence::overdue`] lists the audiences past due. Closed
//! incidents (resolved, or with a published postmortem) are never overdue.
//!
//! Audiences that opted in ([`AudiencePolicy::holding_statements`]) can be sent
//! a holding statement when overdue ("We are still investigating this issue.
//! … Next update by 14:30 UTC."): [`Dispatcher::send_holding_statements`] posts
//! it as an ordinary [`Update`] (same status, only for the overdue audiences,
//! marked [`Update::holding`]) and publishes it, so it is journaled, threaded,
//! linked and reviewed like every other message; [`Dispatcher::watch`] does so
//! on its own until the incident closes.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tidings::channel::memory::MemoryChannel;
//! use tidings::prelude::*;
//!
//! let chat = Arc::new(MemoryChannel::new());
//! let dispatcher = Dispatcher::builder("https://status.example.com/incidents/{id}")
//!     .primary("page", Arc::new(MemoryChannel::primary("https://status.example.com/".parse()?)))
//!     .channel("chat", chat.clone())
//!     .audience(
//!         AudiencePolicy::new(Audience::CoreResponders)
//!             .route(Route::new("chat", [Target::new("#inc")?]))
//!             .max_silence(Duration::from_secs(20 * 60))
//!             .holding_statements(true),
//!     )
//!     .build()?;
//!
//! let t0 = tidings::clock::now();
//! let mut incident = Incident::new(IncidentId::new("inc-1")?, "API errors", Impact::Major, t0)?;
//! let first = incident
//!     .post(UpdateDraft::new(Status::Investigating, t0, "Errors on the API.")
//!         .next_update_at(t0 + chrono::Duration::minutes(30)))?
//!     .clone();
//! dispatcher.publish(&incident, &first).await?;
//!
//! // Responders must hear again within 20 minutes, whatever the update promised.
//! let cadence = dispatcher.cadence(&incident).await?;
//! assert_eq!(cadence.due(&Audience::CoreResponders), Some(t0 + chrono::Duration::minutes(20)));
//!
//! tokio::time::sleep(Duration::from_secs(20 * 60)).await;
//! let now = tidings::clock::now();
//! assert_eq!(cadence.overdue(now).len(), 1);
//! dispatcher.send_holding_statements(&mut incident, now).await?;
//! assert!(chat.texts()[1].starts_with("[Investigating] API errors"));
//! assert!(chat.texts()[1].contains("We are still investigating"));
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::audience::{Audience, AudiencePolicy, Target};
use crate::clock;
use crate::dispatch::{DispatchError, DispatchReport, Dispatcher};
#[cfg(doc)]
use crate::incident::Update;
use crate::incident::{Incident, IncidentId, ModelError, Status, UpdateDraft};
use crate::journal::{DeliveryState, JournalError, JournalRecord};

/// Why the cadence could not be read, or a holding statement or maintenance
/// reminder not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CadenceError {
    /// The journal could not be read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The holding statement or reminder was refused by the incident model.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The holding statement or reminder could not be published.
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
}

/// The last message an audience was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LastMessage {
    /// When the channel accepted it.
    pub at: DateTime<Utc>,
    /// The update's sequence number.
    pub seq: u32,
    /// The channel it went out on.
    pub channel: Arc<str>,
    /// The target it went to.
    pub target: Target,
}

/// One audience's cadence.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AudienceCadence {
    /// The audience.
    pub audience: Audience,
    /// Its longest allowed silence.
    pub max_silence: Duration,
    /// Whether it gets automatic holding statements.
    pub holding_statements: bool,
    /// The last message it was sent, if any.
    pub last: Option<LastMessage>,
    /// The next-update time promised by the update it last received.
    pub promised: Option<DateTime<Utc>>,
    /// When it must hear again: the earlier of `promised` and the last message
    /// (or the incident start) plus `max_silence`. `None` once the incident is
    /// closed.
    pub due: Option<DateTime<Utc>>,
}

/// An audience past due.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Overdue {
    /// The audience.
    pub audience: Audience,
    /// When it was due.
    pub due: DateTime<Utc>,
    /// How long past due it is (zero at the due time itself).
    pub late_by: Duration,
    /// The last message it was sent, if any.
    pub last: Option<LastMessage>,
    /// Whether it gets automatic holding statements.
    pub holding_statements: bool,
}

/// When each audience of an incident last heard and must hear again.
///
/// Build one with [`Dispatcher::cadence`], or with [`Cadence::from_records`]
/// from any journal's records. Only messages sent on the audiences' routes
/// count; the primary (the status page) is where people look, not a message
/// sent to them. A message to a target that several audiences share counts for
/// every one of them the update was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cadence {
    incident: IncidentId,
    closed: bool,
    audiences: Vec<AudienceCadence>,
}

impl Cadence {
    /// The cadence of `incident` from its journal records and the audience
    /// policies (those whose component scope excludes the incident are left
    /// out).
    pub fn from_records<'a>(
        incident: &Incident,
        records: &[JournalRecord],
        policies: impl IntoIterator<Item = &'a AudiencePolicy>,
    ) -> Self {
        let routing = Routing::new(incident, policies);
        let mut last: HashMap<&Audience, LastMessage> = HashMap::new();
        for record in records {
            let DeliveryState::Sent(receipt) = &record.state else {
                continue;
            };
            let e = &record.entry;
            if e.primary || &e.incident != incident.id() {
                continue;
            }
            for audience in routing.reached(record, incident) {
                let newer = last
                    .get(audience)
                    .is_none_or(|l| (receipt.at, e.seq) > (l.at, l.seq));
                if newer {
                    last.insert(
                        audience,
                        LastMessage {
                            at: receipt.at,
                            seq: e.seq,
                            channel: e.channel.clone(),
                            target: e.target.clone(),
                        },
                    );
                }
            }
        }
        let closed = incident.status().is_closed();
        // The start of a maintenance that has not started.
        let scheduled = incident
            .window()
            .map(|w| w.scheduled_for())
            .filter(|_| incident.status() == Status::Scheduled);
        let audiences = routing
            .policies
            .iter()
            .map(|policy| {
                let last = last.get(policy.audience()).cloned();
                let promised = last
                    .as_ref()
                    .and_then(|l| incident.update(l.seq))
                    .and_then(|u| u.next_update_at);
                let since = last.as_ref().map_or(incident.started_at(), |l| l.at);
                let deadline = add(since, policy.longest_silence());
                let due = (!closed).then(|| match (promised, scheduled) {
                    // Before a maintenance starts there is nothing to tell:
                    // the promise made (by default, the start) is the due
                    // time, and the start for an audience not told yet.
                    (Some(p), Some(_)) => p,
                    (None, Some(start)) => start,
                    (Some(p), None) => p.min(deadline),
                    (None, None) => deadline,
                });
                AudienceCadence {
                    audience: policy.audience().clone(),
                    max_silence: policy.longest_silence(),
                    holding_statements: policy.sends_holding_statements(),
                    last,
                    promised,
                    due,
                }
            })
            .collect();
        Self {
            incident: incident.id().clone(),
            closed,
            audiences,
        }
    }

    /// The incident.
    pub fn incident(&self) -> &IncidentId {
        &self.incident
    }

    /// Whether the incident is closed (then nothing is ever due).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Every audience's cadence, in policy order.
    pub fn audiences(&self) -> &[AudienceCadence] {
        &self.audiences
    }

    /// One audience's cadence.
    pub fn audience(&self, audience: &Audience) -> Option<&AudienceCadence> {
        self.audiences.iter().find(|a| &a.audience == audience)
    }

    /// When `audience` must hear again (`None` if closed or unknown).
    pub fn due(&self, audience: &Audience) -> Option<DateTime<Utc>> {
        self.audience(audience).and_then(|a| a.due)
    }

    /// The earliest due time of any audience (`None` if closed).
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.audiences.iter().filter_map(|a| a.due).min()
    }

    /// The audiences due at or before `now` (their silence has reached its
    /// limit), most overdue first; empty once the incident is closed.
    pub fn overdue(&self, now: DateTime<Utc>) -> Vec<Overdue> {
        let mut overdue: Vec<Overdue> = self
            .audiences
            .iter()
            .filter_map(|a| {
                let due = a.due.filter(|due| *due <= now)?;
                Some(Overdue {
                    audience: a.audience.clone(),
                    due,
                    late_by: (now - due).to_std().unwrap_or(Duration::ZERO),
                    last: a.last.clone(),
                    holding_statements: a.holding_statements,
                })
            })
            .collect();
        // Stable: equal due times keep policy order.
        overdue.sort_by_key(|o| o.due);
        overdue
    }
}

/// How often [`Dispatcher::watch`] looks again when a holding statement could
/// not be delivered (or nothing has been posted yet).
pub(crate) const WATCH_RETRY: Duration = Duration::from_secs(60);

impl Dispatcher {
    /// The cadence of `incident`, from the journal and this dispatcher's
    /// audience policies.
    pub async fn cadence(&self, incident: &Incident) -> Result<Cadence, JournalError> {
        let records = self.journal().records(incident.id()).await?;
        Ok(Cadence::from_records(incident, &records, self.policies()))
    }

    /// Sends a holding statement to every audience that is overdue at `now`
    /// and whose policy asks for them
    /// ([`AudiencePolicy::holding_statements`]); returns the reports (empty
    /// when nobody was due).
    ///
    /// The statement is an [`Update`] posted on `incident` and published like
    /// any other, so it is journaled, carries the link, threads and shows in
    /// the review: the current status, a message saying work goes on
    /// ("We are still investigating this issue. There is nothing new to share
    /// yet."), marked [`Update::holding`] (rendered with the `holding.*`
    /// templates), only for the overdue audiences, and promising the next
    /// update after each audience's `max_silence` (audiences with different
    /// `max_silence` get one statement each). It reaches the status page only
    /// if customers are among them.
    ///
    /// Nothing is sent for a closed incident, before its first update (the
    /// first contact is written by people), or for a scheduled maintenance
    /// that has not been said to start (its audiences get
    /// [reminders](Dispatcher::send_maintenance_reminders) instead). If an audience's pending holding
    /// statement was not delivered, that statement is published again instead
    /// of a new one being posted.
    pub async fn send_holding_statements(
        &self,
        incident: &mut Incident,
        now: DateTime<Utc>,
    ) -> Result<Vec<DispatchReport>, CadenceError> {
        let Some(latest) = incident.latest() else {
            return Ok(Vec::new());
        };
        if latest.status.is_closed() || latest.status == Status::Scheduled {
            return Ok(Vec::new());
        }
        let (status, at) = (latest.status, latest.at.max(now));
        let cadence = self.cadence(incident).await?;
        let mut again = BTreeSet::new();
        let mut fresh: BTreeMap<Duration, Vec<Audience>> = BTreeMap::new();
        for overdue in cadence.overdue(now) {
            if !overdue.holding_statements {
                continue;
            }
            let pending = incident
                .updates()
                .iter()
                .rev()
                .find(|u| u.recipients.includes(&overdue.audience))
                .filter(|u| u.holding && u.next_update_at.is_some_and(|next| next > now));
            match pending {
                Some(update) => {
                    again.insert(update.seq);
                }
                None => {
                    let silence = cadence
                        .audience(&overdue.audience)
                        .map_or(overdue.audience.default_max_silence(), |a| a.max_silence);
                    fresh.entry(silence).or_default().push(overdue.audience);
                }
            }
        }
        let mut reports = Vec::new();
        for seq in again {
            if let Some(update) = incident.update(seq).cloned() {
                tracing::info!(incident = %incident.id(), seq, "publishing an undelivered holding statement again");
                reports.push(self.publish(incident, &update).await?);
            }
        }
        for (silence, audiences) in fresh {
            let draft = UpdateDraft::new(status, at, holding_message(status))
                .holding()
                .only_for(audiences)
                .next_update_at(add(at, silence));
            let update = incident.post(draft)?.clone();
            tracing::info!(incident = %incident.id(), seq = update.seq, "sending a holding statement");
            reports.push(self.publish(incident, &update).await?);
        }
        Ok(reports)
    }

    /// Keeps the cadence of a shared incident until it closes: sends holding
    /// statements whenever an audience that asks for them falls due (see
    /// [`Dispatcher::send_holding_statements`]) and, for a scheduled
    /// maintenance, reminders before it starts (see
    /// [`Dispatcher::send_maintenance_reminders`]), sleeping on tokio's clock
    /// in between. Returns once there is nothing left to keep: at once if no
    /// audience asks for holding statements and the incident is not a
    /// maintenance or no audience asks for reminders; without holding
    /// statements, once the maintenance has started (by the clock or an
    /// update); and once the incident is closed (noticed at the next due
    /// time; abort the task to stop sooner). While an audience that asks for
    /// reminders has not been told of the maintenance, it looks every minute
    /// (it may be told, and then be due).
    ///
    /// The lock is held while statements are posted and published; post your
    /// own updates through the same mutex. Errors end the watch.
    pub async fn watch(
        &self,
        incident: Arc<tokio::sync::Mutex<Incident>>,
    ) -> Result<(), CadenceError> {
        let holding = self
            .policies()
            .any(AudiencePolicy::sends_holding_statements);
        let reminders = incident.lock().await.is_maintenance()
            && self.policies().any(|p| p.reminds_before().is_some());
        if !holding && !reminders {
            return Ok(());
        }
        loop {
            let wait = {
                let mut incident = incident.lock().await;
                if incident.status().is_closed() {
                    return Ok(());
                }
                if reminders {
                    self.send_maintenance_reminders(&mut incident, clock::now())
                        .await?;
                }
                let mut next = None;
                if holding {
                    self.send_holding_statements(&mut incident, clock::now())
                        .await?;
                    let cadence = self.cadence(&incident).await?;
                    next = cadence
                        .audiences()
                        .iter()
                        .filter(|a| a.holding_statements)
                        .filter_map(|a| a.due)
                        .min();
                }
                let now = clock::now();
                if reminders {
                    match self.reminder_wake(&incident, now).await? {
                        None if !holding => return Ok(()),
                        None => {}
                        Some(wake) => next = next.into_iter().chain(Some(wake)).min(),
                    }
                }
                match next {
                    Some(due) if due > now => (due - now).to_std().unwrap_or(WATCH_RETRY),
                    _ => WATCH_RETRY,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// The text of a holding statement: work goes on, nothing new yet. The
/// next-update line is added by the `next_update` template.
fn holding_message(status: Status) -> &'static str {
    match status {
        Status::Identified => {
            "We have identified the cause and are still working on a fix. There is nothing new to share yet."
        }
        Status::Monitoring => {
            "A fix is in place and we are still monitoring the results. There is nothing new to share yet."
        }
        Status::InProgress => {
            "The maintenance is still in progress. There is nothing new to share yet."
        }
        Status::Verifying => {
            "The maintenance work is done and we are still checking it. There is nothing new to share yet."
        }
        _ => "We are still investigating this issue. There is nothing new to share yet.",
    }
}

/// `t + d`, saturating.
pub(crate) fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The audience policies that apply to an incident.
pub(crate) struct Routing<'a> {
    /// Policies whose component scope includes the incident, in order.
    pub(crate) policies: Vec<&'a AudiencePolicy>,
}

impl<'a> Routing<'a> {
    pub(crate) fn new(
        incident: &Incident,
        policies: impl IntoIterator<Item = &'a AudiencePolicy>,
    ) -> Self {
        let policies: Vec<&AudiencePolicy> = policies
            .into_iter()
            .filter(|p| p.cares_about(incident))
            .collect();
        Self { policies }
    }

    /// Every audience a journal record's message reached: a target shared by
    /// audiences is sent one message, journaled with all of them.
    pub(crate) fn reached<'r>(
        &'r self,
        record: &'r JournalRecord,
        _incident: &'r Incident,
    ) -> impl Iterator<Item = &'r Audience> + 'r {
        record.entry.audiences.iter()
    }
}
