//! Per-component uptime over the last [`DAYS`] days, from what the page
//! recorded: incidents (from their start to their resolution, or now, at the
//! status each update gave the component) and maintenance (its window, or
//! until it was completed).
//!
//! As hosted pages count it: a major outage is downtime, a partial outage
//! counts for 30 % of its time, degraded performance and maintenance count
//! for none. A day's bar shows the worst status the component had that day.
//! Days before the component's start date (its configured `start_date`, else
//! the day the page was first written) have no data and do not count.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use super::config::Config;
use super::maintenance::MaintenanceStatus;
use super::state::PageState;
use crate::incident::{ComponentId, ComponentStatus};

/// How many days the bars cover, today included.
pub(crate) const DAYS: u32 = 90;

/// The share of a partial outage's time counted as downtime.
const PARTIAL_WEIGHT: f64 = 0.3;

/// What a day's bar shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// Before the component's start date.
    NoData,
    /// Nothing recorded.
    Operational,
    /// Under maintenance (not downtime).
    Maintenance,
    /// Degraded performance (not downtime).
    Degraded,
    /// A partial outage.
    Partial,
    /// A major outage.
    Major,
}

impl Level {
    fn of(status: ComponentStatus) -> Self {
        match status {
            ComponentStatus::Operational => Level::Operational,
            ComponentStatus::UnderMaintenance => Level::Maintenance,
            ComponentStatus::DegradedPerformance => Level::Degraded,
            ComponentStatus::PartialOutage => Level::Partial,
            ComponentStatus::MajorOutage => Level::Major,
        }
    }

    /// The CSS class suffix.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::NoData => "nodata",
            Level::Operational => "operational",
            Level::Maintenance => "maintenance",
            Level::Degraded => "degraded",
            Level::Partial => "partial",
            Level::Major => "major",
        }
    }

    /// In words.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Level::NoData => "No data",
            Level::Operational => "No incidents",
            Level::Maintenance => "Maintenance",
            Level::Degraded => "Degraded performance",
            Level::Partial => "Partial outage",
            Level::Major => "Major outage",
        }
    }

    fn weight(self) -> f64 {
        match self {
            Level::Major => 1.0,
            Level::Partial => PARTIAL_WEIGHT,
            _ => 0.0,
        }
    }
}

/// One day of one component.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Day {
    pub(crate) date: NaiveDate,
    pub(crate) level: Level,
    /// Downtime counted that day, in seconds (weighted).
    pub(crate) down_secs: f64,
}

/// The bars of one component, oldest day first, and its uptime.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Uptime {
    pub(crate) days: Vec<Day>,
    /// The share of counted time up, 0 to 100; `None` if no day counts.
    pub(crate) percent: Option<f64>,
}

/// A stretch of time a component spent at one level.
struct Span {
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    level: Level,
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// The spans the recorded incidents and maintenance give `id`, up to `now`.
fn spans(state: &PageState, id: &ComponentId, now: DateTime<Utc>) -> Vec<Span> {
    let mut out = Vec::new();
    for incident in &state.incidents {
        let Some(component) = incident.components.iter().find(|c| &c.id == id) else {
            continue;
        };
        let end = incident.resolved_at().unwrap_or(now).min(now);
        // The status before the first update that sets it is the first one
        // set, else the incident's own.
        let first_set = incident
            .updates
            .iter()
            .flat_map(|u| u.component_changes.iter())
            .find(|(c, _)| c == id)
            .map_or(component.status, |(_, s)| *s);
        let mut from = incident.started_at;
        let mut status = first_set;
        for update in &incident.updates {
            if let Some((_, s)) = update.component_changes.iter().find(|(c, _)| c == id) {
                let at = update.at.clamp(incident.started_at, end);
                if at > from {
                    out.push(Span {
                        from,
                        until: at,
                        level: Level::of(status),
                    });
                    from = at;
                }
                status = *s;
            }
        }
        if end > from {
            out.push(Span {
                from,
                until: end,
                level: Level::of(status),
            });
        }
    }
    for m in &state.maintenances {
        if m.updates().is_empty() || !m.components().contains(id) {
            continue;
        }
        let completed = m
            .updates()
            .iter()
            .find(|u| u.status == MaintenanceStatus::Completed)
            .map(|u| u.at);
        let until = completed
            .unwrap_or_else(|| m.scheduled_until())
            .min(m.scheduled_until())
            .min(now);
        if until > m.scheduled_for() {
            out.push(Span {
                from: m.scheduled_for(),
                until,
                level: Level::Maintenance,
            });
        }
    }
    out
}

/// The bars of every component of the page (in `ids`' order) at `now`.
pub(crate) fn compute(
    config: &Config,
    state: &PageState,
    ids: &[ComponentId],
    now: DateTime<Utc>,
) -> Vec<Uptime> {
    let today = now.date_naive();
    let first_written = state.created_at.unwrap_or(now).date_naive();
    ids.iter()
        .map(|id| {
            let start = config
                .components
                .iter()
                .find(|c| &c.id == id)
                .and_then(|c| c.start_date)
                .unwrap_or(first_written);
            let spans = spans(state, id, now);
            let mut counted = 0.0;
            let mut down = 0.0;
            let days = (0..DAYS)
                .rev()
                .filter_map(|back| today.checked_sub_signed(Duration::days(i64::from(back))))
                .map(|date| {
                    if date < start {
                        return Day {
                            date,
                            level: Level::NoData,
                            down_secs: 0.0,
                        };
                    }
                    let day_from = midnight(date);
                    let day_until = (day_from + Duration::days(1)).min(now);
                    let length = (day_until - day_from).num_milliseconds().max(0) as f64 / 1000.0;
                    let mut level = Level::Operational;
                    let mut day_down = 0.0;
                    for s in &spans {
                        let from = s.from.max(day_from);
                        let until = s.until.min(day_until);
                        if until > from {
                            level = level.max(s.level);
                            day_down += s.level.weight() * (until - from).num_milliseconds() as f64
                                / 1000.0;
                        }
                    }
                    let day_down = day_down.min(length);
                    counted += length;
                    down += day_down;
                    Day {
                        date,
                        level,
                        down_secs: day_down,
                    }
                })
                .collect();
            let percent = (counted > 0.0).then(|| 100.0 * (counted - down) / counted);
            Uptime { days, percent }
        })
        .collect()
}

/// An uptime as hosted pages write it: two decimals, never rounded up to
/// 100 when there was downtime.
pub(crate) fn format_percent(percent: f64) -> String {
    let floored = (percent * 100.0).floor() / 100.0;
    format!("{floored:.2} %")
}

/// A duration of downtime in words: "2 h 5 min", "40 min", "under a minute".
pub(crate) fn format_down(secs: f64) -> String {
    let minutes = (secs / 60.0).floor() as i64;
    match (minutes / 60, minutes % 60) {
        (0, 0) => "under a minute".to_owned(),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_floored_and_durations_read() {
        assert_eq!(format_percent(100.0), "100.00 %");
        assert_eq!(format_percent(99.999), "99.99 %");
        assert_eq!(format_down(30.0), "under a minute");
        assert_eq!(format_down(125.0 * 60.0), "2 h 5 min");
        assert_eq!(format_down(3600.0), "1 h");
        assert!(Level::Major > Level::Partial && Level::Maintenance > Level::Operational);
    }
}
