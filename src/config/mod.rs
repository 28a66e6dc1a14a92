//! A TOML configuration file: channels, audiences, templates, the primary
//! and the journal, read into a [`Dispatcher`] in one call.
//!
//! ```toml
//! primary = "status-page"                 # a channel below; goes first
//! # canonical_url = "https://status.example.com/incidents/{id}.html"
//! #   (defaults to a static status page's own; checked against it)
//!
//! [journal]
//! kind = "sqlite"                         # or "postgres" (url = …), "memory"
//! path = "tidings.db"
//!
//! [dispatch]                              # all optional
//! primary_deadline = "10s"
//!
//! [channels.status-page]
//! provider = "status-page"
//! dir = "site"
//! base_url = "https://status.example.com/"
//! components = [{ id = "api", name = "Public API" }]
//!
//! [channels.slack]
//! provider = "slack"
//! token = { env = "SLACK_BOT_TOKEN" }     # secrets: a value, { env = … } or { file = … }
//! rate = "1/s"                            # every channel: rate, per_target_rate, timeout
//!
//! [[audiences]]
//! audience = "core_responders"
//! longest_silence = "20m"
//! routes = [{ channel = "slack", targets = ["C0INCIDENT"] }]
//! ```
//!
//! The whole format, key by key, is `examples/tidings.toml` in the
//! repository (loaded by the test suite, so it stays true).
//!
//! Every error names the key, and the line and column in the file where
//! the problem is, and says what is wrong: a syntax error, an unknown key
//! (typos are errors, not ignored), a value of the wrong shape, a secret
//! whose variable is not set, a channel its provider refuses, a route to a
//! channel that does not exist, a canonical URL that is not the status
//! page's.
//!
//! ```
//! # #[cfg(all(feature = "webhook", feature = "status-page"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::config::Config;
//!
//! let site = tempfile::tempdir()?;
//! let config = Config::from_toml(
//!     "example.toml",
//!     &format!(r#"
//!     primary = "page"
//!     [journal]
//!     kind = "memory"
//!     [channels.page]
//!     provider = "status-page"
//!     dir = "{}"
//!     base_url = "https://status.example.com/"
//!     [channels.hooks]
//!     provider = "webhook"
//!     endpoints = [{{ name = "ops", url = "https://ops.example.com/hook", secret = {{ env = "OPS_WEBHOOK_SECRET" }} }}]
//!     [[audiences]]
//!     audience = "core_responders"
//!     routes = [{{ channel = "hooks", targets = ["ops"] }}]
//!     "#, site.path().display()),
//! )?;
//! # if std::env::var_os("OPS_WEBHOOK_SECRET").is_some() { return Ok(()) }
//! // Secrets are read when the dispatcher is built.
//! let err = config.dispatcher().await.unwrap_err();
//! assert!(err.to_string().contains("OPS_WEBHOOK_SECRET is not set"), "{err}");
//!
//! let err = Config::from_toml("example.toml", "primary = 1").unwrap_err();
//! assert!(err.to_string().starts_with("example.toml:1:11: primary:"), "{err}");
//! # Ok(()) }
//! # #[cfg(not(all(feature = "webhook", feature = "status-page")))]
//! # fn main() {}
//! ```

mod channels;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::audience::{Audience, AudiencePolicy, Detail, Route};
use crate::dispatch::Dispatcher;
use crate::incident::ComponentId;
use crate::journal::Journal;
use crate::render::Templates;
pub use values::Secret;
use values::{Span, Zone};

use channels::{COMMON_KEYS, ChannelSpec, Common};

/// What is wrong with a configuration file, and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigFileError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key's value is missing, malformed or refused.
    #[error("{}{key}: {message}", location(file, *line, *column))]
    Invalid {
        /// The file's name, as given.
        file: String,
        /// The key, dotted (`channels.sms.auth_token`); empty for a syntax
        /// error.
        key: String,
        /// The line (from 1) of the key or of its table, when known.
        line: Option<usize>,
        /// The column (from 1).
        column: Option<usize>,
        /// What is wrong, and what to write instead where it helps.
        message: String,
    },
    /// The journal could not be opened (a database that does not answer, a
    /// file that cannot be created); may succeed later.
    #[error("journal: {0}")]
    Journal(#[from] crate::journal::JournalError),
}

fn location(file: &str, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}: "),
        (Some(l), None) => format!("{file}:{l}: "),
        _ => format!("{file}: "),
    }
}

/// Where in the file: the line and column of a byte offset.
#[derive(Debug, Clone, Copy)]
struct At {
    line: usize,
    column: usize,
}

fn at(text: &str, offset: usize) -> At {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(1, |l| l.chars().count() + 1);
    At { line, column }
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    primary: toml::Spanned<String>,
    canonical_url: Option<toml::Spanned<String>>,
    canonical_maintenance_url: Option<toml::Spanned<String>>,
    journal: toml::Spanned<JournalSpec>,
    #[serde(default)]
    dispatch: DispatchSpec,
    #[serde(default)]
    templates: Option<toml::Spanned<TemplatesSpec>>,
    channels: BTreeMap<String, toml::Spanned<toml::Table>>,
    #[serde(default)]
    audiences: Vec<toml::Spanned<AudienceSpec>>,
}

/// `[journal]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
// A backend not compiled in reads no field.
#[allow(dead_code)]
enum JournalSpec {
    /// In memory: lost with the process; for trying things out.
    Memory,
    /// A SQLite file.
    Sqlite { path: PathBuf },
    /// A PostgreSQL database shared by replicas.
    Postgres { url: Secret },
}

/// `[dispatch]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DispatchSpec {
    primary_deadline: Option<Span>,
    send_timeout: Option<Span>,
    delivery_deadline: Option<Span>,
    claim_lease: Option<Span>,
    concurrency_per_channel: Option<usize>,
    owner: Option<String>,
}

/// `[templates]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplatesSpec {
    /// A folder of `<template>.j2` files replacing the built-in ones of the
    /// same name (`first_contact.public.j2`, `title.j2`, …).
    dir: PathBuf,
}

/// `[[audiences]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AudienceSpec {
    audience: Audience,
    detail: Option<Detail>,
    longest_silence: Option<Span>,
    first_message_within: Option<Span>,
    time_zone: Option<Zone>,
    holding_statements: Option<bool>,
    owner_reminder: Option<Reminder>,
    maintenance_reminder: Option<Reminder>,
    components: Option<Vec<String>>,
    routes: Vec<Route>,
}

/// A reminder's lead, or `"never"`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
struct Reminder(Option<std::time::Duration>);

impl TryFrom<String> for Reminder {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s == "never" {
            return Ok(Reminder(None));
        }
        Span::try_from(s)
            .map(|d| Reminder(Some(d.0)))
            .map_err(|e| format!("{e}, or \"never\""))
    }
}

/// One channel of the file, read.
struct ChannelEntry {
    name: String,
    spec: ChannelSpec,
    common: Common,
    at: At,
}

/// A configuration file, read and checked: everything but what needs the
/// network or the disk (secrets are read and channels built by
/// [`Config::dispatcher`]).
pub struct Config {
    file: String,
    text: String,
    primary: (String, At),
    canonical_url: Option<(String, At)>,
    canonical_maintenance_url: Option<(String, At)>,
    journal: (JournalSpec, At),
    dispatch: DispatchSpec,
    templates: Templates,
    channels: Vec<ChannelEntry>,
    audiences: Vec<AudiencePolicy>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("file", &self.file)
            .field("primary", &self.primary.0)
            .field(
                "channels",
                &self.channels.iter().map(|c| &c.name).collect::<Vec<_>>(),
            )
            .field("audiences", &self.audiences.len())
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads and checks the file at `path`. Relative paths in it (the
    /// status page's folder, the journal's file, the templates' folder) are
    /// relative to the working directory.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigFileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&path.display().to_string(), &text)
    }

    /// Reads and checks `text`; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Config, ConfigFileError> {
        let invalid = |key: &str, at: Option<At>, message: String| ConfigFileError::Invalid {
            file: file.to_owned(),
            key: key.to_owned(),
            line: at.map(|a| a.line),
            column: at.map(|a| a.column),
            message,
        };
        let raw: File = toml::from_str(text).map_err(|e| {
            let span = e
                .span()
                .map(|s| unknown_key(text, s.start, e.message()).unwrap_or(s));
            let place = span.as_ref().map(|s| at(text, s.start));
            invalid(&key_of(text, span), place, e.message().to_owned())
        })?;
        let span_at = |s: std::ops::Range<usize>| at(text, s.start);

        let mut channels = Vec::new();
        for (name, table) in raw.channels {
            let place = span_at(table.span());
            let mut table = table.into_inner();
            let mut common = toml::Table::new();
            for key in COMMON_KEYS {
                if let Some(v) = table.remove(key) {
                    common.insert(key.to_owned(), v);
                }
            }
            let key = format!("channels.{name}");
            let common: Common = toml::Value::Table(common)
                .try_into()
                .map_err(|e: toml::de::Error| invalid(&key, Some(place), e.message().to_owned()))?;
            let spec: ChannelSpec = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| invalid(&key, Some(place), e.message().to_owned()))?;
            channels.push(ChannelEntry {
                name,
                spec,
                common,
                at: place,
            });
        }

        let primary = (raw.primary.get_ref().clone(), span_at(raw.primary.span()));
        if !channels.iter().any(|c| c.name == primary.0) {
            return Err(invalid(
                "primary",
                Some(primary.1),
                format!(
                    "no channel is named {:?}: add [channels.{}]",
                    primary.0, primary.0
                ),
            ));
        }

        let mut audiences = Vec::new();
        for (i, spec) in raw.audiences.into_iter().enumerate() {
            let place = span_at(spec.span());
            let spec = spec.into_inner();
            let key = format!("audiences[{i}]");
            for route in &spec.routes {
                if !channels.iter().any(|c| c.name == route.channel()) {
                    return Err(invalid(
                        &format!("{key}.routes"),
                        Some(place),
                        format!("no channel is named {:?}", route.channel()),
                    ));
                }
                if route.channel() == primary.0 {
                    return Err(invalid(
                        &format!("{key}.routes"),
                        Some(place),
                        format!(
                            "{:?} is the primary: every update goes there first; route audiences to other channels",
                            route.channel()
                        ),
                    ));
                }
            }
            let policy = spec
                .into_policy()
                .map_err(|m| invalid(&key, Some(place), m))?;
            audiences.push(policy);
        }

        let templates = match raw.templates {
            None => Templates::new(),
            Some(spec) => {
                let place = span_at(spec.span());
                load_templates(&spec.into_inner().dir)
                    .map_err(|m| invalid("templates.dir", Some(place), m))?
            }
        };

        Ok(Config {
            file: file.to_owned(),
            text: text.to_owned(),
            primary,
            canonical_url: raw
                .canonical_url
                .map(|s| (s.get_ref().clone(), span_at(s.span()))),
            canonical_maintenance_url: raw
                .canonical_maintenance_url
                .map(|s| (s.get_ref().clone(), span_at(s.span()))),
            journal: (raw.journal.get_ref().clone(), span_at(raw.journal.span())),
            dispatch: raw.dispatch,
            templates,
            channels,
            audiences,
        })
    }

    /// The name of the primary channel.
    pub fn primary(&self) -> &str {
        &self.primary.0
    }

    /// The channels' names and providers, in the file's order of names.
    pub fn channels(&self) -> impl Iterator<Item = (&str, &'static str)> + '_ {
        self.channels
            .iter()
            .map(|c| (c.name.as_str(), c.spec.provider()))
    }

    /// The audiences' policies, in the file's order.
    pub fn audiences(&self) -> &[AudiencePolicy] {
        &self.audiences
    }

    /// The templates: the built-in ones, with the `[templates]` folder's in
    /// their place.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    fn invalid(&self, key: &str, at: At, message: String) -> ConfigFileError {
        ConfigFileError::Invalid {
            file: self.file.clone(),
            key: key.to_owned(),
            line: Some(at.line),
            column: Some(at.column),
            message,
        }
    }

    /// Opens the journal the file names (creating a SQLite file, migrating
    /// a PostgreSQL database).
    pub async fn journal(&self) -> Result<Arc<dyn Journal>, ConfigFileError> {
        let (spec, place) = &self.journal;
        Ok(match spec {
            JournalSpec::Memory => Arc::new(crate::journal::MemoryJournal::new()),
            #[cfg(feature = "journal-sqlite")]
            JournalSpec::Sqlite { path } => {
                Arc::new(crate::journal::SqliteJournal::open(path).await?)
            }
            #[cfg(feature = "journal-postgres")]
            JournalSpec::Postgres { url } => {
                let url = url
                    .resolve()
                    .map_err(|m| self.invalid("journal.url", *place, m))?;
                Arc::new(crate::journal::PostgresJournal::connect(&url).await?)
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(self.invalid(
                    "journal.kind",
                    *place,
                    "this journal is not compiled in: enable the journal-sqlite or journal-postgres feature".into(),
                ));
            }
        })
    }

    /// The static status page the file names as its primary, built (for
    /// [`StaticStatusPage::refresh`](crate::channel::status_page::StaticStatusPage::refresh)
    /// outside a publish); `None` when the primary is another kind of
    /// channel.
    #[cfg(feature = "status-page")]
    pub fn status_page(
        &self,
    ) -> Result<Option<crate::channel::status_page::StaticStatusPage>, ConfigFileError> {
        let Some(c) = self.channels.iter().find(|c| c.name == self.primary.0) else {
            return Ok(None);
        };
        c.spec
            .static_status_page()
            .map_err(|m| self.invalid(&format!("channels.{}", c.name), c.at, m))
    }

    /// Reads the secrets, builds every channel, opens the journal and
    /// builds the dispatcher.
    pub async fn dispatcher(&self) -> Result<Dispatcher, ConfigFileError> {
        let journal = self.journal().await?;
        self.dispatcher_with(journal)
    }

    /// As [`Config::dispatcher`], with a journal already open.
    pub fn dispatcher_with(
        &self,
        journal: Arc<dyn Journal>,
    ) -> Result<Dispatcher, ConfigFileError> {
        let mut built = Vec::new();
        let mut page_links = None;
        for c in &self.channels {
            let key = format!("channels.{}", c.name);
            let b = c
                .spec
                .build(c.common.timeout.map(|t| t.0))
                .map_err(|m| self.invalid(&key, c.at, m))?;
            if c.name == self.primary.0 {
                page_links = b.page_links.clone();
            }
            built.push((c, b.channel));
        }
        let canonical = self.canonical(
            self.canonical_url.as_ref(),
            page_links.as_ref().map(|l| &l.0),
            "canonical_url",
        )?;
        let mut builder = Dispatcher::builder(canonical).journal(journal);
        match (
            self.canonical_maintenance_url.as_ref(),
            page_links.as_ref().map(|l| &l.1),
        ) {
            (None, None) => {}
            (written, page) => {
                let template = self.canonical(written, page, "canonical_maintenance_url")?;
                builder = builder.canonical_maintenance_url(template);
            }
        }
        for (c, channel) in built {
            builder = if c.name == self.primary.0 {
                builder.primary(c.name.clone(), channel)
            } else {
                builder.channel(c.name.clone(), channel)
            };
            if let Some(rate) = c.common.rate {
                builder = builder.rate_limit(c.name.clone(), rate.0);
            }
            if let Some(rate) = c.common.per_target_rate {
                builder = builder.per_target_rate_limit(c.name.clone(), rate.0);
            }
        }
        for policy in &self.audiences {
            builder = builder.audience(policy.clone());
        }
        builder = builder.templates(self.templates.clone());
        let d = &self.dispatch;
        if let Some(t) = d.primary_deadline {
            builder = builder.primary_deadline(t.0);
        }
        if let Some(t) = d.send_timeout {
            builder = builder.send_timeout(t.0);
        }
        if let Some(t) = d.delivery_deadline {
            builder = builder.delivery_deadline(t.0);
        }
        if let Some(t) = d.claim_lease {
            builder = builder.claim_lease(t.0);
        }
        if let Some(n) = d.concurrency_per_channel {
            builder = builder.concurrency_per_channel(n);
        }
        if let Some(owner) = &d.owner {
            let owner = crate::journal::Owner::new(owner.clone())
                .map_err(|e| self.invalid("dispatch.owner", at(&self.text, 0), e.to_string()))?;
            builder = builder.owner(owner);
        }
        builder.build().map_err(|e| {
            use crate::dispatch::ConfigError as E;
            let (key, place) = match &e {
                E::NotAPrimary(_) | E::NoPrimary => ("primary", self.primary.1),
                E::CanonicalUrl { .. } => (
                    "canonical_url",
                    self.canonical_url.as_ref().map_or(self.primary.1, |c| c.1),
                ),
                E::DuplicateAudience(_) | E::ConflictingDetail { .. } | E::Policy(_) => {
                    ("audiences", at(&self.text, 0))
                }
                _ => ("dispatch", at(&self.text, 0)),
            };
            self.invalid(key, place, e.to_string())
        })
    }

    /// The canonical URL template: as written, checked against a static
    /// status page's own when the primary is one; else the page's.
    fn canonical(
        &self,
        written: Option<&(String, At)>,
        page: Option<&String>,
        key: &str,
    ) -> Result<String, ConfigFileError> {
        match (written, page) {
            (Some((url, place)), Some(page)) if url != page => Err(self.invalid(
                key,
                *place,
                format!(
                    "the primary status page publishes its pages at {page:?}, so links to {url:?} would point at pages that do not exist: remove {key} or write the page's"
                ),
            )),
            (Some((url, _)), _) => Ok(url.clone()),
            (None, Some(page)) => Ok(page.clone()),
            (None, None) => Err(self.invalid(
                key,
                self.primary.1,
                format!(
                    "the primary is not a static status page: write {key} (e.g. \"https://status.example.com/incidents/{{id}}\")"
                ),
            )),
        }
    }
}

impl AudienceSpec {
    fn into_policy(self) -> Result<AudiencePolicy, String> {
        let mut p = AudiencePolicy::new(self.audience);
        for route in self.routes {
            p = p.route(route);
        }
        if let Some(d) = self.detail {
            p = p.detail(d);
        }
        if let Some(s) = self.longest_silence {
            p = p.max_silence(s.0);
        }
        if let Some(s) = self.first_message_within {
            p = p.first_message_within(s.0);
        }
        if let Some(z) = self.time_zone {
            p = p.in_time_zone(z.0);
        }
        if let Some(h) = self.holding_statements {
            p = p.holding_statements(h);
        }
        if let Some(r) = self.owner_reminder {
            p = p.owner_reminder(r.0);
        }
        if let Some(r) = self.maintenance_reminder {
            p = p.maintenance_reminder(r.0);
        }
        if let Some(ids) = self.components {
            let ids = ids
                .into_iter()
                .map(ComponentId::new)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("components: {e}"))?;
            p = p.components(ids);
        }
        p.validate().map_err(|e| e.to_string())?;
        Ok(p)
    }
}

/// Every `<name>.j2` of `dir` in place of the built-in template `name`.
fn load_templates(dir: &Path) -> Result<Templates, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "j2") {
            files.push(path);
        }
    }
    files.sort();
    let mut templates = Templates::new();
    for path in files {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{} is not a UTF-8 file name", path.display()))?
            .to_owned();
        let source = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        templates = templates
            .with_template(&name, source)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(templates)
}

/// Where an unknown key is written: toml points at its table; the key's own
/// line is more help.
fn unknown_key(text: &str, from: usize, message: &str) -> Option<std::ops::Range<usize>> {
    let name = message.strip_prefix("unknown field `")?.split('`').next()?;
    let mut offset = from;
    for line in text.get(from..)?.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(name)
            && rest.trim_start().starts_with('=')
        {
            let start = offset + (line.len() - trimmed.len());
            return Some(start..start + name.len());
        }
        offset += line.len();
    }
    None
}

/// The dotted key a syntax or shape error is at: the nearest `key =` or
/// `[table]` at or before the error's place.
fn key_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return String::new();
    };
    // Up to the end of the line the error starts on.
    let end = text
        .get(span.start..)
        .and_then(|rest| rest.find('\n'))
        .map_or(text.len(), |n| span.start + n);
    let before = text.get(..end).unwrap_or(text);
    let mut table = String::new();
    let mut key = String::new();
    for line in before.lines() {
        let l = line.trim();
        if let Some(t) = l.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            table = t.trim().to_owned();
            key.clear();
        } else if let Some(t) = l.strip_prefix('[').and_then(|l| l.split(']').next()) {
            table = t.trim().to_owned();
            key.clear();
        } else if let Some((k, _)) = l.split_once('=')
            && !l.starts_with('#')
        {
            key = k.trim().trim_matches('"').to_owned();
        }
    }
    match (table.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    }
}
