//! An in-memory channel that records what it is given.
//!
//! Use it to test your own incident flows without a network, in the offline
//! drill, and as a primary in tests (its receipts carry a permalink). It can be
//! told to fail or to be slow, so retry and isolation paths can be exercised.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use tidings::channel::memory::MemoryChannel;
//! use tidings::prelude::*;
//!
//! let page = Arc::new(MemoryChannel::primary("https://status.example.com/".parse()?));
//! let chat = Arc::new(MemoryChannel::new());
//! let dispatcher = Dispatcher::builder("https://status.example.com/incidents/{id}")
//!     .primary("status-page", page.clone())
//!     .channel("chat", chat.clone())
//!     .audience(
//!         AudiencePolicy::new(Audience::CoreResponders)
//!             .route(Route::new("chat", [Target::new("#incidents")?])),
//!     )
//!     .build()?;
//!
//! let t0 = chrono::Utc::now();
//! let mut incident = Incident::new(IncidentId::new("inc-1")?, "API errors", Impact::Major, t0)?;
//! let first = incident
//!     .post(UpdateDraft::new(Status::Investigating, t0, "Errors on the API.")
//!         .next_update_at(t0 + chrono::Duration::minutes(30)))?
//!     .clone();
//! let report = dispatcher.publish(&incident, &first).await?;
//! assert!(report.all_sent());
//! assert!(chat.texts()[0].ends_with("https://status.example.com/incidents/inc-1"));
//! # Ok(())
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use url::Url;

use super::{
    Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, IdempotencyKey, MessageRef,
    Receipt,
};

/// Records every delivery; optionally acts as the primary.
pub struct MemoryChannel {
    limits: ChannelLimits,
    permalink_base: Option<Url>,
    latency: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    sent: Vec<Delivery>,
    failures: VecDeque<ChannelError>,
    attempts: u64,
    /// With deduplication: the receipt of every key recorded.
    seen: Option<HashMap<IdempotencyKey, Receipt>>,
    duplicates: u64,
}

impl fmt::Debug for MemoryChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryChannel")
            .field("limits", &self.limits)
            .field("permalink_base", &self.permalink_base)
            .field("latency", &self.latency)
            .field("recorded", &self.len())
            .finish()
    }
}

impl Default for MemoryChannel {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryChannel {
    /// A recorder with no limits that threads (each receipt has a message ref).
    pub fn new() -> Self {
        Self {
            limits: ChannelLimits::new().threaded(),
            permalink_base: None,
            latency: Duration::ZERO,
            state: Mutex::new(State::default()),
        }
    }

    /// A recorder usable as the primary: receipts carry the permalink
    /// `<base>incidents/<incident id>`.
    pub fn primary(base: Url) -> Self {
        let mut ch = Self::new();
        ch.limits.primary = true;
        ch.permalink_base = Some(base);
        ch
    }

    /// Replaces the limits (text limit, rates) the channel reports. Whether it
    /// is a primary, and whether it deduplicates, stay as constructed.
    #[must_use]
    pub fn with_limits(mut self, limits: ChannelLimits) -> Self {
        let (primary, deduplicates) = (self.limits.primary, self.limits.deduplicates);
        self.limits = limits;
        self.limits.primary = primary;
        self.limits.deduplicates = deduplicates;
        self
    }

    /// Makes the channel deduplicate by idempotency key, as a Standard
    /// Webhooks receiver or Mastodon does: a key sent again is not recorded
    /// again (it is counted in [`MemoryChannel::duplicates`]) and gets the
    /// first receipt. Its limits say so
    /// ([`ChannelLimits::deduplicates`]), so the dispatcher resends a
    /// delivery whose outcome is unknown.
    #[must_use]
    pub fn with_deduplication(mut self) -> Self {
        self.limits.deduplicates = true;
        self.lock().seen = Some(HashMap::new());
        self
    }

    /// How many sends repeated a key already recorded (with deduplication).
    pub fn duplicates(&self) -> u64 {
        self.lock().duplicates
    }

    /// Makes every send take `latency` (on tokio's clock, so paused-clock tests
    /// stay instant).
    #[must_use]
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The next send fails with `error` (queued: call several times for several
    /// failures in a row).
    pub fn fail_next(&self, error: ChannelError) {
        self.lock().failures.push_back(error);
    }

    /// Every delivery recorded so far, in the order sent.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().sent.clone()
    }

    /// The text of every delivery recorded so far.
    pub fn texts(&self) -> Vec<String> {
        self.lock()
            .sent
            .iter()
            .map(|d| d.text.to_string())
            .collect()
    }

    /// How many deliveries were recorded.
    pub fn len(&self) -> usize {
        self.lock().sent.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many times `send` was called, failures included.
    pub fn attempts(&self) -> u64 {
        self.lock().attempts
    }

    /// Forgets what was recorded (scripted failures stay queued).
    pub fn clear(&self) {
        let mut s = self.lock();
        s.sent.clear();
        s.attempts = 0;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` inconsistent (every
        // update is a single push or pop), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Channel for MemoryChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::MEMORY
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        self.lock().attempts += 1;
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let mut s = self.lock();
        if let Some(err) = s.failures.pop_front() {
            return Err(err);
        }
        if let Some(receipt) = s.seen.as_ref().and_then(|seen| seen.get(&delivery.key)) {
            let receipt = receipt.clone();
            s.duplicates += 1;
            return Ok(receipt);
        }
        s.sent.push(delivery.clone());
        let n = s.sent.len();
        let mut receipt =
            Receipt::new(crate::clock::now()).with_message_ref(MessageRef::new(format!("mem-{n}")));
        if let Some(base) = &self.permalink_base {
            let permalink = base
                .join(&format!("incidents/{}", delivery.incident.id()))
                .map_err(|e| ChannelError::Config {
                    reason: format!("cannot build the permalink: {e}"),
                })?;
            receipt = receipt.with_permalink(permalink);
        }
        if let Some(seen) = s.seen.as_mut() {
            seen.insert(delivery.key.clone(), receipt.clone());
        }
        Ok(receipt)
    }
}
