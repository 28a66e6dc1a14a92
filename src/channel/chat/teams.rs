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
//! let teams = TeamsChannel::builder()
//!     .webhook(
//!         "incidents",
//!         "https://prod-00.westeurope.logic.azure.com/workflows/ID/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SIGNATURE",
//!     )
//!     .build()?;
//! # let _ = teams; Ok(()) }
//! ```
//!
//! The card, laid out by [`TeamsFormat`], shows the message's title in bold,
//! the message (its body, part number and next-update line), and an "Open
//! status page" button carrying the link to the source of truth: what the
//! templates rendered for the audience, as every other channel shows it. It
//! is posted in the envelope the Workflows template expects
//! (`{"type":"message","attachments":[…]}`, Adaptive Card version 1.4). A
//! message split into parts has its title in the first card only.
//!
//! Text is Adaptive Card Markdown, escaped with
//! [`markup::adaptive_card`](crate::render::markup::adaptive_card): Teams
//! clients do not honour backslash escapes alike, so a zero-width space breaks
//! `[text](url)` links, `<…>` autolinks and tags, and entities instead. A card
//! cannot mention anyone without declaring the mention in `msteams.entities`,
//! which tidings never does.
//!
//! Size: Microsoft limits the whole JSON payload ("The message size limit is
//! 28 KB"; whether a KB is 1,000 or 1,024 bytes is not said, so
//! [`MICROSOFT_MAX_PAYLOAD`] takes 28,000), and cards have been seen refused
//! from about 21 KB (third-party report, unconfirmed). The format's layout
//! is the payload itself, so the channel's limit is the payload ceiling in
//! UTF-8 bytes, measured on exactly the JSON posted: [`DEFAULT_MAX_PAYLOAD`]
//! by default, configurable up to Microsoft's limit. A delivery over the
//! ceiling (not fitted by the dispatcher) is refused without being sent.
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
//! for good.
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
use serde::de::IgnoredAny;
use url::Url;

use crate::channel::http::{self, HttpOptions};
use crate::channel::named::Named;
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, RateLimit,
    RateLimitScope, Receipt,
};
use crate::render::markup::adaptive_card;
use crate::render::{Format, Pieces, TextLimit};

/// Microsoft's limit on a webhook message, in bytes of JSON: "The message
/// size limit is 28 KB."
pub const MICROSOFT_MAX_PAYLOAD: usize = 28_000;

/// The default ceiling on the whole JSON payload, in bytes: below the ~21 KB
/// from which Teams has been seen refusing cards in practice.
pub const DEFAULT_MAX_PAYLOAD: usize = 20_000;

/// What Teams answers, in the body and whatever the status, when it throttles
/// ("Connectors do not throw 429s").
const THROTTLED: &str = "Microsoft Teams endpoint returned HTTP error 429";

/// The button's label.
const BUTTON: &str = "Open status page";

/// The smallest payload ceiling allowed: room for the card's envelope
/// (about 350 bytes), a long link (the button's URL) and some text.
const MIN_PAYLOAD: usize = 3_000;

/// The Adaptive Card, as the JSON payload posted (envelope included): the
/// title in a bold text block, the rest of the text before the link (body,
/// part number, next-update line) in a second text block, both escaped with
/// [`markup::adaptive_card`](crate::render::markup::adaptive_card) so that
/// they can neither link nor mention, and the link as the URL of the "Open
/// status page" button (`Action.OpenUrl`). An empty title or text has no
/// block. The channel's limit (the payload ceiling, in bytes) is measured on
/// this, exactly: it is the request body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TeamsFormat;

impl Format for TeamsFormat {
    fn layout(&self, pieces: &Pieces<'_>) -> String {
        let text = Pieces {
            title: "",
            ..*pieces
        }
        .text_before_link();
        let message = card(
            adaptive_card(pieces.title),
            adaptive_card(text.trim()),
            pieces.link,
        );
        // Strings, booleans and options always serialize; were it ever to
        // fail, the empty text is refused by `send` as no card.
        serde_json::to_string(&message).unwrap_or_default()
    }
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
    http: HttpOptions,
    per_target_rate: RateLimit,
    max_payload: usize,
}

impl fmt::Debug for TeamsChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamsChannelBuilder")
            .field(
                "webhooks",
                &self.webhooks.iter().map(|w| &w.0).collect::<Vec<_>>(),
            )
            .field("http", &self.http)
            .field("max_payload", &self.max_payload)
            .finish_non_exhaustive()
    }
}

impl TeamsChannel {
    /// A builder for Workflows webhooks; add at least one
    /// [`webhook`](TeamsChannelBuilder::webhook). Targets are the names given
    /// to each URL.
    pub fn builder() -> TeamsChannelBuilder {
        TeamsChannelBuilder {
            webhooks: Vec::new(),
            http: HttpOptions::new(),
            per_target_rate: RateLimit::per_second(NonZeroU32::MIN),
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

    /// How requests are made: timeouts, `User-Agent`, a proxy, or a client
    /// of your own (default [`HttpOptions::new`]).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// Messages to each route target, a workflow webhook (default one per
    /// second).
    pub fn per_target_rate(mut self, rate: RateLimit) -> Self {
        self.per_target_rate = rate;
        self
    }

    /// The ceiling on the whole JSON payload, in bytes (default
    /// [`DEFAULT_MAX_PAYLOAD`]; at most [`MICROSOFT_MAX_PAYLOAD`]).
    pub fn max_payload_bytes(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<TeamsChannel, BuildError> {
        if !(MIN_PAYLOAD..=MICROSOFT_MAX_PAYLOAD).contains(&self.max_payload) {
            return Err(BuildError::setting(
                "Teams max_payload_bytes",
                format!("it must be between {MIN_PAYLOAD} and {MICROSOFT_MAX_PAYLOAD} bytes"),
            ));
        }
        let hooks = Named::build("Teams webhook", self.webhooks, |label, url: String| {
            http::url_setting(&url, false, label)
        })?;
        let limits = ChannelLimits::new()
            // Rate limits are per webhook / per chat channel.
            .with_rate_limit_scope(RateLimitScope::Target)
            // The layout is the payload: its bytes are what Microsoft limits.
            .with_text(TextLimit::bytes(self.max_payload))
            .with_per_target_rate(self.per_target_rate);
        let client = http::client(&self.http)?;
        Ok(TeamsChannel {
            hooks,
            client,
            timeout: self.http.request_timeout(),
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
}

#[derive(Serialize)]
struct OpenUrl<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    url: &'a str,
}

/// The card: `title` and `text` (escaped already) and a button to `link`.
fn card(title: String, text: String, link: &str) -> Message<'_> {
    let mut body = Vec::with_capacity(2);
    if !title.is_empty() {
        body.push(Element::TextBlock {
            text: title,
            size: Some("Medium"),
            weight: Some("Bolder"),
            wrap: true,
        });
    }
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
fn map_error(status: StatusCode, headers: &HeaderMap, body: &str) -> ChannelError {
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

    fn format(&self) -> &dyn Format {
        &TeamsFormat
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let url = self.hooks.get(&delivery.target)?;
        // The text is the card laid out by `TeamsFormat` and fitted to the
        // ceiling; a delivery that was not (built by hand) is refused here
        // rather than by the flow.
        let body = &delivery.text;
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
        if serde_json::from_str::<IgnoredAny>(body).is_err() {
            return Err(ChannelError::Rejected {
                reason: "the text is not a card laid out by TeamsFormat; not sent".into(),
                status: None,
            });
        }
        let request = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
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
    fn the_format_lays_out_the_whole_card() {
        let pieces = Pieces {
            title: "[Identified] [x](https://evil)",
            body: "<at>All</at> \"q\" a&b",
            part: Some((1, 2)),
            next_update: Some("Next update by 14:30 UTC."),
            link: "https://status.example.com/incidents/inc-7",
        };
        let z = '\u{200B}';
        let laid: serde_json::Value = serde_json::from_str(&TeamsFormat.layout(&pieces)).unwrap();
        assert_eq!(
            laid,
            serde_json::json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": format!("[Identified] [x]{z}(https://evil)"), "size": "Medium", "weight": "Bolder", "wrap": true},
                            {"type": "TextBlock", "text": format!("<{z}at>All<{z}/at> \"q\" a&{z}b (1/2)\n\nNext update by 14:30 UTC."), "wrap": true},
                        ],
                        "actions": [{"type": "Action.OpenUrl", "title": BUTTON, "url": pieces.link}],
                    },
                }],
            })
        );
        let later = Pieces {
            title: "",
            ..pieces
        };
        let laid: serde_json::Value = serde_json::from_str(&TeamsFormat.layout(&later)).unwrap();
        let blocks = laid["attachments"][0]["content"]["body"]
            .as_array()
            .unwrap();
        assert_eq!(blocks.len(), 1, "no empty title block");
        let bare = Pieces {
            title: "",
            body: "",
            part: None,
            next_update: None,
            ..pieces
        };
        let envelope = TeamsFormat.layout(&bare);
        assert!(envelope.len() < 400, "{}", envelope.len());
        assert!(envelope.contains(pieces.link));
    }

    #[test]
    fn long_titles_and_bodies_are_cut_within_the_ceiling() {
        let message = crate::render::RenderedMessage {
            title: "\"<]( ".repeat(2_000),
            body: "\"<]( \u{1}".repeat(4_000),
            next_update: Some("Next update by 14:30 UTC.".into()),
        };
        let link = "https://status.example.com/incidents/inc-7";
        for max in [MIN_PAYLOAD, DEFAULT_MAX_PAYLOAD] {
            let limit = TextLimit::bytes(max);
            let fitted = crate::render::fit(
                &message,
                link,
                Some(&limit),
                &TeamsFormat,
                crate::render::Overflow::Shorten,
            )
            .unwrap()
            .remove(0);
            assert!(fitted.text.len() <= max && fitted.text.len() > max - 32);
            let card: serde_json::Value = serde_json::from_str(&fitted.text).unwrap();
            assert_eq!(card["attachments"][0]["content"]["actions"][0]["url"], link);
        }
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_secrets() {
        assert!(TeamsChannel::builder().build().is_err());
        let err = TeamsChannel::builder()
            .webhook("a", "http://prod-1.logic.azure.com/workflows/x?sig=SECRET")
            .build()
            .unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
        assert!(
            TeamsChannel::builder()
                .webhook("a", "https://prod-1.logic.azure.com/x")
                .webhook("a", "https://prod-1.logic.azure.com/y")
                .build()
                .is_err()
        );
        assert!(
            TeamsChannel::builder()
                .webhook("a", "https://prod-1.logic.azure.com/x")
                .max_payload_bytes(40_000)
                .build()
                .is_err()
        );
        assert!(matches!(
            TeamsChannel::builder()
                .webhook("a", "https://prod-1.logic.azure.com/x")
                .http(HttpOptions::new().timeout(Duration::ZERO))
                .build()
                .unwrap_err(),
            BuildError::InvalidSetting { .. }
        ));
        let builder = TeamsChannel::builder()
            .webhook("a", "https://prod-1.logic.azure.com/workflows/x?sig=SECRET");
        assert!(!format!("{builder:?}").contains("SECRET"));
        let ch = builder.build().unwrap();
        assert!(!format!("{ch:?}").contains("SECRET"));
        assert!(!ch.limits().threads);
        assert_eq!(
            ch.limits().text,
            Some(TextLimit::bytes(DEFAULT_MAX_PAYLOAD))
        );
    }
}
