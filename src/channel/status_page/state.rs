//! What the page knows: every incident it was sent, as customers may see it.
//!
//! The state holds only what the page shows (updates for customers, without
//! internal notes), so `state.json`, which sits beside the pages, reveals
//! nothing the pages do not.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::maintenance::{Maintenance, Phase};
use crate::audience::Audience;
use crate::incident::{
    Component, ComponentId, ComponentStatus, Impact, Incident, IncidentId, Status, Update,
};

/// The version of `state.json` this code writes and reads.
pub(crate) const STATE_VERSION: u32 = 1;

/// Everything the site is rendered from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PageState {
    pub(crate) version: u32,
    /// When the page was first written (the components' `created_at`).
    pub(crate) created_at: Option<DateTime<Utc>>,
    /// Every incident, in order of first publication.
    pub(crate) incidents: Vec<PageIncident>,
    /// Every scheduled maintenance, in order of first publication.
    #[serde(default)]
    pub(crate) maintenances: Vec<Maintenance>,
}

/// An incident as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PageIncident {
    pub(crate) id: IncidentId,
    pub(crate) title: String,
    pub(crate) impact: Impact,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) components: Vec<Component>,
    /// The published updates for customers, oldest first (by sequence number).
    pub(crate) updates: Vec<PageUpdate>,
}

/// One published update, public text only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PageUpdate {
    pub(crate) seq: u32,
    pub(crate) status: Status,
    pub(crate) at: DateTime<Utc>,
    pub(crate) message: String,
    pub(crate) next_update_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) component_changes: Vec<(ComponentId, ComponentStatus)>,
}

impl PageUpdate {
    fn from_update(u: &Update) -> Self {
        Self {
            seq: u.seq,
            status: u.status,
            at: u.at,
            message: u.message.clone(),
            next_update_at: u.next_update_at,
            component_changes: u.component_changes.clone(),
        }
    }
}

impl PageIncident {
    /// The current status: the latest published update's.
    pub(crate) fn status(&self) -> Status {
        self.updates
            .last()
            .map_or(Status::Investigating, |u| u.status)
    }

    /// Whether the incident is still open (not resolved).
    pub(crate) fn is_open(&self) -> bool {
        !self.status().is_closed()
    }

    /// When it was first published (its first update), else when it started.
    pub(crate) fn created_at(&self) -> DateTime<Utc> {
        self.updates.first().map_or(self.started_at, |u| u.at)
    }

    /// When it was last updated.
    pub(crate) fn updated_at(&self) -> DateTime<Utc> {
        self.updates.last().map_or(self.started_at, |u| u.at)
    }

    /// The time of the latest update with `status`.
    pub(crate) fn last_at(&self, status: Status) -> Option<DateTime<Utc>> {
        self.updates
            .iter()
            .rev()
            .find(|u| u.status == status)
            .map(|u| u.at)
    }

    /// When it was resolved, if it was.
    pub(crate) fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.last_at(Status::Resolved)
    }

    fn max_seq(&self) -> u32 {
        self.updates.last().map_or(0, |u| u.seq)
    }
}

impl PageState {
    /// An empty state of the current version.
    pub(crate) fn new() -> Self {
        Self {
            version: STATE_VERSION,
            ..Self::default()
        }
    }

    /// Records that `update` of `incident` was published.
    ///
    /// The page shows the published update and every earlier update that is
    /// for customers; later updates in the snapshot are not published yet and
    /// are left out. Title, impact and components come from the newest
    /// snapshot seen, so publishing an old update again does not roll them
    /// back. Publishing the same update twice changes nothing.
    pub(crate) fn apply(&mut self, incident: &Incident, update: &Update) {
        let index = match self.incidents.iter().position(|i| &i.id == incident.id()) {
            Some(i) => i,
            None => {
                self.incidents.push(PageIncident {
                    id: incident.id().clone(),
                    title: incident.title().to_owned(),
                    impact: incident.impact(),
                    started_at: incident.started_at(),
                    components: incident.components().to_vec(),
                    updates: Vec::new(),
                });
                self.incidents.len() - 1
            }
        };
        let entry = &mut self.incidents[index];
        if update.seq >= entry.max_seq() {
            entry.title = incident.title().to_owned();
            entry.impact = incident.impact();
            entry.started_at = incident.started_at();
            entry.components = incident.components().to_vec();
        }
        let earlier = incident
            .updates()
            .iter()
            .filter(|u| u.seq < update.seq && u.recipients.includes(&Audience::Customers));
        for u in earlier.chain(std::iter::once(update)) {
            upsert_by_seq(&mut entry.updates, PageUpdate::from_update(u), |p| p.seq);
        }
    }

    /// The incident with this id.
    pub(crate) fn incident(&self, id: &IncidentId) -> Option<&PageIncident> {
        self.incidents.iter().find(|i| &i.id == id)
    }

    /// Forgets what is over and was last updated before `cutoff`: closed
    /// (resolved, postmortem) incidents whose latest update is older, and
    /// completed maintenances whose window ended and whose latest update is
    /// older. Open incidents and maintenances not yet completed stay, however
    /// old. Returns how many were forgotten.
    pub(crate) fn forget_before(&mut self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> usize {
        let before = self.incidents.len() + self.maintenances.len();
        self.incidents
            .retain(|i| i.is_open() || i.updated_at() >= cutoff);
        self.maintenances.retain(|m| {
            m.phase(now) != Phase::Completed || m.updated_at().max(m.scheduled_until()) >= cutoff
        });
        before - self.incidents.len() - self.maintenances.len()
    }

    /// Reads a state this version wrote (`state.json`).
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let state: PageState =
            serde_json::from_slice(bytes).map_err(|e| format!("not a status page state: {e}"))?;
        if state.version != STATE_VERSION {
            return Err(format!(
                "version {} of the status page state; this version reads {STATE_VERSION}",
                state.version
            ));
        }
        Ok(state)
    }
}

/// Puts `item` in `list` (kept in sequence order), replacing the item with
/// the same sequence number: how the page records updates published again or
/// out of order.
pub(crate) fn upsert_by_seq<T>(list: &mut Vec<T>, item: T, seq: impl Fn(&T) -> u32) {
    match list.binary_search_by_key(&seq(&item), &seq) {
        Ok(i) => list[i] = item,
        Err(i) => list.insert(i, item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::UpdateDraft;
    use chrono::TimeZone;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap() + chrono::Duration::minutes(min)
    }

    #[test]
    fn apply_keeps_published_customer_updates_only() {
        let mut inc =
            Incident::new(IncidentId::new("i").unwrap(), "T", Impact::Minor, t(0)).unwrap();
        let u1 = inc
            .post(UpdateDraft::new(Status::Investigating, t(1), "one").next_update_at(t(30)))
            .unwrap()
            .clone();
        inc.post(
            UpdateDraft::new(Status::Investigating, t(2), "responders only")
                .only_for([Audience::CoreResponders])
                .next_update_at(t(30)),
        )
        .unwrap();
        let u3 = inc
            .post(UpdateDraft::new(Status::Identified, t(3), "three").next_update_at(t(30)))
            .unwrap()
            .clone();
        inc.post(UpdateDraft::new(Status::Resolved, t(4), "four"))
            .unwrap();

        let mut s = PageState::new();
        s.apply(&inc, &u1);
        assert_eq!(s.incidents[0].updates.len(), 1, "later updates wait");
        s.apply(&inc, &u3);
        let seqs: Vec<u32> = s.incidents[0].updates.iter().map(|u| u.seq).collect();
        assert_eq!(seqs, [1, 3]);
        let before = s.clone();
        s.apply(&inc, &u1);
        assert_eq!(s, before, "republishing changes nothing");
        assert!(s.incidents[0].is_open());
    }

    #[test]
    fn only_what_is_over_and_old_is_forgotten() {
        let id = |s: &str| IncidentId::new(s).unwrap();
        let mut s = PageState::new();
        for (name, closes) in [("old-open", false), ("old-resolved", true)] {
            let mut inc = Incident::new(id(name), "T", Impact::Minor, t(0)).unwrap();
            let u = inc
                .post(UpdateDraft::new(Status::Investigating, t(1), "a").next_update_at(t(30)))
                .unwrap()
                .clone();
            s.apply(&inc, &u);
            if closes {
                let u = inc
                    .post(UpdateDraft::new(Status::Resolved, t(2), "b"))
                    .unwrap()
                    .clone();
                s.apply(&inc, &u);
            }
        }
        let mut recent = Incident::new(id("recent"), "T", Impact::Minor, t(0)).unwrap();
        let u = recent
            .post(UpdateDraft::new(Status::Resolved, t(100), "done"))
            .unwrap()
            .clone();
        s.apply(&recent, &u);
        let mut done = Maintenance::new(id("m-done"), "M", t(0), t(1)).unwrap();
        done.post(
            crate::channel::status_page::MaintenanceStatus::Scheduled,
            t(0),
            "x",
        )
        .unwrap();
        let later = Maintenance::new(id("m-later"), "M", t(200), t(201)).unwrap();
        s.maintenances = vec![done, later];

        assert_eq!(s.forget_before(t(50), t(150)), 2);
        let ids: Vec<&str> = s.incidents.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["old-open", "recent"]);
        let ids: Vec<&str> = s.maintenances.iter().map(|m| m.id().as_str()).collect();
        assert_eq!(ids, ["m-later"]);
        assert_eq!(s.forget_before(t(50), t(150)), 0);
    }

    #[test]
    fn the_state_reads_back_and_other_versions_are_refused() {
        let mut s = PageState::new();
        let mut inc =
            Incident::new(IncidentId::new("i").unwrap(), "T", Impact::Minor, t(0)).unwrap();
        let u = inc
            .post(UpdateDraft::new(Status::Resolved, t(1), "done"))
            .unwrap()
            .clone();
        s.apply(&inc, &u);
        let json = serde_json::to_vec(&s).unwrap();
        assert_eq!(PageState::from_json(&json).unwrap(), s);
        assert!(PageState::from_json(b"{").is_err());
        let mut other = s.clone();
        other.version = 99;
        let err = PageState::from_json(&serde_json::to_vec(&other).unwrap()).unwrap_err();
        assert!(err.contains("99"), "{err}");
    }
}
