//! One error for callers who `?` everything: every error of the crate
//! converts into [`Error`], which still says what went wrong and whether
//! trying again may help.

use crate::audience::PolicyError;
use crate::cadence::CadenceError;
use crate::channel::{BuildError, ChannelError, RateLimitError};
use crate::dispatch::{ConfigError, DispatchError};
use crate::incident::ModelError;
use crate::journal::JournalError;
use crate::render::{FitError, TemplateError};

/// Any error of the crate. Match on it to handle a kind of failure, or use
/// [`Error::is_retryable`]; each variant wraps the specific error, which
/// names the bad input or what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An incident or update was refused ([`ModelError`]).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// An audience, route or target was refused ([`PolicyError`]).
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A dispatcher could not be built ([`ConfigError`]).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A publish could not start ([`DispatchError`]).
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    /// The journal could not be read or written ([`JournalError`]).
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A channel failed ([`ChannelError`]).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A channel could not be built ([`BuildError`]).
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A template failed ([`TemplateError`]).
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A message could not be fitted to a channel ([`FitError`]).
    #[error(transparent)]
    Fit(#[from] FitError),
    /// The cadence could not be read, or a holding statement or reminder
    /// not sent ([`CadenceError`]).
    #[error(transparent)]
    Cadence(#[from] CadenceError),
    /// A rate limit could not be built ([`RateLimitError`]).
    #[error(transparent)]
    RateLimit(#[from] RateLimitError),
    /// A configuration file was refused
    /// ([`ConfigFileError`](crate::config::ConfigFileError)).
    #[cfg(feature = "config")]
    #[error(transparent)]
    ConfigFile(#[from] crate::config::ConfigFileError),
}

impl Error {
    /// Whether trying the same thing again later may succeed (a provider or
    /// the journal was unavailable); `false` for bad input and configuration,
    /// which need fixing first.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Journal(e)
            | Error::Dispatch(DispatchError::Journal(e))
            | Error::Cadence(CadenceError::Journal(e))
            | Error::Cadence(CadenceError::Dispatch(DispatchError::Journal(e))) => e.is_retryable(),
            Error::Channel(e) => e.is_retryable(),
            #[cfg(feature = "config")]
            Error::ConfigFile(crate::config::ConfigFileError::Journal(e)) => e.is_retryable(),
            _ => false,
        }
    }
}

/// A `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn fails() -> Result<()> {
        crate::incident::IncidentId::new("not an id")?;
        Ok(())
    }

    #[test]
    fn every_error_converts_and_says_whether_to_retry() {
        let e = fails().unwrap_err();
        assert!(matches!(e, Error::Model(_)));
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("not an id"));
        let e: Error = JournalError::Unavailable {
            reason: "disk".into(),
        }
        .into();
        assert!(e.is_retryable());
        let e: Error = ChannelError::transient("503").into();
        assert!(e.is_retryable());
        let e: Error = ChannelError::rejected("401").into();
        assert!(!e.is_retryable());
        let e: Error = BuildError::NoEndpoint {
            endpoint: "webhook endpoint",
        }
        .into();
        assert!(matches!(e, Error::Build(_)));
        assert!(!e.is_retryable());
        assert_eq!(e.to_string(), "no webhook endpoint configured");
    }
}
