//! Metrics: through the [`metrics`](https://docs.rs/metrics) facade, and as
//! counters per channel.
//!
//! Every delivery, attempt, rate-limit wait and breaker change is recorded
//! through the `metrics` facade under the names in [`emitted`]: install any
//! recorder (Prometheus, StatsD, OpenTelemetry …) and they are exported; with
//! none, they cost next to nothing. Labels have bounded cardinality: the
//! channel's registered name, an outcome, an error kind; never a recipient
//! or an incident. `examples/metrics.rs` exposes them with
//! `metrics-exporter-prometheus`.
//!
//! The same counts are kept per channel since the dispatcher was built:
//! [`Dispatcher::metrics`](super::Dispatcher::metrics) gives a snapshot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metrics::SharedString;

/// The names recorded through the `metrics` facade.
pub mod emitted {
    /// Counter: deliveries by `channel` and `outcome` (`sent`,
    /// `already_sent`, `failed`, `in_doubt`, `in_flight`).
    pub const DELIVERIES: &str = "tidings_deliveries_total";
    /// Counter: failed deliveries by `channel` and `kind` (an error kind:
    /// `transient`, `rejected`, `circuit_open`, `panicked`, …).
    pub const FAILURES: &str = "tidings_delivery_failures_total";
    /// Counter: calls to the channel, retries included, by `channel`.
    pub const ATTEMPTS: &str = "tidings_send_attempts_total";
    /// Histogram: seconds one call to the channel took, by `channel`.
    pub const SEND_SECONDS: &str = "tidings_send_seconds";
    /// Counter: answers that were rate limits, by `channel`.
    pub const RATE_LIMITED: &str = "tidings_rate_limited_total";
    /// Histogram: seconds a delivery waited for a provider's pause or the
    /// rate limiters before its attempt, by `channel` (only waits > 0).
    pub const RATE_LIMIT_WAIT_SECONDS: &str = "tidings_rate_limit_wait_seconds";
    /// Gauge: 1 while the channel's circuit is open (or a probe is out), 0
    /// when closed, by `channel`.
    pub const CIRCUIT_OPEN: &str = "tidings_circuit_open";
    /// Counter: retries the retry budget refused, by `channel`.
    pub const RETRIES_DENIED: &str = "tidings_retries_denied_total";
    /// Gauge: audiences overdue, by `incident`, as last seen by the
    /// cadence ([`Dispatcher::cadence`](crate::dispatch::Dispatcher::cadence),
    /// which holding statements and `watch` read); 0 once the incident is
    /// closed.
    pub const AUDIENCES_OVERDUE: &str = "tidings_audiences_overdue";
}

/// Sets the overdue gauge of one incident.
pub(crate) fn overdue(incident: &crate::incident::IncidentId, audiences: usize) {
    // An audience count is far below 2^52: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let value = audiences as f64;
    metrics::gauge!(emitted::AUDIENCES_OVERDUE, "incident" => incident.as_str().to_owned())
        .set(value);
}

/// What one lane records through the facade.
#[derive(Debug, Clone)]
pub(crate) struct Telemetry {
    channel: SharedString,
}

impl Telemetry {
    pub(crate) fn new(channel: std::sync::Arc<str>) -> Self {
        Self {
            channel: SharedString::from(channel),
        }
    }

    pub(crate) fn outcome(&self, outcome: &'static str) {
        metrics::counter!(emitted::DELIVERIES, "channel" => self.channel.clone(), "outcome" => outcome)
            .increment(1);
    }

    pub(crate) fn failure(&self, kind: &'static str) {
        metrics::counter!(emitted::FAILURES, "channel" => self.channel.clone(), "kind" => kind)
            .increment(1);
    }

    pub(crate) fn attempt(&self, took: Duration) {
        metrics::counter!(emitted::ATTEMPTS, "channel" => self.channel.clone()).increment(1);
        metrics::histogram!(emitted::SEND_SECONDS, "channel" => self.channel.clone())
            .record(took.as_secs_f64());
    }

    pub(crate) fn rate_limited(&self) {
        metrics::counter!(emitted::RATE_LIMITED, "channel" => self.channel.clone()).increment(1);
    }

    pub(crate) fn waited(&self, wait: Duration) {
        if !wait.is_zero() {
            metrics::histogram!(emitted::RATE_LIMIT_WAIT_SECONDS, "channel" => self.channel.clone())
                .record(wait.as_secs_f64());
        }
    }

    pub(crate) fn circuit(&self, open: bool) {
        metrics::gauge!(emitted::CIRCUIT_OPEN, "channel" => self.channel.clone()).set(if open {
            1.0
        } else {
            0.0
        });
    }

    pub(crate) fn retry_denied(&self) {
        metrics::counter!(emitted::RETRIES_DENIED, "channel" => self.channel.clone()).increment(1);
    }
}

/// Names for the fields of [`ChannelMetrics`], should you export the
/// snapshot yourself (what the facade records is named in [`emitted`]).
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
