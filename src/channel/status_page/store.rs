//! Files on disk: new files written and synced, directories created and
//! synced, files carried from one generation of the site to the next, and the
//! mapping of I/O errors to what the dispatcher should do.
//!
//! Nothing here replaces a file in place: [`generation`](super::generation)
//! writes every file into a new directory and switches to it whole.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::channel::ChannelError;

/// The prefix of everything that exists only while a write is under way (a
/// generation being written, the link being put in place). A static host need
/// not serve them; they are named `.tidings-*.tmp`.
pub(crate) const TEMP_PREFIX: &str = ".tidings-";

/// One file to write: a path relative to the site root (`/`-separated), and
/// its bytes.
#[derive(Debug, Clone)]
pub(crate) struct File {
    pub(crate) path: String,
    pub(crate) bytes: Vec<u8>,
}

/// How file contents reach the disk. Outside tests it is always [`Direct`];
/// tests put in one that fails the way a full disk does, which cannot be
/// provoked without privileges.
pub(crate) trait Sink: Send + Sync + fmt::Debug {
    /// Writes all of `bytes` to `file`.
    fn write_all(&self, file: &mut fs::File, bytes: &[u8]) -> io::Result<()>;
}

/// Writes straight to the file.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Direct;

impl Sink for Direct {
    fn write_all(&self, file: &mut fs::File, bytes: &[u8]) -> io::Result<()> {
        file.write_all(bytes)
    }
}

/// Creates the file `path` (which must not exist yet) with `bytes`, synced to
/// disk, readable by the web server's user (0644, less the umask).
pub(crate) fn create(sink: &dyn Sink, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o644);
    }
    let mut file = options.open(path)?;
    sink.write_all(&mut file, bytes)?;
    file.sync_all()
}

/// Puts the existing file `from` at `to` as well: a hard link (files of a
/// generation are never changed once written, so generations can share
/// them), or a synced copy where the file system has no hard links.
pub(crate) fn link_or_copy(sink: &dyn Sink, from: &Path, to: &Path) -> io::Result<()> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(_) => {
            let bytes = fs::read(from)?;
            create(sink, to, &bytes)
        }
    }
}

/// Creates `dir` (and its parents) unless it exists; an existing non-directory
/// is an error (`NotADirectory`), not something to write through.
pub(crate) fn ensure_dir(dir: &Path) -> io::Result<()> {
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

/// Syncs a directory so that the entries made in it (files, links, renames)
/// are durable. Windows cannot open a directory as a file; there they are as
/// durable as the system makes them.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
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

/// Every file under `dir`, as `/`-separated paths relative to it, without
/// following symbolic links.
pub(crate) fn walk(dir: &Path) -> io::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = stack.pop() {
        for entry in fs::read_dir(&path)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push((entry.path(), format!("{rel}/")));
            } else if kind.is_file() {
                found.push(rel);
            }
        }
    }
    Ok(found)
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

/// Every leftover of an unfinished write under `root` (`.tidings-*.tmp`
/// files, directories and links; there are none once a write has returned
/// unless the process died during one). Symbolic links are not followed.
pub(crate) fn leftovers(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                found.push(path);
            } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_files_are_whole_readable_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("top.txt");
        create(&Direct, &path, b"one").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "one");
        let err = create(&Direct, &path, b"two").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o044, 0o044, "readable by the web server: {mode:o}");
        }
        link_or_copy(&Direct, &path, &dir.path().join("again.txt")).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("again.txt")).unwrap(),
            "one"
        );
        fs::create_dir(dir.path().join("a")).unwrap();
        create(&Direct, &dir.path().join("a/b.txt"), b"").unwrap();
        let mut all = walk(dir.path()).unwrap();
        all.sort();
        assert_eq!(all, ["a/b.txt", "again.txt", "top.txt"]);
        assert!(leftovers(dir.path()).is_empty());
        fs::create_dir(dir.path().join(".tidings-3.tmp")).unwrap();
        assert_eq!(leftovers(dir.path()).len(), 1);
    }

    #[test]
    fn a_file_in_place_of_the_directory_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        fs::write(&root, "not a dir").unwrap();
        let err = ensure_dir(&root).unwrap_err();
        assert!(matches!(map_io(&root, &err), ChannelError::Config { .. }));
        let err = ensure_dir(&root.join("sub")).unwrap_err();
        assert!(matches!(map_io(&root, &err), ChannelError::Config { .. }));
        let full = io::Error::new(io::ErrorKind::StorageFull, "no space");
        assert!(map_io(&root, &full).is_retryable());
    }
}
