//! Rendering the site: HTML pages, the Atom feed, the JSON API, the widget.
//!
//! HTML and Atom come from minijinja templates with HTML auto-escaping on,
//! so every piece of user text (titles, messages, component names, the page
//! name) is escaped wherever it appears; JSON is written by serde_json. Text
//! is also stripped of the characters XML forbids, so every page parses as
//! XML (the HTML is XHTML-compatible) and the feed stays well-formed whatever
//! a message contains. Bidirectional controls in user text are balanced
//! and the text isolated (`<bdi>`, `dir="auto"`, or U+2068…U+2069 in the
//! feed; see [`bidi`](super::bidi)).

use chrono::{DateTime, Utc};
use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::api::{self, Rollup};
use super::bidi;
use super::config::{Config, SubscribeKind, incident_path, maintenance_path};
use super::maintenance::{Maintenance, Phase};
use super::state::{PageIncident, PageState};
use super::store::File;
use super::uptime;
use crate::incident::{ComponentStatus, Impact, IncidentId};

/// The path of the state file, relative to the site root.
pub(crate) const STATE_FILE: &str = "state.json";

/// The most entries the Atom feed carries (the newest).
const FEED_LIMIT: usize = 200;

const TEMPLATES: &[(&str, &str)] = &[
    ("_layout.html", include_str!("templates/_layout.html")),
    ("_updates.html", include_str!("templates/_updates.html")),
    ("index.html", include_str!("templates/index.html")),
    ("incident.html", include_str!("templates/incident.html")),
    (
        "maintenance.html",
        include_str!("templates/maintenance.html"),
    ),
    ("history.atom", include_str!("templates/history.atom")),
];

const STYLE: &str = include_str!("templates/style.css");
const WIDGET: &str = include_str!("templates/widget.js");

/// The templates, parsed once.
pub(crate) struct Site {
    env: Environment<'static>,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site").finish_non_exhaustive()
    }
}

/// Which pages a render writes besides the index, feed and API.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    /// Every incident and maintenance page.
    Everything,
    /// One incident's page.
    Incident(IncidentId),
    /// One maintenance's page.
    Maintenance(IncidentId),
}

impl Site {
    pub(crate) fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_formatter(|out, state, value| {
            // Strings are escaped for XML and HTML alike (`& < > " '`);
            // minijinja's own HTML escaping also turns `/` into `&#x2f;`,
            // which is valid but makes every URL in the source unreadable.
            // Everything else (safe strings, numbers) goes the default way.
            match value.as_str() {
                Some(text) if !value.is_safe() && *state.auto_escape() == AutoEscape::Html => {
                    out.write_str(&escape(text)).map_err(minijinja::Error::from)
                }
                _ => minijinja::escape_formatter(out, state, value),
            }
        });
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()?;
        env.set_syntax(syntax);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    /// Renders the files for `state` at `now`: the pages in `scope`, then the
    /// API, the feed, the widget, the index and last the state itself.
    pub(crate) fn render(
        &self,
        config: &Config,
        state: &PageState,
        now: DateTime<Utc>,
        scope: &Scope,
    ) -> Result<Vec<File>, RenderError> {
        let rollup = Rollup::compute(config, state, now);
        let docs = api::Builder::new(config, state, &rollup);
        let view = View::new(config, &rollup);
        let mut files = Vec::new();

        let incidents: Vec<&PageIncident> = match scope {
            Scope::Everything => state.incidents.iter().collect(),
            Scope::Incident(id) => state.incident(id).into_iter().collect(),
            Scope::Maintenance(_) => Vec::new(),
        };
        for incident in incidents {
            let ctx = view.ctx("../", None, Some(view.incident(incident, "")), None);
            files.push(self.html(&incident_path(&incident.id), "incident.html", &ctx)?);
        }
        let maintenances: Vec<&Maintenance> = match scope {
            Scope::Everything => state.maintenances.iter().collect(),
            Scope::Maintenance(id) => state.maintenances.iter().filter(|m| m.id() == id).collect(),
            Scope::Incident(_) => Vec::new(),
        };
        for m in maintenances {
            let ctx = view.ctx("../", None, None, Some(view.maintenance(m, "")));
            files.push(self.html(&maintenance_path(m.id()), "maintenance.html", &ctx)?);
        }

        let all = docs.incidents(false);
        let unresolved = docs.incidents(true);
        let page = docs.page();
        json(&mut files, "api/v2/summary.json", &docs.summary())?;
        json(&mut files, "api/v2/status.json", &docs.status())?;
        json(
            &mut files,
            "api/v2/components.json",
            &api::ComponentsDocument {
                page: page.clone(),
                components: docs.components(),
            },
        )?;
        json(
            &mut files,
            "api/v2/incidents.json",
            &api::IncidentsDocument {
                page: page.clone(),
                incidents: all,
            },
        )?;
        json(
            &mut files,
            "api/v2/incidents/unresolved.json",
            &api::IncidentsDocument {
                page: page.clone(),
                incidents: unresolved,
            },
        )?;
        for (path, phases) in [
            (
                "api/v2/scheduled-maintenances.json",
                &[Phase::Upcoming, Phase::InProgress, Phase::Completed][..],
            ),
            (
                "api/v2/scheduled-maintenances/upcoming.json",
                &[Phase::Upcoming][..],
            ),
            (
                "api/v2/scheduled-maintenances/active.json",
                &[Phase::InProgress][..],
            ),
        ] {
            json(
                &mut files,
                path,
                &api::MaintenancesDocument {
                    page: page.clone(),
                    scheduled_maintenances: docs.maintenances(phases),
                },
            )?;
        }

        let feed = self.env.get_template("history.atom").and_then(|t| {
            t.render(minijinja::Value::from(minijinja::value::Serde(
                view.feed(config, state),
            )))
        })?;
        files.push(File {
            path: "history.atom".into(),
            bytes: feed.into_bytes(),
        });
        files.push(File {
            path: "widget.js".into(),
            bytes: WIDGET.as_bytes().to_vec(),
        });
        let ctx = view.ctx("", Some(view.index(config, state)), None, None);
        files.push(self.html("index.html", "index.html", &ctx)?);
        json(&mut files, STATE_FILE, state)?;
        Ok(files)
    }

    fn html(&self, path: &str, template: &str, ctx: &Ctx<'_>) -> Result<File, RenderError> {
        let out = self
            .env
            .get_template(template)?
            .render(minijinja::Value::from(minijinja::value::Serde(ctx)))?;
        Ok(File {
            path: path.to_owned(),
            bytes: out.into_bytes(),
        })
    }
}

/// A template or serialisation failure (a bug, never user input).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RenderError {
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

fn json<T: Serialize>(files: &mut Vec<File>, path: &str, value: &T) -> Result<(), RenderError> {
    let pretty = serde_json::to_string_pretty(value)?;
    // `<`, `>` and `&` only occur inside strings in JSON; escaping them keeps
    // the same values while no byte of user text can be sniffed as markup.
    let mut bytes = Vec::with_capacity(pretty.len() + 1);
    for c in pretty.chars() {
        match c {
            '<' => bytes.extend_from_slice(b"\\u003c"),
            '>' => bytes.extend_from_slice(b"\\u003e"),
            '&' => bytes.extend_from_slice(b"\\u0026"),
            c => {
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    bytes.push(b'\n');
    files.push(File {
        path: path.to_owned(),
        bytes,
    });
    Ok(())
}

/// Escapes text for XML and HTML, in element content and in quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text safe in XML 1.0: characters XML forbids (control characters other
/// than tab, line feed and carriage return; U+FFFE, U+FFFF) become U+FFFD.
/// Escaping is the templates' job.
pub(crate) fn xml_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// User text for a page: XML-safe, its bidi controls balanced (the
/// templates isolate it).
fn user_text(s: &str) -> String {
    bidi::balance(&xml_text(s)).into_owned()
}

/// A time for people and machines.
#[derive(Debug, Clone, Serialize)]
struct Time {
    iso: String,
    label: String,
}

fn time(t: DateTime<Utc>) -> Time {
    Time {
        iso: api::timestamp(t),
        label: t.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

fn component_symbol(status: ComponentStatus) -> &'static str {
    match status {
        ComponentStatus::Operational => "✓",
        ComponentStatus::UnderMaintenance => "⚙",
        ComponentStatus::DegradedPerformance => "!",
        ComponentStatus::PartialOutage => "▲",
        ComponentStatus::MajorOutage => "✕",
    }
}

fn impact_label(impact: Impact) -> &'static str {
    match impact {
        Impact::None => "None",
        Impact::Minor => "Minor",
        Impact::Major => "Major",
        Impact::Critical => "Critical",
    }
}

#[derive(Debug, Clone, Serialize)]
struct PageView {
    id: String,
    name: String,
    url: String,
    feed: String,
    updated: Time,
    logo: Option<LogoView>,
    links: Vec<LinkView>,
    subscribe: Vec<SubscribeView>,
    /// CSS for the configured accent (built from validated `#rrggbb`).
    theme: String,
}

#[derive(Debug, Clone, Serialize)]
struct LogoView {
    url: String,
    alt: String,
}

#[derive(Debug, Clone, Serialize)]
struct LinkView {
    label: String,
    url: String,
}

#[derive(Debug, Clone, Serialize)]
struct SubscribeView {
    kind: &'static str,
    endpoint: String,
    label: &'static str,
    field: &'static str,
    input: &'static str,
    autocomplete: &'static str,
}

#[derive(Debug, Clone, Serialize)]
struct DayView {
    level: &'static str,
    title: String,
}

#[derive(Debug, Clone, Serialize)]
struct UptimeView {
    days: Vec<DayView>,
    percent: String,
    summary: String,
}

#[derive(Debug, Clone, Serialize)]
struct StatusView {
    indicator: &'static str,
    description: &'static str,
    symbol: &'static str,
}

#[derive(Debug, Clone, Serialize)]
struct ComponentView {
    name: String,
    description: Option<String>,
    status: &'static str,
    label: &'static str,
    symbol: &'static str,
    uptime: Option<UptimeView>,
}

#[derive(Debug, Clone, Serialize)]
struct UpdateView {
    anchor: String,
    status: &'static str,
    label: &'static str,
    at: Time,
    message: String,
    next: Option<Time>,
}

#[derive(Debug, Clone, Serialize)]
struct IncidentView {
    href: String,
    permalink: String,
    title: String,
    impact: &'static str,
    impact_label: &'static str,
    status: &'static str,
    status_label: &'static str,
    open: bool,
    started: Time,
    resolved: Option<Time>,
    updates: Vec<UpdateView>,
    components: Vec<ComponentView>,
}

#[derive(Debug, Clone, Serialize)]
struct MaintenanceView {
    href: String,
    permalink: String,
    title: String,
    phase: &'static str,
    phase_label: &'static str,
    status_label: &'static str,
    from: Time,
    until: Time,
    updates: Vec<UpdateView>,
    components: Vec<ComponentView>,
}

#[derive(Debug, Clone, Serialize)]
struct IndexView {
    components: Vec<ComponentView>,
    uptime_days: u32,
    active: Vec<IncidentView>,
    history: Vec<IncidentView>,
    maintenance_now: Vec<MaintenanceView>,
    maintenance_past: Vec<MaintenanceView>,
}

#[derive(Debug, Clone, Serialize)]
struct Entry {
    id: String,
    title: String,
    link: String,
    updated: String,
    content: String,
    #[serde(skip)]
    sort: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
struct FeedView<'a> {
    page: &'a PageView,
    id: String,
    updated: String,
    entries: Vec<Entry>,
}

#[derive(Debug, Serialize)]
struct Ctx<'a> {
    root: &'static str,
    style: &'static str,
    page: &'a PageView,
    status: &'a StatusView,
    index: Option<IndexView>,
    incident: Option<IncidentView>,
    maintenance: Option<MaintenanceView>,
}

/// The view model shared by the templates.
struct View<'a> {
    config: &'a Config,
    rollup: &'a Rollup,
    page: PageView,
    status: StatusView,
}

impl<'a> View<'a> {
    fn new(config: &'a Config, rollup: &'a Rollup) -> Self {
        let symbol = match rollup.indicator {
            api::Indicator::None => "✓",
            api::Indicator::Minor => "!",
            api::Indicator::Major => "▲",
            api::Indicator::Critical => "✕",
        };
        Self {
            config,
            rollup,
            page: PageView {
                id: config.page_id.clone(),
                name: user_text(&config.name),
                url: config.base.to_string(),
                feed: config.join("history.atom").to_string(),
                updated: time(rollup.now),
                logo: config.branding.logo.as_ref().map(|(url, alt)| LogoView {
                    url: url.to_string(),
                    alt: user_text(alt),
                }),
                links: config
                    .branding
                    .footer_links
                    .iter()
                    .map(|(label, url)| LinkView {
                        label: user_text(label),
                        url: url.to_string(),
                    })
                    .collect(),
                subscribe: config
                    .subscribe
                    .iter()
                    .map(|s| match s.kind {
                        SubscribeKind::Email => SubscribeView {
                            kind: "email",
                            endpoint: s.endpoint.to_string(),
                            label: "Get e-mail when an incident is created, updated or resolved: your e-mail address",
                            field: "email",
                            input: "email",
                            autocomplete: "email",
                        },
                        SubscribeKind::Webhook => SubscribeView {
                            kind: "webhook",
                            endpoint: s.endpoint.to_string(),
                            label: "Get a webhook call for every incident update: the URL to call",
                            field: "url",
                            input: "url",
                            autocomplete: "url",
                        },
                    })
                    .collect(),
                theme: config
                    .branding
                    .accent
                    .as_ref()
                    .map(|(light, dark)| {
                        format!(
                            ":root {{ --link: {light}; }}\n@media (prefers-color-scheme: dark) {{ :root {{ --link: {dark}; }} }}\n"
                        )
                    })
                    .unwrap_or_default(),
            },
            status: StatusView {
                indicator: rollup.indicator.as_str(),
                description: rollup.description,
                symbol,
            },
        }
    }

    fn ctx(
        &self,
        root: &'static str,
        index: Option<IndexView>,
        incident: Option<IncidentView>,
        maintenance: Option<MaintenanceView>,
    ) -> Ctx<'_> {
        Ctx {
            root,
            style: STYLE,
            page: &self.page,
            status: &self.status,
            index,
            incident,
            maintenance,
        }
    }

    fn component(&self, row: &api::ComponentRow) -> ComponentView {
        ComponentView {
            name: user_text(&row.name),
            description: row.description.as_deref().map(user_text),
            status: row.status.as_str(),
            label: row.status.label(),
            symbol: component_symbol(row.status),
            uptime: None,
        }
    }

    fn uptime(&self, name: &str, u: &uptime::Uptime) -> UptimeView {
        let percent = u.percent.map_or_else(
            || "No data".to_owned(),
            |p| format!("{} uptime", uptime::format_percent(p)),
        );
        let bad_days = u
            .days
            .iter()
            .filter(|d| d.level > uptime::Level::Maintenance)
            .count();
        UptimeView {
            days: u
                .days
                .iter()
                .map(|d| DayView {
                    level: d.level.as_str(),
                    title: if d.down_secs > 0.0 {
                        format!(
                            "{}: {}, {} down",
                            d.date.format("%Y-%m-%d"),
                            d.level.label(),
                            uptime::format_down(d.down_secs)
                        )
                    } else {
                        format!("{}: {}", d.date.format("%Y-%m-%d"), d.level.label())
                    },
                })
                .collect(),
            summary: format!(
                "{name}, last {} days: {percent}; {bad_days} {} with degraded performance or outages",
                uptime::DAYS,
                if bad_days == 1 { "day" } else { "days" }
            ),
            percent,
        }
    }

    fn incident(&self, incident: &PageIncident, prefix: &str) -> IncidentView {
        let status = incident.status();
        IncidentView {
            href: incident_path(&incident.id),
            permalink: self.config.permalink(&incident.id).to_string(),
            title: user_text(&incident.title),
            impact: incident.impact.as_str(),
            impact_label: impact_label(incident.impact),
            status: status.as_str(),
            status_label: status.label(),
            open: incident.is_open(),
            started: time(incident.started_at),
            resolved: incident.resolved_at().map(time),
            updates: incident
                .updates
                .iter()
                .rev()
                .map(|u| UpdateView {
                    anchor: format!("{prefix}update-{}", u.seq),
                    status: u.status.as_str(),
                    label: u.status.label(),
                    at: time(u.at),
                    message: user_text(&u.message),
                    next: u.next_update_at.map(time),
                })
                .collect(),
            // Each affected component with the status this incident gives it.
            components: incident
                .components
                .iter()
                .map(|c| {
                    let status = if incident.is_open() {
                        c.status
                    } else {
                        ComponentStatus::Operational
                    };
                    let name = self
                        .rollup
                        .components
                        .iter()
                        .find(|r| r.id == c.id)
                        .map_or(c.name.as_str(), |r| r.name.as_str());
                    ComponentView {
                        name: user_text(name),
                        description: None,
                        status: status.as_str(),
                        label: status.label(),
                        symbol: component_symbol(status),
                        uptime: None,
                    }
                })
                .collect(),
        }
    }

    fn maintenance(&self, m: &Maintenance, prefix: &str) -> MaintenanceView {
        let now = self.rollup.now;
        let phase = m.phase(now);
        MaintenanceView {
            href: maintenance_path(m.id()),
            permalink: self.config.maintenance_permalink(m.id()).to_string(),
            title: user_text(m.title()),
            phase: match phase {
                Phase::Upcoming => "upcoming",
                Phase::InProgress => "in_progress",
                Phase::Completed => "completed",
            },
            phase_label: phase.label(),
            status_label: m.status(now).label(),
            from: time(m.scheduled_for()),
            until: time(m.scheduled_until()),
            updates: m
                .updates()
                .iter()
                .rev()
                .map(|u| UpdateView {
                    anchor: format!("{prefix}update-{}", u.seq),
                    status: u.status.as_str(),
                    label: u.status.label(),
                    at: time(u.at),
                    message: user_text(&u.message),
                    next: None,
                })
                .collect(),
            components: m
                .components()
                .iter()
                .filter_map(|id| self.rollup.components.iter().find(|r| &r.id == id))
                .map(|row| {
                    let mut view = self.component(row);
                    view.description = None;
                    view
                })
                .collect(),
        }
    }

    fn index(&self, config: &Config, state: &PageState) -> IndexView {
        let mut incidents: Vec<&PageIncident> = state.incidents.iter().collect();
        incidents.sort_by_key(|i| std::cmp::Reverse(i.created_at()));
        let mut history: Vec<&PageIncident> =
            incidents.iter().copied().filter(|i| !i.is_open()).collect();
        history.sort_by_key(|i| std::cmp::Reverse(i.resolved_at().unwrap_or(i.updated_at())));
        let now = self.rollup.now;
        let published = state
            .maintenances
            .iter()
            .filter(|m| !m.updates().is_empty());
        let (past, mut current): (Vec<&Maintenance>, Vec<&Maintenance>) =
            published.partition(|m| m.phase(now) == Phase::Completed);
        current.sort_by_key(|m| m.scheduled_for());
        let mut past = past;
        past.sort_by_key(|m| std::cmp::Reverse(m.scheduled_for()));
        // Ids on the index are prefixed by the incident's (or
        // maintenance's) id, so several open at once never share one.
        let ids: Vec<_> = self
            .rollup
            .components
            .iter()
            .map(|r| r.id.clone())
            .collect();
        let uptimes = uptime::compute(config, state, &ids, now);
        IndexView {
            components: self
                .rollup
                .components
                .iter()
                .zip(&uptimes)
                .map(|(r, u)| {
                    let mut view = self.component(r);
                    view.uptime = Some(self.uptime(&view.name, u));
                    view
                })
                .collect(),
            uptime_days: uptime::DAYS,
            active: incidents
                .iter()
                .filter(|i| i.is_open())
                .map(|i| self.incident(i, &format!("i-{}-", i.id)))
                .collect(),
            history: history
                .into_iter()
                .take(config.history_limit)
                .map(|i| self.incident(i, &format!("i-{}-", i.id)))
                .collect(),
            maintenance_now: current
                .into_iter()
                .map(|m| self.maintenance(m, &format!("m-{}-", m.id())))
                .collect(),
            maintenance_past: past
                .into_iter()
                .take(config.history_limit)
                .map(|m| self.maintenance(m, &format!("m-{}-", m.id())))
                .collect(),
        }
    }

    fn feed(&self, config: &Config, state: &PageState) -> FeedView<'_> {
        let mut entries = Vec::new();
        for incident in &state.incidents {
            let link = config.permalink(&incident.id);
            for u in &incident.updates {
                let mut content = bidi::isolate(&xml_text(&u.message));
                if let Some(next) = u.next_update_at {
                    content.push_str(&format!("\n\nNext update by {}.", time(next).label));
                }
                entries.push(Entry {
                    id: format!("{link}#update-{}", u.seq),
                    title: format!(
                        "[{}] {}",
                        u.status.label(),
                        bidi::isolate(&xml_text(&incident.title))
                    ),
                    link: format!("{link}#update-{}", u.seq),
                    updated: api::timestamp(u.at),
                    content,
                    sort: u.at,
                });
            }
        }
        for m in &state.maintenances {
            let link = config.maintenance_permalink(m.id());
            for u in m.updates() {
                entries.push(Entry {
                    id: format!("{link}#update-{}", u.seq),
                    title: format!(
                        "[Maintenance: {}] {}",
                        u.status.label(),
                        bidi::isolate(&xml_text(m.title()))
                    ),
                    link: format!("{link}#update-{}", u.seq),
                    updated: api::timestamp(u.at),
                    content: format!(
                        "{}\n\nScheduled from {} to {}.",
                        bidi::isolate(&xml_text(&u.message)),
                        time(m.scheduled_for()).label,
                        time(m.scheduled_until()).label
                    ),
                    sort: u.at,
                });
            }
        }
        entries.sort_by(|a, b| b.sort.cmp(&a.sort).then_with(|| b.id.cmp(&a.id)));
        entries.truncate(FEED_LIMIT);
        let updated = entries
            .first()
            .map_or_else(|| api::timestamp(self.rollup.now), |e| e.updated.clone());
        FeedView {
            page: &self.page,
            id: config.join("history.atom").to_string(),
            updated,
            entries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::channel::status_page::theme::{self, contrast, parse_hex};

    /// Every text colour in the style sheet reaches WCAG AA (4.5:1) against
    /// its rule's background, or the page's, in light and in dark mode.
    #[test]
    fn text_colours_have_sufficient_contrast() {
        let hex = |rule: &str, prop: &str| -> Option<[u8; 3]> {
            let at = rule.find(&format!(" {prop}: #"))?;
            let start = at + prop.len() + 3;
            parse_hex(&rule[start..start + 7])
        };
        let light = [
            ("var(--ink)", "#1b1f24"),
            ("var(--muted)", "#4a5260"),
            ("var(--link)", "#0b4fa8"),
        ];
        let dark = [
            ("var(--ink)", "#e6e9ee"),
            ("var(--muted)", "#aab2bf"),
            ("var(--link)", "#8cb8ff"),
        ];
        let mut checked = 0;
        let mut in_dark = false;
        for line in STYLE.lines() {
            if line.starts_with("@media (prefers-color-scheme: dark)") {
                in_dark = true;
                continue;
            }
            if line == "}" {
                in_dark = false;
            }
            let (vars, page_bg) = if in_dark {
                (dark, theme::DARK_BG)
            } else {
                (light, theme::LIGHT_BG)
            };
            let mut rule = line.to_owned();
            for (var, value) in vars {
                rule = rule.replace(var, value);
            }
            // The page's own variables, checked against the page background.
            for (var, value) in vars {
                let ratio = contrast(parse_hex(value).unwrap(), parse_hex(page_bg).unwrap());
                assert!(
                    ratio >= 4.5,
                    "{var} in {}: {ratio:.2}",
                    if in_dark { "dark" } else { "light" }
                );
            }
            let Some(fg) = hex(&rule, "color") else {
                continue;
            };
            let bg = hex(&rule, "background").unwrap_or_else(|| parse_hex(page_bg).unwrap());
            let ratio = contrast(fg, bg);
            assert!(ratio >= 4.5, "{rule}: {ratio:.2}");
            checked += 1;
        }
        assert!(checked >= 25, "{checked}");
    }

    #[test]
    fn templates_parse_and_text_is_xml_safe() {
        assert!(Site::new().is_ok());
        assert_eq!(
            xml_text("a\u{0}b\u{1b}c\td\u{FFFF}"),
            "a\u{FFFD}b\u{FFFD}c\td\u{FFFD}"
        );
        assert!(!STYLE.contains('<') && !STYLE.contains('&'));
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
