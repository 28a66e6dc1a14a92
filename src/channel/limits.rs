//! What a channel can take: text length, rate, threading, primary.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::render::TextLimit;

/// The kind of a channel: a short static label (`"webhook"`, `"memory"`) used in
/// logs, metrics and reports. Implement your own with [`ChannelKind::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelKind(&'static str);

impl ChannelKind {
    /// The in-memory recorder.
    pub const MEMORY: ChannelKind = ChannelKind("memory");
    /// The signed generic webhook.
    pub const WEBHOOK: ChannelKind = ChannelKind("webhook");

    /// A kind of your own; keep it a short constant (it is a metrics label).
    pub const fn new(name: &'static str) -> Self {
        ChannelKind(name)
    }

    /// The label.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A [`RateLimit`] that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rate limit: {count} per {per:?} (both must be non-zero)")]
pub struct RateLimitError {
    count: u32,
    per: Duration,
}

/// At most `count` messages per `per`, refilled evenly (a burst of `count` is
/// allowed after a quiet period).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    count: NonZeroU32,
    per: Duration,
}

impl RateLimit {
    /// `count` messages per `per`; both must be non-zero.
    pub fn new(count: u32, per: Duration) -> Result<Self, RateLimitError> {
        match NonZeroU32::new(count) {
            Some(c) if !per.is_zero() && per / count > Duration::ZERO => Ok(Self { count: c, per }),
            _ => Err(RateLimitError { count, per }),
        }
    }

    /// `count` messages per second.
    pub const fn per_second(count: NonZeroU32) -> Self {
        Self {
            count,
            per: Duration::from_secs(1),
        }
    }

    /// `count` messages per minute.
    pub const fn per_minute(count: NonZeroU32) -> Self {
        Self {
            count,
            per: Duration::from_secs(60),
        }
    }

    /// The burst size.
    pub fn count(&self) -> NonZeroU32 {
        self.count
    }

    /// The window.
    pub fn per(&self) -> Duration {
        self.per
    }

    pub(crate) fn quota(&self) -> governor::Quota {
        let period = self.per / self.count.get();
        // Only `per_second` with more than 10^9 messages has a period under
        // 1 ns; governor's own per-second quota is exact for it.
        governor::Quota::with_period(period)
            .unwrap_or_else(|| governor::Quota::per_second(self.count))
            .allow_burst(self.count)
    }
}

/// Which deliveries a provider's rate limit applies to: when one of them is
/// answered "rate limited", all of them wait for the pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RateLimitScope {
    /// The whole channel (one account, one API key, one server): the
    /// default.
    #[default]
    Channel,
    /// Each target on its own (a webhook endpoint, a chat channel): a rate
    /// limit on one target does not hold the others.
    Target,
}

/// What a channel can take.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ChannelLimits {
    /// Longest text and how it is counted; `None` for no practical limit.
    pub text: Option<TextLimit>,
    /// Rate for the whole channel (all targets together).
    pub rate: Option<RateLimit>,
    /// Rate per target (per Slack channel, per phone number).
    pub per_target_rate: Option<RateLimit>,
    /// Whether the channel threads later messages under the first one.
    pub threads: bool,
    /// Whether the channel can be the primary source of truth (its receipts carry
    /// a permalink).
    pub primary: bool,
    /// Whether the provider deduplicates by the delivery's idempotency key
    /// (a Standard Webhooks receiver by `webhook-id`, Mastodon by
    /// `Idempotency-Key`, a page that upserts by update): a send whose outcome
    /// is unknown may then be repeated with the same key, which the provider
    /// keeps once. Elsewhere such a send is reported in doubt, not repeated
    /// (unless the route says so).
    pub deduplicates: bool,
    /// Which deliveries a rate-limit answer pauses.
    pub rate_limit_scope: RateLimitScope,
}

impl ChannelLimits {
    /// No limits, no threading, not a primary.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the text limit.
    pub fn with_text(mut self, text: TextLimit) -> Self {
        self.text = Some(text);
        self
    }
    /// Sets the channel-wide rate.
    pub fn with_rate(mut self, rate: RateLimit) -> Self {
        self.rate = Some(rate);
        self
    }
    /// Sets the per-target rate.
    pub fn with_per_target_rate(mut self, rate: RateLimit) -> Self {
        self.per_target_rate = Some(rate);
        self
    }
    /// Marks the channel as threading.
    pub fn threaded(mut self) -> Self {
        self.threads = true;
        self
    }
    /// Marks the channel as able to be the primary.
    pub fn as_primary(mut self) -> Self {
        self.primary = true;
        self
    }
    /// Marks the provider as deduplicating by the idempotency key.
    pub fn deduplicating(mut self) -> Self {
        self.deduplicates = true;
        self
    }
    /// Sets which deliveries a rate-limit answer pauses.
    pub fn with_rate_limit_scope(mut self, scope: RateLimitScope) -> Self {
        self.rate_limit_scope = scope;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_validate() {
        assert!(RateLimit::new(0, Duration::from_secs(1)).is_err());
        assert!(RateLimit::new(1, Duration::ZERO).is_err());
        let r = RateLimit::new(4, Duration::from_secs(1)).unwrap();
        assert_eq!(r.quota().replenish_interval(), Duration::from_millis(250));
        assert_eq!(r.quota().burst_size().get(), 4);
    }
}
