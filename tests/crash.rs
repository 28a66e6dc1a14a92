//! Crash tests: a child process fans 10,000 deliveries out through the signed
//! webhook channel to a loopback receiver that records every `webhook-id`;
//! the parent kills it with SIGKILL at random moments and restarts it on the
//! same journal until the outbox is empty. Nothing may be lost; a raw
//! duplicate may only be a send that was in flight at a kill (recorded in
//! doubt, and resent with the same id, which a receiver deduplicates).
//!
//! 1. SQLite: one process, killed at least 5 times.
//! 2. PostgreSQL: two replicas sharing the work, one killed at least 5
//!    times; no key may be sent by both replicas unless it was in doubt.
//!
//! Each prints `lost=0 duplicated=D in_doubt=I kills=K` (to the terminal,
//! past the test harness's capture, so `./scripts/test` shows it).

#![cfg(all(feature = "webhook", feature = "journal-sqlite"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeZone;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tidings::channel::HttpOptions;
use tidings::channel::IdempotencyKey;
use tidings::channel::webhook::WebhookChannel;
use tidings::journal::{DeliveryState, DoubtReason, Journal, SqliteJournal};
use tidings::prelude::*;

const TARGETS: usize = 10_000;
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const INCIDENT: &str = "crash-1";
const CHANNEL: &str = "hooks";
const KILLS: usize = 5;

fn target(i: usize) -> Target {
    Target::new(format!("t{i:05}")).unwrap()
}

/// The same incident in every run (fixed times), so a restarted process
/// plans the same deliveries.
fn incident() -> (Incident, tidings::incident::Update) {
    let t0 = chrono::Utc
        .with_ymd_and_hms(2026, 11, 25, 14, 0, 0)
        .unwrap();
    let mut inc = Incident::new(
        IncidentId::new(INCIDENT).unwrap(),
        "Crash drill",
        Impact::Major,
        t0,
    )
    .unwrap();
    let update = inc
        .post(
            UpdateDraft::new(Status::Investigating, t0, "Testing that nothing is lost.")
                .only_for([Audience::CoreResponders])
                .next_update_at(t0 + chrono::Duration::minutes(30)),
        )
        .unwrap()
        .clone();
    (inc, update)
}

fn expected_keys() -> HashSet<String> {
    let (inc, update) = incident();
    (0..TARGETS)
        .map(|i| IdempotencyKey::derive(inc.id(), update.seq, CHANNEL, &target(i), 1).to_string())
        .collect()
}

/// The child: publishes, then runs the outbox until nothing is left.
/// Started by the tests below; ignored otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of the crash tests"]
async fn crash_child() {
    let spec = std::env::var("TIDINGS_CRASH_CHILD").expect("run by the crash tests");
    let parts: Vec<&str> = spec.split('|').collect();
    let (backend, location, receiver, replica) = (parts[0], parts[1], parts[2], parts[3]);
    let journal: Arc<dyn Journal> = match backend {
        "sqlite" => Arc::new(SqliteJournal::open(location).await.unwrap()),
        #[cfg(feature = "journal-postgres")]
        "postgres" => Arc::new(
            tidings::journal::PostgresJournal::connect(location)
                .await
                .unwrap(),
        ),
        other => panic!("unknown backend {other}"),
    };
    let mut hooks =
        WebhookChannel::builder().http(HttpOptions::new().timeout(Duration::from_secs(10)));
    for i in 0..TARGETS {
        hooks = hooks.endpoint(
            target(i).as_str(),
            format!("http://{receiver}/{replica}/{i}"),
            SECRET,
        );
    }
    let page = Arc::new(tidings::channel::memory::MemoryChannel::primary(
        "https://status.example.com/".parse().unwrap(),
    ));
    let dispatcher = Dispatcher::builder("https://status.example.com/incidents/{id}")
        .primary("page", page)
        .channel(CHANNEL, Arc::new(hooks.build().unwrap()))
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new(CHANNEL, (0..TARGETS).map(target))),
        )
        .journal(journal)
        .concurrency_per_channel(64)
        .claim_lease(Duration::from_secs(2))
        .outbox_backoff(Duration::from_millis(200), Duration::from_secs(1))
        .retry(
            RetryPolicy::default().backoff(Duration::from_millis(50), Duration::from_millis(500)),
        )
        .build()
        .unwrap();
    let (inc, update) = incident();
    dispatcher.publish(&inc, &update).await.unwrap();
    let drained = dispatcher
        .outbox()
        .poll_interval(Duration::from_millis(200))
        .drain(Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(drained.unsettled, 0, "the outbox finished");
    println!("CHILD DONE");
}

/// What the receiver saw: every (webhook-id, replica).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A loopback receiver that records every webhook's id and the replica it
/// came from (the first path segment), answering 204 after a moment (so a
/// kill finds requests in flight).
async fn receiver() -> (SocketAddr, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let shared = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = shared.clone();
            let service = service_fn(move |req: Request<Incoming>| {
                let seen = seen.clone();
                async move {
                    let id = req
                        .headers()
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let replica = req
                        .uri()
                        .path()
                        .split('/')
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    tokio::time::sleep(Duration::from_micros(fastrand::u64(0..2000))).await;
                    seen.lock().unwrap().push((id, replica));
                    Ok::<_, Infallible>(
                        Response::builder()
                            .status(204)
                            .body(Full::new(Bytes::new()))
                            .unwrap(),
                    )
                }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

fn spawn_child(backend: &str, location: &str, receiver: SocketAddr, replica: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            "TIDINGS_CRASH_CHILD",
            format!("{backend}|{location}|{receiver}|{replica}"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Waits for a child to finish by itself and checks it did.
async fn finishes(child: Child) {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CHILD DONE"),
        "{stdout}"
    );
}

/// Kills `child` (replica `replica`) with SIGKILL after a random moment,
/// once it has started sending; returns whether it was killed (false: it
/// had already finished).
async fn kill_mid_send(mut child: Child, replica: &str, seen: &Seen) -> bool {
    let sent_by = |seen: &Seen| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|(_, r)| r == replica)
            .count()
    };
    let before = sent_by(seen);
    // Wait until this run sends (or finishes), then a random moment more.
    for _ in 0..2000 {
        if sent_by(seen) > before || child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(fastrand::u64(20..250))).await;
    if child.try_wait().unwrap().is_some() {
        return false;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    true
}

/// The figures of one run, checked.
struct Tally {
    lost: usize,
    duplicated: usize,
    in_doubt: usize,
}

/// Checks what the receiver saw against the journal: nothing lost, nothing
/// unexpected, every duplicate a resend of a delivery in doubt.
async fn tally(seen: &Seen, journal: &dyn Journal) -> Tally {
    let expected = expected_keys();
    let seen = seen.lock().unwrap().clone();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (id, _) in &seen {
        assert!(expected.contains(id), "an id that was never planned: {id}");
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let lost = expected
        .iter()
        .filter(|k| !counts.contains_key(k.as_str()))
        .count();
    let duplicated = seen.len() - counts.len();
    let inc = IncidentId::new(INCIDENT).unwrap();
    let history = journal.history(&inc).await.unwrap();
    let doubted: HashSet<String> = history
        .iter()
        .filter(|t| matches!(t.state, DeliveryState::InDoubt { .. }))
        .map(|t| t.key.to_string())
        .collect();
    let abandoned = history
        .iter()
        .filter(|t| {
            matches!(
                t.state,
                DeliveryState::InDoubt {
                    reason: DoubtReason::Abandoned { .. },
                    ..
                }
            )
        })
        .count();
    for (id, n) in &counts {
        if *n > 1 {
            assert!(
                doubted.contains(*id),
                "{id} was sent {n} times but never in doubt"
            );
        }
    }
    assert!(
        duplicated <= abandoned,
        "{duplicated} duplicates, but only {abandoned} sends were in flight at the kills"
    );
    let records = journal.records(&inc).await.unwrap();
    assert_eq!(records.len(), TARGETS);
    assert!(
        records
            .iter()
            .all(|r| matches!(r.state, DeliveryState::Sent(_)))
    );
    Tally {
        lost,
        duplicated,
        in_doubt: doubted.len(),
    }
}

fn report(what: &str, t: &Tally, kills: usize) {
    // Past the harness's capture: `./scripts/test` shows it.
    let _ = writeln!(
        std::io::stderr(),
        "crash test ({what}): lost={} duplicated={} in_doubt={} kills={kills}",
        t.lost,
        t.duplicated,
        t.in_doubt
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_and_restarted_loses_nothing_and_repeats_only_what_was_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let location = path.to_str().unwrap();
    let (addr, seen) = receiver().await;
    let mut kills = 0;
    while kills < KILLS {
        let child = spawn_child("sqlite", location, addr, "a");
        if kill_mid_send(child, "a", &seen).await {
            kills += 1;
        } else {
            break; // finished before the kill: everything is sent
        }
    }
    finishes(spawn_child("sqlite", location, addr, "a")).await;
    let journal = SqliteJournal::open(&path).await.unwrap();
    let t = tally(&seen, &journal).await;
    report("sqlite, one process", &t, kills);
    assert_eq!(t.lost, 0);
    assert!(kills >= KILLS, "only {kills} kills landed mid-send");
}

#[cfg(feature = "journal-postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_replicas_one_killed_repeatedly_lose_nothing_and_never_both_send() {
    let url = support::postgres::fresh_database().await;
    tidings::journal::PostgresJournal::connect(&url)
        .await
        .unwrap();
    let (addr, seen) = receiver().await;
    let steady = spawn_child("postgres", &url, addr, "b");
    let mut kills = 0;
    let mut attempts = 0;
    while kills < KILLS && attempts < 20 {
        attempts += 1;
        if kill_mid_send(spawn_child("postgres", &url, addr, "a"), "a", &seen).await {
            kills += 1;
        }
    }
    finishes(spawn_child("postgres", &url, addr, "a")).await;
    finishes(steady).await;
    let journal = tidings::journal::PostgresJournal::connect(&url)
        .await
        .unwrap();
    let t = tally(&seen, &journal).await;
    // No key sent by both replicas, unless it was in doubt.
    let inc = IncidentId::new(INCIDENT).unwrap();
    let doubted: HashSet<String> = journal
        .history(&inc)
        .await
        .unwrap()
        .into_iter()
        .filter(|h| matches!(h.state, DeliveryState::InDoubt { .. }))
        .map(|h| h.key.to_string())
        .collect();
    let mut by: HashMap<String, HashSet<String>> = HashMap::new();
    for (id, replica) in seen.lock().unwrap().iter() {
        by.entry(id.clone()).or_default().insert(replica.clone());
    }
    let both: Vec<&String> = by
        .iter()
        .filter(|(_, r)| r.len() > 1)
        .map(|(id, _)| id)
        .collect();
    for id in &both {
        assert!(
            doubted.contains(*id),
            "{id} was sent by both replicas without being in doubt"
        );
    }
    let from_b = by.values().filter(|r| r.contains("b")).count();
    let from_a = by.values().filter(|r| r.contains("a")).count();
    report(
        &format!(
            "postgres, two replicas, {from_a} keys sent by the killed one, {from_b} by the other, {} by both",
            both.len()
        ),
        &t,
        kills,
    );
    assert_eq!(t.lost, 0);
    assert!(kills >= KILLS, "only {kills} kills landed mid-send");
}
