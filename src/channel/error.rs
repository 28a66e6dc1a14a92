//! The one error type every channel returns.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a send failed, and what to do next.
///
/// `is_retryable()` drives the dispatcher: rate limits, transient failures and
/// timeouts are retried (after `retry_after()` when the provider said so);
/// rejections, invalid targets and configuration errors are not.
///
/// Two errors, [`ChannelError::Timeout`] and [`ChannelError::ConnectionLost`],
/// leave the outcome unknown ([`ChannelError::is_outcome_unknown`]): the
/// request may have reached the provider. The dispatcher repeats those only
/// where the provider deduplicates by the idempotency key, and otherwise
/// records the delivery in doubt.
///
/// Messages never contain secrets: channels strip tokens and webhook URLs before
/// building one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChannelError {
    /// The provider is rate limiting us. Retry after `retry_after` when given.
    #[error("rate limited by the provider{}", fmt_after(.retry_after))]
    RateLimited {
        /// How long the provider asked us to wait (`Retry-After` or its own header).
        retry_after: Option<Duration>,
    },
    /// A failure that may pass, and that the provider did not act on: a 5xx,
    /// a connection refused or reset before the request was sent, a provider
    /// hiccup.
    #[error("transient failure{}: {reason}", fmt_status(.status))]
    Transient {
        /// What happened, without secrets.
        reason: String,
        /// HTTP (or protocol) status, if there was one.
        status: Option<u16>,
        /// When the provider said to come back, if it did.
        retry_after: Option<Duration>,
    },
    /// The provider did not answer in time. The message may or may not have
    /// been delivered: repeated (with the same key) only where the provider
    /// deduplicates.
    #[error("no answer within {after:?}")]
    Timeout {
        /// The timeout that expired.
        after: Duration,
    },
    /// The connection broke after the request was (perhaps) sent: reset
    /// mid-body, closed before the answer. The message may or may not have
    /// been delivered: repeated (with the same key) only where the provider
    /// deduplicates.
    #[error("connection lost before the answer: {reason}")]
    ConnectionLost {
        /// What happened, without secrets.
        reason: String,
    },
    /// The provider refused the message for good (bad token, message too long,
    /// endpoint gone). Fix the input or the configuration; do not retry.
    #[error("rejected by the provider{}: {reason}", fmt_status(.status))]
    Rejected {
        /// What the provider said, without secrets.
        reason: String,
        /// HTTP (or protocol) status, if there was one.
        status: Option<u16>,
    },
    /// The target is not valid for this channel (unknown endpoint name, bad
    /// address). Fix the route; do not retry.
    #[error("invalid target {target:?}: {reason}")]
    InvalidTarget {
        /// The target as routed.
        target: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The channel is misconfigured, as sending found: the provider refused
    /// the credentials or the webhook URL, a TLS certificate was rejected, a
    /// host name does not resolve. Fix the configuration; do not retry. (What
    /// a builder can check is refused by its `build()`, as a
    /// [`BuildError`](super::BuildError).)
    #[error("channel misconfigured: {reason}")]
    Config {
        /// What is wrong, without secrets.
        reason: String,
    },
}

fn fmt_after(after: &Option<Duration>) -> String {
    after.map_or_else(String::new, |d| format!("; retry after {d:?}"))
}

fn fmt_status(status: &Option<u16>) -> String {
    status.map_or_else(String::new, |s| format!(" (status {s})"))
}

/// A label for an error, of bounded cardinality (for metrics and reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`ChannelError::RateLimited`].
    RateLimited,
    /// [`ChannelError::Transient`].
    Transient,
    /// [`ChannelError::Timeout`].
    Timeout,
    /// [`ChannelError::ConnectionLost`].
    ConnectionLost,
    /// [`ChannelError::Rejected`].
    Rejected,
    /// [`ChannelError::InvalidTarget`].
    InvalidTarget,
    /// [`ChannelError::Config`].
    Config,
}

impl ErrorKind {
    /// The snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Transient => "transient",
            ErrorKind::Timeout => "timeout",
            ErrorKind::ConnectionLost => "connection_lost",
            ErrorKind::Rejected => "rejected",
            ErrorKind::InvalidTarget => "invalid_target",
            ErrorKind::Config => "config",
        }
    }
}

impl ChannelError {
    /// Whether sending again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ChannelError::RateLimited { .. }
                | ChannelError::Transient { .. }
                | ChannelError::Timeout { .. }
                | ChannelError::ConnectionLost { .. }
        )
    }

    /// Whether the request may have reached the provider although no answer
    /// came (a timeout, a connection lost after sending): resending could
    /// deliver it twice unless the provider deduplicates.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(
            self,
            ChannelError::Timeout { .. } | ChannelError::ConnectionLost { .. }
        )
    }

    /// How long the provider asked us to wait before the next attempt.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ChannelError::RateLimited { retry_after }
            | ChannelError::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The provider's status code, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ChannelError::Transient { status, .. } | ChannelError::Rejected { status, .. } => {
                *status
            }
            ChannelError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// The error's kind, for metrics.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ChannelError::RateLimited { .. } => ErrorKind::RateLimited,
            ChannelError::Transient { .. } => ErrorKind::Transient,
            ChannelError::Timeout { .. } => ErrorKind::Timeout,
            ChannelError::ConnectionLost { .. } => ErrorKind::ConnectionLost,
            ChannelError::Rejected { .. } => ErrorKind::Rejected,
            ChannelError::InvalidTarget { .. } => ErrorKind::InvalidTarget,
            ChannelError::Config { .. } => ErrorKind::Config,
        }
    }

    /// Shorthand for a [`ChannelError::Transient`] without status.
    pub fn transient(reason: impl Into<String>) -> Self {
        ChannelError::Transient {
            reason: reason.into(),
            status: None,
            retry_after: None,
        }
    }

    /// Shorthand for a [`ChannelError::Rejected`] without status.
    pub fn rejected(reason: impl Into<String>) -> Self {
        ChannelError::Rejected {
            reason: reason.into(),
            status: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryability_follows_the_kind() {
        let s = Duration::from_secs(3);
        assert!(
            ChannelError::RateLimited {
                retry_after: Some(s)
            }
            .is_retryable()
        );
        assert_eq!(
            ChannelError::RateLimited {
                retry_after: Some(s)
            }
            .retry_after(),
            Some(s)
        );
        assert!(ChannelError::transient("502").is_retryable());
        assert!(ChannelError::Timeout { after: s }.is_retryable());
        assert!(!ChannelError::rejected("bad token").is_retryable());
        assert!(
            !ChannelError::InvalidTarget {
                target: "x".into(),
                reason: "unknown".into()
            }
            .is_retryable()
        );
        assert!(
            !ChannelError::Config {
                reason: "no url".into()
            }
            .is_retryable()
        );
        assert_eq!(
            ChannelError::Rejected {
                reason: "gone".into(),
                status: Some(410)
            }
            .to_string(),
            "rejected by the provider (status 410): gone"
        );
    }
}
