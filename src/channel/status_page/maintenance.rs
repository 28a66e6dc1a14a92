//! Scheduled maintenance: planned work, announced in advance.
//!
//! A [`Maintenance`] has a window (`scheduled_for` to `scheduled_until`), the
//! components it takes down, and updates. The page shows it as *upcoming*,
//! *in progress* or *completed* ([`Phase`]): from its latest update's status
//! when that says more than "scheduled", else from the time against the window
//! (so it starts and ends on time without anyone posting, as Statuspage's
//! automatic transitions do; the static page changes when it is next rendered:
//! call [`StaticStatusPage::refresh`](super::StaticStatusPage::refresh) at the
//! window's edges).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audience::Audience;
use crate::incident::{ComponentId, Incident, IncidentId, Status};

/// Why a maintenance or one of its updates was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MaintenanceError {
    /// The title was blank or not one line.
    #[error("the maintenance title must be one non-blank line")]
    InvalidTitle,
    /// The window ends before (or when) it starts.
    #[error("the maintenance window ends at {until}, not after its start {from}")]
    EmptyWindow {
        /// `scheduled_for`.
        from: DateTime<Utc>,
        /// `scheduled_until`.
        until: DateTime<Utc>,
    },
    /// An update's message was blank.
    #[error("the maintenance update message is empty")]
    EmptyMessage,
    /// An update is older than the previous one.
    #[error("maintenance update at {at} is before the previous one at {previous}")]
    TimeWentBackwards {
        /// The refused update's time.
        at: DateTime<Utc>,
        /// The previous update's time.
        previous: DateTime<Utc>,
    },
    /// An update was posted after the maintenance was completed.
    #[error("the maintenance is already completed")]
    AlreadyCompleted,
}

/// A maintenance update's status, in Statuspage's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceStatus {
    /// Announced; the work has not started.
    Scheduled,
    /// The work is under way.
    InProgress,
    /// The work is done; the team is checking.
    Verifying,
    /// Over.
    Completed,
}

impl MaintenanceStatus {
    /// The snake-case name used in JSON (`"in_progress"`).
    pub fn as_str(self) -> &'static str {
        match self {
            MaintenanceStatus::Scheduled => "scheduled",
            MaintenanceStatus::InProgress => "in_progress",
            MaintenanceStatus::Verifying => "verifying",
            MaintenanceStatus::Completed => "completed",
        }
    }

    /// A label for people (`"In progress"`).
    pub fn label(self) -> &'static str {
        match self {
            MaintenanceStatus::Scheduled => "Scheduled",
            MaintenanceStatus::InProgress => "In progress",
            MaintenanceStatus::Verifying => "Verifying",
            MaintenanceStatus::Completed => "Completed",
        }
    }
}

impl MaintenanceStatus {
    /// The maintenance status of an incident [`Status`], if it is one.
    pub fn from_status(status: Status) -> Option<Self> {
        match status {
            Status::Scheduled => Some(MaintenanceStatus::Scheduled),
            Status::InProgress => Some(MaintenanceStatus::InProgress),
            Status::Verifying => Some(MaintenanceStatus::Verifying),
            Status::Completed => Some(MaintenanceStatus::Completed),
            _ => None,
        }
    }
}

impl fmt::Display for MaintenanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a maintenance stands for readers of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Announced, not started.
    Upcoming,
    /// Under way (or being verified).
    InProgress,
    /// Over.
    Completed,
}

impl Phase {
    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Upcoming => "Upcoming",
            Phase::InProgress => "In progress",
            Phase::Completed => "Completed",
        }
    }
}

/// One message about a maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceUpdate {
    /// 1 for the announcement, then 2, 3, …
    pub seq: u32,
    /// Status as of this update.
    pub status: MaintenanceStatus,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// The public message.
    pub message: String,
}

/// Planned work on some components, in a window announced in advance.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use tidings::channel::status_page::{Maintenance, MaintenanceStatus, Phase};
/// use tidings::incident::{ComponentId, IncidentId};
///
/// let start = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
/// let mut m = Maintenance::new(
///     IncidentId::new("mnt-1")?,
///     "Database upgrade",
///     start,
///     start + Duration::hours(2),
/// )?
/// .with_component(ComponentId::new("api")?);
/// m.post(MaintenanceStatus::Scheduled, start - Duration::days(3), "The API will be read-only.")?;
/// assert_eq!(m.phase(start - Duration::hours(1)), Phase::Upcoming);
/// assert_eq!(m.phase(start + Duration::minutes(5)), Phase::InProgress);
/// assert_eq!(m.phase(start + Duration::hours(3)), Phase::Completed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    id: IncidentId,
    title: String,
    components: Vec<ComponentId>,
    scheduled_for: DateTime<Utc>,
    scheduled_until: DateTime<Utc>,
    updates: Vec<MaintenanceUpdate>,
}

impl Maintenance {
    /// A maintenance of `title` from `scheduled_for` to `scheduled_until`,
    /// with no update yet. Ids share the incidents' rules (and should not
    /// collide with an incident's).
    pub fn new(
        id: IncidentId,
        title: impl Into<String>,
        scheduled_for: DateTime<Utc>,
        scheduled_until: DateTime<Utc>,
    ) -> Result<Self, MaintenanceError> {
        let title = title.into();
        if title.trim().is_empty() || title.chars().any(char::is_control) {
            return Err(MaintenanceError::InvalidTitle);
        }
        if scheduled_until <= scheduled_for {
            return Err(MaintenanceError::EmptyWindow {
                from: scheduled_for,
                until: scheduled_until,
            });
        }
        Ok(Self {
            id,
            title: title.trim().to_owned(),
            components: Vec::new(),
            scheduled_for,
            scheduled_until,
            updates: Vec::new(),
        })
    }

    /// Adds a component the work affects (shown under maintenance while the
    /// work is in progress).
    #[must_use]
    pub fn with_component(mut self, id: ComponentId) -> Self {
        if !self.components.contains(&id) {
            self.components.push(id);
        }
        self
    }

    /// Posts an update. Refused: a blank message, a time before the previous
    /// update, anything after `Completed`.
    pub fn post(
        &mut self,
        status: MaintenanceStatus,
        at: DateTime<Utc>,
        message: impl Into<String>,
    ) -> Result<&MaintenanceUpdate, MaintenanceError> {
        let message = message.into();
        if message.trim().is_empty() {
            return Err(MaintenanceError::EmptyMessage);
        }
        if let Some(last) = self.updates.last() {
            if last.status == MaintenanceStatus::Completed {
                return Err(MaintenanceError::AlreadyCompleted);
            }
            if at < last.at {
                return Err(MaintenanceError::TimeWentBackwards {
                    at,
                    previous: last.at,
                });
            }
        }
        let seq = u32::try_from(self.updates.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        self.updates.push(MaintenanceUpdate {
            seq,
            status,
            at,
            message: message.trim().to_owned(),
        });
        let last = self.updates.len() - 1;
        Ok(&self.updates[last])
    }

    /// The id.
    pub fn id(&self) -> &IncidentId {
        &self.id
    }
    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }
    /// The affected components.
    pub fn components(&self) -> &[ComponentId] {
        &self.components
    }
    /// When the work starts.
    pub fn scheduled_for(&self) -> DateTime<Utc> {
        self.scheduled_for
    }
    /// When the work ends.
    pub fn scheduled_until(&self) -> DateTime<Utc> {
        self.scheduled_until
    }
    /// Every update, oldest first.
    pub fn updates(&self) -> &[MaintenanceUpdate] {
        &self.updates
    }

    /// The status at `now`: the latest update's, except that a maintenance
    /// still `Scheduled` is `InProgress` inside its window and `Completed`
    /// after it.
    pub fn status(&self, now: DateTime<Utc>) -> MaintenanceStatus {
        match self.updates.last().map(|u| u.status) {
            None | Some(MaintenanceStatus::Scheduled) => {
                if now >= self.scheduled_until {
                    MaintenanceStatus::Completed
                } else if now >= self.scheduled_for {
                    MaintenanceStatus::InProgress
                } else {
                    MaintenanceStatus::Scheduled
                }
            }
            Some(explicit) => explicit,
        }
    }

    /// Upcoming, in progress or completed, at `now`.
    pub fn phase(&self, now: DateTime<Utc>) -> Phase {
        match self.status(now) {
            MaintenanceStatus::Scheduled => Phase::Upcoming,
            MaintenanceStatus::InProgress | MaintenanceStatus::Verifying => Phase::InProgress,
            MaintenanceStatus::Completed => Phase::Completed,
        }
    }

    /// The page's record of a maintenance published as an [`Incident`]
    /// ([`Incident::maintenance`]): its window and components, and its updates
    /// for customers up to `seq` (reminders are not page updates). `None` if
    /// the incident is not a maintenance.
    pub(crate) fn from_incident(incident: &Incident, seq: u32) -> Option<Self> {
        let window = incident.window()?;
        let updates = incident
            .updates()
            .iter()
            .filter(|u| u.seq <= seq && !u.reminder)
            .filter(|u| u.recipients.includes(&Audience::Customers))
            .filter_map(|u| {
                Some(MaintenanceUpdate {
                    seq: u.seq,
                    status: MaintenanceStatus::from_status(u.status)?,
                    at: u.at,
                    message: u.message.clone(),
                })
            })
            .collect();
        Some(Self {
            id: incident.id().clone(),
            title: incident.title().to_owned(),
            components: incident.components().iter().map(|c| c.id.clone()).collect(),
            scheduled_for: window.scheduled_for(),
            scheduled_until: window.scheduled_until(),
            updates,
        })
    }

    /// Takes in `snapshot`, a newer or older record of the same maintenance
    /// (from [`from_incident`](Self::from_incident)): updates are merged by
    /// sequence number; title, components and window come from the snapshot
    /// only if it is at least as new as what is recorded, so publishing an
    /// old update again rolls nothing back.
    pub(crate) fn merge(&mut self, snapshot: Maintenance) {
        let newest = |m: &Maintenance| m.updates.last().map_or(0, |u| u.seq);
        if newest(&snapshot) >= newest(self) {
            self.title = snapshot.title;
            self.components = snapshot.components;
            self.scheduled_for = snapshot.scheduled_for;
            self.scheduled_until = snapshot.scheduled_until;
        }
        for update in snapshot.updates {
            super::state::upsert_by_seq(&mut self.updates, update, |u| u.seq);
        }
    }

    /// When it was announced (its first update), else its start.
    pub(crate) fn created_at(&self) -> DateTime<Utc> {
        self.updates.first().map_or(self.scheduled_for, |u| u.at)
    }

    /// When it was last updated.
    pub(crate) fn updated_at(&self) -> DateTime<Utc> {
        self.updates.last().map_or(self.scheduled_for, |u| u.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(h)
    }

    #[test]
    fn phases_follow_updates_then_time() {
        let id = IncidentId::new("m").unwrap();
        assert!(matches!(
            Maintenance::new(id.clone(), "x", t(2), t(2)),
            Err(MaintenanceError::EmptyWindow { .. })
        ));
        assert_eq!(
            Maintenance::new(id.clone(), "a\nb", t(2), t(3)),
            Err(MaintenanceError::InvalidTitle)
        );
        let mut m = Maintenance::new(id, "Upgrade", t(2), t(4)).unwrap();
        assert_eq!(m.phase(t(1)), Phase::Upcoming);
        m.post(MaintenanceStatus::Scheduled, t(0), "Planned.")
            .unwrap();
        assert_eq!(m.phase(t(3)), Phase::InProgress);
        assert_eq!(m.phase(t(5)), Phase::Completed);
        m.post(MaintenanceStatus::InProgress, t(2), "Started.")
            .unwrap();
        assert_eq!(m.phase(t(9)), Phase::InProgress, "explicit status wins");
        assert!(matches!(
            m.post(MaintenanceStatus::Verifying, t(1), "x"),
            Err(MaintenanceError::TimeWentBackwards { .. })
        ));
        assert_eq!(
            m.post(MaintenanceStatus::Verifying, t(3), " "),
            Err(MaintenanceError::EmptyMessage)
        );
        m.post(MaintenanceStatus::Completed, t(3), "Done.").unwrap();
        assert_eq!(m.phase(t(3)), Phase::Completed);
        assert_eq!(
            m.post(MaintenanceStatus::Verifying, t(3), "x"),
            Err(MaintenanceError::AlreadyCompleted)
        );
        assert_eq!(m.updates().len(), 3);
    }
}
