//! Channels: the places an audience reads, behind one small trait.
//!
//! A [`Channel`] sends one [`Delivery`] (the text rendered for that channel, the
//! link back to the source of truth, an idempotency key and the thread of earlier
//! messages on the same target) and answers with a [`Receipt`] or a
//! [`ChannelError`] that says what to do next. Rate limits, retries, timeouts and
//! journaling live in the [dispatcher](crate::dispatch), once, not in each channel.
//!
//! | channel | module | feature | primary | threads |
//! |---|---|---|---|---|
//! | in-memory recorder | [`memory`] | (none) | optional | yes |
//! | hosted static status page | `status_page` | `status-page` | yes | no |
//! | signed generic webhook (Standard Webhooks) | `webhook` | `webhook` | no | no |
//! | e-mail over SMTP | `email` | `email` | no | `In-Reply-To`/`References` |
//! | Slack (Web API or incoming webhooks) | [`chat`] `slack` | `slack` | no | Web API |
//! | Discord (webhooks) | [`chat`] `discord` | `discord` | no | no |
//! | Mattermost (incoming webhooks) | [`chat`] `mattermost` | `mattermost` | no | no |
//! | Microsoft Teams (Workflows webhooks, Adaptive Cards) | [`chat`] `teams` | `teams` | no | no |
//! | Google Chat (incoming webhooks) | [`chat`] `google_chat` | `google-chat` | no | one thread per incident |
//! | SMS via Twilio Programmable Messaging | [`sms`] `twilio` | `sms-twilio` | no | no |
//! | Atlassian Statuspage (REST API v1) | `status_page::statuspage_io` | `statuspage-io` | yes (the incident's shortlink) | updates the same incident |
//! | Bluesky (AT Protocol) | [`social`] `bluesky` | `bluesky` | no | replies under the first post |
//! | Mastodon (statuses) | [`social`] `mastodon` | `mastodon` | no | replies to the previous post |
//! | X (API v2 posts) | [`social`] `x` | `x` | no | replies to the previous post |
//! | PagerDuty (Events API v2) | [`records`] `pagerduty` | `pagerduty` | no | one alert per incident (`dedup_key`) |
//! | Jira Service Management Operations alerts | [`records`] `alerts` | `jsm` | no | one alert per incident (`alias`), a note per update |
//! | Opsgenie alerts | [`records`] `alerts` | `opsgenie` | no | one alert per incident (`alias`), a note per update |
//! | Confluence Cloud (postmortem page) | [`records`] `confluence` | `confluence` | no | one page per incident, updated |
//!
//! Every provider is configured the same way: a builder from the provider's
//! constructor (`builder(…)` with what it requires, or a named mode such as
//! Slack's `web_api(token)` and `incoming_webhooks()`), setters that only
//! store, and `build()`, which checks everything and returns a
//! [`BuildError`] naming what to fix. HTTP channels take their timeouts,
//! `User-Agent`, proxy or a client of your own as one `HttpOptions`
//! (`.http(options)`); channels whose API can be pointed elsewhere (a
//! regional endpoint, a self-hosted server, a test server) take
//! `.base_url(…)`; named endpoints are added with `.webhook(name, url)` (a
//! chat webhook) or `.endpoint(name, url, secret)` (a signed webhook); rates
//! are `.rate(…)` for the whole channel and `.per_target_rate(…)` for each
//! route target.
//!
//! Any type implementing [`Channel`] can be registered with the dispatcher; run
//! the crate's conformance suite (`tests/conformance`) against it.

pub mod chat;
#[cfg(feature = "email")]
#[cfg_attr(docsrs, doc(cfg(feature = "email")))]
pub mod email;
pub mod memory;
pub mod records;
pub mod sms;
pub mod social;
#[cfg(any(feature = "status-page", feature = "statuspage-io"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "status-page", feature = "statuspage-io")))
)]
pub mod status_page;
#[cfg(feature = "webhook")]
#[cfg_attr(docsrs, doc(cfg(feature = "webhook")))]
pub mod webhook;

#[cfg(feature = "__http")]
pub(crate) mod http;
#[cfg(any(feature = "webhook", feature = "__chat", feature = "__records"))]
pub(crate) mod named;

mod build_error;
mod delivery;
mod error;
mod limits;

pub use build_error::BuildError;
pub use delivery::{Delivery, IdempotencyKey, MessageRef, Part, Receipt, Thread};
pub use error::{ChannelError, ErrorKind};
#[cfg(feature = "__http")]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "webhook",
        feature = "slack",
        feature = "discord",
        feature = "mattermost",
        feature = "teams",
        feature = "google-chat",
        feature = "sms-twilio",
        feature = "statuspage-io",
        feature = "bluesky",
        feature = "mastodon",
        feature = "x",
        feature = "pagerduty",
        feature = "jsm",
        feature = "opsgenie",
        feature = "confluence"
    )))
)]
pub use http::HttpOptions;
pub use limits::{ChannelKind, ChannelLimits, RateLimit, RateLimitError, RateLimitScope};

use async_trait::async_trait;

/// A place messages go: a status page, a chat service, e-mail, SMS, a webhook.
///
/// Implementations do one thing: turn a [`Delivery`] into one provider request
/// and map the answer. They do not retry, sleep, or rate-limit; the dispatcher
/// does, using [`Channel::limits`] and the error's [`ChannelError::is_retryable`]
/// and [`ChannelError::retry_after`].
#[async_trait]
pub trait Channel: Send + Sync + std::fmt::Debug {
    /// What kind of channel this is; a label of bounded cardinality for logs and
    /// metrics.
    fn kind(&self) -> ChannelKind;

    /// Its limits: text length and how it is counted, rate limits, whether it
    /// threads, whether it can be the primary source of truth.
    fn limits(&self) -> &ChannelLimits;

    /// How it lays a message out on its wire (escaping, where the link goes,
    /// a card's JSON). The text limit ([`ChannelLimits::text`]) is measured
    /// on this layout, and the dispatcher fits every message with it, so
    /// [`Delivery::text`] is exactly what the channel sends. By default, the
    /// plain layout ([`Plain`](crate::render::Plain)).
    fn format(&self) -> &dyn crate::render::Format {
        &crate::render::Plain
    }

    /// Sends one delivery. Must not panic; must return within a bounded time
    /// (every network call has a timeout).
    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError>;
}
