//! Templates for the acts of incident communication (minijinja), and a
//! library of messages approved in advance for common kinds of incident.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::RenderedMessage;
use crate::audience::{Audience, Detail};
use crate::incident::{Act, Incident, Role, Status, Update, UpdateDraft};

/// A template could not be added or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The name is not one of [`Templates::NAMES`].
    #[error("unknown template {0:?}; known templates: {names}", names = Templates::NAMES.join(", "))]
    UnknownTemplate(String),
    /// The template does not parse, or fails to render (for example it uses an
    /// undefined variable).
    #[error("template {name:?}: {reason}")]
    Invalid {
        /// The template's name.
        name: String,
        /// minijinja's explanation.
        reason: String,
    },
    /// The message library has no template for this kind of incident and
    /// act ([`Templates::message`]).
    #[error(
        "no message template for {kind:?} at {act}: use one of the kinds {kinds}, or add it with Templates::with_message_template",
        act = act.as_str()
    )]
    UnknownMessage {
        /// The kind asked for.
        kind: String,
        /// The act asked for.
        act: Act,
        /// The kinds known, comma-separated.
        kinds: String,
    },
    /// A variable the message template needs was not given.
    #[error(
        "message template {kind:?} needs the variable {variable:?}: set it with MessageVars::set (see the render module docs for what each kind needs)"
    )]
    MissingVariable {
        /// The kind of incident.
        kind: String,
        /// The variable.
        variable: &'static str,
    },
    /// A message kind's name is not 1-64 of `[a-z0-9_]`, or a message
    /// variable's name is one the templates reserve (`incident`, `act`,
    /// `detail`).
    #[error(
        "invalid name {0:?}: kinds are 1-64 of [a-z0-9_]; incident, act and detail are reserved variables"
    )]
    InvalidName(String),
}

/// The default templates, from `src/templates/<name>.j2`, and their names.
macro_rules! defaults {
    ($($name:literal),* $(,)?) => {
        const DEFAULTS: &[(&str, &str)] =
            &[$(($name, include_str!(concat!("../templates/", $name, ".j2")))),*];
        const DEFAULT_NAMES: &[&str] = &[$($name),*];
    };
}

defaults!(
    "title",
    "next_update",
    "_components",
    "_internal",
    "first_contact.public",
    "first_contact.internal",
    "update.public",
    "update.internal",
    "holding.public",
    "holding.internal",
    "resolution.public",
    "resolution.internal",
    "postmortem.public",
    "postmortem.internal",
    "_notes",
    "_window",
    "announcement.public",
    "announcement.internal",
    "reminder.public",
    "reminder.internal",
    "maintenance.public",
    "maintenance.internal",
    "completion.public",
    "completion.internal",
    "owner_reminder.public",
    "owner_reminder.internal",
    "escalation.public",
    "escalation.internal",
);

/// The library's templates for one kind of incident: every act of
/// [`Templates::LIBRARY_ACTS`], public and internal, from
/// `src/templates/library/<kind>/<act>.<detail>.j2`.
macro_rules! library_kind {
    ($kind:literal) => {
        [
            library_kind!(@one $kind, "first_contact.public"),
            library_kind!(@one $kind, "first_contact.internal"),
            library_kind!(@one $kind, "update.public"),
            library_kind!(@one $kind, "update.internal"),
            library_kind!(@one $kind, "resolution.public"),
            library_kind!(@one $kind, "resolution.internal"),
            library_kind!(@one $kind, "postmortem.public"),
            library_kind!(@one $kind, "postmortem.internal"),
        ]
    };
    (@one $kind:literal, $name:literal) => {
        (
            concat!($kind, ".", $name),
            include_str!(concat!("../templates/library/", $kind, "/", $name, ".j2")),
        )
    };
}

/// The message library, per kind.
const LIBRARY: [[(&str, &str); 8]; 5] = [
    library_kind!("full_outage"),
    library_kind!("degraded_performance"),
    library_kind!("third_party"),
    library_kind!("security"),
    library_kind!("data"),
];

/// The variables each built-in kind needs (the others are optional).
const REQUIRED: [(&str, &[&str]); 5] = [
    ("full_outage", &["service"]),
    ("degraded_performance", &["service"]),
    ("third_party", &["service", "provider"]),
    ("security", &["service"]),
    ("data", &["service", "data"]),
];

/// Every optional variable the library's templates read.
const OPTIONAL: [&str; 8] = [
    "symptom",
    "workaround",
    "cause",
    "fix",
    "action",
    "affected",
    "prevention",
    "provider",
];

/// Names the message templates' context keeps for itself.
const RESERVED: [&str; 3] = ["incident", "act", "detail"];

/// Variables for a message of the library ([`Templates::message`]): plain
/// text, inserted as written (each channel escapes it for its wire).
///
/// ```
/// use tidings::render::MessageVars;
/// let vars = MessageVars::new()
///     .set("service", "Checkout")
///     .set("workaround", "You can still pay by bank transfer.");
/// assert_eq!(vars.get("service"), Some("Checkout"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct MessageVars(BTreeMap<String, String>);

impl MessageVars {
    /// No variables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value` (replacing an earlier value).
    pub fn set(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(name.into(), value.into());
        self
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for MessageVars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// The message templates: a title, a next-update line, and a body per act and
/// detail level (`"<act>.<detail>"`, for example `"update.public"`; the acts
/// are [`Act`]'s names). Holding statements
/// ([`Update::holding`]) use `"holding.<detail>"`; a scheduled maintenance's
/// acts are `announcement`, `reminder`, `maintenance` (under way) and
/// `completion`; prompts to the incident roles ([`Update::prompt`]) use
/// `"owner_reminder.<detail>"` (the communication owner, before an audience
/// falls due) and `"escalation.<detail>"` (the incident commander, once it is
/// overdue).
///
/// Templates see `incident` (`id`, `title`, `impact`, `status`, `status_label`,
/// `started_at`, `started_at_utc`, `components` with `id`, `name`, `status`,
/// `status_label`, `owner` and `commander` (the names of the people in the
/// incident roles, or none; always none for outer rings), and `maintenance`:
/// none for an incident, for a scheduled
/// maintenance `scheduled_for`, `scheduled_for_utc`, `scheduled_until`,
/// `scheduled_until_utc`, `duration` and `starts_in` (from the update to the
/// start, `0 min` once started)), `update` (`seq`, `status`, `status_label`, `at`, `at_utc`,
/// `message`, `internal_notes` (only at internal detail), `next_update_at`,
/// `next_update_utc`, `next_update_local` (in the audience's time zone,
/// the zone named: `2026-11-25 15:30 CET`; the same as `next_update_utc`
/// for UTC), `time_zone` (its IANA name, `Europe/Berlin`), `elapsed`), `prompt` (none, or for a prompt to a role:
/// `role`, `role_label`, `audiences` (comma-separated), `due_at`, `due_utc`
/// and `due_in` (from the update to the due time, `0 min` once due)),
/// `audience`, `detail` and `act`. Undefined
/// variables are errors, so a typo is caught when the template is added.
///
/// The link is not a template variable: it is appended when the text is fitted
/// to the channel, so that no template or length limit can drop it.
///
/// # Messages approved in advance
///
/// The play's second most common cause of a communication gap is not
/// knowing what to say. The message library holds the words for common kinds
/// of incident, per act ([`Templates::LIBRARY_ACTS`]) and detail level, to be
/// approved before anything happens: [`Templates::message`] renders one (the
/// public detail is the update's message, the internal detail its internal
/// notes) and [`Templates::draft`] makes the whole [`UpdateDraft`]. The
/// built-in kinds ([`Templates::LIBRARY_KINDS`]) and the variables they read:
///
/// | kind | needs | may use |
/// |---|---|---|
/// | `full_outage` | `service` | `workaround`, `cause`, `fix`, `prevention` |
/// | `degraded_performance` | `service` | `symptom`, `workaround`, `cause`, `fix`, `prevention` |
/// | `third_party` | `service`, `provider` | `workaround`, `cause`, `fix`, `prevention` |
/// | `security` | `service` | `action`, `cause`, `fix`, `prevention` |
/// | `data` | `service`, `data` | `affected`, `action`, `cause`, `fix`, `prevention` |
///
/// - `service`: what users notice is affected, as a name (`Checkout`, `the
///   public API`); capitalised where it starts a sentence.
/// - `provider`: the third party (`our payment provider`).
/// - `data`: the data concerned (`order history`).
/// - `symptom`: what users notice (`slow page loads and timeouts`).
/// - `affected`: who is affected (`customers in the EU region`).
/// - `cause`: the cause, once confirmed, as a noun phrase (`a configuration
///   change to our database`).
/// - `fix`, `workaround`, `action`, `prevention`: whole sentences: what is
///   being done, what users can do meanwhile, what they must do, what will
///   stop it happening again.
///
/// Message templates see the same `incident` as the others (its current
/// status), `act`, `detail`, and the variables at the top level; test an
/// optional one with `{% if fix is defined %}`, and start a sentence with
/// `{{ service | sentence }}` (the first letter capitalised). Add your own
/// kinds, or replace a built-in one's words, with
/// [`Templates::with_message_template`].
///
/// ```
/// use chrono::Utc;
/// use tidings::prelude::*;
/// use tidings::render::{MessageVars, Templates};
///
/// let templates = Templates::new();
/// let now = Utc::now();
/// let incident = Incident::new(IncidentId::new("inc-1")?, "Checkout down", Impact::Critical, now)?;
/// let vars = MessageVars::new().set("service", "checkout");
/// let draft = templates
///     .draft("full_outage", &incident, Status::Investigating, now, &vars)?
///     .next_update_at(now + chrono::Duration::minutes(30));
/// let mut incident = incident;
/// let first = incident.post(draft)?;
/// assert!(first.message.starts_with("Checkout is unavailable."));
/// assert!(first.internal_notes.as_deref().unwrap().starts_with("Full outage of checkout"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// ```
/// use tidings::render::Templates;
/// let templates = Templates::new()
///     .with_template("title", "{{ update.status_label | upper }}: {{ incident.title }}")
///     .unwrap();
/// assert!(Templates::new().with_template("title", "{{ nope.x }}").is_err());
/// # let _ = templates;
/// ```
#[derive(Clone)]
pub struct Templates {
    env: Environment<'static>,
    /// Every kind of the message library: the built-in ones, then those
    /// added.
    kinds: Vec<String>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates")
            .field("message_kinds", &self.kinds)
            .finish_non_exhaustive()
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// Names of every template that can be overridden. Names starting with `_`
    /// are partials the defaults include.
    pub const NAMES: &'static [&'static str] = DEFAULT_NAMES;

    /// The kinds of incident the built-in message library has words for.
    pub const LIBRARY_KINDS: &'static [&'static str] = &[
        "full_outage",
        "degraded_performance",
        "third_party",
        "security",
        "data",
    ];

    /// The acts the message library has words for.
    pub const LIBRARY_ACTS: [Act; 4] = [
        Act::FirstContact,
        Act::Update,
        Act::Resolution,
        Act::Postmortem,
    ];

    /// The default templates.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.add_filter("sentence", sentence);
        if let Ok(syntax) = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        for (name, source) in DEFAULTS.iter().chain(LIBRARY.iter().flatten()) {
            // The defaults are tested to parse; a failure here would leave that
            // template missing and surface as a render error, never a panic.
            let _ = env.add_template(name, source);
        }
        Self {
            env,
            kinds: Self::LIBRARY_KINDS
                .iter()
                .map(|k| (*k).to_owned())
                .collect(),
        }
    }

    /// Replaces the template `name` with `source`. The template is parsed and
    /// rendered once against a sample incident, so errors show up here.
    pub fn with_template(
        mut self,
        name: &str,
        source: impl Into<String>,
    ) -> Result<Self, TemplateError> {
        let Some(name) = Self::NAMES.iter().find(|n| **n == name) else {
            return Err(TemplateError::UnknownTemplate(name.to_owned()));
        };
        self.env
            .add_template_owned(*name, source.into())
            .map_err(|e| invalid(name, &e))?;
        self.check()?;
        Ok(self)
    }

    /// Renders every template against a sample incident, a sample
    /// maintenance and sample prompts to the roles.
    fn check(&self) -> Result<(), TemplateError> {
        for sample in [sample_incident(), sample_maintenance(), sample_prompts()] {
            let sample = sample.map_err(|e| TemplateError::Invalid {
                name: "(sample incident)".to_owned(),
                reason: e.to_string(),
            })?;
            for update in sample.updates() {
                for detail in [Detail::Public, Detail::Internal] {
                    self.render(&sample, update, &Audience::CoreResponders, detail)?;
                }
            }
        }
        Ok(())
    }

    /// Renders the title, body and next-update line of `update` for `audience`
    /// at `detail`. Internal notes are only rendered when both the detail level
    /// and the audience allow them.
    ///
    /// Times are written in UTC; [`Templates::render_for`] writes them in the
    /// audience's time zone.
    pub fn render(
        &self,
        incident: &Incident,
        update: &Update,
        audience: &Audience,
        detail: Detail,
    ) -> Result<RenderedMessage, TemplateError> {
        self.render_in(incident, update, audience, detail, chrono_tz::UTC)
    }

    /// Renders `update` as [`render`](Self::render) does, for the policy's
    /// audience at its detail level, with "next update" written in the
    /// policy's [time zone](crate::audience::AudiencePolicy::time_zone) and
    /// the zone named (`Next update by 2026-11-25 15:30 CET.`). This is what
    /// the dispatcher sends.
    pub fn render_for(
        &self,
        incident: &Incident,
        update: &Update,
        policy: &crate::audience::AudiencePolicy,
    ) -> Result<RenderedMessage, TemplateError> {
        self.render_in(
            incident,
            update,
            policy.audience(),
            policy.detail_level(),
            policy.time_zone(),
        )
    }

    fn render_in(
        &self,
        incident: &Incident,
        update: &Update,
        audience: &Audience,
        detail: Detail,
        zone: chrono_tz::Tz,
    ) -> Result<RenderedMessage, TemplateError> {
        let detail = if audience.may_see_internal() {
            detail
        } else {
            Detail::Public
        };
        let act = match &update.prompt {
            Some(prompt) => match prompt.role {
                Role::CommunicationOwner => "owner_reminder",
                Role::IncidentCommander => "escalation",
            },
            None if update.holding => "holding",
            None => update.act().as_str(),
        };
        let ctx = minijinja::Value::from(minijinja::value::Serde(Context::new(
            incident, update, audience, detail, act, zone,
        )));
        let render = |name: &str| -> Result<String, TemplateError> {
            let out = self
                .env
                .get_template(name)
                .and_then(|t| t.render(&ctx))
                .map_err(|e| invalid(name, &e))?;
            Ok(tidy(&out))
        };
        let title = render("title")?;
        let body = render(&format!("{act}.{}", detail.as_str()))?;
        let next_update = match update.next_update_at {
            Some(_) => Some(render("next_update")?),
            None => None,
        };
        Ok(RenderedMessage {
            title,
            body,
            next_update,
        })
    }

    /// Every kind of the message library: the built-in ones
    /// ([`Templates::LIBRARY_KINDS`]), then those added.
    pub fn message_kinds(&self) -> &[String] {
        &self.kinds
    }

    /// The variables a built-in kind of the library needs (empty for a kind
    /// of your own).
    pub fn required_variables(kind: &str) -> &'static [&'static str] {
        REQUIRED
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(&[], |(_, vars)| vars)
    }

    /// Adds the words for `kind` at `act` and `detail` to the message
    /// library, or replaces them: a kind of your own (1-64 of `[a-z0-9_]`), or
    /// a built-in one. The template is parsed here and, for a built-in kind,
    /// rendered against a sample incident with every documented variable
    /// set, so mistakes show up now; a kind of your own is checked when it is
    /// rendered (it may read variables of its own).
    pub fn with_message_template(
        mut self,
        kind: &str,
        act: Act,
        detail: Detail,
        source: impl Into<String>,
    ) -> Result<Self, TemplateError> {
        let ok = !kind.is_empty()
            && kind.len() <= 64
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(TemplateError::InvalidName(kind.to_owned()));
        }
        let name = message_name(kind, act, detail);
        self.env
            .add_template_owned(name.clone(), source.into())
            .map_err(|e| invalid(&name, &e))?;
        if !self.kinds.iter().any(|k| k == kind) {
            self.kinds.push(kind.to_owned());
        }
        if Self::LIBRARY_KINDS.contains(&kind) {
            let sample = sample_incident().map_err(|e| TemplateError::Invalid {
                name: "(sample incident)".to_owned(),
                reason: e.to_string(),
            })?;
            let vars = sample_vars();
            self.message(kind, act, detail, &sample, &vars)?;
        }
        Ok(self)
    }

    /// The library's words for `kind` at `act` and `detail`, with `vars`:
    /// at public detail, the message every audience may read; at internal
    /// detail, notes for the inner rings. See the table in the type's docs
    /// for the built-in kinds and their variables.
    pub fn message(
        &self,
        kind: &str,
        act: Act,
        detail: Detail,
        incident: &Incident,
        vars: &MessageVars,
    ) -> Result<String, TemplateError> {
        let name = message_name(kind, act, detail);
        let template = self
            .env
            .get_template(&name)
            .map_err(|_| TemplateError::UnknownMessage {
                kind: kind.to_owned(),
                act,
                kinds: self.kinds.join(", "),
            })?;
        if let Some(variable) = Self::required_variables(kind)
            .iter()
            .find(|v| vars.get(v).is_none_or(|x| x.trim().is_empty()))
        {
            return Err(TemplateError::MissingVariable {
                kind: kind.to_owned(),
                variable,
            });
        }
        let mut ctx: BTreeMap<String, minijinja::Value> = BTreeMap::new();
        for (k, v) in &vars.0 {
            if RESERVED.contains(&k.as_str()) {
                return Err(TemplateError::InvalidName(k.clone()));
            }
            ctx.insert(k.clone(), minijinja::Value::from(v.trim()));
        }
        let status = incident.status();
        let at = incident.latest().map_or(incident.started_at(), |u| u.at);
        let incident_ctx = IncidentCtx::new(incident, status, at, detail);
        ctx.insert(
            "incident".to_owned(),
            minijinja::Value::from(minijinja::value::Serde(&incident_ctx)),
        );
        ctx.insert("act".to_owned(), minijinja::Value::from(act.as_str()));
        ctx.insert("detail".to_owned(), minijinja::Value::from(detail.as_str()));
        let out = template
            .render(minijinja::Value::from_pairs(ctx))
            .map_err(|e| invalid(&name, &e))?;
        Ok(tidy(&out))
    }

    /// An update draft in the words of the library: `status` at `at`, its
    /// message the public words for `kind` and its internal notes the
    /// internal ones, at the act the status makes it (the first contact if
    /// `incident` has said nothing yet, an update, the resolution or the
    /// postmortem). Add the next-update time (and components, audiences) to
    /// the draft before posting it. A maintenance status is refused
    /// ([`TemplateError::UnknownMessage`]): the library is for incidents.
    pub fn draft(
        &self,
        kind: &str,
        incident: &Incident,
        status: Status,
        at: DateTime<Utc>,
        vars: &MessageVars,
    ) -> Result<UpdateDraft, TemplateError> {
        let act = match status {
            Status::Resolved => Act::Resolution,
            Status::Postmortem => Act::Postmortem,
            Status::Investigating | Status::Identified | Status::Monitoring
                if incident.latest_news().is_none() =>
            {
                Act::FirstContact
            }
            Status::Investigating | Status::Identified | Status::Monitoring => Act::Update,
            Status::Scheduled => Act::Announcement,
            Status::InProgress | Status::Verifying => Act::Maintenance,
            Status::Completed => Act::Completion,
        };
        let public = self.message(kind, act, Detail::Public, incident, vars)?;
        let internal = self.message(kind, act, Detail::Internal, incident, vars)?;
        Ok(UpdateDraft::new(status, at, public).internal_notes(internal))
    }
}

/// The registry name of a library message: `<kind>.<act>.<detail>`.
fn message_name(kind: &str, act: Act, detail: Detail) -> String {
    format!("{kind}.{}.{}", act.as_str(), detail.as_str())
}

/// The `sentence` filter: the first letter capitalised, the rest as written.
fn sentence(text: String) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// Every variable the library documents, set: what a built-in kind's
/// replacement words are checked with.
fn sample_vars() -> MessageVars {
    let mut vars = MessageVars::new()
        .set("service", "the sample service")
        .set("data", "sample records");
    for name in OPTIONAL {
        let value = match name {
            // Whole sentences.
            "fix" | "workaround" | "action" | "prevention" => format!("Sample {name}."),
            _ => format!("sample {name}"),
        };
        vars = vars.set(name, value);
    }
    vars
}

fn invalid(name: &str, e: &minijinja::Error) -> TemplateError {
    let mut reason = e.to_string();
    if let Some(detail) = e.detail()
        && !reason.contains(detail)
    {
        reason.push_str(": ");
        reason.push_str(detail);
    }
    TemplateError::Invalid {
        name: name.to_owned(),
        reason,
    }
}

/// Trims every line's end, drops runs of blank lines and surrounding space.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.trim().lines().map(str::trim_end) {
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

/// `2026-11-25 14:30 UTC`: absolute, unambiguous, readable.
pub(crate) fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `2026-11-25 15:30 CET` in `zone`: its abbreviation where it has one
/// (`CET`, `EDT`), else its offset (`+0530` is written `+0530`); in UTC the
/// same as [`utc`].
fn local(t: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    if zone == chrono_tz::UTC {
        return utc(t);
    }
    let t = t.with_timezone(&zone);
    let name = t.format("%Z").to_string();
    // chrono-tz names a zone without an abbreviation by its offset (`+03`);
    // the offset in full is unambiguous.
    if name.starts_with(['+', '-']) {
        t.format("%Y-%m-%d %H:%M UTC%:z").to_string()
    } else {
        format!("{} {name}", t.format("%Y-%m-%d %H:%M"))
    }
}

/// `47 min`, `2 h 5 min`, `3 d 4 h`.
pub(crate) fn elapsed(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let minutes = (to - from).num_minutes().max(0);
    let (d, h, m) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (d, h) {
        (0, 0) => format!("{m} min"),
        (0, _) if m == 0 => format!("{h} h"),
        (0, _) => format!("{h} h {m} min"),
        _ if h == 0 => format!("{d} d"),
        _ => format!("{d} d {h} h"),
    }
}

#[derive(Serialize)]
struct Context<'a> {
    incident: IncidentCtx<'a>,
    update: UpdateCtx<'a>,
    prompt: Option<PromptCtx>,
    audience: &'a str,
    detail: &'static str,
    act: &'static str,
}

#[derive(Serialize)]
struct PromptCtx {
    role: &'static str,
    role_label: &'static str,
    audiences: String,
    due_at: String,
    due_utc: String,
    due_in: String,
}

#[derive(Serialize)]
struct IncidentCtx<'a> {
    id: &'a str,
    title: &'a str,
    impact: &'static str,
    status: &'static str,
    status_label: &'static str,
    started_at: String,
    started_at_utc: String,
    components: Vec<ComponentCtx<'a>>,
    owner: Option<&'a str>,
    commander: Option<&'a str>,
    maintenance: Option<MaintenanceCtx>,
}

impl<'a> IncidentCtx<'a> {
    /// The incident as templates see it, with `status` as of `at`. The roles
    /// only at internal detail.
    fn new(incident: &'a Incident, status: Status, at: DateTime<Utc>, detail: Detail) -> Self {
        let role = |p: Option<&'a crate::incident::Person>| match detail {
            Detail::Internal => p.map(crate::incident::Person::name),
            Detail::Public => None,
        };
        IncidentCtx {
            id: incident.id().as_str(),
            title: incident.title(),
            impact: incident.impact().as_str(),
            status: status.as_str(),
            status_label: status.label(),
            started_at: incident.started_at().to_rfc3339(),
            started_at_utc: utc(incident.started_at()),
            components: incident
                .components()
                .iter()
                .map(|c| ComponentCtx {
                    id: c.id.as_str(),
                    name: &c.name,
                    status: c.status.as_str(),
                    status_label: c.status.label(),
                })
                .collect(),
            owner: role(incident.roles().owner.as_ref()),
            commander: role(incident.roles().commander.as_ref()),
            maintenance: incident.window().map(|w| MaintenanceCtx {
                scheduled_for: w.scheduled_for().to_rfc3339(),
                scheduled_for_utc: utc(w.scheduled_for()),
                scheduled_until: w.scheduled_until().to_rfc3339(),
                scheduled_until_utc: utc(w.scheduled_until()),
                duration: elapsed(w.scheduled_for(), w.scheduled_until()),
                starts_in: elapsed(at, w.scheduled_for()),
            }),
        }
    }
}

#[derive(Serialize)]
struct MaintenanceCtx {
    scheduled_for: String,
    scheduled_for_utc: String,
    scheduled_until: String,
    scheduled_until_utc: String,
    duration: String,
    starts_in: String,
}

#[derive(Serialize)]
struct ComponentCtx<'a> {
    id: &'a str,
    name: &'a str,
    status: &'static str,
    status_label: &'static str,
}

#[derive(Serialize)]
struct UpdateCtx<'a> {
    seq: u32,
    status: &'static str,
    status_label: &'static str,
    at: String,
    at_utc: String,
    message: &'a str,
    internal_notes: Option<&'a str>,
    next_update_at: Option<String>,
    next_update_utc: Option<String>,
    next_update_local: Option<String>,
    time_zone: &'static str,
    elapsed: String,
}

impl<'a> Context<'a> {
    fn new(
        incident: &'a Incident,
        update: &'a Update,
        audience: &'a Audience,
        detail: Detail,
        act: &'static str,
        zone: chrono_tz::Tz,
    ) -> Self {
        Context {
            incident: IncidentCtx::new(incident, update.status, update.at, detail),
            prompt: update.prompt.as_ref().map(|p| PromptCtx {
                role: p.role.as_str(),
                role_label: p.role.label(),
                audiences: p
                    .audiences
                    .iter()
                    .map(Audience::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                due_at: p.due.to_rfc3339(),
                due_utc: utc(p.due),
                due_in: elapsed(update.at, p.due),
            }),
            update: UpdateCtx {
                seq: update.seq,
                status: update.status.as_str(),
                status_label: update.status.label(),
                at: update.at.to_rfc3339(),
                at_utc: utc(update.at),
                message: &update.message,
                internal_notes: match detail {
                    Detail::Internal => update.internal_notes.as_deref(),
                    Detail::Public => None,
                },
                next_update_at: update.next_update_at.map(|t| t.to_rfc3339()),
                next_update_utc: update.next_update_at.map(utc),
                next_update_local: update.next_update_at.map(|t| local(t, zone)),
                time_zone: zone.name(),
                elapsed: elapsed(incident.started_at(), update.at),
            },
            audience: audience.as_str(),
            detail: detail.as_str(),
            act,
        }
    }
}

/// An incident that exercises every act, for checking templates.
fn sample_incident() -> Result<Incident, crate::incident::ModelError> {
    use crate::incident::{ComponentId, ComponentStatus, Impact, IncidentId, Status, UpdateDraft};
    let t0 = DateTime::<Utc>::UNIX_EPOCH;
    let min = chrono::Duration::minutes;
    let mut inc = Incident::new(IncidentId::new("sample")?, "Sample", Impact::Major, t0)?
        .with_component(
            ComponentId::new("api")?,
            "API",
            ComponentStatus::MajorOutage,
        );
    let drafts = [
        UpdateDraft::new(Status::Investigating, t0 + min(1), "first").next_update_at(t0 + min(30)),
        UpdateDraft::new(Status::Identified, t0 + min(20), "update")
            .internal_notes("notes")
            .next_update_at(t0 + min(50)),
        UpdateDraft::new(Status::Identified, t0 + min(30), "holding")
            .holding()
            .next_update_at(t0 + min(60)),
        UpdateDraft::new(Status::Resolved, t0 + min(40), "resolved"),
        UpdateDraft::new(Status::Postmortem, t0 + min(900), "postmortem"),
    ];
    for d in drafts {
        inc.post(d)?;
    }
    Ok(inc)
}

/// An incident with both roles named, and a prompt to each, for checking
/// templates.
fn sample_prompts() -> Result<Incident, crate::incident::ModelError> {
    use crate::audience::{Route, Target};
    use crate::incident::{Impact, IncidentId, Person, Prompt};
    let t0 = DateTime::<Utc>::UNIX_EPOCH;
    let min = chrono::Duration::minutes;
    let route = |t: &'static str| Route::new("chat", [Target::from_static(t)]);
    let mut inc = Incident::new(IncidentId::new("sample")?, "Sample", Impact::Major, t0)?
        .with_owner(Person::new("Owner", route("@owner"))?)
        .with_commander(Person::new("Commander", route("@commander"))?);
    let due = t0 + min(15);
    let drafts = [
        UpdateDraft::new(Status::Investigating, t0 + min(10), "due").prompt(Prompt::new(
            Role::CommunicationOwner,
            [Audience::Customers],
            due,
        )),
        UpdateDraft::new(Status::Investigating, t0 + min(15), "overdue").prompt(Prompt::new(
            Role::IncidentCommander,
            [Audience::Customers, Audience::Leadership],
            due,
        )),
    ];
    for d in drafts {
        inc.post(d)?;
    }
    Ok(inc)
}

/// A maintenance that exercises every maintenance act, for checking
/// templates.
fn sample_maintenance() -> Result<Incident, crate::incident::ModelError> {
    use crate::incident::{
        ComponentId, ComponentStatus, IncidentId, MaintenanceWindow, Status, UpdateDraft,
    };
    let t0 = DateTime::<Utc>::UNIX_EPOCH;
    let min = chrono::Duration::minutes;
    let window = MaintenanceWindow::new(t0 + min(120), t0 + min(240))?;
    let mut m = Incident::maintenance(IncidentId::new("sample")?, "Sample", window, t0)?
        .with_component(
            ComponentId::new("api")?,
            "API",
            ComponentStatus::UnderMaintenance,
        );
    let drafts = [
        UpdateDraft::new(Status::Scheduled, t0, "announcement").internal_notes("notes"),
        UpdateDraft::new(Status::Scheduled, t0 + min(60), "announcement").reminder(),
        UpdateDraft::new(Status::InProgress, t0 + min(120), "started"),
        UpdateDraft::new(Status::Verifying, t0 + min(200), "verifying"),
        UpdateDraft::new(Status::Completed, t0 + min(230), "completed"),
    ];
    for d in drafts {
        m.post(d)?;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{ComponentId, ComponentStatus, Impact, IncidentId, Status, UpdateDraft};
    use chrono::TimeZone;

    #[test]
    fn next_update_is_written_in_the_audience_time_zone() {
        use crate::audience::AudiencePolicy;
        let t = Templates::new();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap();
        let mut inc = Incident::new(
            IncidentId::new("tz").unwrap(),
            "API errors",
            Impact::Major,
            t0,
        )
        .unwrap();
        inc.post(
            UpdateDraft::new(Status::Investigating, t0, "Looking")
                .next_update_at(t0 + chrono::Duration::minutes(30)),
        )
        .unwrap();
        // Summer time in New York: the abbreviation follows the date.
        let t1 = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        let mut summer = Incident::new(
            IncidentId::new("tz2").unwrap(),
            "API errors",
            Impact::Major,
            t1,
        )
        .unwrap();
        summer
            .post(
                UpdateDraft::new(Status::Investigating, t1, "Looking")
                    .next_update_at(t1 + chrono::Duration::minutes(30)),
            )
            .unwrap();
        let cases = [
            (&inc, chrono_tz::UTC, "Next update by 2026-11-25 14:30 UTC."),
            (
                &inc,
                chrono_tz::Europe::Berlin,
                "Next update by 2026-11-25 15:30 CET.",
            ),
            (
                &inc,
                chrono_tz::Asia::Kolkata,
                "Next update by 2026-11-25 20:00 IST.",
            ),
            // No abbreviation in the tz database: the offset, in full.
            (
                &inc,
                chrono_tz::Asia::Dubai,
                "Next update by 2026-11-25 18:30 UTC+04:00.",
            ),
            (
                &summer,
                chrono_tz::America::New_York,
                "Next update by 2026-07-01 08:30 EDT.",
            ),
        ];
        for (incident, zone, want) in cases {
            let policy = AudiencePolicy::new(Audience::Customers).in_time_zone(zone);
            let m = t
                .render_for(incident, &incident.updates()[0], &policy)
                .unwrap();
            assert_eq!(m.next_update.as_deref(), Some(want), "{zone}");
        }
        // `render` stays in UTC.
        let m = t
            .render(
                &inc,
                &inc.updates()[0],
                &Audience::Customers,
                Detail::Public,
            )
            .unwrap();
        assert_eq!(
            m.next_update.as_deref(),
            Some("Next update by 2026-11-25 14:30 UTC.")
        );
    }

    #[test]
    fn defaults_render_every_act() {
        let t = Templates::new();
        t.check().unwrap();
        let inc = sample_incident().unwrap();
        assert_eq!(inc.updates().len(), 5);
        let first = t
            .render(
                &inc,
                &inc.updates()[0],
                &Audience::Customers,
                Detail::Public,
            )
            .unwrap();
        assert_eq!(first.title, "[Investigating] Sample");
        assert_eq!(first.body, "first\n\nAffected: API (major outage).");
        assert_eq!(
            first.next_update.as_deref(),
            Some("Next update by 1970-01-01 00:30 UTC.")
        );
        let holding = t
            .render(
                &inc,
                &inc.updates()[2],
                &Audience::Customers,
                Detail::Public,
            )
            .unwrap();
        assert_eq!(holding.body, "holding\n\nAffected: API (major outage).");
        assert_eq!(
            holding.next_update.as_deref(),
            Some("Next update by 1970-01-01 01:00 UTC.")
        );
        let res = t
            .render(
                &inc,
                &inc.updates()[3],
                &Audience::Customers,
                Detail::Public,
            )
            .unwrap();
        assert_eq!(res.next_update, None);
        assert!(res.body.contains("lasted 40 min"), "{}", res.body);
    }

    #[test]
    fn internal_notes_only_at_internal_detail_and_never_for_customers() {
        let t = Templates::new();
        let inc = sample_incident().unwrap();
        let up = &inc.updates()[1];
        let internal = t
            .render(&inc, up, &Audience::CoreResponders, Detail::Internal)
            .unwrap();
        assert!(
            internal.body.contains("Internal notes: notes"),
            "{}",
            internal.body
        );
        let public = t
            .render(&inc, up, &Audience::CoreResponders, Detail::Public)
            .unwrap();
        assert!(!public.body.contains("notes"));
        for a in [Audience::Customers, Audience::Employees] {
            let forced = t.render(&inc, up, &a, Detail::Internal).unwrap();
            assert!(!forced.body.contains("notes"), "{a}: {}", forced.body);
        }
    }

    #[test]
    fn overrides_are_checked() {
        assert!(matches!(
            Templates::new().with_template("nope", "x"),
            Err(TemplateError::UnknownTemplate(_))
        ));
        assert!(matches!(
            Templates::new().with_template("title", "{% if %}"),
            Err(TemplateError::Invalid { .. })
        ));
        assert!(matches!(
            Templates::new().with_template("update.public", "{{ update.mesage }}"),
            Err(TemplateError::Invalid { .. })
        ));
        let t = Templates::new()
            .with_template(
                "title",
                "{{ incident.impact | upper }} — {{ incident.title }}",
            )
            .unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap();
        let mut inc = Incident::new(
            IncidentId::new("i").unwrap(),
            "DB down",
            Impact::Critical,
            t0,
        )
        .unwrap()
        .with_component(
            ComponentId::new("db").unwrap(),
            "DB",
            ComponentStatus::MajorOutage,
        );
        let up = inc
            .post(
                UpdateDraft::new(Status::Investigating, t0, "x")
                    .next_update_at(t0 + chrono::Duration::minutes(20)),
            )
            .unwrap()
            .clone();
        let r = t
            .render(&inc, &up, &Audience::Customers, Detail::Public)
            .unwrap();
        assert_eq!(r.title, "CRITICAL — DB down");
        assert_eq!(
            r.next_update.as_deref(),
            Some("Next update by 2026-11-25 14:20 UTC.")
        );
    }

    #[test]
    fn prompts_to_the_roles_have_their_own_templates() {
        let t = Templates::new();
        let inc = sample_prompts().unwrap();
        let owner = t
            .render(
                &inc,
                &inc.updates()[0],
                &Role::CommunicationOwner.audience(),
                Detail::Internal,
            )
            .unwrap();
        assert_eq!(owner.title, "[Update due] Sample");
        assert!(
            owner.body.starts_with("due\n\nImpact: major."),
            "{}",
            owner.body
        );
        assert_eq!(owner.next_update, None);
        let commander = t
            .render(
                &inc,
                &inc.updates()[1],
                &Role::IncidentCommander.audience(),
                Detail::Internal,
            )
            .unwrap();
        assert_eq!(commander.title, "[Update overdue] Sample");
        // The prompt and the roles are template variables.
        let t = t
            .with_template(
                "escalation.internal",
                "{{ prompt.audiences }} were due {{ prompt.due_utc }}; {{ incident.owner }} owns it.",
            )
            .unwrap();
        let custom = t
            .render(
                &inc,
                &inc.updates()[1],
                &Role::IncidentCommander.audience(),
                Detail::Internal,
            )
            .unwrap();
        assert_eq!(
            custom.body,
            "customers, leadership were due 1970-01-01 00:15 UTC; Owner owns it."
        );
    }

    /// Every variable each built-in kind reads, as the type's docs list them.
    const DOCUMENTED: [(&str, &[&str]); 5] = [
        (
            "full_outage",
            &["service", "workaround", "cause", "fix", "prevention"],
        ),
        (
            "degraded_performance",
            &[
                "service",
                "symptom",
                "workaround",
                "cause",
                "fix",
                "prevention",
            ],
        ),
        (
            "third_party",
            &[
                "service",
                "provider",
                "workaround",
                "cause",
                "fix",
                "prevention",
            ],
        ),
        (
            "security",
            &["service", "action", "cause", "fix", "prevention"],
        ),
        (
            "data",
            &[
                "service",
                "data",
                "affected",
                "action",
                "cause",
                "fix",
                "prevention",
            ],
        ),
    ];

    #[test]
    fn every_library_message_renders_at_every_act_and_detail() {
        let t = Templates::new();
        let inc = sample_incident().unwrap();
        assert_eq!(t.message_kinds(), Templates::LIBRARY_KINDS);
        let all = sample_vars();
        for (kind, documented) in DOCUMENTED {
            let needs = Templates::required_variables(kind);
            assert!(needs.contains(&"service"), "{kind}");
            let minimal: MessageVars = needs.iter().map(|v| (*v, format!("the {v}"))).collect();
            let mut read = std::collections::BTreeSet::new();
            for act in Templates::LIBRARY_ACTS {
                for detail in [Detail::Public, Detail::Internal] {
                    for vars in [&minimal, &all] {
                        let text = t.message(kind, act, detail, &inc, vars).unwrap();
                        let name = format!("{kind} {} {}", act.as_str(), detail.as_str());
                        assert!(!text.trim().is_empty(), "{name}");
                        assert!(!text.contains('{') && !text.contains('}'), "{name}: {text}");
                        assert!(!text.contains("  "), "{name}: {text:?}");
                        if detail == Detail::Public {
                            assert!(
                                text.to_lowercase().contains("service"),
                                "{name} does not say what is affected: {text}"
                            );
                            assert!(
                                text.starts_with(|c: char| c.is_uppercase()),
                                "{name}: {text}"
                            );
                            assert!(text.ends_with('.'), "{name}: {text}");
                        }
                        for v in documented {
                            if text.contains(all.get(v).unwrap_or("-")) {
                                read.insert(*v);
                            }
                        }
                    }
                }
                // Without what it needs, it says which variable is missing.
                let err = t
                    .message(kind, act, Detail::Public, &inc, &MessageVars::new())
                    .unwrap_err();
                assert!(
                    matches!(
                        err,
                        TemplateError::MissingVariable {
                            variable: "service",
                            ..
                        }
                    ),
                    "{err}"
                );
            }
            let read: Vec<&str> = read.into_iter().collect();
            let mut documented = documented.to_vec();
            documented.sort_unstable();
            assert_eq!(read, documented, "{kind}: the docs' table is out of date");
        }
        assert!(matches!(
            t.message("nope", Act::FirstContact, Detail::Public, &inc, &all),
            Err(TemplateError::UnknownMessage { .. })
        ));
        assert!(matches!(
            t.message("full_outage", Act::Announcement, Detail::Public, &inc, &all),
            Err(TemplateError::UnknownMessage { .. })
        ));
        assert!(matches!(
            t.message(
                "full_outage",
                Act::Update,
                Detail::Public,
                &inc,
                &all.clone().set("incident", "x")
            ),
            Err(TemplateError::InvalidName(_))
        ));
    }

    #[test]
    fn drafts_in_the_library_s_words_and_kinds_of_your_own() {
        let t = Templates::new();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap();
        let mut inc = Incident::new(
            IncidentId::new("i").unwrap(),
            "Payments failing",
            Impact::Major,
            t0,
        )
        .unwrap();
        let vars = MessageVars::new()
            .set("service", "card payments")
            .set("provider", "our payment provider");
        let draft = t
            .draft("third_party", &inc, Status::Investigating, t0, &vars)
            .unwrap()
            .next_update_at(t0 + chrono::Duration::minutes(30));
        let first = inc.post(draft).unwrap().clone();
        assert_eq!(first.act(), Act::FirstContact);
        assert_eq!(
            first.message,
            "Card payments is affected by a problem at our payment provider. We are working with them to restore it."
        );
        assert!(
            first
                .internal_notes
                .unwrap()
                .starts_with("Third-party incident")
        );
        let later = t
            .draft("third_party", &inc, Status::Identified, t0, &vars)
            .unwrap()
            .next_update_at(t0 + chrono::Duration::minutes(30));
        let update = inc.post(later).unwrap();
        assert_eq!(update.act(), Act::Update);
        assert!(
            update
                .message
                .starts_with("Our payment provider is still working")
        );
        assert!(matches!(
            t.draft("third_party", &inc, Status::Scheduled, t0, &vars),
            Err(TemplateError::UnknownMessage { .. })
        ));

        // A kind of your own, with a variable of its own.
        let t = t
            .with_message_template(
                "cdn",
                Act::FirstContact,
                Detail::Public,
                "Pages load slowly in {{ region }}.",
            )
            .unwrap();
        assert_eq!(t.message_kinds().last().map(String::as_str), Some("cdn"));
        let text = t
            .message(
                "cdn",
                Act::FirstContact,
                Detail::Public,
                &inc,
                &MessageVars::new().set("region", "Asia"),
            )
            .unwrap();
        assert_eq!(text, "Pages load slowly in Asia.");
        assert!(
            t.message("cdn", Act::Update, Detail::Public, &inc, &vars)
                .is_err()
        );
        // Built-in words replaced: checked against every documented variable.
        let t = t
            .with_message_template(
                "full_outage",
                Act::FirstContact,
                Detail::Public,
                "{{ service | sentence }} is down.",
            )
            .unwrap();
        assert_eq!(
            t.message(
                "full_outage",
                Act::FirstContact,
                Detail::Public,
                &inc,
                &vars
            )
            .unwrap(),
            "Card payments is down."
        );
        assert!(matches!(
            Templates::new().with_message_template(
                "full_outage",
                Act::FirstContact,
                Detail::Public,
                "{{ servce }} is down."
            ),
            Err(TemplateError::Invalid { .. })
        ));
        assert!(matches!(
            Templates::new().with_message_template("Full Outage", Act::Update, Detail::Public, "x"),
            Err(TemplateError::InvalidName(_))
        ));
    }

    #[test]
    fn durations_read_naturally() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let m = chrono::Duration::minutes;
        assert_eq!(elapsed(t0, t0 + m(47)), "47 min");
        assert_eq!(elapsed(t0, t0 + m(120)), "2 h");
        assert_eq!(elapsed(t0, t0 + m(125)), "2 h 5 min");
        assert_eq!(elapsed(t0, t0 + m(60 * 24 * 3 + 60 * 4 + 7)), "3 d 4 h");
        assert_eq!(elapsed(t0 + m(5), t0), "0 min");
    }

    #[test]
    fn defaults_render_every_maintenance_act() {
        let t = Templates::new();
        let m = sample_maintenance().unwrap();
        let render = |i: usize, detail| {
            t.render(&m, &m.updates()[i], &Audience::CoreResponders, detail)
                .unwrap()
        };
        let announced = render(0, Detail::Public);
        assert_eq!(announced.title, "[Maintenance scheduled] Sample");
        assert_eq!(
            announced.body,
            "announcement\n\nPlanned from 1970-01-01 02:00 UTC to 1970-01-01 04:00 UTC (2 h).\n\nAffected: API (under maintenance)."
        );
        assert_eq!(
            announced.next_update.as_deref(),
            Some("Next update when the work starts, at 1970-01-01 02:00 UTC.")
        );
        let internal = render(0, Detail::Internal);
        assert!(internal.body.contains("Internal notes: notes"));
        let reminder = render(1, Detail::Public);
        assert_eq!(reminder.title, "[Maintenance reminder] Sample");
        assert_eq!(
            reminder.body,
            "Reminder: this maintenance starts in 1 h, at 1970-01-01 02:00 UTC, and should be over by 1970-01-01 04:00 UTC.\n\nannouncement\n\nAffected: API (under maintenance)."
        );
        let started = render(2, Detail::Public);
        assert_eq!(started.title, "[Maintenance in progress] Sample");
        assert!(
            started
                .body
                .contains("The work is under way; it should be over by 1970-01-01 04:00 UTC.")
        );
        assert_eq!(
            started.next_update.as_deref(),
            Some("Next update by 1970-01-01 04:00 UTC.")
        );
        assert!(render(3, Detail::Public).body.contains("being checked"));
        let done = render(4, Detail::Public);
        assert_eq!(done.title, "[Maintenance completed] Sample");
        assert_eq!(done.body, "completed\n\nThis maintenance is over.");
        assert_eq!(done.next_update, None);
    }
}
