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
    /// Every other delivery.
    pub deliveries: Vec<DeliveryReport>,
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
    /// before).
    pub fn all_sent(&self) -> bool {
        self.all().all(|d| d.outcome.receipt().is_some())
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

    /// How many messages were sent by this publish.
    pub fn sent_now(&self) -> usize {
        self.all()
            .filter(|d| matches!(d.outcome, Outcome::Sent(_)))
            .count()
    }
}
