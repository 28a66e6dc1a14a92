//! Counters per channel, for export to your metrics system.
//!
//! Read them with [`Dispatcher::metrics`](super::Dispatcher::metrics) and
//! export them under the names in [`names`], labelled by `channel` (the name
//! it is registered under: bounded cardinality, never a recipient).

use std::sync::atomic::{AtomicU64, Ordering};

/// Suggested metric names (Prometheus style), one per field of
/// [`ChannelMetrics`].
pub mod names {
    /// Deliveries sent, by channel.
    pub const SENT: &str = "tidings_deliveries_sent_total";
    /// Deliveries found already sent (re-publish), by channel.
    pub const ALREADY_SENT: &str = "tidings_deliveries_already_sent_total";
    /// Deliveries that failed after their retries (or were never attempted), by channel.
    pub const FAILED: &str = "tidings_deliveries_failed_total";
    /// Calls to the channel, retries included, by channel.
    pub const ATTEMPTS: &str = "tidings_send_attempts_total";
    /// Attempts the provider rate-limited, by channel.
    pub const RATE_LIMITED: &str = "tidings_send_rate_limited_total";
    /// Deliveries not attempted because the channel's circuit was open, by channel.
    pub const CIRCUIT_OPEN: &str = "tidings_circuit_open_total";
    /// Deliveries whose outcome is unknown (recorded in doubt), by channel.
    pub const IN_DOUBT: &str = "tidings_deliveries_in_doubt_total";
    /// Retries the channel's retry budget refused, by channel.
    pub const RETRIES_DENIED: &str = "tidings_retries_denied_total";
}

/// A snapshot of one channel's counters since the dispatcher was built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelMetrics {
    /// The channel's registered name.
    pub channel: String,
    /// Deliveries sent.
    pub sent: u64,
    /// Deliveries found already sent.
    pub already_sent: u64,
    /// Deliveries that failed.
    pub failed: u64,
    /// Calls to the channel.
    pub attempts: u64,
    /// Attempts the provider rate-limited.
    pub rate_limited: u64,
    /// Deliveries refused by the open circuit.
    pub circuit_open: u64,
    /// Deliveries recorded in doubt.
    pub in_doubt: u64,
    /// Retries the retry budget refused.
    pub retries_denied: u64,
}

/// The live counters of one lane.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) already_sent: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) attempts: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) circuit_open: AtomicU64,
    pub(crate) in_doubt: AtomicU64,
    pub(crate) retries_denied: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, channel: &str) -> ChannelMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ChannelMetrics {
            channel: channel.to_owned(),
            sent: get(&self.sent),
            already_sent: get(&self.already_sent),
            failed: get(&self.failed),
            attempts: get(&self.attempts),
            rate_limited: get(&self.rate_limited),
            circuit_open: get(&self.circuit_open),
            in_doubt: get(&self.in_doubt),
            retries_denied: get(&self.retries_denied),
        }
    }
}
