//! Mastodon: one status per message (`POST /api/v1/statuses`), each update a
//! reply to the one before it.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::channel::social::mastodon::{MastodonChannel, Visibility};
//!
//! // A user access token with the write:statuses scope (Preferences →
//! // Development → New application). The token is a secret.
//! let mastodon = MastodonChannel::builder("https://mastodon.social", "your-access-token")
//!     .visibility(Visibility::Unlisted) // default: public
//!     .max_characters(500)              // the instance's configuration.statuses.max_characters
//!     .build()?;
//! // Routes send to its one target, "timeline" (rename it with `.target(…)`).
//! # let _ = mastodon; Ok(()) }
//! ```
//!
//! Each message is `POST {instance}/api/v1/statuses` with `Authorization:
//! Bearer <token>`, the delivery's idempotency key as `Idempotency-Key`
//! (Mastodon keeps it for an hour, so a retry after a timeout does not post
//! twice) and a JSON body `{"status": …, "visibility": …}`, plus
//! `"in_reply_to_id"`: the id of the previous post about the incident on this
//! channel, so first contact, updates and resolution form one thread. The
//! receipt keeps the status's `id`.
//!
//! **Length.** Mastodon counts a status in characters, every link as 23
//! (`characters_reserved_per_url`) however long it is; the default maximum is
//! 500, and each instance may set its own (`GET /api/v2/instance` →
//! `configuration.statuses.max_characters`; set it with
//! [`max_characters`](MastodonChannelBuilder::max_characters)). The text
//! limit ([`text_limit`], [`LengthUnit::MastodonChars`]) is
//! [`status_length`]'s count of the status as [`MastodonFormat`] lays it
//! out, which is what is sent, in characters: current Mastodon counts
//! grapheme clusters, which are never more than characters, so the count is
//! exact on plain text and safe on every version. A link is `http://` or
//! `https://` (or `dat`, `dweb`, `ipfs`, `ipns`, `ssb`, `gopher`, `gemini`)
//! and its link characters (the rules are in the social module's
//! `links.rs`): trailing punctuation is not part of it, and a bare domain
//! (`example.com`) is plain text on Mastodon. Links whose host has no
//! top-level domain (`https://intranet/…`) are counted as 23 here, but in
//! full by Mastodon.
//!
//! **User text** is plain text; [`MastodonFormat`] defuses every `@` that
//! could start a mention
//! ([`defuse_mentions`](crate::render::markup::defuse_mentions)), so the
//! post mentions and notifies nobody. Remote mentions would count only their
//! `@user` part on Mastodon; defused, they count in full, which is the safe
//! side.
//!
//! **Rate.** 300 posts per 5 minutes for the channel (Mastodon allows 300 API
//! requests per 5 minutes per account). A 429 is a rate limit whose delay
//! runs until `X-RateLimit-Reset` (an ISO 8601 timestamp; read leniently), or
//! `Retry-After` when the reset cannot be read.
//!
//! **Errors**: 401 (bad or revoked token) and 403
//! (missing `write:statuses`, or the account cannot post) are configuration
//! errors; 422 (validation: blank or too long text) and 404 (the post replied
//! to is gone) are permanent rejections; 408 and 5xx are transient. Errors
//! keep Mastodon's short `error` message, cleaned; never the token.

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap};
use serde::{Deserialize, Serialize};
use url::Url;

use super::links::{self, Rules};
use super::{defused_plain, delay_until, sanitize};
use crate::channel::http::{self, HttpOptions};
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, RateLimit,
    Receipt,
};
use crate::render::{Format, LengthUnit, Pieces, TextLimit};

/// Mastodon's default longest status, in characters.
pub const DEFAULT_MAX_CHARACTERS: usize = 500;

/// What every link counts (`characters_reserved_per_url`).
pub const CHARACTERS_RESERVED_PER_URL: usize = links::URL_LENGTH;

/// The smallest maximum [`MastodonChannelBuilder::max_characters`] takes: a
/// link, a next-update line and a little text.
pub const MIN_MAX_CHARACTERS: usize = 100;

/// The largest maximum it takes (instances that raise the limit go up to
/// 100,000).
pub const MAX_MAX_CHARACTERS: usize = 100_000;

/// The target routes send to unless renamed with
/// [`target`](MastodonChannelBuilder::target).
pub const DEFAULT_TARGET: &str = "timeline";

/// The schemes Mastodon links (its `valid_url` pattern).
const RULES: Rules = Rules {
    schemes: &[
        "https", "http", "dat", "dweb", "ipfs", "ipns", "ssb", "gopher", "gemini",
    ],
    bare_domains: false,
    composes: links::never,
};

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// The length of a status as Mastodon counts it: every link
/// [`CHARACTERS_RESERVED_PER_URL`], the rest in characters (see the [module
/// docs](self)).
///
/// ```
/// use tidings::channel::social::mastodon::status_length;
///
/// assert_eq!(status_length("Fixed. https://status.example.com/incidents/2026-11-25-api"), 7 + 23);
/// assert_eq!(status_length("障害 👩‍👩‍👧"), 3 + 5);
/// ```
pub fn status_length(text: &str) -> usize {
    links::length(text, RULES, &chars)
}

/// How [`MastodonChannel`] lays a status out: the plain layout (title,
/// body, next-update line, link) with every mention defused
/// ([`defuse_mentions`](crate::render::markup::defuse_mentions)); the link
/// is left as it is. It is the `status` sent, and what [`text_limit`]
/// measures.
///
/// ```
/// use tidings::channel::social::mastodon::MastodonFormat;
/// use tidings::render::{Format, Pieces};
///
/// let pieces = Pieces {
///     title: "[Identified] Login",
///     body: "Ask @ops@example.social.",
///     part: None,
///     next_update: Some("Next update by 14:30 UTC."),
///     link: "https://status.example.com/i/1",
/// };
/// assert_eq!(
///     MastodonFormat.layout(&pieces),
///     "[Identified] Login\n\nAsk @\u{200B}ops@example.social.\n\nNext update by 14:30 UTC.\nhttps://status.example.com/i/1"
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MastodonFormat;

impl Format for MastodonFormat {
    fn layout(&self, pieces: &Pieces<'_>) -> String {
        defused_plain(pieces)
    }
}

/// The text limit of a Mastodon instance whose statuses take at most `max`
/// characters ([`LengthUnit::MastodonChars`], [`status_length`]), measured
/// on the status as [`MastodonFormat`] lays it out; what [`MastodonChannel`]
/// uses.
pub const fn text_limit(max: usize) -> TextLimit {
    TextLimit::new(max, LengthUnit::MastodonChars)
}

/// Who sees a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Visibility {
    /// Everyone, on public timelines.
    #[default]
    Public,
    /// Everyone with the link, and followers; not on public timelines.
    Unlisted,
    /// Followers only.
    Private,
    /// Mentioned accounts only (with mentions defused: nobody else).
    Direct,
}

impl Visibility {
    /// The API's name for it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
            Visibility::Direct => "direct",
        }
    }
}

/// Posts to one Mastodon account. See the [module docs](self).
pub struct MastodonChannel {
    statuses_url: Url,
    token: String,
    target: String,
    visibility: Visibility,
    client: reqwest::Client,
    timeout: Duration,
    limits: ChannelLimits,
}

impl fmt::Debug for MastodonChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MastodonChannel")
            .field("statuses_url", &self.statuses_url.as_str())
            .field("token", &"<redacted>")
            .field("target", &self.target)
            .field("visibility", &self.visibility)
            .field("timeout", &self.timeout)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Builds a [`MastodonChannel`]; every check happens in [`build`](Self::build).
#[must_use]
pub struct MastodonChannelBuilder {
    instance: String,
    token: String,
    target: String,
    visibility: Visibility,
    max_characters: usize,
    http: HttpOptions,
    rate: Option<RateLimit>,
}

impl fmt::Debug for MastodonChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MastodonChannelBuilder")
            .field("instance", &self.instance)
            .field("token", &"<redacted>")
            .field("target", &self.target)
            .field("visibility", &self.visibility)
            .field("max_characters", &self.max_characters)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl MastodonChannel {
    /// A builder for the account of `access_token` on the instance at
    /// `instance_url` (`https://mastodon.social`). The token needs the
    /// `write:statuses` scope.
    pub fn builder(
        instance_url: impl Into<String>,
        access_token: impl Into<String>,
    ) -> MastodonChannelBuilder {
        MastodonChannelBuilder {
            instance: instance_url.into(),
            token: access_token.into(),
            target: DEFAULT_TARGET.to_owned(),
            visibility: Visibility::default(),
            max_characters: DEFAULT_MAX_CHARACTERS,
            http: HttpOptions::new(),
            rate: None,
        }
    }
}

impl MastodonChannelBuilder {
    /// The name routes use for this account (default [`DEFAULT_TARGET`]);
    /// deliveries to any other target are refused.
    pub fn target(mut self, name: impl Into<String>) -> Self {
        self.target = name.into();
        self
    }

    /// Who sees the statuses (default [`Visibility::Public`]).
    pub fn visibility(mut self, visibility: Visibility) -> Self {
        self.visibility = visibility;
        self
    }

    /// The instance's longest status in characters (default
    /// [`DEFAULT_MAX_CHARACTERS`]; from [`MIN_MAX_CHARACTERS`] to
    /// [`MAX_MAX_CHARACTERS`]). Read it from `GET /api/v2/instance` →
    /// `configuration.statuses.max_characters`.
    pub fn max_characters(mut self, max: usize) -> Self {
        self.max_characters = max;
        self
    }

    /// How requests are made: timeouts, `User-Agent`, a proxy, or a client
    /// of your own (default [`HttpOptions::new`]).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// Statuses for the channel (default 300 per 5 minutes, Mastodon's API
    /// limit per account).
    pub fn rate(mut self, rate: RateLimit) -> Self {
        self.rate = Some(rate);
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<MastodonChannel, BuildError> {
        if self.token.is_empty() || !self.token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(BuildError::credential(
                "Mastodon access token",
                "it is empty or has spaces or control characters",
            ));
        }
        if self.target.trim().is_empty() {
            return Err(BuildError::setting("Mastodon target", "it is empty"));
        }
        if !(MIN_MAX_CHARACTERS..=MAX_MAX_CHARACTERS).contains(&self.max_characters) {
            return Err(BuildError::setting(
                "Mastodon max_characters",
                format!(
                    "it must be {MIN_MAX_CHARACTERS} to {MAX_MAX_CHARACTERS}, not {}",
                    self.max_characters
                ),
            ));
        }
        let field = "Mastodon instance URL";
        let instance = http::url_setting(&self.instance, false, field)?;
        if instance.query().is_some() || instance.fragment().is_some() {
            return Err(BuildError::url(field, "it must have no query or fragment"));
        }
        let statuses_url = format!(
            "{}/api/v1/statuses",
            instance.as_str().trim_end_matches('/')
        );
        let statuses_url = http::url_setting(&statuses_url, false, field)?;
        let rate = match self.rate {
            Some(rate) => rate,
            None => RateLimit::new(300, Duration::from_secs(300))
                .map_err(|e| BuildError::setting("Mastodon default rate", e.to_string()))?,
        };
        let limits = ChannelLimits::new()
            .with_text(text_limit(self.max_characters))
            .with_rate(rate)
            .threaded()
            .deduplicating();
        let client = http::client(&self.http)?;
        Ok(MastodonChannel {
            statuses_url,
            token: self.token,
            target: self.target,
            visibility: self.visibility,
            client,
            timeout: self.http.request_timeout(),
            limits,
        })
    }
}

#[derive(Serialize)]
struct NewStatus<'a> {
    status: &'a str,
    visibility: Visibility,
    #[serde(skip_serializing_if = "Option::is_none")]
    in_reply_to_id: Option<&'a str>,
}

/// The part of the Status entity the receipt keeps.
#[derive(Deserialize)]
struct Status {
    id: serde_json::Value,
}

/// Mastodon's error body: `{"error": "…"}` (plus `error_description` on OAuth
/// errors). Only these fields are read.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// A status id as the receipt keeps it: Mastodon's are decimal strings; other
/// servers speaking its API (Pleroma, Akkoma, GoToSocial) use letters too.
fn status_id(value: &serde_json::Value) -> Option<String> {
    let id = match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(id)
}

/// `X-RateLimit-Reset`: an ISO 8601 timestamp (`2026-11-25T14:05:00.000Z`),
/// read leniently: with or without fractional seconds or an offset (UTC
/// assumed), or as epoch seconds.
fn parse_reset(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Some(at.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.fZ",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(value, format) {
            return Some(at.and_utc());
        }
    }
    if let Ok(at) = DateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S%.f %z") {
        return Some(at.with_timezone(&Utc));
    }
    let secs: i64 = value.parse().ok()?;
    DateTime::from_timestamp(secs, 0)
}

/// The delay of a 429: until `X-RateLimit-Reset`, else `Retry-After`.
fn rate_limit_delay(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let reset = headers
        .get("x-ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_reset);
    delay_until(reset, headers, now)
}

/// ` (Validation failed: Text can't be blank)` from a known error body.
fn describe(body: &ErrorBody) -> String {
    let said = [body.error.as_deref(), body.error_description.as_deref()]
        .into_iter()
        .flatten()
        .map(|s| sanitize(s, 160))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    }
}

/// Maps Mastodon's answer to a failed `POST /api/v1/statuses` (its status,
/// headers and body) to what to do next. Only the known fields of the JSON
/// body are kept, cleaned; the body is never copied into the error.
fn map_error(status: StatusCode, headers: &HeaderMap, body: &str) -> ChannelError {
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let code = status.as_u16();
    match code {
        // "Exceeding the limit gives 429": wait until X-RateLimit-Reset, the
        // timestamp of the closest limit's reset.
        429 => ChannelError::RateLimited {
            retry_after: rate_limit_delay(headers, SystemTime::now()),
        },
        // 401 {"error":"The access token is invalid"} (or revoked, or
        // expired): permanent until the token is replaced.
        401 => ChannelError::Config {
            reason: format!(
                "Mastodon refused the access token (401{})",
                describe(&parsed)
            ),
        },
        // 403 "This action is outside the authorized scopes" (no
        // write:statuses) or "Your login is currently disabled": the account
        // or token must change.
        403 => ChannelError::Config {
            reason: format!(
                "Mastodon forbids this account or token to post (403{}); it needs the write:statuses scope",
                describe(&parsed)
            ),
        },
        // 404 {"error":"Record not found"}: the status replied to
        // (in_reply_to_id) was deleted, or the URL is not a Mastodon API.
        404 => ChannelError::Rejected {
            reason: format!(
                "Mastodon answered 404{}: the post replied to is gone, or the instance URL is wrong",
                describe(&parsed)
            ),
            status: Some(code),
        },
        // 422 {"error":"Validation failed: Text can't be blank"}, or the text
        // is over the instance's character limit: this status never passes.
        422 => ChannelError::Rejected {
            reason: format!("Mastodon refused the status (422{})", describe(&parsed)),
            status: Some(code),
        },
        // 408 and 5xx (503 while the instance is under maintenance): retry,
        // after Retry-After when given.
        408 | 500..=599 => http::error_for_status(status, headers),
        // Any other 4xx will fail again.
        400..=499 => ChannelError::Rejected {
            reason: format!("Mastodon answered {status}{}", describe(&parsed)),
            status: Some(code),
        },
        // Redirects (not followed) and anything else: the general rules.
        _ => http::error_for_status(status, headers),
    }
}

#[async_trait]
impl Channel for MastodonChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("mastodon")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    fn format(&self) -> &dyn Format {
        &MastodonFormat
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let target = delivery.target.as_str();
        if target != self.target {
            return Err(ChannelError::InvalidTarget {
                target: target.to_owned(),
                reason: format!("this Mastodon channel posts to {:?} only", self.target),
            });
        }
        // Laid out by MastodonFormat and fitted to the instance's count:
        // posted as it is.
        let text = &*delivery.text;
        let length = status_length(text);
        let max = self.limits.text.map_or(DEFAULT_MAX_CHARACTERS, |t| t.max);
        if length > max {
            return Err(ChannelError::rejected(format!(
                "the status counts {length} characters; the instance takes at most {max}"
            )));
        }
        let body = NewStatus {
            status: text,
            visibility: self.visibility,
            in_reply_to_id: delivery.thread.as_ref().map(|t| t.latest.as_str()),
        };
        let request = self
            .client
            .post(self.statuses_url.clone())
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .header("Idempotency-Key", delivery.key.as_str())
            .json(&body);
        let response = http::send(request, &self.statuses_url, self.timeout).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let answer = http::body_text(response).await;
        if !status.is_success() {
            return Err(map_error(status, &headers, &answer));
        }
        let mut receipt = Receipt::new(crate::clock::now()).with_status(status.as_u16());
        match serde_json::from_str::<Status>(&answer)
            .ok()
            .and_then(|s| status_id(&s.id))
        {
            Some(id) => receipt = receipt.with_message_ref(MessageRef::new(id)),
            // Posted all the same; the next update starts a new thread.
            None => tracing::warn!(
                key = %delivery.key,
                "Mastodon accepted the status but returned no usable id"
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
    fn rate_limits_wait_until_the_reset() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let at = |secs: u64, fmt: &str| {
            chrono::DateTime::<Utc>::from(now + Duration::from_secs(secs))
                .format(fmt)
                .to_string()
        };
        for value in [
            at(90, "%Y-%m-%dT%H:%M:%S%.3fZ"),
            at(90, "%Y-%m-%dT%H:%M:%S%.6f+00:00"),
            at(90, "%Y-%m-%dT%H:%M:%SZ"),
            at(90, "%Y-%m-%dT%H:%M:%S"),
            at(90, "%Y-%m-%d %H:%M:%S %z"),
            (1_700_000_090).to_string(),
        ] {
            let h = headers(&[
                ("x-ratelimit-limit", "300"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &value),
            ]);
            assert_eq!(
                rate_limit_delay(&h, now),
                Some(Duration::from_secs(90)),
                "{value}"
            );
        }
        // An unreadable reset falls back to Retry-After.
        let h = headers(&[("x-ratelimit-reset", "soon"), ("retry-after", "12")]);
        assert_eq!(rate_limit_delay(&h, now), Some(Duration::from_secs(12)));
        let e = map(
            429,
            &headers(&[("retry-after", "4")]),
            r#"{"error":"Too many requests"}"#,
        );
        assert_eq!(
            e,
            ChannelError::RateLimited {
                retry_after: Some(Duration::from_secs(4))
            }
        );
        assert_eq!(
            map(429, &HeaderMap::new(), ""),
            ChannelError::RateLimited { retry_after: None }
        );
    }

    #[test]
    fn failures_map_to_what_to_do_next() {
        let h = HeaderMap::new();
        // Recorded from the Mastodon API documentation.
        let e = map(401, &h, r#"{"error":"The access token is invalid"}"#);
        assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        assert!(e.to_string().contains("The access token is invalid"), "{e}");
        let e = map(
            403,
            &h,
            r#"{"error":"This action is outside the authorized scopes"}"#,
        );
        assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        let e = map(
            422,
            &h,
            r#"{"error":"Validation failed: Text character limit of 500 exceeded"}"#,
        );
        assert_eq!(e.status(), Some(422));
        assert!(!e.is_retryable());
        assert!(
            e.to_string()
                .contains("Validation failed: Text character limit of 500 exceeded"),
            "{e}"
        );
        let e = map(404, &h, r#"{"error":"Record not found"}"#);
        assert!(
            matches!(
                e,
                ChannelError::Rejected {
                    status: Some(404),
                    ..
                }
            ),
            "{e}"
        );
        let e = map(
            400,
            &h,
            r#"{"error":"invalid_grant","error_description":"The provided authorization grant is invalid"}"#,
        );
        assert!(
            e.to_string()
                .contains("invalid_grant: The provided authorization grant is invalid"),
            "{e}"
        );
        for code in [500, 502, 503, 504, 408] {
            let e = map(code, &headers(&[("retry-after", "2")]), "<html>oops</html>");
            assert!(e.is_retryable(), "{e}");
            assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
            assert!(!e.to_string().contains("html"), "{e}");
        }
        let e = map(
            422,
            &h,
            r#"{"error":"<img src=x onerror=alert(1)> https://evil/?token=abc"}"#,
        );
        assert!(!e.to_string().contains(['<', '/', '=']), "{e}");
        assert!(!map(302, &h, "").is_retryable());
    }

    #[test]
    fn the_limit_counts_what_is_sent() {
        let link = "https://status.example.com/incidents/2026-11-25-api-errors";
        let sent = MastodonFormat.layout(&Pieces {
            title: "[Identified] API @everyone (see https://docs.example.com/x).",
            body: "",
            part: None,
            next_update: None,
            link,
        });
        assert_eq!(
            sent,
            format!(
                "[Identified] API @\u{200B}everyone (see https://docs.example.com/x).\n\n{link}"
            )
        );
        assert_eq!(text_limit(500).unit.measure(&sent), status_length(&sent));
        assert_eq!(status_length(&sent), 33 + 23 + 4 + 23);
        // A link's trailing punctuation counts at the end of the text too.
        assert_eq!(status_length("https://s.example/?a="), 24);
        assert_eq!(status_length(link), CHARACTERS_RESERVED_PER_URL);
        assert_eq!(
            status_length("status.example.com"),
            18,
            "bare domains are text"
        );
        assert_eq!(status_length("gemini://x.example/long/path"), 23);
    }

    #[test]
    fn ids_are_kept_when_plain() {
        assert_eq!(
            status_id(&serde_json::json!("109347000000000000")).as_deref(),
            Some("109347000000000000")
        );
        assert_eq!(
            status_id(&serde_json::json!("AbC-12_x")).as_deref(),
            Some("AbC-12_x")
        );
        assert_eq!(status_id(&serde_json::json!(42)).as_deref(), Some("42"));
        assert_eq!(status_id(&serde_json::json!("")), None);
        assert_eq!(status_id(&serde_json::json!("a/b")), None);
        assert_eq!(status_id(&serde_json::json!(null)), None);
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_secrets() {
        let ok = || MastodonChannel::builder("https://mastodon.example", "SECRET-token");
        let ch = ok().build().unwrap();
        assert_eq!(
            ch.statuses_url.as_str(),
            "https://mastodon.example/api/v1/statuses"
        );
        assert!(ch.limits().threads && !ch.limits().primary);
        assert_eq!(ch.limits().text.unwrap().max, DEFAULT_MAX_CHARACTERS);
        assert_eq!(
            ch.limits().rate,
            Some(RateLimit::new(300, Duration::from_secs(300)).unwrap())
        );
        assert!(!format!("{ch:?}").contains("SECRET"));
        assert!(!format!("{:?}", ok()).contains("SECRET"));
        let custom = ok()
            .max_characters(5_000)
            .visibility(Visibility::Direct)
            .target("eu")
            .build()
            .unwrap();
        assert_eq!(custom.limits().text.unwrap().max, 5_000);
        assert_eq!(custom.visibility.as_str(), "direct");
        for bad in [
            ok().http(HttpOptions::new().timeout(Duration::ZERO)),
            ok().max_characters(10),
            ok().max_characters(1_000_000),
            ok().target(" "),
            MastodonChannel::builder("https://mastodon.example", ""),
            MastodonChannel::builder("https://mastodon.example", "SECRET token"),
            MastodonChannel::builder("http://mastodon.example", "SECRET-token"),
            MastodonChannel::builder("https://mastodon.example/?x=SECRET", "SECRET-token"),
            MastodonChannel::builder("not a url", "SECRET-token"),
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
