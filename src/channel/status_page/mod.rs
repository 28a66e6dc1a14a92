//! Status pages: the primary source of truth every other message links to.
//!
//! | status page | type | feature | permalink |
//! |---|---|---|---|
//! | hosted static site | `StaticStatusPage` | `status-page` | `<base>incidents/<id>.html` |
//! | Atlassian Statuspage (REST API v1) | `statuspage_io::StatuspageIoChannel` | `statuspage-io` | the incident's `shortlink` |
//!
//! # The hosted status page
//!
//! [`StaticStatusPage`] is a [`Channel`](crate::channel::Channel) that can be
//! the dispatcher's primary. Every update it is sent is recorded and the site
//! is written again to a directory any static host can serve (nginx, S3, a
//! CDN, GitHub Pages). The site is served from `<dir>/current/`
//! ([`served_dir`](StaticStatusPage::served_dir)):
//!
//! | file (under `current/`) | what it is |
//! |---|---|
//! | `index.html` | overall status, components, active incidents with every update (newest first), scheduled maintenance, past incidents |
//! | `incidents/<id>.html` | one page per incident: the permalink every other message carries |
//! | `maintenance/<id>.html` | one page per scheduled maintenance |
//! | `api/v2/summary.json`, `api/v2/status.json` | the [Statuspage public API v2](api) shapes (plus `components.json`, `incidents.json`, `incidents/unresolved.json`, `scheduled-maintenances.json`, `scheduled-maintenances/upcoming.json`, `scheduled-maintenances/active.json`) |
//! | `history.atom` | an Atom 1.0 feed, one entry per update |
//! | `widget.js` | an embeddable banner that reads `api/v2/summary.json` next to it: the overall status and the names of open incidents |
//! | `state.json` | what the page was sent (public text only): the page's source of truth |
//!
//! # Writing: one writer, whole sites
//!
//! - **One writer at a time per directory**: a publish takes an advisory
//!   lock on `<dir>/.tidings.lock` (`flock`; released by the system if the
//!   process dies), so several processes, or several page values, can
//!   publish to one directory. A publish that finds it taken waits up to
//!   [`lock_timeout`](StaticStatusPageBuilder::lock_timeout) (without
//!   blocking the runtime), then fails with a retryable
//!   [`ChannelError::Transient`](crate::channel::ChannelError::Transient)
//!   that names the directory.
//! - **The disk is the source of truth**: under the lock, the state is read
//!   again from the served `state.json`, so writers never lose each other's
//!   incidents. Nothing of it is kept in memory between writes.
//! - **Atomic, whole**: each write builds a new generation of the site in
//!   `<dir>/generations/<n>/` (pages it renders again are written and synced;
//!   the others are hard-linked from the previous generation), then switches
//!   `<dir>/current`, a relative symbolic link, to it with one rename. A
//!   reader sees the old site or the new one, never a mix. The previous two
//!   generations are kept (for readers that resolved `current` just before a
//!   switch), older ones are removed.
//! - **Failures leave the old site**: if anything fails before the switch
//!   (disk full, any I/O error), the new generation is removed, the served
//!   site is byte for byte what it was, and the publish fails; the next
//!   publish reads the state from disk and applies the update again. The
//!   write runs on tokio's blocking pool: a publish dropped mid-write (the
//!   dispatcher's send timeout) lets the write finish or fail whole, and the
//!   lock is held until then.
//! - **Bounded**: a resolved incident (or completed maintenance) whose last
//!   update is older than [`history_days`](StaticStatusPageBuilder::history_days)
//!   (90 by default) leaves the page at the next write: the index, the JSON,
//!   the feed, `state.json`, and its own page, whose permalink then stops
//!   resolving. Open incidents stay however old.
//!
//! # Escaped, accessible, public only
//!
//! - **Escaped**: user text (titles, messages, names) is HTML/XML-escaped in
//!   every page and the feed, and written by serde_json in the JSON; the HTML
//!   is XHTML-compatible and parses as XML.
//! - **Bidirectional text isolated**: bidi controls in user text (such as
//!   U+202E, right-to-left override) are balanced (an opener left open is
//!   closed at the end of the text and before each line break; a closer
//!   with nothing to close is dropped), then isolated: in `<bdi>` (or a
//!   paragraph with `dir="auto"`) in HTML, between U+2068 and U+2069 in the
//!   Atom feed; the JSON carries the balanced text, and the widget puts each
//!   name in a `<bdi>`. `state.json` keeps the text as it was sent.
//! - **Self-contained and accessible**: inline CSS, no script on the pages and
//!   no external asset (but the [logo](StaticStatusPageBuilder::logo), if
//!   one is set); a viewport for phones, and nothing wider than a 390 px
//!   screen (long words and URLs wrap, times do not break); dark mode
//!   following the reader's preference; `lang`, unique ids (updates on the
//!   index are `i-<incident>-update-<n>`, on an incident's page
//!   `update-<n>`), headings in order, landmarks (header, main, footer with
//!   its navigation), text contrast of at least 4.5:1 in both modes, and
//!   every status written out in words (colour only repeats it).
//! - **Uptime**: each component on the index has a bar per day for the last
//!   90 days and its uptime over them, computed from the incidents and
//!   maintenance the page keeps (a major outage counts as down, a partial
//!   outage for 30 % of its time, degraded performance and maintenance not
//!   at all; days before the component's
//!   [start date](PageComponent::with_start_date) have no data). Keep
//!   [`history_days`](StaticStatusPageBuilder::history_days) at 90 or more
//!   for the bars to be complete.
//! - **Yours**: the page's [name](StaticStatusPageBuilder::name),
//!   [logo](StaticStatusPageBuilder::logo),
//!   [accent colours](StaticStatusPageBuilder::accent_colours),
//!   [footer links](StaticStatusPageBuilder::footer_link), and subscribe
//!   forms posting to your endpoint
//!   ([e-mail](StaticStatusPageBuilder::subscribe_email),
//!   [webhook](StaticStatusPageBuilder::subscribe_webhook); none unless
//!   configured).
//! - **Only what customers may see**: the page publishes an update only when
//!   it is for customers (the dispatcher sends it to the primary only then),
//!   shows earlier updates only if they were for customers, and never shows
//!   internal notes. A delivery of an update that is not for customers (the
//!   page routed by mistake as an ordinary channel for an inner ring) is
//!   [`Rejected`](crate::channel::ChannelError::Rejected).
//!
//! The overall indicator is the worst of the components' statuses
//! (degraded performance → `minor`, partial outage → `major`, major outage →
//! `critical`) and the open incidents' impacts. A component's status is the
//! worst an open incident gives it (under maintenance while a maintenance on
//! it is in progress); resolved incidents leave their components operational.
//! Its description is Statuspage's: "Major System Outage" (`critical`),
//! "Partial System Outage" (`major`), "Degraded System Service" (`minor`, all
//! components degraded), "Partially Degraded Service" (`minor`, some
//! degraded), "Minor Service Outage" (`minor` from an incident's impact),
//! "Service Under Maintenance" and "All Systems Operational" (`none`).
//!
//! Errors: a directory that cannot be written for a reason that will not
//! pass (permission denied, read-only file system, a file in place of a
//! directory, a `current` that is not the link this crate keeps, an
//! unreadable `state.json`) is
//! [`ChannelError::Config`](crate::channel::ChannelError::Config) and is not
//! retried; anything else (disk full, I/O errors, the directory locked by
//! another writer for longer than the lock timeout) is
//! [`ChannelError::Transient`](crate::channel::ChannelError::Transient). The
//! page has no rate limit; its only timeout is the wait for the lock.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use tidings::channel::memory::MemoryChannel;
//! use tidings::channel::status_page::StaticStatusPage;
//! use tidings::prelude::*;
//!
//! let dir = tempfile::tempdir()?;
//! let page = Arc::new(
//!     StaticStatusPage::builder(dir.path(), "https://status.example.com/")
//!         .name("Example status")
//!         .component(ComponentId::new("api")?, "API")
//!         .component(ComponentId::new("web")?, "Website")
//!         .build()?,
//! );
//! let chat = Arc::new(MemoryChannel::new());
//! let dispatcher = Dispatcher::builder("https://status.example.com/incidents/{id}.html")
//!     .primary("status-page", page.clone())
//!     .channel("chat", chat.clone())
//!     .audience(
//!         AudiencePolicy::new(Audience::Customers)
//!             .route(Route::new("chat", [Target::new("#status")?])),
//!     )
//!     .build()?;
//!
//! let t0 = chrono::Utc::now();
//! let mut incident = Incident::new(IncidentId::new("inc-1")?, "API errors", Impact::Major, t0)?
//!     .with_component(ComponentId::new("api")?, "API", ComponentStatus::PartialOutage);
//! let first = incident
//!     .post(UpdateDraft::new(Status::Investigating, t0, "Some API calls fail.")
//!         .next_update_at(t0 + chrono::Duration::minutes(30)))?
//!     .clone();
//! let report = dispatcher.publish(&incident, &first).await?;
//! assert_eq!(report.link.as_str(), "https://status.example.com/incidents/inc-1.html");
//! assert!(chat.texts()[0].ends_with("https://status.example.com/incidents/inc-1.html"));
//!
//! // A web server serves `<dir>/current/`.
//! let site = page.served_dir();
//! assert_eq!(site, dir.path().join("current"));
//! let status = std::fs::read_to_string(site.join("api/v2/status.json"))?;
//! assert!(status.contains(r#""indicator": "major""#));
//! assert!(site.join("incidents/inc-1.html").exists());
//! # Ok(())
//! # }
//! ```
//!
//! # Serving
//!
//! Point the static host at `<dir>/current/` (nginx: `root <dir>/current;`,
//! with symbolic links followed, nginx's default; to upload to S3 or a CDN,
//! sync `<dir>/current/`, which most sync tools follow as a directory). Do
//! not serve `<dir>` itself: it holds the lock and every kept generation. For
//! the widget embedded on other sites, serve `api/v2/` with
//! `Access-Control-Allow-Origin: *` (the browser refuses the cross-origin
//! read otherwise), e.g. with nginx:
//! `location /api/v2/ { add_header Access-Control-Allow-Origin *; }`. Short
//! cache lifetimes (a minute) keep readers current. `state.json` holds only
//! what the pages show; a host may still decline to serve it.
//!
//! A directory written by an earlier version of this crate (the site and
//! `state.json` at its top) is taken over: the first publish reads that
//! `state.json` and writes the first generation; point the web server at
//! `current/` then (the old files at the top are no longer updated, and can
//! be deleted).
//!
//! # Scheduled maintenance
//!
//! A [maintenance](crate::incident::Incident::maintenance) published through
//! the dispatcher is recorded as a [`Maintenance`] (its updates for customers,
//! without reminders) and shown as upcoming, in progress or completed; its
//! page, `maintenance/<id>.html`, is the permalink its messages carry
//! (configure the dispatcher's
//! [`canonical_maintenance_url`](crate::dispatch::DispatcherBuilder::canonical_maintenance_url)
//! the same way, for messages sent when the page cannot be written). The
//! dispatcher [reminds](crate::maintenance) audiences before it starts.
//! [`StaticStatusPage::publish_maintenance`] publishes a [`Maintenance`]
//! straight to the page instead, without telling anyone.

#[cfg(feature = "statuspage-io")]
#[cfg_attr(docsrs, doc(cfg(feature = "statuspage-io")))]
pub mod statuspage_io;

#[cfg(feature = "status-page")]
pub mod api;
#[cfg(feature = "status-page")]
mod bidi;
#[cfg(feature = "status-page")]
mod commit;
#[cfg(feature = "status-page")]
mod config;
#[cfg(feature = "status-page")]
#[cfg(test)]
mod faults;
#[cfg(feature = "status-page")]
mod generation;
#[cfg(feature = "status-page")]
mod lock;
#[cfg(feature = "status-page")]
mod maintenance;
#[cfg(feature = "status-page")]
mod page;
#[cfg(feature = "status-page")]
mod site;
#[cfg(feature = "status-page")]
mod state;
#[cfg(feature = "status-page")]
mod store;
#[cfg(feature = "status-page")]
mod theme;
#[cfg(feature = "status-page")]
mod uptime;

#[cfg(feature = "status-page")]
pub use config::PageComponent;
#[cfg(feature = "status-page")]
pub use maintenance::{Maintenance, MaintenanceError, MaintenanceStatus, MaintenanceUpdate, Phase};
#[cfg(feature = "status-page")]
pub use page::{
    DEFAULT_HISTORY_DAYS, DEFAULT_HISTORY_LIMIT, DEFAULT_LOCK_TIMEOUT, StaticStatusPage,
    StaticStatusPageBuilder,
};
