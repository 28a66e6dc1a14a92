//! One write of the page, from the state on disk to the switch.
//!
//! A [`Job`] runs on tokio's blocking pool while its publish holds the
//! directory's lock: it reads the state of the served generation (the source
//! of truth: another process may have written since), forgets history older
//! than the page keeps, applies its change, renders, writes a new generation
//! and switches to it, then retires old generations. Nothing is kept in
//! memory: the next write reads the state again. Once started, a job runs to
//! its end even if the publish that started it is dropped (the dispatcher's
//! send timeout), so a write is never torn; it keeps the lock until then.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::config::{Config, incident_path, maintenance_path};
use super::generation;
use super::maintenance::Maintenance;
use super::site::{RenderError, STATE_FILE, Scope, Site};
use super::state::PageState;
use super::store::{self, Sink};
use crate::channel::ChannelError;
use crate::incident::{Incident, Update};

/// What a write changes in the state.
#[derive(Debug)]
pub(crate) enum Change {
    /// An update of an incident was published.
    Incident {
        incident: Arc<Incident>,
        update: Arc<Update>,
    },
    /// A maintenance is recorded as given.
    PutMaintenance(Box<Maintenance>),
    /// A maintenance snapshot is merged with what is recorded.
    MergeMaintenance(Box<Maintenance>),
    /// Nothing: the pages are rendered again.
    Nothing,
}

impl Change {
    fn apply(self, state: &mut PageState) {
        match self {
            Change::Incident { incident, update } => state.apply(&incident, &update),
            Change::PutMaintenance(m) => {
                match state.maintenances.iter_mut().find(|x| x.id() == m.id()) {
                    Some(existing) => *existing = *m,
                    None => state.maintenances.push(*m),
                }
            }
            Change::MergeMaintenance(m) => {
                match state.maintenances.iter_mut().find(|x| x.id() == m.id()) {
                    Some(existing) => existing.merge(*m),
                    None => state.maintenances.push(*m),
                }
            }
            Change::Nothing => {}
        }
    }
}

/// One write, ready to run.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) config: Arc<Config>,
    pub(crate) site: Arc<Site>,
    pub(crate) sink: Arc<dyn Sink>,
    pub(crate) change: Change,
    /// The pages the change touches; the others are carried over.
    pub(crate) scope: Scope,
    pub(crate) now: DateTime<Utc>,
    /// Start from an empty state, not the served one (the builder's `fresh`).
    pub(crate) fresh: bool,
    /// Render every page, not only the scope's: the first write of a page
    /// value, whose configuration (names, components) may not be the one the
    /// served pages were rendered with.
    pub(crate) render_all: bool,
}

/// What a write did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written {
    /// The generation now served.
    pub(crate) generation: u64,
    /// How many incidents and maintenances left the history.
    pub(crate) forgotten: usize,
}

/// Why a write failed. The served site is the previous one, whole.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CommitError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(
        "{}: {reason}; the page's history is in this file: fix it, or move it away to start an empty page",
        .path.display()
    )]
    State { path: PathBuf, reason: String },
    #[error("cannot render the status page: {0}")]
    Render(#[from] RenderError),
}

impl CommitError {
    /// I/O: as [`store::map_io`] says (disk full is transient, a read-only
    /// directory is configuration). An unreadable state and a rendering bug
    /// are [`ChannelError::Config`]: retrying does not fix them.
    pub(crate) fn into_channel_error(self, dir: &Path) -> ChannelError {
        match self {
            CommitError::Io(e) => store::map_io(dir, &e),
            other => ChannelError::Config {
                reason: other.to_string(),
            },
        }
    }
}

impl Job {
    /// Runs the write. Call it with the directory's lock held.
    pub(crate) fn run(self) -> Result<Written, CommitError> {
        let root = self.config.dir.as_path();
        let previous = generation::current(root)?;
        let mut state = if self.fresh {
            PageState::new()
        } else {
            read_state(root, previous)?
        };
        let forgotten = self
            .config
            .history_cutoff(self.now)
            .map_or(0, |cutoff| state.forget_before(cutoff, self.now));
        self.change.apply(&mut state);
        state.created_at.get_or_insert(self.now);
        let scope = if self.render_all || previous.is_none() {
            Scope::Everything
        } else {
            self.scope
        };
        let files = self.site.render(&self.config, &state, self.now, &scope)?;
        // Pages of incidents and maintenances the state no longer holds are
        // not carried into the new generation; everything else is.
        let pages: HashSet<String> = state
            .incidents
            .iter()
            .map(|i| incident_path(&i.id))
            .chain(state.maintenances.iter().map(|m| maintenance_path(m.id())))
            .collect();
        let carry = |path: &str| {
            !(path.starts_with("incidents/") || path.starts_with("maintenance/"))
                || pages.contains(path)
        };
        let n = generation::write(root, &*self.sink, &files, previous, carry)?;
        if let Err(e) = generation::switch(root, n) {
            // Unless the rename itself went through (and only the sync after
            // it failed), the new generation is not served: remove it.
            if !matches!(generation::current(root), Ok(Some(served)) if served == n) {
                generation::discard(&generation::dir_of(root, n));
            }
            return Err(e.into());
        }
        if let Err(e) = generation::retire(root, n) {
            // The new site is served; what is left is retired next time.
            tracing::warn!(dir = %root.display(), error = %e, "cannot remove old status page generations");
        }
        Ok(Written {
            generation: n,
            forgotten,
        })
    }
}

/// The state of the served site: `current/state.json`. Before the first
/// generation, the `state.json` an earlier version of this crate wrote at the
/// top of the directory, if there is one; else an empty state.
pub(crate) fn read_state(root: &Path, current: Option<u64>) -> Result<PageState, CommitError> {
    let path = match current {
        Some(n) => generation::dir_of(root, n).join(STATE_FILE),
        None => root.join(STATE_FILE),
    };
    let Some(bytes) = store::read_optional(&path)? else {
        return Ok(PageState::new());
    };
    if current.is_none() {
        tracing::warn!(
            dir = %root.display(),
            "the status page is now served from {}; point the web server there (the files at the top of the directory are no longer updated)",
            root.join(generation::CURRENT).display()
        );
    }
    PageState::from_json(&bytes).map_err(|reason| CommitError::State { path, reason })
}
