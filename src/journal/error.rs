//! What can go wrong with a journal, and what to do about it.

use serde::{Deserialize, Serialize};

use crate::channel::IdempotencyKey;

/// A journal could not do what was asked. Each variant says what to do next.
///
/// The dispatcher never sends a delivery it could not claim: a journal error
/// before a send means nothing was sent (and the delivery is retried later);
/// one after a send leaves the claim to run out, after which the delivery is
/// reported [in doubt](super::DeliveryState::InDoubt) rather than guessed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum JournalError {
    /// The store could not be reached or written (I/O error, full disk, lost
    /// connection, lock timeout). Retryable: try again later.
    #[error("journal unavailable: {reason}")]
    Unavailable {
        /// What went wrong, without credentials.
        reason: String,
    },
    /// The claim token is stale: the delivery was taken over by another
    /// worker after this claim's lease ran out, or already finished. Nothing
    /// was changed. Not retryable: the other worker owns the outcome.
    #[error("the claim on {key} is no longer held by this worker (stale token); nothing changed")]
    Conflict {
        /// The delivery.
        key: IdempotencyKey,
    },
    /// The store holds data this version cannot read. Not retryable: restore
    /// a backup or open the file with the version that wrote it.
    #[error("journal data is corrupt: {reason}")]
    Corrupt {
        /// What could not be read.
        reason: String,
    },
    /// The store was written by a newer (or unknown) schema. Not retryable:
    /// upgrade `tidings`, or point it at a new journal.
    #[error("journal schema version {found} is not supported (this build knows up to {supported})")]
    SchemaMismatch {
        /// The version found in the store.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The request itself was invalid (for example, finishing a delivery that
    /// was never claimed). Not retryable: a bug in the caller.
    #[error("invalid journal request: {reason}")]
    Invalid {
        /// What was wrong with it.
        reason: String,
    },
}

impl JournalError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, JournalError::Unavailable { .. })
    }

    /// Whether this is a stale claim token.
    pub fn is_conflict(&self) -> bool {
        matches!(self, JournalError::Conflict { .. })
    }

    #[cfg_attr(
        not(any(feature = "journal-sqlite", feature = "journal-postgres")),
        allow(dead_code)
    )]
    pub(crate) fn unavailable(reason: impl std::fmt::Display) -> Self {
        JournalError::Unavailable {
            reason: reason.to_string(),
        }
    }

    #[cfg_attr(
        not(any(feature = "journal-sqlite", feature = "journal-postgres")),
        allow(dead_code)
    )]
    pub(crate) fn corrupt(reason: impl std::fmt::Display) -> Self {
        JournalError::Corrupt {
            reason: reason.to_string(),
        }
    }
}
