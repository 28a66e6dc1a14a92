//! PagerDuty, through the Events API v2: one alert per incident, triggered
//! on first contact and on every update, optionally acknowledged once the
//! cause is identified, resolved on resolution.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::channel::records::pagerduty::PagerDutyChannel;
//!
//! // Targets are the names you give each Events API v2 integration; its
//! // integration (routing) key is a secret.
//! let key = std::env::var("PAGERDUTY_ROUTING_KEY").unwrap_or_default();
//! let pagerduty = PagerDutyChannel::builder()
//!     .integration("payments-oncall", key)
//!     .source("status.example.com")
//!     .acknowledge_when_identified(true)
//!     .build()?;
//! # let _ = pagerduty; Ok(()) }
//! ```
//!
//! **Requests.** Every event is `POST https://events.pagerduty.com/v2/enqueue`
//! with the integration's `routing_key` in the JSON body (no auth header):
//!
//! | update | `event_action` | body |
//! |---|---|---|
//! | first contact, later updates, a maintenance announced or under way | `trigger` | `dedup_key`, `payload` (`summary`, `source`, `severity`, `timestamp`, `custom_details`), `links: [{href: <status page>, text: "Status page"}]`, `client`, `client_url` |
//! | status Identified, with [`acknowledge_when_identified`](PagerDutyChannelBuilder::acknowledge_when_identified) (not the first contact) | `acknowledge` | `dedup_key` |
//! | resolved, maintenance completed | `resolve` | `dedup_key` |
//! | postmortem | — | declined: nothing is sent (PagerDuty drops events for a resolved alert) |
//!
//! The `dedup_key` is `tidings-<incident id>`, so every event about one
//! incident applies to the same open alert. A prompt to a person in an
//! incident role (a reminder to the communication owner, an escalation to
//! the incident commander) is always a `trigger` of an alert of its own
//! (`tidings-<incident id>-prompt-<seq>`), so it pages that person even when
//! the incident's alert is acknowledged. `payload.summary` is the
//! message laid out by [`PagerDutyFormat`] (title, body and next-update line
//! on one line; the link travels in `links`), at most [`MAX_SUMMARY`]
//! characters. `payload.severity` follows the incident's impact: critical →
//! `critical`, major → `error`, minor → `warning`, none → `info`.
//!
//! **Answers.** 202 is sent (the receipt's message handle is the
//! `dedup_key` PagerDuty answers with); 400 is a refusal for good
//! (PagerDuty's `{"status":"invalid event","message":"Event object is
//! invalid","errors":[…]}`, kept short and cleaned), or a configuration
//! error when the errors are about the `routing_key`; 429 is a rate limit;
//! 408 and 5xx are transient; other 4xx are refusals.
//!
//! **Rate limits.** PagerDuty allows about 120 events a minute per
//! integration key (over a sliding 60-second window), with account limits
//! beside. A 429 carries no `Retry-After`; PagerDuty suggests retrying "3
//! times with each request being 30 seconds apart", so the channel answers
//! a 429 with [`ChannelError::RateLimited`] and a `retry_after` of
//! [`RATE_LIMIT_BACKOFF`] (30 s) unless the answer says otherwise. The
//! default rate is 120 events a minute per integration (`per_target_rate`),
//! and a 429 pauses that integration only.
//!
//! **Duplicates.** A `trigger` with the same `dedup_key` on an open alert
//! adds a log entry to it ("a trigger log entry is created on an existing
//! alert"), never a second alert; `acknowledge` and `resolve` change nothing
//! when repeated. So an event whose answer was lost may be sent again: the
//! channel declares that it deduplicates
//! ([`ChannelLimits::deduplicates`]). One case would open a new alert: a
//! `trigger` after the alert was resolved. An update older than a
//! resolution the incident already has is therefore declined (nothing sent).
//!
//! **Facts and their sources.** From PagerDuty's own documentation
//! (PagerDuty/developer-docs `docs/events-API-v2/02-Trigger-Events.md`,
//! `05-Rate-Limits.md`; the Events API v2 OpenAPI in PagerDuty/api-schema
//! `reference/events-v2/openapiv3.json`): the endpoint; the body fields;
//! `summary` at most 1024 characters and `dedup_key` at most 255; the
//! severities; the de-duplication rules above; 202 accepted, 400 bad
//! request (do not retry), 429 and 5xx (retry after some time); about 120
//! events per minute per integration key and the advice of three retries 30
//! s apart. The 202 body `{"status":"success","message":"Event
//! processed","dedup_key":"…"}` and the 400 body above are PagerDuty's
//! documented examples. UNCONFIRMED: whether the 1024 "characters" are
//! Unicode scalar values (counted so here) or UTF-16 units; the 32-character
//! shape of every integration key (the docs say "the 32 character
//! Integration Key"; keys of other shapes are refused by `build()`); the EU
//! service region's endpoint (`events.eu.pagerduty.com`: set it with
//! [`base_url`](PagerDutyChannelBuilder::base_url)); the body of a 429 and
//! of a 5xx (not read).

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{incident_key, sanitize, superseded};
use crate::channel::http::{self, HttpOptions};
use crate::channel::named::Named;
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, RateLimit,
    RateLimitScope, Receipt,
};
use crate::incident::{Impact, Status};
use crate::render::{Format, Pieces, TextLimit};

/// The Events API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://events.pagerduty.com/";

/// The longest `payload.summary`: "The maximum permitted length of this
/// property is 1024 characters."
pub const MAX_SUMMARY: usize = 1024;

/// How long a 429 pauses the integration when PagerDuty does not say
/// (it never sends `Retry-After`): its advice is to retry 30 seconds apart.
pub const RATE_LIMIT_BACKOFF: Duration = Duration::from_secs(30);

/// The default `payload.source` and `client`.
const DEFAULT_SOURCE: &str = "tidings";

/// The text of the status page's link in `links`.
const LINK_TEXT: &str = "Status page";

/// A PagerDuty summary: the text before the link (title, body with its part
/// marker, next-update line) on one line, its pieces joined by ` — ` and
/// every run of whitespace made one space (PagerDuty shows the summary as
/// the alert's title). The link is not in it: it is sent in `links`. The
/// channel's limit ([`MAX_SUMMARY`] characters) is measured on this.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PagerDutyFormat;

impl Format for PagerDutyFormat {
    fn layout(&self, pieces: &Pieces<'_>) -> String {
        let mut parts: Vec<String> = Vec::with_capacity(3);
        let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        if !pieces.title.trim().is_empty() {
            parts.push(one_line(pieces.title));
        }
        if !pieces.body.trim().is_empty() {
            let mut body = one_line(pieces.body);
            if let Some((index, count)) = pieces.part {
                body.push_str(&format!(" ({index}/{count})"));
            }
            parts.push(body);
        }
        if let Some(next) = pieces.next_update.filter(|n| !n.trim().is_empty()) {
            parts.push(one_line(next));
        }
        parts.join(" — ")
    }
}

/// Sends incidents to PagerDuty as alerts. See the [module docs](self).
pub struct PagerDutyChannel {
    integrations: Named<String>,
    base: Url,
    source: String,
    acknowledge_when_identified: bool,
    client: reqwest::Client,
    timeout: Duration,
    limits: ChannelLimits,
}

/// The integrations by name; never their keys.
impl fmt::Debug for PagerDutyChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PagerDutyChannel")
            .field("integrations", &self.integrations)
            .field("base", &self.base.as_str())
            .field("source", &self.source)
            .field(
                "acknowledge_when_identified",
                &self.acknowledge_when_identified,
            )
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`PagerDutyChannel`]; every check happens in
/// [`build`](Self::build).
#[must_use]
pub struct PagerDutyChannelBuilder {
    integrations: Vec<(String, String)>,
    base: String,
    source: String,
    acknowledge_when_identified: bool,
    http: HttpOptions,
    per_target_rate: Option<RateLimit>,
}

/// The integrations by name; never their keys.
impl fmt::Debug for PagerDutyChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PagerDutyChannelBuilder")
            .field(
                "integrations",
                &self.integrations.iter().map(|i| &i.0).collect::<Vec<_>>(),
            )
            .field("base", &self.base)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl PagerDutyChannel {
    /// A channel without integrations yet: add each with
    /// [`PagerDutyChannelBuilder::integration`].
    pub fn builder() -> PagerDutyChannelBuilder {
        PagerDutyChannelBuilder {
            integrations: Vec::new(),
            base: DEFAULT_BASE_URL.to_owned(),
            source: DEFAULT_SOURCE.to_owned(),
            acknowledge_when_identified: false,
            http: HttpOptions::new(),
            per_target_rate: None,
        }
    }
}

impl PagerDutyChannelBuilder {
    /// Adds an Events API v2 integration: the route target `name` sends to
    /// the service whose integration key (`routing_key`, 32 letters and
    /// digits) is `routing_key`. The key is a secret.
    pub fn integration(mut self, name: impl Into<String>, routing_key: impl Into<String>) -> Self {
        self.integrations.push((name.into(), routing_key.into()));
        self
    }

    /// `payload.source` and `client` (default `tidings`): "the unique
    /// location of the affected system", e.g. your service's or status
    /// page's host name.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// Acknowledge the alert when an update's status is Identified (default
    /// off: every update but the resolution triggers). An acknowledged
    /// alert stops notifying responders.
    pub fn acknowledge_when_identified(mut self, yes: bool) -> Self {
        self.acknowledge_when_identified = yes;
        self
    }

    /// The Events API's base URL (default [`DEFAULT_BASE_URL`]; the EU
    /// service region's, or a test server); `v2/enqueue` is added.
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

    /// Events to each integration (default 120 a minute, PagerDuty's limit
    /// per integration key).
    pub fn per_target_rate(mut self, rate: RateLimit) -> Self {
        self.per_target_rate = Some(rate);
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<PagerDutyChannel, BuildError> {
        let integrations = Named::build(
            "PagerDuty integration",
            self.integrations,
            |label, key: String| {
                if key.len() != 32 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(BuildError::credential(
                        format!("{label} routing key"),
                        "it must be the integration's 32-character key (letters and digits)",
                    ));
                }
                Ok(key)
            },
        )?;
        let source = self.source.trim().to_owned();
        if source.is_empty() || source.chars().any(char::is_control) {
            return Err(BuildError::setting(
                "PagerDuty source",
                "it must be one line and not blank",
            ));
        }
        let mut base = self.base;
        if !base.ends_with('/') {
            base.push('/');
        }
        let base = http::url_setting(&base, false, "PagerDuty base URL")?;
        let rate = match self.per_target_rate {
            Some(rate) => rate,
            None => RateLimit::new(120, Duration::from_secs(60))
                .map_err(|e| BuildError::setting("PagerDuty rate", e.to_string()))?,
        };
        let limits = ChannelLimits::new()
            .with_text(TextLimit::chars(MAX_SUMMARY))
            .with_per_target_rate(rate)
            .with_rate_limit_scope(RateLimitScope::Target)
            .deduplicating();
        let client = http::client(&self.http)?;
        Ok(PagerDutyChannel {
            integrations,
            base,
            source,
            acknowledge_when_identified: self.acknowledge_when_identified,
            client,
            timeout: self.http.request_timeout(),
            limits,
        })
    }
}

/// An event, as posted to `/v2/enqueue`.
#[derive(Serialize)]
struct Event<'a> {
    routing_key: &'a str,
    event_action: &'static str,
    dedup_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Payload<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_url: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    links: &'a [Link<'a>],
}

#[derive(Serialize)]
struct Payload<'a> {
    summary: &'a str,
    source: &'a str,
    severity: &'static str,
    timestamp: String,
    custom_details: Details<'a>,
}

#[derive(Serialize)]
struct Details<'a> {
    incident_id: &'a str,
    title: &'a str,
    status: &'static str,
    impact: &'static str,
    update: u32,
}

#[derive(Serialize)]
struct Link<'a> {
    href: &'a str,
    text: &'static str,
}

/// PagerDuty's answer, success or error.
#[derive(Deserialize, Default)]
struct Answer {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    dedup_key: Option<String>,
    #[serde(default)]
    errors: Vec<String>,
}

/// PagerDuty's severity for an impact.
fn severity(impact: Impact) -> &'static str {
    match impact {
        Impact::Critical => "critical",
        Impact::Major => "error",
        Impact::Minor => "warning",
        Impact::None => "info",
    }
}

/// What to do with an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Trigger,
    Acknowledge,
    Resolve,
    /// Nothing to send, and why.
    Decline(&'static str),
}

impl PagerDutyChannel {
    fn action(&self, delivery: &Delivery) -> Action {
        let update = &delivery.update;
        if superseded(delivery) {
            return Action::Decline(
                "the incident is already resolved; a trigger would open a new alert",
            );
        }
        match update.status {
            _ if update.is_prompt() => Action::Trigger,
            Status::Postmortem => {
                Action::Decline("PagerDuty has no postmortem event (the alert is resolved)")
            }
            Status::Resolved | Status::Completed => Action::Resolve,
            _ if update.reminder => Action::Trigger,
            Status::Identified if self.acknowledge_when_identified && !update.first => {
                Action::Acknowledge
            }
            _ => Action::Trigger,
        }
    }
}

/// Maps PagerDuty's answer to a failed event.
fn map_error(status: StatusCode, headers: &HeaderMap, body: &str, target: &str) -> ChannelError {
    let code = status.as_u16();
    let answer: Answer = serde_json::from_str(body).unwrap_or_default();
    match code {
        // "Too many API calls at a time": retry after some time; PagerDuty
        // sends no Retry-After and advises 30 s between retries.
        429 => ChannelError::RateLimited {
            retry_after: Some(
                http::retry_after(headers, SystemTime::now()).unwrap_or(RATE_LIMIT_BACKOFF),
            ),
        },
        // "Bad Request - Check that the JSON is valid": do not retry. Errors
        // about the routing key are the integration's configuration.
        400 => {
            let mut reason = answer
                .message
                .or(answer.status)
                .unwrap_or_else(|| "invalid event".to_owned());
            if !answer.errors.is_empty() {
                reason = format!("{reason}: {}", answer.errors.join("; "));
            }
            let reason = sanitize(&reason, 300);
            if answer.errors.iter().any(|e| e.contains("routing_key")) {
                ChannelError::Config {
                    reason: format!(
                        "PagerDuty refused the routing key of integration {target:?}: {reason}"
                    ),
                }
            } else {
                ChannelError::Rejected {
                    reason: format!("PagerDuty answered {reason}"),
                    status: Some(code),
                }
            }
        }
        // 408 and 5xx: "retry after some time"; other 4xx and 3xx: refused.
        _ => http::error_for_status(status, headers),
    }
}

#[async_trait]
impl Channel for PagerDutyChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("pagerduty")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    fn format(&self) -> &dyn Format {
        &PagerDutyFormat
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let name = delivery.target.as_str();
        let routing_key = self.integrations.get(&delivery.target)?;
        let action = self.action(delivery);
        let event_action = match action {
            Action::Trigger => "trigger",
            Action::Acknowledge => "acknowledge",
            Action::Resolve => "resolve",
            Action::Decline(why) => {
                tracing::debug!(key = %delivery.key, integration = name, why, "not sent to PagerDuty");
                return Ok(Receipt::new(crate::clock::now()));
            }
        };
        let dedup_key = incident_key(delivery);
        let link = delivery.link.as_str();
        let links = [Link {
            href: link,
            text: LINK_TEXT,
        }];
        let trigger = action == Action::Trigger;
        let incident = &delivery.incident;
        let event = Event {
            routing_key,
            event_action,
            dedup_key: &dedup_key,
            payload: trigger.then(|| Payload {
                summary: &delivery.text,
                source: &self.source,
                severity: severity(incident.impact()),
                timestamp: delivery
                    .update
                    .at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                custom_details: Details {
                    incident_id: incident.id().as_str(),
                    title: incident.title(),
                    status: delivery.update.status.as_str(),
                    impact: incident.impact().as_str(),
                    update: delivery.update.seq,
                },
            }),
            client: trigger.then_some(self.source.as_str()),
            client_url: trigger.then_some(link),
            links: if trigger { &links } else { &[] },
        };
        let url = self
            .base
            .join("v2/enqueue")
            .map_err(|e| ChannelError::Config {
                reason: format!("PagerDuty base URL: {e}"),
            })?;
        let request = self.client.post(url.clone()).json(&event);
        let response = http::send(request, &url, self.timeout).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = http::body_text(response).await;
        if !status.is_success() {
            return Err(map_error(status, &headers, &body, name));
        }
        let answer: Answer = serde_json::from_str(&body).unwrap_or_default();
        let handle = answer.dedup_key.unwrap_or(dedup_key);
        Ok(Receipt::new(crate::clock::now())
            .with_message_ref(MessageRef::new(handle))
            .with_status(status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "R0123456789abcdefABCDEF012345678";

    fn err(status: u16, body: &str) -> ChannelError {
        map_error(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body,
            "ops",
        )
    }

    #[test]
    fn answers_map_to_what_to_do_next() {
        // PagerDuty's documented 400 example.
        let e = err(
            400,
            r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#,
        );
        assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        let e = err(
            400,
            r#"{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing or blank"]}"#,
        );
        assert!(
            matches!(
                e,
                ChannelError::Rejected {
                    status: Some(400),
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("payload.summary"), "{e}");
        assert_eq!(
            err(429, ""),
            ChannelError::RateLimited {
                retry_after: Some(RATE_LIMIT_BACKOFF)
            }
        );
        for code in [500, 502, 503, 504, 408] {
            assert!(err(code, "").is_retryable(), "{code}");
        }
        assert!(!err(404, "").is_retryable());
        assert!(!err(400, "<html>").is_retryable());
    }

    #[test]
    fn the_summary_is_one_line_without_the_link() {
        let p = Pieces {
            title: "[Identified] API errors",
            body: "We found\n\nthe cause.",
            part: Some((1, 2)),
            next_update: Some("Next update by 14:30 UTC."),
            link: "https://s.example/i",
        };
        assert_eq!(
            PagerDutyFormat.layout(&p),
            "[Identified] API errors — We found the cause. (1/2) — Next update by 14:30 UTC."
        );
        assert_eq!(severity(Impact::Critical), "critical");
        assert_eq!(severity(Impact::Major), "error");
        assert_eq!(severity(Impact::Minor), "warning");
        assert_eq!(severity(Impact::None), "info");
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_keys() {
        assert_eq!(
            PagerDutyChannel::builder().build().unwrap_err(),
            BuildError::NoEndpoint {
                endpoint: "PagerDuty integration"
            }
        );
        let e = PagerDutyChannel::builder()
            .integration("ops", "short-SECRET")
            .build()
            .unwrap_err();
        assert!(matches!(e, BuildError::InvalidCredential { .. }));
        assert!(!e.to_string().contains("SECRET"));
        assert!(
            PagerDutyChannel::builder()
                .integration("ops", KEY)
                .source(" ")
                .build()
                .is_err()
        );
        assert!(matches!(
            PagerDutyChannel::builder()
                .integration("ops", KEY)
                .base_url("http://events.example.com/")
                .build()
                .unwrap_err(),
            BuildError::InvalidUrl { .. }
        ));
        let ch = PagerDutyChannel::builder()
            .integration("ops", KEY)
            .build()
            .unwrap();
        assert!(!format!("{ch:?}").contains(KEY));
        assert!(ch.limits().deduplicates);
        assert!(!ch.limits().threads);
    }
}
