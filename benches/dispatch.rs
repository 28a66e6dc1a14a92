//! Dispatch throughput: deliveries per second through the whole dispatcher
//! (render, fit, plan, journal, rate limiters, send, report) to the in-memory
//! channel, and to a webhook sink on 127.0.0.1 compared with raw HTTP posts to
//! the same sink.
//!
//! ```text
//! cargo bench --bench dispatch --all-features
//! ```
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../examples/drill/receiver.rs"]
mod receiver;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::webhook::WebhookChannel;
use tidings::incident::Update;
use tidings::journal::MemoryJournal;
use tidings::prelude::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn incident() -> (Incident, Update) {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap();
    let mut inc = Incident::new(
        IncidentId::new("bench").unwrap(),
        "API errors",
        Impact::Major,
        t0,
    )
    .unwrap()
    .with_component(
        ComponentId::new("api").unwrap(),
        "API",
        ComponentStatus::MajorOutage,
    );
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

fn targets(n: usize, prefix: &str) -> Vec<Target> {
    (0..n)
        .map(|i| Target::new(format!("{prefix}{i}")).unwrap())
        .collect()
}

fn memory(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("dispatch_memory");
    for n in [1usize, 1_000, 100_000] {
        let sink = Arc::new(MemoryChannel::new());
        let page = Arc::new(MemoryChannel::primary(
            "https://status.example.com/".parse().unwrap(),
        ));
        let journal = Arc::new(MemoryJournal::new());
        let d = Dispatcher::builder("https://status.example.com/incidents/{id}")
            .primary("page", page.clone())
            .channel("sink", sink.clone())
            .audience(
                AudiencePolicy::new(Audience::Customers)
                    .route(Route::new("sink", targets(n, "user-"))),
            )
            .journal(journal.clone())
            .concurrency_per_channel(64)
            .build()
            .unwrap();
        let (inc, up) = incident();
        group.throughput(Throughput::Elements(n as u64));
        if n >= 100_000 {
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(10));
        }
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.to_async(&rt).iter_custom(|iters| {
                let (d, inc, up, sink, page, journal) = (&d, &inc, &up, &sink, &page, &journal);
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        journal.clear();
                        sink.clear();
                        page.clear();
                        let start = Instant::now();
                        let report = d.publish(inc, up).await.unwrap();
                        total += start.elapsed();
                        assert_eq!(report.sent_now(), n + 1);
                    }
                    total
                }
            });
        });
    }
    group.finish();
}

fn webhook(c: &mut Criterion) {
    const N: usize = 2_000;
    const CONCURRENCY: usize = 64;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (addr, _stats) = rt.block_on(receiver::spawn(None, false)).unwrap();
    let url = format!("http://{addr}/hooks/sink");
    let mut group = c.benchmark_group("dispatch_webhook_loopback");
    group
        .throughput(Throughput::Elements(N as u64))
        .sample_size(10);

    let mut builder = WebhookChannel::builder();
    for i in 0..N {
        builder = builder.endpoint(format!("ep-{i}"), &url, SECRET);
    }
    let journal = Arc::new(MemoryJournal::new());
    let d = Dispatcher::builder("https://status.example.com/incidents/{id}")
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(
                "https://status.example.com/".parse().unwrap(),
            )),
        )
        .channel("hook", Arc::new(builder.build().unwrap()))
        .audience(
            AudiencePolicy::new(Audience::Customers).route(Route::new("hook", targets(N, "ep-"))),
        )
        .journal(journal.clone())
        .concurrency_per_channel(CONCURRENCY)
        .build()
        .unwrap();
    let (inc, up) = incident();
    group.bench_function(BenchmarkId::new("tidings", N), |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (d, inc, up, journal) = (&d, &inc, &up, &journal);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    journal.clear();
                    let start = Instant::now();
                    let report = d.publish(inc, up).await.unwrap();
                    total += start.elapsed();
                    assert_eq!(report.sent_now(), N + 1);
                }
                total
            }
        });
    });

    // The same number of POSTs of a similar body, with the same concurrency and
    // no dispatcher: what the sink and the HTTP stack allow.
    // reqwest needs a TLS crypto provider (tidings' own clients bring theirs).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = reqwest::Client::new();
    let body = vec![b'x'; 900];
    group.bench_function(BenchmarkId::new("raw_reqwest", N), |b| {
        b.to_async(&rt).iter(|| {
            let (client, url, body) = (&client, &url, &body);
            async move {
                futures::stream::iter(0..N)
                    .map(|_| async move {
                        let r = client.post(url).body(body.clone()).send().await.unwrap();
                        assert!(r.status().is_success());
                    })
                    .buffer_unordered(CONCURRENCY)
                    .collect::<Vec<()>>()
                    .await
            }
        });
    });
    group.finish();
}

criterion_group!(benches, memory, webhook);
criterion_main!(benches);
