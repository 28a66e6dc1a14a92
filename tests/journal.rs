//! The journal contract (`tidings::journal::conformance`) on every backend:
//! memory, SQLite (a real file, reopened), PostgreSQL (a real server, from
//! `TIDINGS_TEST_POSTGRES`, which `./scripts/test` starts); and claims
//! raced by several processes on the databases.

#![cfg(feature = "journal-conformance")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::process::Command;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tidings::audience::{Audience, Target};
use tidings::channel::{IdempotencyKey, Part};
use tidings::incident::IncidentId;
use tidings::journal::conformance::{self, Store};
use tidings::journal::{Claim, ClaimOptions, Journal, JournalEntry, MemoryJournal, Owner};

struct Memory(Arc<MemoryJournal>);

#[async_trait]
impl Store for Memory {
    async fn open(&self) -> Arc<dyn Journal> {
        self.0.clone()
    }
}

#[tokio::test]
async fn the_memory_journal_keeps_the_contract() {
    conformance::run_all(&Memory(Arc::new(MemoryJournal::new()))).await;
}

/// The entry every racing process claims.
fn race_entry(incident: &str) -> JournalEntry {
    let incident = IncidentId::new(incident).unwrap();
    let target = Target::new("#race").unwrap();
    JournalEntry::new(
        IdempotencyKey::derive(&incident, 1, "chat", &target, 1),
        incident,
        1,
        "chat",
        false,
        vec![Audience::CoreResponders],
        target,
        Part::WHOLE,
        true,
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap(),
    )
}

/// Starts `n` copies of this test binary, each claiming the same key in the
/// journal `backend`/`location` once at the same moment; returns what each
/// printed ("claimed" or "in_flight").
fn race_processes(backend: &str, location: &str, incident: &str, n: usize) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 1500;
    let children: Vec<_> = (0..n)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "claim_child",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(
                    "TIDINGS_CLAIM_CHILD",
                    format!("{backend}|{location}|{incident}|{start}"),
                )
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "a claimer failed");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.lines()
                .find_map(|l| l.split("RESULT ").nth(1))
                .map(str::trim)
                .expect("the claimer printed its result")
                .to_owned()
        })
        .collect()
}

/// One racing process (started by [`race_processes`]; ignored otherwise).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a child process of the race tests"]
async fn claim_child() {
    let spec = std::env::var("TIDINGS_CLAIM_CHILD").expect("run by race_processes");
    let parts: Vec<&str> = spec.split('|').collect();
    let (backend, location, incident, start) = (parts[0], parts[1], parts[2], parts[3]);
    let journal: Arc<dyn Journal> = match backend {
        #[cfg(feature = "journal-sqlite")]
        "sqlite" => Arc::new(
            tidings::journal::SqliteJournal::open(location)
                .await
                .unwrap(),
        ),
        #[cfg(feature = "journal-postgres")]
        "postgres" => Arc::new(
            tidings::journal::PostgresJournal::connect(location)
                .await
                .unwrap(),
        ),
        other => panic!("unknown backend {other}"),
    };
    let entry = race_entry(incident);
    let owner = Owner::unique();
    // Everyone claims at the same wall-clock moment.
    let start: u128 = start.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    if start > now {
        std::thread::sleep(std::time::Duration::from_millis((start - now) as u64));
    }
    let t = entry.planned_at;
    let result = journal
        .claim(
            &entry,
            &owner,
            t,
            t + chrono::Duration::seconds(60),
            ClaimOptions::new(),
        )
        .await
        .unwrap();
    let label = match result {
        Claim::Claimed { .. } => "claimed",
        Claim::InFlight { .. } => "in_flight",
        _ => "other",
    };
    println!("RESULT {label}");
}

fn exactly_one_claimed(results: &[String]) {
    let claimed = results.iter().filter(|r| *r == "claimed").count();
    let in_flight = results.iter().filter(|r| *r == "in_flight").count();
    assert_eq!((claimed, in_flight), (1, results.len() - 1), "{results:?}");
}

#[cfg(feature = "journal-sqlite")]
mod sqlite {
    use super::*;
    use tidings::journal::{JournalError, SqliteJournal};

    struct File(std::path::PathBuf);

    #[async_trait]
    impl Store for File {
        async fn open(&self) -> Arc<dyn Journal> {
            Arc::new(SqliteJournal::open(&self.0).await.unwrap())
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_sqlite_journal_keeps_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        conformance::run_all(&File(dir.path().join("journal.db"))).await;
    }

    #[test]
    fn processes_racing_on_one_key_make_exactly_one_claim() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("race.db");
        // Create the schema first, so the racers only race on the claim.
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(SqliteJournal::open(&path))
            .unwrap();
        let results = race_processes("sqlite", path.to_str().unwrap(), "race-sqlite", 8);
        exactly_one_claimed(&results);
    }

    #[tokio::test]
    async fn a_file_from_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("future.db");
        drop(SqliteJournal::open(&path).await.unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("INSERT INTO tidings_schema (version) VALUES (99)", [])
            .unwrap();
        drop(conn);
        let err = SqliteJournal::open(&path).await.unwrap_err();
        assert_eq!(
            err,
            JournalError::SchemaMismatch {
                found: 99,
                supported: SqliteJournal::SCHEMA_VERSION
            }
        );
        assert!(!err.is_retryable());
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_journal_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.db");
        std::fs::write(&path, b"this is not an SQLite database, not at all").unwrap();
        let err = SqliteJournal::open(&path).await.unwrap_err();
        assert!(
            err.to_string().contains("garbage.db") || err.to_string().contains("not a database"),
            "{err}"
        );
        let missing = SqliteJournal::open(dir.path().join("no/such/dir/j.db"))
            .await
            .unwrap_err();
        assert!(missing.is_retryable(), "{missing}");
    }
}

#[cfg(feature = "journal-postgres")]
mod postgres {
    use super::*;
    use tidings::journal::{JournalError, PostgresJournal};

    struct Database(String);

    #[async_trait]
    impl Store for Database {
        async fn open(&self) -> Arc<dyn Journal> {
            Arc::new(PostgresJournal::connect(&self.0).await.unwrap())
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_postgres_journal_keeps_the_contract() {
        let url = support::postgres::fresh_database().await;
        conformance::run_all(&Database(url)).await;
    }

    #[test]
    fn processes_racing_on_one_key_make_exactly_one_claim() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let url = rt.block_on(async {
            let url = support::postgres::fresh_database().await;
            PostgresJournal::connect(&url).await.unwrap();
            url
        });
        let results = race_processes("postgres", &url, "race-postgres", 8);
        exactly_one_claimed(&results);
    }

    #[tokio::test]
    async fn a_database_from_a_newer_schema_is_refused() {
        let url = support::postgres::fresh_database().await;
        drop(PostgresJournal::connect(&url).await.unwrap());
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .execute("INSERT INTO tidings_schema (version) VALUES (99)", &[])
            .await
            .unwrap();
        let err = PostgresJournal::connect(&url).await.unwrap_err();
        assert_eq!(
            err,
            JournalError::SchemaMismatch {
                found: 99,
                supported: PostgresJournal::SCHEMA_VERSION
            }
        );
    }

    #[tokio::test]
    async fn a_server_that_is_not_there_is_unavailable_and_secrets_stay_out() {
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://tidings:hunter2secret@127.0.0.1:{port}/db");
        let err = PostgresJournal::connect(&url).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(!err.to_string().contains("hunter2secret"), "{err}");
        let bad = PostgresJournal::connect("postgres://[nonsense")
            .await
            .unwrap_err();
        assert!(matches!(bad, JournalError::Invalid { .. }), "{bad}");
        let tls = PostgresJournal::connect("postgres://u@127.0.0.1/db?sslmode=require")
            .await
            .unwrap_err();
        assert!(tls.to_string().contains("TLS"), "{tls}");
        let url = support::postgres::fresh_database().await;
        let journal = PostgresJournal::connect(&url).await.unwrap();
        assert!(!format!("{journal:?}").contains("postgres@"), "{journal:?}");
    }
}
