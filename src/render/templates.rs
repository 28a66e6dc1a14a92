//! Templates for the acts of incident communication (minijinja).

use std::fmt;

use chrono::{DateTime, Utc};
use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::RenderedMessage;
use crate::audience::{Audience, Detail};
use crate::incident::{Incident, Update};

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
);

/// The message templates: a title, a next-update line, and a body per act and
/// detail level (`"<act>.<detail>"`, for example `"update.public"`; the acts
/// are [`Act`](crate::incident::Act)'s names). Holding statements
/// ([`Update::holding`]) use `"holding.<detail>"`; a scheduled maintenance's
/// acts are `announcement`, `reminder`, `maintenance` (under way) and
/// `completion`.
///
/// Templates see `incident` (`id`, `title`, `impact`, `status`, `status_label`,
/// `started_at`, `started_at_utc`, `components` with `id`, `name`, `status`,
/// `status_label`, and `maintenance`: none for an incident, for a scheduled
/// maintenance `scheduled_for`, `scheduled_for_utc`, `scheduled_until`,
/// `scheduled_until_utc`, `duration` and `starts_in` (from the update to the
/// start, `0 min` once started)), `update` (`seq`, `status`, `status_label`, `at`, `at_utc`,
/// `message`, `internal_notes` (only at internal detail), `next_update_at`,
/// `next_update_utc`, `elapsed`), `audience`, `detail` and `act`. Undefined
/// variables are errors, so a typo is caught when the template is added.
///
/// The link is not a template variable: it is appended when the text is fitted
/// to the channel, so that no template or length limit can drop it.
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
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
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

    /// The default templates.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        if let Ok(syntax) = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        for (name, source) in DEFAULTS {
            // The defaults are tested to parse; a failure here would leave that
            // template missing and surface as a render error, never a panic.
            let _ = env.add_template(name, source);
        }
        Self { env }
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

    /// Renders every template against a sample incident and a sample
    /// maintenance.
    fn check(&self) -> Result<(), TemplateError> {
        for sample in [sample_incident(), sample_maintenance()] {
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
    pub fn render(
        &self,
        incident: &Incident,
        update: &Update,
        audience: &Audience,
        detail: Detail,
    ) -> Result<RenderedMessage, TemplateError> {
        let detail = if audience.may_see_internal() {
            detail
        } else {
            Detail::Public
        };
        let act = if update.holding {
            "holding"
        } else {
            update.act().as_str()
        };
        let ctx = minijinja::Value::from(minijinja::value::Serde(Context::new(
            incident, update, audience, detail, act,
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
    audience: &'a str,
    detail: &'static str,
    act: &'static str,
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
    maintenance: Option<MaintenanceCtx>,
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
    elapsed: String,
}

impl<'a> Context<'a> {
    fn new(
        incident: &'a Incident,
        update: &'a Update,
        audience: &'a Audience,
        detail: Detail,
        act: &'static str,
    ) -> Self {
        Context {
            incident: IncidentCtx {
                id: incident.id().as_str(),
                title: incident.title(),
                impact: incident.impact().as_str(),
                status: update.status.as_str(),
                status_label: update.status.label(),
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
                maintenance: incident.window().map(|w| MaintenanceCtx {
                    scheduled_for: w.scheduled_for().to_rfc3339(),
                    scheduled_for_utc: utc(w.scheduled_for()),
                    scheduled_until: w.scheduled_until().to_rfc3339(),
                    scheduled_until_utc: utc(w.scheduled_until()),
                    duration: elapsed(w.scheduled_for(), w.scheduled_until()),
                    starts_in: elapsed(update.at, w.scheduled_for()),
                }),
            },
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
