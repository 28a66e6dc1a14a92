//! X (formerly Twitter), through API v2: one post per message (`POST
//! /2/tweets`), each update a reply to the one before it.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::channel::social::x::XChannel;
//!
//! // An OAuth 2.0 user access token (Authorization Code with PKCE; scopes
//! // tweet.read tweet.write users.read). The token is a secret.
//! let x = XChannel::builder("your-user-access-token").build()?;
//! // Routes send to its one target, "timeline" (rename it with `.target(…)`).
//!
//! // User access tokens expire (after two hours without offline.access):
//! // refresh it with your OAuth client and hand the new one over.
//! x.set_access_token("the-refreshed-token")?;
//! # Ok(()) }
//! ```
//!
//! Each message is `POST {base}/2/tweets` (base `https://api.x.com`) with
//! `Authorization: Bearer <user access token>` and `{"text": …}`, plus
//! `{"reply": {"in_reply_to_tweet_id": …}}`: the id of the previous post about
//! the incident on this channel, so first contact, updates and resolution form
//! one thread. X answers `201 {"data": {"id": …, "text": …}}`; the receipt
//! keeps the id.
//!
//! **Authentication.** Posting needs a *user* context. App-only bearer tokens
//! (OAuth 2.0 client credentials) cannot post: X answers 403 "Unsupported
//! Authentication", a configuration error. OAuth 1.0a user context (signed
//! requests) is not supported; use an OAuth 2.0 user access token, and
//! refresh it with [`XChannel::set_access_token`].
//!
//! **Length.** 280 weighted characters, counted as twitter-text 3.x counts
//! them ([`weighted_length`], a port of twitter-text 3.1.0's `parseTweet`
//! and its URL rules, checked against twitter-text's published conformance
//! cases): the text is normalised to NFC; code points in U+0000–U+10FF,
//! U+2000–U+200D, U+2010–U+201F and U+2032–U+2037 weigh 1, every other code
//! point 2 (CJK, most symbols); an emoji twitter-text knows (Emoji 11.0),
//! including a sequence joined with U+200D (`👩‍👩‍👧`), a flag, a keycap or
//! an emoji with a skin tone, weighs 2 in all; every link weighs 23 (t.co),
//! however long. Links are what twitter-text links: `http://` and
//! `https://` URLs and bare domains (`status.example.com`) whose top-level
//! domain is on twitter-text's list, internationalised ones included,
//! without the punctuation that ends a sentence (`https://example.com/x.`,
//! a trailing `?`); not `https://user:pw@host` (user information), and no
//! bare domain right after `-`, `_`, `.` or `/`. The message is laid out by
//! [`XFormat`]: the plain layout with mentions defused, without the
//! characters X refuses in a post (U+FEFF, the invisible zero-width no-break
//! space, and the noncharacters U+FFFE and U+FFFF), NFC-normalised. The text
//! limit ([`text_limit`], [`LengthUnit::XWeighted`]) is this count on exactly
//! that layout, which is the post sent, so fitting keeps every post within
//! 280 as X counts it; a post X would not take ([`is_valid_post`], a
//! hand-built delivery) is refused before any request.
//!
//! **User text** is plain text; every `@` that could start a mention (also
//! the fullwidth `＠`) is defused
//! ([`defuse_mentions`](crate::render::markup::defuse_mentions)), so the post
//! mentions and notifies nobody and cannot turn into a reply.
//!
//! **Rate.** By default 100 posts per 24 hours for the channel (the per-user
//! limit of X's Basic tier in 2023; X's limits change, so set yours with
//! [`rate`](XChannelBuilder::rate)). A 429 is a rate limit whose delay runs
//! until `x-rate-limit-reset` (epoch seconds), or until the 24-hour user or app
//! limit's reset when that one is used up; X sends no `Retry-After`, which is
//! read only when no reset is given.
//!
//! **Errors**: 401 (bad or expired token) is a
//! configuration error, as are the 403s that say the token or app cannot post
//! this way; other 403s (duplicate content, not allowed to reply) and 400
//! (invalid request) are permanent rejections; 408 and 5xx are transient.
//! Errors keep X's short `title`, `detail` and first error `message`, cleaned.
//!
//! **Retries.** X takes no idempotency key: a post that timed out may have
//! been published, and a retry may post it twice, or be refused as duplicate
//! content (403).

use std::fmt;
use std::sync::RwLock;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use url::Url;

use super::twitter_text;
use super::{defused_plain, delay_until, sanitize};
use crate::channel::http::{self, HttpOptions};
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, RateLimit,
    Receipt,
};
use crate::render::{Format, LengthUnit, Pieces, TextLimit};

/// X API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.x.com";

/// The longest post, in weighted characters (`maxWeightedTweetLength`).
pub const MAX_WEIGHTED_LENGTH: usize = twitter_text::MAX_WEIGHTED_LENGTH;

/// What every link weighs (`transformedURLLength`).
pub const TRANSFORMED_URL_LENGTH: usize = twitter_text::URL_WEIGHT;

/// The target routes send to unless renamed with
/// [`target`](XChannelBuilder::target).
pub const DEFAULT_TARGET: &str = "timeline";

/// The weight of one code point outside links and emoji (twitter-text v3
/// `ranges`, scale 100 → 1).
pub const fn code_point_weight(c: char) -> usize {
    match c as u32 {
        0..=0x10FF | 0x2000..=0x200D | 0x2010..=0x201F | 0x2032..=0x2037 => 1,
        _ => 2,
    }
}

/// The weighted length of a post as X counts it (see the [module
/// docs](self)): twitter-text 3.x's `parseTweet` on the text in NFC.
///
/// ```
/// use tidings::channel::social::x::weighted_length;
///
/// assert_eq!(weighted_length("Fixed. https://status.example.com/incidents/2026-11-25-api"), 7 + 23);
/// assert_eq!(weighted_length("障害 👩‍👩‍👧 ok"), 4 + 1 + 2 + 3);
/// assert_eq!(weighted_length("e\u{301}"), 1, "NFC: é");
/// // A trailing `?` is no part of a link; a link with user information is
/// // no link.
/// assert_eq!(weighted_length("https://status.example.com/x?"), 23 + 1);
/// assert_eq!(weighted_length("https://user:pw@example.com"), 27);
/// ```
pub fn weighted_length(text: &str) -> usize {
    let text: String = text.nfc().collect();
    twitter_text::parse(&text).weighted_length
}

/// Whether X takes `text` as a post: 1 to 280 weighted characters and none
/// of the characters twitter-text refuses (U+FEFF, U+FFFE, U+FFFF).
pub fn is_valid_post(text: &str) -> bool {
    let text: String = text.nfc().collect();
    twitter_text::parse(&text).valid
}

/// How [`XChannel`] lays a post out: the plain layout (title, body,
/// next-update line, link) with every mention defused
/// ([`defuse_mentions`](crate::render::markup::defuse_mentions)), without
/// the characters X refuses in a post (U+FEFF, an invisible zero-width
/// no-break space, and the noncharacters U+FFFE and U+FFFF), normalised to
/// NFC. It is the post's `text` as sent, and what [`text_limit`] measures.
///
/// ```
/// use tidings::channel::social::x::XFormat;
/// use tidings::render::{Format, Pieces};
///
/// let pieces = Pieces {
///     title: "[Resolved] Login",
///     body: "Cafe\u{301} @everyone\u{FEFF}",
///     part: None,
///     next_update: None,
///     link: "https://status.example.com/i/1",
/// };
/// assert_eq!(
///     XFormat.layout(&pieces),
///     "[Resolved] Login\n\nCafé @\u{200B}everyone\n\nhttps://status.example.com/i/1"
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XFormat;

impl Format for XFormat {
    fn layout(&self, pieces: &Pieces<'_>) -> String {
        defused_plain(pieces)
            .chars()
            .filter(|c| !twitter_text::is_invalid(*c))
            .nfc()
            .collect()
    }
}

/// X's text limit: [`MAX_WEIGHTED_LENGTH`] weighted characters
/// ([`LengthUnit::XWeighted`], [`weighted_length`]), measured on the post as
/// [`XFormat`] lays it out, which is what [`XChannel`] sends.
pub const fn text_limit() -> TextLimit {
    TextLimit::new(MAX_WEIGHTED_LENGTH, LengthUnit::XWeighted)
}

/// Posts to one X account. See the [module docs](self).
pub struct XChannel {
    tweets_url: Url,
    token: RwLock<String>,
    target: String,
    client: reqwest::Client,
    timeout: Duration,
    limits: ChannelLimits,
}

impl fmt::Debug for XChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XChannel")
            .field("tweets_url", &self.tweets_url.as_str())
            .field("token", &"<redacted>")
            .field("target", &self.target)
            .field("timeout", &self.timeout)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Builds an [`XChannel`]; every check happens in [`build`](Self::build).
#[must_use]
pub struct XChannelBuilder {
    token: String,
    base: String,
    target: String,
    http: HttpOptions,
    rate: Option<RateLimit>,
}

impl fmt::Debug for XChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XChannelBuilder")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .field("target", &self.target)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// Whether a token can go in an `Authorization` header as it is.
fn is_token(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic())
}

impl XChannel {
    /// A builder posting as the user of `user_access_token` (OAuth 2.0
    /// Authorization Code with PKCE, scope `tweet.write`).
    pub fn builder(user_access_token: impl Into<String>) -> XChannelBuilder {
        XChannelBuilder {
            token: user_access_token.into(),
            base: DEFAULT_BASE_URL.to_owned(),
            target: DEFAULT_TARGET.to_owned(),
            http: HttpOptions::new(),
            rate: None,
        }
    }

    /// Replaces the user access token (after refreshing it); later posts use
    /// the new one.
    pub fn set_access_token(&self, token: impl Into<String>) -> Result<(), ChannelError> {
        let token = token.into();
        if !is_token(&token) {
            return Err(ChannelError::Config {
                reason: "the X access token is empty or has spaces or control characters".into(),
            });
        }
        match self.token.write() {
            Ok(mut current) => *current = token,
            Err(poisoned) => *poisoned.into_inner() = token,
        }
        Ok(())
    }

    fn bearer(&self) -> String {
        let token = match self.token.read() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        format!("Bearer {}", *token)
    }
}

impl XChannelBuilder {
    /// The API base URL (default [`DEFAULT_BASE_URL`]; a local server in
    /// tests).
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.base = base.into();
        self
    }

    /// The name routes use for this account (default [`DEFAULT_TARGET`]);
    /// deliveries to any other target are refused.
    pub fn target(mut self, name: impl Into<String>) -> Self {
        self.target = name.into();
        self
    }

    /// How requests are made: timeouts, `User-Agent`, a proxy, or a client
    /// of your own (default [`HttpOptions::new`]).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// Posts for the channel (default 100 per 24 hours).
    pub fn rate(mut self, rate: RateLimit) -> Self {
        self.rate = Some(rate);
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<XChannel, BuildError> {
        if !is_token(&self.token) {
            return Err(BuildError::credential(
                "X access token",
                "it is empty or has spaces or control characters",
            ));
        }
        if self.target.trim().is_empty() {
            return Err(BuildError::setting("X target", "it is empty"));
        }
        let field = "X base URL";
        let base = http::url_setting(&self.base, false, field)?;
        if base.query().is_some() || base.fragment().is_some() {
            return Err(BuildError::url(field, "it must have no query or fragment"));
        }
        let tweets_url = format!("{}/2/tweets", base.as_str().trim_end_matches('/'));
        let tweets_url = http::url_setting(&tweets_url, false, field)?;
        let rate = match self.rate {
            Some(rate) => rate,
            None => RateLimit::new(100, Duration::from_secs(86_400))
                .map_err(|e| BuildError::setting("X default rate", e.to_string()))?,
        };
        let limits = ChannelLimits::new()
            .with_text(text_limit())
            .with_rate(rate)
            .threaded();
        let client = http::client(&self.http)?;
        Ok(XChannel {
            tweets_url,
            token: RwLock::new(self.token),
            target: self.target,
            client,
            timeout: self.http.request_timeout(),
            limits,
        })
    }
}

#[derive(Serialize)]
struct NewPost<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<Reply<'a>>,
}

#[derive(Serialize)]
struct Reply<'a> {
    in_reply_to_tweet_id: &'a str,
}

#[derive(Deserialize)]
struct Created {
    data: CreatedData,
}

#[derive(Deserialize)]
struct CreatedData {
    id: String,
}

/// X's error bodies: problem details `{"title", "detail", "type", "status"}`,
/// or `{"errors": [{"message", …}], …}`. Only these fields are read.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize, Default)]
struct ErrorItem {
    #[serde(default)]
    message: Option<String>,
}

/// ` (Forbidden: You are not allowed to create a Tweet with duplicate
/// content.)` from a known error body.
fn describe(body: &ErrorBody) -> String {
    let mut parts: Vec<String> = Vec::new();
    let first_error = body.errors.first().and_then(|e| e.message.as_deref());
    for field in [body.title.as_deref(), body.detail.as_deref(), first_error]
        .into_iter()
        .flatten()
    {
        let clean = sanitize(field, 160);
        if !clean.is_empty() && !parts.contains(&clean) {
            parts.push(clean);
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join(": "))
    }
}

/// The last path segment of a problem `type`
/// (`https://api.twitter.com/2/problems/unsupported-authentication`).
fn problem(body: &ErrorBody) -> &str {
    body.kind
        .as_deref()
        .and_then(|t| t.rsplit('/').next())
        .unwrap_or("")
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The reset (epoch seconds) of a limit named by `prefix`, if it is used up
/// (or, with `always`, whatever its remaining count).
fn reset_of(headers: &HeaderMap, prefix: &str, always: bool) -> Option<DateTime<Utc>> {
    let remaining = header(headers, &format!("{prefix}-remaining"));
    let used_up = remaining.is_none_or(|r| r.parse::<u64>().is_ok_and(|n| n == 0));
    if !(always || used_up) {
        return None;
    }
    let secs: i64 = header(headers, &format!("{prefix}-reset"))?.parse().ok()?;
    DateTime::from_timestamp(secs, 0)
}

/// The delay of a 429: until the latest reset among the used-up limits
/// (`x-rate-limit-*`, the 24-hour `x-user-limit-24hour-*` and
/// `x-app-limit-24hour-*`); `x-rate-limit-reset` whatever its remaining count
/// when none is used up; `Retry-After` when no reset is given.
fn rate_limit_delay(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let mut resets: Vec<DateTime<Utc>> =
        ["x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"]
            .into_iter()
            .filter_map(|prefix| reset_of(headers, prefix, false))
            .collect();
    if resets.is_empty() {
        resets.extend(reset_of(headers, "x-rate-limit", true));
    }
    delay_until(resets, headers, now)
}

/// Maps X's answer to a failed `POST /2/tweets` (its status, headers and body)
/// to what to do next. Only the known fields of the JSON body are kept,
/// cleaned; the body is never copied into the error.
fn map_error(status: StatusCode, headers: &HeaderMap, body: &str) -> ChannelError {
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let code = status.as_u16();
    match code {
        // 429 Too Many Requests: wait until x-rate-limit-reset (epoch
        // seconds), or the 24-hour cap's reset when that one is used up.
        429 => ChannelError::RateLimited {
            retry_after: rate_limit_delay(headers, SystemTime::now()),
        },
        // 401 {"title":"Unauthorized","detail":"Unauthorized",…}: the token is
        // wrong, revoked or expired (user access tokens last two hours).
        401 => ChannelError::Config {
            reason: format!(
                "X refused the access token (401{}); refresh it or configure a new one",
                describe(&parsed)
            ),
        },
        // 403 "Unsupported Authentication" (an app-only token: posting needs
        // a user context) and "client-forbidden" (the app is not attached to
        // a project, or lacks write permission): the configuration must change.
        403 if matches!(
            problem(&parsed),
            "unsupported-authentication" | "client-forbidden"
        ) =>
        {
            ChannelError::Config {
                reason: format!(
                    "X refused this kind of token or app (403{}); posting needs a user access token with tweet.write",
                    describe(&parsed)
                ),
            }
        }
        // 403 "You are not allowed to create a Tweet with duplicate content."
        // or not allowed to reply: this post never passes.
        403 => ChannelError::Rejected {
            reason: format!("X forbids this post (403{})", describe(&parsed)),
            status: Some(code),
        },
        // 408 and 5xx: X failed; retry.
        408 | 500..=599 => http::error_for_status(status, headers),
        // 400 "Invalid Request" (text too long, reply to a deleted post) and
        // other 4xx: this post never passes.
        400..=499 => ChannelError::Rejected {
            reason: format!("X answered {status}{}", describe(&parsed)),
            status: Some(code),
        },
        // Redirects (not followed) and anything else: the general rules.
        _ => http::error_for_status(status, headers),
    }
}

#[async_trait]
impl Channel for XChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("x")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    fn format(&self) -> &dyn Format {
        &XFormat
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let target = delivery.target.as_str();
        if target != self.target {
            return Err(ChannelError::InvalidTarget {
                target: target.to_owned(),
                reason: format!("this X channel posts to {:?} only", self.target),
            });
        }
        // Laid out by XFormat and fitted to X's count: posted as it is.
        let text = &*delivery.text;
        if !is_valid_post(text) {
            let length = weighted_length(text);
            return Err(ChannelError::rejected(if length == 0 {
                "the post is empty; X takes none".to_owned()
            } else if length > MAX_WEIGHTED_LENGTH {
                format!(
                    "the post weighs {length} characters; X takes at most {MAX_WEIGHTED_LENGTH}"
                )
            } else {
                "the post has a character X refuses (U+FEFF, U+FFFE or U+FFFF)".to_owned()
            }));
        }
        let body = NewPost {
            text,
            reply: delivery.thread.as_ref().map(|t| Reply {
                in_reply_to_tweet_id: t.latest.as_str(),
            }),
        };
        let request = self
            .client
            .post(self.tweets_url.clone())
            .header(AUTHORIZATION, self.bearer())
            .json(&body);
        let response = http::send(request, &self.tweets_url, self.timeout).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let answer = http::body_text(response).await;
        if !status.is_success() {
            return Err(map_error(status, &headers, &answer));
        }
        let mut receipt = Receipt::new(crate::clock::now()).with_status(status.as_u16());
        match serde_json::from_str::<Created>(&answer) {
            Ok(created)
                if !created.data.id.is_empty()
                    && created.data.id.len() <= 32
                    && created.data.id.bytes().all(|b| b.is_ascii_digit()) =>
            {
                receipt = receipt.with_message_ref(MessageRef::new(created.data.id));
            }
            // Posted all the same; the next update starts a new thread.
            _ => tracing::warn!(
                key = %delivery.key,
                "X accepted the post but returned no usable id"
            ),
        }
        Ok(receipt)
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
        map_error(StatusCode::from_u16(status).unwrap(), h, body)
    }

    #[test]
    fn weights_follow_twitter_text_v3() {
        assert_eq!(weighted_length(""), 0);
        assert_eq!(weighted_length(&"a".repeat(280)), 280);
        assert_eq!(weighted_length(&"障".repeat(140)), 280);
        assert_eq!(
            weighted_length("ÀßЖשع"),
            5,
            "Latin-1, Cyrillic, Hebrew, Arabic"
        );
        assert_eq!(weighted_length("\u{10FF}\u{1100}"), 3);
        assert_eq!(
            weighted_length("\u{2013}\u{2026}\u{2032}\u{2038}"),
            1 + 2 + 1 + 2
        );
        assert_eq!(weighted_length("\u{200D}\u{200E}"), 3);
        // Emoji: 2 each, sequences included.
        for emoji in ["😀", "👍🏽", "👩‍👩‍👧", "🏳️‍🌈", "🇫🇷", "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "❤️", "⚠️", "👩‍⚕️"]
        {
            assert_eq!(weighted_length(emoji), 2, "{emoji}");
        }
        assert_eq!(weighted_length("❤"), 2);
        assert_eq!(weighted_length("©"), 1);
        assert_eq!(weighted_length("©️"), 2);
        assert_eq!(
            weighted_length("👍\u{301}"),
            3,
            "an accent is no emoji part"
        );
        assert_eq!(weighted_length("🇫🇷🇩🇪"), 4);
        // NFC first: e + combining acute is é; the Kelvin sign is K.
        assert_eq!(weighted_length("e\u{301}"), 1);
        assert_eq!(weighted_length("\u{212A}"), 1);
        assert_eq!(weighted_length("\u{2126}"), 1, "Ohm sign is Greek Omega");
    }

    #[test]
    fn links_weigh_23() {
        let link = "https://status.example.com/incidents/2026-11-25-api-errors";
        assert_eq!(weighted_length(link), 23);
        assert_eq!(weighted_length(&format!("障害 {link}")), 5 + 23);
        assert_eq!(weighted_length("see status.example.com."), 4 + 23 + 1);
        assert_eq!(weighted_length("a.co"), 23);
        assert_eq!(weighted_length("e.g."), 4);
    }

    fn layout(title: &str, body: &str, link: &str) -> String {
        XFormat.layout(&Pieces {
            title,
            body,
            part: None,
            next_update: None,
            link,
        })
    }

    #[test]
    fn refused_characters_are_not_sent_nor_counted() {
        assert!(!is_valid_post("Fixed\u{FEFF} now"));
        let link = "https://status.example.com/i";
        let post = layout("Fixed\u{FEFF} now", "a\u{FEFF}b\u{FFFE}c\u{FFFF}", link);
        assert_eq!(post, format!("Fixed now\n\nabc\n\n{link}"));
        assert!(is_valid_post(&post));
        assert_eq!(text_limit().unit.measure(&post), 9 + 2 + 3 + 2 + 23);
        assert!(is_valid_post("Fixed now") && !is_valid_post(""));
    }

    #[test]
    fn the_layout_is_what_is_sent_and_measured() {
        let link = "https://status.example.com/incidents/inc-7";
        let post = layout("Ce\u{301}st @everyone ＠x 👩‍👩‍👧", "", link);
        assert_eq!(
            post,
            format!("Cést @\u{200B}everyone ＠\u{200B}x 👩‍👩‍👧\n\n{link}")
        );
        assert_eq!(post, post.nfc().collect::<String>());
        assert_eq!(text_limit().unit.measure(&post), weighted_length(&post));
        // A link with an `@` is left as it is.
        let link = "https://mastodon.example/@status";
        assert!(layout("@x", "", link).ends_with(&format!("\n\n{link}")));
    }

    #[test]
    fn rate_limits_wait_until_the_reset() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let h = headers(&[
            ("x-rate-limit-limit", "200"),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", "1700000900"),
        ]);
        assert_eq!(rate_limit_delay(&h, now), Some(Duration::from_secs(900)));
        // The 24-hour user cap is used up, the 15-minute window is not.
        let h = headers(&[
            ("x-rate-limit-remaining", "150"),
            ("x-rate-limit-reset", "1700000900"),
            ("x-user-limit-24hour-limit", "100"),
            ("x-user-limit-24hour-remaining", "0"),
            ("x-user-limit-24hour-reset", "1700036000"),
        ]);
        assert_eq!(rate_limit_delay(&h, now), Some(Duration::from_secs(36_000)));
        // Nothing used up: the window's reset.
        let h = headers(&[
            ("x-rate-limit-remaining", "3"),
            ("x-rate-limit-reset", "1700000060"),
        ]);
        assert_eq!(rate_limit_delay(&h, now), Some(Duration::from_secs(60)));
        let h = headers(&[("retry-after", "5")]);
        assert_eq!(rate_limit_delay(&h, now), Some(Duration::from_secs(5)));
        assert_eq!(rate_limit_delay(&HeaderMap::new(), now), None);
        let e = map(
            429,
            &HeaderMap::new(),
            r#"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#,
        );
        assert_eq!(e, ChannelError::RateLimited { retry_after: None });
    }

    #[test]
    fn failures_map_to_what_to_do_next() {
        let h = HeaderMap::new();
        // Bodies as X answers them.
        let e = map(
            401,
            &h,
            r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#,
        );
        assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        let e = map(
            403,
            &h,
            r#"{"title":"Unsupported Authentication","detail":"Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].","type":"https://api.twitter.com/2/problems/unsupported-authentication","status":403}"#,
        );
        assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        assert!(e.to_string().contains("Application-Only"), "{e}");
        let e = map(
            403,
            &h,
            r#"{"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403}"#,
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
        assert!(e.to_string().contains("duplicate content"), "{e}");
        let e = map(
            400,
            &h,
            r#"{"errors":[{"parameters":{"text":["…"]},"message":"The `text` query parameter value [...] is not valid"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}"#,
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
        assert!(e.to_string().contains("Invalid Request"), "{e}");
        assert!(e.to_string().contains("is not valid"), "{e}");
        for code in [500, 502, 503, 504] {
            let e = map(code, &h, r#"{"title":"Service Unavailable"}"#);
            assert!(e.is_retryable(), "{e}");
        }
        let e = map(400, &h, r#"{"detail":"<b>https://evil/?token=abc</b>"}"#);
        assert!(!e.to_string().contains(['<', '/', '=']), "{e}");
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_secrets() {
        let ok = || XChannel::builder("SECRET-token");
        let ch = ok().build().unwrap();
        assert_eq!(ch.tweets_url.as_str(), "https://api.x.com/2/tweets");
        assert!(ch.limits().threads);
        assert_eq!(ch.limits().text, Some(text_limit()));
        assert_eq!(ch.limits().text.unwrap().max, 280);
        assert!(!format!("{ch:?}").contains("SECRET"));
        assert!(!format!("{:?}", ok()).contains("SECRET"));
        ch.set_access_token("SECRET-new").unwrap();
        assert_eq!(ch.bearer(), "Bearer SECRET-new");
        assert!(ch.set_access_token("has space").is_err());
        for bad in [
            ok().http(HttpOptions::new().timeout(Duration::ZERO)),
            ok().target(""),
            ok().base_url("http://api.x.com"),
            ok().base_url("https://api.x.com/?SECRET"),
            XChannel::builder(""),
            XChannel::builder("SECRET token"),
        ] {
            let err = bad.build().unwrap_err();
            assert!(
                matches!(
                    err,
                    BuildError::InvalidCredential { .. }
                        | BuildError::InvalidSetting { .. }
                        | BuildError::InvalidUrl { .. }
                ),
                "{err:?}"
            );
            assert!(!err.to_string().contains("SECRET"), "{err}");
        }
    }
}
