//! Atomic file writes: a reader sees the old file or the new one, never part
//! of one.
//!
//! Each file is written to a temporary file in its own directory (so the
//! rename cannot cross file systems), flushed to disk with `fsync`, and
//! renamed over the old one; then each directory that changed is synced, so
//! the renames survive a crash too. Temporary files are named
//! `.tidings-*.tmp` and are removed if anything fails.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::channel::ChannelError;

/// The prefix of temporary files; a static host should not serve them (they
/// only exist for the time of one write).
pub(crate) const TEMP_PREFIX: &str = ".tidings-";

/// One file to write: a path relative to the site root, and its bytes.
#[derive(Debug, Clone)]
pub(crate) struct File {
    pub(crate) path: String,
    pub(crate) bytes: Vec<u8>,
}

/// Writes every file under `root`, atomically each, in the order given.
pub(crate) fn write_all(root: &Path, files: &[File]) -> io::Result<()> {
    ensure_dir(root)?;
    let mut dirs = BTreeSet::new();
    for file in files {
        let path = root.join(&file.path);
        let dir = path
            .parent()
            .map_or_else(|| root.to_path_buf(), Path::to_path_buf);
        ensure_dir(&dir)?;
        write_atomic(&dir, &path, &file.bytes)?;
        dirs.insert(dir);
    }
    for dir in dirs {
        sync_dir(&dir)?;
    }
    Ok(())
}

/// Creates `dir` (and its parents) unless it exists; an existing non-directory
/// is an error (`NotADirectory`), not something to write through.
fn ensure_dir(dir: &Path) -> io::Result<()> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is not a directory", dir.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir_all(dir),
        Err(e) => Err(e),
    }
}

fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).suffix(".tmp");
    #[cfg(unix)]
    {
        // tempfile creates 0600 files; a static site must be readable by the
        // web server's user. (The process umask still applies.)
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Syncs a directory so that renames in it are durable. Windows cannot open a
/// directory as a file; there the rename is as durable as the system makes it.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
    }
    Ok(())
}

/// Reads `path`, or `None` if it does not exist.
pub(crate) fn read_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Maps a write failure to what the dispatcher should do.
///
/// - The directory cannot be written for a reason that will not pass by
///   itself (permission denied, read-only file system, a file where a
///   directory should be, or the reverse): [`ChannelError::Config`], not
///   retried. Fix the directory or the configuration.
/// - Anything else (disk full, quota, an interrupted or failing device, too
///   many open files): [`ChannelError::Transient`], retried with backoff.
pub(crate) fn map_io(dir: &Path, e: &io::Error) -> ChannelError {
    use io::ErrorKind as K;
    let reason = format!("cannot write the status page in {}: {e}", dir.display());
    match e.kind() {
        K::PermissionDenied
        | K::ReadOnlyFilesystem
        | K::NotADirectory
        | K::IsADirectory
        | K::InvalidFilename
        | K::InvalidInput => ChannelError::Config { reason },
        _ => ChannelError::transient(reason),
    }
}

/// Every leftover temporary file under `root` (there should be none once a
/// write has returned); for tests and health checks.
pub(crate) fn leftovers(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                found.push(path);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_and_leave_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let files = |s: &str| {
            vec![
                File {
                    path: "a/b/c.txt".into(),
                    bytes: s.as_bytes().to_vec(),
                },
                File {
                    path: "top.txt".into(),
                    bytes: s.as_bytes().to_vec(),
                },
            ]
        };
        write_all(dir.path(), &files("one")).unwrap();
        write_all(dir.path(), &files("two")).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("a/b/c.txt")).unwrap(),
            "two"
        );
        assert!(leftovers(dir.path()).is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("top.txt"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o044, 0o044, "readable by the web server: {mode:o}");
        }
    }

    #[test]
    fn a_file_in_place_of_the_directory_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        fs::write(&root, "not a dir").unwrap();
        let err = write_all(
            &root,
            &[File {
                path: "x".into(),
                bytes: vec![],
            }],
        )
        .unwrap_err();
        assert!(matches!(map_io(&root, &err), ChannelError::Config { .. }));
        let err = write_all(
            dir.path(),
            &[File {
                path: "site/x".into(),
                bytes: vec![],
            }],
        )
        .unwrap_err();
        assert!(matches!(map_io(&root, &err), ChannelError::Config { .. }));
        let full = io::Error::new(io::ErrorKind::StorageFull, "no space");
        assert!(map_io(&root, &full).is_retryable());
    }
}
