//! Failures that cannot be provoked from outside without privileges: a full
//! disk part-way through a write, and a publish dropped while its write is
//! under way. Both go through the [`Sink`] seam, the one place file contents
//! reach the disk.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use chrono::{DateTime, TimeZone, Utc};

use super::StaticStatusPage;
use super::generation;
use super::store::Sink;
use crate::audience::{Audience, Detail};
use crate::channel::{Channel, ChannelError, Delivery, ErrorKind};
use crate::incident::{Impact, Incident, IncidentId, Status, Update, UpdateDraft};
use crate::prelude::Target;
use crate::render::Templates;

/// ENOSPC on Linux (and most Unixes).
const ENOSPC: i32 = 28;

/// A disk that takes `budget` more bytes, then fails as a full one does
/// (after writing what fits); `None` is unlimited. Counts what it wrote.
#[derive(Debug, Default)]
struct FullDisk {
    budget: Mutex<Option<u64>>,
    written: Mutex<u64>,
}

impl FullDisk {
    fn allow(&self, budget: Option<u64>) {
        *self.budget.lock().unwrap() = budget;
    }
}

impl Sink for FullDisk {
    fn write_all(&self, file: &mut fs::File, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let mut budget = self.budget.lock().unwrap();
        let fits = budget.map_or(bytes.len(), |b| bytes.len().min(b as usize));
        file.write_all(&bytes[..fits])?;
        *self.written.lock().unwrap() += fits as u64;
        if let Some(b) = budget.as_mut() {
            *b -= fits as u64;
        }
        if fits < bytes.len() {
            return Err(io::Error::from_raw_os_error(ENOSPC));
        }
        Ok(())
    }
}

/// A disk that tells when a write starts, then waits to be let through.
#[derive(Debug)]
struct Gate {
    started: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    open: Mutex<mpsc::Receiver<()>>,
}

impl Sink for Gate {
    fn write_all(&self, file: &mut fs::File, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        if let Some(started) = self.started.lock().unwrap().take() {
            let _ = started.send(());
            let _ = self.open.lock().unwrap().recv();
        }
        file.write_all(bytes)
    }
}

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap() + chrono::Duration::minutes(min)
}

fn builder(dir: &Path) -> super::StaticStatusPageBuilder {
    StaticStatusPage::builder(dir, "https://status.example.com/")
        // The fixed dates above must not age out of the history.
        .history_days(36_500)
}

fn page(dir: &Path, sink: Arc<dyn Sink>) -> StaticStatusPage {
    builder(dir).build().unwrap().with_sink(sink)
}

fn gate() -> (
    Arc<Gate>,
    tokio::sync::oneshot::Receiver<()>,
    mpsc::Sender<()>,
) {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (open_tx, open_rx) = mpsc::channel();
    let gate = Arc::new(Gate {
        started: Mutex::new(Some(started_tx)),
        open: Mutex::new(open_rx),
    });
    (gate, started_rx, open_tx)
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
        Target::new("page").unwrap(),
        Arc::new(message),
        "text",
        Arc::new(
            "https://status.example.com/incidents/inc-1.html"
                .parse()
                .unwrap(),
        ),
    )
}

fn post(inc: &mut Incident, min: i64, msg: &str) -> Update {
    inc.post(UpdateDraft::new(Status::Identified, t(min), msg).next_update_at(t(min + 30)))
        .unwrap()
        .clone()
}

/// What a reader of `current/` sees: where it links, every file's bytes.
fn served(dir: &Path) -> (PathBuf, BTreeMap<String, Vec<u8>>) {
    let link = fs::read_link(dir.join(generation::CURRENT)).unwrap();
    let root = dir.join(&link);
    let files = super::store::walk(&root)
        .unwrap()
        .into_iter()
        .map(|f| {
            let bytes = fs::read(root.join(&f)).unwrap();
            (f, bytes)
        })
        .collect();
    (link, files)
}

/// The sequence numbers of the updates the served state holds.
fn served_seqs(dir: &Path) -> Vec<u64> {
    let state: serde_json::Value = serde_json::from_slice(
        &fs::read(dir.join(generation::CURRENT).join("state.json")).unwrap(),
    )
    .unwrap();
    state["incidents"][0]["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["seq"].as_u64().unwrap())
        .collect()
}

fn generations(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.join(generation::GENERATIONS))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_full_disk_anywhere_in_a_write_leaves_the_previous_site_whole_and_the_next_publish_applies_it()
 {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    let disk = Arc::new(FullDisk::default());
    let page = page(&dir, disk.clone());
    let mut inc = Incident::new(
        IncidentId::new("inc-1").unwrap(),
        "API",
        Impact::Major,
        t(0),
    )
    .unwrap();
    let u1 = post(&mut inc, 1, "first");
    page.send(&delivery(&inc, &u1)).await.unwrap();
    // A second, incident-only write: how many bytes such a write takes.
    let u2 = post(&mut inc, 2, "second");
    let before = *disk.written.lock().unwrap();
    page.send(&delivery(&inc, &u2)).await.unwrap();
    let size = *disk.written.lock().unwrap() - before;
    assert!(size > 1000, "{size}");
    let site = served(&dir);
    let kept = generations(&dir);
    assert_eq!(served_seqs(&dir), [1, 2]);

    // The disk fills at the first byte, in the middle, at the last byte.
    let u3 = post(&mut inc, 3, "third");
    for budget in [0, 1, size / 3, size / 2, size - 1] {
        disk.allow(Some(budget));
        let err = page.send(&delivery(&inc, &u3)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transient, "{budget}: {err}");
        assert!(err.is_retryable());
        assert!(
            err.to_string().contains(&dir.display().to_string()),
            "names the directory: {err}"
        );
        assert!(matches!(err, ChannelError::Transient { .. }));
        // Byte for byte the site it was, no generation more, nothing left over.
        assert_eq!(served(&dir), site, "budget {budget}");
        assert_eq!(generations(&dir), kept);
        assert!(page.leftover_temp_files().is_empty());
    }

    // Space again: the next update brings the failed one with it.
    disk.allow(None);
    let u4 = post(&mut inc, 4, "fourth");
    page.send(&delivery(&inc, &u4)).await.unwrap();
    assert_eq!(served_seqs(&dir), [1, 2, 3, 4]);
    let index = fs::read_to_string(dir.join("current/index.html")).unwrap();
    assert!(index.contains("third") && index.contains("fourth"));
}

#[tokio::test]
async fn a_publish_dropped_mid_write_finishes_the_write_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    let (gate, started, open) = gate();
    let page = page(&dir, Arc::new(super::store::Direct));
    let mut inc = Incident::new(
        IncidentId::new("inc-1").unwrap(),
        "API",
        Impact::Major,
        t(0),
    )
    .unwrap();
    let u1 = post(&mut inc, 1, "first");
    page.send(&delivery(&inc, &u1)).await.unwrap();
    let site = served(&dir);

    // The second write stops at its first byte; the publish is dropped then
    // (as the dispatcher's send timeout drops it).
    let page = page.with_sink(gate);
    let u2 = post(&mut inc, 2, "second");
    let d2 = delivery(&inc, &u2);
    tokio::select! {
        result = page.send(&d2) => panic!("the write should be held: {result:?}"),
        _ = started => {}
    }
    // Dropped mid-write: the old site is still served, whole.
    assert_eq!(served(&dir), site);

    // The write goes on in the background and holds the lock until it is
    // done; the next publish waits for it, then reads what it wrote.
    open.send(()).unwrap();
    let u3 = post(&mut inc, 3, "third");
    page.send(&delivery(&inc, &u3)).await.unwrap();
    assert_eq!(served_seqs(&dir), [1, 2, 3]);
    assert!(page.leftover_temp_files().is_empty());
}

#[tokio::test]
async fn a_fresh_page_whose_first_publish_is_dropped_starts_over_only_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    let mut old =
        Incident::new(IncidentId::new("old").unwrap(), "Old", Impact::Minor, t(0)).unwrap();
    let u = post(&mut old, 1, "before");
    page(&dir, Arc::new(super::store::Direct))
        .send(&delivery(&old, &u))
        .await
        .unwrap();

    let (gate, started, open) = gate();
    let fresh = builder(&dir).fresh().build().unwrap().with_sink(gate);
    let mut a = Incident::new(IncidentId::new("a").unwrap(), "A", Impact::Minor, t(0)).unwrap();
    let ua = post(&mut a, 2, "a");
    let da = delivery(&a, &ua);
    tokio::select! {
        result = fresh.send(&da) => panic!("the write should be held: {result:?}"),
        _ = started => {}
    }
    open.send(()).unwrap();
    // The dropped write started over; this one must not start over again.
    let mut b = Incident::new(IncidentId::new("b").unwrap(), "B", Impact::Minor, t(0)).unwrap();
    let ub = post(&mut b, 3, "b");
    fresh.send(&delivery(&b, &ub)).await.unwrap();
    let state: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("current/state.json")).unwrap()).unwrap();
    let ids: Vec<&str> = state["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b"]);
}
