//! Statuspage's wire types: what is sent, what comes back.

use super::*;

pub(super) fn is_statuspage_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `text` cut to at most `max` characters: whole graphemes, then `…`.
pub(super) fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    if text.chars().count() <= max {
        return Cow::Borrowed(text);
    }
    let budget = max.saturating_sub(1);
    let mut out = String::new();
    let mut used = 0;
    for g in text.graphemes(true) {
        let n = g.chars().count();
        if used + n > budget {
            break;
        }
        used += n;
        out.push_str(g);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    Cow::Owned(out)
}

/// Each component's status as of update `seq`, not as of the latest update,
/// so publishing an update late (or again) sends what that update said: the
/// latest change made by update `seq` or an earlier one; else the current
/// status if no later update changed it; else unknown (`None`).
pub(super) fn statuses_as_of(
    incident: &Incident,
    seq: u32,
) -> impl Iterator<Item = (&ComponentId, Option<ComponentStatus>)> {
    incident.components().iter().map(move |c| {
        let mut as_of = None;
        let mut changed_later = false;
        for update in incident.updates() {
            for (id, status) in &update.component_changes {
                if id == &c.id {
                    if update.seq <= seq {
                        as_of = Some(*status);
                    } else {
                        changed_later = true;
                    }
                }
            }
        }
        let status = match (as_of, changed_later) {
            (Some(status), _) => Some(status),
            (None, false) => Some(c.status),
            (None, true) => None,
        };
        (&c.id, status)
    })
}

/// Our status as a Statuspage incident status (realtime, or scheduled for a
/// maintenance); the postmortem has none.
pub(super) fn status_name(status: Status) -> Option<&'static str> {
    match status {
        Status::Postmortem => None,
        // Statuspage's names are ours.
        other => Some(other.as_str()),
    }
}

#[derive(Serialize)]
pub(super) struct Envelope<'a> {
    pub(super) incident: IncidentFields<'a>,
}

#[derive(Serialize)]
pub(super) struct IncidentFields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<Cow<'a, str>>,
    pub(super) status: &'static str,
    pub(super) body: &'a str,
    pub(super) impact_override: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) components: BTreeMap<&'a str, &'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) component_ids: Vec<&'a str>,
    pub(super) deliver_notifications: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) metadata: Option<BTreeMap<&'static str, Tag<'a>>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(super) schedule: Option<Schedule>,
}

/// The fields that make a created incident a scheduled maintenance.
#[derive(Serialize)]
pub(super) struct Schedule {
    pub(super) scheduled_for: chrono::DateTime<chrono::Utc>,
    pub(super) scheduled_until: chrono::DateTime<chrono::Utc>,
    pub(super) scheduled_remind_prior: bool,
    pub(super) scheduled_auto_in_progress: bool,
    pub(super) scheduled_auto_completed: bool,
    pub(super) auto_transition_to_maintenance_state: bool,
    pub(super) auto_transition_to_operational_state: bool,
    pub(super) auto_transition_deliver_notifications_at_start: bool,
    pub(super) auto_transition_deliver_notifications_at_end: bool,
}

#[derive(Serialize)]
pub(super) struct Tag<'a> {
    pub(super) incident_id: &'a str,
}

/// The fields of Statuspage's Incident the channel reads.
#[derive(Deserialize)]
pub(super) struct IncidentAnswer {
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) shortlink: Option<String>,
    #[serde(default)]
    pub(super) metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub(super) incident_updates: Option<Vec<UpdateAnswer>>,
}

#[derive(Deserialize)]
pub(super) struct UpdateAnswer {
    #[serde(default)]
    pub(super) status: Option<String>,
    #[serde(default)]
    pub(super) body: Option<String>,
}

impl IncidentAnswer {
    pub(super) fn is_ours(&self, incident_id: &str) -> bool {
        self.metadata
            .as_ref()
            .and_then(|m| m.get(METADATA_KEY))
            .and_then(|t| t.get("incident_id"))
            .and_then(serde_json::Value::as_str)
            == Some(incident_id)
    }

    pub(super) fn has_update(&self, status: &str, body: &str) -> bool {
        self.incident_updates.iter().flatten().any(|u| {
            u.status.as_deref() == Some(status) && u.body.as_deref().map(str::trim) == Some(body)
        })
    }
}
