//! What a publish did, delivery by delivery.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::journal::JournalError;
use crate::audience::{Audience, Target};
use crate::channel::{ChannelError, IdempotencyKey, Part, Receipt};
use crate::incident::IncidentId;
use crate::render::FitError;

/// Where the link every message carries came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkSource {
    /// The primary's permalink.
    Primary,
    /// The incident's canonical URL, because the primary gave no permalink
    /// (it failed, is still busy elsewhere, or the update is not public).
    Canonical {
        /// Why the primary's permalink could not be used.
        reason: String,
    },
}

/// Why a delivery was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The channel failed (after retries, if the error was retryable).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The message cannot fit the channel's limit with its link.
    #[error(transparent)]
    Fit(#[from] FitError),
    /// The journal could not record the delivery, so it was not sent.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// An earlier part of the same split message failed; later parts were held
    /// back so the thread does not arrive out of order.
    #[error("an earlier part of this message failed")]
    EarlierPartFailed,
    /// The channel's circuit breaker is open after repeated failures; the
    /// delivery was not attempted.
    #[error("channel {channel:?} is failing; circuit open, not attempted")]
    CircuitOpen {
        /// The channel's registered name.
        channel: String,
    },
}

impl Failure {
    /// Whether publishing the same update again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Failure::Channel(e) => e.is_retryable(),
            Failure::Journal(_) | Failure::EarlierPartFailed | Failure::CircuitOpen { .. } => true,
            Failure::Fit(_) => false,
        }
    }
}

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
        /// When their claim's lease ends (after which it may be claimed again).
        lease_until: chrono::DateTime<chrono::Utc>,
    },
    /// Not sent.
    Failed(Failure),
}

impl Outcome {
    /// The receipt, if the message is (now or before) delivered.
    pub fn receipt(&self) -> Option<&Receipt> {
        match self {
            Outcome::Sent(r) | Outcome::AlreadySent(r) => Some(r),
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
    /// The audience.
    pub audience: Audience,
    /// The target.
    pub target: Target,
    /// Which part of the message.
    pub part: Part,
    /// What happened.
    pub outcome: Outcome,
    /// How many times the channel was called.
    pub attempts: u32,
    /// From the first attempt (rate-limit waits included) to the outcome.
    pub latency: Duration,
}

/// The report of one [`publish`](super::Dispatcher::publish).
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

    /// How many messages were sent by this publish.
    pub fn sent_now(&self) -> usize {
        self.all()
            .filter(|d| matches!(d.outcome, Outcome::Sent(_)))
            .count()
    }
}
