//! Cadence: when each audience last heard about an incident, and when it must
//! hear again.
//!
//! Every update promises the next one ([`Update::next_update_at`]) and every
//! audience has a longest silence ([`AudiencePolicy::max_silence`]). From the
//! [journal](crate::journal::Journal), [`Cadence`] tells for each audience the
//! last message it was sent and when the next one is due: the earlier of the
//! promise made by the update it last received and that message's time plus
//! its `max_silence` (before any message: the incident start plus its
//! first-message target, [`AudiencePolicy::first_message_within`], if
//! shorter; for a scheduled maintenance that has not started, see
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
//! Someone must own the communication. An incident names its communication
//! owner and its incident commander, each with a route
//! ([`Incident::with_owner`], [`Incident::with_commander`]);
//! [`Dispatcher::send_role_prompts`] reminds the owner on their route before
//! an audience falls due (its policy's lead,
//! [`AudiencePolicy::owner_reminder`], five minutes by default) and tells the
//! commander once it is overdue, each once per due time. The prompts are
//! updates for the role alone ([`Update::prompt`]), journaled and reviewed,
//! never sent to an audience. [`Dispatcher::watch`] does all of it in order:
//! the reminder before the due time, then at the due time the escalation,
//! then the holding statement.
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
use crate::incident::{Incident, IncidentId, ModelError, Prompt, Role, Status, UpdateDraft};
#[cfg(doc)]
use crate::incident::{Person, Update};
use crate::journal::{DeliveryState, JournalError, JournalRecord};
use crate::render::{elapsed, utc};

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
    /// The route of the person in an incident role names a channel this
    /// dispatcher does not have (or its primary, which carries no prompt).
    #[error(
        "the {role}'s route names channel {channel:?}, which this dispatcher does not have: register it with DispatcherBuilder::channel, or give the person a route on a registered channel (not the primary)"
    )]
    UnknownRoleChannel {
        /// The role.
        role: Role,
        /// The channel named.
        channel: String,
    },
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
                // An incident's first message has a target of its own.
                let silence = match &last {
                    None if !incident.is_maintenance() => {
                        policy.first_message_target().min(policy.longest_silence())
                    }
                    _ => policy.longest_silence(),
                };
                let deadline = add(since, silence);
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

    /// When `audience` must hear again (`None` if closed or unknown). Before
    /// its first message, for an incident: the start plus its first-message
    /// target (or its longest silence, if shorter).
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
    ///
    /// Also sets the gauge
    /// [`tidings_audiences_overdue`](crate::dispatch::metrics::emitted::AUDIENCES_OVERDUE)
    /// of the incident: how many audiences are overdue now (0 once it is
    /// closed). Holding statements and [`watch`](Self::watch) read the
    /// cadence, so a watched incident keeps it current.
    pub async fn cadence(&self, incident: &Incident) -> Result<Cadence, JournalError> {
        let records = self.journal().records(incident.id()).await?;
        let cadence = Cadence::from_records(incident, &records, self.policies());
        let overdue = if cadence.is_closed() {
            0
        } else {
            cadence.overdue(clock::now()).len()
        };
        crate::dispatch::metrics::overdue(incident.id(), overdue);
        Ok(cadence)
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
        let Some(latest) = incident.latest_news() else {
            return Ok(Vec::new());
        };
        if latest.status.is_closed() || latest.status == Status::Scheduled {
            return Ok(Vec::new());
        }
        // Not before any update, prompts to the roles included.
        let at = incident.latest().map_or(now, |u| u.at.max(now));
        let status = latest.status;
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

    /// Prompts the people in the incident roles about the audiences falling
    /// due at `now`; returns the reports (empty when nobody was prompted).
    ///
    /// - The **communication owner** ([`Incident::with_owner`]) is reminded
    ///   once an audience is due within its policy's lead
    ///   ([`AudiencePolicy::owner_reminder`], five minutes by default) and
    ///   before it is due: which audiences, by when, and what happens if
    ///   nothing goes out.
    /// - The **incident commander** ([`Incident::with_commander`]) is told
    ///   once an audience is due (overdue): which, since when, whether the
    ///   owner was reminded, and whether a holding statement goes out.
    ///
    /// Each is prompted once per audience and due time (a new due time, after
    /// the audience hears again, is a new reminder). A prompt is an
    /// [`Update`] posted on `incident` for the role alone
    /// ([`UpdateDraft::prompt`]), published like any other on the person's
    /// [route](Person::route), so it is journaled and shows in the review; it
    /// never reaches an audience or the status page. Audiences due at the
    /// same time share one prompt.
    ///
    /// Nothing is sent for a closed incident, or to a role nobody holds. A
    /// route naming a channel this dispatcher does not have is refused
    /// ([`CadenceError::UnknownRoleChannel`]) before anything is posted.
    pub async fn send_role_prompts(
        &self,
        incident: &mut Incident,
        now: DateTime<Utc>,
    ) -> Result<Vec<DispatchReport>, CadenceError> {
        if incident.status().is_closed() || incident.roles().is_empty() {
            return Ok(Vec::new());
        }
        for role in Role::ALL {
            if let Some(person) = incident.roles().get(role)
                && self.lane_index(person.route().channel()).is_none()
            {
                return Err(CadenceError::UnknownRoleChannel {
                    role,
                    channel: person.route().channel().to_owned(),
                });
            }
        }
        let cadence = self.cadence(incident).await?;
        let mut due: BTreeMap<(Role, DateTime<Utc>), Vec<Audience>> = BTreeMap::new();
        for (role, audience, at) in self.prompts_due(incident, &cadence) {
            if at <= now
                && !(role == Role::CommunicationOwner
                    && self.owner_too_late(&cadence, &audience, now))
            {
                let at = cadence.due(&audience).unwrap_or(at);
                due.entry((role, at)).or_default().push(audience);
            }
        }
        let mut reports = Vec::new();
        for ((role, due_at), audiences) in due {
            let message = match role {
                Role::CommunicationOwner => {
                    self.owner_reminder_text(incident, &cadence, &audiences, due_at, now)
                }
                Role::IncidentCommander => {
                    self.escalation_text(incident, &cadence, &audiences, due_at)
                }
            };
            let at = incident.latest().map_or(now, |u| u.at.max(now));
            let draft = UpdateDraft::new(incident.status(), at, message)
                .prompt(Prompt::new(role, audiences, due_at));
            let update = incident.post(draft)?.clone();
            tracing::info!(incident = %incident.id(), seq = update.seq, role = role.as_str(), "prompting an incident role");
            reports.push(self.publish(incident, &update).await?);
        }
        Ok(reports)
    }

    /// Every prompt still to send about `incident`: the role, the audience,
    /// and when it falls due (a reminder: the audience's due time less its
    /// lead; an escalation: its due time).
    fn prompts_due(
        &self,
        incident: &Incident,
        cadence: &Cadence,
    ) -> Vec<(Role, Audience, DateTime<Utc>)> {
        let roles = incident.roles();
        let mut out = Vec::new();
        for a in cadence.audiences() {
            let Some(due) = a.due else { continue };
            let prompted = |role: Role| {
                incident.updates().iter().any(|u| {
                    u.prompt.as_ref().is_some_and(|p| {
                        p.role == role && p.due == due && p.audiences.contains(&a.audience)
                    })
                })
            };
            let lead = self
                .policy(&a.audience)
                .and_then(AudiencePolicy::reminds_owner_before);
            if roles.owner.is_some()
                && let Some(lead) = lead
                && !prompted(Role::CommunicationOwner)
            {
                let at = chrono::Duration::from_std(lead)
                    .ok()
                    .and_then(|lead| due.checked_sub_signed(lead))
                    .unwrap_or(due);
                out.push((Role::CommunicationOwner, a.audience.clone(), at));
            }
            if roles.commander.is_some() && !prompted(Role::IncidentCommander) {
                out.push((Role::IncidentCommander, a.audience.clone(), due));
            }
        }
        out
    }

    /// Whether it is too late to remind the owner about `audience`: it is
    /// already due (the commander is told instead).
    fn owner_too_late(&self, cadence: &Cadence, audience: &Audience, now: DateTime<Utc>) -> bool {
        cadence.due(audience).is_none_or(|due| due <= now)
    }

    /// When [`Dispatcher::watch`] should look at the role prompts again: the
    /// next reminder or escalation not yet sent that falls due after `now`.
    async fn role_wake(
        &self,
        incident: &Incident,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, CadenceError> {
        if incident.status().is_closed() || incident.roles().is_empty() {
            return Ok(None);
        }
        let cadence = self.cadence(incident).await?;
        Ok(self
            .prompts_due(incident, &cadence)
            .into_iter()
            .map(|(_, _, at)| at)
            .filter(|at| *at > now)
            .min())
    }

    /// What the communication owner is told before `audiences` fall due.
    fn owner_reminder_text(
        &self,
        incident: &Incident,
        cadence: &Cadence,
        audiences: &[Audience],
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> String {
        let first = audiences
            .iter()
            .all(|a| cadence.audience(a).is_none_or(|c| c.last.is_none()));
        let mut text = format!(
            "{} must hear {} by {} (in {}). You own the communication: post an update now.",
            sentence(&names(audiences)),
            if first {
                "first about this incident"
            } else {
                "again"
            },
            utc(due),
            elapsed(now, due),
        );
        let holding: Vec<Audience> = self.holding_for(incident, audiences);
        if !holding.is_empty() {
            text.push_str(&format!(
                " Otherwise {} will get a holding statement then.",
                names(&holding)
            ));
        }
        if let Some(commander) = &incident.roles().commander {
            text.push_str(&format!(
                " If nothing has gone out by then, {} (incident commander) will be told.",
                commander.name()
            ));
        }
        text
    }

    /// What the incident commander is told once `audiences` are overdue.
    fn escalation_text(
        &self,
        incident: &Incident,
        cadence: &Cadence,
        audiences: &[Audience],
        due: DateTime<Utc>,
    ) -> String {
        let last = audiences
            .iter()
            .filter_map(|a| cadence.audience(a).and_then(|c| c.last.as_ref()))
            .map(|l| l.at)
            .max();
        let mut text = format!(
            "{} were due to hear at {} and have not ({}).",
            sentence(&names(audiences)),
            utc(due),
            last.map_or_else(
                || "nothing has been sent to them yet".to_owned(),
                |at| format!("last message {}", utc(at))
            ),
        );
        let reminded = incident.updates().iter().find(|u| {
            u.prompt.as_ref().is_some_and(|p| {
                p.role == Role::CommunicationOwner
                    && p.due == due
                    && audiences.iter().any(|a| p.audiences.contains(a))
            })
        });
        match (&incident.roles().owner, reminded) {
            (Some(owner), Some(reminder)) => text.push_str(&format!(
                " {} (communication owner) was reminded at {}.",
                owner.name(),
                utc(reminder.at)
            )),
            (Some(owner), None) => text.push_str(&format!(
                " {} (communication owner) was not reminded.",
                owner.name()
            )),
            (None, _) => {
                text.push_str(" Nobody owns the communication: name a communication owner.")
            }
        }
        let holding = self.holding_for(incident, audiences);
        if !holding.is_empty() {
            text.push_str(&format!(
                " A holding statement goes out to {} now.",
                names(&holding)
            ));
        }
        text.push_str(" As incident commander, make sure an update goes out.");
        text
    }

    /// Those of `audiences` that a holding statement would go to now: their
    /// policy asks for one, and the incident has said something already.
    fn holding_for(&self, incident: &Incident, audiences: &[Audience]) -> Vec<Audience> {
        let open = incident
            .latest_news()
            .is_some_and(|u| !u.status.is_closed() && u.status != Status::Scheduled);
        audiences
            .iter()
            .filter(|a| {
                open && self
                    .policy(a)
                    .is_some_and(AudiencePolicy::sends_holding_statements)
            })
            .cloned()
            .collect()
    }

    /// Keeps the cadence of a shared incident until it closes: reminds the
    /// communication owner before an audience falls due and tells the
    /// incident commander when it is overdue (see
    /// [`Dispatcher::send_role_prompts`]), then sends holding
    /// statements whenever an audience that asks for them falls due (see
    /// [`Dispatcher::send_holding_statements`]) and, for a scheduled
    /// maintenance, reminders before it starts (see
    /// [`Dispatcher::send_maintenance_reminders`]), sleeping on tokio's clock
    /// in between. Returns once there is nothing left to keep: at once if the
    /// incident names no role (when the watch starts), no audience asks for
    /// holding statements and the incident is not a
    /// maintenance or no audience asks for reminders; without roles or holding
    /// statements, once the maintenance has started (by the clock or an
    /// update); and once the incident is closed (noticed at the next due
    /// time; abort the task to stop sooner). While an audience that asks for
    /// reminders has not been told of the maintenance, it looks every minute
    /// (it may be told, and then be due).
    ///
    /// The lock is held while prompts and statements are posted and
    /// published; post your own updates through the same mutex. Errors end
    /// the watch.
    pub async fn watch(
        &self,
        incident: Arc<tokio::sync::Mutex<Incident>>,
    ) -> Result<(), CadenceError> {
        let holding = self
            .policies()
            .any(AudiencePolicy::sends_holding_statements);
        let (reminders, roles) = {
            let incident = incident.lock().await;
            (
                incident.is_maintenance() && self.policies().any(|p| p.reminds_before().is_some()),
                !incident.roles().is_empty(),
            )
        };
        if !holding && !reminders && !roles {
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
                if roles {
                    self.send_role_prompts(&mut incident, clock::now()).await?;
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
                if roles && let Some(wake) = self.role_wake(&incident, now).await? {
                    next = next.into_iter().chain(Some(wake)).min();
                }
                if reminders {
                    match self.reminder_wake(&incident, now).await? {
                        None if !holding && !roles => return Ok(()),
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

/// `customers`, `customers and leadership`, `a, b and c`.
fn names(audiences: &[Audience]) -> String {
    let names: Vec<String> = audiences
        .iter()
        .map(|a| a.as_str().replace('_', " "))
        .collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The first letter capitalised.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
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
