//! Microsoft Teams, through Workflows (Power Automate) webhooks: a flow
//! started by "When a Teams webhook request is received" posts each message as
//! an Adaptive Card to its chat or channel. One URL per flow; no threads, no
//! edits.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::channel::chat::teams::TeamsChannel;
//!
//! // Targets are the names you give each workflow URL. The URL is a secret:
//! // its `sig` parameter is what lets anyone post to the channel.
//! let teams = TeamsChannel::workflows()
//!     .webhook(
//!         "incidents",
//!         "https://prod-00.westeurope.logic.azure.com/workflows/ID/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SIGNATURE",
//!     )
//!     .build()?;
//! # let _ = teams; Ok(()) }
//! ```
//!
//! The card shows the update's title in bold, a fact set with the status and
//! the impact, the message, and an "Open status page" button carrying the
//! link to the source of truth. It is posted in the envelope the Workflows
//! template expects (`{"type":"message","attachments":[…]}`, Adaptive Card
//! version 1.4).
//!
//! Text is Adaptive Card Markdown, escaped with
//! [`markup::adaptive_card`](crate::render::markup::adaptive_card): Teams
//! clients do not honour backslash escapes alike, so a zero-width space breaks
//! `[text](url)` links, `<…>` autolinks and tags, and entities instead. A card
//! cannot mention anyone without declaring the mention in `msteams.entities`,
//! which tidings never does.
//!
//! Size: Microsoft refuses messages over 28 KB, and cards have been seen
//! refused from about 21 KB; the whole JSON payload is kept within
//! [`DEFAULT_MAX_PAYLOAD`] bytes (configurable): the channel's text limit is
//! measured in JSON-escaped bytes, and a card still over the ceiling is
//! refused without being sent.
//!
//! Rate: Microsoft documents, for connectors, at most 4 requests per second
//! per channel (and 60 per 30 s, 100 per hour); Power Automate's limits for
//! this trigger are not documented. The default is one message per second per
//! webhook.
//!
//! Errors: 429, and any answer whose body says "Microsoft Teams endpoint
//! returned HTTP error 429" (Teams' way of throttling), are rate limits; 408
//! and 5xx are transient; a flow that is off, deleted or refuses the URL's
//! signature is a configuration error; 413 and other 4xx refuse the message
//! for good. See [`map_error`].
//!
//! A flow answers 202 Accepted before it runs: a success means the flow
//! started, not that the card was posted (its run history says).

use std::fmt;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;
use url::Url;

use crate::channel::http;
use crate::channel::named::Named;
use crate::channel::{
    Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, RateLimit, RateLimitScope, Receipt,
};
use crate::incident::Impact;
use crate::render::markup::adaptive_card;
use crate::render::{LengthUnit, TextLimit};

/// Microsoft's limit on a webhook message, in bytes of JSON: "The message
/// size limit is 28 KB."
pub const MICROSOFT_MAX_PAYLOAD: usize = 28_000;

/// The default ceiling on the whole JSON payload, in bytes: below the ~21 KB
/// from which Teams has been seen refusing cards in practice.
pub const DEFAULT_MAX_PAYLOAD: usize = 20_000;

/// What Teams answers, in the body and whatever the status, when it throttles
/// ("Connectors do not throw 429s").
pub const THROTTLED: &str = "Microsoft Teams endpoint returned HTTP error 429";

/// The button's label.
pub const BUTTON: &str = "Open status page";

/// JSON bytes kept for everything but the title and the message: envelope,
/// schema, fact set and button (its URL is counted with the text).
const ENVELOPE: usize = 1_000;

/// JSON bytes kept for the title block; a longer title is shortened there.
const TITLE_BUDGET: usize = 1_000;

/// The smallest payload ceiling that leaves room for some text.
const MIN_PAYLOAD: usize = ENVELOPE + TITLE_BUDGET + 1_000;

const ELLIPSIS: &str = "…";

/// Bytes `s` takes inside a JSON string, as serde_json writes it.
fn json_len(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if u32::from(c) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum()
}

/// What a fitted text takes in the card, in JSON bytes once escaped (an upper
/// bound: the link, counted here as text, goes raw into the button). Fitting
/// against it keeps the payload within its ceiling.
fn card_bytes(text: &str) -> usize {
    json_len(&adaptive_card(text))
}

/// Posts Adaptive Cards to Microsoft Teams through Workflows webhooks. See the
/// [module docs](self).
pub struct TeamsChannel {
    hooks: Named<Url>,
    client: reqwest::Client,
    timeout: Duration,
    max_payload: usize,
    limits: ChannelLimits,
}

impl fmt::Debug for TeamsChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamsChannel")
            .field("webhooks", &self.hooks)
            .field("timeout", &self.timeout)
            .field("max_payload", &self.max_payload)
            .finish_non_exhaustive()
    }
}

/// Builds a [`TeamsChannel`]; every check happens in [`build`](Self::build).
#[must_use]
pub struct TeamsChannelBuilder {
    webhooks: Vec<(String, String)>,
    client: Option<reqwest::Client>,
    timeout: Duration,
    per_webhook_rate: RateLimit,
    max_payload: usize,
}

impl fmt::Debug for TeamsChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamsChannelBuilder")
            .field(
                "webhooks",
                &self.webhooks.iter().map(|w| &w.0).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field("max_payload", &self.max_payload)
            .finish_non_exhaustive()
    }
}

impl TeamsChannel {
    /// Workflows webhooks. Targets are the names given to each URL with
    /// [`TeamsChannelBuilder::webhook`].
    pub fn workflows() -> TeamsChannelBuilder {
        TeamsChannelBuilder {
            webhooks: Vec::new(),
            client: None,
            timeout: http::DEFAULT_TIMEOUT,
            per_webhook_rate: RateLimit::per_second(NonZeroU32::MIN),
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

impl TeamsChannelBuilder {
    /// Adds a workflow: the route target `name` posts to `url`, the URL of its
    /// "When a Teams webhook request is received" trigger.
    pub fn webhook(mut self, name: impl Into<String>, url: impl Into<String>) -> Self {
        self.webhooks.push((name.into(), url.into()));
        self
    }

    /// Uses this client (shared connection pool).
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Per-request timeout (default 20 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Messages per webhook (default one per second).
    pub fn per_webhook_rate(mut self, rate: RateLimit) -> Self {
        self.per_webhook_rate = rate;
        self
    }

    /// The ceiling on the whole JSON payload, in bytes (default
    /// [`DEFAULT_MAX_PAYLOAD`]; at most [`MICROSOFT_MAX_PAYLOAD`]).
    pub fn max_payload_bytes(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<TeamsChannel, ChannelError> {
        let config = |reason: String| ChannelError::Config { reason };
        if self.timeout.is_zero() {
            return Err(config("Teams timeout must be greater than zero".into()));
        }
        if !(MIN_PAYLOAD..=MICROSOFT_MAX_PAYLOAD).contains(&self.max_payload) {
            return Err(config(format!(
                "Teams payload ceiling must be between {MIN_PAYLOAD} and {MICROSOFT_MAX_PAYLOAD} bytes"
            )));
        }
        let hooks = Named::build("Teams webhook", self.webhooks, |url: String| {
            http::check_url(&url, false)
        })?;
        let limits = ChannelLimits::new()
            // Rate limits are per webhook / per chat channel.
            .with_rate_limit_scope(RateLimitScope::Target)
            .with_text(TextLimit::new(
                self.max_payload - ENVELOPE - TITLE_BUDGET,
                LengthUnit::Custom {
                    name: "teams_card_json_bytes",
                    measure: card_bytes,
                },
            ))
            .with_per_target_rate(self.per_webhook_rate);
        let client = match self.client {
            Some(c) => c,
            None => http::client(self.timeout)?,
        };
        Ok(TeamsChannel {
            hooks,
            client,
            timeout: self.timeout,
            max_payload: self.max_payload,
            limits,
        })
    }
}

#[derive(Serialize)]
struct Message<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    attachments: [Attachment<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Attachment<'a> {
    content_type: &'static str,
    content_url: Option<&'static str>,
    content: Card<'a>,
}

#[derive(Serialize)]
struct Card<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    version: &'static str,
    body: Vec<Element>,
    actions: [OpenUrl<'a>; 1],
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum Element {
    TextBlock {
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        weight: Option<&'static str>,
        wrap: bool,
    },
    FactSet {
        facts: [Fact; 2],
    },
}

#[derive(Serialize)]
struct Fact {
    title: &'static str,
    value: &'static str,
}

#[derive(Serialize)]
struct OpenUrl<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    url: &'a str,
}

fn impact_label(impact: Impact) -> &'static str {
    match impact {
        Impact::None => "None",
        Impact::Minor => "Minor",
        Impact::Major => "Major",
        Impact::Critical => "Critical",
    }
}

/// The escaped title, shortened (at a grapheme boundary, with `…`) to
/// [`TITLE_BUDGET`] JSON bytes.
fn card_title(title: &str) -> String {
    let escaped = adaptive_card(title);
    if json_len(&escaped) <= TITLE_BUDGET {
        return escaped;
    }
    let bounds: Vec<usize> = title.grapheme_indices(true).map(|(i, _)| i).collect();
    let fits =
        |end: usize| json_len(&adaptive_card(&title[..end])) + ELLIPSIS.len() <= TITLE_BUDGET;
    // bounds[0] = 0 always fits; the whole title does not.
    let (mut good, mut bad) = (0, bounds.len());
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        if bounds.get(mid).is_some_and(|&end| fits(end)) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    let end = bounds.get(good).copied().unwrap_or(0);
    let mut out = adaptive_card(title[..end].trim_end());
    out.push_str(ELLIPSIS);
    out
}

fn card<'a>(
    title: String,
    text: String,
    status: &'static str,
    impact: &'static str,
    link: &'a str,
) -> Message<'a> {
    let mut body = Vec::with_capacity(3);
    if !title.is_empty() {
        body.push(Element::TextBlock {
            text: title,
            size: Some("Medium"),
            weight: Some("Bolder"),
            wrap: true,
        });
    }
    body.push(Element::FactSet {
        facts: [
            Fact {
                title: "Status",
                value: status,
            },
            Fact {
                title: "Impact",
                value: impact,
            },
        ],
    });
    if !text.is_empty() {
        body.push(Element::TextBlock {
            text,
            size: None,
            weight: None,
            wrap: true,
        });
    }
    Message {
        kind: "message",
        attachments: [Attachment {
            content_type: "application/vnd.microsoft.card.adaptive",
            content_url: None,
            content: Card {
                schema: "http://adaptivecards.io/schemas/adaptive-card.json",
                kind: "AdaptiveCard",
                version: "1.4",
                body,
                actions: [OpenUrl {
                    kind: "Action.OpenUrl",
                    title: BUTTON,
                    url: link,
                }],
            },
        }],
    }
}

/// The card for `delivery`, serialized. The message block is the fitted text
/// without its link (the button carries it) and without the title (the title
/// block shows it, on every part of a split message).
fn payload(delivery: &Delivery) -> Result<Vec<u8>, ChannelError> {
    let link = delivery.link.as_str();
    let title = delivery.message.title.as_str();
    let text = delivery.text_without_link();
    let text = text.strip_prefix(title).map_or(text, str::trim_start);
    let message = card(
        card_title(title),
        adaptive_card(text),
        delivery.update.status.label(),
        if delivery.incident.is_maintenance() {
            "Maintenance"
        } else {
            impact_label(delivery.incident.impact())
        },
        link,
    );
    serde_json::to_vec(&message).map_err(|e| ChannelError::Rejected {
        reason: format!("cannot serialize the Teams card: {e}"),
        status: None,
    })
}

/// Logic Apps' error code (`{"error":{"code":"WorkflowNotFound",…}}`), cut to
/// letters, digits and `_`; the message is never kept.
fn error_code(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let code: String = value
        .get("error")?
        .get("code")?
        .as_str()?
        .chars()
        .take(64)
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!code.is_empty()).then_some(code)
}

/// Maps a workflow's answer that is not a plain success: its status, headers
/// and body (a Logic Apps JSON error, Teams' throttling text, or HTML).
pub fn map_error(status: StatusCode, headers: &HeaderMap, body: &str) -> ChannelError {
    let retry_after = http::retry_after(headers, SystemTime::now());
    // "Connectors do not throw 429s": the body carries "Microsoft Teams
    // endpoint returned HTTP error 429", even with a 2xx status; back off.
    if body.contains(THROTTLED) {
        return ChannelError::RateLimited { retry_after };
    }
    let code = error_code(body);
    let with_code = code
        .as_deref()
        .map_or_else(String::new, |c| format!(" {c}"));
    let code_num = status.as_u16();
    match (code_num, code.as_deref()) {
        // Power Automate's own request limits.
        (429, _) => ChannelError::RateLimited { retry_after },
        // "The message size limit is 28 KB. When the size exceeds 28 KB, you
        // receive an error."
        (413, _) => ChannelError::Rejected {
            reason: "Teams refused the card as too large (413)".into(),
            status: Some(413),
        },
        // The flow is turned off (WorkflowTriggerIsNotEnabled) or deleted
        // (WorkflowNotFound): only its owner can fix it.
        (_, Some(c @ ("WorkflowTriggerIsNotEnabled" | "WorkflowNotFound"))) => {
            ChannelError::Config {
                reason: format!(
                    "the Teams workflow cannot run ({c}); turn it on or configure a new webhook URL"
                ),
            }
        }
        // The URL's signature is missing or wrong, or the trigger no longer
        // lets anyone call it (DirectApiAuthorizationRequired,
        // DirectApiInvalidAuthorizationSignature, …).
        (_, Some(c)) if c.starts_with("DirectApi") => ChannelError::Config {
            reason: format!(
                "the Teams workflow refused the webhook URL ({c}); copy the URL again and let anyone trigger the flow"
            ),
        },
        (401 | 403, _) => ChannelError::Config {
            reason: format!("the Teams workflow refused the webhook URL ({status})"),
        },
        (404, _) => ChannelError::Config {
            reason: "no Teams workflow at the webhook URL (404); configure a new one".into(),
        },
        // Timeouts and server errors may pass.
        (408 | 500..=599, _) => ChannelError::Transient {
            reason: format!("Teams answered {status}{with_code}"),
            status: Some(code_num),
            retry_after,
        },
        // 400 TriggerInputSchemaMismatch and other refusals of this message.
        (400..=499, _) => ChannelError::Rejected {
            reason: format!("Teams answered {status}{with_code}"),
            status: Some(code_num),
        },
        // Redirects (not followed), and anything else.
        _ => http::error_for_status(status, headers),
    }
}

#[async_trait]
impl Channel for TeamsChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("teams")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let url = self.hooks.get(&delivery.target)?;
        let body = payload(delivery)?;
        if body.len() > self.max_payload {
            return Err(ChannelError::Rejected {
                reason: format!(
                    "the Teams card is {} bytes, over the {}-byte ceiling; not sent",
                    body.len(),
                    self.max_payload
                ),
                status: None,
            });
        }
        let request = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let response = http::send(request, url, self.timeout).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let answer = http::body_text(response).await;
        if status.is_success() && !answer.contains(THROTTLED) {
            return Ok(Receipt::new(crate::clock::now()).with_status(status.as_u16()));
        }
        Err(map_error(status, &headers, &answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    fn map(status: u16, body: &str) -> ChannelError {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        map_error(StatusCode::from_u16(status).unwrap(), &h, body)
    }

    #[test]
    fn answers_map_to_what_to_do_next() {
        let seven = Some(Duration::from_secs(7));
        // Teams' throttling text, as recorded by integrators (with a 200).
        let throttled = "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tID=1234,MsgId=5678.";
        assert_eq!(
            map(200, throttled),
            ChannelError::RateLimited { retry_after: seven }
        );
        assert!(matches!(
            map(400, throttled),
            ChannelError::RateLimited { .. }
        ));
        assert_eq!(
            map(429, ""),
            ChannelError::RateLimited { retry_after: seven }
        );
        // Logic Apps error bodies.
        let e = map(
            400,
            r#"{"error":{"code":"TriggerInputSchemaMismatch","message":"The input body for trigger 'manual' of type 'Request' did not match its schema definition."}}"#,
        );
        assert!(matches!(
            e,
            ChannelError::Rejected {
                status: Some(400),
                ..
            }
        ));
        assert!(e.to_string().contains("TriggerInputSchemaMismatch"), "{e}");
        assert!(!e.to_string().contains("schema definition"), "{e}");
        for (status, body) in [
            (
                401,
                r#"{"error":{"code":"DirectApiInvalidAuthorizationSignature","message":"The provided authorization signature is not valid."}}"#,
            ),
            (
                401,
                r#"{"error":{"code":"DirectApiAuthorizationRequired","message":"The request must be authenticated only by Shared Access scheme."}}"#,
            ),
            (
                404,
                r#"{"error":{"code":"WorkflowNotFound","message":"The workflow could not be found."}}"#,
            ),
            (
                409,
                r#"{"error":{"code":"WorkflowTriggerIsNotEnabled","message":"Could not execute workflow '8f08' trigger 'manual' with state 'Suspended': trigger is not enabled."}}"#,
            ),
            (403, ""),
            (404, ""),
        ] {
            let e = map(status, body);
            assert!(matches!(e, ChannelError::Config { .. }), "{status}: {e}");
            assert!(!e.to_string().contains("8f08"), "{e}");
        }
        assert!(matches!(
            map(413, "<html>too large</html>"),
            ChannelError::Rejected {
                status: Some(413),
                ..
            }
        ));
        for status in [408, 500, 502, 503, 504] {
            let e = map(status, "<html>Bad gateway</html>");
            assert!(e.is_retryable(), "{status}");
            assert_eq!(e.retry_after(), seven);
        }
        assert!(!map(301, "").is_retryable());
        let e = map(400, r#"{"error":{"code":"<script>alert(1)</script>"}}"#);
        assert!(!e.to_string().contains('<'), "{e}");
    }

    #[test]
    fn the_envelope_fits_its_allowance() {
        let bytes = serde_json::to_vec(&card(
            String::new(),
            String::new(),
            "Investigating",
            "Critical",
            "",
        ))
        .unwrap();
        assert!(bytes.len() <= ENVELOPE, "{}", bytes.len());
    }

    #[test]
    fn json_length_is_what_serde_writes() {
        for s in [
            "plain",
            "quo\"te back\\slash",
            "new\nline\ttab\r\u{8}\u{c}",
            "ctl\u{1}\u{1f}\u{7f}",
            "Ünïcödé 👩‍👩‍👧 \u{2028}",
        ] {
            let written = serde_json::to_string(s).unwrap();
            assert_eq!(json_len(s), written.len() - 2, "{s:?}");
        }
    }

    #[test]
    fn long_titles_are_shortened_within_budget() {
        let title = "\"<]( ".repeat(1_000);
        let t = card_title(&title);
        assert!(json_len(&t) <= TITLE_BUDGET);
        assert!(t.ends_with(ELLIPSIS));
        assert_eq!(card_title("[Identified] API"), "[Identified] API");
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_secrets() {
        assert!(TeamsChannel::workflows().build().is_err());
        let err = TeamsChannel::workflows()
            .webhook("a", "http://prod-1.logic.azure.com/workflows/x?sig=SECRET")
            .build()
            .unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
        assert!(
            TeamsChannel::workflows()
                .webhook("a", "https://prod-1.logic.azure.com/x")
                .webhook("a", "https://prod-1.logic.azure.com/y")
                .build()
                .is_err()
        );
        assert!(
            TeamsChannel::workflows()
                .webhook("a", "https://prod-1.logic.azure.com/x")
                .max_payload_bytes(40_000)
                .build()
                .is_err()
        );
        assert!(
            TeamsChannel::workflows()
                .webhook("a", "https://prod-1.logic.azure.com/x")
                .timeout(Duration::ZERO)
                .build()
                .is_err()
        );
        let builder = TeamsChannel::workflows()
            .webhook("a", "https://prod-1.logic.azure.com/workflows/x?sig=SECRET");
        assert!(!format!("{builder:?}").contains("SECRET"));
        let ch = builder.build().unwrap();
        assert!(!format!("{ch:?}").contains("SECRET"));
        assert!(!ch.limits().threads);
        assert_eq!(
            ch.limits().text.unwrap().max,
            DEFAULT_MAX_PAYLOAD - ENVELOPE - TITLE_BUDGET
        );
    }
}
