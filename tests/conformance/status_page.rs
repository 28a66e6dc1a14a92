//! The hosted status page: its "provider" is a directory.
//!
//! What reaches the provider is what the page publishes for each send: the
//! Atom entry of the delivered update (title, link and text), read back from
//! the served `current/history.atom` after the send. Failure scenarios:
//!
//! - permanent: the directory is replaced by a file after the page was built;
//!   every write fails with `NotADirectory`, mapped to `ChannelError::Config`
//!   (not retried; the same mapping covers permission denied and a read-only
//!   file system, which cannot be provoked as root);
//! - transient: disk full and I/O errors map to `ChannelError::Transient`
//!   (a full disk is injected in the crate's own tests, `faults.rs`), but
//!   cannot be provoked here; so does a directory locked by another writer
//!   for longer than the lock timeout (`tests/status_page_faults.rs`);
//! - rate limits and timeouts: the page has neither.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tidings::channel::status_page::StaticStatusPage;
use tidings::channel::{Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, Receipt};
use tidings::prelude::*;

use crate::suite::Harness;

/// The page, observed: after each successful send, the published entry of
/// the delivered update is read back from the feed.
#[derive(Debug)]
struct Observed {
    page: StaticStatusPage,
    received: Mutex<Vec<String>>,
}

#[async_trait]
impl Channel for Observed {
    fn kind(&self) -> ChannelKind {
        self.page.kind()
    }
    fn limits(&self) -> &ChannelLimits {
        self.page.limits()
    }
    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let receipt = self.page.send(delivery).await?;
        let permalink = receipt.permalink.clone().expect("a permalink");
        let atom = std::fs::read(self.page.served_dir().join("history.atom")).unwrap();
        let feed = feed_rs::parser::parse(atom.as_slice()).expect("a valid feed");
        let id = format!("{permalink}#update-{}", delivery.update.seq);
        let entry = feed
            .entries
            .iter()
            .find(|e| e.id == id)
            .unwrap_or_else(|| panic!("no feed entry {id}"));
        let text = format!(
            "{}\n{}\n{}",
            entry.title.as_ref().unwrap().content,
            entry.content.as_ref().unwrap().body.as_deref().unwrap(),
            entry.links[0].href,
        );
        self.received.lock().unwrap().push(text);
        Ok(receipt)
    }
}

struct Page {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    channel: Arc<Observed>,
}

async fn harness() -> Page {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    let page = StaticStatusPage::builder(&dir, "https://status.example.com/")
        .name("Example")
        // The suite's incidents have fixed dates; they must not age out.
        .history_days(36_500)
        .build()
        .unwrap();
    Page {
        channel: Arc::new(Observed {
            page,
            received: Mutex::new(Vec::new()),
        }),
        _tmp: tmp,
        dir,
    }
}

#[async_trait]
impl Harness for Page {
    fn channel(&self) -> Arc<dyn Channel> {
        self.channel.clone()
    }
    fn target(&self) -> Target {
        Target::new("page").unwrap()
    }
    fn invalid_target(&self) -> Option<Target> {
        None // the page has one target; the dispatcher names it
    }
    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }
    fn own_timeout(&self) -> Option<Duration> {
        None // local writes; bounded by the dispatcher's send timeout
    }
    fn answers_rate_limits(&self) -> bool {
        false
    }
    fn answers_transient(&self) -> bool {
        false
    }
    async fn respond_ok(&self) {
        if self.dir.is_file() {
            std::fs::remove_file(&self.dir).unwrap();
        }
    }
    async fn respond_rate_limited(&self, _after: Duration) {}
    async fn respond_transient(&self) {}
    async fn respond_permanent(&self) {
        if self.dir.is_dir() {
            std::fs::remove_dir_all(&self.dir).unwrap();
        }
        std::fs::write(&self.dir, "a file where the site should be").unwrap();
    }
    async fn respond_hang(&self) {}
    async fn received(&self) -> Vec<String> {
        self.channel.received.lock().unwrap().clone()
    }
}

conformance_tests!(harness().await);

#[tokio::test]
async fn permanent_failure_is_a_config_error() {
    let h = harness().await;
    h.respond_permanent().await;
    let d = crate::suite::delivery_for(&h, "x", h.target(), Overflow::Shorten).remove(0);
    let err = h.channel().send(&d).await.unwrap_err();
    assert!(matches!(err, ChannelError::Config { .. }), "{err}");
    assert!(h.received().await.is_empty());
    h.respond_ok().await;
    h.channel().send(&d).await.unwrap();
    assert_eq!(h.received().await.len(), 1);
}
