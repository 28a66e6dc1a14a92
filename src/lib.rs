//! # tidings
//!
//! Incident communication for services that must tell people what is
//! happening: describe an incident once, and `tidings` tells every audience, on
//! every channel it reads, in the form that channel needs, with every message
//! linking back to one source of truth.
//!
//! - [`incident`]: the [`Incident`](incident::Incident) and its validated
//!   [`Update`](incident::Update)s (first contact, updates that always say when
//!   the next one comes, resolution, postmortem), and scheduled maintenance
//!   ([`Incident::maintenance`](incident::Incident::maintenance)).
//! - [`audience`]: the ripples around an incident (core responders, front-line
//!   support, leadership, employees, customers, or your own), each with its
//!   routes, detail level, longest silence and component scope.
//! - [`channel`]: the [`Channel`](channel::Channel) trait and its
//!   implementations, one cargo feature per provider.
//! - [`render`]: templates per act and detail level, and fitting to each
//!   channel's length rules without ever cutting the link.
//! - [`dispatch`]: the [`Dispatcher`](dispatch::Dispatcher) that publishes to the
//!   primary first, then fans out, rate-limited, retried and journaled, and the
//!   [`Outbox`](dispatch::Outbox) that finishes what a failure or a crash left.
//! - [`journal`]: where every delivery, incident and publication is recorded,
//!   so nothing is sent twice or lost: in memory, SQLite (`journal-sqlite`) or
//!   PostgreSQL shared by replicas (`journal-postgres`).
//! - [`cadence`]: from the journal, when each audience last heard and when it
//!   is next due; who is overdue; automatic holding statements.
//! - [`maintenance`]: reminders before a scheduled maintenance starts, to
//!   every audience that was told of it.
//! - [`review`]: the post-incident gap analysis, as Markdown and as an SVG
//!   timeline.
//! - `config` (feature `config`): a TOML file describing channels,
//!   audiences, templates, the primary and the journal, read into a
//!   dispatcher in one call; the `tidings` command line (feature `cli`)
//!   drives it.
//! - [`clock`]: the time the dispatcher stamps deliveries with (tokio's clock).
//! - [`Error`]: one error every error of the crate converts into, for callers
//!   who `?` everything.
//!
//! ## Quick start
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tidings::channel::memory::MemoryChannel;
//! use tidings::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The primary source of truth, and the channels people read.
//! let status_page = Arc::new(MemoryChannel::primary("https://status.example.com/".parse()?));
//! let chat = Arc::new(MemoryChannel::new());
//! let email = Arc::new(MemoryChannel::new());
//!
//! let dispatcher = Dispatcher::builder("https://status.example.com/incidents/{id}")
//!     .primary("status-page", status_page.clone())
//!     .channel("chat", chat.clone())
//!     .channel("email", email.clone())
//!     .audience(
//!         AudiencePolicy::new(Audience::CoreResponders)
//!             .route(Route::new("chat", [Target::new("#inc-api")?])),
//!     )
//!     .audience(
//!         AudiencePolicy::new(Audience::Customers)
//!             .route(Route::new("email", [Target::new("subscribers@example.com")?]))
//!             .max_silence(Duration::from_secs(3600)),
//!     )
//!     .build()?;
//!
//! // First contact, early: before the cause is known.
//! let t0 = chrono::Utc::now();
//! let mut incident = Incident::new(IncidentId::new("inc-42")?, "API errors", Impact::Major, t0)?;
//! let first = incident
//!     .post(
//!         UpdateDraft::new(Status::Investigating, t0, "Some API requests fail. We are on it.")
//!             .internal_notes("5xx from the EU load balancer since 14:02")
//!             .next_update_at(t0 + chrono::Duration::minutes(30)),
//!     )?
//!     .clone();
//! let report = dispatcher.publish(&incident, &first).await?;
//! assert!(report.all_sent());
//!
//! // Responders see the internal notes; customers never do. Everyone gets the link.
//! assert!(chat.texts()[0].contains("5xx from the EU load balancer"));
//! assert!(!email.texts()[0].contains("load balancer"));
//! assert!(email.texts()[0].ends_with("https://status.example.com/incidents/inc-42"));
//! assert!(email.texts()[0].contains("Next update by"));
//!
//! // Publishing the same update again sends nothing new.
//! let again = dispatcher.publish(&incident, &first).await?;
//! assert_eq!(again.sent_now(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! | feature | what it adds |
//! |---|---|
//! | (none) | the model, rendering, dispatcher, journal and the in-memory channel |
//! | `webhook` | `channel::webhook`: signed generic webhook (Standard Webhooks) and `verify` |
//! | `email` | `channel::email`: e-mail over SMTP (text + HTML, threading, `List-Unsubscribe`) |
//! | `sms-twilio` | `channel::sms::twilio`: SMS through Twilio, with exact segment counting |
//! | `statuspage-io` | `channel::status_page::statuspage_io`: Atlassian Statuspage as the primary (creates and updates incidents) |
//! | `slack`, `discord`, `mattermost`, `teams`, `google-chat` | `channel::chat::*`: one chat provider each |
//! | `status-page` | `channel::status_page`: the hosted status page (static HTML, Statuspage v2 JSON, Atom, widget), usable as the primary |
//! | `bluesky` | `channel::social::bluesky`: Bluesky posts, threaded, the link as a facet |
//! | `mastodon`, `x` | `channel::social::*`: one social network each, with its own length rules |
//! | `journal-sqlite` | `journal::SqliteJournal`: the journal in an SQLite file, for one process |
//! | `journal-postgres` | `journal::PostgresJournal`: the journal in PostgreSQL, shared by replicas |
//! | `journal-conformance` | `journal::conformance`: the journal contract, to run on a backend of your own |
//! | `chat`, `sms`, `social` | every chat provider, every SMS provider, every social network |
//! | `full` | every provider |
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audience;
pub mod cadence;
pub mod channel;
pub mod clock;
#[cfg(feature = "config")]
pub mod config;
pub mod dispatch;
mod error;
pub mod incident;
pub mod journal;
pub mod maintenance;
pub mod render;
pub mod review;

pub use error::{Error, Result};

/// The README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "slack", feature = "webhook"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The types most programs need, in one import.
pub mod prelude {
    pub use crate::audience::{Audience, AudiencePolicy, Detail, Route, Target};
    pub use crate::channel::{Channel, ChannelError, ChannelLimits, Delivery, Receipt};
    pub use crate::dispatch::{DispatchReport, Dispatcher, Outcome, RetryPolicy};
    pub use crate::incident::{
        Act, ComponentId, ComponentStatus, Impact, Incident, IncidentId, MaintenanceWindow, Person,
        Role, Status, UpdateDraft,
    };
    pub use crate::render::Overflow;
}
