//! One writer per directory: an advisory lock on `<dir>/.tidings.lock`.
//!
//! Every [`StaticStatusPage`](super::StaticStatusPage), in this process or
//! another, takes the lock before it reads the page's state and holds it until
//! the new generation of the site is switched in. The lock is `flock(2)` on
//! Unix and `LockFileEx` on Windows (through `fs4`), taken on a handle of its
//! own, so two pages on one directory in the same process exclude each other
//! too. The system releases it when the handle is closed, also when the
//! process dies: a crash leaves no stale lock. It is advisory (only writers
//! that ask for it are kept out) and, like every `flock`, not to be trusted on
//! network file systems.
//!
//! Waiting does not block the runtime: the lock is tried without blocking,
//! and between tries the task sleeps on tokio's clock (so a paused clock in
//! tests runs through the wait at once).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fs4::{FileExt, TryLockError};

use super::store;
use crate::channel::ChannelError;

/// The lock file's name, in the page's directory.
pub(crate) const LOCK_FILE: &str = ".tidings.lock";

/// The first pause between two tries, doubled up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(2);
const MAX_PAUSE: Duration = Duration::from_millis(25);

/// The held lock; released when dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    // Closing the handle releases the lock.
    _file: fs::File,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    /// Another writer held it for the whole wait.
    #[error(
        "the status page directory {} is locked by another writer (another process, or another StaticStatusPage on the same directory) and stayed locked for {waited:?}; \
         the publish is retried; if this persists, find the process holding {} (it is released when that process exits)",
        .dir.display(),
        .lock.display()
    )]
    Busy {
        dir: PathBuf,
        lock: PathBuf,
        waited: Duration,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock {}: {source}", .lock.display())]
    Io {
        lock: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl LockError {
    /// Busy: [`ChannelError::Transient`] (the other writer finishes; retry).
    /// I/O: mapped as every other write failure ([`store::map_io`]).
    pub(crate) fn into_channel_error(self, dir: &Path) -> ChannelError {
        match self {
            LockError::Busy { .. } => ChannelError::transient(self.to_string()),
            LockError::Io { source, .. } => store::map_io(dir, &source),
        }
    }
}

impl DirLock {
    /// Takes the lock of `dir` (created if missing), waiting up to `timeout`
    /// for another writer to release it; a zero timeout tries once.
    pub(crate) async fn acquire(dir: &Path, timeout: Duration) -> Result<Self, LockError> {
        let lock = dir.join(LOCK_FILE);
        let io_error = |source| LockError::Io {
            lock: lock.clone(),
            source,
        };
        let file = {
            let (dir, lock) = (dir.to_path_buf(), lock.clone());
            tokio::task::spawn_blocking(move || open(&dir, &lock))
                .await
                .map_err(|e| io_error(io::Error::other(e)))?
                .map_err(io_error)?
        };
        let start = tokio::time::Instant::now();
        let mut pause = FIRST_PAUSE;
        loop {
            // A non-blocking try: one system call, safe on the runtime.
            match FileExt::try_lock(&file) {
                Ok(()) => return Ok(Self { _file: file }),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(io_error(e)),
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(LockError::Busy {
                    dir: dir.to_path_buf(),
                    lock,
                    waited,
                });
            }
            tokio::time::sleep(pause.min(timeout - waited)).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}

fn open(dir: &Path, lock: &Path) -> io::Result<fs::File> {
    store::ensure_dir(dir)?;
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_second_holder_waits_then_gets_a_retryable_error_naming_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("site");
        let first = DirLock::acquire(&dir, Duration::ZERO).await.unwrap();
        let start = tokio::time::Instant::now();
        let err = DirLock::acquire(&dir, Duration::from_secs(3))
            .await
            .unwrap_err();
        assert!(start.elapsed() >= Duration::from_secs(3));
        assert!(matches!(err, LockError::Busy { .. }), "{err}");
        let err = err.into_channel_error(&dir);
        assert!(err.is_retryable(), "{err}");
        assert!(
            err.to_string().contains(&dir.display().to_string()),
            "{err}"
        );
        drop(first);
        DirLock::acquire(&dir, Duration::ZERO).await.unwrap();
    }

    #[tokio::test]
    async fn a_file_in_place_of_the_directory_is_a_config_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("site");
        fs::write(&dir, "x").unwrap();
        let err = DirLock::acquire(&dir, Duration::ZERO).await.unwrap_err();
        let err = err.into_channel_error(&dir);
        assert!(matches!(err, ChannelError::Config { .. }), "{err}");
    }
}
