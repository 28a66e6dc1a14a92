//! Alerts in Jira Service Management Operations (the successor of
//! Opsgenie) and in Opsgenie: one alert per incident, created on first
//! contact, a note added per update, closed on resolution. Both take the
//! same requests; only the host and the path differ.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::channel::records::alerts::AlertChannel;
//!
//! // Targets are the names you give each integration; its API key is a secret.
//! let key = std::env::var("JSM_OPS_API_KEY").unwrap_or_default();
//! # #[cfg(feature = "jsm")]
//! let jsm = AlertChannel::jsm()
//!     .integration("payments-oncall", key.clone())
//!     .source("status.example.com")
//!     .build()?;
//! # #[cfg(feature = "opsgenie")]
//! let opsgenie = AlertChannel::opsgenie()
//!     .base_url(tidings::channel::records::alerts::OPSGENIE_EU_BASE_URL) // an EU account
//!     .integration("payments-oncall", key)
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! **Requests.** Every request carries `Authorization: GenieKey <API key>`
//! (the key of an API integration) and a JSON body. `{alerts}` is
//! `https://api.atlassian.com/jsm/ops/integration/v2/alerts` for Jira Service
//! Management and `https://api.opsgenie.com/v2/alerts` for Opsgenie
//! (`https://api.eu.opsgenie.com` for accounts in the EU:
//! [`OPSGENIE_EU_BASE_URL`]).
//!
//! | update | request | body |
//! |---|---|---|
//! | the first this channel sends about the incident to this target (no thread yet) | `POST {alerts}` | `message` (the rendered title, at most [`MAX_MESSAGE`] characters), `alias` (`tidings-<incident id>`), `description` (the message, with the link), `priority`, `source`, `details` |
//! | later updates, the postmortem | `POST {alerts}/{alias}/notes?identifierType=alias` | `note` (the message, with the link), `source` |
//! | resolved, maintenance completed | `POST {alerts}/{alias}/close?identifierType=alias` (after the create, when there was none) | `note`, `source` |
//! | a prompt to a person in an incident role | `POST {alerts}` | an alert of its own (`tidings-<incident id>-prompt-<seq>`), so it notifies |
//!
//! `priority` follows the incident's impact: critical → `P1`, major → `P2`,
//! minor → `P3`, none (and maintenance) → `P5`. The message is laid out as
//! plain text (title, body, next-update line, link), at most
//! [`MAX_DESCRIPTION`] characters, the description's limit (a note may be
//! longer: [`MAX_NOTE`]).
//!
//! **What counts as delivered.** Both APIs answer **202 Accepted** with
//! `{"result":"Request will be processed","took":…,"requestId":"…"}` and
//! process the request later: "it does not guarantee that the request will
//! be handled successfully". The channel counts the 202 as sent, and the
//! receipt's message handle is the `requestId`, so the outcome can be looked
//! up (`GET {alerts}/requests/{requestId}` on Opsgenie). It does not poll: a
//! request that fails after it was accepted (a note for an alert that does
//! not exist) is only in the provider's logs.
//!
//! **Duplicates.** A create with the `alias` of an open alert does not open
//! a second one (Opsgenie increments the alert's count), and closing is
//! idempotent, but a note sent twice is two notes. So the channel does not
//! declare that it deduplicates: an update whose answer was lost is
//! reported in doubt, not resent (unless the route says
//! `resend_in_doubt(true)`). An update older than a resolution the incident
//! already has is declined (nothing sent): creating after the close would
//! open a new alert.
//!
//! **Errors.** 400 and 422 refuse the request for good, with a short,
//! cleaned copy of the provider's `message` and `errors`; 401 (the key is
//! invalid or its integration disabled), 402 (the plan does not allow it)
//! and 403 (the key may not do this) are configuration errors; 404 refuses
//! the request; 429 is a rate limit (with `Retry-After` when given); 408 and
//! 5xx are transient.
//!
//! **Facts and their sources.** Jira Service Management: the integration
//! events API reference (developer.atlassian.com, "Jira Service Management
//! ops / Integration events": create, acknowledge, close and add-note
//! actions; `POST https://api.atlassian.com/jsm/ops/integration/v2/alerts`
//! with `Authorization: GenieKey {apiKey}`; "API key is the basic
//! authentication method used by the integration event APIs"; an
//! asynchronous success response). Opsgenie: docs.opsgenie.com ("Alerts
//! and alert fields": message at most 130 characters, alias at most 512;
//! the Alert API: description at most 15,000 characters, `priority` P1–P5,
//! `GET /v2/alerts/requests/{requestId}`; "Response": the 202 and error
//! codes above and the `result`/`took`/`requestId` body; "Rate Limiting":
//! 429 Too Many Requests). UNCONFIRMED: the exact paths of the JSM
//! integration API's note and close actions (taken to mirror Opsgenie's
//! under `/jsm/ops/integration/v2/alerts`), whether it has regional hosts
//! other than `api.atlassian.com`, and whether it answers the request
//! status under the integration API; the shape of the 400/422 body
//! (`{"message": …, "errors": {field: …}}`, tolerated when absent); note
//! length 25,000 characters; whether notes are accepted on a closed alert
//! (the postmortem's note); whether 429 carries `Retry-After` (honoured if
//! present; else the dispatcher's backoff applies). Opsgenie's REST API is
//! announced to stop on 5 April 2027 (third-party reports): prefer JSM.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{cut, incident_key, sanitize, superseded};
use crate::channel::http::{self, HttpOptions};
use crate::channel::named::Named;
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, RateLimit,
    Receipt,
};
use crate::incident::{Impact, Status};
use crate::render::TextLimit;

/// Opsgenie's API host.
pub const OPSGENIE_BASE_URL: &str = "https://api.opsgenie.com/";

/// Opsgenie's API host for accounts in the EU.
pub const OPSGENIE_EU_BASE_URL: &str = "https://api.eu.opsgenie.com/";

/// Jira Service Management Operations' API host.
pub const JSM_BASE_URL: &str = "https://api.atlassian.com/";

/// The longest alert `message`: "limited to at most 130 characters".
pub const MAX_MESSAGE: usize = 130;

/// The longest alert `description`: 15,000 characters.
pub const MAX_DESCRIPTION: usize = 15_000;

/// The longest note: 25,000 characters (UNCONFIRMED).
pub const MAX_NOTE: usize = 25_000;

/// The default `source`.
const DEFAULT_SOURCE: &str = "tidings";

/// Which API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(all(feature = "jsm", feature = "opsgenie")), allow(dead_code))]
enum Provider {
    Opsgenie,
    Jsm,
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::Opsgenie => "Opsgenie",
            Provider::Jsm => "Jira Service Management",
        }
    }

    fn kind(self) -> ChannelKind {
        match self {
            Provider::Opsgenie => ChannelKind::new("opsgenie"),
            Provider::Jsm => ChannelKind::new("jsm"),
        }
    }

    /// The alerts resource, relative to the host.
    fn alerts(self) -> &'static str {
        match self {
            Provider::Opsgenie => "v2/alerts",
            Provider::Jsm => "jsm/ops/integration/v2/alerts",
        }
    }
}

/// Creates, annotates and closes alerts in Jira Service Management
/// Operations or Opsgenie. See the [module docs](self).
pub struct AlertChannel {
    provider: Provider,
    integrations: Named<String>,
    base: Url,
    source: String,
    client: reqwest::Client,
    timeout: Duration,
    limits: ChannelLimits,
}

/// The integrations by name; never their keys.
impl fmt::Debug for AlertChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertChannel")
            .field("provider", &self.provider.name())
            .field("integrations", &self.integrations)
            .field("base", &self.base.as_str())
            .field("source", &self.source)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds an [`AlertChannel`]; every check happens in [`build`](Self::build).
#[must_use]
pub struct AlertChannelBuilder {
    provider: Provider,
    integrations: Vec<(String, String)>,
    base: String,
    source: String,
    http: HttpOptions,
    rate: Option<RateLimit>,
    per_target_rate: Option<RateLimit>,
}

/// The integrations by name; never their keys.
impl fmt::Debug for AlertChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertChannelBuilder")
            .field("provider", &self.provider.name())
            .field(
                "integrations",
                &self.integrations.iter().map(|i| &i.0).collect::<Vec<_>>(),
            )
            .field("base", &self.base)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl AlertChannel {
    /// Jira Service Management Operations, through its integration events
    /// API (`https://api.atlassian.com/jsm/ops/integration/v2/alerts`).
    #[cfg(feature = "jsm")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jsm")))]
    pub fn jsm() -> AlertChannelBuilder {
        AlertChannelBuilder::new(Provider::Jsm, JSM_BASE_URL)
    }

    /// Opsgenie, through its Alert API (`https://api.opsgenie.com/v2/alerts`;
    /// for an EU account, [`base_url`](AlertChannelBuilder::base_url)
    /// [`OPSGENIE_EU_BASE_URL`]).
    #[cfg(feature = "opsgenie")]
    #[cfg_attr(docsrs, doc(cfg(feature = "opsgenie")))]
    pub fn opsgenie() -> AlertChannelBuilder {
        AlertChannelBuilder::new(Provider::Opsgenie, OPSGENIE_BASE_URL)
    }
}

impl AlertChannelBuilder {
    fn new(provider: Provider, base: &str) -> Self {
        Self {
            provider,
            integrations: Vec::new(),
            base: base.to_owned(),
            source: DEFAULT_SOURCE.to_owned(),
            http: HttpOptions::new(),
            rate: None,
            per_target_rate: None,
        }
    }

    /// Adds an API integration: the route target `name` sends with its API
    /// key (a secret), and its alerts go where the integration routes them.
    pub fn integration(mut self, name: impl Into<String>, api_key: impl Into<String>) -> Self {
        self.integrations.push((name.into(), api_key.into()));
        self
    }

    /// The alerts' and notes' `source` (default `tidings`).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// The API's host (default [`JSM_BASE_URL`] or [`OPSGENIE_BASE_URL`];
    /// [`OPSGENIE_EU_BASE_URL`] for an Opsgenie account in the EU, or a test
    /// server). The alerts' path is added.
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.base = base.into();
        self
    }

    /// How requests are made: timeouts, `User-Agent`, a proxy, or a client
    /// of your own (default [`HttpOptions::new`]).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// Requests for the whole channel (default none: the provider's limits
    /// depend on the plan, and a 429 pauses the channel).
    pub fn rate(mut self, rate: RateLimit) -> Self {
        self.rate = Some(rate);
        self
    }

    /// Requests to each integration (default none).
    pub fn per_target_rate(mut self, rate: RateLimit) -> Self {
        self.per_target_rate = Some(rate);
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<AlertChannel, BuildError> {
        let provider = self.provider;
        let what = match provider {
            Provider::Opsgenie => "Opsgenie integration",
            Provider::Jsm => "Jira Service Management integration",
        };
        let integrations = Named::build(what, self.integrations, |label, key: String| {
            if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(BuildError::credential(
                    format!("{label} API key"),
                    "it is empty, too long, or has spaces or control characters",
                ));
            }
            Ok(key)
        })?;
        let source = self.source.trim().to_owned();
        if source.is_empty() || source.chars().count() > 100 || source.chars().any(char::is_control)
        {
            return Err(BuildError::setting(
                format!("{} source", provider.name()),
                "it must be one line of at most 100 characters, not blank",
            ));
        }
        let mut base = self.base;
        if !base.ends_with('/') {
            base.push('/');
        }
        let base = http::url_setting(&base, false, format!("{} base URL", provider.name()))?;
        let mut limits = ChannelLimits::new()
            .with_text(TextLimit::chars(MAX_DESCRIPTION))
            .threaded();
        if let Some(rate) = self.rate {
            limits = limits.with_rate(rate);
        }
        if let Some(rate) = self.per_target_rate {
            limits = limits.with_per_target_rate(rate);
        }
        let client = http::client(&self.http)?;
        Ok(AlertChannel {
            provider,
            integrations,
            base,
            source,
            client,
            timeout: self.http.request_timeout(),
            limits,
        })
    }
}

#[derive(Serialize)]
struct Create<'a> {
    message: String,
    alias: &'a str,
    description: &'a str,
    priority: &'static str,
    source: &'a str,
    details: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct Note<'a> {
    note: &'a str,
    source: &'a str,
}

/// The providers' answer: `{"result", "took", "requestId"}`, or an error's
/// `{"message", "errors", "took", "requestId"}`.
#[derive(Deserialize, Default)]
struct Answer {
    #[serde(default, rename = "requestId")]
    request_id: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Option<serde_json::Value>,
}

/// The priority for an impact.
fn priority(impact: Impact) -> &'static str {
    match impact {
        Impact::Critical => "P1",
        Impact::Major => "P2",
        Impact::Minor => "P3",
        Impact::None => "P5",
    }
}

/// Maps the provider's answer to a failed request.
fn map_error(
    provider: Provider,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    target: &str,
) -> ChannelError {
    let code = status.as_u16();
    let answer: Answer = serde_json::from_str(body).unwrap_or_default();
    let said = || {
        let mut reason = answer.message.clone().unwrap_or_default();
        if let Some(errors) = &answer.errors {
            let list: Vec<String> = match errors {
                serde_json::Value::Object(map) => map
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
                    .collect(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            if !list.is_empty() {
                reason = format!("{reason} ({})", list.join("; "));
            }
        }
        let reason = sanitize(&reason, 300);
        if reason.is_empty() {
            format!("{status}")
        } else {
            format!("{status}: {reason}")
        }
    };
    let name = provider.name();
    match code {
        // Too many requests: wait as told, else the dispatcher's backoff.
        429 => ChannelError::RateLimited {
            retry_after: http::retry_after(headers, SystemTime::now()),
        },
        // 401: "apiKey is invalid or integration is disabled"; 402: the plan
        // does not allow it; 403: the key may not do this.
        401..=403 => ChannelError::Config {
            reason: format!(
                "{name} refused the API key of integration {target:?}: {}",
                said()
            ),
        },
        // 400 invalid JSON; 422 a semantic error (a field too long, empty).
        400 | 404 | 422 => ChannelError::Rejected {
            reason: format!("{name} answered {}", said()),
            status: Some(code),
        },
        _ => http::error_for_status(status, headers),
    }
}

/// What to send for an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Create,
    Note,
    /// Close, after creating the alert when there is none yet.
    Close {
        create: bool,
    },
    Decline(&'static str),
}

fn plan(delivery: &Delivery) -> Plan {
    let update = &delivery.update;
    if update.is_prompt() {
        return Plan::Create;
    }
    if superseded(delivery) {
        return Plan::Decline("the incident is already resolved; creating would open a new alert");
    }
    let first = delivery.thread.is_none();
    match update.status {
        Status::Resolved | Status::Completed => Plan::Close { create: first },
        Status::Postmortem => Plan::Note,
        _ if first => Plan::Create,
        _ => Plan::Note,
    }
}

impl AlertChannel {
    fn url(&self, alias: Option<(&str, &str)>) -> Result<Url, ChannelError> {
        let mut url = self
            .base
            .join(self.provider.alerts())
            .map_err(|e| ChannelError::Config {
                reason: format!("{} base URL: {e}", self.provider.name()),
            })?;
        if let Some((alias, action)) = alias {
            url.path_segments_mut()
                .map_err(|()| ChannelError::Config {
                    reason: format!("{} base URL cannot have a path", self.provider.name()),
                })?
                .push(alias)
                .push(action);
            url.query_pairs_mut().append_pair("identifierType", "alias");
        }
        Ok(url)
    }

    /// Posts `body` to `url`; the request id of the 202.
    async fn post(
        &self,
        url: Url,
        key: &str,
        body: &impl Serialize,
        target: &str,
    ) -> Result<(u16, Option<String>), ChannelError> {
        let request = self
            .client
            .post(url.clone())
            .header(AUTHORIZATION, format!("GenieKey {key}"))
            .json(body);
        let response = http::send(request, &url, self.timeout).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = http::body_text(response).await;
        if !status.is_success() {
            return Err(map_error(self.provider, status, &headers, &text, target));
        }
        let answer: Answer = serde_json::from_str(&text).unwrap_or_default();
        tracing::debug!(
            provider = self.provider.name(),
            request_id = answer.request_id.as_deref().unwrap_or(""),
            "alert request accepted"
        );
        Ok((status.as_u16(), answer.request_id))
    }

    fn create_body<'a>(&'a self, delivery: &'a Delivery, alias: &'a str) -> Create<'a> {
        let incident = &delivery.incident;
        let title = if delivery.message.title.trim().is_empty() {
            incident.title()
        } else {
            delivery.message.title.trim()
        };
        let mut details = BTreeMap::new();
        details.insert("incident_id", incident.id().to_string());
        details.insert("status", delivery.update.status.as_str().to_owned());
        details.insert("impact", incident.impact().as_str().to_owned());
        details.insert("update", delivery.update.seq.to_string());
        details.insert("status_page", delivery.link.to_string());
        Create {
            message: cut(title, MAX_MESSAGE),
            alias,
            description: &delivery.text,
            priority: priority(incident.impact()),
            source: &self.source,
            details,
        }
    }
}

#[async_trait]
impl Channel for AlertChannel {
    fn kind(&self) -> ChannelKind {
        self.provider.kind()
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let target = delivery.target.as_str();
        let key = self.integrations.get(&delivery.target)?;
        let alias = incident_key(delivery);
        let note = Note {
            note: &delivery.text,
            source: &self.source,
        };
        let (status, request_id) = match plan(delivery) {
            Plan::Decline(why) => {
                tracing::debug!(key = %delivery.key, integration = target, why, "not sent to {}", self.provider.name());
                return Ok(Receipt::new(crate::clock::now()));
            }
            Plan::Create => {
                let body = self.create_body(delivery, &alias);
                self.post(self.url(None)?, key, &body, target).await?
            }
            Plan::Note => {
                self.post(self.url(Some((&alias, "notes")))?, key, &note, target)
                    .await?
            }
            Plan::Close { create } => {
                if create {
                    let body = self.create_body(delivery, &alias);
                    self.post(self.url(None)?, key, &body, target).await?;
                }
                self.post(self.url(Some((&alias, "close")))?, key, &note, target)
                    .await?
            }
        };
        Ok(Receipt::new(crate::clock::now())
            .with_message_ref(MessageRef::new(request_id.unwrap_or(alias)))
            .with_status(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> ChannelError {
        map_error(
            Provider::Opsgenie,
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body,
            "ops",
        )
    }

    #[test]
    fn answers_map_to_what_to_do_next() {
        let e = err(
            422,
            r#"{"message":"Request body is not processable. Please check the errors.","errors":{"message":"Message can not be empty."},"took":0.001,"requestId":"5b6b4c3a-3e2a-4a7b-9d3e-2f9c7d6e1a01"}"#,
        );
        assert!(
            matches!(
                e,
                ChannelError::Rejected {
                    status: Some(422),
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("Message can not be empty"), "{e}");
        let e = err(
            401,
            r#"{"message":"Key format is not valid!","took":0.0,"requestId":"x"}"#,
        );
        assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        assert!(matches!(err(403, ""), ChannelError::Config { .. }));
        assert!(matches!(err(402, ""), ChannelError::Config { .. }));
        assert!(matches!(err(400, "{"), ChannelError::Rejected { .. }));
        assert_eq!(
            err(429, ""),
            ChannelError::RateLimited { retry_after: None }
        );
        for code in [500, 502, 503, 504, 408] {
            assert!(err(code, "").is_retryable(), "{code}");
        }
        assert!(!err(404, "").is_retryable());
    }

    #[test]
    fn priorities_follow_the_impact() {
        assert_eq!(priority(Impact::Critical), "P1");
        assert_eq!(priority(Impact::Major), "P2");
        assert_eq!(priority(Impact::Minor), "P3");
        assert_eq!(priority(Impact::None), "P5");
    }

    #[cfg(feature = "opsgenie")]
    #[test]
    fn builder_checks_the_configuration_and_hides_keys() {
        assert_eq!(
            AlertChannel::opsgenie().build().unwrap_err(),
            BuildError::NoEndpoint {
                endpoint: "Opsgenie integration"
            }
        );
        let e = AlertChannel::opsgenie()
            .integration("ops", "has SECRET spaces")
            .build()
            .unwrap_err();
        assert!(matches!(e, BuildError::InvalidCredential { .. }));
        assert!(!e.to_string().contains("SECRET"));
        let ch = AlertChannel::opsgenie()
            .integration("ops", "eb243592-faa2-4ba2-a551q-1afdf565c889-SECRET")
            .build()
            .unwrap();
        assert!(!format!("{ch:?}").contains("SECRET"));
        assert!(!ch.limits().deduplicates);
        assert!(ch.limits().threads);
        assert_eq!(ch.kind().as_str(), "opsgenie");
        assert!(
            AlertChannel::opsgenie()
                .integration("ops", "k")
                .base_url("http://api.opsgenie.com")
                .build()
                .is_err()
        );
    }
}
