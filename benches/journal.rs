//! Journal throughput: deliveries per second through the whole dispatcher
//! and the signed webhook channel to a loopback sink, 10,000 targets, with
//! the memory, SQLite and PostgreSQL journals side by side. Every delivery
//! is claimed before and finished after its send, durably for SQLite
//! (`synchronous = FULL`) and PostgreSQL.
//!
//! ```text
//! cargo bench --bench journal --all-features
//! # with PostgreSQL (as ./scripts/test starts it, or any server you own):
//! TIDINGS_BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench journal --all-features
//! ```
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

#[allow(dead_code)]
#[path = "../examples/drill/receiver.rs"]
mod receiver;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tidings::channel::memory::MemoryChannel;
use tidings::channel::webhook::WebhookChannel;
use tidings::incident::Update;
use tidings::journal::{Journal, MemoryJournal, SqliteJournal};
use tidings::prelude::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const N: usize = 10_000;
const CONCURRENCY: usize = 64;

/// A new incident each time, so every iteration's deliveries are new.
fn incident() -> (Incident, Update) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap();
    let id = IncidentId::new(format!("bench-{}-{n}", std::process::id())).unwrap();
    let mut inc = Incident::new(id, "API errors", Impact::Major, t0).unwrap();
    let up = inc
        .post(
            UpdateDraft::new(
                Status::Investigating,
                t0,
                "Some API requests fail; we are investigating.",
            )
            .next_update_at(t0 + chrono::Duration::minutes(30)),
        )
        .unwrap()
        .clone();
    (inc, up)
}

fn journals(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (addr, _stats) = rt.block_on(receiver::spawn(None, false)).unwrap();
    let url = format!("http://{addr}/hooks/sink");
    let dir = tempfile::tempdir().unwrap();
    let mut backends: Vec<(&str, Arc<dyn Journal>)> = vec![
        ("memory", Arc::new(MemoryJournal::new())),
        (
            "sqlite",
            Arc::new(
                rt.block_on(SqliteJournal::open(dir.path().join("bench.db")))
                    .unwrap(),
            ),
        ),
    ];
    match std::env::var("TIDINGS_BENCH_POSTGRES") {
        Ok(url) => {
            let journal = rt
                .block_on(tidings::journal::PostgresJournal::connect(&url))
                .unwrap();
            backends.push(("postgres", Arc::new(journal)));
        }
        Err(_) => {
            println!("TIDINGS_BENCH_POSTGRES is not set: the PostgreSQL journal is not measured")
        }
    }
    // The journal's own cost: the same fan-out to the in-memory channel.
    let mut group = c.benchmark_group("journal_memory_channel");
    group
        .throughput(Throughput::Elements(N as u64))
        .sample_size(10);
    for (name, journal) in &backends {
        let d = Dispatcher::builder("https://status.example.com/incidents/{id}")
            .primary(
                "page",
                Arc::new(MemoryChannel::primary(
                    "https://status.example.com/".parse().unwrap(),
                )),
            )
            .channel("sink", Arc::new(MemoryChannel::new()))
            .audience(AudiencePolicy::new(Audience::Customers).route(Route::new(
                "sink",
                (0..N).map(|i| Target::new(format!("ep-{i}")).unwrap()),
            )))
            .journal(journal.clone())
            .concurrency_per_channel(CONCURRENCY)
            .build()
            .unwrap();
        group.bench_function(BenchmarkId::new(*name, N), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let d = &d;
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (inc, up) = incident();
                        let start = Instant::now();
                        let report = d.publish(&inc, &up).await.unwrap();
                        total += start.elapsed();
                        assert_eq!(report.sent_now(), N + 1);
                    }
                    total
                }
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("journal_webhook_loopback");
    group
        .throughput(Throughput::Elements(N as u64))
        .sample_size(10);
    for (name, journal) in backends {
        let mut hooks = WebhookChannel::builder();
        for i in 0..N {
            hooks = hooks.endpoint(format!("ep-{i}"), &url, SECRET);
        }
        let d = Dispatcher::builder("https://status.example.com/incidents/{id}")
            .primary(
                "page",
                Arc::new(MemoryChannel::primary(
                    "https://status.example.com/".parse().unwrap(),
                )),
            )
            .channel("hook", Arc::new(hooks.build().unwrap()))
            .audience(AudiencePolicy::new(Audience::Customers).route(Route::new(
                "hook",
                (0..N).map(|i| Target::new(format!("ep-{i}")).unwrap()),
            )))
            .journal(journal)
            .concurrency_per_channel(CONCURRENCY)
            .build()
            .unwrap();
        group.bench_function(BenchmarkId::new(name, N), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let d = &d;
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (inc, up) = incident();
                        let start = Instant::now();
                        let report = d.publish(&inc, &up).await.unwrap();
                        total += start.elapsed();
                        assert_eq!(report.sent_now(), N + 1);
                    }
                    total
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, journals);
criterion_main!(benches);
