//! Discord, through webhooks ("Execute Webhook"): each target is the name of a
//! webhook URL, optionally posting into a thread of its channel.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::channel::chat::discord::{DiscordChannel, DiscordWebhook};
//!
//! // Targets are the names you give each webhook URL (Server Settings →
//! // Integrations → Webhooks → Copy Webhook URL). The URLs are secrets.
//! let discord = DiscordChannel::builder()
//!     .webhook("incidents", "https://discord.com/api/webhooks/1234567890/your-webhook-token")
//!     .webhook(
//!         "ops-thread",
//!         DiscordWebhook::new("https://discord.com/api/webhooks/1234567890/your-webhook-token")
//!             .thread_id("1180000000000000000") // post into this thread of the channel
//!             .username("Status"),              // shown instead of the webhook's name
//!     )
//!     .build()?;
//! # let _ = discord; Ok(()) }
//! ```
//!
//! Each message is `POST {webhook_url}?wait=true` (plus `&thread_id=…` when the
//! webhook has one) with `{"content": …, "allowed_mentions": {"parse": []}}`:
//! Discord answers with the message, whose id the receipt keeps. Webhooks
//! cannot reply to a message, so the channel does not thread (a configured
//! `thread_id` is where every message goes, not a reply).
//!
//! Text is Discord Markdown, laid out by [`DiscordFormat`]: user text is
//! escaped with [`markdown`], so it can neither format, link nor mention (and
//! `allowed_mentions` pings nobody even if it did); the link to the status
//! page is a masked link, `[View status page](url)`. The channel's limit is
//! Discord's 2,000 characters ([`MAX_CONTENT`]), measured on exactly the
//! `content` sent, in Unicode code points: Discord's reference says
//! "characters" without saying how they are counted; a Discord engineer
//! stated that the API, written in Python 3, counts code points
//! (discord/discord-api-docs#1315, 2020). Not confirmed by the reference
//! itself.
//!
//! Rate: by default 5 messages per 2 seconds per webhook (Discord buckets
//! webhooks by id and token and tells the current quota in `X-RateLimit-*`
//! headers; a per-channel limit of about 30 webhook messages a minute is
//! reported by users). A 429 is a rate limit whose delay is the body's
//! `retry_after` (seconds, fractional), else `Retry-After`, else
//! `X-RateLimit-Reset-After`.
//!
//! Errors: 5xx are transient; 401 (bad webhook token) and
//! 404 (webhook deleted) are permanent, and Discord asks not to call such a
//! webhook again, so the webhook is disabled for the life of the channel;
//! other 4xx are permanent rejections.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::channel::http::{self, HttpOptions};
use crate::channel::named::Named;
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, RateLimit,
    RateLimitScope, Receipt,
};
use crate::render::markup::markdown;
use crate::render::{Format, Pieces, TextLimit};

/// Discord's limit on a message's `content`, in characters (Unicode code
/// points, as Discord counts them: see the [module docs](self)).
pub const MAX_CONTENT: usize = 2_000;

/// The link, as rendered after the text: `\n[View status page](url)`.
const LINK_OPEN: &str = "[View status page](";

/// The longest `username` Discord takes.
const MAX_USERNAME: usize = 80;

/// Discord Markdown: the text before the link (title, body, part number,
/// next-update line) escaped with [`markdown`], so that it can neither
/// format, link nor mention, then the link on its own line as a masked link,
/// `[View status page](url)`, with `(` and `)` in the URL percent-encoded so
/// that they cannot end it early. The channel's limit ([`MAX_CONTENT`]
/// characters) is measured on this, exactly: it is the `content` sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiscordFormat;

impl Format for DiscordFormat {
    fn layout(&self, pieces: &Pieces<'_>) -> String {
        let text = markdown(pieces.text_before_link().trim_end());
        // A parsed URL has no spaces or `<>`; `(` and `)` would end the link
        // early.
        let url = pieces.link.replace('(', "%28").replace(')', "%29");
        if text.is_empty() {
            format!("{LINK_OPEN}{url})")
        } else {
            format!("{text}\n{LINK_OPEN}{url})")
        }
    }
}

/// One Discord webhook: its URL (a secret: it holds the webhook's token), and
/// optionally a thread to post into and a username to post as.
#[must_use]
#[derive(Clone)]
pub struct DiscordWebhook {
    url: String,
    thread_id: Option<String>,
    username: Option<String>,
}

impl DiscordWebhook {
    /// A webhook URL, `https://discord.com/api/webhooks/{id}/{token}`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            thread_id: None,
            username: None,
        }
    }

    /// Posts into this thread of the webhook's channel (`?thread_id=`); a
    /// thread's id is a number (a snowflake). Forum and media channels need one.
    pub fn thread_id(mut self, id: impl Into<String>) -> Self {
        self.thread_id = Some(id.into());
        self
    }

    /// Posts under this name instead of the webhook's own (1 to 80
    /// characters; Discord refuses some names, such as ones containing
    /// "discord").
    pub fn username(mut self, name: impl Into<String>) -> Self {
        self.username = Some(name.into());
        self
    }
}

impl From<&str> for DiscordWebhook {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<String> for DiscordWebhook {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

impl fmt::Debug for DiscordWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordWebhook")
            .field("url", &"<redacted>")
            .field("thread_id", &self.thread_id)
            .field("username", &self.username)
            .finish()
    }
}

/// A configured webhook, checked.
struct Hook {
    /// The URL to post to, with `wait=true` (and `thread_id`) in its query.
    url: Url,
    thread: bool,
    username: Option<String>,
    /// Set once Discord answered 401 or 404: the webhook is not called again.
    disabled: AtomicBool,
}

/// Posts to Discord webhooks. See the [module docs](self).
pub struct DiscordChannel {
    hooks: Named<Hook>,
    client: reqwest::Client,
    timeout: Duration,
    limits: ChannelLimits,
}

impl fmt::Debug for DiscordChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .hooks
            .sorted()
            .into_iter()
            .map(|(n, hook)| {
                if hook.thread {
                    format!("{n} (thread)")
                } else {
                    n.to_owned()
                }
            })
            .collect();
        f.debug_struct("DiscordChannel")
            .field("webhooks", &names)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`DiscordChannel`]; every check happens in [`build`](Self::build).
#[must_use]
pub struct DiscordChannelBuilder {
    webhooks: Vec<(String, DiscordWebhook)>,
    http: HttpOptions,
    per_target_rate: Option<RateLimit>,
}

impl fmt::Debug for DiscordChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordChannelBuilder")
            .field(
                "webhooks",
                &self.webhooks.iter().map(|w| &w.0).collect::<Vec<_>>(),
            )
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl DiscordChannel {
    /// A builder; add at least one [`webhook`](DiscordChannelBuilder::webhook).
    pub fn builder() -> DiscordChannelBuilder {
        DiscordChannelBuilder {
            webhooks: Vec::new(),
            http: HttpOptions::new(),
            per_target_rate: None,
        }
    }
}

impl DiscordChannelBuilder {
    /// Adds a webhook: the route target `name` posts to it. Takes a URL or a
    /// [`DiscordWebhook`] with a thread or username.
    pub fn webhook(mut self, name: impl Into<String>, webhook: impl Into<DiscordWebhook>) -> Self {
        self.webhooks.push((name.into(), webhook.into()));
        self
    }

    /// How requests are made: timeouts, `User-Agent`, a proxy, or a client
    /// of your own (default [`HttpOptions::new`]).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// Messages to each route target, a webhook (default 5 per 2 seconds).
    pub fn per_target_rate(mut self, rate: RateLimit) -> Self {
        self.per_target_rate = Some(rate);
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<DiscordChannel, BuildError> {
        let hooks = Named::build("Discord webhook", self.webhooks, check_webhook)?;
        let rate = match self.per_target_rate {
            Some(rate) => rate,
            None => RateLimit::new(5, Duration::from_secs(2))
                .map_err(|e| BuildError::setting("Discord default rate", e.to_string()))?,
        };
        let limits = ChannelLimits::new()
            // Rate limits are per webhook / per chat channel.
            .with_rate_limit_scope(RateLimitScope::Target)
            // Code points, as Discord counts (see the module docs), on the
            // content exactly as sent.
            .with_text(TextLimit::chars(MAX_CONTENT))
            .with_per_target_rate(rate);
        let client = http::client(&self.http)?;
        Ok(DiscordChannel {
            hooks,
            client,
            timeout: self.http.request_timeout(),
            limits,
        })
    }
}

/// Checks one webhook, `label` in errors; they never contain the URL.
fn check_webhook(label: &str, hook: DiscordWebhook) -> Result<Hook, BuildError> {
    let mut url = http::url_setting(&hook.url, false, label)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(BuildError::url(
            label,
            "the URL must have no query or fragment (set a thread with DiscordWebhook::thread_id)",
        ));
    }
    let path = url.path().trim_end_matches('/');
    if path.ends_with("/slack") || path.ends_with("/github") {
        return Err(BuildError::url(
            label,
            "this is a Slack- or GitHub-compatible endpoint; use the plain webhook URL",
        ));
    }
    if let Some(id) = &hook.thread_id
        && (id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(BuildError::setting(
            format!("{label} thread id"),
            format!("{id:?} is not a Discord id (digits)"),
        ));
    }
    if let Some(name) = &hook.username {
        let n = name.chars().count();
        if name.trim().is_empty() || n > MAX_USERNAME || name.chars().any(char::is_control) {
            return Err(BuildError::setting(
                format!("{label} username"),
                format!(
                    "it must be 1 to {MAX_USERNAME} characters, not blank, without control characters"
                ),
            ));
        }
    }
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("wait", "true");
        if let Some(id) = &hook.thread_id {
            query.append_pair("thread_id", id);
        }
    }
    Ok(Hook {
        url,
        thread: hook.thread_id.is_some(),
        username: hook.username,
        disabled: AtomicBool::new(false),
    })
}

#[derive(Serialize)]
struct ExecuteWebhook<'a> {
    content: &'a str,
    allowed_mentions: AllowedMentions,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
}

/// `{"parse": []}`: the message pings nobody, whatever its text.
#[derive(Serialize)]
struct AllowedMentions {
    parse: [&'static str; 0],
}

/// The part of the Message object (`?wait=true`) the receipt keeps.
#[derive(Deserialize)]
struct MessageAnswer {
    id: String,
}

/// Discord's JSON error body: `{"message": …, "code": …}`, and on 429
/// `{"message": …, "retry_after": …, "global": …}`. Only these fields are read.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<u64>,
    #[serde(default)]
    retry_after: Option<f64>,
    #[serde(default)]
    global: Option<bool>,
    #[serde(default)]
    errors: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Discord's JSON error code for a deleted webhook.
const UNKNOWN_WEBHOOK: u64 = 10015;

/// Maps Discord's answer to a failed execute (its status, headers and body)
/// to what to do next. Only known fields of the JSON body are kept, sanitized;
/// the body is never copied into the error.
fn map_error(status: StatusCode, headers: &HeaderMap, body: &str, target: &str) -> ChannelError {
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let code = status.as_u16();
    match code {
        // Rate limits: "rely on the Retry-After header or retry_after field";
        // the body's `retry_after` is in seconds with decimals. A Cloudflare
        // ban answers 429 without Discord's JSON: the headers still say when.
        429 => {
            let global = parsed.global == Some(true)
                || header_str(headers, "x-ratelimit-global") == Some("true");
            if global {
                tracing::warn!(
                    scope = header_str(headers, "x-ratelimit-scope").unwrap_or("global"),
                    "Discord global rate limit"
                );
            }
            ChannelError::RateLimited {
                retry_after: rate_limit_delay(parsed.retry_after, headers, SystemTime::now()),
            }
        }
        // 401: the webhook token in the URL is wrong (code 50027, "Invalid
        // Webhook Token"). Discord counts repeated 401s towards its
        // invalid-request ban: the webhook is disabled.
        401 => ChannelError::Config {
            reason: format!(
                "Discord refused the token of webhook {target:?} (401{}); it is disabled, configure its URL again",
                describe(&parsed)
            ),
        },
        // 404: "If a webhook returns a 404 status you should not attempt to
        // use it again": the webhook was deleted (code 10015, "Unknown
        // Webhook"), or its thread is gone (10003, "Unknown Channel"). Only
        // this target is affected; it is disabled.
        404 => ChannelError::InvalidTarget {
            target: target.to_owned(),
            reason: match parsed.code {
                Some(UNKNOWN_WEBHOOK) | None => format!(
                    "Discord answered 404{}: the webhook was deleted; it is disabled, configure a new URL",
                    describe(&parsed)
                ),
                Some(_) => format!(
                    "Discord answered 404{}: the webhook or its thread is gone; it is disabled",
                    describe(&parsed)
                ),
            },
        },
        // 403: missing permission (e.g. a locked thread); the same request
        // will fail again.
        403 => ChannelError::Rejected {
            reason: format!("Discord forbids this post (403{})", describe(&parsed)),
            status: Some(code),
        },
        // 5xx (and 408): Discord or Cloudflare failed; retry, after
        // `Retry-After` when given.
        408 | 500..=599 => http::error_for_status(status, headers),
        // 400 (e.g. 50035 "Invalid Form Body", 50006 "Cannot send an empty
        // message") and other 4xx: this message will never pass.
        400..=499 => ChannelError::Rejected {
            reason: format!("Discord answered {status}{}", describe(&parsed)),
            status: Some(code),
        },
        // Redirects (not followed) and anything else: the general rules.
        _ => http::error_for_status(status, headers),
    }
}

/// Whether Discord asks never to call a webhook again after this status.
fn disables(status: StatusCode) -> bool {
    matches!(status.as_u16(), 401 | 404)
}

/// The delay of a 429: the body's `retry_after` (seconds, fractional), else
/// `Retry-After`, else `X-RateLimit-Reset-After`.
///
/// Older API versions (which unversioned webhook URLs may still get) gave
/// `retry_after` in milliseconds: a body value about 1,000 times the
/// `Retry-After` header is read as milliseconds.
fn rate_limit_delay(
    body_secs: Option<f64>,
    headers: &HeaderMap,
    now: SystemTime,
) -> Option<Duration> {
    const MAX: f64 = 86_400.0;
    let header = http::retry_after(headers, now);
    let body = body_secs.filter(|s| s.is_finite() && *s >= 0.0);
    match (body, header) {
        (Some(b), Some(h))
            if b > h.as_secs_f64() + 1.0 && (b / 1000.0 - h.as_secs_f64()).abs() <= 1.0 =>
        {
            Some(Duration::from_secs_f64((b / 1000.0).min(MAX)))
        }
        (Some(b), _) => Some(Duration::from_secs_f64(b.min(MAX))),
        (None, Some(h)) => Some(h),
        (None, None) => header_str(headers, "x-ratelimit-reset-after")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(MAX))),
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// ` "Unknown Webhook", code 10015` from the known fields of an error body:
/// the message cut to 80 letters, digits and plain punctuation, the numeric
/// code, and for an invalid form the names of the refused fields.
fn describe(body: &ErrorBody) -> String {
    let mut out = String::new();
    if let Some(message) = body.message.as_deref() {
        let clean: String = message
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || " .,:'-".contains(*c))
            .take(80)
            .collect();
        let clean = clean.trim();
        if !clean.is_empty() {
            out.push_str(": ");
            out.push_str(clean);
        }
    }
    if let Some(code) = body.code {
        out.push_str(&format!(" (code {code})"));
    }
    if let Some(errors) = &body.errors {
        let fields: Vec<String> = errors
            .keys()
            .take(3)
            .map(|k| {
                k.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(32)
                    .collect()
            })
            .collect();
        if !fields.is_empty() {
            out.push_str(&format!(" in {}", fields.join(", ")));
        }
    }
    out
}

#[async_trait]
impl Channel for DiscordChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("discord")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    fn format(&self) -> &dyn Format {
        &DiscordFormat
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let name = delivery.target.as_str();
        let hook = self.hooks.get(&delivery.target)?;
        if hook.disabled.load(Ordering::Relaxed) {
            return Err(ChannelError::InvalidTarget {
                target: name.to_owned(),
                reason: "Discord answered 401 or 404 earlier; the webhook is disabled".into(),
            });
        }
        let body = ExecuteWebhook {
            content: &delivery.text,
            allowed_mentions: AllowedMentions { parse: [] },
            username: hook.username.as_deref(),
        };
        let request = self.client.post(hook.url.clone()).json(&body);
        let response = http::send(request, &hook.url, self.timeout).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = http::body_text(response).await;
        if status.is_success() {
            let mut receipt = Receipt::new(crate::clock::now()).with_status(status.as_u16());
            match serde_json::from_str::<MessageAnswer>(&text) {
                Ok(message) => receipt = receipt.with_message_ref(MessageRef::new(message.id)),
                // Delivered all the same; sending again would post twice.
                Err(_) => tracing::warn!(
                    key = %delivery.key,
                    "Discord accepted the message but returned no message id"
                ),
            }
            return Ok(receipt);
        }
        if disables(status) {
            hook.disabled.store(true, Ordering::Relaxed);
        }
        Err(map_error(status, &headers, &text, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn map(status: u16, h: &HeaderMap, body: &str) -> ChannelError {
        map_error(StatusCode::from_u16(status).unwrap(), h, body, "ops")
    }

    #[test]
    fn rate_limits_take_the_bodys_fractional_delay() {
        // Recorded from Discord's rate-limit documentation.
        let h = headers(&[
            ("retry-after", "65"),
            ("x-ratelimit-limit", "10"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset-after", "64.57"),
            ("x-ratelimit-scope", "user"),
        ]);
        let body =
            r#"{"message": "You are being rate limited.", "retry_after": 64.57, "global": false}"#;
        assert_eq!(
            map(429, &h, body),
            ChannelError::RateLimited {
                retry_after: Some(Duration::from_secs_f64(64.57))
            }
        );
        let global = headers(&[
            ("retry-after", "65"),
            ("x-ratelimit-global", "true"),
            ("x-ratelimit-scope", "global"),
        ]);
        let body =
            r#"{"message": "You are being rate limited.", "retry_after": 64.57, "global": true}"#;
        assert_eq!(
            map(429, &global, body).retry_after(),
            Some(Duration::from_secs_f64(64.57))
        );
        let shared = r#"{"message": "The resource is being rate limited.", "retry_after": 1336.57, "global": false}"#;
        assert_eq!(
            map(429, &headers(&[("retry-after", "1337")]), shared).retry_after(),
            Some(Duration::from_secs_f64(1336.57))
        );
    }

    #[test]
    fn rate_limits_fall_back_to_the_headers() {
        // A Cloudflare ban: HTML, no JSON.
        let h = headers(&[("retry-after", "7")]);
        assert_eq!(
            map(429, &h, "<html>error code: 1015</html>").retry_after(),
            Some(Duration::from_secs(7))
        );
        let h = headers(&[("x-ratelimit-reset-after", "1.5")]);
        assert_eq!(
            map(429, &h, "").retry_after(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            map(429, &HeaderMap::new(), ""),
            ChannelError::RateLimited { retry_after: None }
        );
        // Old API versions: milliseconds in the body, seconds in the header.
        let h = headers(&[("retry-after", "5")]);
        let old =
            r#"{"message": "You are being rate limited.", "retry_after": 4543, "global": false}"#;
        assert_eq!(
            map(429, &h, old).retry_after(),
            Some(Duration::from_secs_f64(4.543))
        );
    }

    #[test]
    fn failures_map_to_what_to_do_next() {
        let h = HeaderMap::new();
        let e = map(404, &h, r#"{"message": "Unknown Webhook", "code": 10015}"#);
        assert!(matches!(e, ChannelError::InvalidTarget { .. }), "{e}");
        assert!(
            e.to_string().contains("Unknown Webhook (code 10015)"),
            "{e}"
        );
        assert!(e.to_string().contains("deleted"), "{e}");
        let e = map(
            401,
            &h,
            r#"{"message": "Invalid Webhook Token", "code": 50027}"#,
        );
        assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        assert!(e.to_string().contains("50027"), "{e}");
        let e = map(
            403,
            &h,
            r#"{"message": "Missing Permissions", "code": 50013}"#,
        );
        assert!(
            matches!(
                e,
                ChannelError::Rejected {
                    status: Some(403),
                    ..
                }
            ),
            "{e}"
        );
        let e = map(
            400,
            &h,
            r#"{"message": "Invalid Form Body", "code": 50035, "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}}"#,
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
        assert!(
            e.to_string()
                .contains("Invalid Form Body (code 50035) in content"),
            "{e}"
        );
        for status in [500, 502, 503, 504] {
            let e = map(
                status,
                &headers(&[("retry-after", "2")]),
                "<html>bad gateway</html>",
            );
            assert!(e.is_retryable(), "{e}");
            assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
            assert!(!e.to_string().contains("html"), "{e}");
        }
        // Whatever the body says, only sanitized known fields reach the error.
        let e = map(
            400,
            &h,
            r#"{"message": "<script>https://evil/?token=abc</script>", "code": 1}"#,
        );
        assert!(
            !e.to_string().contains('<') && !e.to_string().contains('/'),
            "{e}"
        );
        assert!(disables(StatusCode::NOT_FOUND) && disables(StatusCode::UNAUTHORIZED));
        assert!(!disables(StatusCode::FORBIDDEN) && !disables(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn the_format_escapes_the_text_and_masks_the_link() {
        let pieces = Pieces {
            title: "[Investigating] **API** <@123>",
            body: "@everyone [x](https://evil) # h",
            part: Some((1, 2)),
            next_update: None,
            link: "https://status.example.com/incidents/(inc)_7",
        };
        let z = '\u{200B}';
        assert_eq!(
            DiscordFormat.layout(&pieces),
            format!(
                "\\[Investigating\\] \\*\\*API\\*\\* \\<@{z}123>\n\n@{z}everyone \\[x\\](https://evil) # h (1/2)\n[View status page](https://status.example.com/incidents/%28inc%29_7)"
            )
        );
        let bare = Pieces {
            title: "",
            body: "",
            part: None,
            ..pieces
        };
        assert_eq!(
            DiscordFormat.layout(&bare),
            "[View status page](https://status.example.com/incidents/%28inc%29_7)"
        );
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_secrets() {
        let url = "https://discord.com/api/webhooks/123/SECRET";
        assert!(DiscordChannel::builder().build().is_err());
        assert!(DiscordChannel::builder().webhook("", url).build().is_err());
        assert!(
            DiscordChannel::builder()
                .webhook("a", url)
                .webhook("a", url)
                .build()
                .is_err()
        );
        assert!(matches!(
            DiscordChannel::builder()
                .webhook("a", url)
                .http(HttpOptions::new().timeout(Duration::ZERO))
                .build()
                .unwrap_err(),
            BuildError::InvalidSetting { .. }
        ));
        for bad in [
            DiscordWebhook::new(format!("{url}?wait=false")),
            DiscordWebhook::new(format!("{url}/slack")),
            DiscordWebhook::new(url).thread_id("abc"),
            DiscordWebhook::new(url).thread_id(""),
            DiscordWebhook::new(url).username(" "),
            DiscordWebhook::new(url).username("x".repeat(81)),
            DiscordWebhook::new("http://discord.com/api/webhooks/123/SECRET"),
            DiscordWebhook::new("not a url SECRET"),
        ] {
            let err = DiscordChannel::builder()
                .webhook("a", bad)
                .build()
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    BuildError::InvalidUrl { .. } | BuildError::InvalidSetting { .. }
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains(r#"Discord webhook "a""#), "{err}");
            assert!(!err.to_string().contains("SECRET"), "{err}");
        }
        let hook = DiscordWebhook::new(url).thread_id("1180000000000000000");
        assert!(!format!("{hook:?}").contains("SECRET"));
        let builder = DiscordChannel::builder().webhook("a", hook);
        assert!(!format!("{builder:?}").contains("SECRET"));
        let ch = builder.build().unwrap();
        let dbg = format!("{ch:?}");
        assert!(
            !dbg.contains("SECRET") && dbg.contains("a (thread)"),
            "{dbg}"
        );
        assert!(!ch.limits().threads);
        assert_eq!(ch.limits().text, Some(TextLimit::chars(MAX_CONTENT)));
        assert_eq!(
            ch.limits().per_target_rate,
            Some(RateLimit::new(5, Duration::from_secs(2)).unwrap())
        );
        let hook = ch
            .hooks
            .get(&crate::audience::Target::new("a").unwrap())
            .unwrap();
        assert_eq!(
            hook.url.query(),
            Some("wait=true&thread_id=1180000000000000000")
        );
    }
}
