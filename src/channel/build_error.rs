//! Why a channel could not be built.

/// Why a channel builder's `build()` refused its configuration.
///
/// Every builder checks everything in `build()` (setters only store), so one
/// error names what to fix: which setting, credential or URL, and why. A
/// configuration problem that only shows while sending (a TLS certificate
/// rejected, a host name that does not resolve, a token the provider
/// refuses) is a [`ChannelError::Config`](super::ChannelError::Config)
/// instead.
///
/// Messages never contain secrets: a URL that may hold one (a webhook URL, a
/// proxy URL) is named by its field, or by its endpoint's name, never
/// quoted; tokens, passwords and keys are never quoted.
///
/// ```
/// # #[cfg(feature = "slack")] {
/// use tidings::channel::BuildError;
/// use tidings::channel::chat::slack::SlackChannel;
///
/// let err = SlackChannel::incoming_webhooks()
///     .webhook("ops", "http://hooks.slack.com/services/T000/B000/SECRET")
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, BuildError::InvalidUrl { .. }));
/// assert!(err.to_string().contains(r#"Slack webhook "ops""#));
/// assert!(!err.to_string().contains("SECRET"));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A URL setting is not a URL the channel can use: not a URL, a scheme
    /// other than https (plain http only to loopback hosts), user
    /// information in it, a query where none may be.
    #[error("invalid {field}: {reason}")]
    InvalidUrl {
        /// Which URL: `Slack base URL`, `Discord webhook "ops"`, `proxy URL`.
        field: String,
        /// Why it was refused; never the URL, nor any part of it.
        reason: String,
    },
    /// A credential is missing or malformed (empty, spaces or control
    /// characters, not the provider's shape).
    #[error("invalid {credential}: {reason}")]
    InvalidCredential {
        /// Which credential: `Slack token`, `Twilio Account SID`,
        /// `webhook endpoint "ops" secret`.
        credential: String,
        /// Why it was refused; never the credential itself.
        reason: String,
    },
    /// A setting is out of range, malformed, or conflicts with another.
    #[error("invalid {setting}: {reason}")]
    InvalidSetting {
        /// Which setting: `HTTP timeout`, `Teams max_payload_bytes`,
        /// `Discord webhook "ops" thread id`.
        setting: String,
        /// Why it was refused.
        reason: String,
    },
    /// An endpoint (a named webhook) was given an empty or blank name.
    #[error("a {endpoint} name is empty or blank")]
    EmptyEndpointName {
        /// What kind of endpoint: `Discord webhook`, `webhook endpoint`.
        endpoint: &'static str,
    },
    /// Two endpoints were given the same name; route targets name them, so
    /// names must be unique.
    #[error("{endpoint} {name:?} is configured twice")]
    DuplicateEndpoint {
        /// What kind of endpoint: `Discord webhook`, `webhook endpoint`.
        endpoint: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A channel that posts to named endpoints was given none.
    #[error("no {endpoint} configured")]
    NoEndpoint {
        /// What kind of endpoint: `Discord webhook`, `webhook endpoint`.
        endpoint: &'static str,
    },
    /// The client the channel sends through could not be set up: the HTTP
    /// client or its TLS (no crypto provider built in, the platform's
    /// certificates unreadable), the SMTP transport's TLS, or the static
    /// page's renderer.
    #[error("cannot set up the client: {reason}")]
    Client {
        /// What failed, without secrets.
        reason: String,
    },
}

// Each builder is behind its own feature: with few features, some of these
// shorthands have no caller.
#[allow(dead_code)]
impl BuildError {
    /// Shorthand for [`BuildError::InvalidUrl`].
    pub(crate) fn url(field: impl Into<String>, reason: impl Into<String>) -> Self {
        BuildError::InvalidUrl {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`BuildError::InvalidCredential`].
    pub(crate) fn credential(credential: impl Into<String>, reason: impl Into<String>) -> Self {
        BuildError::InvalidCredential {
            credential: credential.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`BuildError::InvalidSetting`].
    pub(crate) fn setting(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        BuildError::InvalidSetting {
            setting: setting.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`BuildError::Client`].
    pub(crate) fn client(reason: impl Into<String>) -> Self {
        BuildError::Client {
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_setting_and_the_reason() {
        assert_eq!(
            BuildError::url("Slack base URL", "unsupported scheme \"ftp\"").to_string(),
            "invalid Slack base URL: unsupported scheme \"ftp\""
        );
        assert_eq!(
            BuildError::credential("Slack token", "it is empty").to_string(),
            "invalid Slack token: it is empty"
        );
        assert_eq!(
            BuildError::setting("HTTP timeout", "it must be greater than zero").to_string(),
            "invalid HTTP timeout: it must be greater than zero"
        );
        assert_eq!(
            BuildError::DuplicateEndpoint {
                endpoint: "Discord webhook",
                name: "ops".into()
            }
            .to_string(),
            r#"Discord webhook "ops" is configured twice"#
        );
        assert_eq!(
            BuildError::NoEndpoint {
                endpoint: "webhook endpoint"
            }
            .to_string(),
            "no webhook endpoint configured"
        );
    }
}
