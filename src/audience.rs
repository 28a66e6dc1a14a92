//! Audiences: the ripples around an incident, and how each one is told.
//!
//! Inner rings (core on-call responders, front-line support, leadership) get more
//! detail, sooner; outer rings (all employees, external customers) get plain
//! language and never internal notes. An [`AudiencePolicy`] says, for one
//! audience, which channels and targets it reads ([`Route`]s), how much detail it
//! gets ([`Detail`]), how soon it must hear first and the longest silence it may
//! be left in, and optionally which components it cares about.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::incident::ComponentId;
use crate::render::Overflow;

/// Why an audience, route or target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A custom audience name was empty, too long, not `[a-z0-9_-]`, the name
    /// of a built-in tier, or one of the names kept for the incident roles
    /// ([`Audience::ROLE_NAMES`]).
    #[error(
        "invalid custom audience name {0:?}: use 1-64 of [a-z0-9_-], not a built-in tier name nor communication_owner or incident_commander"
    )]
    InvalidAudienceName(String),
    /// A target was empty or contained control characters.
    #[error("invalid target {0:?}: must be non-empty and free of control characters")]
    InvalidTarget(String),
    /// Internal notes were allowed for customers or all employees.
    #[error("audience {0} may never receive internal notes")]
    InternalNotesNotAllowed(Audience),
    /// `max_silence` was zero.
    #[error("audience {0}: max_silence must be greater than zero")]
    ZeroMaxSilence(Audience),
    /// The first-message target was zero (no message can be that early).
    #[error("audience {0}: first_message_within must be greater than zero")]
    ZeroFirstMessage(Audience),
    /// The communication owner's reminder was set to zero before the due
    /// time (it would come with the escalation; use `None` for no reminder).
    #[error(
        "audience {0}: the owner's reminder must come some time before the audience is due (or None for no reminder)"
    )]
    ZeroOwnerReminder(Audience),
    /// The maintenance reminder was set to zero before the start (a reminder
    /// must come before the work starts; use `None` for no reminder).
    #[error("audience {0}: a maintenance reminder must come some time before the start")]
    ZeroReminder(Audience),
    /// The policy has no route, so the audience would never hear anything.
    #[error("audience {0} has no route")]
    NoRoute(Audience),
    /// A route lists no target.
    #[error("audience {audience}: route to channel {channel:?} has no target")]
    NoTarget {
        /// The audience.
        audience: Audience,
        /// The route's channel name.
        channel: String,
    },
}

/// One ring of people around an incident.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Audience {
    /// The on-call responders fixing the incident.
    CoreResponders,
    /// Support staff answering customers.
    FrontLineSupport,
    /// Leadership.
    Leadership,
    /// Everyone in the company.
    Employees,
    /// External customers and the public.
    Customers,
    /// A tier of your own (for example `"partners"`); its policy decides its detail.
    Custom(Arc<str>),
}

impl Audience {
    const BUILT_IN: [(&'static str, Audience); 5] = [
        ("core_responders", Audience::CoreResponders),
        ("front_line_support", Audience::FrontLineSupport),
        ("leadership", Audience::Leadership),
        ("employees", Audience::Employees),
        ("customers", Audience::Customers),
    ];

    /// The names of the audiences that messages to the incident roles are
    /// journaled under (prompts to the communication owner and the incident
    /// commander, see [`Role`](crate::incident::Role)): not tiers of people,
    /// so no policy should name them, and [`Audience::custom`] refuses them.
    pub const ROLE_NAMES: [&'static str; 2] = ["communication_owner", "incident_commander"];

    /// A user-named tier: 1-64 of `[a-z0-9_-]`, not a built-in tier's name
    /// nor one of [`Audience::ROLE_NAMES`].
    pub fn custom(name: impl Into<String>) -> Result<Self, PolicyError> {
        let name = name.into();
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            && !Self::BUILT_IN.iter().any(|(n, _)| *n == name)
            && !Self::ROLE_NAMES.contains(&name.as_str());
        if ok {
            Ok(Audience::Custom(name.into()))
        } else {
            Err(PolicyError::InvalidAudienceName(name))
        }
    }

    /// The snake-case name (`"front_line_support"`, or the custom name).
    pub fn as_str(&self) -> &str {
        match self {
            Audience::CoreResponders => "core_responders",
            Audience::FrontLineSupport => "front_line_support",
            Audience::Leadership => "leadership",
            Audience::Employees => "employees",
            Audience::Customers => "customers",
            Audience::Custom(name) => name,
        }
    }

    /// Whether this is the audience of an incident role
    /// ([`Audience::ROLE_NAMES`]): a person told what is due, not a tier.
    pub fn is_role(&self) -> bool {
        matches!(self, Audience::Custom(name) if Self::ROLE_NAMES.contains(&&**name))
    }

    /// Whether this tier may ever see internal notes. Customers and all employees
    /// never may; custom tiers may if their policy says so.
    pub fn may_see_internal(&self) -> bool {
        !matches!(self, Audience::Employees | Audience::Customers)
    }

    /// The default detail level: internal for the inner rings, public otherwise.
    pub fn default_detail(&self) -> Detail {
        match self {
            Audience::CoreResponders | Audience::FrontLineSupport | Audience::Leadership => {
                Detail::Internal
            }
            _ => Detail::Public,
        }
    }

    /// The default longest silence: 20 minutes for responders, 30 for support and
    /// leadership, an hour for everyone else.
    pub fn default_max_silence(&self) -> Duration {
        let minutes = match self {
            Audience::CoreResponders => 20,
            Audience::FrontLineSupport | Audience::Leadership => 30,
            _ => 60,
        };
        Duration::from_secs(minutes * 60)
    }

    /// The default time by which the first message about an incident must
    /// reach the audience (the play: communicate early, within minutes, before
    /// the cause is known): 5 minutes for responders, 10 for support and
    /// leadership, 15 for everyone else.
    pub fn default_first_message(&self) -> Duration {
        let minutes = match self {
            Audience::CoreResponders => 5,
            Audience::FrontLineSupport | Audience::Leadership => 10,
            _ => 15,
        };
        Duration::from_secs(minutes * 60)
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Audience {
    type Error = PolicyError;
    fn try_from(s: String) -> Result<Self, PolicyError> {
        match Self::BUILT_IN.iter().find(|(n, _)| *n == s) {
            Some((_, a)) => Ok(a.clone()),
            // Journals store the role audiences of prompts; read them back.
            None if Self::ROLE_NAMES.contains(&s.as_str()) => Ok(Audience::Custom(s.into())),
            None => Audience::custom(s),
        }
    }
}

impl From<Audience> for String {
    fn from(a: Audience) -> String {
        a.as_str().to_owned()
    }
}

/// How much an audience is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// Public text only: plain language, no internal notes.
    Public,
    /// Public text plus internal notes and component detail.
    Internal,
}

impl Detail {
    /// The snake-case name, also the suffix of template names.
    pub fn as_str(self) -> &'static str {
        match self {
            Detail::Public => "public",
            Detail::Internal => "internal",
        }
    }
}

/// Where a message goes on a channel: a Slack channel id, an e-mail address, a
/// phone number, a webhook endpoint name. What it means is up to the channel.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Target(Arc<str>);

impl Target {
    /// A target; must be non-empty and free of control characters (so it cannot
    /// smuggle a header or a second line into a request).
    pub fn new(target: impl Into<String>) -> Result<Self, PolicyError> {
        let target = target.into();
        if target.trim().is_empty() || target.chars().any(char::is_control) {
            return Err(PolicyError::InvalidTarget(target));
        }
        Ok(Self(target.into()))
    }

    /// The target as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A target from a constant known to be valid.
    pub(crate) fn from_static(target: &'static str) -> Self {
        Self(Arc::from(target))
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

// `Target` hashes exactly like its `str` (derived `Hash` on `Arc<str>`), so
// maps keyed by targets can be searched with a `&str`.
impl std::borrow::Borrow<str> for Target {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Target {
    type Error = PolicyError;
    fn try_from(s: String) -> Result<Self, PolicyError> {
        Target::new(s)
    }
}

impl From<Target> for String {
    fn from(t: Target) -> String {
        t.0.to_string()
    }
}

/// One channel and the targets on it that an audience (or a person in an
/// incident role) reads.
///
/// Serialized as `{"channel": "chat", "targets": ["#inc"]}`, with
/// `"overflow"` and `"resend_in_doubt"` when they are not the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[must_use]
pub struct Route {
    pub(crate) channel: String,
    pub(crate) targets: Vec<Target>,
    #[serde(default, skip_serializing_if = "is_default_overflow")]
    pub(crate) overflow: Overflow,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) resend_in_doubt: Option<bool>,
}

fn is_default_overflow(overflow: &Overflow) -> bool {
    *overflow == Overflow::default()
}

impl Route {
    /// A route to the channel registered under `channel` in the dispatcher.
    pub fn new(channel: impl Into<String>, targets: impl IntoIterator<Item = Target>) -> Self {
        Self {
            channel: channel.into(),
            targets: targets.into_iter().collect(),
            overflow: Overflow::default(),
            resend_in_doubt: None,
        }
    }

    /// Whether a message whose outcome is unknown (a timeout after the
    /// request left, a crash mid-send) is sent again with the same
    /// idempotency key. By default, only where the channel's provider
    /// deduplicates by that key ([`ChannelLimits::deduplicates`]); `true`
    /// accepts a possible duplicate over a possible loss, `false` reports it
    /// in doubt even where the provider would deduplicate.
    ///
    /// [`ChannelLimits::deduplicates`]: crate::channel::ChannelLimits::deduplicates
    pub fn resend_in_doubt(mut self, resend: bool) -> Self {
        self.resend_in_doubt = Some(resend);
        self
    }

    /// What to do when a message is longer than the channel allows (default:
    /// [`Overflow::Shorten`]).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// The channel name.
    pub fn channel(&self) -> &str {
        &self.channel
    }
    /// The targets.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }
    /// The overflow policy.
    pub fn overflow_policy(&self) -> Overflow {
        self.overflow
    }
}

/// How long before a scheduled maintenance starts an audience is reminded of
/// it, unless its policy says otherwise
/// ([`AudiencePolicy::maintenance_reminder`]): one hour.
pub const DEFAULT_MAINTENANCE_REMINDER: Duration = Duration::from_secs(60 * 60);

/// How long before an audience falls due the incident's communication owner
/// is reminded, unless its policy says otherwise
/// ([`AudiencePolicy::owner_reminder`]): five minutes.
pub const DEFAULT_OWNER_REMINDER: Duration = Duration::from_secs(5 * 60);

/// How one audience is told: its routes, detail, first-message target,
/// longest silence and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct AudiencePolicy {
    pub(crate) audience: Audience,
    pub(crate) routes: Vec<Route>,
    pub(crate) detail: Detail,
    pub(crate) max_silence: Duration,
    pub(crate) first_message: Duration,
    pub(crate) owner_reminder: Option<Duration>,
    pub(crate) components: Option<Vec<ComponentId>>,
    pub(crate) holding: bool,
    pub(crate) reminder: Option<Duration>,
    pub(crate) time_zone: chrono_tz::Tz,
}

impl AudiencePolicy {
    /// A policy with the tier's defaults ([`Audience::default_detail`],
    /// [`Audience::default_max_silence`], [`Audience::default_first_message`],
    /// the owner reminded [`DEFAULT_OWNER_REMINDER`] before it falls due) and
    /// no routes yet.
    pub fn new(audience: Audience) -> Self {
        Self {
            detail: audience.default_detail(),
            max_silence: audience.default_max_silence(),
            first_message: audience.default_first_message(),
            owner_reminder: Some(DEFAULT_OWNER_REMINDER),
            audience,
            routes: Vec::new(),
            components: None,
            holding: false,
            reminder: Some(DEFAULT_MAINTENANCE_REMINDER),
            time_zone: chrono_tz::UTC,
        }
    }

    /// The time zone the audience reads times in (default UTC): "next
    /// update by" is written in it, with the zone named
    /// (`Next update by 2026-11-25 15:30 CET.`).
    ///
    /// ```
    /// use tidings::prelude::*;
    ///
    /// let policy = AudiencePolicy::new(Audience::Customers).in_time_zone(chrono_tz::Europe::Berlin);
    /// assert_eq!(policy.time_zone(), chrono_tz::Europe::Berlin);
    /// ```
    pub fn in_time_zone(mut self, zone: chrono_tz::Tz) -> Self {
        self.time_zone = zone;
        self
    }

    /// Adds a route.
    pub fn route(mut self, route: Route) -> Self {
        self.routes.push(route);
        self
    }

    /// Sets the detail level. [`Detail::Internal`] for customers or all employees
    /// is refused by [`AudiencePolicy::validate`].
    pub fn detail(mut self, detail: Detail) -> Self {
        self.detail = detail;
        self
    }

    /// Sets the longest allowed silence between messages.
    pub fn max_silence(mut self, max_silence: Duration) -> Self {
        self.max_silence = max_silence;
        self
    }

    /// Sets how soon after an incident starts the first message must reach
    /// the audience: its own target, apart from the longest silence (the
    /// play: communicate early, within minutes). Scheduled maintenances,
    /// announced in advance, are judged by `max_silence` alone.
    pub fn first_message_within(mut self, within: Duration) -> Self {
        self.first_message = within;
        self
    }

    /// How long before the audience falls due the incident's communication
    /// owner is reminded on their route (default
    /// [`DEFAULT_OWNER_REMINDER`], five minutes; `None`: never). Only for
    /// incidents with a communication owner
    /// ([`Incident::with_owner`](crate::incident::Incident::with_owner)); see
    /// [`Dispatcher::send_role_prompts`](crate::dispatch::Dispatcher::send_role_prompts).
    pub fn owner_reminder(mut self, before: Option<Duration>) -> Self {
        self.owner_reminder = before;
        self
    }

    /// Whether the audience gets an automatic holding statement ("We are still
    /// investigating … Next update by 14:30 UTC.") when it is overdue: left
    /// longer than the update it last received promised, or than
    /// `max_silence` (default: no). See
    /// [`Dispatcher::send_holding_statements`](crate::dispatch::Dispatcher::send_holding_statements).
    pub fn holding_statements(mut self, enabled: bool) -> Self {
        self.holding = enabled;
        self
    }

    /// How long before a scheduled maintenance starts the audience is
    /// reminded of it (default [`DEFAULT_MAINTENANCE_REMINDER`], one hour;
    /// `None`: never). Only audiences told of the maintenance are reminded,
    /// once. See
    /// [`Dispatcher::send_maintenance_reminders`](crate::dispatch::Dispatcher::send_maintenance_reminders).
    pub fn maintenance_reminder(mut self, before: Option<Duration>) -> Self {
        self.reminder = before;
        self
    }

    /// Scopes the audience to these components: it hears only of incidents that
    /// affect at least one of them (like an audience-specific status page).
    pub fn components(mut self, components: impl IntoIterator<Item = ComponentId>) -> Self {
        self.components = Some(components.into_iter().collect());
        self
    }

    /// The audience.
    pub fn audience(&self) -> &Audience {
        &self.audience
    }
    /// The routes.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
    /// The time zone the audience reads times in.
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.time_zone
    }
    /// The detail level.
    pub fn detail_level(&self) -> Detail {
        self.detail
    }
    /// The longest allowed silence.
    pub fn longest_silence(&self) -> Duration {
        self.max_silence
    }
    /// How soon after an incident starts the first message must reach the
    /// audience.
    pub fn first_message_target(&self) -> Duration {
        self.first_message
    }
    /// How long before the audience falls due the communication owner is
    /// reminded, if at all.
    pub fn reminds_owner_before(&self) -> Option<Duration> {
        self.owner_reminder
    }
    /// Whether overdue, this audience gets an automatic holding statement.
    pub fn sends_holding_statements(&self) -> bool {
        self.holding
    }
    /// How long before a scheduled maintenance starts the audience is
    /// reminded of it, if at all.
    pub fn reminds_before(&self) -> Option<Duration> {
        self.reminder
    }
    /// The component scope, if any.
    pub fn component_scope(&self) -> Option<&[ComponentId]> {
        self.components.as_deref()
    }

    /// Whether this audience should hear of an incident affecting `components`.
    pub fn cares_about(&self, incident: &crate::incident::Incident) -> bool {
        match &self.components {
            None => true,
            Some(scope) => incident.affects_any(scope),
        }
    }

    /// Checks the policy: at least one route, each with a target; a non-zero
    /// silence, first-message target and owner's reminder; no internal notes
    /// for customers or all employees.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.detail == Detail::Internal && !self.audience.may_see_internal() {
            return Err(PolicyError::InternalNotesNotAllowed(self.audience.clone()));
        }
        if self.max_silence.is_zero() {
            return Err(PolicyError::ZeroMaxSilence(self.audience.clone()));
        }
        if self.first_message.is_zero() {
            return Err(PolicyError::ZeroFirstMessage(self.audience.clone()));
        }
        if self.owner_reminder.is_some_and(|d| d.is_zero()) {
            return Err(PolicyError::ZeroOwnerReminder(self.audience.clone()));
        }
        if self.reminder.is_some_and(|d| d.is_zero()) {
            return Err(PolicyError::ZeroReminder(self.audience.clone()));
        }
        if self.routes.is_empty() {
            return Err(PolicyError::NoRoute(self.audience.clone()));
        }
        if let Some(route) = self.routes.iter().find(|r| r.targets.is_empty()) {
            return Err(PolicyError::NoTarget {
                audience: self.audience.clone(),
                channel: route.channel.clone(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in [
            Audience::CoreResponders,
            Audience::FrontLineSupport,
            Audience::Leadership,
            Audience::Employees,
            Audience::Customers,
            Audience::custom("partners").unwrap(),
        ] {
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<Audience>(&json).unwrap(), a);
        }
        assert!(Audience::custom("customers").is_err());
        assert!(Audience::custom("Big Partners").is_err());
        assert!(Audience::custom("").is_err());
        // The role audiences cannot be made by hand, but read back.
        assert!(Audience::custom("communication_owner").is_err());
        let owner: Audience = serde_json::from_str("\"communication_owner\"").unwrap();
        assert!(owner.is_role() && owner.may_see_internal());
        assert!(!Audience::Customers.is_role());
    }

    #[test]
    fn routes_round_trip_through_serde() {
        let plain = Route::new("chat", [Target::new("@dana").unwrap()]);
        let json = serde_json::to_string(&plain).unwrap();
        assert_eq!(json, r#"{"channel":"chat","targets":["@dana"]}"#);
        assert_eq!(serde_json::from_str::<Route>(&json).unwrap(), plain);
        let split = plain.overflow(Overflow::split(3)).resend_in_doubt(true);
        let json = serde_json::to_string(&split).unwrap();
        assert_eq!(serde_json::from_str::<Route>(&json).unwrap(), split);
        assert!(serde_json::from_str::<Route>(r#"{"channel":"c","targets":["a\nb"]}"#).is_err());
    }

    #[test]
    fn outer_rings_never_get_internal_notes() {
        for a in [Audience::Customers, Audience::Employees] {
            let p = AudiencePolicy::new(a.clone())
                .route(Route::new("mail", [Target::new("x").unwrap()]))
                .detail(Detail::Internal);
            assert_eq!(p.validate(), Err(PolicyError::InternalNotesNotAllowed(a)));
        }
        let partners = Audience::custom("partners").unwrap();
        assert_eq!(partners.default_detail(), Detail::Public);
        AudiencePolicy::new(partners)
            .detail(Detail::Internal)
            .route(Route::new("mail", [Target::new("x").unwrap()]))
            .validate()
            .unwrap();
    }

    #[test]
    fn policies_are_validated() {
        let p = AudiencePolicy::new(Audience::Leadership);
        assert_eq!(
            p.validate(),
            Err(PolicyError::NoRoute(Audience::Leadership))
        );
        let p = p.route(Route::new("chat", []));
        assert!(matches!(p.validate(), Err(PolicyError::NoTarget { .. })));
        let p = AudiencePolicy::new(Audience::Leadership)
            .route(Route::new("chat", [Target::new("#lead").unwrap()]))
            .max_silence(Duration::ZERO);
        assert!(matches!(p.validate(), Err(PolicyError::ZeroMaxSilence(_))));
        let p = AudiencePolicy::new(Audience::Leadership)
            .route(Route::new("chat", [Target::new("#lead").unwrap()]));
        assert_eq!(p.first_message_target(), Duration::from_secs(600));
        assert_eq!(p.reminds_owner_before(), Some(DEFAULT_OWNER_REMINDER));
        assert!(matches!(
            p.clone().first_message_within(Duration::ZERO).validate(),
            Err(PolicyError::ZeroFirstMessage(_))
        ));
        assert!(matches!(
            p.clone().owner_reminder(Some(Duration::ZERO)).validate(),
            Err(PolicyError::ZeroOwnerReminder(_))
        ));
        p.owner_reminder(None).validate().unwrap();
        assert!(Target::new("a\r\nBcc: x").is_err());
        assert!(Target::new("  ").is_err());
    }
}
