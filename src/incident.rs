//! The incident model: what happened, how bad it is, and every update about it.
//!
//! An [`Incident`] is described once and grows by [`Update`]s. Every update is
//! validated when it is posted ([`Incident::post`]), so a dispatcher never sees an
//! update that goes back in time, follows a resolution, or forgets to say when the
//! next one comes.
//!
//! An incident also names who holds its two [roles](Role): the communication
//! owner, who writes the updates, and the incident commander, who makes sure
//! they go out ([`Incident::with_owner`], [`Incident::with_commander`]), each
//! with a [`Route`] to reach them. The dispatcher reminds the owner before an
//! audience falls due and tells the commander when it is overdue; those
//! [prompts](Prompt) are updates too, for the role alone, so that they are
//! journaled and reviewed like every message, but they are never news for an
//! audience.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audience::{Audience, Route};

/// Why an incident or update was refused. Every variant names the bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// An identifier was empty or contained characters other than ASCII letters,
    /// digits, `-` and `_`.
    #[error("invalid {what} id {id:?}: use 1-128 ASCII letters, digits, '-' or '_'")]
    InvalidId {
        /// Which kind of id (`incident`, `component`).
        what: &'static str,
        /// The id as given.
        id: String,
    },
    /// The incident title was empty or only whitespace.
    #[error("the incident title is empty")]
    EmptyTitle,
    /// The incident title has a line break or another control character (it
    /// becomes an e-mail subject and a chat headline: one line).
    #[error("the incident title must be one line without control characters")]
    InvalidTitle,
    /// The public message of an update was empty or only whitespace.
    #[error("update {seq}: the public message is empty")]
    EmptyMessage {
        /// Sequence number the update would have had.
        seq: u32,
    },
    /// An update other than the postmortem was posted after the resolution, a
    /// postmortem before it, or anything after a maintenance was completed.
    #[error("update {seq}: {status} is not allowed after {previous}")]
    InvalidTransition {
        /// Sequence number the update would have had.
        seq: u32,
        /// Status of the refused update.
        status: Status,
        /// Status of the latest update.
        previous: Status,
    },
    /// An update before the resolution (or a maintenance's completion) did not
    /// say when the next update comes, and no maintenance window edge is ahead
    /// to promise.
    #[error(
        "update {seq}: next_update_at is required until the incident is resolved (or the maintenance completed)"
    )]
    MissingNextUpdate {
        /// Sequence number the update would have had.
        seq: u32,
    },
    /// `next_update_at` was not after the update's own time.
    #[error("update {seq}: next_update_at {next} is not after the update time {at}")]
    NextUpdateNotAfter {
        /// Sequence number the update would have had.
        seq: u32,
        /// The update's time.
        at: DateTime<Utc>,
        /// The stated next-update time.
        next: DateTime<Utc>,
    },
    /// The update is older than the incident start or than the previous update.
    #[error("update {seq}: time {at} is before {earliest}")]
    TimeWentBackwards {
        /// Sequence number the update would have had.
        seq: u32,
        /// The update's time.
        at: DateTime<Utc>,
        /// The earliest time allowed (incident start or previous update).
        earliest: DateTime<Utc>,
    },
    /// The update names a component that is not part of the incident.
    #[error("update {seq}: unknown component {component:?}")]
    UnknownComponent {
        /// Sequence number the update would have had.
        seq: u32,
        /// The unknown component id.
        component: String,
    },
    /// The update targets no audience at all.
    #[error("update {seq}: the audience list is empty")]
    NoAudience {
        /// Sequence number the update would have had.
        seq: u32,
    },
    /// An incident status on a scheduled maintenance, or a maintenance status
    /// on an incident. Incidents move through investigating, identified,
    /// monitoring, resolved and postmortem; maintenances through scheduled,
    /// in progress, verifying and completed.
    #[error(
        "update {seq}: {status} is not a status of {kind}",
        kind = if *.maintenance { "a scheduled maintenance" } else { "an incident" }
    )]
    WrongKindOfStatus {
        /// Sequence number the update would have had.
        seq: u32,
        /// The refused status.
        status: Status,
        /// Whether the incident is a scheduled maintenance.
        maintenance: bool,
    },
    /// A reminder was posted on something other than a scheduled maintenance
    /// that has not started ([`UpdateDraft::reminder`]).
    #[error(
        "update {seq}: a reminder is only for a scheduled maintenance, before it starts, with status scheduled"
    )]
    InvalidReminder {
        /// Sequence number the update would have had.
        seq: u32,
    },
    /// A stored incident (read from JSON) holds an update that posting it
    /// again would not give.
    #[error("stored update {seq} is not valid: {reason}")]
    InvalidStoredUpdate {
        /// The update's sequence number (0: the incident itself).
        seq: u32,
        /// What is wrong.
        reason: String,
    },
    /// A person named for an incident role has a blank or multi-line name, or
    /// a route without a target.
    #[error("person {name:?}: {reason}")]
    InvalidPerson {
        /// The name as given.
        name: String,
        /// What is wrong, and what to do.
        reason: &'static str,
    },
    /// A prompt to an incident role ([`UpdateDraft::prompt`]) that the model
    /// refuses: on a closed incident, changing the status or components,
    /// promising a next update, also a holding statement or a reminder, or
    /// about no audience.
    #[error("update {seq}: a prompt to the {role} {reason}")]
    InvalidPrompt {
        /// Sequence number the update would have had.
        seq: u32,
        /// The role prompted.
        role: Role,
        /// What is wrong.
        reason: &'static str,
    },
    /// A maintenance window that ends before (or when) it starts.
    #[error("the maintenance window ends at {until}, not after its start {from}")]
    EmptyWindow {
        /// The window's start.
        from: DateTime<Utc>,
        /// The window's end.
        until: DateTime<Utc>,
    },
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates and wraps an id: 1-128 ASCII letters, digits, `-` or `_`.
            pub fn new(id: impl Into<String>) -> Result<Self, ModelError> {
                let id = id.into();
                let ok = !id.is_empty()
                    && id.len() <= 128
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if ok {
                    Ok(Self(id.into()))
                } else {
                    Err(ModelError::InvalidId { what: $what, id })
                }
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ModelError;
            fn try_from(s: String) -> Result<Self, ModelError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.to_string()
            }
        }
    };
}

id_type!(
    /// Identifier of an incident; safe to use in URLs, file names and headers.
    IncidentId,
    "incident"
);
id_type!(
    /// Identifier of a component (a service or part of one users can see).
    ComponentId,
    "component"
);

/// How much of the service an incident affects, in Statuspage's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    /// No user-visible impact.
    None,
    /// Minor impact: degraded, workarounds exist.
    Minor,
    /// Major impact: a significant part of the service is down.
    Major,
    /// Critical impact: the service is unusable.
    Critical,
}

impl Impact {
    /// The lower-case name used in templates and JSON (`"major"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
        }
    }
}

impl fmt::Display for Impact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the incident stands, in Statuspage's terms. An incident's updates move
/// through the first four in any order until [`Status::Resolved`]; after it
/// only a [`Status::Postmortem`] may follow. A scheduled maintenance
/// ([`Incident::maintenance`]) moves through the last four in any order until
/// [`Status::Completed`], after which nothing follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Something is wrong; the cause is not known yet.
    Investigating,
    /// The cause is known; a fix is in progress.
    Identified,
    /// A fix is in place; the team is watching.
    Monitoring,
    /// The incident is over.
    Resolved,
    /// The postmortem has been published (after the resolution).
    Postmortem,
    /// Scheduled maintenance: announced, not started.
    Scheduled,
    /// Scheduled maintenance: the work is under way.
    InProgress,
    /// Scheduled maintenance: the work is done and being checked.
    Verifying,
    /// Scheduled maintenance: over (done, or cancelled).
    Completed,
}

impl Status {
    /// The lower-case name used in templates and JSON (`"investigating"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Investigating => "investigating",
            Status::Identified => "identified",
            Status::Monitoring => "monitoring",
            Status::Resolved => "resolved",
            Status::Postmortem => "postmortem",
            Status::Scheduled => "scheduled",
            Status::InProgress => "in_progress",
            Status::Verifying => "verifying",
            Status::Completed => "completed",
        }
    }

    /// A capitalised label for people (`"Investigating"`).
    pub fn label(self) -> &'static str {
        match self {
            Status::Investigating => "Investigating",
            Status::Identified => "Identified",
            Status::Monitoring => "Monitoring",
            Status::Resolved => "Resolved",
            Status::Postmortem => "Postmortem",
            Status::Scheduled => "Scheduled",
            Status::InProgress => "In progress",
            Status::Verifying => "Verifying",
            Status::Completed => "Completed",
        }
    }

    /// Whether the incident is over (resolved, its postmortem published, or
    /// the maintenance completed).
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Status::Resolved | Status::Postmortem | Status::Completed
        )
    }

    /// Whether this is a scheduled maintenance's status (scheduled, in
    /// progress, verifying, completed), in Statuspage's terms.
    pub fn is_maintenance(self) -> bool {
        matches!(
            self,
            Status::Scheduled | Status::InProgress | Status::Verifying | Status::Completed
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of one component, in Statuspage's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    /// Working normally.
    Operational,
    /// Slower or flakier than usual.
    DegradedPerformance,
    /// Down for some users.
    PartialOutage,
    /// Down.
    MajorOutage,
    /// Down on purpose, for planned work.
    UnderMaintenance,
}

impl ComponentStatus {
    /// The snake-case name used in templates and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "operational",
            ComponentStatus::DegradedPerformance => "degraded_performance",
            ComponentStatus::PartialOutage => "partial_outage",
            ComponentStatus::MajorOutage => "major_outage",
            ComponentStatus::UnderMaintenance => "under_maintenance",
        }
    }

    /// A label for people (`"Partial outage"`).
    pub fn label(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "Operational",
            ComponentStatus::DegradedPerformance => "Degraded performance",
            ComponentStatus::PartialOutage => "Partial outage",
            ComponentStatus::MajorOutage => "Major outage",
            ComponentStatus::UnderMaintenance => "Under maintenance",
        }
    }
}

/// A component affected by the incident and its current status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// Stable id.
    pub id: ComponentId,
    /// Name shown to people.
    pub name: String,
    /// Current status.
    pub status: ComponentStatus,
}

/// Which audiences an update is for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipients {
    /// Every audience the dispatcher knows (subject to each audience's component
    /// scope).
    #[default]
    All,
    /// Only these audiences.
    Only(Vec<Audience>),
}

impl Recipients {
    /// Whether `audience` is among the recipients.
    pub fn includes(&self, audience: &Audience) -> bool {
        match self {
            Recipients::All => true,
            Recipients::Only(list) => list.contains(audience),
        }
    }
}

/// The two roles the play asks an incident team to fill, so that somebody
/// owns the communication (its most common gap is that nobody did).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Writes and sends every update; reminded before an audience falls due.
    CommunicationOwner,
    /// Runs the response; told when an audience is overdue.
    IncidentCommander,
}

impl Role {
    /// Both roles.
    pub const ALL: [Role; 2] = [Role::CommunicationOwner, Role::IncidentCommander];

    /// The snake-case name (`"communication_owner"`), also the name of the
    /// audience its prompts are journaled under ([`Audience::ROLE_NAMES`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::CommunicationOwner => "communication_owner",
            Role::IncidentCommander => "incident_commander",
        }
    }

    /// A label for people (`"communication owner"`).
    pub fn label(self) -> &'static str {
        match self {
            Role::CommunicationOwner => "communication owner",
            Role::IncidentCommander => "incident commander",
        }
    }

    /// The audience prompts to this role are sent and journaled under: not a
    /// tier of people, so no audience policy applies to it, and it never
    /// reaches customers.
    pub fn audience(self) -> Audience {
        Audience::Custom(Arc::from(self.as_str()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A person in an incident role: a name, and the route to reach them on (a
/// channel registered in the dispatcher, other than the primary, and their
/// targets on it: a direct message, a pager number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPerson")]
pub struct Person {
    name: String,
    route: Route,
}

/// A person as stored, checked when read back.
#[derive(Deserialize)]
struct RawPerson {
    name: String,
    route: Route,
}

impl TryFrom<RawPerson> for Person {
    type Error = ModelError;
    fn try_from(raw: RawPerson) -> Result<Self, ModelError> {
        Person::new(raw.name, raw.route)
    }
}

impl Person {
    /// A person called `name` (one line, not blank), reached on `route`
    /// (at least one target).
    pub fn new(name: impl Into<String>, route: Route) -> Result<Self, ModelError> {
        let name = name.into();
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err(ModelError::InvalidPerson {
                name,
                reason: "the name must be one line and not blank",
            });
        }
        if route.targets().is_empty() {
            return Err(ModelError::InvalidPerson {
                name,
                reason: "the route lists no target: add where to reach them",
            });
        }
        Ok(Self {
            name: name.trim().to_owned(),
            route,
        })
    }
    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Where to reach them.
    pub fn route(&self) -> &Route {
        &self.route
    }
}

/// Who holds the incident's roles. Either may be unnamed: an incident
/// without a communication owner is the play's most common root cause of a
/// communication gap, and the [review](crate::review) says so.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Roles {
    /// The communication owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Person>,
    /// The incident commander.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commander: Option<Person>,
}

impl Roles {
    /// The person in `role`, if named.
    pub fn get(&self, role: Role) -> Option<&Person> {
        match role {
            Role::CommunicationOwner => self.owner.as_ref(),
            Role::IncidentCommander => self.commander.as_ref(),
        }
    }

    /// Whether nobody is named.
    pub fn is_empty(&self) -> bool {
        self.owner.is_none() && self.commander.is_none()
    }
}

/// What a prompt to an incident role is about: some audiences are due (or
/// overdue) to hear at `due`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Prompt {
    /// Who is prompted: the communication owner is reminded before the
    /// audiences fall due, the incident commander told once they are overdue.
    pub role: Role,
    /// The audiences due.
    pub audiences: Vec<Audience>,
    /// When they are (or were) due.
    pub due: DateTime<Utc>,
}

impl Prompt {
    /// A prompt to `role` that `audiences` are due at `due`.
    pub fn new(
        role: Role,
        audiences: impl IntoIterator<Item = Audience>,
        due: DateTime<Utc>,
    ) -> Self {
        Self {
            role,
            audiences: audiences.into_iter().collect(),
            due,
        }
    }
}

/// One message about an incident, as posted by the people handling it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// 1 for the first contact, then 2, 3, … in order.
    pub seq: u32,
    /// Status as of this update.
    pub status: Status,
    /// When the update was written.
    pub at: DateTime<Utc>,
    /// The public message, fit for every audience.
    pub message: String,
    /// Notes for inner rings only; never rendered for customers or all employees.
    pub internal_notes: Option<String>,
    /// Who the update is for.
    pub recipients: Recipients,
    /// When the next update will come. Required unless the status is closed.
    pub next_update_at: Option<DateTime<Utc>>,
    /// Component statuses changed by this update.
    pub component_changes: Vec<(ComponentId, ComponentStatus)>,
    /// Whether this is a holding statement: nothing new, sent to keep the
    /// cadence promised to an audience (see
    /// [`Dispatcher::send_holding_statements`](crate::dispatch::Dispatcher::send_holding_statements)).
    /// Rendered with the `holding.*` templates.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub holding: bool,
    /// Whether this is a reminder that a scheduled maintenance starts soon
    /// (see
    /// [`Dispatcher::send_maintenance_reminders`](crate::dispatch::Dispatcher::send_maintenance_reminders)).
    /// Rendered with the `reminder.*` templates; a status page does not show
    /// it as an update.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reminder: bool,
    /// Set when this is a prompt to a person in an incident role (a reminder
    /// to the communication owner, an escalation to the incident commander;
    /// see [`UpdateDraft::prompt`]): for that role alone, never news for an
    /// audience, rendered with the `owner_reminder.*` and `escalation.*`
    /// templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Prompt>,
    /// Whether this is the incident's first message to its audiences: its
    /// first update that is not a [prompt](Update::prompt) (update 1, unless
    /// the communication owner was reminded before it). Set by
    /// [`Incident::post`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first: bool,
}

impl Update {
    /// Which of the communication acts this update is. A
    /// [prompt](Update::prompt) to an incident role is none of them; it
    /// counts as an [`Act::Update`] (or, before the first contact, an
    /// [`Act::Announcement`] for a maintenance) and is rendered with its own
    /// templates.
    pub fn act(&self) -> Act {
        match self.status {
            _ if self.reminder => Act::Reminder,
            Status::Postmortem => Act::Postmortem,
            Status::Resolved => Act::Resolution,
            Status::Scheduled => Act::Announcement,
            Status::InProgress | Status::Verifying => Act::Maintenance,
            Status::Completed => Act::Completion,
            _ if self.prompt.is_none() && (self.first || self.seq == 1) => Act::FirstContact,
            _ => Act::Update,
        }
    }

    /// Whether this is a [prompt](Update::prompt) to an incident role
    /// rather than news for an audience.
    pub fn is_prompt(&self) -> bool {
        self.prompt.is_some()
    }

    /// The same update without its internal notes: what outer rings may see.
    pub fn public(&self) -> Update {
        Update {
            internal_notes: None,
            ..self.clone()
        }
    }
}

/// The acts of incident communication; each has its own templates. The first
/// four are an incident's, the last four a scheduled maintenance's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    /// The first message, sent before the cause is known.
    FirstContact,
    /// A regular update on the cadence.
    Update,
    /// The incident is over.
    Resolution,
    /// The postmortem: acknowledge, explain, prevent, apologise.
    Postmortem,
    /// A scheduled maintenance is announced (or its announcement changed).
    Announcement,
    /// A scheduled maintenance starts soon.
    Reminder,
    /// A scheduled maintenance is under way (in progress or verifying).
    Maintenance,
    /// A scheduled maintenance is over.
    Completion,
}

impl Act {
    /// The snake-case name, also the prefix of its template names.
    pub fn as_str(self) -> &'static str {
        match self {
            Act::FirstContact => "first_contact",
            Act::Update => "update",
            Act::Resolution => "resolution",
            Act::Postmortem => "postmortem",
            Act::Announcement => "announcement",
            Act::Reminder => "reminder",
            Act::Maintenance => "maintenance",
            Act::Completion => "completion",
        }
    }
}

/// What the caller writes to post an update; [`Incident::post`] validates it and
/// assigns its sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct UpdateDraft {
    status: Status,
    at: DateTime<Utc>,
    message: String,
    internal_notes: Option<String>,
    recipients: Recipients,
    next_update_at: Option<DateTime<Utc>>,
    component_changes: Vec<(ComponentId, ComponentStatus)>,
    holding: bool,
    reminder: bool,
    prompt: Option<Prompt>,
}

impl UpdateDraft {
    /// A draft with a status, the time it was written and the public message.
    pub fn new(status: Status, at: DateTime<Utc>, message: impl Into<String>) -> Self {
        Self {
            status,
            at,
            message: message.into(),
            internal_notes: None,
            recipients: Recipients::All,
            next_update_at: None,
            component_changes: Vec::new(),
            holding: false,
            reminder: false,
            prompt: None,
        }
    }

    /// Adds notes for inner rings (audiences whose policy has
    /// [`Detail::Internal`](crate::audience::Detail::Internal)).
    pub fn internal_notes(mut self, notes: impl Into<String>) -> Self {
        self.internal_notes = Some(notes.into());
        self
    }

    /// Says when the next update comes; required unless the draft resolves.
    pub fn next_update_at(mut self, at: DateTime<Utc>) -> Self {
        self.next_update_at = Some(at);
        self
    }

    /// Restricts the update to these audiences.
    pub fn only_for(mut self, audiences: impl IntoIterator<Item = Audience>) -> Self {
        self.recipients = Recipients::Only(audiences.into_iter().collect());
        self
    }

    /// Changes a component's status with this update.
    pub fn component(mut self, id: ComponentId, status: ComponentStatus) -> Self {
        self.component_changes.push((id, status));
        self
    }

    /// Marks the update as a holding statement: it says nothing new, only that
    /// work goes on and when the next update comes. Rendered with the
    /// `holding.*` templates and shown as such in the [review](crate::review).
    /// The dispatcher writes these itself for overdue audiences that opted in
    /// ([`AudiencePolicy::holding_statements`](crate::audience::AudiencePolicy::holding_statements)).
    pub fn holding(mut self) -> Self {
        self.holding = true;
        self
    }

    /// Marks the update as a reminder that a scheduled maintenance starts
    /// soon: only for a maintenance, with status [`Status::Scheduled`],
    /// before its window starts. Rendered with the `reminder.*` templates.
    /// The dispatcher writes these itself for audiences that ask for them
    /// ([`AudiencePolicy::maintenance_reminder`](crate::audience::AudiencePolicy::maintenance_reminder)).
    pub fn reminder(mut self) -> Self {
        self.reminder = true;
        self
    }

    /// Makes the update a prompt to a person in an incident role: for that
    /// role alone (its [audience](Role::audience); the recipients are set to
    /// it), with the incident's current status, no component change and no
    /// next-update promise (it is not news). Refused on a closed incident.
    /// The dispatcher writes these itself
    /// ([`Dispatcher::send_role_prompts`](crate::dispatch::Dispatcher::send_role_prompts)).
    pub fn prompt(mut self, prompt: Prompt) -> Self {
        self.recipients = Recipients::Only(vec![prompt.role.audience()]);
        self.prompt = Some(prompt);
        self
    }
}

/// When a scheduled maintenance's work happens: from `scheduled_for` until
/// `scheduled_until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawWindow")]
pub struct MaintenanceWindow {
    scheduled_for: DateTime<Utc>,
    scheduled_until: DateTime<Utc>,
}

/// A window as stored, checked when read back.
#[derive(Deserialize)]
struct RawWindow {
    scheduled_for: DateTime<Utc>,
    scheduled_until: DateTime<Utc>,
}

impl TryFrom<RawWindow> for MaintenanceWindow {
    type Error = ModelError;
    fn try_from(raw: RawWindow) -> Result<Self, ModelError> {
        Self::new(raw.scheduled_for, raw.scheduled_until)
    }
}

impl MaintenanceWindow {
    /// The window from `scheduled_for` to `scheduled_until`; refused if it
    /// does not end after it starts.
    pub fn new(
        scheduled_for: DateTime<Utc>,
        scheduled_until: DateTime<Utc>,
    ) -> Result<Self, ModelError> {
        if scheduled_until <= scheduled_for {
            return Err(ModelError::EmptyWindow {
                from: scheduled_for,
                until: scheduled_until,
            });
        }
        Ok(Self {
            scheduled_for,
            scheduled_until,
        })
    }
    /// When the work starts.
    pub fn scheduled_for(&self) -> DateTime<Utc> {
        self.scheduled_for
    }
    /// When the work is planned to end.
    pub fn scheduled_until(&self) -> DateTime<Utc> {
        self.scheduled_until
    }
}

/// An incident: described once, updated until resolved, then reviewed.
///
/// Read from JSON (a journal, a file), it is checked as if every update were
/// posted again: an incident that [`Incident::post`] could not have built is
/// refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredIncident")]
pub struct Incident {
    id: IncidentId,
    title: String,
    impact: Impact,
    started_at: DateTime<Utc>,
    components: Vec<Component>,
    updates: Vec<Update>,
    /// Set for a scheduled maintenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window: Option<MaintenanceWindow>,
    /// Who holds the incident roles.
    #[serde(default, skip_serializing_if = "Roles::is_empty")]
    roles: Roles,
}

/// An incident as stored, before it is checked.
#[derive(Deserialize)]
struct StoredIncident {
    id: IncidentId,
    title: String,
    impact: Impact,
    started_at: DateTime<Utc>,
    components: Vec<Component>,
    updates: Vec<Update>,
    #[serde(default)]
    window: Option<MaintenanceWindow>,
    #[serde(default)]
    roles: Roles,
}

impl TryFrom<StoredIncident> for Incident {
    type Error = ModelError;

    /// Rebuilds the incident by posting every stored update again, so the
    /// same rules hold as for one built in code.
    fn try_from(stored: StoredIncident) -> Result<Self, ModelError> {
        let mut incident = match stored.window {
            Some(window) => {
                Incident::maintenance(stored.id, stored.title, window, stored.started_at)?
            }
            None => Incident::new(stored.id, stored.title, stored.impact, stored.started_at)?,
        };
        incident.impact = stored.impact;
        incident.roles = stored.roles;
        let mut seen = std::collections::HashSet::new();
        for c in &stored.components {
            if !seen.insert(&c.id) {
                return Err(ModelError::InvalidStoredUpdate {
                    seq: 0,
                    reason: format!("component {} is listed twice", c.id),
                });
            }
        }
        incident.components = stored.components.clone();
        for update in stored.updates {
            let draft = UpdateDraft {
                status: update.status,
                at: update.at,
                message: update.message.clone(),
                internal_notes: update.internal_notes.clone(),
                recipients: update.recipients.clone(),
                next_update_at: update.next_update_at,
                component_changes: update.component_changes.clone(),
                holding: update.holding,
                reminder: update.reminder,
                prompt: update.prompt.clone(),
            };
            let posted = incident.post(draft)?;
            // Whether it was the first is worked out again, not trusted.
            let update = Update {
                first: posted.first,
                ..update
            };
            if *posted != update {
                return Err(ModelError::InvalidStoredUpdate {
                    seq: update.seq,
                    reason: "posting it again gives another update (its number, message or next-update time differ)"
                        .into(),
                });
            }
        }
        // The components' current statuses, as stored.
        incident.components = stored.components;
        Ok(incident)
    }
}

impl Incident {
    /// A new incident with no updates yet. The title must not be blank.
    pub fn new(
        id: IncidentId,
        title: impl Into<String>,
        impact: Impact,
        started_at: DateTime<Utc>,
    ) -> Result<Self, ModelError> {
        let title = title.into();
        if title.trim().is_empty() {
            return Err(ModelError::EmptyTitle);
        }
        if title.chars().any(char::is_control) {
            return Err(ModelError::InvalidTitle);
        }
        Ok(Self {
            id,
            title: title.trim().to_owned(),
            impact,
            started_at,
            components: Vec::new(),
            updates: Vec::new(),
            window: None,
            roles: Roles::default(),
        })
    }

    /// A scheduled maintenance: planned work in `window`, announced at
    /// `announced_at` (its [`started_at`](Self::started_at), from which the
    /// cadence and the review count). Its impact is [`Impact::None`]; add the
    /// components it takes down with [`with_component`](Self::with_component)
    /// (usually [`ComponentStatus::UnderMaintenance`]).
    ///
    /// Its updates use the maintenance statuses ([`Status::Scheduled`],
    /// [`Status::InProgress`], [`Status::Verifying`], [`Status::Completed`]),
    /// and say when the next update comes like an incident's do, except that
    /// when they do not, a scheduled one promises the window's start and one
    /// under way its end (while those are still ahead). It is published like
    /// an incident ([`Dispatcher::publish`](crate::dispatch::Dispatcher::publish)):
    /// a status page shows it as a scheduled maintenance, and the dispatcher
    /// can remind audiences before it starts.
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use tidings::prelude::*;
    ///
    /// let start = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    /// let mut m = Incident::maintenance(
    ///     IncidentId::new("mnt-1")?,
    ///     "Database upgrade",
    ///     MaintenanceWindow::new(start, start + Duration::hours(2))?,
    ///     start - Duration::days(3),
    /// )?
    /// .with_component(ComponentId::new("api")?, "API", ComponentStatus::UnderMaintenance);
    /// let announcement = m.post(UpdateDraft::new(
    ///     Status::Scheduled,
    ///     start - Duration::days(3),
    ///     "The API will be read-only for up to two hours.",
    /// ))?;
    /// assert_eq!(announcement.act(), Act::Announcement);
    /// assert_eq!(announcement.next_update_at, Some(start));
    /// assert!(m.post(UpdateDraft::new(Status::Investigating, start, "?")).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn maintenance(
        id: IncidentId,
        title: impl Into<String>,
        window: MaintenanceWindow,
        announced_at: DateTime<Utc>,
    ) -> Result<Self, ModelError> {
        let mut incident = Self::new(id, title, Impact::None, announced_at)?;
        incident.window = Some(window);
        Ok(incident)
    }

    /// The maintenance window, for a scheduled maintenance.
    pub fn window(&self) -> Option<&MaintenanceWindow> {
        self.window.as_ref()
    }

    /// Whether this is a scheduled maintenance.
    pub fn is_maintenance(&self) -> bool {
        self.window.is_some()
    }

    /// Adds an affected component with its status at the start.
    pub fn with_component(
        mut self,
        id: ComponentId,
        name: impl Into<String>,
        status: ComponentStatus,
    ) -> Self {
        match self.components.iter_mut().find(|c| c.id == id) {
            Some(existing) => {
                existing.name = name.into();
                existing.status = status;
            }
            None => self.components.push(Component {
                id,
                name: name.into(),
                status,
            }),
        }
        self
    }

    /// Names the communication owner: the person who writes and sends the
    /// updates, reminded on their route before an audience falls due.
    pub fn with_owner(mut self, owner: Person) -> Self {
        self.roles.owner = Some(owner);
        self
    }

    /// Names the incident commander: told on their route when an audience
    /// is overdue.
    pub fn with_commander(mut self, commander: Person) -> Self {
        self.roles.commander = Some(commander);
        self
    }

    /// Hands a role over (or leaves it unnamed with `None`). Prompts already
    /// posted keep their role; the review names whoever holds it now.
    pub fn set_role(&mut self, role: Role, person: Option<Person>) {
        match role {
            Role::CommunicationOwner => self.roles.owner = person,
            Role::IncidentCommander => self.roles.commander = person,
        }
    }

    /// Who holds the incident roles.
    pub fn roles(&self) -> &Roles {
        &self.roles
    }

    /// Every update that is news for an audience (not a
    /// [prompt](Update::prompt) to an incident role), oldest first.
    pub fn news(&self) -> impl DoubleEndedIterator<Item = &Update> + '_ {
        self.updates.iter().filter(|u| u.prompt.is_none())
    }

    /// The latest update that is news for an audience.
    pub fn latest_news(&self) -> Option<&Update> {
        self.news().next_back()
    }

    /// Changes the impact (for example when an incident escalates).
    pub fn set_impact(&mut self, impact: Impact) {
        self.impact = impact;
    }

    /// The id.
    pub fn id(&self) -> &IncidentId {
        &self.id
    }
    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }
    /// The impact.
    pub fn impact(&self) -> Impact {
        self.impact
    }
    /// When the incident started (not when it was first announced).
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }
    /// The affected components with their current status.
    pub fn components(&self) -> &[Component] {
        &self.components
    }
    /// Every update, oldest first.
    pub fn updates(&self) -> &[Update] {
        &self.updates
    }
    /// The update with this sequence number.
    pub fn update(&self, seq: u32) -> Option<&Update> {
        seq.checked_sub(1)
            .and_then(|i| self.updates.get(i as usize))
    }
    /// The latest update.
    pub fn latest(&self) -> Option<&Update> {
        self.updates.last()
    }
    /// The current status (before the first update: `Investigating`, or
    /// `Scheduled` for a maintenance).
    pub fn status(&self) -> Status {
        let initial = if self.is_maintenance() {
            Status::Scheduled
        } else {
            Status::Investigating
        };
        self.latest().map_or(initial, |u| u.status)
    }

    /// A copy with every update's internal notes removed, and without the
    /// roles (who is on duty and how to reach them): what outer rings may
    /// see.
    pub fn without_internal_notes(&self) -> Incident {
        Incident {
            updates: self.updates.iter().map(Update::public).collect(),
            roles: Roles::default(),
            ..self.clone()
        }
    }

    /// Whether the incident affects any of these components.
    pub fn affects_any(&self, components: &[ComponentId]) -> bool {
        self.components.iter().any(|c| components.contains(&c.id))
    }

    /// Validates a draft, appends it as the next update and returns it.
    ///
    /// Refused (with the reason): an empty message, a time before the incident
    /// start or the previous update, an update after the resolution (other than
    /// one postmortem), a postmortem before the resolution, a missing or
    /// non-future `next_update_at` while unresolved, an unknown component, an
    /// empty audience list. For a [maintenance](Self::maintenance): an
    /// incident status (and for an incident a maintenance status), an update
    /// after the completion, a [reminder](UpdateDraft::reminder) that is not
    /// scheduled or not before the start; a missing `next_update_at` is the
    /// window's start while scheduled, its end while under way, if still
    /// ahead.
    pub fn post(&mut self, draft: UpdateDraft) -> Result<&Update, ModelError> {
        let seq = u32::try_from(self.updates.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        if draft.message.trim().is_empty() {
            return Err(ModelError::EmptyMessage { seq });
        }
        if let Recipients::Only(list) = &draft.recipients
            && list.is_empty()
        {
            return Err(ModelError::NoAudience { seq });
        }
        let earliest = self.latest().map_or(self.started_at, |u| u.at);
        if draft.at < earliest {
            return Err(ModelError::TimeWentBackwards {
                seq,
                at: draft.at,
                earliest,
            });
        }
        if draft.status.is_maintenance() != self.is_maintenance() {
            return Err(ModelError::WrongKindOfStatus {
                seq,
                status: draft.status,
                maintenance: self.is_maintenance(),
            });
        }
        if draft.reminder
            && (draft.status != Status::Scheduled
                || self.window.is_none_or(|w| draft.at >= w.scheduled_for))
        {
            return Err(ModelError::InvalidReminder { seq });
        }
        if let Some(prompt) = &draft.prompt {
            let refuse = |reason| {
                Err(ModelError::InvalidPrompt {
                    seq,
                    role: prompt.role,
                    reason,
                })
            };
            if self.status().is_closed() {
                return refuse("is not sent once the incident is closed");
            }
            if draft.status != self.status() {
                return refuse("keeps the incident's status");
            }
            if !draft.component_changes.is_empty() {
                return refuse("changes no component");
            }
            if draft.next_update_at.is_some() {
                return refuse("promises no next update: it is not news");
            }
            if draft.holding || draft.reminder {
                return refuse("is neither a holding statement nor a maintenance reminder");
            }
            if prompt.audiences.is_empty() {
                return refuse("must name the audiences that are due");
            }
        }
        let previous = self.latest().map(|u| u.status);
        let allowed = match (previous, draft.status) {
            (Some(Status::Postmortem | Status::Completed), _) => false,
            (Some(Status::Resolved), next) => next == Status::Postmortem,
            (_, Status::Postmortem) => false,
            _ => true,
        };
        if !allowed {
            return Err(ModelError::InvalidTransition {
                seq,
                status: draft.status,
                previous: previous.unwrap_or_else(|| self.status()),
            });
        }
        let next_update_at = if draft.status.is_closed() || draft.prompt.is_some() {
            None
        } else {
            // A maintenance's window is its promise when the update makes
            // none: the start while scheduled, the end while under way.
            let promised = draft.next_update_at.or_else(|| {
                let window = self.window?;
                let edge = match draft.status {
                    Status::Scheduled => window.scheduled_for,
                    _ => window.scheduled_until,
                };
                (edge > draft.at).then_some(edge)
            });
            match promised {
                None => return Err(ModelError::MissingNextUpdate { seq }),
                Some(next) if next <= draft.at => {
                    return Err(ModelError::NextUpdateNotAfter {
                        seq,
                        at: draft.at,
                        next,
                    });
                }
                Some(next) => Some(next),
            }
        };
        for (id, _) in &draft.component_changes {
            if !self.components.iter().any(|c| &c.id == id) {
                return Err(ModelError::UnknownComponent {
                    seq,
                    component: id.to_string(),
                });
            }
        }
        for (id, status) in &draft.component_changes {
            if let Some(c) = self.components.iter_mut().find(|c| &c.id == id) {
                c.status = *status;
            }
        }
        let update = Update {
            seq,
            status: draft.status,
            at: draft.at,
            message: draft.message.trim().to_owned(),
            internal_notes: draft
                .internal_notes
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty()),
            recipients: match &draft.prompt {
                Some(prompt) => Recipients::Only(vec![prompt.role.audience()]),
                None => draft.recipients,
            },
            next_update_at,
            component_changes: draft.component_changes,
            holding: draft.holding,
            reminder: draft.reminder,
            first: draft.prompt.is_none() && self.latest_news().is_none(),
            prompt: draft.prompt,
        };
        self.updates.push(update);
        let last = self.updates.len() - 1;
        Ok(&self.updates[last])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap()
            + chrono::Duration::minutes(min.into())
    }

    fn incident() -> Incident {
        Incident::new(
            IncidentId::new("inc-1").unwrap(),
            "API errors",
            Impact::Major,
            t(0),
        )
        .unwrap()
        .with_component(
            ComponentId::new("api").unwrap(),
            "API",
            ComponentStatus::MajorOutage,
        )
    }

    #[test]
    fn ids_are_validated() {
        assert!(IncidentId::new("inc-2026_11").is_ok());
        for bad in ["", "a b", "a.b", "é", &"x".repeat(129)] {
            assert!(matches!(
                IncidentId::new(bad),
                Err(ModelError::InvalidId {
                    what: "incident",
                    ..
                })
            ));
        }
    }

    #[test]
    fn empty_title_is_refused() {
        let err = Incident::new(IncidentId::new("x").unwrap(), "  ", Impact::Minor, t(0));
        assert_eq!(err.unwrap_err(), ModelError::EmptyTitle);
        let err = Incident::new(
            IncidentId::new("x").unwrap(),
            "API\r\nBcc: all@example.com",
            Impact::Minor,
            t(0),
        );
        assert_eq!(err.unwrap_err(), ModelError::InvalidTitle);
    }

    #[test]
    fn a_full_lifecycle_is_accepted() {
        let mut inc = incident();
        let first = inc
            .post(
                UpdateDraft::new(Status::Investigating, t(5), "Errors on the API.")
                    .next_update_at(t(35)),
            )
            .unwrap();
        assert_eq!((first.seq, first.act()), (1, Act::FirstContact));
        let up = inc
            .post(
                UpdateDraft::new(Status::Identified, t(30), "Bad deploy.")
                    .internal_notes("rollback of #4411")
                    .component(
                        ComponentId::new("api").unwrap(),
                        ComponentStatus::PartialOutage,
                    )
                    .next_update_at(t(60)),
            )
            .unwrap();
        assert_eq!(up.act(), Act::Update);
        assert_eq!(inc.components()[0].status, ComponentStatus::PartialOutage);
        let res = inc
            .post(UpdateDraft::new(Status::Resolved, t(50), "Fixed."))
            .unwrap();
        assert_eq!((res.act(), res.next_update_at), (Act::Resolution, None));
        let pm = inc
            .post(UpdateDraft::new(
                Status::Postmortem,
                t(600),
                "What happened.",
            ))
            .unwrap();
        assert_eq!(pm.act(), Act::Postmortem);
        assert_eq!(inc.status(), Status::Postmortem);
        assert_eq!(
            inc.update(2).unwrap().internal_notes.as_deref(),
            Some("rollback of #4411")
        );
        assert!(inc.update(0).is_none());
    }

    #[test]
    fn invalid_updates_are_typed_errors() {
        let mut inc = incident();
        assert_eq!(
            inc.post(UpdateDraft::new(Status::Investigating, t(5), "x")),
            Err(ModelError::MissingNextUpdate { seq: 1 })
        );
        assert!(matches!(
            inc.post(UpdateDraft::new(Status::Investigating, t(5), "x").next_update_at(t(5))),
            Err(ModelError::NextUpdateNotAfter { seq: 1, .. })
        ));
        assert_eq!(
            inc.post(UpdateDraft::new(Status::Investigating, t(5), " ").next_update_at(t(9))),
            Err(ModelError::EmptyMessage { seq: 1 })
        );
        let before_start = t(0) - chrono::Duration::minutes(1);
        assert!(matches!(
            inc.post(
                UpdateDraft::new(Status::Investigating, before_start, "x").next_update_at(t(9))
            ),
            Err(ModelError::TimeWentBackwards { seq: 1, .. })
        ));
        assert!(matches!(
            inc.post(UpdateDraft::new(Status::Postmortem, t(5), "x")),
            Err(ModelError::InvalidTransition { .. })
        ));
        assert!(matches!(
            inc.post(
                UpdateDraft::new(Status::Identified, t(5), "x")
                    .next_update_at(t(9))
                    .component(
                        ComponentId::new("db").unwrap(),
                        ComponentStatus::Operational
                    )
            ),
            Err(ModelError::UnknownComponent { .. })
        ));
        assert_eq!(
            inc.post(
                UpdateDraft::new(Status::Identified, t(5), "x")
                    .next_update_at(t(9))
                    .only_for([])
            ),
            Err(ModelError::NoAudience { seq: 1 })
        );
        inc.post(UpdateDraft::new(Status::Investigating, t(10), "x").next_update_at(t(20)))
            .unwrap();
        assert!(matches!(
            inc.post(UpdateDraft::new(Status::Identified, t(9), "x").next_update_at(t(30))),
            Err(ModelError::TimeWentBackwards { seq: 2, .. })
        ));
        inc.post(UpdateDraft::new(Status::Resolved, t(11), "done"))
            .unwrap();
        assert!(matches!(
            inc.post(UpdateDraft::new(Status::Monitoring, t(12), "again").next_update_at(t(30))),
            Err(ModelError::InvalidTransition {
                seq: 3,
                status: Status::Monitoring,
                previous: Status::Resolved
            })
        ));
        inc.post(UpdateDraft::new(Status::Postmortem, t(100), "pm"))
            .unwrap();
        assert!(matches!(
            inc.post(UpdateDraft::new(Status::Postmortem, t(101), "pm2")),
            Err(ModelError::InvalidTransition { .. })
        ));
        assert_eq!(inc.updates().len(), 3, "refused drafts leave no trace");
    }

    fn person(name: &str, target: &str) -> Person {
        let target = crate::audience::Target::new(target).unwrap();
        Person::new(name, Route::new("chat", [target])).unwrap()
    }

    #[test]
    fn prompts_to_roles_are_not_news() {
        let mut inc = incident()
            .with_owner(person("Dana Reyes", "@dana"))
            .with_commander(person("Sam Okafor", "@sam"));
        assert_eq!(inc.roles().owner.as_ref().unwrap().name(), "Dana Reyes");
        // The owner is reminded before the first contact is due.
        let due = t(5);
        let prompt = Prompt::new(Role::CommunicationOwner, [Audience::Customers], due);
        let reminder = inc
            .post(UpdateDraft::new(Status::Investigating, t(0), "Due at 14:05.").prompt(prompt))
            .unwrap()
            .clone();
        assert_eq!(reminder.seq, 1);
        assert_eq!(reminder.next_update_at, None);
        assert_eq!(
            reminder.recipients,
            Recipients::Only(vec![Role::CommunicationOwner.audience()])
        );
        assert!(reminder.is_prompt() && !reminder.first);
        assert_eq!(inc.latest_news(), None);
        // The first contact is still the first contact.
        let first = inc
            .post(UpdateDraft::new(Status::Investigating, t(4), "Errors.").next_update_at(t(30)))
            .unwrap();
        assert_eq!(
            (first.seq, first.first, first.act()),
            (2, true, Act::FirstContact)
        );
        let second = inc
            .post(UpdateDraft::new(Status::Investigating, t(6), "More.").next_update_at(t(30)))
            .unwrap();
        assert_eq!((second.first, second.act()), (false, Act::Update));
        assert_eq!(inc.news().count(), 2);

        // What a prompt may not do.
        let p = || Prompt::new(Role::IncidentCommander, [Audience::Customers], t(30));
        let refused = |inc: &mut Incident, draft: UpdateDraft| {
            assert!(
                matches!(inc.post(draft), Err(ModelError::InvalidPrompt { .. })),
                "accepted"
            );
        };
        refused(
            &mut inc,
            UpdateDraft::new(Status::Identified, t(7), "x").prompt(p()),
        );
        refused(
            &mut inc,
            UpdateDraft::new(Status::Investigating, t(7), "x")
                .next_update_at(t(40))
                .prompt(p()),
        );
        refused(
            &mut inc,
            UpdateDraft::new(Status::Investigating, t(7), "x")
                .holding()
                .prompt(p()),
        );
        refused(
            &mut inc,
            UpdateDraft::new(Status::Investigating, t(7), "x").prompt(Prompt::new(
                Role::IncidentCommander,
                [],
                t(30),
            )),
        );
        inc.post(UpdateDraft::new(Status::Resolved, t(8), "Done."))
            .unwrap();
        refused(
            &mut inc,
            UpdateDraft::new(Status::Resolved, t(9), "x").prompt(p()),
        );

        // Stored and read back, roles and prompts included.
        let json = serde_json::to_string(&inc).unwrap();
        assert!(json.contains("\"communication_owner\""), "{json}");
        let back: Incident = serde_json::from_str(&json).unwrap();
        assert_eq!(back, inc);
        assert_eq!(back.update(2).unwrap().act(), Act::FirstContact);
        // Outer rings never see who is on duty.
        assert!(inc.without_internal_notes().roles().is_empty());
        // A stored person is checked like one built in code.
        let bad = json.replacen("Dana Reyes", " ", 1);
        let err = serde_json::from_str::<Incident>(&bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("name must be one line"), "{err}");
        assert!(Person::new("Dana", Route::new("chat", [])).is_err());
        assert!(Person::new("Dana\nReyes", Route::new("chat", [])).is_err());
    }

    #[test]
    fn an_incident_read_from_json_is_checked_like_one_posted() {
        let mut inc = incident();
        inc.post(UpdateDraft::new(Status::Investigating, t(1), "Errors.").next_update_at(t(30)))
            .unwrap();
        inc.post(UpdateDraft::new(Status::Resolved, t(20), "Fixed."))
            .unwrap();
        let json = serde_json::to_string(&inc).unwrap();
        assert_eq!(serde_json::from_str::<Incident>(&json).unwrap(), inc);

        let tamper = |from: &str, to: &str| {
            let bad = json.replacen(from, to, 1);
            assert_ne!(bad, json, "{from}");
            serde_json::from_str::<Incident>(&bad)
                .unwrap_err()
                .to_string()
        };
        // A resolution without... the first update's promise removed.
        let err = tamper(
            "\"next_update_at\":\"2026-11-25T14:30:00Z\"",
            "\"next_update_at\":null",
        );
        assert!(err.contains("next_update_at is required"), "{err}");
        // Time going backwards.
        let err = tamper("2026-11-25T14:20:00Z", "2026-11-25T13:20:00Z");
        assert!(err.contains("before"), "{err}");
        // A sequence number out of order.
        let err = tamper("\"seq\":2", "\"seq\":7");
        assert!(err.contains("stored update 7"), "{err}");
        // A blank title.
        let err = tamper("\"title\":\"API errors\"", "\"title\":\"  \"");
        assert!(err.contains("title"), "{err}");
        // An incident status on... a maintenance.
        let window = MaintenanceWindow::new(t(60), t(120)).unwrap();
        let mut m =
            Incident::maintenance(IncidentId::new("m").unwrap(), "Upgrade", window, t(0)).unwrap();
        m.post(UpdateDraft::new(Status::Scheduled, t(1), "Planned."))
            .unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Incident>(&json).unwrap(), m);
        let bad = json.replace("\"scheduled\"", "\"investigating\"");
        assert!(serde_json::from_str::<Incident>(&bad).is_err());
    }
}
