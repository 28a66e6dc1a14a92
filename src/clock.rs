//! Wall-clock time that follows tokio's clock.
//!
//! Timestamps (planned, sent, receipts) are read as a fixed wall-clock anchor
//! plus the time elapsed on tokio's monotonic clock since. In production that
//! is the wall clock, immune to jumps; under tokio's paused clock in tests,
//! virtual waits show up in timestamps too, so cadence and review computed from
//! them are deterministic.
//!
//! Stamp updates with [`now`] when they are compared with the journal (the
//! [cadence](crate::cadence) and the [review](crate::review) do): it is the
//! clock the dispatcher records deliveries with.

use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, Utc};

static ANCHOR: OnceLock<(DateTime<Utc>, Instant)> = OnceLock::new();
const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);

/// The current time, on tokio's clock: the wall clock when the process first
/// asked, plus the time elapsed on tokio's monotonic clock since (so under
/// `tokio::time::pause` it advances only with virtual time).
pub fn now() -> DateTime<Utc> {
    // The anchor is set a day back, so that no tokio clock (paused ones start
    // at their runtime's creation) reads earlier than it.
    let (wall, mono) = *ANCHOR.get_or_init(|| {
        let (wall, mono) = (Utc::now(), Instant::now());
        match mono.checked_sub(DAY) {
            Some(earlier) => (wall - chrono::Duration::days(1), earlier),
            None => (wall, mono),
        }
    });
    let elapsed = tokio::time::Instant::now()
        .into_std()
        .saturating_duration_since(mono);
    wall + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::zero())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn follows_the_paused_clock() {
        let before = super::now();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let after = super::now();
        assert!(after - before >= chrono::Duration::seconds(3600));
        assert!(after - before < chrono::Duration::seconds(3601));
    }
}
