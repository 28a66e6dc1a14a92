//! The hosted status page as a channel.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use super::config::{Config, PageComponent};
use super::maintenance::Maintenance;
use super::site::{STATE_FILE, Scope, Site};
use super::state::{PageState, STATE_VERSION};
use super::store::{self, File};
use crate::audience::Audience;
use crate::channel::{
    Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, Receipt,
};
use crate::clock;
use crate::incident::{ComponentId, IncidentId};

/// How many resolved incidents the index lists by default.
pub const DEFAULT_HISTORY_LIMIT: usize = 20;

/// A status page written as a static site to a directory. See the
/// [module docs](super).
pub struct StaticStatusPage {
    config: Arc<Config>,
    limits: ChannelLimits,
    site: Arc<Site>,
    /// Serialises publishes: the state and whether every page was written
    /// since this value was built.
    inner: tokio::sync::Mutex<Inner>,
    /// The generation last written to disk, held while writing: a write from
    /// an abandoned (dropped) publish never lands after a newer one.
    written: Arc<Mutex<u64>>,
}

#[derive(Debug)]
struct Inner {
    state: PageState,
    rendered_all: bool,
    generation: u64,
}

impl fmt::Debug for StaticStatusPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticStatusPage")
            .field("dir", &self.config.dir)
            .field("base_url", &self.config.base.as_str())
            .field("name", &self.config.name)
            .field("page_id", &self.config.page_id)
            .field("components", &self.config.components.len())
            .finish_non_exhaustive()
    }
}

/// Builds a [`StaticStatusPage`]; errors surface in [`build`](Self::build).
#[derive(Debug)]
#[must_use]
pub struct StaticStatusPageBuilder {
    dir: PathBuf,
    base_url: String,
    name: String,
    page_id: Option<String>,
    components: Vec<PageComponent>,
    history_limit: usize,
    load_state: bool,
}

impl StaticStatusPage {
    /// The kind label, `status_page`.
    pub const KIND: ChannelKind = ChannelKind::new("status_page");

    /// Starts a page written to `dir` and served at `base_url` (an `http` or
    /// `https` URL; a missing trailing `/` is added). Incident pages are
    /// `<base_url>incidents/<id>.html`.
    pub fn builder(
        dir: impl Into<PathBuf>,
        base_url: impl Into<String>,
    ) -> StaticStatusPageBuilder {
        StaticStatusPageBuilder {
            dir: dir.into(),
            base_url: base_url.into(),
            name: "Status".to_owned(),
            page_id: None,
            components: Vec::new(),
            history_limit: DEFAULT_HISTORY_LIMIT,
            load_state: true,
        }
    }

    /// The directory the site is written to.
    pub fn dir(&self) -> &Path {
        &self.config.dir
    }

    /// The URL the site is served at (ends with `/`).
    pub fn base_url(&self) -> &Url {
        &self.config.base
    }

    /// The permalink of an incident: `<base>incidents/<id>.html`. Configure
    /// the dispatcher's canonical URL the same way
    /// (`https://status.example.com/incidents/{id}.html`), so that messages
    /// sent when the page cannot be written still point at the right place.
    pub fn permalink(&self, id: &IncidentId) -> Url {
        self.config.permalink(id)
    }

    /// The permalink of a maintenance: `<base>maintenance/<id>.html`.
    /// Configure the dispatcher's
    /// [`canonical_maintenance_url`](crate::dispatch::DispatcherBuilder::canonical_maintenance_url)
    /// the same way (`https://status.example.com/maintenance/{id}.html`).
    pub fn maintenance_permalink(&self, id: &IncidentId) -> Url {
        self.config.maintenance_permalink(id)
    }

    /// Leftover temporary files under the directory. None remain once a
    /// publish has returned (whether it succeeded or not), unless the process
    /// died in the middle of one; they are named `.tidings-*.tmp` and are safe
    /// to delete.
    pub fn leftover_temp_files(&self) -> Vec<PathBuf> {
        store::leftovers(&self.config.dir)
    }

    /// Publishes (or updates) a scheduled maintenance: it is shown as
    /// upcoming, in progress or completed on the index, on its own page, in
    /// the feed and in `scheduled_maintenances[]`. Returns its permalink.
    pub async fn publish_maintenance(
        &self,
        maintenance: &Maintenance,
    ) -> Result<Url, ChannelError> {
        let id = maintenance.id();
        self.publish(
            |state| match state.maintenances.iter_mut().find(|m| m.id() == id) {
                Some(existing) => *existing = maintenance.clone(),
                None => state.maintenances.push(maintenance.clone()),
            },
            Scope::Maintenance(id),
        )
        .await?;
        Ok(self.config.maintenance_permalink(id))
    }

    /// Writes every page again from the current state, at the current time.
    /// The site is static: a maintenance that starts or ends by the clock
    /// shows it once the page is rendered again, so call this at its window's
    /// edges (or every few minutes).
    pub async fn refresh(&self) -> Result<(), ChannelError> {
        self.publish(|_| {}, Scope::Everything).await.map(|_| ())
    }

    /// Applies `change` to the state, renders, writes atomically, and keeps
    /// the new state only if every file was written.
    async fn publish(
        &self,
        change: impl FnOnce(&mut PageState),
        scope: Scope<'_>,
    ) -> Result<DateTime<Utc>, ChannelError> {
        let mut inner = self.inner.lock().await;
        let mut next = inner.state.clone();
        change(&mut next);
        let now = clock::now();
        next.created_at.get_or_insert(now);
        let scope = if inner.rendered_all {
            scope
        } else {
            Scope::Everything
        };
        let files = self
            .site
            .render(&self.config, &next, now, scope)
            .map_err(|e| ChannelError::Config {
                reason: format!("cannot render the status page: {e}"),
            })?;
        inner.generation += 1;
        let generation = inner.generation;
        let dir = self.config.dir.clone();
        let written = self.written.clone();
        let result = tokio::task::spawn_blocking(move || write(&dir, &files, &written, generation))
            .await
            .map_err(|e| ChannelError::transient(format!("the status page writer stopped: {e}")))?;
        result.map_err(|e| {
            let err = store::map_io(&self.config.dir, &e);
            tracing::warn!(error = %err, "status page not written");
            err
        })?;
        tracing::debug!(generation, "status page written");
        inner.state = next;
        inner.rendered_all = true;
        Ok(now)
    }
}

/// Writes `files` unless a newer generation was written already.
fn write(dir: &Path, files: &[File], written: &Mutex<u64>, generation: u64) -> std::io::Result<()> {
    // The lock guards a counter; a panic while holding it leaves the counter
    // valid, so a poisoned lock is still usable.
    let mut last = written.lock().unwrap_or_else(PoisonError::into_inner);
    if *last > generation {
        return Ok(());
    }
    store::write_all(dir, files)?;
    *last = generation;
    Ok(())
}

impl StaticStatusPageBuilder {
    /// The page's name, shown as its heading and in the feed (default
    /// `Status`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The page id in the JSON (default: derived from the base URL).
    pub fn page_id(mut self, id: impl Into<String>) -> Self {
        self.page_id = Some(id.into());
        self
    }

    /// Lists a component, in order. Components no open incident mentions
    /// are shown as operational; components an incident names that are not
    /// listed are shown after these, in the order they first appear.
    pub fn component(mut self, id: ComponentId, name: impl Into<String>) -> Self {
        self.components.push(PageComponent::new(id, name));
        self
    }

    /// Lists a component with a description.
    pub fn page_component(mut self, component: PageComponent) -> Self {
        self.components.push(component);
        self
    }

    /// How many resolved incidents the index lists (default
    /// [`DEFAULT_HISTORY_LIMIT`]); every incident keeps its own page.
    pub fn history_limit(mut self, limit: usize) -> Self {
        self.history_limit = limit;
        self
    }

    /// Starts from an empty page, ignoring any `state.json` in the directory
    /// (by default it is loaded, so a restarted process keeps the history).
    pub fn fresh(mut self) -> Self {
        self.load_state = false;
        self
    }

    /// Validates the configuration and loads `state.json` from the directory
    /// if there is one. Nothing is written until the first publish.
    ///
    /// Errors ([`ChannelError::Config`]): a base URL that is not `http(s)`, a
    /// blank name, a component listed twice, a `state.json` that cannot be
    /// read or is not one this version wrote.
    pub fn build(self) -> Result<StaticStatusPage, ChannelError> {
        let config = |reason: String| ChannelError::Config { reason };
        let mut base = Url::parse(&self.base_url)
            .map_err(|e| config(format!("invalid status page base URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(config(
                "the status page base URL must be an http or https URL".into(),
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);
        if self.name.trim().is_empty() {
            return Err(config("the status page name is empty".into()));
        }
        for (i, c) in self.components.iter().enumerate() {
            if self.components[..i].iter().any(|o| o.id == c.id) {
                return Err(config(format!("component {} is listed twice", c.id)));
            }
        }
        let page_id = self.page_id.unwrap_or_else(|| {
            let digest = Sha256::digest(base.as_str().as_bytes());
            digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
        });
        let state = if self.load_state {
            load(&self.dir.join(STATE_FILE))?
        } else {
            PageState::new()
        };
        let site = Site::new().map_err(|e| config(format!("status page templates: {e}")))?;
        Ok(StaticStatusPage {
            config: Arc::new(Config {
                dir: self.dir,
                base,
                name: self.name.trim().to_owned(),
                page_id,
                components: self.components,
                history_limit: self.history_limit,
            }),
            limits: ChannelLimits::new().as_primary().deduplicating(),
            site: Arc::new(site),
            inner: tokio::sync::Mutex::new(Inner {
                state,
                rendered_all: false,
                generation: 0,
            }),
            written: Arc::new(Mutex::new(0)),
        })
    }
}

fn load(path: &Path) -> Result<PageState, ChannelError> {
    let config = |reason: String| ChannelError::Config { reason };
    let Some(bytes) = store::read_optional(path)
        .map_err(|e| config(format!("cannot read {}: {e}", path.display())))?
    else {
        return Ok(PageState::new());
    };
    let state: PageState = serde_json::from_slice(&bytes).map_err(|e| {
        config(format!(
            "{} is not a status page state: {e}",
            path.display()
        ))
    })?;
    if state.version != STATE_VERSION {
        return Err(config(format!(
            "{} has version {}, this version reads {STATE_VERSION}",
            path.display(),
            state.version
        )));
    }
    Ok(state)
}

#[async_trait]
impl Channel for StaticStatusPage {
    fn kind(&self) -> ChannelKind {
        Self::KIND
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    /// Records the update (and the earlier ones for customers) and writes the
    /// site. The receipt's permalink is the incident's page; its message ref
    /// is the incident id. Publishing the same update again rewrites the same
    /// pages.
    ///
    /// A [scheduled maintenance](crate::incident::Incident::maintenance) is
    /// recorded as a [`Maintenance`] (as by
    /// [`publish_maintenance`](Self::publish_maintenance)), with its updates
    /// for customers up to this one (merged with what was recorded, so
    /// publishing an old update again rolls nothing back); reminders are not
    /// shown as updates. The permalink is then the maintenance's page.
    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let incident = &delivery.incident;
        if !delivery.update.recipients.includes(&Audience::Customers) {
            // The dispatcher sends only customer updates to its primary; a
            // page routed as an ordinary channel for an inner ring must not
            // publish what that ring was told.
            return Err(ChannelError::Rejected {
                reason: format!(
                    "update {} of {} is not for customers; a public page publishes only updates for customers",
                    delivery.update.seq,
                    incident.id()
                ),
                status: None,
            });
        }
        if let Some(snapshot) = Maintenance::from_incident(incident, delivery.update.seq) {
            let id = incident.id();
            let at = self
                .publish(
                    |state| match state.maintenances.iter_mut().find(|m| m.id() == id) {
                        Some(existing) => existing.merge(snapshot),
                        None => state.maintenances.push(snapshot),
                    },
                    Scope::Maintenance(id),
                )
                .await?;
            return Ok(Receipt::new(at)
                .with_message_ref(MessageRef::new(incident.id().as_str()))
                .with_permalink(self.config.maintenance_permalink(incident.id())));
        }
        let at = self
            .publish(
                |state| state.apply(incident, &delivery.update),
                Scope::Incident(incident.id()),
            )
            .await?;
        Ok(Receipt::new(at)
            .with_message_ref(MessageRef::new(incident.id().as_str()))
            .with_permalink(self.config.permalink(incident.id())))
    }
}
