//! Google Chat, through incoming webhooks (one URL per space). Every message
//! about one incident goes to one thread of the space: the request names the
//! thread by a key derived from the incident id (`tidings-<incident id>`)
//! and asks Chat to reply in it, or to start it
//! (`messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::channel::chat::google_chat::GoogleChatChannel;
//!
//! // Targets are the names you give each webhook URL. The URL is a secret: its
//! // `key` and `token` parameters are what let anyone post to the space.
//! let chat = GoogleChatChannel::builder()
//!     .webhook(
//!         "incidents",
//!         "https://chat.googleapis.com/v1/spaces/SPACE/messages?key=KEY&token=TOKEN",
//!     )
//!     .build()?;
//! # let _ = chat; Ok(()) }
//! ```
//!
//! Text is Chat's own markup, laid out by [`GoogleChatFormat`]: user text is
//! escaped with [`markup::google_chat`](crate::render::markup::google_chat)
//! (`<` and `>` become the look-alikes `＜` `＞`, since Chat decodes no
//! entities and documents no escape, so `<users/all>` mentions nobody and
//! `<url|text>` links nowhere), and the link to the status page is rendered
//! as `<url|View status page>`. The channel's limit is 4,096 characters
//! ([`MAX_TEXT`]; Chat refuses longer messages with "Message is longer than
//! 4096 characters", as recorded by integrators), measured on exactly the
//! `text` sent, in UTF-16 code units. How Chat counts its "characters" is
//! not documented (unconfirmed): UTF-16 units are never fewer than code
//! points, so the limit holds whether Chat counts either; it only gives up
//! one unit per character outside the Basic Multilingual Plane (emoji) if
//! Chat counts code points.
//!
//! Rate: Google documents per-space write quotas shared by every app in the
//! space, and further, undisclosed limits for webhooks. The default is one
//! message per second per webhook.
//!
//! Errors (Google's JSON error body: only its `status` is kept): 429 and
//! `RESOURCE_EXHAUSTED` are rate limits; 5xx are transient; 401, 403 and an
//! invalid API key mean the webhook URL is wrong or revoked; 404 means the
//! space is gone; other 4xx (`INVALID_ARGUMENT`) refuse the message for good.

use std::fmt;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::channel::http::{self, HttpOptions};
use crate::channel::named::Named;
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, RateLimit,
    RateLimitScope, Receipt,
};
use crate::render::markup::google_chat;
use crate::render::{Format, LengthUnit, Pieces, TextLimit};

/// The longest text Chat takes ("Message is longer than 4096 characters"),
/// counted here in UTF-16 code units (see the [module docs](self)).
pub const MAX_TEXT: usize = 4_096;

/// How each request asks Chat to thread: reply in the thread named by the
/// key, or start it.
const REPLY_OPTION: &str = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD";

/// The default start of every thread key; the incident id follows.
pub const DEFAULT_THREAD_KEY_PREFIX: &str = "tidings-";

/// Chat allows thread keys of up to 4,000 characters; incident ids take up to
/// 128.
const MAX_PREFIX: usize = 256;

/// The link label, as rendered: `\n<url|View status page>`.
const LINK_LABEL: &str = "|View status page>";

/// Google Chat's markup: the text before the link (title, body, part number,
/// next-update line) escaped with
/// [`markup::google_chat`](crate::render::markup::google_chat), so that it
/// can neither mention nor link, then the link on its own line as
/// `<url|View status page>`, with `|`, `<` and `>` in the URL
/// percent-encoded so that they cannot end it early. The channel's limit
/// ([`MAX_TEXT`] UTF-16 units) is measured on this, exactly: it is the
/// `text` sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GoogleChatFormat;

impl Format for GoogleChatFormat {
    fn layout(&self, pieces: &Pieces<'_>) -> String {
        let text = google_chat(pieces.text_before_link().trim_end());
        // `|` and `>` would end `<url|label>` early.
        let url = pieces
            .link
            .replace('|', "%7C")
            .replace('<', "%3C")
            .replace('>', "%3E");
        if text.is_empty() {
            format!("<{url}{LINK_LABEL}")
        } else {
            format!("{text}\n<{url}{LINK_LABEL}")
        }
    }
}

/// Posts to Google Chat spaces through incoming webhooks. See the
/// [module docs](self).
pub struct GoogleChatChannel {
    hooks: Named<Url>,
    client: reqwest::Client,
    timeout: Duration,
    thread_key_prefix: String,
    limits: ChannelLimits,
}

impl fmt::Debug for GoogleChatChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleChatChannel")
            .field("webhooks", &self.hooks)
            .field("thread_key_prefix", &self.thread_key_prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`GoogleChatChannel`]; every check happens in
/// [`build`](Self::build).
#[must_use]
pub struct GoogleChatChannelBuilder {
    webhooks: Vec<(String, String)>,
    http: HttpOptions,
    per_target_rate: RateLimit,
    thread_key_prefix: String,
}

impl fmt::Debug for GoogleChatChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleChatChannelBuilder")
            .field(
                "webhooks",
                &self.webhooks.iter().map(|w| &w.0).collect::<Vec<_>>(),
            )
            .field("thread_key_prefix", &self.thread_key_prefix)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl GoogleChatChannel {
    /// A builder for incoming webhooks; add at least one
    /// [`webhook`](GoogleChatChannelBuilder::webhook). Targets are the names
    /// given to each URL.
    pub fn builder() -> GoogleChatChannelBuilder {
        GoogleChatChannelBuilder {
            webhooks: Vec::new(),
            http: HttpOptions::new(),
            per_target_rate: RateLimit::per_second(NonZeroU32::MIN),
            thread_key_prefix: DEFAULT_THREAD_KEY_PREFIX.to_owned(),
        }
    }
}

impl GoogleChatChannelBuilder {
    /// Adds a webhook: the route target `name` posts to `url`
    /// (`https://chat.googleapis.com/v1/spaces/…/messages?key=…&token=…`, as
    /// Chat shows it; `messageReplyOption` is added).
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

    /// Messages to each route target, a webhook, that is a space (default
    /// one per second).
    pub fn per_target_rate(mut self, rate: RateLimit) -> Self {
        self.per_target_rate = rate;
        self
    }

    /// The start of every thread key (default
    /// [`DEFAULT_THREAD_KEY_PREFIX`]); the incident id follows. Give each
    /// deployment posting to the same spaces its own.
    pub fn thread_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.thread_key_prefix = prefix.into();
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<GoogleChatChannel, BuildError> {
        let prefix = &self.thread_key_prefix;
        if prefix.chars().count() > MAX_PREFIX || prefix.chars().any(char::is_control) {
            return Err(BuildError::setting(
                "Google Chat thread_key_prefix",
                format!("it must be at most {MAX_PREFIX} characters, without control characters"),
            ));
        }
        let hooks = Named::build("Google Chat webhook", self.webhooks, |label, url| {
            http::url_setting(&url, false, label).map(threaded)
        })?;
        let limits = ChannelLimits::new()
            // Rate limits are per webhook / per chat channel.
            .with_rate_limit_scope(RateLimitScope::Target)
            // UTF-16 units (see the module docs), on the text exactly as sent.
            .with_text(TextLimit::new(MAX_TEXT, LengthUnit::Utf16Units))
            .with_per_target_rate(self.per_target_rate);
        let client = http::client(&self.http)?;
        Ok(GoogleChatChannel {
            hooks,
            client,
            timeout: self.http.request_timeout(),
            thread_key_prefix: self.thread_key_prefix,
            limits,
        })
    }
}

/// The webhook URL with `messageReplyOption` set to [`REPLY_OPTION`]; the
/// other parameters (`key`, `token`) are kept byte for byte.
fn threaded(mut url: Url) -> Url {
    let mut query: String = url
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("messageReplyOption"))
        .collect::<Vec<_>>()
        .join("&");
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str("messageReplyOption=");
    query.push_str(REPLY_OPTION);
    url.set_query(Some(&query));
    url
}

impl GoogleChatChannel {
    /// The thread key of every message about `delivery`'s incident.
    fn thread_key(&self, delivery: &Delivery) -> String {
        format!("{}{}", self.thread_key_prefix, delivery.incident.id())
    }
}

#[derive(Serialize)]
struct CreateMessage<'a> {
    text: &'a str,
    thread: ThreadRef<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ThreadRef<'a> {
    thread_key: &'a str,
}

#[derive(Deserialize)]
struct Created {
    #[serde(default)]
    name: Option<String>,
}

/// A token of Google's error body (`status`, `reason`): capitals, digits and
/// `_` only.
fn token(value: Option<&serde_json::Value>) -> Option<String> {
    let t: String = value?
        .as_str()?
        .chars()
        .take(64)
        .filter(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
        .collect();
    (!t.is_empty()).then_some(t)
}

/// Google's `error.status` and the first `error.details[].reason`.
fn google_error(body: &str) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return (None, None);
    };
    let error = value.get("error");
    let status = token(error.and_then(|e| e.get("status")));
    let reason = error
        .and_then(|e| e.get("details"))
        .and_then(serde_json::Value::as_array)
        .and_then(|details| details.iter().find_map(|d| token(d.get("reason"))));
    (status, reason)
}

/// Maps Google Chat's error answer (status, headers and Google's JSON error
/// body `{"error":{"code":…,"message":…,"status":…}}`, of which only `status`
/// is kept).
fn map_error(status: StatusCode, headers: &HeaderMap, body: &str, target: &str) -> ChannelError {
    let retry_after = http::retry_after(headers, SystemTime::now());
    let (google, reason) = google_error(body);
    let said = format!(
        "Google Chat answered {status}{}",
        google
            .as_deref()
            .map_or_else(String::new, |s| format!(" {s}"))
    );
    let code = status.as_u16();
    match (code, google.as_deref()) {
        // "If you exceed a quota, you receive a 429: Too many requests"
        // (RESOURCE_EXHAUSTED); back off.
        (429, _) | (_, Some("RESOURCE_EXHAUSTED")) => ChannelError::RateLimited { retry_after },
        // UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED: Google's retryable errors.
        (408 | 500..=599, _) => ChannelError::Transient {
            reason: said,
            status: Some(code),
            retry_after,
        },
        // 400 "API key not valid" (reason API_KEY_INVALID), 401
        // UNAUTHENTICATED, 403 PERMISSION_DENIED ("The API is called without
        // a valid token"): the URL's key or token is wrong, or the webhook
        // was deleted.
        (401 | 403, _) => ChannelError::Config {
            reason: format!("{said}: the webhook URL was refused; configure a new one"),
        },
        (400, _) if reason.as_deref() == Some("API_KEY_INVALID") => ChannelError::Config {
            reason: format!("{said}: the webhook URL's key was refused; configure a new one"),
        },
        // NOT_FOUND: the space is gone, or the webhook with it.
        (404, _) => ChannelError::InvalidTarget {
            target: target.to_owned(),
            reason: said,
        },
        // INVALID_ARGUMENT ("Message is longer than 4096 characters", a body
        // Chat cannot read), FAILED_PRECONDITION: this message will never
        // pass.
        (400..=499, _) => ChannelError::Rejected {
            reason: said,
            status: Some(code),
        },
        // Redirects (not followed), and anything else.
        _ => http::error_for_status(status, headers),
    }
}

#[async_trait]
impl Channel for GoogleChatChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("google_chat")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    fn format(&self) -> &dyn Format {
        &GoogleChatFormat
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let name = delivery.target.as_str();
        let url = self.hooks.get(&delivery.target)?;
        let key = self.thread_key(delivery);
        let body = CreateMessage {
            text: &delivery.text,
            thread: ThreadRef { thread_key: &key },
        };
        let request = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json; charset=UTF-8")
            .json(&body);
        let response = http::send(request, url, self.timeout).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let answer = http::body_text(response).await;
        if !status.is_success() {
            return Err(map_error(status, &headers, &answer, name));
        }
        let mut receipt = Receipt::new(crate::clock::now()).with_status(status.as_u16());
        // The webhook answers with the message's resource name
        // (spaces/…/messages/…). It was posted either way: sending again
        // would post it twice, so a missing name is only logged.
        match serde_json::from_str::<Created>(&answer)
            .ok()
            .and_then(|c| c.name)
        {
            Some(name) if !name.is_empty() => {
                receipt = receipt.with_message_ref(MessageRef::new(name));
            }
            _ => {
                tracing::warn!(key = %delivery.key, "Google Chat accepted the message but returned no message name");
            }
        }
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    fn map(status: u16, body: &str) -> ChannelError {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        map_error(StatusCode::from_u16(status).unwrap(), &h, body, "space")
    }

    #[test]
    fn answers_map_to_what_to_do_next() {
        let seven = Some(Duration::from_secs(7));
        assert_eq!(
            map(
                429,
                r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}"#
            ),
            ChannelError::RateLimited { retry_after: seven }
        );
        assert!(matches!(map(429, ""), ChannelError::RateLimited { .. }));
        let e = map(
            503,
            r#"{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}"#,
        );
        assert!(
            e.is_retryable() && e.to_string().contains("UNAVAILABLE"),
            "{e}"
        );
        assert_eq!(e.retry_after(), seven);
        assert!(map(500, "<html>error</html>").is_retryable());
        // Recorded by integrators.
        let too_long = map(
            400,
            r#"{"error":{"code":400,"message":"Message is longer than 4096 characters","status":"INVALID_ARGUMENT"}}"#,
        );
        assert!(matches!(
            too_long,
            ChannelError::Rejected {
                status: Some(400),
                ..
            }
        ));
        assert!(too_long.to_string().contains("INVALID_ARGUMENT"));
        assert!(!too_long.to_string().contains("4096"), "{too_long}");
        let bad_key = map(
            400,
            r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"chat.googleapis.com"}}]}}"#,
        );
        assert!(matches!(bad_key, ChannelError::Config { .. }), "{bad_key}");
        let bad_token = map(
            403,
            r#"{"error":{"code":403,"message":"The API is called without a valid token. Instructions on how to use incoming webhooks can be found at https://developers.google.com/chat/how-tos/webhooks","status":"PERMISSION_DENIED"}}"#,
        );
        assert!(matches!(bad_token, ChannelError::Config { .. }));
        assert!(!bad_token.to_string().contains("developers.google.com"));
        assert!(matches!(
            map(
                401,
                r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#
            ),
            ChannelError::Config { .. }
        ));
        assert!(matches!(
            map(
                404,
                r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}"#
            ),
            ChannelError::InvalidTarget { .. }
        ));
        assert!(!map(302, "").is_retryable());
        let odd = map(400, r#"{"error":{"status":"<img src=x>lower"}}"#);
        assert!(!odd.to_string().contains('<'), "{odd}");
    }

    #[test]
    fn the_reply_option_is_added_and_the_secrets_kept_as_written() {
        let url = |s: &str| threaded(Url::parse(s).unwrap()).to_string();
        assert_eq!(
            url("https://chat.googleapis.com/v1/spaces/S/messages?key=K&token=a%3D"),
            "https://chat.googleapis.com/v1/spaces/S/messages?key=K&token=a%3D&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
        );
        assert_eq!(
            url(
                "https://chat.googleapis.com/v1/spaces/S/messages?messageReplyOption=REPLY_MESSAGE_OR_FAIL&key=K"
            ),
            "https://chat.googleapis.com/v1/spaces/S/messages?key=K&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
        );
        assert_eq!(
            url("http://127.0.0.1:9/hook"),
            "http://127.0.0.1:9/hook?messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
        );
    }

    #[test]
    fn the_format_escapes_the_text_and_labels_the_link() {
        let pieces = Pieces {
            title: "[Identified] <users/all>",
            body: "<https://evil|x> [a](b) *b*",
            part: Some((2, 2)),
            next_update: Some("Next update by 14:30 UTC."),
            link: "https://status.example.com/i|<x>",
        };
        assert_eq!(
            GoogleChatFormat.layout(&pieces),
            "[Identified] \u{FF1C}users/all\u{FF1E}\n\n\u{FF1C}https://evil|x\u{FF1E} [a]\u{200B}(b) *b* (2/2)\n\nNext update by 14:30 UTC.\n<https://status.example.com/i%7C%3Cx%3E|View status page>"
        );
        let bare = Pieces {
            title: "",
            body: "",
            part: None,
            next_update: None,
            ..pieces
        };
        assert_eq!(
            GoogleChatFormat.layout(&bare),
            "<https://status.example.com/i%7C%3Cx%3E|View status page>"
        );
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_secrets() {
        assert!(GoogleChatChannel::builder().build().is_err());
        let err = GoogleChatChannel::builder()
            .webhook(
                "a",
                "http://chat.googleapis.com/v1/spaces/S/messages?key=K&token=SECRET",
            )
            .build()
            .unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
        assert!(
            GoogleChatChannel::builder()
                .webhook("a", "https://chat.googleapis.com/x")
                .thread_key_prefix("x\n")
                .build()
                .is_err()
        );
        assert!(
            GoogleChatChannel::builder()
                .webhook("a", "https://chat.googleapis.com/x")
                .webhook("a", "https://chat.googleapis.com/y")
                .build()
                .is_err()
        );
        let builder = GoogleChatChannel::builder().webhook(
            "a",
            "https://chat.googleapis.com/v1/spaces/S/messages?key=KEYSECRET&token=SECRET",
        );
        assert!(!format!("{builder:?}").contains("SECRET"));
        let ch = builder.build().unwrap();
        assert!(!format!("{ch:?}").contains("SECRET"));
        assert!(!ch.limits().threads);
        assert_eq!(
            ch.limits().text,
            Some(TextLimit::new(MAX_TEXT, LengthUnit::Utf16Units))
        );
    }
}
