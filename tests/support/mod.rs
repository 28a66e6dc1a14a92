//! Helpers shared by the integration tests.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

pub mod oracle;
#[cfg(feature = "journal-postgres")]
pub mod postgres;
pub mod sms_texts;
#[cfg(feature = "email")]
pub mod smtp;
#[cfg(feature = "x")]
pub mod social_texts;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use tidings::channel::memory::MemoryChannel;
use tidings::channel::{Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, Receipt};
use tidings::incident::Update;
use tidings::prelude::*;

pub const PERMALINK_BASE: &str = "https://status.example.com/";
pub const CANONICAL: &str = "https://status.example.com/incidents/{id}";

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap()
}

pub fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

pub fn target(s: &str) -> Target {
    Target::new(s).unwrap()
}

/// An incident affecting the API, with a first-contact update carrying
/// internal notes.
pub fn incident() -> (Incident, Update) {
    let mut inc = Incident::new(
        IncidentId::new("inc-7").unwrap(),
        "API errors",
        Impact::Major,
        t0(),
    )
    .unwrap()
    .with_component(
        ComponentId::new("api").unwrap(),
        "API",
        ComponentStatus::MajorOutage,
    );
    let first = inc
        .post(
            UpdateDraft::new(
                Status::Investigating,
                t0() + minutes(3),
                "Some API requests fail.",
            )
            .internal_notes("SECRET-NOTE: db primary at 100% CPU")
            .next_update_at(t0() + minutes(33)),
        )
        .unwrap()
        .clone();
    (inc, first)
}

/// A scheduled maintenance `id` ("Database upgrade" of the API), announced
/// at `announced`, from `start` for `hours` hours; no update yet.
pub fn maintenance(
    id: &str,
    announced: DateTime<Utc>,
    start: DateTime<Utc>,
    hours: i64,
) -> Incident {
    Incident::maintenance(
        IncidentId::new(id).unwrap(),
        "Database upgrade",
        MaintenanceWindow::new(start, start + chrono::Duration::hours(hours)).unwrap(),
        announced,
    )
    .unwrap()
    .with_component(
        ComponentId::new("api").unwrap(),
        "API",
        ComponentStatus::UnderMaintenance,
    )
}

/// Moves tokio's (paused) clock forward to `t`, which the journal's times
/// follow, and returns the new time.
pub async fn advance_to(t: DateTime<Utc>) -> DateTime<Utc> {
    let now = tidings::clock::now();
    assert!(t >= now, "the script goes forward");
    tokio::time::advance((t - now).to_std().unwrap()).await;
    let now = tidings::clock::now();
    assert_eq!(now, t);
    now
}

/// Posts a follow-up update.
pub fn post(inc: &mut Incident, status: Status, at_min: i64, msg: &str) -> Update {
    let mut d = UpdateDraft::new(status, t0() + minutes(at_min), msg);
    if !status.is_closed() {
        d = d.next_update_at(t0() + minutes(at_min + 30));
    }
    inc.post(d).unwrap().clone()
}

/// A channel that records when each send starts and how many run at once,
/// then hands the delivery to a [`MemoryChannel`].
#[derive(Debug)]
pub struct Probe {
    pub name: &'static str,
    pub inner: Arc<MemoryChannel>,
    pub log: Arc<Mutex<Vec<(&'static str, tokio::time::Instant)>>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

impl Probe {
    pub fn new(
        name: &'static str,
        inner: MemoryChannel,
        log: Arc<Mutex<Vec<(&'static str, tokio::time::Instant)>>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            name,
            inner: Arc::new(inner),
            log,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        })
    }

    pub fn starts(&self) -> Vec<tokio::time::Instant> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| *n == self.name)
            .map(|(_, t)| *t)
            .collect()
    }
}

#[async_trait]
impl Channel for Probe {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("probe")
    }
    fn limits(&self) -> &ChannelLimits {
        self.inner.limits()
    }
    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        self.log
            .lock()
            .unwrap()
            .push((self.name, tokio::time::Instant::now()));
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let result = self.inner.send(delivery).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

/// Installs the process's default TLS crypto provider, for tests that build
/// a `reqwest::Client` of their own (tidings' own clients bring theirs).
#[cfg(feature = "__http")]
pub fn install_crypto_provider() {
    #[cfg(feature = "tls-aws-lc")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "tls-ring", not(feature = "tls-aws-lc")))]
    let provider = rustls::crypto::ring::default_provider();
    #[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
    let _ = provider.install_default();
}
