//! The site on disk as generations: every write builds a whole new copy of
//! the site beside the served one, then switches to it with one rename.
//!
//! ```text
//! <dir>/
//!   .tidings.lock                  the writers' lock (see lock.rs)
//!   current -> generations/7       what a web server serves: a relative symbolic link
//!   generations/7/                 the site as of the latest write (with its state.json)
//!   generations/6/, generations/5/ the previous two, for readers that resolved
//!                                  `current` just before a switch
//!   generations/.tidings-8.tmp/    a generation being written
//!   .tidings-current.tmp           the new link, just before it is renamed over `current`
//! ```
//!
//! A generation is written into a temporary directory: the files the write
//! rendered are created and synced, and every other file of the previous
//! generation that is still wanted is hard-linked into it (files are never
//! changed once written, so generations share them; where the file system has
//! no hard links they are copied). The directories are synced, the
//! temporary directory is renamed to its number, and a new link to it is
//! renamed over `current`: one `rename(2)`, so a reader opening
//! `current/...` sees the old site or the new one, never a mix. A failure at
//! any step before that rename removes the temporary directory and leaves
//! the served site as it was.
//!
//! Everything here runs under the directory's lock, so no other writer is in
//! `generations/` at the same time.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::store::{self, File, Sink, TEMP_PREFIX};

/// The link a web server serves, in the page's directory.
pub(crate) const CURRENT: &str = "current";
/// The directory holding the generations, in the page's directory.
pub(crate) const GENERATIONS: &str = "generations";
/// How many generations are kept besides the current one.
pub(crate) const KEEP_PREVIOUS: usize = 2;

/// The number of the generation `current` links to, or `None` if there is no
/// `current` yet.
///
/// Errors: `current` exists but is not a link to `generations/<n>` (a
/// directory, or a link made by someone else): `InvalidInput`, which is a
/// configuration error; move it away.
pub(crate) fn current(root: &Path) -> io::Result<Option<u64>> {
    let link = root.join(CURRENT);
    let target = match fs::read_link(&link) {
        Ok(target) => target,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None);
        }
        // Not a symbolic link.
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => return Err(not_ours(&link)),
        Err(e) => return Err(e),
    };
    let mut parts = target.components();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Component::Normal(dir)), Some(Component::Normal(n)), None) if dir == GENERATIONS => n
            .to_str()
            .and_then(number)
            .map(Some)
            .ok_or_else(|| not_ours(&link)),
        _ => Err(not_ours(&link)),
    }
}

fn not_ours(link: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is not the link to generations/<n> that tidings keeps; move it away and publish again",
            link.display()
        ),
    )
}

/// The directory of generation `n`.
pub(crate) fn dir_of(root: &Path, n: u64) -> PathBuf {
    root.join(GENERATIONS).join(n.to_string())
}

fn number(name: &str) -> Option<u64> {
    // Only the names this module writes: digits, no sign, no leading zero.
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) || name.starts_with('0') {
        return None;
    }
    name.parse().ok()
}

/// The numbers of every finished generation, in any order.
fn numbers(root: &Path) -> io::Result<Vec<u64>> {
    let dir = root.join(GENERATIONS);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        if let Some(n) = entry.file_name().to_str().and_then(number) {
            found.push(n);
        }
    }
    Ok(found)
}

/// Writes a new generation: `files`, plus every file of generation
/// `previous` that `files` does not replace and `carry` accepts (given its
/// site-relative path). Returns its number; it is not served until
/// [`switch`] is called. On error nothing of it is left.
pub(crate) fn write(
    root: &Path,
    sink: &dyn Sink,
    files: &[File],
    previous: Option<u64>,
    carry: impl Fn(&str) -> bool,
) -> io::Result<u64> {
    let generations = root.join(GENERATIONS);
    store::ensure_dir(&generations)?;
    remove_unfinished(&generations)?;
    let n = numbers(root)?
        .into_iter()
        .chain(previous)
        .max()
        .unwrap_or(0)
        .saturating_add(1);
    let tmp = generations.join(format!("{TEMP_PREFIX}{n}.tmp"));
    fs::create_dir(&tmp)?;
    let result = fill(&tmp, sink, files, previous.map(|p| dir_of(root, p)), carry)
        .and_then(|()| fs::rename(&tmp, dir_of(root, n)))
        .and_then(|()| store::sync_dir(&generations));
    match result {
        Ok(()) => Ok(n),
        Err(e) => {
            discard(&tmp);
            discard(&dir_of(root, n));
            Err(e)
        }
    }
}

/// Writes the files into `tmp`, carries the rest over, syncs every directory.
fn fill(
    tmp: &Path,
    sink: &dyn Sink,
    files: &[File],
    previous: Option<PathBuf>,
    carry: impl Fn(&str) -> bool,
) -> io::Result<()> {
    let mut dirs = BTreeSet::from([tmp.to_path_buf()]);
    // Creates the directories above `path` and remembers each, to sync it.
    let mut make_parent = |path: &Path| -> io::Result<()> {
        let Some(parent) = path.parent() else {
            return Ok(());
        };
        if !dirs.contains(parent) {
            fs::create_dir_all(parent)?;
            for dir in parent.ancestors().take_while(|d| d.starts_with(tmp)) {
                dirs.insert(dir.to_path_buf());
            }
        }
        Ok(())
    };
    let mut written = BTreeSet::new();
    for file in files {
        let path = tmp.join(&file.path);
        make_parent(&path)?;
        store::create(sink, &path, &file.bytes)?;
        written.insert(file.path.as_str());
    }
    if let Some(previous) = previous {
        for rel in store::walk(&previous)? {
            if written.contains(rel.as_str()) || !carry(&rel) {
                continue;
            }
            let path = tmp.join(&rel);
            make_parent(&path)?;
            store::link_or_copy(sink, &previous.join(&rel), &path)?;
        }
    }
    // Deepest first, so each directory's entry in its parent is synced after
    // its own content.
    for dir in dirs.iter().rev() {
        store::sync_dir(dir)?;
    }
    Ok(())
}

/// Serves generation `n`: a new link to it is renamed over `current`.
pub(crate) fn switch(root: &Path, n: u64) -> io::Result<()> {
    let link = root.join(format!("{TEMP_PREFIX}{CURRENT}.tmp"));
    match fs::symlink_metadata(&link) {
        Ok(_) => fs::remove_file(&link)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let target = Path::new(GENERATIONS).join(n.to_string());
    make_link(&target, &link)?;
    if let Err(e) = fs::rename(&link, root.join(CURRENT)) {
        let _ = fs::remove_file(&link);
        return Err(e);
    }
    store::sync_dir(root)
}

#[cfg(unix)]
fn make_link(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// Windows: needs the right to create symbolic links (Developer Mode, or an
/// administrator). Not covered by the tests.
#[cfg(windows)]
fn make_link(target: &Path, link: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_dir(target, link)
}

#[cfg(not(any(unix, windows)))]
fn make_link(_target: &Path, _link: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "the status page needs symbolic links to switch generations",
    ))
}

/// Removes every generation older than `current` but the newest
/// [`KEEP_PREVIOUS`], and anything unfinished.
pub(crate) fn retire(root: &Path, current: u64) -> io::Result<()> {
    let mut older: Vec<u64> = numbers(root)?
        .into_iter()
        .filter(|n| *n != current)
        .collect();
    older.sort_unstable_by(|a, b| b.cmp(a));
    for n in older.into_iter().skip(KEEP_PREVIOUS) {
        fs::remove_dir_all(dir_of(root, n))?;
    }
    Ok(())
}

/// Removes generations left unfinished by a process that died while writing
/// one (no writer is running: the caller holds the lock).
fn remove_unfinished(generations: &Path) -> io::Result<()> {
    for entry in fs::read_dir(generations)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// Best-effort removal after a failure; what is left is removed by the next
/// write ([`remove_unfinished`], [`retire`]).
pub(crate) fn discard(dir: &Path) {
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove an unfinished status page generation")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::status_page::store::Direct;

    fn file(path: &str, text: &str) -> File {
        File {
            path: path.into(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    fn read(root: &Path, path: &str) -> String {
        fs::read_to_string(root.join(CURRENT).join(path)).unwrap()
    }

    #[test]
    fn generations_switch_whole_carry_what_is_wanted_and_retire_old_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        assert_eq!(current(root).unwrap(), None);
        let first = [file("index.html", "1"), file("incidents/a.html", "a1")];
        let n = write(root, &Direct, &first, None, |_| true).unwrap();
        assert_eq!(n, 1);
        assert!(!root.join(CURRENT).exists(), "not served before the switch");
        switch(root, n).unwrap();
        assert_eq!(current(root).unwrap(), Some(1));
        assert_eq!(read(root, "incidents/a.html"), "a1");

        // Only the index is rendered again; the incident page is carried.
        let n = write(root, &Direct, &[file("index.html", "2")], Some(1), |_| true).unwrap();
        switch(root, n).unwrap();
        assert_eq!(read(root, "index.html"), "2");
        assert_eq!(read(root, "incidents/a.html"), "a1");
        // A page `carry` refuses is dropped.
        let n = write(root, &Direct, &[file("index.html", "3")], Some(2), |p| {
            p != "incidents/a.html"
        })
        .unwrap();
        switch(root, n).unwrap();
        assert!(!root.join(CURRENT).join("incidents/a.html").exists());
        // Generation 1 still has it: generations never change.
        assert_eq!(
            fs::read_to_string(dir_of(root, 1).join("incidents/a.html")).unwrap(),
            "a1"
        );

        for _ in 0..3 {
            let last = current(root).unwrap();
            let n = write(root, &Direct, &[file("index.html", "x")], last, |_| true).unwrap();
            switch(root, n).unwrap();
            retire(root, n).unwrap();
        }
        let mut kept = numbers(root).unwrap();
        kept.sort_unstable();
        assert_eq!(kept, [4, 5, 6]);
        assert!(store::leftovers(root).is_empty());
    }

    #[test]
    fn an_unfinished_generation_is_removed_and_current_must_be_ours() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join(GENERATIONS).join(".tidings-9.tmp/x")).unwrap();
        let n = write(root, &Direct, &[file("a", "a")], None, |_| true).unwrap();
        assert_eq!(n, 1);
        assert!(store::leftovers(root).is_empty());

        fs::create_dir(root.join(CURRENT)).unwrap();
        let err = current(root).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(switch(root, n).is_err(), "a directory is not replaced");
        assert!(store::leftovers(root).is_empty());
    }
}
