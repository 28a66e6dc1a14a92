//! The hosted status page as a channel.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use super::commit::{self, Change, Job};
use super::config::{Branding, Config, PageComponent, Subscribe, SubscribeKind};
use super::generation;
use super::lock::DirLock;
use super::maintenance::Maintenance;
use super::site::{Scope, Site};
use super::store::{self, Direct, Sink};
use super::theme;
use crate::audience::Audience;
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, Receipt,
};
use crate::clock;
use crate::incident::{ComponentId, IncidentId};

/// How many resolved incidents the index lists by default.
pub const DEFAULT_HISTORY_LIMIT: usize = 20;

/// How many days a resolved incident (or completed maintenance) stays on the
/// page after its last update, by default.
pub const DEFAULT_HISTORY_DAYS: u32 = 90;

/// How long a publish waits by default for another writer of the same
/// directory (another process, or another [`StaticStatusPage`]) to finish.
/// Keep it below the dispatcher's send timeout, so that a busy directory is
/// reported as such.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// A status page written as a static site to a directory. See the
/// [module docs](super).
pub struct StaticStatusPage {
    config: Arc<Config>,
    limits: ChannelLimits,
    site: Arc<Site>,
    /// How file contents reach the disk (tests put in a full disk).
    sink: Arc<dyn Sink>,
    /// Serialises this value's publishes; other values and processes are
    /// kept out by the directory's lock.
    serial: tokio::sync::Mutex<()>,
    /// What this value's next write does. The page's state is not kept in
    /// memory: every write reads it from disk.
    progress: Arc<Progress>,
}

/// Read and updated by each write under the directory's lock, on the
/// blocking pool: a write whose publish was dropped still updates it before
/// the next write reads it.
#[derive(Debug)]
struct Progress {
    /// Every page was rendered by this value at least once.
    rendered_all: AtomicBool,
    /// The next write starts from an empty state (until one succeeds).
    fresh: AtomicBool,
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
    logo: Option<(String, String)>,
    accent: Option<(String, String)>,
    footer_links: Vec<(String, String)>,
    subscribe: Vec<(SubscribeKind, String)>,
    history_limit: usize,
    history_days: u32,
    lock_timeout: Duration,
    load_state: bool,
}

impl StaticStatusPage {
    /// The kind label, `status_page`.
    pub const KIND: ChannelKind = ChannelKind::new("status_page");

    /// The link template of this page's incident pages,
    /// `<base>incidents/{id}.html`: what
    /// [`Dispatcher::builder`](crate::dispatch::Dispatcher::builder) should
    /// be given as its canonical URL, so that a message sent while the page
    /// is down still points at the page the incident will have.
    pub fn incident_url_template(&self) -> String {
        format!("{}incidents/{{id}}.html", self.config.base)
    }

    /// The link template of this page's maintenance pages,
    /// `<base>maintenance/{id}.html`, for
    /// [`DispatcherBuilder::canonical_maintenance_url`](crate::dispatch::DispatcherBuilder::canonical_maintenance_url).
    pub fn maintenance_url_template(&self) -> String {
        format!("{}maintenance/{{id}}.html", self.config.base)
    }

    /// Starts a page written to `dir` and served at `base_url` (an `http` or
    /// `https` URL; a missing trailing `/` is added). Incident pages are
    /// `<base_url>incidents/<id>.html`. The web server serves
    /// [`served_dir`](Self::served_dir), `<dir>/current/`.
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
            logo: None,
            accent: None,
            footer_links: Vec::new(),
            subscribe: Vec::new(),
            history_limit: DEFAULT_HISTORY_LIMIT,
            history_days: DEFAULT_HISTORY_DAYS,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            load_state: true,
        }
    }

    /// The directory the page owns: its lock, its generations and the
    /// `current` link.
    pub fn dir(&self) -> &Path {
        &self.config.dir
    }

    /// What a web server serves: `<dir>/current`, a symbolic link to the
    /// latest generation of the site, replaced in one rename on every write.
    /// It exists once the first publish has returned.
    pub fn served_dir(&self) -> PathBuf {
        self.config.dir.join(generation::CURRENT)
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

    /// Leftovers of unfinished writes under the directory: a generation being
    /// written, a link being put in place, all named `.tidings-*.tmp`. None
    /// remain once a publish has returned (whether it succeeded or not),
    /// unless the process died in the middle of one; the next write removes
    /// them, and they are safe to delete.
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
            Change::PutMaintenance(Box::new(maintenance.clone())),
            Scope::Maintenance(id.clone()),
        )
        .await?;
        Ok(self.config.maintenance_permalink(id))
    }

    /// Writes every page again from the state on disk, at the current time.
    /// The site is static: a maintenance that starts or ends by the clock
    /// shows it once the page is rendered again, so call this at its window's
    /// edges (or every few minutes). It also forgets what is older than the
    /// history keeps.
    pub async fn refresh(&self) -> Result<(), ChannelError> {
        self.publish(Change::Nothing, Scope::Everything)
            .await
            .map(|_| ())
    }

    /// One write: under the directory's lock, on the blocking pool, the state
    /// is read from disk, changed, rendered and switched in as a new
    /// generation (see [`commit`]). If this future is dropped once the write
    /// has started, the write still runs to its end (or fails whole) and the
    /// lock is held until then.
    async fn publish(&self, change: Change, scope: Scope) -> Result<DateTime<Utc>, ChannelError> {
        let dir = self.config.dir.as_path();
        let not_written = |err: ChannelError| {
            tracing::warn!(error = %err, "status page not written");
            err
        };
        let _serial = self.serial.lock().await;
        let lock = DirLock::acquire(dir, self.config.lock_timeout)
            .await
            .map_err(|e| not_written(e.into_channel_error(dir)))?;
        let now = clock::now();
        let mut job = Job {
            config: self.config.clone(),
            site: self.site.clone(),
            sink: self.sink.clone(),
            change,
            scope,
            now,
            fresh: false,
            render_all: true,
        };
        let progress = self.progress.clone();
        let written = tokio::task::spawn_blocking(move || {
            let _held = lock;
            job.fresh = progress.fresh.load(Ordering::SeqCst);
            job.render_all = !progress.rendered_all.load(Ordering::SeqCst);
            let written = job.run()?;
            progress.rendered_all.store(true, Ordering::SeqCst);
            progress.fresh.store(false, Ordering::SeqCst);
            Ok(written)
        })
        .await
        .map_err(|e| ChannelError::transient(format!("the status page writer stopped: {e}")))
        .map_err(not_written)?
        .map_err(|e: commit::CommitError| not_written(e.into_channel_error(dir)))?;
        tracing::debug!(
            generation = written.generation,
            forgotten = written.forgotten,
            "status page written"
        );
        Ok(now)
    }

    /// Writes file contents through `sink` instead of straight to disk.
    #[cfg(test)]
    pub(crate) fn with_sink(mut self, sink: Arc<dyn Sink>) -> Self {
        self.sink = sink;
        self
    }
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

    /// Shows an image above the page's name on every page: `url` (an
    /// `http` or `https` URL; the page's only asset from elsewhere, so host
    /// it where the page may load it) and `alt`, the text read instead of it
    /// (usually the organisation's name). No logo by default.
    pub fn logo(mut self, url: impl Into<String>, alt: impl Into<String>) -> Self {
        self.logo = Some((url.into(), alt.into()));
        self
    }

    /// The accent colour (links, focus rings, the rule under the header) in
    /// light and in dark mode, each `#rrggbb`. Each must reach a contrast of
    /// 4.5:1 against its mode's background (`#ffffff`, `#12151a`), or
    /// [`build`](Self::build) fails. Default: `#0b4fa8` and `#8cb8ff`.
    pub fn accent_colours(mut self, light: impl Into<String>, dark: impl Into<String>) -> Self {
        self.accent = Some((light.into(), dark.into()));
        self
    }

    /// Adds a link to the footer of every page, after the page's own (your
    /// home page, support, terms), in order. `url` is an `http(s)` or
    /// `mailto:` URL.
    pub fn footer_link(mut self, label: impl Into<String>, url: impl Into<String>) -> Self {
        self.footer_links.push((label.into(), url.into()));
        self
    }

    /// Adds a form to the index asking for an e-mail address, posted to
    /// `endpoint` (an `http(s)` URL of a service you run) as
    /// `application/x-www-form-urlencoded` with the fields `email` and
    /// `page_id`. The endpoint records the subscriber (and confirms the
    /// address); the e-mail channel then reaches subscribers with its
    /// one-click `List-Unsubscribe`. No form unless configured.
    pub fn subscribe_email(mut self, endpoint: impl Into<String>) -> Self {
        self.subscribe.push((SubscribeKind::Email, endpoint.into()));
        self
    }

    /// Adds a form to the index asking for a webhook URL, posted to
    /// `endpoint` with the fields `url` and `page_id` (as
    /// [`subscribe_email`](Self::subscribe_email)). No form unless
    /// configured.
    pub fn subscribe_webhook(mut self, endpoint: impl Into<String>) -> Self {
        self.subscribe
            .push((SubscribeKind::Webhook, endpoint.into()));
        self
    }

    /// How many resolved incidents the index lists (default
    /// [`DEFAULT_HISTORY_LIMIT`]); every incident the page still keeps (see
    /// [`history_days`](Self::history_days)) keeps its own page.
    pub fn history_limit(mut self, limit: usize) -> Self {
        self.history_limit = limit;
        self
    }

    /// How long the page remembers what is over (default
    /// [`DEFAULT_HISTORY_DAYS`], at least 1): a resolved incident whose last
    /// update (resolution, postmortem) is older than this many days, and a
    /// completed maintenance whose window ended and whose last update is
    /// older, leave the page at its next write: its page
    /// (`incidents/<id>.html`, so its permalink stops resolving), the index,
    /// the JSON, the feed and `state.json`. Open incidents stay however old.
    /// This bounds the state, each write and the disk.
    pub fn history_days(mut self, days: u32) -> Self {
        self.history_days = days;
        self
    }

    /// How long a publish waits for another writer of the directory (another
    /// process, or another page value) to finish (default
    /// [`DEFAULT_LOCK_TIMEOUT`]; zero tries once). Past it, the publish fails
    /// with a retryable [`ChannelError::Transient`] naming the directory.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Starts the page over: the first publish ignores the state on disk
    /// (the incidents and maintenances published before leave the page);
    /// later publishes read it again. By default the state on disk is kept,
    /// so a restarted process, or another process writing the same
    /// directory, keeps the history.
    pub fn fresh(mut self) -> Self {
        self.load_state = false;
        self
    }

    /// Validates the configuration and the served `state.json`, if there is
    /// one. Nothing is written until the first publish.
    ///
    /// Errors ([`BuildError`]): a base URL that is not `http(s)`, a blank
    /// name, a component listed twice, a logo, footer link or subscribe
    /// endpoint that is not an `http(s)` URL (footer links may be `mailto:`),
    /// a blank logo text or link label, an accent colour that is not
    /// `#rrggbb` or lacks contrast, a subscribe form configured twice, a zero
    /// [`history_days`](Self::history_days), a `<dir>/current` that is not
    /// the link this crate keeps, a `state.json` that cannot be read or is
    /// not one this version wrote.
    pub fn build(self) -> Result<StaticStatusPage, BuildError> {
        let field = "status page base URL";
        let mut base = Url::parse(&self.base_url)
            .map_err(|e| BuildError::url(field, format!("not a valid URL ({e})")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(BuildError::url(field, "it must be an http or https URL"));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);
        if self.name.trim().is_empty() {
            return Err(BuildError::setting("status page name", "it is empty"));
        }
        for (i, c) in self.components.iter().enumerate() {
            if self.components[..i].iter().any(|o| o.id == c.id) {
                return Err(BuildError::setting(
                    format!("status page component {}", c.id),
                    "it is listed twice",
                ));
            }
        }
        let web_url = |what: &str, url: &str, mailto: bool| {
            let field = format!("status page {what}");
            let parsed = Url::parse(url)
                .map_err(|e| BuildError::url(field.clone(), format!("not a valid URL ({e})")))?;
            let ok = matches!(parsed.scheme(), "http" | "https") && !parsed.cannot_be_a_base()
                || mailto && parsed.scheme() == "mailto";
            if ok {
                Ok(parsed)
            } else if mailto {
                Err(BuildError::url(
                    field,
                    "it must be an http, https or mailto URL",
                ))
            } else {
                Err(BuildError::url(field, "it must be an http or https URL"))
            }
        };
        let mut branding = Branding::default();
        if let Some((url, alt)) = self.logo {
            if alt.trim().is_empty() {
                return Err(BuildError::setting(
                    "status page logo",
                    "its text alternative is empty",
                ));
            }
            branding.logo = Some((web_url("logo URL", &url, false)?, alt.trim().to_owned()));
        }
        if let Some((light, dark)) = self.accent {
            let accent = |e: String| BuildError::setting("status page accent colours", e);
            branding.accent = Some((
                theme::check_accent(&light, theme::LIGHT_BG, "light").map_err(accent)?,
                theme::check_accent(&dark, theme::DARK_BG, "dark").map_err(accent)?,
            ));
        }
        for (label, url) in self.footer_links {
            if label.trim().is_empty() {
                return Err(BuildError::setting(
                    format!("status page footer link to {url}"),
                    "its label is empty",
                ));
            }
            branding
                .footer_links
                .push((label.trim().to_owned(), web_url("footer link", &url, true)?));
        }
        let mut subscribe: Vec<Subscribe> = Vec::new();
        for (kind, endpoint) in self.subscribe {
            if subscribe.iter().any(|s| s.kind == kind) {
                let what = match kind {
                    SubscribeKind::Email => "status page subscribe_email",
                    SubscribeKind::Webhook => "status page subscribe_webhook",
                };
                return Err(BuildError::setting(what, "it is configured twice"));
            }
            subscribe.push(Subscribe {
                kind,
                endpoint: web_url("subscribe endpoint", &endpoint, false)?,
            });
        }
        let page_id = self.page_id.unwrap_or_else(|| {
            let digest = Sha256::digest(base.as_str().as_bytes());
            digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
        });
        if self.history_days == 0 {
            return Err(BuildError::setting(
                "status page history_days",
                "it is 0; the page would forget every incident once resolved",
            ));
        }
        if self.load_state {
            let dir = || format!("status page directory {}", self.dir.display());
            let current = generation::current(&self.dir)
                .map_err(|e| BuildError::setting(dir(), format!("cannot read it: {e}")))?;
            commit::read_state(&self.dir, current)
                .map_err(|e| BuildError::setting(dir(), e.to_string()))?;
        }
        let site =
            Site::new().map_err(|e| BuildError::client(format!("status page templates: {e}")))?;
        Ok(StaticStatusPage {
            config: Arc::new(Config {
                dir: self.dir,
                base,
                name: self.name.trim().to_owned(),
                page_id,
                components: self.components,
                branding,
                subscribe,
                history_limit: self.history_limit,
                history_days: self.history_days,
                lock_timeout: self.lock_timeout,
            }),
            limits: ChannelLimits::new().as_primary().deduplicating(),
            site: Arc::new(site),
            sink: Arc::new(Direct),
            serial: tokio::sync::Mutex::new(()),
            progress: Arc::new(Progress {
                rendered_all: AtomicBool::new(false),
                fresh: AtomicBool::new(!self.load_state),
            }),
        })
    }
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
            let at = self
                .publish(
                    Change::MergeMaintenance(Box::new(snapshot)),
                    Scope::Maintenance(incident.id().clone()),
                )
                .await?;
            return Ok(Receipt::new(at)
                .with_message_ref(MessageRef::new(incident.id().as_str()))
                .with_permalink(self.config.maintenance_permalink(incident.id())));
        }
        let at = self
            .publish(
                Change::Incident {
                    incident: incident.clone(),
                    update: delivery.update.clone(),
                },
                Scope::Incident(incident.id().clone()),
            )
            .await?;
        Ok(Receipt::new(at)
            .with_message_ref(MessageRef::new(incident.id().as_str()))
            .with_permalink(self.config.permalink(incident.id())))
    }
}
