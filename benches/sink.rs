//! Deliveries per second to an HTTP sink someone else runs (nginx, in
//! `scripts/bench`): reqwest alone, then tidings' signed webhook through the
//! whole dispatcher, with the same body size and concurrency. Not a
//! criterion bench: `scripts/bench` compares it with wrk against the same
//! sink in one run.
//!
//! ```text
//! cargo bench --bench sink --all-features -- <url> <targets> <concurrency> <memory|sqlite|reqwest>
//! ```
//!
//! Prints one line: `what=W targets=N rate=R`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::webhook::WebhookChannel;
use tidings::journal::{Journal, MemoryJournal, SqliteJournal};
use tidings::prelude::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let url = args
        .first()
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080/".into());
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let concurrency: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(64);
    let what = args.get(3).cloned().unwrap_or_else(|| "memory".into());

    if what == "reqwest" {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .build()
            .unwrap();
        // About the size of a webhook body.
        let body = bytes_of(900);
        let started = Instant::now();
        futures::stream::iter(0..n)
            .map(|_| {
                let (client, url, body) = (&client, &url, body.clone());
                async move {
                    let r = client.post(url).body(body).send().await.unwrap();
                    assert!(r.status().is_success());
                }
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<()>>()
            .await;
        report(&what, n, started.elapsed().as_secs_f64());
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let journal: Arc<dyn Journal> = match what.as_str() {
        "sqlite" => Arc::new(SqliteJournal::open(dir.path().join("j.db")).await.unwrap()),
        _ => Arc::new(MemoryJournal::new()),
    };
    let mut builder = WebhookChannel::builder();
    for i in 0..n {
        builder = builder.endpoint(format!("ep-{i}"), &url, SECRET);
    }
    let targets: Vec<Target> = (0..n)
        .map(|i| Target::new(format!("ep-{i}")).unwrap())
        .collect();
    let dispatcher = Dispatcher::builder("https://status.example.com/incidents/{id}")
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(
                "https://status.example.com/".parse().unwrap(),
            )),
        )
        .channel("hook", Arc::new(builder.build().unwrap()))
        .audience(AudiencePolicy::new(Audience::Customers).route(Route::new("hook", targets)))
        .journal(journal)
        .concurrency_per_channel(concurrency)
        .build()
        .unwrap();
    let now = Utc::now();
    let mut incident = Incident::new(
        IncidentId::new("sink").unwrap(),
        "API errors",
        Impact::Major,
        now,
    )
    .unwrap();
    let update = incident
        .post(
            UpdateDraft::new(
                Status::Investigating,
                now,
                "Some API requests fail; we are investigating.",
            )
            .next_update_at(now + chrono::Duration::minutes(30)),
        )
        .unwrap()
        .clone();
    let started = Instant::now();
    let result = dispatcher.publish(&incident, &update).await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(result.all_sent(), "{:?}", result.counts);
    report(&format!("tidings-{what}"), n, seconds);
}

fn bytes_of(n: usize) -> Vec<u8> {
    vec![b'x'; n]
}

fn report(what: &str, n: usize, seconds: f64) {
    #[allow(clippy::cast_precision_loss)]
    let rate = n as f64 / seconds;
    println!("what={what} targets={n} rate={rate:.0}");
}
