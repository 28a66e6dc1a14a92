//! Atlassian Statuspage (statuspage.io) as the primary source of truth,
//! through its REST API v1: the first contact creates an incident, every later
//! update changes the same incident (status, message, impact, component
//! statuses), and the incident's `shortlink` is the link every other channel
//! carries.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use tidings::channel::status_page::statuspage_io::{Postmortem, StatuspageIoChannel};
//! use tidings::prelude::*;
//!
//! let statuspage = StatuspageIoChannel::builder("your-api-key", "kctbh9vrtdwd")
//!     // Our component ids → Statuspage component ids; others are not sent.
//!     .component("api", "8kbf7d35c070")
//!     .component("db", "vtnh60py4yd7")
//!     // The fallback permalink when an answer has no shortlink.
//!     .page_url("https://status.example.com")
//!     .deliver_notifications(true) // the default: subscribers are notified
//!     .postmortem(Postmortem::Skip) // the default (see below)
//!     .build()?;
//! let dispatcher = Dispatcher::builder("https://status.example.com/incidents/{id}")
//!     .primary("statuspage", Arc::new(statuspage))
//!     .build()?;
//! # let _ = dispatcher; Ok(()) }
//! ```
//!
//! **Requests.** Authenticated with `Authorization: OAuth <api_key>`; JSON
//! bodies.
//! - First contact (no thread yet): `POST /v1/pages/{page_id}/incidents` with
//!   `{"incident": {name, status, body, impact_override, components,
//!   component_ids, deliver_notifications, metadata}}`; Statuspage answers
//!   `201` with the incident, whose id becomes the receipt's message ref (the
//!   thread root of every later update) and whose `shortlink` becomes the
//!   permalink. `metadata` is `{"tidings": {"incident_id": "<our id>"}}`.
//! - Later updates (the journal's thread root is the Statuspage incident id):
//!   `PATCH /v1/pages/{page_id}/incidents/{incident_id}` with `{"incident":
//!   {status, body, impact_override, components, deliver_notifications}}`,
//!   which posts a new incident update; answered `200`. The receipt keeps the
//!   same message ref and permalink.
//!
//! `status` is ours (`investigating`, `identified`, `monitoring`,
//! `resolved`; for a maintenance, see below); `body` is the update's public message (never internal notes),
//! cut at 25,000 characters ([`MAX_BODY`]); `name` is the incident title, cut
//! at 255 characters ([`MAX_NAME`]), both on a character (and grapheme)
//! boundary; `impact_override` is the incident's impact. `components` carries
//! the status, as of this update, of every affected component that has a
//! Statuspage id configured ([`StatuspageIoChannelBuilder::component`]);
//! components without one are skipped (logged at debug level). "As of this
//! update" means the latest change made by this update or an earlier one, else
//! the component's current status, so an update published late or again sends
//! what it said then; a component whose status was only changed by later
//! updates is left out. The delivery's target is not used:
//! the page is configured.
//!
//! **Permalink.** The incident's `shortlink`; when an answer has none, the
//! configured [page URL](StatuspageIoChannelBuilder::page_url) followed by
//! `/incidents/<id>`; without a page URL, no permalink (the dispatcher then
//! links to its canonical URL and says so in the report).
//!
//! **Duplicates.** Statuspage documents no idempotency: a create whose answer
//! was lost (a timeout, a dropped connection) may have created the incident,
//! and creating again would show customers two incidents. The dispatcher does
//! not tell a channel whether a send is a retry, and a retry may come from
//! another process after a restart, so **every first contact looks first**:
//! `GET /v1/pages/{page_id}/incidents/unresolved` (the first page, up to 100
//! incidents) and, if one carries our `metadata.tidings.incident_id`, updates
//! that incident instead of creating one, or, if it already has an incident
//! update with the same status and body, only returns its receipt. That is
//! one extra request per incident. An incident created already resolved is
//! not among the unresolved, so a lost answer to such a create can still
//! duplicate it. A later update that is sent again after a lost answer
//! ([`Delivery::resend`]) reads the incident first
//! (`GET /v1/pages/{page_id}/incidents/{incident_id}`) and is not posted again
//! if the incident already has it. So the channel declares that it
//! deduplicates ([`ChannelLimits::deduplicates`]), and the dispatcher resends
//! what is in doubt.
//!
//! **Postmortem.** Statuspage keeps postmortems apart from incident updates
//! (a separate postmortem API with its own publish step), and `postmortem` is
//! not an incident status. By default ([`Postmortem::Skip`]) the postmortem act
//! does not change the incident: the channel reads the incident
//! (`GET /v1/pages/{page_id}/incidents/{incident_id}`) only to return its
//! permalink, so the postmortem messages on other channels still link to it.
//! With [`Postmortem::AsUpdate`] the postmortem's public message is posted as
//! one more `resolved` incident update. Neither fails the delivery.
//!
//! **Scheduled maintenance.** A [maintenance](crate::incident::Incident::maintenance)
//! is a Statuspage scheduled incident: its statuses are `scheduled`,
//! `in_progress`, `verifying` and `completed`, and `impact_override` is
//! `maintenance`. The create also sends `scheduled_for` and
//! `scheduled_until`; `scheduled_remind_prior` (the same as
//! `deliver_notifications`: Statuspage reminds its own subscribers); and the
//! automatic transitions
//! ([`maintenance_auto_transitions`](StatuspageIoChannelBuilder::maintenance_auto_transitions):
//! by default to in progress at the start, with the components under
//! maintenance, and never to completed by the clock, so an overrun is not
//! shown as done), with their notifications as `deliver_notifications` says.
//! While it is scheduled, its components are sent only as `component_ids` (no
//! status: they are not under maintenance before the window). The update that
//! completes it, or that puts it off once its window has started, sets its
//! components `operational`, unless the update itself sets them otherwise.
//! Whether Statuspage takes `scheduled_auto_completed` without
//! `scheduled_auto_in_progress` is UNCONFIRMED; the flags are sent as set.
//! The duplicate check of a first contact reads
//! `GET /v1/pages/{page_id}/incidents/scheduled` and then
//! `.../incidents/active_maintenance` instead of `/unresolved` (a maintenance
//! created already completed is in neither, so a lost answer to such a create
//! can still duplicate it). A
//! [reminder](crate::incident::Update::reminder) changes nothing on
//! Statuspage: the channel reads the incident
//! (`GET /v1/pages/{page_id}/incidents/{incident_id}`, or the look-up above
//! when the journal has no thread) to return its permalink; a reminder for a
//! maintenance that is not on Statuspage is rejected.
//!
//! **Rate.** "Each API token is limited to 1 request / second as measured on
//! a 60 second rolling window": the default rate is one send per second for the
//! whole channel. A first contact makes two requests (the look-up and the
//! create; a maintenance's three), and a skipped postmortem or a reminder one
//! read; the 60-second window absorbs these.
//!
//! **Errors.** 420 and 429 are rate limits (with `Retry-After`); 401 (and
//! 403) mean the API key is wrong or may not manage the page (configuration
//! errors); 400, 404 and 422 are refusals, keeping a short, cleaned copy of
//! Statuspage's `{"message": …}` or `{"error": …}`; 408 and 5xx are
//! transient. The API key is a secret: it never appears in `Debug` output,
//! logs or errors.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;
use url::Url;

use crate::channel::http;
use crate::channel::{
    Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, RateLimit, Receipt,
};
use crate::incident::{ComponentId, ComponentStatus, Incident, Status};
use crate::render::TextLimit;

/// The REST API's base URL (the API's paths start with `/v1`).
pub const DEFAULT_BASE_URL: &str = "https://api.statuspage.io";

/// The longest incident update body Statuspage takes, in characters.
pub const MAX_BODY: usize = 25_000;

/// The longest incident name Statuspage takes, in characters.
pub const MAX_NAME: usize = 255;

/// The metadata key under which the channel stores our incident id.
pub const METADATA_KEY: &str = "tidings";

/// What the channel does with the postmortem act. See the
/// [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Postmortem {
    /// Leave the Statuspage incident as it is; only read it for its permalink.
    #[default]
    Skip,
    /// Post the postmortem's public message as one more `resolved` incident
    /// update.
    AsUpdate,
}

/// Creates and updates incidents on an Atlassian Statuspage page. See the
/// [module docs](self).
pub struct StatuspageIoChannel {
    client: reqwest::Client,
    base: Url,
    page_id: String,
    api_key: String,
    auth: HeaderValue,
    components: BTreeMap<ComponentId, String>,
    page_url: Option<Url>,
    deliver_notifications: bool,
    postmortem: Postmortem,
    maintenance: AutoTransitions,
    timeout: Duration,
    limits: ChannelLimits,
}

/// Whether Statuspage moves a scheduled maintenance along by the clock. See
/// [`StatuspageIoChannelBuilder::maintenance_auto_transitions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AutoTransitions {
    start: bool,
    end: bool,
}

impl fmt::Debug for StatuspageIoChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatuspageIoChannel")
            .field("base", &self.base.as_str())
            .field("page_id", &self.page_id)
            .field("api_key", &"<redacted>")
            .field("components", &self.components)
            .field("page_url", &self.page_url.as_ref().map(Url::as_str))
            .field("deliver_notifications", &self.deliver_notifications)
            .field("postmortem", &self.postmortem)
            .field("maintenance_auto_transitions", &self.maintenance)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`StatuspageIoChannel`]; every check happens in
/// [`build`](Self::build).
#[must_use]
pub struct StatuspageIoChannelBuilder {
    api_key: String,
    page_id: String,
    base: String,
    page_url: Option<String>,
    components: Vec<(String, String)>,
    deliver_notifications: bool,
    postmortem: Postmortem,
    maintenance: AutoTransitions,
    client: Option<reqwest::Client>,
    timeout: Duration,
    rate: RateLimit,
}

impl fmt::Debug for StatuspageIoChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatuspageIoChannelBuilder")
            .field("page_id", &self.page_id)
            .field("api_key", &"<redacted>")
            .field("components", &self.components)
            .finish_non_exhaustive()
    }
}

impl StatuspageIoChannel {
    /// A channel for the page `page_id`, authenticated with `api_key` (from
    /// the Statuspage user's API info page).
    pub fn builder(
        api_key: impl Into<String>,
        page_id: impl Into<String>,
    ) -> StatuspageIoChannelBuilder {
        StatuspageIoChannelBuilder {
            api_key: api_key.into(),
            page_id: page_id.into(),
            base: DEFAULT_BASE_URL.to_owned(),
            page_url: None,
            components: Vec::new(),
            deliver_notifications: true,
            postmortem: Postmortem::Skip,
            maintenance: AutoTransitions {
                start: true,
                end: false,
            },
            client: None,
            timeout: http::DEFAULT_TIMEOUT,
            rate: RateLimit::per_second(NonZeroU32::MIN),
        }
    }
}

impl StatuspageIoChannelBuilder {
    /// The REST API's base URL, without `/v1` (default [`DEFAULT_BASE_URL`];
    /// tests point it at a local server).
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.base = base.into();
        self
    }

    /// The public URL of the status page (`https://status.example.com`): the
    /// permalink is `<page_url>/incidents/<id>` when Statuspage returns no
    /// shortlink.
    pub fn page_url(mut self, url: impl Into<String>) -> Self {
        self.page_url = Some(url.into());
        self
    }

    /// Maps our component id to a Statuspage component id. Components of an
    /// incident without a mapping are not sent to Statuspage.
    pub fn component(mut self, ours: impl Into<String>, statuspage: impl Into<String>) -> Self {
        self.components.push((ours.into(), statuspage.into()));
        self
    }

    /// Whether Statuspage notifies the page's subscribers of the incident and
    /// its updates (default `true`).
    pub fn deliver_notifications(mut self, yes: bool) -> Self {
        self.deliver_notifications = yes;
        self
    }

    /// What to do with the postmortem act (default [`Postmortem::Skip`]).
    pub fn postmortem(mut self, postmortem: Postmortem) -> Self {
        self.postmortem = postmortem;
        self
    }

    /// Whether Statuspage moves a scheduled maintenance along by the clock:
    /// to in progress at the window's start (`start`, default `true`, as the
    /// static page does while nobody has posted) and to completed at its end
    /// (`end`, default `false`: a maintenance that overruns is not shown as
    /// completed; post [`Status::Completed`] when it is). Sent at creation as
    /// `scheduled_auto_in_progress` and `scheduled_auto_completed`, with the
    /// components moved under maintenance and back
    /// (`auto_transition_to_maintenance_state`,
    /// `auto_transition_to_operational_state`) and subscribers notified of
    /// the transitions as [`deliver_notifications`](Self::deliver_notifications)
    /// says. With `start`, an explicit in-progress update adds a second
    /// update on Statuspage.
    pub fn maintenance_auto_transitions(mut self, start: bool, end: bool) -> Self {
        self.maintenance = AutoTransitions { start, end };
        self
    }

    /// Uses this client (shared connection pool). It should not follow
    /// redirects; responses that come through one are refused anyway.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Per-request timeout (default 20 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends for the whole channel (default one per second: Statuspage's
    /// limit per API token).
    pub fn rate(mut self, rate: RateLimit) -> Self {
        self.rate = rate;
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<StatuspageIoChannel, ChannelError> {
        let config = |reason: String| ChannelError::Config { reason };
        if self.timeout.is_zero() {
            return Err(config(
                "Statuspage timeout must be greater than zero".into(),
            ));
        }
        if self.api_key.is_empty() || !self.api_key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(config(
                "the Statuspage API key is empty or has spaces or control characters".into(),
            ));
        }
        if !is_statuspage_id(&self.page_id) {
            return Err(config(format!(
                "Statuspage page id {:?} is not an id (ASCII letters and digits)",
                self.page_id
            )));
        }
        let mut components = BTreeMap::new();
        let mut theirs = std::collections::BTreeSet::new();
        for (ours, statuspage) in self.components {
            let id = ComponentId::new(ours.clone())
                .map_err(|e| config(format!("Statuspage component mapping: {e}")))?;
            if !is_statuspage_id(&statuspage) {
                return Err(config(format!(
                    "Statuspage component id {statuspage:?} (for {ours:?}) is not an id"
                )));
            }
            if !theirs.insert(statuspage.clone()) || components.insert(id, statuspage).is_some() {
                return Err(config(format!(
                    "Statuspage component {ours:?} is mapped twice, or shares a Statuspage id"
                )));
            }
        }
        let mut base = http::check_url(&self.base, false)
            .map_err(|r| config(format!("Statuspage base URL: {r}")))?;
        base.set_query(None);
        base.set_fragment(None);
        if base.cannot_be_a_base() {
            return Err(config("Statuspage base URL cannot have paths".into()));
        }
        let page_url = match self.page_url {
            Some(raw) => Some(
                http::check_url(&raw, false)
                    .map_err(|r| config(format!("Statuspage page URL: {r}")))?,
            ),
            None => None,
        };
        let mut auth = HeaderValue::from_str(&format!("OAuth {}", self.api_key))
            .map_err(|_| config("the Statuspage API key is not a valid header value".into()))?;
        auth.set_sensitive(true);
        let client = match self.client {
            Some(c) => c,
            None => http::client(self.timeout)?,
        };
        let limits = ChannelLimits::new()
            .with_text(TextLimit::chars(MAX_BODY))
            .with_rate(self.rate)
            .threaded()
            .as_primary()
            .deduplicating();
        Ok(StatuspageIoChannel {
            client,
            base,
            page_id: self.page_id,
            api_key: self.api_key,
            auth,
            components,
            page_url,
            deliver_notifications: self.deliver_notifications,
            postmortem: self.postmortem,
            maintenance: self.maintenance,
            timeout: self.timeout,
            limits,
        })
    }
}

/// Statuspage ids (pages, components, incidents) are short strings of ASCII
/// letters and digits; `-` and `_` are tolerated.
fn is_statuspage_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `text` cut to at most `max` characters: whole graphemes, then `…`.
pub fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    if text.chars().count() <= max {
        return Cow::Borrowed(text);
    }
    let budget = max.saturating_sub(1);
    let mut out = String::new();
    let mut used = 0;
    for g in text.graphemes(true) {
        let n = g.chars().count();
        if used + n > budget {
            break;
        }
        used += n;
        out.push_str(g);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    Cow::Owned(out)
}

/// Each component's status as of update `seq`, not as of the latest update,
/// so publishing an update late (or again) sends what that update said: the
/// latest change made by update `seq` or an earlier one; else the current
/// status if no later update changed it; else unknown (`None`).
fn statuses_as_of(
    incident: &Incident,
    seq: u32,
) -> impl Iterator<Item = (&ComponentId, Option<ComponentStatus>)> {
    incident.components().iter().map(move |c| {
        let mut as_of = None;
        let mut changed_later = false;
        for update in incident.updates() {
            for (id, status) in &update.component_changes {
                if id == &c.id {
                    if update.seq <= seq {
                        as_of = Some(*status);
                    } else {
                        changed_later = true;
                    }
                }
            }
        }
        let status = match (as_of, changed_later) {
            (Some(status), _) => Some(status),
            (None, false) => Some(c.status),
            (None, true) => None,
        };
        (&c.id, status)
    })
}

/// Our status as a Statuspage incident status (realtime, or scheduled for a
/// maintenance); the postmortem has none.
fn status_name(status: Status) -> Option<&'static str> {
    match status {
        Status::Postmortem => None,
        // Statuspage's names are ours.
        other => Some(other.as_str()),
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    incident: IncidentFields<'a>,
}

#[derive(Serialize)]
struct IncidentFields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Cow<'a, str>>,
    status: &'static str,
    body: &'a str,
    impact_override: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    components: BTreeMap<&'a str, &'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    component_ids: Vec<&'a str>,
    deliver_notifications: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<BTreeMap<&'static str, Tag<'a>>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    schedule: Option<Schedule>,
}

/// The fields that make a created incident a scheduled maintenance.
#[derive(Serialize)]
struct Schedule {
    scheduled_for: chrono::DateTime<chrono::Utc>,
    scheduled_until: chrono::DateTime<chrono::Utc>,
    scheduled_remind_prior: bool,
    scheduled_auto_in_progress: bool,
    scheduled_auto_completed: bool,
    auto_transition_to_maintenance_state: bool,
    auto_transition_to_operational_state: bool,
    auto_transition_deliver_notifications_at_start: bool,
    auto_transition_deliver_notifications_at_end: bool,
}

#[derive(Serialize)]
struct Tag<'a> {
    incident_id: &'a str,
}

/// The fields of Statuspage's Incident the channel reads.
#[derive(Deserialize)]
struct IncidentAnswer {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    shortlink: Option<String>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
    #[serde(default)]
    incident_updates: Option<Vec<UpdateAnswer>>,
}

#[derive(Deserialize)]
struct UpdateAnswer {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

impl IncidentAnswer {
    fn is_ours(&self, incident_id: &str) -> bool {
        self.metadata
            .as_ref()
            .and_then(|m| m.get(METADATA_KEY))
            .and_then(|t| t.get("incident_id"))
            .and_then(serde_json::Value::as_str)
            == Some(incident_id)
    }

    fn has_update(&self, status: &str, body: &str) -> bool {
        self.incident_updates.iter().flatten().any(|u| {
            u.status.as_deref() == Some(status) && u.body.as_deref().map(str::trim) == Some(body)
        })
    }
}

/// Statuspage's ErrorEntity (`{"message": "…"}`), or `{"error": "…"}` /
/// `{"error": ["…", …]}` as some endpoints answer.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// The provider's message, short and cleaned: one line, no control
/// characters, at most 160 characters.
fn error_message(body: &str) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_str(body).ok()?;
    let value = parsed.message.or(parsed.error)?;
    let text = match value {
        serde_json::Value::String(s) => s,
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect::<Vec<_>>()
            .join("; "),
        _ => return None,
    };
    let mut out = String::new();
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().filter(|c| !c.is_control()));
    }
    if out.is_empty() {
        return None;
    }
    Some(truncate(&out, 160).into_owned())
}

/// Maps Statuspage's error answer (HTTP status, headers, body) to what to do
/// next.
pub fn map_error(status: StatusCode, headers: &HeaderMap, body: &str) -> ChannelError {
    let code = status.as_u16();
    let said = || match error_message(body) {
        Some(message) => format!("Statuspage answered {code}: {message}"),
        None => format!("Statuspage answered {code}"),
    };
    let retry_after = || http::retry_after(headers, SystemTime::now());
    match code {
        // "Error codes 420 or 429 indicate that you have exceeded the rate
        // limit" (OpenAPI description); the answer carries `Retry-After`
        // (Atlassian community post, 2020). 420 is still answered by older
        // integrations' accounts, so both count.
        420 | 429 => ChannelError::RateLimited {
            retry_after: retry_after(),
        },
        // 401: the API key is wrong or revoked. 403 (not in the OpenAPI,
        // inferred): the key's user may not manage this page. Fix the
        // configuration; the body is not kept.
        401 | 403 => ChannelError::Config {
            reason: format!("Statuspage refused the API key ({code})"),
        },
        // 400 malformed request, 404 unknown page or incident, 422 invalid
        // fields (an ErrorEntity says which): this request will never pass.
        400 | 404 | 422 => ChannelError::Rejected {
            reason: said(),
            status: Some(code),
        },
        // 408 and 5xx: Statuspage-side failures; retryable ("inferred" in the
        // provider notes).
        408 | 500..=599 => ChannelError::Transient {
            reason: said(),
            status: Some(code),
            retry_after: retry_after(),
        },
        // Anything else follows the general HTTP rules.
        _ => http::error_for_status(status, headers),
    }
}

impl StatuspageIoChannel {
    /// `{base}/v1/pages/{page_id}/incidents[/tail…]`, each segment encoded.
    fn url(&self, tail: &[&str]) -> Result<Url, ChannelError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ChannelError::Config {
                reason: "Statuspage base URL cannot have paths".into(),
            })?
            .pop_if_empty()
            .extend(["v1", "pages", &self.page_id, "incidents"])
            .extend(tail);
        Ok(url)
    }

    /// One request; the answer's status and body on success, the mapped
    /// error otherwise.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Envelope<'_>>,
    ) -> Result<(StatusCode, String), ChannelError> {
        let mut request = self
            .client
            .request(method, url.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = http::send(request, &url, self.timeout).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = http::body_text(response).await;
        if status.is_success() {
            Ok((status, text))
        } else {
            Err(self.redact(map_error(status, &headers, &text)))
        }
    }

    /// Removes the API key from an error's text, should a provider ever echo
    /// it.
    fn redact(&self, err: ChannelError) -> ChannelError {
        let clean = |s: String| s.replace(&self.api_key, "<redacted>");
        match err {
            ChannelError::Rejected { reason, status } => ChannelError::Rejected {
                reason: clean(reason),
                status,
            },
            ChannelError::Transient {
                reason,
                status,
                retry_after,
            } => ChannelError::Transient {
                reason: clean(reason),
                status,
                retry_after,
            },
            other => other,
        }
    }

    /// The incident fields for a create (`create`) or an update.
    fn fields<'a>(
        &'a self,
        delivery: &'a Delivery,
        status: &'static str,
        body: &'a str,
        create: bool,
    ) -> IncidentFields<'a> {
        let incident = &delivery.incident;
        // A maintenance not yet started leaves its components as they are;
        // Statuspage moves them under maintenance (and back) on the window's
        // edges.
        // A maintenance scheduled to start later leaves its components as
        // they are (Statuspage moves them on the window's edges)...
        let started = incident
            .window()
            .is_some_and(|w| delivery.update.at >= w.scheduled_for());
        let scheduled = delivery.update.status == Status::Scheduled && !started;
        // ...and one completed, or put off after its start (Statuspage may
        // have moved it to in progress), gives them back, unless the update
        // itself says otherwise.
        let completed = delivery.update.status == Status::Completed
            || (delivery.update.status == Status::Scheduled && started);
        let set_here = |id: &ComponentId| {
            delivery
                .update
                .component_changes
                .iter()
                .any(|(changed, _)| changed == id)
        };
        let mut components = BTreeMap::new();
        let mut component_ids = Vec::new();
        for (id, status) in statuses_as_of(incident, delivery.update.seq) {
            let status = if completed && !set_here(id) {
                Some(ComponentStatus::Operational)
            } else {
                status
            };
            match (self.components.get(id), status) {
                (Some(theirs), _) if scheduled => component_ids.push(theirs.as_str()),
                (Some(theirs), Some(status)) => {
                    components.insert(theirs.as_str(), status.as_str());
                }
                (None, _) => {
                    tracing::debug!(component = %id, "no Statuspage component id configured; not sent");
                }
                (Some(_), None) => {
                    tracing::debug!(component = %id, "status as of this update unknown; not sent");
                }
            }
        }
        IncidentFields {
            name: create.then(|| truncate(incident.title(), MAX_NAME)),
            status,
            body,
            impact_override: if incident.is_maintenance() {
                "maintenance"
            } else {
                incident.impact().as_str()
            },
            component_ids: if create {
                component_ids.extend(components.keys().copied());
                component_ids
            } else {
                Vec::new()
            },
            components,
            deliver_notifications: self.deliver_notifications,
            metadata: create.then(|| {
                BTreeMap::from([(
                    METADATA_KEY,
                    Tag {
                        incident_id: incident.id().as_str(),
                    },
                )])
            }),
            schedule: incident.window().filter(|_| create).map(|w| Schedule {
                scheduled_for: w.scheduled_for(),
                scheduled_until: w.scheduled_until(),
                scheduled_remind_prior: self.deliver_notifications,
                scheduled_auto_in_progress: self.maintenance.start,
                scheduled_auto_completed: self.maintenance.end,
                auto_transition_to_maintenance_state: self.maintenance.start,
                auto_transition_to_operational_state: self.maintenance.end,
                auto_transition_deliver_notifications_at_start: self.deliver_notifications,
                auto_transition_deliver_notifications_at_end: self.deliver_notifications,
            }),
        }
    }

    /// The receipt for Statuspage incident `id`: its shortlink, else the
    /// page URL's incident page, as the permalink.
    fn receipt(&self, id: &str, shortlink: Option<&str>, status: StatusCode) -> Receipt {
        let shortlink = shortlink
            .and_then(|s| Url::parse(s.trim()).ok())
            .filter(|u| matches!(u.scheme(), "https" | "http"));
        let permalink = shortlink.or_else(|| {
            let mut url = self.page_url.clone()?;
            url.path_segments_mut()
                .ok()?
                .pop_if_empty()
                .extend(["incidents", id]);
            Some(url)
        });
        let mut receipt = Receipt::new(crate::clock::now())
            .with_message_ref(MessageRef::new(id))
            .with_status(status.as_u16());
        if let Some(url) = permalink {
            receipt = receipt.with_permalink(url);
        }
        receipt
    }

    /// The unresolved incident (or scheduled or active maintenance) an
    /// earlier attempt created for this incident, if any.
    async fn find_existing(
        &self,
        delivery: &Delivery,
    ) -> Result<Option<IncidentAnswer>, ChannelError> {
        // Maintenances are listed apart from realtime incidents: the
        // scheduled ones and those under way (UNCONFIRMED whether the first
        // list holds both, so both are read).
        let lists: &[&str] = if delivery.incident.is_maintenance() {
            &["scheduled", "active_maintenance"]
        } else {
            &["unresolved"]
        };
        let ours = delivery.incident.id().as_str();
        for list in lists {
            let url = self.url(&[list])?;
            let (_, text) = self.call(Method::GET, url, None).await?;
            let Ok(found) = serde_json::from_str::<Vec<IncidentAnswer>>(&text) else {
                tracing::warn!(
                    list,
                    "could not read Statuspage's incident list; not checked for a duplicate"
                );
                continue;
            };
            if let Some(existing) = found
                .into_iter()
                .find(|i| i.is_ours(ours) && i.id.as_deref().is_some_and(|id| !id.is_empty()))
            {
                return Ok(Some(existing));
            }
        }
        Ok(None)
    }

    async fn first_contact(
        &self,
        delivery: &Delivery,
        status: &'static str,
        body: &str,
    ) -> Result<Receipt, ChannelError> {
        if let Some(existing) = self.find_existing(delivery).await? {
            let id = existing.id.as_deref().unwrap_or_default();
            if existing.has_update(status, body.trim()) {
                tracing::info!(statuspage_incident = %id, "the Statuspage incident already has this update; not sending it again");
                return Ok(self.receipt(id, existing.shortlink.as_deref(), StatusCode::OK));
            }
            tracing::info!(statuspage_incident = %id, "found the Statuspage incident an earlier attempt created; updating it");
            return self.update(id, delivery, status, body).await;
        }
        let envelope = Envelope {
            incident: self.fields(delivery, status, body, true),
        };
        let (code, text) = self
            .call(Method::POST, self.url(&[])?, Some(&envelope))
            .await?;
        // The incident exists but its id is unknown: a retry's look-up finds it.
        let unreadable = || ChannelError::Transient {
            reason: "Statuspage created the incident but its answer has no incident id".into(),
            status: Some(code.as_u16()),
            retry_after: None,
        };
        let answer: IncidentAnswer = serde_json::from_str(&text).map_err(|_| unreadable())?;
        let id = answer
            .id
            .as_deref()
            .filter(|id| !id.is_empty())
            .ok_or_else(unreadable)?;
        Ok(self.receipt(id, answer.shortlink.as_deref(), code))
    }

    async fn update(
        &self,
        id: &str,
        delivery: &Delivery,
        status: &'static str,
        body: &str,
    ) -> Result<Receipt, ChannelError> {
        if delivery.resend {
            // An earlier attempt's answer was lost: it may have posted this
            // update already. Look before posting it again.
            let (code, text) = self.call(Method::GET, self.url(&[id])?, None).await?;
            if let Ok(current) = serde_json::from_str::<IncidentAnswer>(&text)
                && current.has_update(status, body.trim())
            {
                tracing::info!(statuspage_incident = %id, "the Statuspage incident already has this update; not sending it again");
                return Ok(self.receipt(id, current.shortlink.as_deref(), code));
            }
        }
        let envelope = Envelope {
            incident: self.fields(delivery, status, body, false),
        };
        let (code, text) = self
            .call(Method::PATCH, self.url(&[id])?, Some(&envelope))
            .await?;
        // The update is applied; an unreadable answer only costs the shortlink.
        let shortlink = serde_json::from_str::<IncidentAnswer>(&text)
            .ok()
            .and_then(|a| a.shortlink);
        Ok(self.receipt(id, shortlink.as_deref(), code))
    }

    async fn postmortem(&self, delivery: &Delivery, body: &str) -> Result<Receipt, ChannelError> {
        let Some(thread) = &delivery.thread else {
            tracing::debug!(
                incident = %delivery.incident.id(),
                "postmortem for an incident that is not on Statuspage; nothing to attach it to"
            );
            return Ok(Receipt::new(crate::clock::now()));
        };
        let id = thread.root.as_str();
        match self.postmortem {
            Postmortem::AsUpdate => self.update(id, delivery, "resolved", body).await,
            Postmortem::Skip => self.current(id).await,
        }
    }

    /// Reads Statuspage incident `id`, changing nothing: the receipt for an
    /// act Statuspage does not show (a skipped postmortem, a reminder).
    async fn current(&self, id: &str) -> Result<Receipt, ChannelError> {
        let (code, text) = self.call(Method::GET, self.url(&[id])?, None).await?;
        let shortlink = serde_json::from_str::<IncidentAnswer>(&text)
            .ok()
            .and_then(|a| a.shortlink);
        Ok(self.receipt(id, shortlink.as_deref(), code))
    }
}

#[async_trait]
impl Channel for StatuspageIoChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("statuspage_io")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let body = truncate(&delivery.update.message, MAX_BODY);
        if delivery.update.reminder {
            // Statuspage reminds its own subscribers (`scheduled_remind_prior`);
            // a reminder is not an incident update.
            if let Some(thread) = &delivery.thread {
                return self.current(thread.root.as_str()).await;
            }
            return match self.find_existing(delivery).await? {
                Some(existing) => Ok(self.receipt(
                    existing.id.as_deref().unwrap_or_default(),
                    existing.shortlink.as_deref(),
                    StatusCode::OK,
                )),
                None => Err(ChannelError::Rejected {
                    reason: format!(
                        "a reminder for {}, which is not on Statuspage: publish its announcement first",
                        delivery.incident.id()
                    ),
                    status: None,
                }),
            };
        }
        let Some(status) = status_name(delivery.update.status) else {
            return self.postmortem(delivery, &body).await;
        };
        match &delivery.thread {
            Some(thread) => {
                self.update(thread.root.as_str(), delivery, status, &body)
                    .await
            }
            None => self.first_contact(delivery, status, &body).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::RETRY_AFTER;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        h
    }

    fn map(code: u16, body: &str) -> ChannelError {
        map_error(StatusCode::from_u16(code).unwrap(), &headers("60"), body)
    }

    #[test]
    fn errors_map_to_what_to_do_next() {
        // Rate limits: both codes, with the Retry-After Statuspage sends.
        for code in [420, 429] {
            assert_eq!(
                map(code, r#"{"error":"Rate limit exceeded"}"#),
                ChannelError::RateLimited {
                    retry_after: Some(Duration::from_secs(60))
                },
                "{code}"
            );
        }
        // Recorded ErrorEntity bodies.
        let e = map(401, r#"{"message":"Could not authenticate"}"#);
        assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        let e = map(422, r#"{"message":"Name can't be blank"}"#);
        assert_eq!(
            e,
            ChannelError::Rejected {
                reason: "Statuspage answered 422: Name can't be blank".into(),
                status: Some(422)
            }
        );
        let e = map(400, r#"{"error":"incident is missing"}"#);
        assert!(e.to_string().contains("incident is missing"), "{e}");
        assert!(!e.is_retryable());
        let e = map(404, r#"{"error":["Record not found"]}"#);
        assert_eq!(e.status(), Some(404));
        assert!(e.to_string().contains("Record not found"), "{e}");
        let e = map(404, "<html>Not Found</html>");
        assert_eq!(
            e.to_string(),
            "rejected by the provider (status 404): Statuspage answered 404"
        );
        for code in [500, 502, 503, 504, 408] {
            let e = map(code, "<html>oops</html>");
            assert!(e.is_retryable(), "{code}");
            assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
        }
        assert!(!map(409, "").is_retryable());
    }

    #[test]
    fn error_messages_are_short_and_clean() {
        let long = format!(r#"{{"message":"bad\u0007 {}\n<script>"}}"#, "x".repeat(500));
        let m = error_message(&long).unwrap();
        assert!(
            m.chars().count() <= 160 && !m.contains('\u{7}') && !m.contains('\n'),
            "{m}"
        );
        assert_eq!(error_message("not json"), None);
        assert_eq!(error_message(r#"{"message": "  "}"#), None);
        assert_eq!(error_message(r#"{"message": 3}"#), None);
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("short", 10), "short");
        let t = truncate(&"é".repeat(300), MAX_NAME).into_owned();
        assert_eq!(t.chars().count(), MAX_NAME);
        assert!(t.ends_with('…'));
        // A family emoji is one grapheme of five characters: never split.
        let t = truncate(&format!("{}👩‍👩‍👧", "a".repeat(252)), MAX_NAME).into_owned();
        assert_eq!(t, format!("{}…", "a".repeat(252)));
        assert_eq!(truncate(&"x".repeat(MAX_BODY), MAX_BODY).len(), MAX_BODY);
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_the_key() {
        let b = || StatuspageIoChannel::builder("SECRET-KEY", "kctbh9vrtdwd");
        assert!(StatuspageIoChannel::builder("", "page").build().is_err());
        assert!(
            StatuspageIoChannel::builder("a key", "page")
                .build()
                .is_err()
        );
        assert!(StatuspageIoChannel::builder("k", "").build().is_err());
        assert!(StatuspageIoChannel::builder("k", "../x").build().is_err());
        assert!(b().base_url("http://api.example.com").build().is_err());
        assert!(b().page_url("ftp://status.example.com").build().is_err());
        assert!(b().timeout(Duration::ZERO).build().is_err());
        assert!(b().component("not ok", "abc").build().is_err());
        assert!(b().component("api", "a/b").build().is_err());
        assert!(
            b().component("api", "a")
                .component("api", "b")
                .build()
                .is_err()
        );
        assert!(
            b().component("api", "a")
                .component("db", "a")
                .build()
                .is_err()
        );
        let ch = b().component("api", "a").build().unwrap();
        let dbg = format!("{ch:?} {:?}", b());
        assert!(!dbg.contains("SECRET"), "{dbg}");
        let limits = ch.limits();
        assert!(limits.primary && limits.threads);
        assert_eq!(limits.rate, Some(RateLimit::per_second(NonZeroU32::MIN)));
        assert_eq!(limits.text, Some(TextLimit::chars(MAX_BODY)));
    }

    #[test]
    fn component_statuses_are_as_of_the_update() {
        use crate::incident::{IncidentId, UpdateDraft};
        let t0 = chrono::Utc::now();
        let min = chrono::Duration::minutes;
        let (api, db, cdn) = (
            ComponentId::new("api").unwrap(),
            ComponentId::new("db").unwrap(),
            ComponentId::new("cdn").unwrap(),
        );
        let mut inc = Incident::new(
            IncidentId::new("i").unwrap(),
            "t",
            crate::incident::Impact::Major,
            t0,
        )
        .unwrap()
        .with_component(api.clone(), "API", ComponentStatus::MajorOutage)
        .with_component(db.clone(), "DB", ComponentStatus::DegradedPerformance)
        .with_component(cdn.clone(), "CDN", ComponentStatus::Operational);
        let draft = |status, m: i64, msg: &str| {
            UpdateDraft::new(status, t0 + min(m), msg).next_update_at(t0 + min(m + 30))
        };
        inc.post(draft(Status::Investigating, 1, "a")).unwrap();
        inc.post(
            draft(Status::Identified, 2, "b")
                .component(api.clone(), ComponentStatus::PartialOutage)
                .component(db.clone(), ComponentStatus::MajorOutage),
        )
        .unwrap();
        inc.post(
            draft(Status::Monitoring, 3, "c").component(api.clone(), ComponentStatus::Operational),
        )
        .unwrap();
        let as_of = |seq| {
            statuses_as_of(&inc, seq)
                .map(|(id, s)| (id.as_str().to_owned(), s))
                .collect::<Vec<_>>()
        };
        let own = |id: &str, s| (id.to_owned(), s);
        // Update 1 said nothing about api and db, and their first status was
        // overwritten since: unknown. The CDN never changed.
        assert_eq!(
            as_of(1),
            [
                own("api", None),
                own("db", None),
                own("cdn", Some(ComponentStatus::Operational))
            ]
        );
        assert_eq!(
            as_of(2),
            [
                own("api", Some(ComponentStatus::PartialOutage)),
                own("db", Some(ComponentStatus::MajorOutage)),
                own("cdn", Some(ComponentStatus::Operational))
            ]
        );
        assert_eq!(as_of(3)[0], own("api", Some(ComponentStatus::Operational)));
    }

    #[test]
    fn urls_have_the_page_and_incident() {
        let ch = StatuspageIoChannel::builder("k", "page1")
            .base_url("http://127.0.0.1:9/prefix/")
            .page_url("https://status.example.com/")
            .build()
            .unwrap();
        assert_eq!(
            ch.url(&["abc"]).unwrap().as_str(),
            "http://127.0.0.1:9/prefix/v1/pages/page1/incidents/abc"
        );
        let r = ch.receipt("abc", None, StatusCode::OK);
        assert_eq!(
            r.permalink.unwrap().as_str(),
            "https://status.example.com/incidents/abc"
        );
        let r = ch.receipt("abc", Some("https://stspg.io/xyz"), StatusCode::CREATED);
        assert_eq!(r.permalink.unwrap().as_str(), "https://stspg.io/xyz");
        assert_eq!(r.message_ref.unwrap().as_str(), "abc");
        let default = StatuspageIoChannel::builder("k", "page1").build().unwrap();
        assert_eq!(
            default.url(&[]).unwrap().as_str(),
            "https://api.statuspage.io/v1/pages/page1/incidents"
        );
        assert!(
            default
                .receipt("abc", Some("javascript:x"), StatusCode::OK)
                .permalink
                .is_none()
        );
    }
}
