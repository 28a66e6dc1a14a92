//! The JSON the page publishes, in the shape of the Statuspage public API v2
//! (`/api/v2/summary.json`, `/api/v2/status.json`, and the lists beside them).
//!
//! Field names and enumerations follow what Statuspage-hosted pages serve, so
//! tools that read a Statuspage page (monitoring aggregators, the widget, your
//! own scripts) read this one. The types are public so that Rust programs can
//! read a page too: every one deserializes what it serializes.
//!
//! Every incident update carries the fields Statuspage's own updates carry:
//! `id`, `status`, `body`, `incident_id`, `created_at`, `updated_at`,
//! `display_at`, `affected_components` (`code`, `name`, `old_status`,
//! `new_status`), `deliver_notifications`, `custom_tweet`, `tweet_id` and
//! `twitter_updated_at`. These names were checked against Statuspage's
//! documented incident update model (its API v1 sample responses and the
//! model of its generated clients); that the public v2 documents carry
//! exactly this set, and `old_status` in `affected_components`, is taken
//! from pages served by Statuspage and is unconfirmed by a specification
//! (Statuspage publishes none for v2). The page never tweets:
//! `custom_tweet`, `tweet_id` and `twitter_updated_at` are `null`, and
//! `deliver_notifications` is `true` (every update published was for
//! customers).
//!
//! Other differences from Statuspage, all of them additions or omissions a
//! reader tolerates: `incidents[].status` may be `postmortem` (as on
//! Statuspage, once a postmortem is published); the roll-up
//! `status.indicator` is one of `none`, `minor`, `major`, `critical` (a page
//! only under maintenance says `none` with the description "Service Under
//! Maintenance"); a maintenance's `started_at` is when it went in progress
//! (its `in_progress` update, else the start of its window), `null` while
//! upcoming.
//!
//! User text (names, bodies) has its bidirectional controls balanced: an
//! unclosed override is closed at the end of the text (and before each line
//! break), a closer with nothing to close is dropped; the rest is exact.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::bidi;
use super::config::Config;
use super::maintenance::{Maintenance, MaintenanceStatus, Phase};
use super::state::{PageIncident, PageState};
use crate::incident::{ComponentId, ComponentStatus, Impact};

/// Timestamps as Statuspage writes them: RFC 3339 with milliseconds, UTC.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `page`: which page this is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page {
    /// The page id.
    pub id: String,
    /// The page name.
    pub name: String,
    /// The page's public URL.
    pub url: String,
    /// The time zone times are shown in (`Etc/UTC`).
    pub time_zone: String,
    /// When the page last changed.
    pub updated_at: String,
}

/// The roll-up indicator: the worst of the components and open incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    /// Nothing is wrong.
    None,
    /// Degraded, or a minor incident.
    Minor,
    /// A partial outage, or a major incident.
    Major,
    /// A major outage, or a critical incident.
    Critical,
}

impl Indicator {
    /// The lower-case name (`"major"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::None => "none",
            Indicator::Minor => "minor",
            Indicator::Major => "major",
            Indicator::Critical => "critical",
        }
    }

    fn of_impact(impact: Impact) -> Self {
        match impact {
            Impact::None => Indicator::None,
            Impact::Minor => Indicator::Minor,
            Impact::Major => Indicator::Major,
            Impact::Critical => Indicator::Critical,
        }
    }

    fn of_component(status: ComponentStatus) -> Self {
        match status {
            ComponentStatus::Operational | ComponentStatus::UnderMaintenance => Indicator::None,
            ComponentStatus::DegradedPerformance => Indicator::Minor,
            ComponentStatus::PartialOutage => Indicator::Major,
            ComponentStatus::MajorOutage => Indicator::Critical,
        }
    }
}

/// `status`: the roll-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PageStatus {
    /// `none`, `minor`, `major` or `critical`.
    pub indicator: Indicator,
    /// One of Statuspage's top-level descriptions ("All Systems Operational",
    /// "Partially Degraded Service", "Degraded System Service", "Minor Service
    /// Outage", "Partial System Outage", "Major System Outage", "Service Under
    /// Maintenance").
    pub description: String,
}

/// `components[]`: one component of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Component {
    /// The component id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `operational`, `degraded_performance`, `partial_outage`,
    /// `major_outage` or `under_maintenance`.
    pub status: ComponentStatus,
    /// When the page first listed it.
    pub created_at: String,
    /// When its status last changed (the latest update about it).
    pub updated_at: String,
    /// Its place on the page, from 1.
    pub position: u32,
    /// Its description, if configured.
    pub description: Option<String>,
    /// Whether the page shows it (always).
    pub showcase: bool,
    /// The first day its uptime counts (`YYYY-MM-DD`): the configured
    /// start date, else the day the page was first written.
    pub start_date: Option<String>,
    /// Its group (groups are not supported: `null`).
    pub group_id: Option<String>,
    /// The page id.
    pub page_id: String,
    /// Whether it is a group (never).
    pub group: bool,
    /// Whether it is hidden while operational (never).
    pub only_show_if_degraded: bool,
}

/// `affected_components[]` of an update: a component status the update set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AffectedComponent {
    /// The component id.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its status in this incident before the update (operational before
    /// the first update that set it).
    pub old_status: ComponentStatus,
    /// The status the update set.
    pub new_status: ComponentStatus,
}

/// `incident_updates[]`: one update, newest first in its list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IncidentUpdate {
    /// `<incident id>-u<sequence number>`.
    pub id: String,
    /// The incident's (or maintenance's) status as of this update.
    pub status: String,
    /// The public message.
    pub body: String,
    /// The incident id.
    pub incident_id: String,
    /// When it was written.
    pub created_at: String,
    /// When it was written (updates are not edited).
    pub updated_at: String,
    /// When to display it as written.
    pub display_at: String,
    /// Component statuses this update set, if any.
    pub affected_components: Option<Vec<AffectedComponent>>,
    /// Whether subscribers were to be notified of it (always `true`: the
    /// page publishes only updates for customers).
    pub deliver_notifications: bool,
    /// The text tweeted instead of the body (never: `null`).
    pub custom_tweet: Option<String>,
    /// The id of the tweet posted for it (never: `null`).
    pub tweet_id: Option<String>,
    /// When the tweet was posted (never: `null`).
    pub twitter_updated_at: Option<String>,
}

/// `incidents[]` (and `scheduled_maintenances[]`, which add the window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Incident {
    /// The incident id.
    pub id: String,
    /// Its title.
    pub name: String,
    /// `investigating`, `identified`, `monitoring`, `resolved`, `postmortem`;
    /// for maintenance `scheduled`, `in_progress`, `verifying`, `completed`.
    pub status: String,
    /// `none`, `minor`, `major`, `critical`; `maintenance` for maintenance.
    pub impact: String,
    /// When it was first published.
    pub created_at: String,
    /// When it was last updated.
    pub updated_at: String,
    /// When it started; for maintenance, when it went in progress (`null`
    /// while upcoming).
    pub started_at: Option<String>,
    /// When it last went to monitoring, if it did.
    pub monitoring_at: Option<String>,
    /// When it was resolved (or a maintenance completed), if it was.
    pub resolved_at: Option<String>,
    /// Its permalink: the page every message links to.
    pub shortlink: String,
    /// The page id.
    pub page_id: String,
    /// Every published update, newest first.
    pub incident_updates: Vec<IncidentUpdate>,
    /// The components it affects, with their current status.
    pub components: Vec<Component>,
    /// Maintenance only: when the work starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_for: Option<String>,
    /// Maintenance only: when the work ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_until: Option<String>,
}

/// `/api/v2/summary.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// The page.
    pub page: Page,
    /// Every component, in page order.
    pub components: Vec<Component>,
    /// The unresolved incidents, newest first.
    pub incidents: Vec<Incident>,
    /// The upcoming and in-progress maintenances, soonest first.
    pub scheduled_maintenances: Vec<Incident>,
    /// The roll-up.
    pub status: PageStatus,
}

/// `/api/v2/status.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatusDocument {
    /// The page.
    pub page: Page,
    /// The roll-up.
    pub status: PageStatus,
}

/// `/api/v2/components.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ComponentsDocument {
    /// The page.
    pub page: Page,
    /// Every component.
    pub components: Vec<Component>,
}

/// `/api/v2/incidents.json` and `/api/v2/incidents/unresolved.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IncidentsDocument {
    /// The page.
    pub page: Page,
    /// The incidents, newest first.
    pub incidents: Vec<Incident>,
}

/// `/api/v2/scheduled-maintenances.json` (and `upcoming.json`, `active.json`
/// beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MaintenancesDocument {
    /// The page.
    pub page: Page,
    /// The maintenances, soonest first.
    pub scheduled_maintenances: Vec<Incident>,
}

/// The current state of one component.
#[derive(Debug, Clone)]
pub(crate) struct ComponentRow {
    pub(crate) id: ComponentId,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) status: ComponentStatus,
    pub(crate) updated_at: DateTime<Utc>,
}

/// How bad a component status is, for "worst wins".
fn severity(status: ComponentStatus) -> u8 {
    match status {
        ComponentStatus::Operational => 0,
        ComponentStatus::UnderMaintenance => 1,
        ComponentStatus::DegradedPerformance => 2,
        ComponentStatus::PartialOutage => 3,
        ComponentStatus::MajorOutage => 4,
    }
}

fn worse(a: ComponentStatus, b: ComponentStatus) -> ComponentStatus {
    if severity(b) > severity(a) { b } else { a }
}

/// Everything computed from the state at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Rollup {
    pub(crate) components: Vec<ComponentRow>,
    pub(crate) indicator: Indicator,
    pub(crate) description: &'static str,
    pub(crate) now: DateTime<Utc>,
}

impl Rollup {
    /// The components (configured ones first, in order, then any other an
    /// incident names, in order of appearance), each at the worst status any
    /// open incident or in-progress maintenance gives it; and the overall
    /// indicator, the worst of the components and the open incidents' impacts.
    pub(crate) fn compute(config: &Config, state: &PageState, now: DateTime<Utc>) -> Self {
        let created = state.created_at.unwrap_or(now);
        let mut rows: Vec<ComponentRow> = config
            .components
            .iter()
            .map(|c| ComponentRow {
                id: c.id.clone(),
                name: c.name.clone(),
                description: c.description.clone(),
                status: ComponentStatus::Operational,
                updated_at: created,
            })
            .collect();
        for incident in &state.incidents {
            for c in &incident.components {
                let index = match rows.iter().position(|r| r.id == c.id) {
                    Some(i) => i,
                    None => {
                        rows.push(ComponentRow {
                            id: c.id.clone(),
                            name: c.name.clone(),
                            description: None,
                            status: ComponentStatus::Operational,
                            updated_at: created,
                        });
                        rows.len() - 1
                    }
                };
                let row = &mut rows[index];
                row.updated_at = row.updated_at.max(incident.updated_at());
                if incident.is_open() {
                    row.status = worse(row.status, c.status);
                }
            }
        }
        for m in &state.maintenances {
            if m.updates().is_empty() {
                continue;
            }
            for id in m.components() {
                if let Some(row) = rows.iter_mut().find(|r| &r.id == id) {
                    row.updated_at = row.updated_at.max(m.updated_at().min(now));
                    if m.phase(now) == Phase::InProgress {
                        row.status = worse(row.status, ComponentStatus::UnderMaintenance);
                    }
                }
            }
        }

        let from_components = rows
            .iter()
            .map(|r| Indicator::of_component(r.status))
            .max()
            .unwrap_or(Indicator::None);
        let from_incidents = state
            .incidents
            .iter()
            .filter(|i| i.is_open())
            .map(|i| Indicator::of_impact(i.impact))
            .max()
            .unwrap_or(Indicator::None);
        let indicator = from_components.max(from_incidents);
        let all = |s: ComponentStatus| !rows.is_empty() && rows.iter().all(|r| r.status == s);
        let any = |s: ComponentStatus| rows.iter().any(|r| r.status == s);
        let maintenance = any(ComponentStatus::UnderMaintenance)
            || state
                .maintenances
                .iter()
                .any(|m| !m.updates().is_empty() && m.phase(now) == Phase::InProgress);
        let description = match indicator {
            Indicator::Critical => "Major System Outage",
            Indicator::Major => "Partial System Outage",
            Indicator::Minor if all(ComponentStatus::DegradedPerformance) => {
                "Degraded System Service"
            }
            Indicator::Minor if any(ComponentStatus::DegradedPerformance) => {
                "Partially Degraded Service"
            }
            Indicator::Minor => "Minor Service Outage",
            Indicator::None if maintenance => "Service Under Maintenance",
            Indicator::None => "All Systems Operational",
        };
        Self {
            components: rows,
            indicator,
            description,
            now,
        }
    }

    pub(crate) fn status(&self) -> PageStatus {
        PageStatus {
            indicator: self.indicator,
            description: self.description.to_owned(),
        }
    }
}

/// Builds the documents.
pub(crate) struct Builder<'a> {
    config: &'a Config,
    state: &'a PageState,
    rollup: &'a Rollup,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(config: &'a Config, state: &'a PageState, rollup: &'a Rollup) -> Self {
        Self {
            config,
            state,
            rollup,
        }
    }

    pub(crate) fn page(&self) -> Page {
        Page {
            id: self.config.page_id.clone(),
            name: text(&self.config.name),
            url: self.config.base.to_string(),
            time_zone: "Etc/UTC".to_owned(),
            updated_at: timestamp(self.rollup.now),
        }
    }

    fn component(&self, row: &ComponentRow, position: usize) -> Component {
        let first_written = self
            .state
            .created_at
            .unwrap_or(self.rollup.now)
            .date_naive();
        let start_date = self
            .config
            .components
            .iter()
            .find(|c| c.id == row.id)
            .and_then(|c| c.start_date)
            .unwrap_or(first_written);
        Component {
            id: row.id.to_string(),
            name: text(&row.name),
            status: row.status,
            created_at: timestamp(self.state.created_at.unwrap_or(self.rollup.now)),
            updated_at: timestamp(row.updated_at),
            position: u32::try_from(position + 1).unwrap_or(u32::MAX),
            description: row.description.as_deref().map(text),
            showcase: true,
            start_date: Some(start_date.format("%Y-%m-%d").to_string()),
            group_id: None,
            page_id: self.config.page_id.clone(),
            group: false,
            only_show_if_degraded: false,
        }
    }

    pub(crate) fn components(&self) -> Vec<Component> {
        self.rollup
            .components
            .iter()
            .enumerate()
            .map(|(i, row)| self.component(row, i))
            .collect()
    }

    fn components_of<'i>(&self, ids: impl Iterator<Item = &'i ComponentId>) -> Vec<Component> {
        ids.filter_map(|id| {
            let position = self.rollup.components.iter().position(|r| &r.id == id)?;
            Some(self.component(&self.rollup.components[position], position))
        })
        .collect()
    }

    fn component_name(&self, id: &ComponentId) -> String {
        self.rollup
            .components
            .iter()
            .find(|r| &r.id == id)
            .map_or_else(|| id.to_string(), |r| text(&r.name))
    }

    pub(crate) fn incident(&self, incident: &PageIncident) -> Incident {
        let id = incident.id.to_string();
        // Each component's status in this incident as the updates set it,
        // oldest first, for `old_status`.
        let mut current: Vec<(&ComponentId, ComponentStatus)> = Vec::new();
        let mut updates: Vec<IncidentUpdate> = incident
            .updates
            .iter()
            .map(|u| {
                let affected: Vec<AffectedComponent> = u
                    .component_changes
                    .iter()
                    .map(|(c, s)| {
                        let old = match current.iter_mut().find(|(id, _)| *id == c) {
                            Some((_, status)) => std::mem::replace(status, *s),
                            None => {
                                current.push((c, *s));
                                ComponentStatus::Operational
                            }
                        };
                        AffectedComponent {
                            code: c.to_string(),
                            name: self.component_name(c),
                            old_status: old,
                            new_status: *s,
                        }
                    })
                    .collect();
                update(&id, u.seq, u.status.as_str(), &u.message, u.at, affected)
            })
            .collect();
        updates.reverse();
        Incident {
            id: id.clone(),
            name: text(&incident.title),
            status: incident.status().as_str().to_owned(),
            impact: incident.impact.as_str().to_owned(),
            created_at: timestamp(incident.created_at()),
            updated_at: timestamp(incident.updated_at()),
            started_at: Some(timestamp(incident.started_at)),
            monitoring_at: incident
                .last_at(crate::incident::Status::Monitoring)
                .map(timestamp),
            resolved_at: incident.resolved_at().map(timestamp),
            shortlink: self.config.permalink(&incident.id).to_string(),
            page_id: self.config.page_id.clone(),
            incident_updates: updates,
            components: self.components_of(incident.components.iter().map(|c| &c.id)),
            scheduled_for: None,
            scheduled_until: None,
        }
    }

    pub(crate) fn maintenance(&self, m: &Maintenance) -> Incident {
        let id = m.id().to_string();
        let now = self.rollup.now;
        let status = m.status(now);
        let updates = m
            .updates()
            .iter()
            .rev()
            .map(|u| update(&id, u.seq, u.status.as_str(), &u.message, u.at, Vec::new()))
            .collect();
        let started_at = match m
            .updates()
            .iter()
            .find(|u| u.status == MaintenanceStatus::InProgress)
        {
            Some(u) => Some(u.at),
            None if m.phase(now) != Phase::Upcoming => Some(m.scheduled_for()),
            None => None,
        };
        let completed_at = match m.updates().last() {
            Some(u) if u.status == MaintenanceStatus::Completed => Some(u.at),
            _ if status == MaintenanceStatus::Completed => Some(m.scheduled_until()),
            _ => None,
        };
        Incident {
            id: id.clone(),
            name: text(m.title()),
            status: status.as_str().to_owned(),
            impact: "maintenance".to_owned(),
            created_at: timestamp(m.created_at()),
            updated_at: timestamp(m.updated_at()),
            started_at: started_at.map(timestamp),
            monitoring_at: None,
            resolved_at: completed_at.map(timestamp),
            shortlink: self.config.maintenance_permalink(m.id()).to_string(),
            page_id: self.config.page_id.clone(),
            incident_updates: updates,
            components: self.components_of(m.components().iter()),
            scheduled_for: Some(timestamp(m.scheduled_for())),
            scheduled_until: Some(timestamp(m.scheduled_until())),
        }
    }

    /// Every incident, newest first.
    pub(crate) fn incidents(&self, only_open: bool) -> Vec<Incident> {
        let mut list: Vec<&PageIncident> = self
            .state
            .incidents
            .iter()
            .filter(|i| !only_open || i.is_open())
            .collect();
        list.sort_by_key(|i| std::cmp::Reverse(i.created_at()));
        list.into_iter().map(|i| self.incident(i)).collect()
    }

    /// Published maintenances in the given phases, soonest first.
    pub(crate) fn maintenances(&self, phases: &[Phase]) -> Vec<Incident> {
        let mut list: Vec<&Maintenance> = self
            .state
            .maintenances
            .iter()
            .filter(|m| !m.updates().is_empty() && phases.contains(&m.phase(self.rollup.now)))
            .collect();
        list.sort_by_key(|m| m.scheduled_for());
        list.into_iter().map(|m| self.maintenance(m)).collect()
    }

    pub(crate) fn summary(&self) -> Summary {
        Summary {
            page: self.page(),
            components: self.components(),
            incidents: self.incidents(true),
            scheduled_maintenances: self.maintenances(&[Phase::Upcoming, Phase::InProgress]),
            status: self.rollup.status(),
        }
    }

    pub(crate) fn status(&self) -> StatusDocument {
        StatusDocument {
            page: self.page(),
            status: self.rollup.status(),
        }
    }
}

/// User text for the JSON: exact but for its bidi controls, balanced.
fn text(s: &str) -> String {
    bidi::balance(s).into_owned()
}

/// One entry of `incident_updates[]`.
fn update(
    incident_id: &str,
    seq: u32,
    status: &str,
    body: &str,
    at: DateTime<Utc>,
    affected: Vec<AffectedComponent>,
) -> IncidentUpdate {
    IncidentUpdate {
        id: format!("{incident_id}-u{seq}"),
        status: status.to_owned(),
        body: text(body),
        incident_id: incident_id.to_owned(),
        created_at: timestamp(at),
        updated_at: timestamp(at),
        display_at: timestamp(at),
        affected_components: (!affected.is_empty()).then_some(affected),
        deliver_notifications: true,
        custom_tweet: None,
        tweet_id: None,
        twitter_updated_at: None,
    }
}
