//! The gap analysis.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::audience::{Audience, AudiencePolicy, Target};
use crate::cadence::Routing;
use crate::channel::Part;
use crate::dispatch::Dispatcher;
use crate::incident::{Act, Incident, IncidentId, Recipients, Status, Update};
use crate::journal::{DeliveryState, JournalEntry, JournalError, JournalRecord};

/// What kind of message a dot on the timeline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum MessageKind {
    /// The first message about the incident.
    FirstContact,
    /// A regular update.
    Update,
    /// A holding statement: nothing new, sent to keep the cadence.
    Holding,
    /// The resolution.
    Resolution,
    /// The postmortem.
    Postmortem,
    /// A reminder that a scheduled maintenance starts soon.
    Reminder,
}

impl MessageKind {
    /// Every kind, in legend order.
    pub const ALL: [MessageKind; 6] = [
        MessageKind::FirstContact,
        MessageKind::Update,
        MessageKind::Holding,
        MessageKind::Reminder,
        MessageKind::Resolution,
        MessageKind::Postmortem,
    ];

    /// The kind of an update. A scheduled maintenance's announcement counts
    /// as its first contact, its updates under way as updates, and its
    /// completion as its resolution.
    pub fn of(update: &Update) -> Self {
        match update.act() {
            Act::Postmortem => MessageKind::Postmortem,
            Act::Resolution | Act::Completion => MessageKind::Resolution,
            Act::Reminder => MessageKind::Reminder,
            _ if update.holding => MessageKind::Holding,
            Act::FirstContact => MessageKind::FirstContact,
            Act::Announcement | Act::Maintenance if update.seq == 1 => MessageKind::FirstContact,
            Act::Update | Act::Announcement | Act::Maintenance => MessageKind::Update,
        }
    }

    /// A label for people (`"First contact"`).
    pub fn label(self) -> &'static str {
        match self {
            MessageKind::FirstContact => "First contact",
            MessageKind::Update => "Update",
            MessageKind::Holding => "Holding statement",
            MessageKind::Resolution => "Resolution",
            MessageKind::Postmortem => "Postmortem",
            MessageKind::Reminder => "Maintenance reminder",
        }
    }

    /// Whether the incident was over when this was sent (silences after it do
    /// not count).
    pub fn is_closing(self) -> bool {
        matches!(self, MessageKind::Resolution | MessageKind::Postmortem)
    }

    /// The colour of its dot (Okabe–Ito palette, readable with colour-vision
    /// deficiencies).
    pub(super) fn colour(self) -> &'static str {
        match self {
            MessageKind::FirstContact => "#0072B2",
            MessageKind::Update => "#56B4E9",
            MessageKind::Holding => "#E69F00",
            MessageKind::Resolution => "#009E73",
            MessageKind::Postmortem => "#CC79A7",
            // Grey: 4.5:1 against the white background.
            MessageKind::Reminder => "#767676",
        }
    }
}

/// One update as received on a timeline: the first delivery of it that the
/// channel accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// The update's sequence number.
    pub seq: u32,
    /// Its kind.
    pub kind: MessageKind,
    /// When the first of its deliveries was accepted.
    pub at: DateTime<Utc>,
    /// How many deliveries (targets × parts) were sent.
    pub deliveries: usize,
}

/// A silence on a timeline: from the incident start or a message to the next
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gap {
    /// The message before it (`None`: the incident start).
    pub after: Option<u32>,
    /// When it began.
    pub from: DateTime<Utc>,
    /// The message that ended it.
    pub before: u32,
    /// When it ended.
    pub to: DateTime<Utc>,
    /// How long it lasted.
    pub length: Duration,
    /// Whether it was longer than the target.
    pub over_target: bool,
}

/// The messages one audience (or one audience on one channel) received, and
/// the silences between them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeline {
    /// The longest silence allowed.
    pub target: Duration,
    /// Every message, oldest first.
    pub messages: Vec<Message>,
    /// From the incident start to the first message.
    pub first_message: Option<Duration>,
    /// Every silence while the incident was open: from the start to the first
    /// message, then between consecutive messages up to the resolution. For a
    /// scheduled maintenance, only silences while the work was under way
    /// count: they are measured from the window's start (or the first update
    /// saying the work started, if earlier), and those that ended before it
    /// are left out.
    pub gaps: Vec<Gap>,
    /// From the last message before the resolution to the resolution.
    pub last_update_to_resolution: Option<Duration>,
}

impl Timeline {
    /// `quiet_until`: silences before it do not count (a maintenance's
    /// window start).
    fn new(
        mut messages: Vec<Message>,
        start: DateTime<Utc>,
        quiet_until: Option<DateTime<Utc>>,
        target: Duration,
    ) -> Self {
        messages.sort_by_key(|m| (m.at, m.seq));
        let mut gaps = Vec::new();
        let mut previous: Option<&Message> = None;
        for m in &messages {
            let open = previous.is_none_or(|p| !p.kind.is_closing());
            if open && quiet_until.is_none_or(|q| m.at > q) {
                let from = previous.map_or(start, |p| p.at);
                let from = quiet_until.map_or(from, |q| from.max(q));
                let length = span(from, m.at);
                gaps.push(Gap {
                    after: previous.map(|p| p.seq),
                    from,
                    before: m.seq,
                    to: m.at,
                    length,
                    over_target: length > target,
                });
            }
            previous = Some(m);
        }
        let last_update_to_resolution = messages
            .iter()
            .position(|m| m.kind == MessageKind::Resolution)
            .filter(|i| *i > 0)
            .map(|i| span(messages[i - 1].at, messages[i].at));
        Self {
            target,
            first_message: messages.first().map(|m| span(start, m.at)),
            messages,
            gaps,
            last_update_to_resolution,
        }
    }

    /// The longest silence (the first, if several are as long).
    pub fn longest_silence(&self) -> Option<&Gap> {
        self.gaps.iter().rev().max_by_key(|g| g.length)
    }

    /// The silences longer than the target.
    pub fn gaps_over_target(&self) -> impl Iterator<Item = &Gap> {
        self.gaps.iter().filter(|g| g.over_target)
    }

    /// Whether the resolution was received.
    pub fn resolution_received(&self) -> bool {
        self.messages
            .iter()
            .any(|m| m.kind == MessageKind::Resolution)
    }
}

/// One audience, all its channels together.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AudienceReview {
    /// The audience.
    pub audience: Audience,
    /// What it received on any of its routes (not counting the primary).
    pub timeline: Timeline,
}

/// A sent delivery whose text did not carry the link to the source of truth.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingLink {
    /// The update's sequence number.
    pub seq: u32,
    /// The target.
    pub target: Target,
    /// Which part.
    pub part: Part,
    /// When it was sent.
    pub at: DateTime<Utc>,
}

/// A delivery that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedDelivery {
    /// The update's sequence number.
    pub seq: u32,
    /// The target.
    pub target: Target,
    /// Which part.
    pub part: Part,
    /// When it was given up.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// Whether publishing again may still deliver it.
    pub retryable: bool,
    /// How many times the channel was called.
    pub attempts: u32,
}

/// One audience on one channel (or the primary).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelReview {
    /// The channel's registered name.
    pub channel: Arc<str>,
    /// The audience.
    pub audience: Audience,
    /// Whether the channel is the primary.
    pub primary: bool,
    /// What was received on it.
    pub timeline: Timeline,
    /// Sent deliveries without the link.
    pub missing_link: Vec<MissingLink>,
    /// Failed deliveries.
    pub failures: Vec<FailedDelivery>,
    /// Deliveries still in flight when the journal was read.
    pub unfinished: usize,
}

/// One update of the incident, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateSummary {
    /// Its sequence number.
    pub seq: u32,
    /// Its kind.
    pub kind: MessageKind,
    /// The status it set.
    pub status: Status,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// Who it was for.
    pub recipients: Recipients,
}

/// The gap analysis of one incident's communication.
///
/// Build one with [`Dispatcher::review`], or with [`Review::new`] from any
/// journal's records. Times are the journal's (when each channel accepted a
/// message); stamp the incident with [`crate::clock::now`] so that its start
/// and the journal agree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Review {
    /// The incident.
    pub incident: IncidentId,
    /// Its title.
    pub title: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When the resolution was written, if it was.
    pub resolved_at: Option<DateTime<Utc>>,
    /// From the start to the first message on any channel.
    pub first_message: Option<Duration>,
    /// From the last update written before the resolution to the resolution.
    pub last_update_to_resolution: Option<Duration>,
    /// How many deliveries were sent (targets × parts, the primary included).
    pub deliveries_sent: usize,
    /// Every update, in order.
    pub updates: Vec<UpdateSummary>,
    /// Per audience, all its channels together.
    pub audiences: Vec<AudienceReview>,
    /// Per channel and audience: the primary first, then in policy and route
    /// order, then anything else the journal holds.
    pub channels: Vec<ChannelReview>,
}

impl Dispatcher {
    /// The review of `incident`, from the journal and this dispatcher's
    /// audience policies.
    pub async fn review(&self, incident: &Incident) -> Result<Review, JournalError> {
        let records = self.journal().records(incident.id()).await?;
        Ok(Review::new(incident, &records, self.policies()))
    }
}

/// The audience a record was planned for first.
fn first(entry: &JournalEntry) -> Option<&Audience> {
    entry.audiences.first()
}

/// Accumulates one timeline's records.
#[derive(Default)]
struct Acc {
    sent: Vec<(u32, DateTime<Utc>)>,
    missing_link: Vec<MissingLink>,
    failures: Vec<FailedDelivery>,
    unfinished: usize,
}

impl Review {
    /// The review of `incident` from its journal records and the audience
    /// policies (for each audience's target silence; an audience without a
    /// policy gets its tier's default).
    pub fn new<'a>(
        incident: &Incident,
        records: &[JournalRecord],
        policies: impl IntoIterator<Item = &'a AudiencePolicy>,
    ) -> Self {
        let routing = Routing::new(incident, policies);
        let target = |a: &Audience| {
            routing
                .policies
                .iter()
                .find(|p| p.audience() == a)
                .map_or_else(|| a.default_max_silence(), |p| p.longest_silence())
        };
        let records: Vec<&JournalRecord> = records
            .iter()
            .filter(|r| &r.entry.incident == incident.id())
            .collect();

        // Rows: the primary first, then policies' routes, then the rest.
        let mut rows: Vec<(Arc<str>, Audience, bool)> = Vec::new();
        let mut index: HashMap<(Arc<str>, Audience, bool), usize> = HashMap::new();
        let mut add_row = |rows: &mut Vec<_>, key: (Arc<str>, Audience, bool)| {
            if !index.contains_key(&key) {
                index.insert(key.clone(), rows.len());
                rows.push(key);
            }
        };
        for r in records.iter().filter(|r| r.entry.primary) {
            if let Some(a) = first(&r.entry) {
                add_row(&mut rows, (r.entry.channel.clone(), a.clone(), true));
            }
        }
        for policy in &routing.policies {
            for route in policy.routes() {
                add_row(
                    &mut rows,
                    (Arc::from(route.channel()), policy.audience().clone(), false),
                );
            }
        }
        for r in &records {
            for a in &r.entry.audiences {
                add_row(
                    &mut rows,
                    (r.entry.channel.clone(), a.clone(), r.entry.primary),
                );
            }
        }
        let mut audiences: Vec<Audience> = routing
            .policies
            .iter()
            .map(|p| p.audience().clone())
            .collect();
        for r in records.iter().filter(|r| !r.entry.primary) {
            for a in &r.entry.audiences {
                if !audiences.contains(a) {
                    audiences.push(a.clone());
                }
            }
        }

        let mut by_row: Vec<Acc> = rows.iter().map(|_| Acc::default()).collect();
        let mut by_audience: Vec<Vec<(u32, DateTime<Utc>)>> = vec![Vec::new(); audiences.len()];
        let mut first_any: Option<DateTime<Utc>> = None;
        let mut deliveries_sent = 0;
        for r in &records {
            let e = &r.entry;
            let row = |a: &Audience| index.get(&(e.channel.clone(), a.clone(), e.primary));
            match &r.state {
                DeliveryState::Sent(receipt) => {
                    deliveries_sent += 1;
                    first_any = Some(first_any.map_or(receipt.at, |f| f.min(receipt.at)));
                    for audience in routing.reached(r, incident) {
                        if let Some(&i) = row(audience) {
                            by_row[i].sent.push((e.seq, receipt.at));
                        }
                        if !e.primary
                            && let Some(i) = audiences.iter().position(|a| a == audience)
                        {
                            by_audience[i].push((e.seq, receipt.at));
                        }
                    }
                    if !e.has_link
                        && let Some(&i) = first(e).and_then(row)
                    {
                        by_row[i].missing_link.push(MissingLink {
                            seq: e.seq,
                            target: e.target.clone(),
                            part: e.part,
                            at: receipt.at,
                        });
                    }
                }
                DeliveryState::Failed { failure, attempts } => {
                    if let Some(&i) = first(e).and_then(row) {
                        by_row[i].failures.push(FailedDelivery {
                            seq: e.seq,
                            target: e.target.clone(),
                            part: e.part,
                            at: r.updated_at,
                            reason: failure.to_string(),
                            retryable: failure.is_retryable(),
                            attempts: *attempts,
                        });
                    }
                }
                DeliveryState::InDoubt { reason, attempts } => {
                    if let Some(&i) = first(e).and_then(row) {
                        by_row[i].failures.push(FailedDelivery {
                            seq: e.seq,
                            target: e.target.clone(),
                            part: e.part,
                            at: r.updated_at,
                            reason: format!("outcome unknown (in doubt): {reason}"),
                            retryable: false,
                            attempts: *attempts,
                        });
                    }
                }
                DeliveryState::Claimed { .. } => {
                    if let Some(&i) = first(e).and_then(row) {
                        by_row[i].unfinished += 1;
                    }
                }
            }
        }

        let start = incident.started_at();
        // A maintenance: nothing to tell until the work starts (by its
        // window, or earlier if an update said so).
        let quiet_until = incident.window().map(|w| {
            incident
                .updates()
                .iter()
                .find(|u| u.status.is_maintenance() && u.status != Status::Scheduled)
                .map_or(w.scheduled_for(), |u| u.at.min(w.scheduled_for()))
        });
        let kind = |seq: u32| {
            incident
                .update(seq)
                .map_or(MessageKind::Update, MessageKind::of)
        };
        let messages = |sent: &[(u32, DateTime<Utc>)]| -> Vec<Message> {
            let mut out: Vec<Message> = Vec::new();
            for &(seq, at) in sent {
                match out.iter_mut().find(|m| m.seq == seq) {
                    Some(m) => {
                        m.at = m.at.min(at);
                        m.deliveries += 1;
                    }
                    None => out.push(Message {
                        seq,
                        kind: kind(seq),
                        at,
                        deliveries: 1,
                    }),
                }
            }
            out
        };

        let channels = rows
            .into_iter()
            .zip(by_row)
            .map(|((channel, audience, primary), acc)| ChannelReview {
                timeline: Timeline::new(messages(&acc.sent), start, quiet_until, target(&audience)),
                channel,
                audience,
                primary,
                missing_link: acc.missing_link,
                failures: acc.failures,
                unfinished: acc.unfinished,
            })
            .collect();
        let audiences = audiences
            .into_iter()
            .zip(by_audience)
            .map(|(audience, sent)| AudienceReview {
                timeline: Timeline::new(messages(&sent), start, quiet_until, target(&audience)),
                audience,
            })
            .collect();

        let resolved = incident
            .updates()
            .iter()
            .position(|u| matches!(u.status, Status::Resolved | Status::Completed));
        let updates = incident.updates();
        Review {
            incident: incident.id().clone(),
            title: incident.title().to_owned(),
            started_at: start,
            resolved_at: resolved.map(|i| updates[i].at),
            first_message: first_any.map(|f| span(start, f)),
            deliveries_sent,
            last_update_to_resolution: resolved
                .filter(|i| *i > 0)
                .map(|i| span(updates[i - 1].at, updates[i].at)),
            updates: updates
                .iter()
                .map(|u| UpdateSummary {
                    seq: u.seq,
                    kind: MessageKind::of(u),
                    status: u.status,
                    at: u.at,
                    recipients: u.recipients.clone(),
                })
                .collect(),
            audiences,
            channels,
        }
    }

    /// The review of one audience.
    pub fn audience(&self, audience: &Audience) -> Option<&AudienceReview> {
        self.audiences.iter().find(|a| &a.audience == audience)
    }

    /// The review of one channel for one audience.
    pub fn channel(&self, channel: &str, audience: &Audience) -> Option<&ChannelReview> {
        self.channels
            .iter()
            .find(|c| &*c.channel == channel && &c.audience == audience)
    }

    /// Every failed delivery, over all channels.
    pub fn failures(&self) -> impl Iterator<Item = (&ChannelReview, &FailedDelivery)> {
        self.channels
            .iter()
            .flat_map(|c| c.failures.iter().map(move |f| (c, f)))
    }

    /// Every sent delivery without the link, over all channels.
    pub fn missing_links(&self) -> impl Iterator<Item = (&ChannelReview, &MissingLink)> {
        self.channels
            .iter()
            .flat_map(|c| c.missing_link.iter().map(move |m| (c, m)))
    }
}

/// `to - from`, never negative.
pub(super) fn span(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or(Duration::ZERO)
}

/// `45 s`, `3 min`, `2 min 30 s`, `1 h 5 min`, `2 d 3 h`.
pub(super) fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        return format!("{secs} s");
    }
    let (days, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} d"));
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 && days == 0 {
        parts.push(format!("{m} min"));
    }
    if s > 0 && days == 0 && h == 0 {
        parts.push(format!("{s} s"));
    }
    parts.join(" ")
}

pub(super) fn full_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The time of day if on the start's date, else the date too.
pub(super) fn short_time(t: DateTime<Utc>, start: DateTime<Utc>) -> String {
    if t.date_naive() == start.date_naive() {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

pub(super) fn row_name(c: &ChannelReview) -> String {
    if c.primary {
        format!("{} (primary)", c.channel)
    } else {
        c.channel.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        let s = |secs| duration(Duration::from_secs(secs));
        assert_eq!(s(0), "0 s");
        assert_eq!(s(45), "45 s");
        assert_eq!(s(180), "3 min");
        assert_eq!(s(150), "2 min 30 s");
        assert_eq!(s(3600), "1 h");
        assert_eq!(s(3900), "1 h 5 min");
        assert_eq!(s(3905), "1 h 5 min");
        assert_eq!(s(86_400 * 2 + 3 * 3600 + 60), "2 d 3 h");
    }
}
