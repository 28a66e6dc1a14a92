//! The static status page's write protocol, from outside: several writers on
//! one directory (page values and OS processes), the lock's timeout, readers
//! during switches, the served layout, the bounded history, and taking over a
//! directory written by an earlier version.
//!
//! A full disk and a publish dropped mid-write are injected in the crate's
//! own tests (`src/channel/status_page/faults.rs`): they need a seam this
//! crate does not make public.

#![cfg(feature = "status-page")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use support::*;
use tidings::channel::BuildError;
use tidings::channel::status_page::{Maintenance, MaintenanceStatus, StaticStatusPage};
use tidings::channel::{Channel, Delivery, ErrorKind};
use tidings::incident::Update;
use tidings::prelude::*;
use tidings::render::Templates;

const BASE: &str = "https://status.example.com/";

/// Set in a child process started by
/// [`two_processes_on_one_directory_lose_nothing`]: the directory to write.
const CHILD_DIR: &str = "TIDINGS_TEST_PAGE_CHILD_DIR";
/// The prefix of the child's incident ids.
const CHILD_NAME: &str = "TIDINGS_TEST_PAGE_CHILD_NAME";

fn page(dir: &Path) -> StaticStatusPage {
    StaticStatusPage::builder(dir, BASE)
        // Fixed dates (support::t0) must not age out of the history.
        .history_days(36_500)
        .build()
        .unwrap()
}

fn delivery(inc: &Incident, u: &Update) -> Delivery {
    let message = Templates::new()
        .render(inc, u, &Audience::Customers, Detail::Public)
        .unwrap();
    Delivery::new(
        "page",
        Arc::new(inc.clone()),
        Arc::new(u.clone()),
        Audience::Customers,
        Detail::Public,
        target("page"),
        Arc::new(message),
        "text",
        Arc::new(BASE.parse().unwrap()),
    )
}

fn incident(id: &str, at: DateTime<Utc>) -> Incident {
    Incident::new(IncidentId::new(id).unwrap(), "Errors", Impact::Minor, at).unwrap()
}

fn post(inc: &mut Incident, status: Status, at: DateTime<Utc>, msg: &str) -> Update {
    let draft = UpdateDraft::new(status, at, msg);
    let draft = if status.is_closed() {
        draft
    } else {
        draft.next_update_at(at + minutes(30))
    };
    inc.post(draft).unwrap().clone()
}

/// Publishes `updates` updates of each incident `<prefix>-<i>`, i < `count`,
/// interleaved.
async fn write_incidents(page: &StaticStatusPage, prefix: &str, count: usize, updates: usize) {
    let mut incidents: Vec<Incident> = (0..count)
        .map(|i| incident(&format!("{prefix}-{i}"), t0()))
        .collect();
    for n in 0..updates {
        for inc in &mut incidents {
            let u = post(
                inc,
                Status::Identified,
                t0() + minutes(n as i64),
                "Working.",
            );
            page.send(&delivery(inc, &u)).await.unwrap();
        }
    }
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every incident the served state holds: id and number of updates.
fn served_incidents(dir: &Path) -> BTreeSet<(String, usize)> {
    json(&dir.join("current/state.json"))["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["updates"].as_array().unwrap().len(),
            )
        })
        .collect()
}

fn expected(prefixes: &[&str], count: usize, updates: usize) -> BTreeSet<(String, usize)> {
    prefixes
        .iter()
        .flat_map(|p| (0..count).map(move |i| (format!("{p}-{i}"), updates)))
        .collect()
}

fn generations(dir: &Path) -> Vec<u64> {
    let mut found: Vec<u64> = std::fs::read_dir(dir.join("generations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
        .collect();
    found.sort_unstable();
    found
}

/// Every listed incident also in the JSON API, with its page.
fn check_api_agrees(dir: &Path, ids: &BTreeSet<(String, usize)>) {
    let api = json(&dir.join("current/api/v2/incidents.json"));
    let listed: BTreeSet<(String, usize)> = api["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["incident_updates"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(&listed, ids);
    for (id, _) in ids {
        assert!(
            dir.join(format!("current/incidents/{id}.html")).is_file(),
            "{id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_on_one_directory_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    let a = Arc::new(page(&dir));
    let b = Arc::new(page(&dir));
    // Four writers at once, two on each page value.
    let tasks: Vec<_> = [("a", &a), ("b", &b), ("c", &a), ("d", &b)]
        .into_iter()
        .map(|(prefix, page)| {
            let page = page.clone();
            tokio::spawn(async move { write_incidents(&page, prefix, 2, 2).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let want = expected(&["a", "b", "c", "d"], 2, 2);
    assert_eq!(served_incidents(&dir), want);
    check_api_agrees(&dir, &want);
    assert!(a.leftover_temp_files().is_empty());
    let kept = generations(&dir);
    assert_eq!(kept.len(), 3, "the current one and two before: {kept:?}");
    assert_eq!(*kept.last().unwrap(), 4 * 2 * 2, "one generation per write");
}

/// Not a test on its own: the child writer of
/// [`two_processes_on_one_directory_lose_nothing`], which runs this test
/// binary again with [`CHILD_DIR`] set. Without it, it does nothing.
#[test]
fn child_process_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let prefix = std::env::var(CHILD_NAME).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let page = page(Path::new(&dir));
        write_incidents(&page, &prefix, 3, 4).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_directory_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<std::process::Child> = ["p1", "p2"]
        .into_iter()
        .map(|name| {
            std::process::Command::new(&exe)
                .args(["--exact", "child_process_writer", "--test-threads=1"])
                .env(CHILD_DIR, &dir)
                .env(CHILD_NAME, name)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // This process writes too, at the same time.
    let page = page(&dir);
    write_incidents(&page, "parent", 3, 4).await;
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("1 passed"),
            "the child ran its writer: {text}"
        );
    }
    let want = expected(&["p1", "p2", "parent"], 3, 4);
    assert_eq!(served_incidents(&dir), want);
    check_api_agrees(&dir, &want);
    assert!(page.leftover_temp_files().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_writer_waits_for_the_lock_then_fails_with_a_retryable_error_naming_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    let page = StaticStatusPage::builder(&dir, BASE)
        .history_days(36_500)
        .lock_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut inc = incident("inc-1", t0());
    let u1 = post(&mut inc, Status::Investigating, t0(), "First.");
    page.send(&delivery(&inc, &u1)).await.unwrap();
    let before = std::fs::read(dir.join("current/state.json")).unwrap();

    // Another writer holds the lock (as another process would).
    let holder = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(".tidings.lock"))
        .unwrap();
    fs4::FileExt::try_lock(&holder).unwrap();

    let u2 = post(&mut inc, Status::Identified, t0() + minutes(5), "Second.");
    let start = tokio::time::Instant::now();
    let err = page.send(&delivery(&inc, &u2)).await.unwrap_err();
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(6),
        "{waited:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert!(err.is_retryable());
    let text = err.to_string();
    assert!(text.contains(&dir.display().to_string()), "{text}");
    assert!(text.contains("locked"), "{text}");
    assert_eq!(
        std::fs::read(dir.join("current/state.json")).unwrap(),
        before,
        "nothing written"
    );

    // Released: the same update goes through.
    drop(holder);
    page.send(&delivery(&inc, &u2)).await.unwrap();
    assert_eq!(
        served_incidents(&dir),
        BTreeSet::from([("inc-1".to_owned(), 2)])
    );
}

/// The number of updates each file of one generation shows for the incident.
fn counts(generation: &Path) -> std::io::Result<[usize; 4]> {
    let read = |f: &str| std::fs::read_to_string(generation.join(f));
    let state: Value = serde_json::from_str(&read("state.json")?).unwrap();
    let summary: Value = serde_json::from_str(&read("api/v2/summary.json")?).unwrap();
    let page = read("incidents/inc-7.html")?;
    let index = read("index.html")?;
    Ok([
        state["incidents"][0]["updates"].as_array().unwrap().len(),
        summary["incidents"][0]["incident_updates"]
            .as_array()
            .unwrap()
            .len(),
        page.matches(r#"class="update""#).count(),
        index.matches(r#"class="update""#).count(),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_one_generation_or_the_next_never_a_mix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    let page = page(&dir);
    let mut inc = incident("inc-7", t0());
    let u = post(&mut inc, Status::Investigating, t0(), "Looking.");
    page.send(&delivery(&inc, &u)).await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let served = page.served_dir();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut whole, mut retired) = (0u32, 0u32);
                while !stop.load(Ordering::Relaxed) {
                    // As a web server does for one request: the link is
                    // resolved once, then files are read under it.
                    let generation = std::fs::canonicalize(&served).unwrap();
                    match counts(&generation) {
                        Ok(c) => {
                            assert!(c.iter().all(|n| *n == c[0]), "a mixed site: {c:?}");
                            whole += 1;
                        }
                        // Retired while read (two more writes went by).
                        Err(_) if !generation.exists() => retired += 1,
                        Err(e) => panic!("{}: {e}", generation.display()),
                    }
                }
                (whole, retired)
            })
        })
        .collect();

    let long = "A long message. ".repeat(200);
    for n in 1..=20 {
        let u = post(
            &mut inc,
            Status::Identified,
            t0() + minutes(n),
            &format!("{n}: {long}"),
        );
        page.send(&delivery(&inc, &u)).await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        let (whole, retired) = reader.join().expect("no reader saw a mixed site");
        assert!(
            whole > 0 && whole > retired,
            "{whole} whole, {retired} retired"
        );
    }
    assert_eq!(counts(&page.served_dir()).unwrap(), [21; 4]);
}

#[tokio::test]
async fn the_served_directory_links_to_the_latest_generation_and_two_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    let page = page(&dir);
    assert_eq!(page.served_dir(), dir.join("current"));
    assert!(!dir.exists(), "nothing written before the first publish");
    let mut inc = incident("inc-1", t0());
    for n in 1..=6 {
        let u = post(&mut inc, Status::Identified, t0() + minutes(n), "More.");
        page.send(&delivery(&inc, &u)).await.unwrap();
    }
    let link = std::fs::read_link(dir.join("current")).unwrap();
    assert_eq!(link, Path::new("generations").join("6"), "a relative link");
    assert_eq!(generations(&dir), [4, 5, 6]);
    // Only the lock, the link and the generations.
    let mut top: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, [".tidings.lock", "current", "generations"]);
    // A page not rendered again (another incident's) is the same file in
    // both generations: carried over as a hard link, not rewritten.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mut other = incident("inc-2", t0());
        let u = post(&mut other, Status::Identified, t0(), "Other.");
        page.send(&delivery(&other, &u)).await.unwrap();
        let ino = |n: u64| {
            std::fs::metadata(dir.join(format!("generations/{n}/incidents/inc-1.html")))
                .unwrap()
                .ino()
        };
        assert_eq!(ino(6), ino(7));
    }
}

#[tokio::test]
async fn resolved_incidents_older_than_the_history_leave_the_page() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    let err = StaticStatusPage::builder(&dir, BASE)
        .history_days(0)
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, BuildError::InvalidSetting { setting, .. } if setting == "status page history_days"),
        "{err:?}"
    );

    let page = StaticStatusPage::builder(&dir, BASE).build().unwrap(); // 90 days
    let now = Utc::now();
    let days = chrono::Duration::days;

    let mut old = incident("old", now - days(200));
    let u = post(&mut old, Status::Investigating, now - days(200), "Old.");
    page.send(&delivery(&old, &u)).await.unwrap();
    let u = post(&mut old, Status::Resolved, now - days(199), "Old, fixed.");
    page.send(&delivery(&old, &u)).await.unwrap();

    let mut recent = incident("recent", now - days(10));
    let u = post(
        &mut recent,
        Status::Resolved,
        now - days(10),
        "Recent, fixed.",
    );
    page.send(&delivery(&recent, &u)).await.unwrap();

    let mut open = incident("stale-open", now - days(200));
    let u = post(
        &mut open,
        Status::Investigating,
        now - days(200),
        "Still open.",
    );
    page.send(&delivery(&open, &u)).await.unwrap();

    let mut done = Maintenance::new(
        IncidentId::new("old-mnt").unwrap(),
        "Upgrade",
        now - days(300),
        now - days(299),
    )
    .unwrap();
    done.post(MaintenanceStatus::Completed, now - days(299), "Done.")
        .unwrap();
    page.publish_maintenance(&done).await.unwrap();
    page.refresh().await.unwrap();

    let served = page.served_dir();
    let ids: BTreeSet<String> = served_incidents(&dir)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from(["recent".to_owned(), "stale-open".to_owned()])
    );
    let state = json(&served.join("state.json"));
    assert_eq!(state["maintenances"].as_array().unwrap().len(), 0);
    assert!(!served.join("incidents/old.html").exists());
    assert!(!served.join("maintenance/old-mnt.html").exists());
    assert!(served.join("incidents/recent.html").is_file());
    assert!(served.join("incidents/stale-open.html").is_file());
    for f in ["index.html", "history.atom", "api/v2/incidents.json"] {
        let text = std::fs::read_to_string(served.join(f)).unwrap();
        assert!(!text.contains("incidents/old.html"), "{f}");
        assert!(!text.contains("Old, fixed."), "{f}");
        assert!(text.contains("incidents/recent.html"), "{f}");
    }
}

#[tokio::test]
async fn fresh_starts_over_once_and_a_directory_of_the_old_layout_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    write_incidents(&page(&dir), "before", 2, 1).await;

    // `fresh`: the first write forgets what was there; the next ones read it.
    let fresh = StaticStatusPage::builder(&dir, BASE)
        .history_days(36_500)
        .fresh()
        .build()
        .unwrap();
    write_incidents(&fresh, "after", 1, 1).await;
    assert_eq!(served_incidents(&dir), expected(&["after"], 1, 1));
    assert!(!dir.join("current/incidents/before-0.html").exists());
    write_incidents(&fresh, "again", 1, 1).await;
    assert_eq!(served_incidents(&dir), expected(&["after", "again"], 1, 1));

    // An earlier version wrote the site and its state at the top of the
    // directory: the state is taken over into the first generation.
    let legacy = tmp.path().join("legacy");
    std::fs::create_dir(&legacy).unwrap();
    std::fs::copy(dir.join("current/state.json"), legacy.join("state.json")).unwrap();
    std::fs::write(legacy.join("index.html"), "old layout").unwrap();
    let page = page(&legacy);
    write_incidents(&page, "new", 1, 1).await;
    assert_eq!(
        served_incidents(&legacy),
        expected(&["after", "again", "new"], 1, 1)
    );
    assert!(legacy.join("current/incidents/after-0.html").is_file());

    // A `current` that is not the crate's link is refused, not replaced.
    let odd = tmp.path().join("odd");
    std::fs::create_dir_all(odd.join("current")).unwrap();
    let err = StaticStatusPage::builder(&odd, BASE).build().unwrap_err();
    assert!(matches!(err, BuildError::InvalidSetting { .. }), "{err:?}");
    assert!(err.to_string().contains("move it away"), "{err}");
}
