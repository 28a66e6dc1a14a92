//! How the SQL journals store values.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::JournalError;

/// Times are stored as microseconds since the Unix epoch: ordered, exact,
/// and the same type in SQLite and PostgreSQL.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A stored time.
pub(crate) fn from_micros(us: i64) -> Result<DateTime<Utc>, JournalError> {
    DateTime::<Utc>::from_timestamp_micros(us)
        .ok_or_else(|| JournalError::corrupt(format!("time {us} is out of range")))
}

/// A value stored as JSON.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, JournalError> {
    serde_json::to_string(value).map_err(|e| JournalError::Invalid {
        reason: format!("cannot store a value as JSON: {e}"),
    })
}

/// A value read back from JSON.
pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, JournalError> {
    serde_json::from_str(text).map_err(|e| JournalError::corrupt(format!("unreadable JSON: {e}")))
}

/// A stored count (never negative).
pub(crate) fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}
