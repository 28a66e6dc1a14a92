//! What a publish did, delivery by delivery.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::audience::{Audience, Target};
use crate::channel::{ChannelError, IdempotencyKey, Part, Receipt};
use crate::incident::IncidentId;
use crate::journal::{DoubtReason, Failure, LinkSource, Owner};

/// What happened to one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Sent now.
    Sent(Receipt),
    /// Sent by an earlier publish of the same update; nothing was sent now.
    AlreadySent(Receipt),
    /// Being sent by someone else sharing the journal; nothing was sent now.
    InFlight {
        /// Who holds the claim.
        owner: Owner,
        /// When their claim's lease ends (after which it may be claimed again).
        lease_until: chrono::DateTime<chrono::Utc>,
    },
    /// Not sent.
    Failed(Failure),
    /// Nobody knows whether the provider got it (a timeout after the request
    /// left, a cancelled publish, a worker that died mid-send). Sent again
    /// with the same key only where the channel deduplicates or the route
    /// says so; otherwise reported here and not resent.
    InDoubt(DoubtReason),
}

impl Outcome {
    /// The receipt, if the message is (now or before) delivered.
    pub fn receipt(&self) -> Option<&Receipt> {
        match self {
            Outcome::Sent(r) | Outcome::AlreadySent(r) => Some(r),
            _ => None,
        }
    }

    /// What the channel said last, if the delivery failed on a channel error
    /// or fell into doubt for lack of an answer.
    pub fn channel_error(&self) -> Option<&ChannelError> {
        match self {
            Outcome::Failed(Failure::Channel(e))
            | Outcome::InDoubt(DoubtReason::NoAnswer { error: e }) => Some(e),
            _ => None,
        }
    }
}

/// One delivery's report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// Its idempotency key.
    pub key: IdempotencyKey,
    /// The channel's registered name.
    pub channel: Arc<str>,
    /// The audience it was planned for (the first, when a target is shared
    /// by several; the journal lists them all).
    pub audience: Audience,
    /// The target.
    pub target: Target,
    /// Which part of the message.
    pub part: Part,
    /// What happened.
    pub outcome: Outcome,
    /// How many times the channel was called by this publish.
    pub attempts: u32,
    /// From the first attempt (rate-limit waits included) to the outcome.
    pub latency: Duration,
    /// Whether this send repeated one whose outcome was unknown (with the
    /// same idempotency key, to a provider that deduplicates by it, or a
    /// route that accepts a duplicate).
    pub resend: bool,
}

/// The report of one [`publish`](super::Dispatcher::publish) (or one outbox
/// pass over an update).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DispatchReport {
    /// The incident.
    pub incident: IncidentId,
    /// The update's sequence number.
    pub seq: u32,
    /// The link every message carried.
    pub link: Url,
    /// Where the link came from.
    pub link_source: LinkSource,
    /// The primary's delivery; `None` when the update is not for customers
    /// (the public page is not updated with it).
    pub primary: Option<DeliveryReport>,
    /// The other deliveries, each one while there are at most the
    /// dispatcher's
    /// [`report_limit`](super::DispatcherBuilder::report_limit) (10,000 by
    /// default); beyond it, those that need attention (not sent) are kept
    /// first and the sent ones are only counted ([`counts`](Self::counts),
    /// [`omitted`](Self::omitted)), so a publish to a million targets does
    /// not hold a million reports. Every delivery, kept here or not, is in
    /// the journal ([`Journal::records`](crate::journal::Journal::records)).
    pub deliveries: Vec<DeliveryReport>,
    /// Every delivery but the primary, counted by outcome, kept in
    /// [`deliveries`](Self::deliveries) or not.
    pub counts: DeliveryCounts,
    /// How many deliveries are counted but not kept in
    /// [`deliveries`](Self::deliveries).
    pub omitted: usize,
    /// Whether something is left for the [outbox](super::Outbox) to finish
    /// (a retryable failure, a delivery in flight elsewhere, one in doubt that
    /// will be resent). `false`: every delivery is settled.
    pub pending: bool,
}

impl DispatchReport {
    /// Every delivery, the primary first.
    pub fn all(&self) -> impl Iterator<Item = &DeliveryReport> {
        self.primary.iter().chain(&self.deliveries)
    }

    /// Whether every delivery, the primary included, is delivered (now or
    /// before); counted, so omitted deliveries count too.
    pub fn all_sent(&self) -> bool {
        self.primary.iter().all(|d| d.outcome.receipt().is_some())
            && self.counts.delivered() == self.counts.total()
    }

    /// Deliveries that failed.
    pub fn failures(&self) -> impl Iterator<Item = (&DeliveryReport, &Failure)> {
        self.all().filter_map(|d| match &d.outcome {
            Outcome::Failed(f) => Some((d, f)),
            _ => None,
        })
    }

    /// Deliveries in doubt.
    pub fn in_doubt(&self) -> impl Iterator<Item = (&DeliveryReport, &DoubtReason)> {
        self.all().filter_map(|d| match &d.outcome {
            Outcome::InDoubt(r) => Some((d, r)),
            _ => None,
        })
    }

    /// How many messages were sent by this publish (the primary included);
    /// counted, so omitted deliveries count too.
    pub fn sent_now(&self) -> usize {
        let primary = self
            .primary
            .iter()
            .filter(|d| matches!(d.outcome, Outcome::Sent(_)))
            .count();
        primary + self.counts.sent
    }
}

/// Deliveries counted by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryCounts {
    /// Sent by this publish.
    pub sent: usize,
    /// Found sent before.
    pub already_sent: usize,
    /// Being sent by another worker.
    pub in_flight: usize,
    /// Failed.
    pub failed: usize,
    /// In doubt.
    pub in_doubt: usize,
}

impl DeliveryCounts {
    /// Every delivery counted.
    pub fn total(&self) -> usize {
        self.sent + self.already_sent + self.in_flight + self.failed + self.in_doubt
    }

    /// Delivered, now or before.
    pub fn delivered(&self) -> usize {
        self.sent + self.already_sent
    }

    pub(crate) fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Sent(_) => self.sent += 1,
            Outcome::AlreadySent(_) => self.already_sent += 1,
            Outcome::InFlight { .. } => self.in_flight += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::InDoubt(_) => self.in_doubt += 1,
        }
    }

    pub(crate) fn merge(&mut self, other: DeliveryCounts) {
        self.sent += other.sent;
        self.already_sent += other.already_sent;
        self.in_flight += other.in_flight;
        self.failed += other.failed;
        self.in_doubt += other.in_doubt;
    }
}

/// The deliveries a pass keeps for its report: every one up to a limit;
/// beyond it, those that need attention before those that were sent.
#[derive(Debug)]
pub(crate) struct Kept {
    limit: usize,
    pub(crate) reports: Vec<DeliveryReport>,
    pub(crate) counts: DeliveryCounts,
    pub(crate) omitted: usize,
}

impl Kept {
    pub(crate) fn new(limit: usize) -> Self {
        Kept {
            limit,
            reports: Vec::new(),
            counts: DeliveryCounts::default(),
            omitted: 0,
        }
    }

    /// Counts `report`, and keeps it if there is room or it needs more
    /// attention than a kept one (which is then dropped).
    pub(crate) fn push(&mut self, report: DeliveryReport) {
        self.counts.add(&report.outcome);
        self.keep(report);
    }

    fn keep(&mut self, report: DeliveryReport) {
        if self.reports.len() < self.limit {
            self.reports.push(report);
            return;
        }
        self.omitted += 1;
        if report.outcome.receipt().is_some() {
            return;
        }
        // Needs attention: it takes the place of the latest sent one.
        if let Some(i) = self
            .reports
            .iter()
            .rposition(|r| r.outcome.receipt().is_some())
        {
            self.reports.remove(i);
            self.reports.push(report);
        }
    }

    /// Another lane's deliveries, within this one's limit.
    pub(crate) fn merge(&mut self, other: Kept) {
        self.counts.merge(other.counts);
        self.omitted += other.omitted;
        for report in other.reports {
            self.keep(report);
        }
    }
}
