//! One publish to many targets, for memory: a channel that only counts what
//! it receives, each journal, and the process's peak resident set (VmHWM)
//! and rate printed per run. Not a criterion bench: peak memory is a
//! property of one process, so each size runs in a process of its own.
//!
//! ```text
//! cargo bench --bench scale --all-features -- <targets> <memory|sqlite>
//! cargo bench --bench scale --all-features -- 1000000 sqlite
//! ```
//!
//! Prints one line: `targets=N journal=J seconds=S rate=R/s peak_rss_mib=M`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use chrono::Utc;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::{Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, Receipt};
use tidings::journal::{Journal, MemoryJournal, SqliteJournal};
use tidings::prelude::*;

/// Counts what it receives; keeps nothing.
#[derive(Debug, Default)]
struct Counter {
    limits: ChannelLimits,
    received: AtomicU64,
}

#[async_trait]
impl Channel for Counter {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("counter")
    }
    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }
    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        self.received.fetch_add(1, Ordering::Relaxed);
        let _ = delivery;
        Ok(Receipt::new(Utc::now()))
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let kind = args.next().unwrap_or_else(|| "sqlite".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let journal: Arc<dyn Journal> = match kind.as_str() {
        "memory" => Arc::new(MemoryJournal::new()),
        _ => Arc::new(SqliteJournal::open(dir.path().join("j.db")).await.unwrap()),
    };
    let counter = Arc::new(Counter::default());
    let targets: Vec<Target> = (0..n)
        .map(|i| Target::new(format!("t{i}")).unwrap())
        .collect();
    let dispatcher = Dispatcher::builder("https://status.example.com/incidents/{id}")
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(
                "https://status.example.com/".parse().unwrap(),
            )),
        )
        .channel("counter", counter.clone())
        .audience(AudiencePolicy::new(Audience::Customers).route(Route::new("counter", targets)))
        .journal(journal)
        .concurrency_per_channel(64)
        .build()
        .unwrap();
    let now = Utc::now();
    let mut incident = Incident::new(
        IncidentId::new("scale").unwrap(),
        "API errors",
        Impact::Major,
        now,
    )
    .unwrap();
    let update = incident
        .post(
            UpdateDraft::new(Status::Investigating, now, "Some API requests fail.")
                .next_update_at(now + chrono::Duration::minutes(30)),
        )
        .unwrap()
        .clone();
    let started = Instant::now();
    let report = dispatcher.publish(&incident, &update).await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    if !report.all_sent() {
        let first = report
            .failures()
            .next()
            .map(|(d, f)| format!("{}: {f}", d.target));
        panic!(
            "not all sent: {:?}; first failure: {first:?}",
            report.counts
        );
    }
    assert_eq!(counter.received.load(Ordering::Relaxed), n as u64);
    #[allow(clippy::cast_precision_loss)]
    let rate = n as f64 / seconds;
    println!(
        "targets={n} journal={kind} seconds={seconds:.2} rate={rate:.0}/s peak_rss_mib={:.0} kept_reports={}",
        peak_rss_mib(),
        report.deliveries.len()
    );
}
