//! The gap analysis.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::audience::{Audience, AudiencePolicy, Target};
use crate::cadence::{Routing, add};
use crate::channel::{IdempotencyKey, Part};
use crate::clock;
use crate::dispatch::Dispatcher;
use crate::incident::{Act, Incident, IncidentId, Recipients, Role, Roles, Status, Update};
use crate::journal::{DeliveryState, JournalEntry, JournalError, JournalRecord, Transition};

/// How long after the resolution the postmortem is due, unless the review is
/// told otherwise ([`ReviewBuilder::postmortem_within`]): five days.
pub const DEFAULT_POSTMORTEM_WITHIN: Duration = Duration::from_secs(5 * 24 * 3600);

/// What kind of message a dot on the timeline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum MessageKind {
    /// The first message about the incident.
    FirstContact,
    /// A regular update.
    Update,
    /// A holding statement: nothing new, sent to keep the cadence.
    Holding,
    /// The resolution.
    Resolution,
    /// The postmortem.
    Postmortem,
    /// A reminder that a scheduled maintenance starts soon.
    Reminder,
    /// A reminder to the communication owner that audiences fall due.
    OwnerReminder,
    /// An escalation to the incident commander: audiences are overdue.
    Escalation,
}

impl MessageKind {
    /// Every kind, in legend order.
    pub const ALL: [MessageKind; 8] = [
        MessageKind::FirstContact,
        MessageKind::Update,
        MessageKind::Holding,
        MessageKind::Reminder,
        MessageKind::Resolution,
        MessageKind::Postmortem,
        MessageKind::OwnerReminder,
        MessageKind::Escalation,
    ];

    /// The kind of an update. A scheduled maintenance's announcement counts
    /// as its first contact, its updates under way as updates, and its
    /// completion as its resolution.
    pub fn of(update: &Update) -> Self {
        if let Some(prompt) = &update.prompt {
            return match prompt.role {
                Role::CommunicationOwner => MessageKind::OwnerReminder,
                Role::IncidentCommander => MessageKind::Escalation,
            };
        }
        match update.act() {
            Act::Postmortem => MessageKind::Postmortem,
            Act::Resolution | Act::Completion => MessageKind::Resolution,
            Act::Reminder => MessageKind::Reminder,
            _ if update.holding => MessageKind::Holding,
            Act::FirstContact => MessageKind::FirstContact,
            Act::Announcement | Act::Maintenance if update.first => MessageKind::FirstContact,
            Act::Update | Act::Announcement | Act::Maintenance => MessageKind::Update,
        }
    }

    /// A label for people (`"First contact"`).
    pub fn label(self) -> &'static str {
        match self {
            MessageKind::FirstContact => "First contact",
            MessageKind::Update => "Update",
            MessageKind::Holding => "Holding statement",
            MessageKind::Resolution => "Resolution",
            MessageKind::Postmortem => "Postmortem",
            MessageKind::Reminder => "Maintenance reminder",
            MessageKind::OwnerReminder => "Reminder to the owner",
            MessageKind::Escalation => "Escalation to the commander",
        }
    }

    /// Whether the incident was over when this was sent (silences after it do
    /// not count).
    pub fn is_closing(self) -> bool {
        matches!(self, MessageKind::Resolution | MessageKind::Postmortem)
    }

    /// Whether this is a prompt to an incident role, not news for an
    /// audience.
    pub fn is_prompt(self) -> bool {
        matches!(self, MessageKind::OwnerReminder | MessageKind::Escalation)
    }

    /// The colour of its dot (Okabe–Ito palette, readable with colour-vision
    /// deficiencies).
    pub(super) fn colour(self) -> &'static str {
        match self {
            MessageKind::FirstContact => "#0072B2",
            MessageKind::Update => "#56B4E9",
            MessageKind::Holding => "#E69F00",
            MessageKind::Resolution => "#009E73",
            MessageKind::Postmortem => "#CC79A7",
            // Grey: 4.5:1 against the white background.
            MessageKind::Reminder => "#767676",
            MessageKind::OwnerReminder => "#F0E442",
            MessageKind::Escalation => "#000000",
        }
    }
}

/// One update as received on a timeline: the first delivery of it that the
/// channel accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// The update's sequence number.
    pub seq: u32,
    /// Its kind.
    pub kind: MessageKind,
    /// When the first of its deliveries was accepted.
    pub at: DateTime<Utc>,
    /// How many deliveries (targets × parts) were sent.
    pub deliveries: usize,
}

/// What ended a silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GapEnd {
    /// A message was received: the update with this sequence number.
    Message(u32),
    /// The incident was resolved, and the audience had not heard the
    /// resolution (it counts from the last message it did receive).
    Resolution,
    /// The incident is still open: the silence lasts until the review was
    /// made, and goes on.
    Now,
}

/// A silence on a timeline: from the incident start (or when the audience
/// became relevant), or a message, to the next message, the resolution, or
/// the time of the review for an open incident.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gap {
    /// The message before it (`None`: the start of the timeline).
    pub after: Option<u32>,
    /// When it began.
    pub from: DateTime<Utc>,
    /// What ended it.
    pub end: GapEnd,
    /// When it ended.
    pub to: DateTime<Utc>,
    /// How long it lasted.
    pub length: Duration,
    /// What it is judged against: the first-message target before an
    /// incident's first message, the longest silence otherwise.
    pub target: Duration,
    /// Whether it was longer than its target.
    pub over_target: bool,
    /// Whether it is the wait for the incident's first message (judged
    /// against the first-message target).
    pub first: bool,
}

impl Gap {
    /// The message that ended it, if one did.
    pub fn before(&self) -> Option<u32> {
        match self.end {
            GapEnd::Message(seq) => Some(seq),
            _ => None,
        }
    }
}

/// What became of an update's promise of the next one
/// ([`Update::next_update_at`]), for one audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PromiseOutcome {
    /// The next message came by the promised time.
    Kept {
        /// When it came.
        at: DateTime<Utc>,
    },
    /// The next update came after the promised time.
    Late {
        /// When it came.
        at: DateTime<Utc>,
        /// How late.
        by: Duration,
    },
    /// No update came before the resolution superseded the promise: the
    /// resolution came after the promised time, or never reached the
    /// audience.
    Broken {
        /// When the resolution came (or, if it never reached the audience,
        /// when the incident was resolved).
        resolved_at: DateTime<Utc>,
    },
    /// The incident is open and the promised time has not come.
    Pending,
    /// The incident is open, the promised time has passed, and nothing came.
    Overdue {
        /// How long past the promised time the review was made.
        by: Duration,
    },
}

impl PromiseOutcome {
    /// Whether the promise was kept (or may still be).
    pub fn is_kept(self) -> bool {
        matches!(self, PromiseOutcome::Kept { .. } | PromiseOutcome::Pending)
    }

    /// A short label: `kept`, `late`, `broken`, `pending` or `overdue`.
    pub fn label(self) -> &'static str {
        match self {
            PromiseOutcome::Kept { .. } => "kept",
            PromiseOutcome::Late { .. } => "late",
            PromiseOutcome::Broken { .. } => "broken",
            PromiseOutcome::Pending => "pending",
            PromiseOutcome::Overdue { .. } => "overdue",
        }
    }
}

/// One update's promise of the next, as one audience (or channel) received
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Promise {
    /// The update that made it.
    pub seq: u32,
    /// When the audience received it.
    pub made_at: DateTime<Utc>,
    /// When the next update was promised by.
    pub due: DateTime<Utc>,
    /// The message that came next, if any.
    pub next: Option<u32>,
    /// What became of it.
    pub outcome: PromiseOutcome,
}

/// The messages one audience (or one audience on one channel) received, the
/// silences between them and the promises they made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeline {
    /// The longest silence allowed.
    pub target: Duration,
    /// How soon the first message must come (for a scheduled maintenance,
    /// the longest silence).
    pub first_message_target: Duration,
    /// When the audience became relevant: the incident start, unless the
    /// first updates were not for it (then the first update that was).
    /// `None` if no update was ever for it: its silence is not a gap.
    pub relevant_from: Option<DateTime<Utc>>,
    /// Every message, oldest first.
    pub messages: Vec<Message>,
    /// From when the audience became relevant (or the start) to the first
    /// message.
    pub first_message: Option<Duration>,
    /// Every silence while the incident was open: from when the audience
    /// became relevant to the first message, between consecutive messages,
    /// and from the last message to the resolution (the resolution message,
    /// or the resolution itself if that message never came), or, for an open
    /// incident, to the time of the review. An audience that heard nothing
    /// has one silence over the whole span. For a scheduled maintenance,
    /// only silences while the work was under way count: they are measured
    /// from the window's start (or the first update saying the work started,
    /// if earlier), and those that ended before it are left out.
    pub gaps: Vec<Gap>,
    /// Every promise of a next update the audience received, and what became
    /// of it.
    pub promises: Vec<Promise>,
    /// From the last message before the resolution to the resolution.
    pub last_update_to_resolution: Option<Duration>,
}

/// How a timeline ends.
#[derive(Debug, Clone, Copy)]
enum Close {
    /// At the resolution (or the resolution message, if received).
    Resolved(DateTime<Utc>),
    /// At the time of the review.
    Open(DateTime<Utc>),
}

/// What a timeline is built from besides its messages.
struct Frame<'a> {
    relevant_from: Option<DateTime<Utc>>,
    close: Close,
    quiet_until: Option<DateTime<Utc>>,
    target: Duration,
    first_target: Duration,
    /// Whether the first gap is judged against the first-message target.
    first_has_target: bool,
    start: DateTime<Utc>,
    promises: &'a HashMap<u32, DateTime<Utc>>,
}

impl Timeline {
    fn new(mut messages: Vec<Message>, f: &Frame<'_>) -> Self {
        messages.sort_by_key(|m| (m.at, m.seq));
        let (end, end_kind) = match f.close {
            Close::Resolved(at) => {
                match messages.iter().find(|m| m.kind == MessageKind::Resolution) {
                    Some(m) => (m.at.max(at), GapEnd::Message(m.seq)),
                    None => (at, GapEnd::Resolution),
                }
            }
            Close::Open(now) => (now, GapEnd::Now),
        };
        let in_span: Vec<&Message> = messages.iter().filter(|m| m.at <= end).collect();

        let mut gaps = Vec::new();
        if let Some(from0) = f.relevant_from {
            let mut push = |after: Option<u32>, from: DateTime<Utc>, to: DateTime<Utc>, end| {
                if f.quiet_until.is_some_and(|q| to <= q) {
                    return;
                }
                let from = f.quiet_until.map_or(from, |q| from.max(q));
                let first = after.is_none() && f.first_has_target;
                let target = if first { f.first_target } else { f.target };
                let length = span(from, to);
                gaps.push(Gap {
                    after,
                    from,
                    end,
                    to,
                    length,
                    target,
                    over_target: length > target,
                    first,
                });
            };
            let mut cursor = from0;
            let mut after = None;
            let mut closed = false;
            for m in &in_span {
                // A message before the audience became relevant ends no
                // silence of its own.
                if m.at >= cursor {
                    push(after, cursor, m.at, GapEnd::Message(m.seq));
                }
                cursor = cursor.max(m.at);
                after = Some(m.seq);
                if m.kind.is_closing() {
                    closed = true;
                    break;
                }
            }
            if !closed && (end > cursor || after.is_none()) {
                push(after, cursor.min(end), end, end_kind);
            }
        }

        let mut promises = Vec::new();
        for (i, m) in in_span.iter().enumerate() {
            let Some(due) = f.promises.get(&m.seq).copied() else {
                continue;
            };
            let next = in_span.get(i + 1);
            let outcome = match (next, f.close) {
                (Some(n), _) if n.at <= due => PromiseOutcome::Kept { at: n.at },
                (Some(n), _) if n.kind.is_closing() => PromiseOutcome::Broken { resolved_at: n.at },
                (Some(n), _) => PromiseOutcome::Late {
                    at: n.at,
                    by: span(due, n.at),
                },
                (None, Close::Resolved(at)) => PromiseOutcome::Broken { resolved_at: at },
                (None, Close::Open(now)) if now <= due => PromiseOutcome::Pending,
                (None, Close::Open(now)) => PromiseOutcome::Overdue { by: span(due, now) },
            };
            promises.push(Promise {
                seq: m.seq,
                made_at: m.at,
                due,
                next: next.map(|n| n.seq),
                outcome,
            });
        }

        let last_update_to_resolution = messages
            .iter()
            .position(|m| m.kind == MessageKind::Resolution)
            .filter(|i| *i > 0)
            .map(|i| span(messages[i - 1].at, messages[i].at));
        let from = f.relevant_from.unwrap_or(f.start);
        Self {
            target: f.target,
            first_message_target: f.first_target,
            relevant_from: f.relevant_from,
            first_message: messages.first().map(|m| span(from, m.at)),
            messages,
            gaps,
            promises,
            last_update_to_resolution,
        }
    }

    /// The longest silence (the first, if several are as long).
    pub fn longest_silence(&self) -> Option<&Gap> {
        self.gaps.iter().rev().max_by_key(|g| g.length)
    }

    /// The silences longer than their target.
    pub fn gaps_over_target(&self) -> impl Iterator<Item = &Gap> {
        self.gaps.iter().filter(|g| g.over_target)
    }

    /// Whether the first message came later than its target (or has not come
    /// and the wait is already longer).
    pub fn first_message_late(&self) -> bool {
        self.gaps.first().is_some_and(|g| g.first && g.over_target)
    }

    /// The promises not kept: late, broken or overdue.
    pub fn promises_not_kept(&self) -> impl Iterator<Item = &Promise> {
        self.promises.iter().filter(|p| !p.outcome.is_kept())
    }

    /// How many promises ended each way: kept, late, broken (overdue
    /// included), pending.
    pub fn promise_counts(&self) -> (usize, usize, usize, usize) {
        let mut counts = (0, 0, 0, 0);
        for p in &self.promises {
            match p.outcome {
                PromiseOutcome::Kept { .. } => counts.0 += 1,
                PromiseOutcome::Late { .. } => counts.1 += 1,
                PromiseOutcome::Broken { .. } | PromiseOutcome::Overdue { .. } => counts.2 += 1,
                PromiseOutcome::Pending => counts.3 += 1,
            }
        }
        counts
    }

    /// Whether the resolution was received.
    pub fn resolution_received(&self) -> bool {
        self.messages
            .iter()
            .any(|m| m.kind == MessageKind::Resolution)
    }
}

/// One audience, all its channels together.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AudienceReview {
    /// The audience.
    pub audience: Audience,
    /// What it received on any of its routes (not counting the primary).
    pub timeline: Timeline,
}

/// A sent delivery whose text did not carry the link to the source of truth.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingLink {
    /// The update's sequence number.
    pub seq: u32,
    /// The target.
    pub target: Target,
    /// Which part.
    pub part: Part,
    /// When it was sent.
    pub at: DateTime<Utc>,
}

/// A delivery that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedDelivery {
    /// The update's sequence number.
    pub seq: u32,
    /// The target.
    pub target: Target,
    /// Which part.
    pub part: Part,
    /// When it was given up.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// Whether publishing again may still deliver it.
    pub retryable: bool,
    /// How many times the channel was called.
    pub attempts: u32,
}

/// A delivery that failed (or fell in doubt) before it went out, from the
/// journal's history.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveredDelivery {
    /// The update's sequence number.
    pub seq: u32,
    /// The target.
    pub target: Target,
    /// Which part.
    pub part: Part,
    /// When it first failed.
    pub first_failed_at: DateTime<Utc>,
    /// How many times it failed (or fell in doubt) before it went out.
    pub failures: u32,
    /// Why it first failed.
    pub reason: String,
    /// When it went out.
    pub sent_at: DateTime<Utc>,
    /// What the failures cost: from its first attempt to when it went out.
    pub delay: Duration,
}

/// One audience on one channel (or the primary).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelReview {
    /// The channel's registered name.
    pub channel: Arc<str>,
    /// The audience.
    pub audience: Audience,
    /// Whether the channel is the primary.
    pub primary: bool,
    /// What was received on it.
    pub timeline: Timeline,
    /// Sent deliveries without the link.
    pub missing_link: Vec<MissingLink>,
    /// Failed deliveries.
    pub failures: Vec<FailedDelivery>,
    /// Deliveries that failed before they went out.
    pub recovered: Vec<RecoveredDelivery>,
    /// Deliveries still in flight when the journal was read.
    pub unfinished: usize,
}

/// One update of the incident, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateSummary {
    /// Its sequence number.
    pub seq: u32,
    /// Its kind.
    pub kind: MessageKind,
    /// The status it set.
    pub status: Status,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// When it promised the next update by.
    pub next_update_at: Option<DateTime<Utc>>,
    /// Who it was for.
    pub recipients: Recipients,
}

/// A reminder to the communication owner or an escalation to the incident
/// commander, and whether it reached them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PromptReview {
    /// The update's sequence number.
    pub seq: u32,
    /// Who was prompted.
    pub role: Role,
    /// The name of the person in the role (as the incident names them now).
    pub person: Option<String>,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// The audiences it was about.
    pub audiences: Vec<Audience>,
    /// When they were due.
    pub due: DateTime<Utc>,
    /// When it reached the person (the first delivery sent), if it did.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Whether the postmortem came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PostmortemStatus {
    /// None is expected: the incident is not resolved yet, or it is a
    /// scheduled maintenance.
    NotExpected,
    /// Not published yet, and not due yet.
    Pending {
        /// When it is due.
        due: DateTime<Utc>,
    },
    /// Published.
    Published {
        /// When.
        at: DateTime<Utc>,
        /// How long after the resolution.
        after: Duration,
        /// Whether it came after it was due.
        late: bool,
    },
    /// Due, and not published.
    Missing {
        /// When it was due.
        due: DateTime<Utc>,
        /// How long overdue it was when the review was made.
        late_by: Duration,
    },
}

/// What a gap in the review table is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FindingKind {
    /// An audience heard nothing while the incident lasted.
    NeverHeard,
    /// An audience's first message came later than its target.
    FirstMessageLate,
    /// An audience was left silent longer than its target.
    Silence,
    /// An update's promise of the next was kept late.
    PromiseLate,
    /// An update's promise of the next was broken (or is overdue).
    PromiseBroken,
    /// The postmortem is missing.
    PostmortemMissing,
}

/// A recommendation the play draws from its common root causes of a
/// communication gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recommendation {
    /// Nobody owned the communication: define roles.
    DefineRoles,
    /// The team did not know what to say: approve templates in advance.
    Templates,
    /// There was no plan: write a communication plan.
    CommunicationPlan,
}

impl Recommendation {
    /// The common root cause it answers.
    pub fn cause(self) -> &'static str {
        match self {
            Recommendation::DefineRoles => "Nobody owned the communication.",
            Recommendation::Templates => "The team did not know what to say.",
            Recommendation::CommunicationPlan => "There was no communication plan.",
        }
    }

    /// What to do before the next incident.
    pub fn advice(self) -> &'static str {
        match self {
            Recommendation::DefineRoles => {
                "Define roles: name a communication owner who writes every update and an incident commander who makes sure it goes out, at the start of every incident."
            }
            Recommendation::Templates => {
                "Approve templates in advance, for common kinds of incident and for holding statements, so that the first message and every update can go out before the cause is known."
            }
            Recommendation::CommunicationPlan => {
                "Write a communication plan: who is told, on which channels (with a second one when the first fails), how often, and when the postmortem is due."
            }
        }
    }
}

/// One row of the play's review table: a gap, its root cause (for the team
/// to fill in) and a recommendation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// What kind of gap.
    pub kind: FindingKind,
    /// The audience it concerns (none for the postmortem).
    pub audience: Option<Audience>,
    /// When it began.
    pub at: DateTime<Utc>,
    /// The gap, in words.
    pub gap: String,
    /// Its root cause: left for the team to fill in.
    pub root_cause: Option<String>,
    /// The recommendation, from the play's common causes: without a
    /// communication owner, define roles; with one, a plan when the
    /// audience's deliveries failed during the gap, it heard nothing at all,
    /// or the postmortem is missing; otherwise templates (the first message
    /// and holding statements approved in advance).
    pub recommendation: Recommendation,
}

/// The gap analysis of one incident's communication.
///
/// Build one with [`Dispatcher::review`] (as of now) or
/// [`Dispatcher::review_at`], or with [`Review::builder`] from any
/// journal's records and history. Times are the journal's (when each channel
/// accepted a message); stamp the incident with [`crate::clock::now`] so
/// that its start and the journal agree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Review {
    /// The incident.
    pub incident: IncidentId,
    /// Its title.
    pub title: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When the resolution was written, if it was.
    pub resolved_at: Option<DateTime<Utc>>,
    /// When the review was made: silences of an open incident last until
    /// then.
    pub reviewed_at: DateTime<Utc>,
    /// From the start to the first message on any channel.
    pub first_message: Option<Duration>,
    /// From the last update written before the resolution to the resolution.
    pub last_update_to_resolution: Option<Duration>,
    /// How many deliveries to audiences were sent (targets × parts, the
    /// primary included, prompts to the roles not).
    pub deliveries_sent: usize,
    /// Every update, in order (prompts to the roles included).
    pub updates: Vec<UpdateSummary>,
    /// Per audience, all its channels together.
    pub audiences: Vec<AudienceReview>,
    /// Per channel and audience: the primary first, then in policy and route
    /// order, then anything else the journal holds.
    pub channels: Vec<ChannelReview>,
    /// Who holds the incident roles.
    pub roles: Roles,
    /// Every reminder to the communication owner and escalation to the
    /// incident commander.
    pub prompts: Vec<PromptReview>,
    /// Whether the postmortem came.
    pub postmortem: PostmortemStatus,
    /// The play's review table: every gap, oldest first, with a
    /// recommendation and room for its root cause.
    pub findings: Vec<Finding>,
}

impl Dispatcher {
    /// The review of `incident` as of now ([`crate::clock::now`]), from the
    /// journal (records and history) and this dispatcher's audience
    /// policies.
    pub async fn review(&self, incident: &Incident) -> Result<Review, JournalError> {
        self.review_at(incident, clock::now()).await
    }

    /// The review of `incident` as of `now`: silences of an open incident,
    /// and promises not yet kept, last until then; the postmortem is judged
    /// against [`DEFAULT_POSTMORTEM_WITHIN`] (use [`Review::builder`] for
    /// another).
    pub async fn review_at(
        &self,
        incident: &Incident,
        now: DateTime<Utc>,
    ) -> Result<Review, JournalError> {
        let records = self.journal().records(incident.id()).await?;
        let history = self.journal().history(incident.id()).await?;
        Ok(Review::builder(incident, now)
            .records(&records)
            .history(&history)
            .policies(self.policies())
            .build())
    }
}

/// Builds a [`Review`] from a journal's records and history.
///
/// ```
/// # use tidings::prelude::*;
/// # use tidings::review::Review;
/// # let t0 = chrono::Utc::now();
/// # let incident = Incident::new(IncidentId::new("inc-1")?, "API errors", Impact::Major, t0)?;
/// let review = Review::builder(&incident, t0 + chrono::Duration::minutes(90))
///     .records(&[])
///     .postmortem_within(std::time::Duration::from_secs(3 * 24 * 3600))
///     .build();
/// assert!(review.channels.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct ReviewBuilder<'a> {
    incident: &'a Incident,
    now: DateTime<Utc>,
    records: &'a [JournalRecord],
    history: &'a [Transition],
    policies: Vec<&'a AudiencePolicy>,
    postmortem_within: Duration,
}

impl<'a> ReviewBuilder<'a> {
    /// The journal's records of the incident's deliveries
    /// ([`Journal::records`](crate::journal::Journal::records)).
    pub fn records(mut self, records: &'a [JournalRecord]) -> Self {
        self.records = records;
        self
    }

    /// The journal's history of those deliveries
    /// ([`Journal::history`](crate::journal::Journal::history)): without it,
    /// deliveries that failed before they went out are not seen.
    pub fn history(mut self, history: &'a [Transition]) -> Self {
        self.history = history;
        self
    }

    /// The audience policies: each audience's targets (an audience without a
    /// policy gets its tier's defaults).
    pub fn policies(mut self, policies: impl IntoIterator<Item = &'a AudiencePolicy>) -> Self {
        self.policies = policies.into_iter().collect();
        self
    }

    /// How long after the resolution the postmortem is due (default
    /// [`DEFAULT_POSTMORTEM_WITHIN`]).
    pub fn postmortem_within(mut self, within: Duration) -> Self {
        self.postmortem_within = within;
        self
    }

    /// The review.
    pub fn build(self) -> Review {
        Review::from_builder(self)
    }
}

/// The audience a record was planned for first.
fn first(entry: &JournalEntry) -> Option<&Audience> {
    entry.audiences.first()
}

/// Whether a record is a prompt to an incident role.
fn is_prompt(entry: &JournalEntry) -> bool {
    entry.audiences.iter().any(Audience::is_role)
}

/// Accumulates one timeline's records.
#[derive(Default)]
struct Acc {
    sent: Vec<(u32, DateTime<Utc>)>,
    missing_link: Vec<MissingLink>,
    failures: Vec<FailedDelivery>,
    recovered: Vec<RecoveredDelivery>,
    unfinished: usize,
}

impl Review {
    /// A builder for the review of `incident` as of `now`.
    pub fn builder(incident: &Incident, now: DateTime<Utc>) -> ReviewBuilder<'_> {
        ReviewBuilder {
            incident,
            now,
            records: &[],
            history: &[],
            policies: Vec::new(),
            postmortem_within: DEFAULT_POSTMORTEM_WITHIN,
        }
    }

    fn from_builder(b: ReviewBuilder<'_>) -> Self {
        let incident = b.incident;
        let now = b.now;
        let routing = Routing::new(incident, b.policies.iter().copied());
        let policy = |a: &Audience| routing.policies.iter().find(|p| p.audience() == a).copied();
        let target = |a: &Audience| {
            policy(a).map_or_else(|| a.default_max_silence(), |p| p.longest_silence())
        };
        let first_target = |a: &Audience| {
            if incident.is_maintenance() {
                target(a)
            } else {
                policy(a).map_or_else(|| a.default_first_message(), |p| p.first_message_target())
            }
        };
        let records: Vec<&JournalRecord> = b
            .records
            .iter()
            .filter(|r| &r.entry.incident == incident.id())
            .collect();
        let mut history: HashMap<&IdempotencyKey, Vec<&Transition>> = HashMap::new();
        for t in b.history {
            history.entry(&t.key).or_default().push(t);
        }

        // Rows: the primary first, then policies' routes, then the rest.
        let mut rows: Vec<(Arc<str>, Audience, bool)> = Vec::new();
        let mut index: HashMap<(Arc<str>, Audience, bool), usize> = HashMap::new();
        let mut add_row = |rows: &mut Vec<_>, key: (Arc<str>, Audience, bool)| {
            if !index.contains_key(&key) {
                index.insert(key.clone(), rows.len());
                rows.push(key);
            }
        };
        for r in records.iter().filter(|r| r.entry.primary) {
            if let Some(a) = first(&r.entry) {
                add_row(&mut rows, (r.entry.channel.clone(), a.clone(), true));
            }
        }
        for policy in &routing.policies {
            for route in policy.routes() {
                add_row(
                    &mut rows,
                    (Arc::from(route.channel()), policy.audience().clone(), false),
                );
            }
        }
        for r in records.iter().filter(|r| !is_prompt(&r.entry)) {
            for a in &r.entry.audiences {
                add_row(
                    &mut rows,
                    (r.entry.channel.clone(), a.clone(), r.entry.primary),
                );
            }
        }
        let mut audiences: Vec<Audience> = routing
            .policies
            .iter()
            .map(|p| p.audience().clone())
            .collect();
        for r in records
            .iter()
            .filter(|r| !r.entry.primary && !is_prompt(&r.entry))
        {
            for a in &r.entry.audiences {
                if !audiences.contains(a) {
                    audiences.push(a.clone());
                }
            }
        }

        let mut by_row: Vec<Acc> = rows.iter().map(|_| Acc::default()).collect();
        let mut by_audience: Vec<Vec<(u32, DateTime<Utc>)>> = vec![Vec::new(); audiences.len()];
        // When each audience's deliveries failed (or fell in doubt).
        let mut failed_at: HashMap<&Audience, Vec<DateTime<Utc>>> = HashMap::new();
        let mut first_any: Option<DateTime<Utc>> = None;
        let mut deliveries_sent = 0;
        for r in records.iter().filter(|r| !is_prompt(&r.entry)) {
            let e = &r.entry;
            let row = |a: &Audience| index.get(&(e.channel.clone(), a.clone(), e.primary));
            let steps = history.get(&e.key).map_or(&[][..], Vec::as_slice);
            if !e.primary {
                for a in &e.audiences {
                    let times = failed_at.entry(a).or_default();
                    times.extend(
                        steps
                            .iter()
                            .filter(|t| {
                                matches!(
                                    t.state,
                                    DeliveryState::Failed { .. } | DeliveryState::InDoubt { .. }
                                )
                            })
                            .map(|t| t.at),
                    );
                    if matches!(
                        r.state,
                        DeliveryState::Failed { .. } | DeliveryState::InDoubt { .. }
                    ) {
                        times.push(r.updated_at);
                    }
                }
            }
            match &r.state {
                DeliveryState::Sent(receipt) => {
                    deliveries_sent += 1;
                    first_any = Some(first_any.map_or(receipt.at, |f| f.min(receipt.at)));
                    for audience in routing.reached(r, incident) {
                        if let Some(&i) = row(audience) {
                            by_row[i].sent.push((e.seq, receipt.at));
                        }
                        if !e.primary
                            && let Some(i) = audiences.iter().position(|a| a == audience)
                        {
                            by_audience[i].push((e.seq, receipt.at));
                        }
                    }
                    if let Some(&i) = first(e).and_then(row) {
                        if !e.has_link {
                            by_row[i].missing_link.push(MissingLink {
                                seq: e.seq,
                                target: e.target.clone(),
                                part: e.part,
                                at: receipt.at,
                            });
                        }
                        if let Some(recovered) = recovered(e, steps, receipt.at) {
                            by_row[i].recovered.push(recovered);
                        }
                    }
                }
                DeliveryState::Failed { failure, attempts } => {
                    if let Some(&i) = first(e).and_then(row) {
                        by_row[i].failures.push(FailedDelivery {
                            seq: e.seq,
                            target: e.target.clone(),
                            part: e.part,
                            at: r.updated_at,
                            reason: failure.to_string(),
                            retryable: failure.is_retryable(),
                            attempts: *attempts,
                        });
                    }
                }
                DeliveryState::InDoubt { reason, attempts } => {
                    if let Some(&i) = first(e).and_then(row) {
                        by_row[i].failures.push(FailedDelivery {
                            seq: e.seq,
                            target: e.target.clone(),
                            part: e.part,
                            at: r.updated_at,
                            reason: format!("outcome unknown (in doubt): {reason}"),
                            retryable: false,
                            attempts: *attempts,
                        });
                    }
                }
                DeliveryState::Claimed { .. } => {
                    if let Some(&i) = first(e).and_then(row) {
                        by_row[i].unfinished += 1;
                    }
                }
            }
        }

        let start = incident.started_at();
        let updates = incident.updates();
        let resolved = updates
            .iter()
            .position(|u| matches!(u.status, Status::Resolved | Status::Completed));
        let resolved_at = resolved.map(|i| updates[i].at);
        let close = resolved_at.map_or(Close::Open(now.max(start)), Close::Resolved);
        // A maintenance: nothing to tell until the work starts (by its
        // window, or earlier if an update said so).
        let quiet_until = incident.window().map(|w| {
            incident
                .updates()
                .iter()
                .find(|u| u.status.is_maintenance() && u.status != Status::Scheduled)
                .map_or(w.scheduled_for(), |u| u.at.min(w.scheduled_for()))
        });
        let kind = |seq: u32| {
            incident
                .update(seq)
                .map_or(MessageKind::Update, MessageKind::of)
        };
        let promised: HashMap<u32, DateTime<Utc>> = incident
            .news()
            .filter_map(|u| Some((u.seq, u.next_update_at?)))
            .collect();
        let messages = |sent: &[(u32, DateTime<Utc>)]| -> Vec<Message> {
            let mut out: Vec<Message> = Vec::new();
            for &(seq, at) in sent {
                match out.iter_mut().find(|m| m.seq == seq) {
                    Some(m) => {
                        m.at = m.at.min(at);
                        m.deliveries += 1;
                    }
                    None => out.push(Message {
                        seq,
                        kind: kind(seq),
                        at,
                        deliveries: 1,
                    }),
                }
            }
            out
        };
        // When an audience became relevant: the start, unless the first
        // updates were not for it.
        let relevant_from = |a: &Audience| {
            let mut news = incident.news().peekable();
            match news.peek() {
                None => Some(start),
                Some(first) if first.recipients.includes(a) => Some(start),
                Some(_) => news.find(|u| u.recipients.includes(a)).map(|u| u.at),
            }
        };
        let frame = |a: &Audience| Frame {
            relevant_from: relevant_from(a),
            close,
            quiet_until,
            target: target(a),
            first_target: first_target(a),
            first_has_target: !incident.is_maintenance(),
            start,
            promises: &promised,
        };

        let channels: Vec<ChannelReview> = rows
            .into_iter()
            .zip(by_row)
            .map(|((channel, audience, primary), acc)| ChannelReview {
                timeline: Timeline::new(messages(&acc.sent), &frame(&audience)),
                channel,
                audience,
                primary,
                missing_link: acc.missing_link,
                failures: acc.failures,
                recovered: acc.recovered,
                unfinished: acc.unfinished,
            })
            .collect();
        let audiences: Vec<AudienceReview> = audiences
            .into_iter()
            .zip(by_audience)
            .map(|(audience, sent)| AudienceReview {
                timeline: Timeline::new(messages(&sent), &frame(&audience)),
                audience,
            })
            .collect();

        // The prompts to the roles, and whether they reached the person.
        let prompts = updates
            .iter()
            .filter_map(|u| {
                let p = u.prompt.as_ref()?;
                let delivered_at = records
                    .iter()
                    .filter(|r| r.entry.seq == u.seq)
                    .filter_map(|r| match &r.state {
                        DeliveryState::Sent(receipt) => Some(receipt.at),
                        _ => None,
                    })
                    .min();
                Some(PromptReview {
                    seq: u.seq,
                    role: p.role,
                    person: incident.roles().get(p.role).map(|x| x.name().to_owned()),
                    at: u.at,
                    audiences: p.audiences.clone(),
                    due: p.due,
                    delivered_at,
                })
            })
            .collect();

        let postmortem = match resolved_at {
            _ if incident.is_maintenance() => PostmortemStatus::NotExpected,
            None => PostmortemStatus::NotExpected,
            Some(resolved) => {
                let due = add(resolved, b.postmortem_within);
                match updates.iter().find(|u| u.status == Status::Postmortem) {
                    Some(pm) => PostmortemStatus::Published {
                        at: pm.at,
                        after: span(resolved, pm.at),
                        late: pm.at > due,
                    },
                    None if now > due => PostmortemStatus::Missing {
                        due,
                        late_by: span(due, now),
                    },
                    None => PostmortemStatus::Pending { due },
                }
            }
        };

        let mut review = Review {
            incident: incident.id().clone(),
            title: incident.title().to_owned(),
            started_at: start,
            resolved_at,
            reviewed_at: now,
            first_message: first_any.map(|f| span(start, f)),
            deliveries_sent,
            last_update_to_resolution: resolved
                .and_then(|i| updates[..i].iter().rev().find(|u| !u.is_prompt()))
                .zip(resolved_at)
                .map(|(u, r)| span(u.at, r)),
            updates: updates
                .iter()
                .map(|u| UpdateSummary {
                    seq: u.seq,
                    kind: MessageKind::of(u),
                    status: u.status,
                    at: u.at,
                    next_update_at: u.next_update_at,
                    recipients: u.recipients.clone(),
                })
                .collect(),
            audiences,
            channels,
            roles: incident.roles().clone(),
            prompts,
            postmortem,
            findings: Vec::new(),
        };
        review.findings = findings(&review, &failed_at);
        review
    }

    /// The review of one audience.
    pub fn audience(&self, audience: &Audience) -> Option<&AudienceReview> {
        self.audiences.iter().find(|a| &a.audience == audience)
    }

    /// The review of one channel for one audience.
    pub fn channel(&self, channel: &str, audience: &Audience) -> Option<&ChannelReview> {
        self.channels
            .iter()
            .find(|c| &*c.channel == channel && &c.audience == audience)
    }

    /// Every failed delivery, over all channels.
    pub fn failures(&self) -> impl Iterator<Item = (&ChannelReview, &FailedDelivery)> {
        self.channels
            .iter()
            .flat_map(|c| c.failures.iter().map(move |f| (c, f)))
    }

    /// Every delivery that failed before it went out, over all channels.
    pub fn recovered(&self) -> impl Iterator<Item = (&ChannelReview, &RecoveredDelivery)> {
        self.channels
            .iter()
            .flat_map(|c| c.recovered.iter().map(move |r| (c, r)))
    }

    /// Every sent delivery without the link, over all channels.
    pub fn missing_links(&self) -> impl Iterator<Item = (&ChannelReview, &MissingLink)> {
        self.channels
            .iter()
            .flat_map(|c| c.missing_link.iter().map(move |m| (c, m)))
    }

    /// Every silence over its target, per audience (one silence seen on
    /// several of an audience's channels counts once).
    pub fn silences_over_target(&self) -> impl Iterator<Item = (&AudienceReview, &Gap)> {
        self.audiences
            .iter()
            .flat_map(|a| a.timeline.gaps_over_target().map(move |g| (a, g)))
    }

    /// Fills in the root cause of the review table's row `index` (from 0);
    /// returns whether there is such a row.
    pub fn set_root_cause(&mut self, index: usize, cause: impl Into<String>) -> bool {
        match self.findings.get_mut(index) {
            Some(f) => {
                f.root_cause = Some(cause.into());
                true
            }
            None => false,
        }
    }
}

/// A sent delivery's failures before it went out, from its history.
fn recovered(
    e: &JournalEntry,
    steps: &[&Transition],
    sent_at: DateTime<Utc>,
) -> Option<RecoveredDelivery> {
    let failed: Vec<&Transition> = steps
        .iter()
        .copied()
        .filter(|t| t.at <= sent_at)
        .filter(|t| {
            matches!(
                t.state,
                DeliveryState::Failed { .. } | DeliveryState::InDoubt { .. }
            )
        })
        .collect();
    let first_failure = failed.first()?;
    let reason = match &first_failure.state {
        DeliveryState::Failed { failure, .. } => failure.to_string(),
        DeliveryState::InDoubt { reason, .. } => format!("outcome unknown (in doubt): {reason}"),
        _ => String::new(),
    };
    let first_attempt = steps
        .iter()
        .find(|t| matches!(t.state, DeliveryState::Claimed { .. }))
        .map_or(first_failure.at, |t| t.at.min(first_failure.at));
    Some(RecoveredDelivery {
        seq: e.seq,
        target: e.target.clone(),
        part: e.part,
        first_failed_at: first_failure.at,
        failures: u32::try_from(failed.len()).unwrap_or(u32::MAX),
        reason,
        sent_at,
        delay: span(first_attempt, sent_at),
    })
}

/// The play's review table: every gap, oldest first.
fn findings(review: &Review, failed_at: &HashMap<&Audience, Vec<DateTime<Utc>>>) -> Vec<Finding> {
    let owner = review.roles.owner.is_some();
    let start = review.started_at;
    let failed_during = |a: &Audience, from: DateTime<Utc>, to: DateTime<Utc>| {
        failed_at
            .get(a)
            .is_some_and(|times| times.iter().any(|t| *t >= from && *t <= to))
    };
    let recommend = |kind: FindingKind, a: Option<&Audience>, from, to| {
        if !owner {
            return Recommendation::DefineRoles;
        }
        let failed = a.is_some_and(|a| failed_during(a, from, to));
        match kind {
            FindingKind::NeverHeard | FindingKind::PostmortemMissing => {
                Recommendation::CommunicationPlan
            }
            _ if failed => Recommendation::CommunicationPlan,
            _ => Recommendation::Templates,
        }
    };
    let mut out = Vec::new();
    for a in &review.audiences {
        let name = a.audience.as_str().replace('_', " ");
        let t = &a.timeline;
        for g in t.gaps_over_target() {
            let (kind, gap) = if g.first && g.before().is_none() {
                (
                    FindingKind::NeverHeard,
                    format!(
                        "{name} heard nothing for {} ({} to {}), over the {} target for a first message",
                        duration(g.length),
                        short_time(g.from, start),
                        end_words(g, start),
                        duration(g.target)
                    ),
                )
            } else if g.first {
                (
                    FindingKind::FirstMessageLate,
                    format!(
                        "{name} first heard {} after {} (#{} at {}), over the {} target",
                        duration(g.length),
                        if g.from == start {
                            "the start"
                        } else {
                            "they became relevant"
                        },
                        g.before().unwrap_or_default(),
                        short_time(g.to, start),
                        duration(g.target)
                    ),
                )
            } else {
                (
                    FindingKind::Silence,
                    format!(
                        "{name} heard nothing for {} (after #{} at {}, until {}), over the {} target",
                        duration(g.length),
                        g.after.unwrap_or_default(),
                        short_time(g.from, start),
                        end_words(g, start),
                        duration(g.target)
                    ),
                )
            };
            out.push(Finding {
                kind,
                audience: Some(a.audience.clone()),
                at: g.from,
                gap,
                root_cause: None,
                recommendation: recommend(kind, Some(&a.audience), g.from, g.to),
            });
        }
        for p in t.promises_not_kept() {
            let (kind, gap, to) = match p.outcome {
                PromiseOutcome::Late { at, by } => (
                    FindingKind::PromiseLate,
                    format!(
                        "#{} promised {name} the next update by {}; it came at {}, {} late",
                        p.seq,
                        short_time(p.due, start),
                        short_time(at, start),
                        duration(by)
                    ),
                    at,
                ),
                PromiseOutcome::Broken { resolved_at } => (
                    FindingKind::PromiseBroken,
                    format!(
                        "#{} promised {name} the next update by {}; none came before the resolution at {}",
                        p.seq,
                        short_time(p.due, start),
                        short_time(resolved_at, start)
                    ),
                    resolved_at,
                ),
                PromiseOutcome::Overdue { by } => (
                    FindingKind::PromiseBroken,
                    format!(
                        "#{} promised {name} the next update by {}; none has come, {} later",
                        p.seq,
                        short_time(p.due, start),
                        duration(by)
                    ),
                    review.reviewed_at,
                ),
                _ => continue,
            };
            out.push(Finding {
                kind,
                audience: Some(a.audience.clone()),
                at: p.due,
                gap,
                root_cause: None,
                recommendation: recommend(kind, Some(&a.audience), p.made_at, to),
            });
        }
    }
    if let PostmortemStatus::Missing { due, late_by } = review.postmortem {
        out.push(Finding {
            kind: FindingKind::PostmortemMissing,
            audience: None,
            at: due,
            gap: format!(
                "No postmortem: it was due {} and is {} overdue",
                full_time(due),
                duration(late_by)
            ),
            root_cause: None,
            recommendation: recommend(FindingKind::PostmortemMissing, None, due, due),
        });
    }
    // Stable: at equal times, audiences keep policy order.
    out.sort_by_key(|f| f.at);
    out
}

/// How a gap ended, in words (`#4 10:40:00`, `the resolution at …`).
pub(super) fn end_words(g: &Gap, start: DateTime<Utc>) -> String {
    match g.end {
        GapEnd::Message(seq) => format!("#{seq} at {}", short_time(g.to, start)),
        GapEnd::Resolution => format!("the resolution at {}", short_time(g.to, start)),
        GapEnd::Now => format!("now, {}", short_time(g.to, start)),
    }
}

/// `to - from`, never negative.
pub(super) fn span(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or(Duration::ZERO)
}

/// `45 s`, `3 min`, `2 min 30 s`, `1 h 5 min`, `2 d 3 h`.
pub(super) fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        return format!("{secs} s");
    }
    let (days, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} d"));
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 && days == 0 {
        parts.push(format!("{m} min"));
    }
    if s > 0 && days == 0 && h == 0 {
        parts.push(format!("{s} s"));
    }
    parts.join(" ")
}

pub(super) fn full_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The time of day if on the start's date, else the date too.
pub(super) fn short_time(t: DateTime<Utc>, start: DateTime<Utc>) -> String {
    if t.date_naive() == start.date_naive() {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

pub(super) fn row_name(c: &ChannelReview) -> String {
    if c.primary {
        format!("{} (primary)", c.channel)
    } else {
        c.channel.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        let s = |secs| duration(Duration::from_secs(secs));
        assert_eq!(s(0), "0 s");
        assert_eq!(s(45), "45 s");
        assert_eq!(s(180), "3 min");
        assert_eq!(s(150), "2 min 30 s");
        assert_eq!(s(3600), "1 h");
        assert_eq!(s(3900), "1 h 5 min");
        assert_eq!(s(3905), "1 h 5 min");
        assert_eq!(s(86_400 * 2 + 3 * 3600 + 60), "2 d 3 h");
    }
}
