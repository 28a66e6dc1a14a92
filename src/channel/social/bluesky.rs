//! Bluesky (AT Protocol): posts to one account through its PDS, logged in with
//! the account's handle and an app password; updates reply under the first
//! post.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::channel::social::bluesky::BlueskyChannel;
//!
//! // Settings → Privacy and security → App passwords. Never the account password.
//! let bluesky = BlueskyChannel::builder("status.example.com", "abcd-efgh-ijkl-mnop")
//!     .langs(["en"]) // the default
//!     .build()?;
//! // Route to the account itself: Target::new("status.example.com").
//! # let _ = bluesky; Ok(()) }
//! ```
//!
//! **Session.** The first send logs in (`com.atproto.server.createSession`,
//! limited by Bluesky to 30 per 5 minutes and 300 a day per account); the
//! session is kept and shared by every send. When the PDS answers that the
//! access token expired (`ExpiredToken`, `InvalidToken`, or 401), the channel
//! refreshes the session (`com.atproto.server.refreshSession` with the refresh
//! token), or logs in again if that fails too, and sends the post once more.
//!
//! **Posts.** Each delivery is one `com.atproto.repo.createRecord` of an
//! `app.bsky.feed.post` record: the fitted text as it is (the plain layout,
//! which ends with the link), `createdAt`, the configured `langs`, and one
//! facet that makes the link to the status page a link (Bluesky links
//! nothing on its own; a facet's `byteStart`/`byteEnd` are UTF-8 byte
//! offsets, end exclusive, found by [`link_range`]; a hand-built text without
//! the link is posted without a facet). Updates reply to the previous post,
//! with the first post as the thread's root, so the incident reads as one
//! thread.
//! The [`Receipt`]'s message ref is the post's `uri` and `cid`
//! ([`PostRef`]).
//!
//! **Targets.** A channel posts as one account; the target names it: its
//! handle (with or without `@`), its DID, or the identifier it logs in with.
//! Anything else is an [`InvalidTarget`](ChannelError::InvalidTarget).
//!
//! **Text.** Plain text: user text cannot mention or link anyone (mentions and
//! links exist only as facets, and the only facet is the status page link).
//! Limits are 300 grapheme clusters (the lexicon's `maxGraphemes`) and
//! 3,000 UTF-8 bytes (its `maxLength`): the channel's [`TextLimit`] has both
//! bounds ([`text_limit`]), so fitting shortens a text until it is within
//! both, and a text over either is refused before any request. Only texts
//! averaging more than ten bytes a grapheme (long emoji sequences, some
//! scripts with many combining marks) can pass the first and fail the
//! second.
//!
//! **Idempotency.** By default the record key (`rkey`) is derived from the
//! delivery's idempotency key: a TID (the record key type of posts) whose time
//! is within a second after the update's. A retried create then cannot post
//! twice: the PDS refuses a record key that exists. The reference PDS answers
//! such a create with HTTP 500 `InternalServerError` (reported on a
//! Bluesky-hosted PDS in bluesky-social/atproto#3718, and in
//! bluesky-social/indigo#873); a dedicated error is proposed
//! (bluesky-social/atproto#4728, its name not yet known). So after a 500, a
//! 409, or a 4xx whose error name mentions an existing record, the channel
//! reads the record (`com.atproto.repo.getRecord`, no token) and, if it holds
//! the same text, reports the post as sent; a different text under the key is
//! a rejection; no record leaves the original error. This is inferred from the
//! PDS source and those reports, not observed on bsky.social. Turn it off with
//! [`BlueskyChannelBuilder::idempotent_record_keys`].
//!
//! **Rates.** Bluesky allows an account 5,000 write points an hour (a post
//! costs 3) and 35,000 a day; the channel's default rate is 1,666 posts an
//! hour. A 429 is a rate limit whose delay is `Retry-After` or else
//! `RateLimit-Reset` (epoch seconds).
//!
//! **Errors**: a refused login (wrong identifier or app
//! password, 401 `AuthenticationRequired`; a taken-down account; a second
//! factor required) is a configuration error; 400 `InvalidRequest` (and other
//! refusals of the post) are permanent rejections that keep Bluesky's error
//! name and a cleaned message; 429 is a rate limit; 5xx is transient.
//!
//! The app password and the session tokens are secrets: they never appear in
//! `Debug` output, logs or errors.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use unicode_segmentation::UnicodeSegmentation;
use url::Url;

use crate::channel::http::{self, HttpOptions};
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, IdempotencyKey,
    MessageRef, RateLimit, Receipt, Thread,
};
use crate::render::{LengthUnit, TextLimit};

/// The PDS of accounts hosted by Bluesky (the entryway; it routes each
/// account to its own PDS).
pub const DEFAULT_PDS: &str = "https://bsky.social";

/// The longest post, in grapheme clusters (`maxGraphemes` of
/// `app.bsky.feed.post#text`).
pub const MAX_GRAPHEMES: usize = 300;

/// The longest post, in UTF-8 bytes (`maxLength` of `app.bsky.feed.post#text`;
/// lexicon string lengths are UTF-8 bytes).
pub const MAX_BYTES: usize = 3_000;

/// Bluesky's text limit: at most [`MAX_GRAPHEMES`] grapheme clusters and
/// [`MAX_BYTES`] UTF-8 bytes, counted on the text as it is posted: the plain
/// layout, which ends with the link.
pub const fn text_limit() -> TextLimit {
    TextLimit::graphemes(MAX_GRAPHEMES).and(MAX_BYTES, LengthUnit::Utf8Bytes)
}

/// The most `langs` a post may carry.
const MAX_LANGS: usize = 3;

/// Posts an hour an account may create: 5,000 write points, 3 per create.
const POSTS_PER_HOUR: u32 = 1_666;

const POST: &str = "app.bsky.feed.post";
const LINK_FEATURE: &str = "app.bsky.richtext.facet#link";

/// Which XRPC call failed, for [`map_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    /// `com.atproto.server.createSession`: logging in with the app password.
    CreateSession,
    /// `com.atproto.server.refreshSession`: renewing the session.
    RefreshSession,
    /// `com.atproto.repo.createRecord`: the post itself.
    CreateRecord,
}

/// A post's strong reference: its `at://` URI and the CID of its record. It is
/// what replies point to, and what the channel keeps in a [`MessageRef`] (as
/// JSON, `{"uri":…,"cid":…}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostRef {
    /// `at://did:plc:…/app.bsky.feed.post/<rkey>`.
    pub uri: String,
    /// The record's CID (`bafyrei…`).
    pub cid: String,
}

impl PostRef {
    /// The message ref the channel's receipts carry.
    pub fn to_message_ref(&self) -> MessageRef {
        MessageRef::new(serde_json::json!({"uri": self.uri, "cid": self.cid}).to_string())
    }

    /// Reads a message ref made by [`to_message_ref`](Self::to_message_ref);
    /// `None` for anything else.
    pub fn from_message_ref(message_ref: &MessageRef) -> Option<Self> {
        serde_json::from_str::<PostRef>(message_ref.as_str())
            .ok()
            .filter(|r| r.uri.starts_with("at://") && !r.cid.is_empty())
    }
}

/// The byte range of `link` in `text` (start inclusive, end exclusive: a
/// facet's `byteStart` and `byteEnd`), or `None` if `text` does not contain
/// it. Fitted texts end with the link, so the range is that of its last
/// occurrence. The text is only read: it is posted as it is.
///
/// ```
/// use tidings::channel::social::bluesky::link_range;
///
/// let range = link_range("Panne réglée 🎉\nhttps://s.example/i/1", "https://s.example/i/1");
/// assert_eq!(range, Some(20..41));
/// assert_eq!(link_range("Fixed.", "https://s.example/i/1"), None);
/// ```
pub fn link_range(text: &str, link: &str) -> Option<Range<usize>> {
    if link.is_empty() {
        return None;
    }
    let start = text.rfind(link)?;
    Some(start..start + link.len())
}

/// The record key of a delivery's post: a TID (13 characters of base32-sortable,
/// a 53-bit microsecond time and a 10-bit clock id) derived from the delivery's
/// idempotency key, with its time within a second after `at` (the update's
/// time). The same delivery always gets the same key.
pub fn record_key(key: &IdempotencyKey, at: DateTime<Utc>) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let digest = Sha256::digest(key.as_str().as_bytes());
    let mut word = [0u8; 8];
    word.copy_from_slice(&digest[..8]);
    let h = u64::from_be_bytes(word);
    let secs = u64::try_from(at.timestamp()).unwrap_or(0);
    let micros = secs.saturating_mul(1_000_000).saturating_add(h % 1_000_000) & ((1 << 53) - 1);
    let clock = (h >> 32) & 0x3ff;
    let tid = (micros << 10) | clock;
    (0..13)
        .map(|i| {
            let shift = 60 - 5 * i;
            char::from(ALPHABET[((tid >> shift) & 31) as usize])
        })
        .collect()
}

/// The account's session: secrets, with a hand-written `Debug`.
struct Session {
    access: String,
    refresh: String,
    did: String,
    handle: String,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("did", &self.did)
            .field("handle", &self.handle)
            .field("tokens", &"<redacted>")
            .finish()
    }
}

/// The endpoints, built once from the PDS URL.
struct Endpoints {
    pds: Url,
    create_session: Url,
    refresh_session: Url,
    create_record: Url,
    get_record: Url,
}

impl Endpoints {
    fn new(pds: Url) -> Result<Self, String> {
        let base = pds.as_str().trim_end_matches('/').to_owned();
        let xrpc = |method: &str| {
            http::check_url(&format!("{base}/xrpc/{method}"), false)
                .map_err(|r| format!("cannot build the {method} URL: {r}"))
        };
        Ok(Self {
            create_session: xrpc("com.atproto.server.createSession")?,
            refresh_session: xrpc("com.atproto.server.refreshSession")?,
            create_record: xrpc("com.atproto.repo.createRecord")?,
            get_record: xrpc("com.atproto.repo.getRecord")?,
            pds,
        })
    }
}

/// Posts to one Bluesky account. See the [module docs](self).
pub struct BlueskyChannel {
    endpoints: Endpoints,
    identifier: String,
    password: String,
    langs: Vec<String>,
    idempotent_keys: bool,
    session: Mutex<Option<Arc<Session>>>,
    client: reqwest::Client,
    timeout: Duration,
    limits: ChannelLimits,
}

impl fmt::Debug for BlueskyChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let session = match self.session.try_lock() {
            Ok(guard) => match guard.as_ref() {
                Some(s) => format!("{} ({})", s.handle, s.did),
                None => "none yet".to_owned(),
            },
            Err(_) => "busy".to_owned(),
        };
        f.debug_struct("BlueskyChannel")
            .field("pds", &self.endpoints.pds.as_str())
            .field("identifier", &self.identifier)
            .field("app_password", &"<redacted>")
            .field("session", &session)
            .field("langs", &self.langs)
            .field("idempotent_record_keys", &self.idempotent_keys)
            .field("timeout", &self.timeout)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Builds a [`BlueskyChannel`]; every check happens in [`build`](Self::build).
#[must_use]
pub struct BlueskyChannelBuilder {
    identifier: String,
    password: String,
    base: String,
    langs: Vec<String>,
    idempotent_keys: bool,
    http: HttpOptions,
    rate: Option<RateLimit>,
}

impl fmt::Debug for BlueskyChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlueskyChannelBuilder")
            .field("identifier", &self.identifier)
            .field("app_password", &"<redacted>")
            .field("pds", &self.base)
            .field("langs", &self.langs)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl BlueskyChannel {
    /// A builder logging in as `identifier` (the account's handle, e.g.
    /// `status.example.com`, its DID, or its e-mail address) with an app
    /// password. The session is created on the first send.
    pub fn builder(
        identifier: impl Into<String>,
        app_password: impl Into<String>,
    ) -> BlueskyChannelBuilder {
        BlueskyChannelBuilder {
            identifier: identifier.into(),
            password: app_password.into(),
            base: DEFAULT_PDS.to_owned(),
            langs: vec!["en".to_owned()],
            idempotent_keys: true,
            http: HttpOptions::new(),
            rate: None,
        }
    }
}

/// A BCP 47 language tag, loosely: letters, digits and `-`, starting with a
/// letter, at most 35 characters.
fn is_lang(tag: &str) -> bool {
    (2..=35).contains(&tag.len())
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && tag.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && !tag.ends_with('-')
        && !tag.contains("--")
}

impl BlueskyChannelBuilder {
    /// The PDS to talk to (default [`DEFAULT_PDS`]; a self-hosted PDS, or a
    /// local server in tests).
    pub fn base_url(mut self, pds: impl Into<String>) -> Self {
        self.base = pds.into();
        self
    }

    /// The post's languages (`langs`, default `["en"]`, at most 3 BCP 47
    /// tags); none leaves the field out.
    pub fn langs<I, S>(mut self, langs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.langs = langs.into_iter().map(Into::into).collect();
        self
    }

    /// Whether each post's record key is derived from the delivery's
    /// idempotency key (default on), so a retried post cannot appear twice.
    /// Off, the PDS picks the key and a retry after a timeout may post twice.
    pub fn idempotent_record_keys(mut self, yes: bool) -> Self {
        self.idempotent_keys = yes;
        self
    }

    /// How requests are made: timeouts, `User-Agent`, a proxy, or a client
    /// of your own (default [`HttpOptions::new`]).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// Posts for the whole channel (default 1,666 an hour, what Bluesky's
    /// write limit allows).
    pub fn rate(mut self, rate: RateLimit) -> Self {
        self.rate = Some(rate);
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<BlueskyChannel, BuildError> {
        let identifier = self
            .identifier
            .strip_prefix('@')
            .unwrap_or(&self.identifier)
            .to_owned();
        if identifier.is_empty()
            || identifier.len() > 253
            || !identifier.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(BuildError::credential(
                "Bluesky identifier (handle, DID or e-mail)",
                "it is empty, too long, or has spaces or control characters",
            ));
        }
        if self.password.is_empty() || self.password.chars().any(char::is_control) {
            return Err(BuildError::credential(
                "Bluesky app password",
                "it is empty or has control characters",
            ));
        }
        if self.langs.len() > MAX_LANGS {
            return Err(BuildError::setting(
                "Bluesky langs",
                format!(
                    "a post takes at most {MAX_LANGS} languages, not {}",
                    self.langs.len()
                ),
            ));
        }
        if let Some(bad) = self.langs.iter().find(|l| !is_lang(l)) {
            return Err(BuildError::setting(
                "Bluesky langs",
                format!("{bad:?} is not a language tag (BCP 47, e.g. \"en\" or \"pt-BR\")"),
            ));
        }
        let field = "Bluesky base URL (PDS)";
        let pds = http::url_setting(&self.base, false, field)?;
        if pds.query().is_some() || pds.fragment().is_some() {
            return Err(BuildError::url(field, "it must have no query or fragment"));
        }
        let endpoints = Endpoints::new(pds).map_err(|r| BuildError::url(field, r))?;
        let rate = match self.rate {
            Some(rate) => rate,
            None => RateLimit::new(POSTS_PER_HOUR, Duration::from_secs(3_600))
                .map_err(|e| BuildError::setting("Bluesky default rate", e.to_string()))?,
        };
        let limits = ChannelLimits::new()
            .with_text(text_limit())
            .with_rate(rate)
            .threaded()
            .deduplicating();
        let client = http::client(&self.http)?;
        Ok(BlueskyChannel {
            endpoints,
            identifier,
            password: self.password,
            langs: self.langs,
            idempotent_keys: self.idempotent_keys,
            session: Mutex::new(None),
            client,
            timeout: self.http.request_timeout(),
            limits,
        })
    }
}

#[derive(Serialize)]
struct CreateSession<'a> {
    identifier: &'a str,
    password: &'a str,
}

/// `createSession` and `refreshSession` answers (other fields are ignored).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionAnswer {
    access_jwt: String,
    refresh_jwt: String,
    did: String,
    handle: String,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Serialize, Clone, Copy)]
struct CreateRecord<'a> {
    repo: &'a str,
    collection: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rkey: Option<&'a str>,
    record: PostRecord<'a>,
}

#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct PostRecord<'a> {
    #[serde(rename = "$type")]
    kind: &'static str,
    text: &'a str,
    created_at: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    langs: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    facets: Option<[Facet<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<Reply<'a>>,
}

#[derive(Serialize, Clone, Copy)]
struct Facet<'a> {
    index: ByteSlice,
    features: [LinkFeature<'a>; 1],
}

#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct ByteSlice {
    byte_start: usize,
    byte_end: usize,
}

#[derive(Serialize, Clone, Copy)]
struct LinkFeature<'a> {
    #[serde(rename = "$type")]
    kind: &'static str,
    uri: &'a str,
}

#[derive(Serialize, Clone, Copy)]
struct Reply<'a> {
    root: &'a PostRef,
    parent: &'a PostRef,
}

/// `getRecord`'s answer: the record's reference and its value.
#[derive(Deserialize)]
struct StoredRecord {
    uri: String,
    cid: String,
    #[serde(default)]
    value: Option<StoredPost>,
}

#[derive(Deserialize)]
struct StoredPost {
    #[serde(default)]
    text: Option<String>,
}

/// An XRPC error body: `{"error": "InvalidRequest", "message": "…"}`.
#[derive(Deserialize, Default)]
struct XrpcError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl XrpcError {
    fn parse(body: &str) -> Self {
        serde_json::from_str(body).unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }
}

/// An answer other than success: what [`map_error`] reads.
struct Refusal {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Refusal {
    fn error_name(&self) -> String {
        XrpcError::parse(&self.body).name().to_owned()
    }

    /// The access token is no longer good: refresh the session. The PDS
    /// answers 400 `ExpiredToken` or `InvalidToken`; the entryway and the
    /// AppView answer 401.
    fn session_expired(&self) -> bool {
        let name = self.error_name();
        self.status == StatusCode::UNAUTHORIZED
            || (self.status == StatusCode::BAD_REQUEST
                && matches!(name.as_str(), "ExpiredToken" | "InvalidToken"))
    }

    /// The create may have failed because the record key exists: the PDS
    /// answers 500 today; a conflict or an error naming an existing record
    /// is what a fixed PDS may answer.
    fn may_mean_exists(&self) -> bool {
        let name = self.error_name().to_ascii_lowercase();
        self.status == StatusCode::INTERNAL_SERVER_ERROR
            || self.status == StatusCode::CONFLICT
            || (self.status.is_client_error() && name.contains("exist"))
    }
}

/// Why a call did not succeed.
enum Failure {
    /// The PDS answered with an error.
    Refused(Refusal),
    /// No usable answer: a timeout, a dropped connection, a redirect.
    Transport(ChannelError),
}

impl From<ChannelError> for Failure {
    fn from(e: ChannelError) -> Self {
        Failure::Transport(e)
    }
}

impl Failure {
    fn into_error(self, call: Call) -> ChannelError {
        match self {
            Failure::Refused(r) => map_error(call, r.status, &r.headers, &r.body),
            Failure::Transport(e) => e,
        }
    }
}

/// Maps the PDS's answer to a failed `call` (status, headers, XRPC error
/// body) to what to do next. Only the error name and a cleaned, shortened
/// message are kept, never the body.
fn map_error(call: Call, status: StatusCode, headers: &HeaderMap, body: &str) -> ChannelError {
    let parsed = XrpcError::parse(body);
    let name = parsed.name();
    let code = status.as_u16();
    let what = describe(&parsed);
    match (call, code, name) {
        // Rate limits (`RateLimitExceeded`): per IP, per account for writes,
        // and 30 logins per 5 minutes. Bluesky says when in `RateLimit-Reset`
        // (epoch seconds).
        (_, 429, _) => ChannelError::RateLimited {
            retry_after: rate_limit_delay(headers, SystemTime::now()),
        },
        // "429 and 5xx: retry": the PDS or a proxy failed.
        (_, 408 | 500..=599, _) => ChannelError::Transient {
            reason: format!("Bluesky answered {status}{what}"),
            status: Some(code),
            retry_after: http::retry_after(headers, SystemTime::now()),
        },
        // A login refused: wrong identifier or app password (401
        // `AuthenticationRequired`), a taken-down account (`AccountTakedown`),
        // a second factor required (`AuthFactorTokenRequired`: use an app
        // password). Sending again will not help; fix the credentials.
        (Call::CreateSession, 400..=499, _) => ChannelError::Config {
            reason: format!(
                "Bluesky refused the login ({code}{what}); check the identifier and app password"
            ),
        },
        // A refresh refused (the channel logs in again before this is
        // reported): the session is gone.
        (Call::RefreshSession, 400..=499, _) => ChannelError::Config {
            reason: format!("Bluesky refused to refresh the session ({code}{what})"),
        },
        // Still expired right after a refresh or a new login: a clock or PDS
        // hiccup; the next attempt refreshes again.
        (Call::CreateRecord, 400 | 401, "ExpiredToken") => ChannelError::Transient {
            reason: format!("Bluesky says the new session has expired ({code}{what})"),
            status: Some(code),
            retry_after: None,
        },
        // The post was refused for the account itself, even with a fresh
        // session: revoked app password, taken-down or deactivated account.
        (Call::CreateRecord, 401 | 403, _)
        | (
            Call::CreateRecord,
            400,
            "InvalidToken"
            | "AccountTakedown"
            | "AccountDeactivated"
            | "AuthRequired"
            | "AuthenticationRequired",
        ) => ChannelError::Config {
            reason: format!("Bluesky refused the account's session ({code}{what})"),
        },
        // Another write to the repository raced this one: try again.
        (Call::CreateRecord, 400, "ConcurrentWrites") => ChannelError::Transient {
            reason: format!("Bluesky answered {code}{what}"),
            status: Some(code),
            retry_after: None,
        },
        // 400 `InvalidRequest` (an invalid record: too long, bad facet, bad
        // reply reference) and every other refusal: permanent.
        (Call::CreateRecord, 400..=499, _) => ChannelError::Rejected {
            reason: format!("Bluesky refused the post{what}"),
            status: Some(code),
        },
        // Redirects (not followed) and anything else: the general rules.
        _ => http::error_for_status(status, headers),
    }
}

/// The delay of a 429: `Retry-After`, else `RateLimit-Reset`. Bluesky sends
/// the reset as epoch seconds; the IETF draft's delta seconds (small values)
/// are read as such.
fn rate_limit_delay(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    const DAY: u64 = 86_400;
    if let Some(after) = http::retry_after(headers, now) {
        return Some(after);
    }
    let reset = headers
        .get("ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    if reset < 1_000_000_000 {
        return Some(Duration::from_secs(reset.min(DAY)));
    }
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(reset.saturating_sub(now).min(DAY)))
}

/// `: InvalidRequest: Invalid app.bsky.feed.post record: …` from an XRPC error:
/// the name (letters and digits, up to 64) and the message (plain
/// punctuation, whitespace collapsed, no word of 40 characters or more, such
/// as a token, cut to 120 characters).
fn describe(error: &XrpcError) -> String {
    let name: String = error
        .name()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(64)
        .collect();
    let mut message = String::new();
    for word in error.message.as_deref().unwrap_or("").split_whitespace() {
        let word: String = word
            .chars()
            .filter(|c| c.is_alphanumeric() || " .,:;'/_-()$#@".contains(*c))
            .collect();
        if word.is_empty() || word.chars().count() >= 40 {
            continue;
        }
        if !message.is_empty() {
            message.push(' ');
        }
        message.push_str(&word);
    }
    if message.chars().count() > 120 {
        message = message.chars().take(119).collect();
        message.push('…');
    }
    match (name.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(": {name}"),
        (true, false) => format!(": {message}"),
        (false, false) => format!(": {name}: {message}"),
    }
}

/// The post's reply references from the thread: root = the first post,
/// parent = the latest. A reference that does not parse is replaced by the
/// other; with neither, the post starts a new thread.
fn reply_refs(thread: Option<&Thread>) -> Option<(PostRef, PostRef)> {
    let thread = thread?;
    let root = PostRef::from_message_ref(&thread.root);
    let parent = PostRef::from_message_ref(&thread.latest);
    match (root, parent) {
        (Some(root), Some(parent)) => Some((root, parent)),
        (Some(one), None) | (None, Some(one)) => {
            tracing::warn!("a Bluesky thread reference is unreadable; replying to the other");
            Some((one.clone(), one))
        }
        (None, None) => {
            tracing::warn!("the Bluesky thread references are unreadable; posting unthreaded");
            None
        }
    }
}

impl BlueskyChannel {
    /// A POST to `url` with the bearer token, if any.
    fn post(&self, url: &Url, bearer: Option<&str>) -> reqwest::RequestBuilder {
        let request = self
            .client
            .post(url.clone())
            .header(ACCEPT, "application/json");
        match bearer {
            Some(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
            None => request,
        }
    }

    /// Sends an XRPC call to `url`; the answer's body on success.
    async fn xrpc(&self, request: reqwest::RequestBuilder, url: &Url) -> Result<String, Failure> {
        let response = http::send(request, url, self.timeout).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = http::body_text(response).await;
        if status.is_success() {
            Ok(body)
        } else {
            Err(Failure::Refused(Refusal {
                status,
                headers,
                body,
            }))
        }
    }

    fn new_session(&self, call: Call, body: &str) -> Result<Session, ChannelError> {
        let answer: SessionAnswer =
            serde_json::from_str(body).map_err(|_| ChannelError::Transient {
                reason: format!("Bluesky answered {call:?} with something other than a session"),
                status: Some(200),
                retry_after: None,
            })?;
        if let Some(status) = answer.status.as_deref().filter(|s| *s != "active") {
            let status: String = status
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(32)
                .collect();
            return Err(ChannelError::Config {
                reason: format!("the Bluesky account is {status}; it cannot post"),
            });
        }
        Ok(Session {
            access: answer.access_jwt,
            refresh: answer.refresh_jwt,
            did: answer.did,
            handle: answer.handle,
        })
    }

    /// Logs in with the app password.
    async fn create_session(&self) -> Result<Session, ChannelError> {
        let body = CreateSession {
            identifier: &self.identifier,
            password: &self.password,
        };
        let url = &self.endpoints.create_session;
        let answer = self
            .xrpc(self.post(url, None).json(&body), url)
            .await
            .map_err(|f| self.scrub(f.into_error(Call::CreateSession), None))?;
        let session = self.new_session(Call::CreateSession, &answer)?;
        tracing::info!(handle = %session.handle, did = %session.did, "logged in to Bluesky");
        Ok(session)
    }

    /// The cached session, or a new one.
    async fn session(&self) -> Result<Arc<Session>, ChannelError> {
        let mut cached = self.session.lock().await;
        if let Some(session) = cached.as_ref() {
            return Ok(session.clone());
        }
        let session = Arc::new(self.create_session().await?);
        *cached = Some(session.clone());
        Ok(session)
    }

    /// Replaces `stale` (whose access token the PDS refused): by a session
    /// another send renewed meanwhile, else by refreshing it, else by logging
    /// in again.
    async fn renew(&self, stale: &Arc<Session>) -> Result<Arc<Session>, ChannelError> {
        let mut cached = self.session.lock().await;
        if let Some(current) = cached.as_ref()
            && !Arc::ptr_eq(current, stale)
        {
            return Ok(current.clone());
        }
        // refreshSession takes no input: a body, even `{}`, is refused.
        let url = &self.endpoints.refresh_session;
        let refreshed = self.xrpc(self.post(url, Some(&stale.refresh)), url).await;
        match refreshed {
            Ok(body) => {
                let session = Arc::new(self.new_session(Call::RefreshSession, &body)?);
                tracing::debug!(handle = %session.handle, "refreshed the Bluesky session");
                *cached = Some(session.clone());
                return Ok(session);
            }
            // The refresh token expired or was revoked: log in again below.
            Err(Failure::Refused(r))
                if r.status.is_client_error() && r.status != StatusCode::TOO_MANY_REQUESTS => {}
            // Rate limited, or the PDS is failing: a new login would fail too.
            Err(f) => return Err(self.scrub(f.into_error(Call::RefreshSession), Some(stale))),
        }
        *cached = None;
        let session = Arc::new(self.create_session().await?);
        *cached = Some(session.clone());
        Ok(session)
    }

    /// An error without any secret: a message that would show the app
    /// password or a token (should the PDS ever echo one) is replaced.
    fn scrub(&self, error: ChannelError, session: Option<&Session>) -> ChannelError {
        let text = format!("{error} {error:?}");
        let mut secrets = vec![self.password.as_str()];
        if let Some(s) = session {
            secrets.extend([s.access.as_str(), s.refresh.as_str()]);
        }
        if !secrets.iter().any(|s| !s.is_empty() && text.contains(s)) {
            return error;
        }
        let reason = "Bluesky's answer quoted a secret; it was left out".to_owned();
        match error {
            ChannelError::Transient {
                status,
                retry_after,
                ..
            } => ChannelError::Transient {
                reason,
                status,
                retry_after,
            },
            ChannelError::Rejected { status, .. } => ChannelError::Rejected { reason, status },
            ChannelError::InvalidTarget { target, .. } => {
                ChannelError::InvalidTarget { target, reason }
            }
            ChannelError::Config { .. } => ChannelError::Config { reason },
            other => other,
        }
    }

    /// Checks that `target` names this channel's account: the identifier it
    /// logs in with, else (after logging in) its handle or DID.
    async fn check_target(&self, target: &str) -> Result<(), ChannelError> {
        let wanted = target.strip_prefix('@').unwrap_or(target);
        if wanted.eq_ignore_ascii_case(&self.identifier) {
            return Ok(());
        }
        let session = self.session().await?;
        if wanted.eq_ignore_ascii_case(&session.handle) || wanted == session.did {
            return Ok(());
        }
        Err(ChannelError::InvalidTarget {
            target: target.to_owned(),
            reason: format!(
                "this Bluesky channel posts as {}; route to its handle or DID",
                session.handle
            ),
        })
    }

    async fn create_record(
        &self,
        session: &Session,
        post: &CreateRecord<'_>,
    ) -> Result<String, Failure> {
        let body = CreateRecord {
            repo: &session.did,
            ..*post
        };
        let url = &self.endpoints.create_record;
        self.xrpc(self.post(url, Some(&session.access)).json(&body), url)
            .await
    }

    /// After a create that may have failed because the record exists: the
    /// existing post, if it holds `text` (it is this delivery's, sent by an
    /// earlier attempt). A different post under the key is an error; no post,
    /// or no answer, is `None`.
    async fn existing_post(
        &self,
        did: &str,
        rkey: &str,
        text: &str,
    ) -> Result<Option<PostRef>, ChannelError> {
        let mut url = self.endpoints.get_record.clone();
        url.query_pairs_mut()
            .append_pair("repo", did)
            .append_pair("collection", POST)
            .append_pair("rkey", rkey);
        let request = self
            .client
            .get(url.clone())
            .header(ACCEPT, "application/json");
        let Ok(response) = http::send(request, &url, self.timeout).await else {
            return Ok(None);
        };
        if !response.status().is_success() {
            return Ok(None);
        }
        let Ok(stored) = serde_json::from_str::<StoredRecord>(&http::body_text(response).await)
        else {
            return Ok(None);
        };
        let same = stored
            .value
            .and_then(|v| v.text)
            .is_some_and(|stored_text| stored_text == text);
        if !same {
            return Err(ChannelError::Rejected {
                reason: format!("the record key {rkey} already holds a different post"),
                status: None,
            });
        }
        Ok(Some(PostRef {
            uri: stored.uri,
            cid: stored.cid,
        }))
    }
}

#[async_trait]
impl Channel for BlueskyChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("bluesky")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let link = delivery.link.as_str();
        // The plain layout, fitted to both bounds: posted as it is.
        let text = &*delivery.text;
        let range = link_range(text, link);
        let graphemes = text.graphemes(true).count();
        if graphemes > MAX_GRAPHEMES || text.len() > MAX_BYTES {
            return Err(ChannelError::Rejected {
                reason: format!(
                    "the post has {graphemes} graphemes and {} bytes; Bluesky takes at most {MAX_GRAPHEMES} and {MAX_BYTES}",
                    text.len()
                ),
                status: None,
            });
        }
        self.check_target(delivery.target.as_str()).await?;
        let replies = reply_refs(delivery.thread.as_ref());
        let rkey = self
            .idempotent_keys
            .then(|| record_key(&delivery.key, delivery.update.at));
        let created_at = crate::clock::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let post = CreateRecord {
            repo: "",
            collection: POST,
            rkey: rkey.as_deref(),
            record: PostRecord {
                kind: POST,
                text,
                created_at: &created_at,
                langs: &self.langs,
                facets: range.map(|range| {
                    [Facet {
                        index: ByteSlice {
                            byte_start: range.start,
                            byte_end: range.end,
                        },
                        features: [LinkFeature {
                            kind: LINK_FEATURE,
                            uri: link,
                        }],
                    }]
                }),
                reply: replies
                    .as_ref()
                    .map(|(root, parent)| Reply { root, parent }),
            },
        };
        let mut session = self.session().await?;
        let mut answer = self.create_record(&session, &post).await;
        if let Err(Failure::Refused(refusal)) = &answer
            && refusal.session_expired()
        {
            session = self.renew(&session).await?;
            answer = self.create_record(&session, &post).await;
        }
        let posted = match answer {
            Ok(body) => serde_json::from_str::<PostRef>(&body).ok(),
            Err(Failure::Refused(refusal)) => {
                if let (Some(rkey), true) = (rkey.as_deref(), refusal.may_mean_exists())
                    && let Some(existing) = self.existing_post(&session.did, rkey, text).await?
                {
                    tracing::info!(key = %delivery.key, "the Bluesky post already exists (an earlier attempt); not posting twice");
                    return Ok(Receipt::new(crate::clock::now())
                        .with_message_ref(existing.to_message_ref())
                        .with_status(200));
                }
                let error = map_error(
                    Call::CreateRecord,
                    refusal.status,
                    &refusal.headers,
                    &refusal.body,
                );
                return Err(self.scrub(error, Some(&session)));
            }
            Err(Failure::Transport(e)) => return Err(e),
        };
        match posted {
            Some(post) => Ok(Receipt::new(crate::clock::now())
                .with_message_ref(post.to_message_ref())
                .with_status(200)),
            // With a derived record key, a retry finds the post and its
            // reference; without one, sending again would post twice.
            None if rkey.is_some() => Err(ChannelError::Transient {
                reason: "Bluesky accepted the post but returned no uri and cid".into(),
                status: Some(200),
                retry_after: None,
            }),
            None => {
                tracing::warn!(key = %delivery.key, "Bluesky accepted the post but returned no uri and cid");
                Ok(Receipt::new(crate::clock::now()).with_status(200))
            }
        }
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

    fn map(call: Call, status: u16, h: &HeaderMap, body: &str) -> ChannelError {
        map_error(call, StatusCode::from_u16(status).unwrap(), h, body)
    }

    #[test]
    fn login_failures_are_configuration_errors() {
        let h = HeaderMap::new();
        // The reference PDS's answer to a wrong app password.
        let e = map(
            Call::CreateSession,
            401,
            &h,
            r#"{"error":"AuthenticationRequired","message":"Invalid identifier or password"}"#,
        );
        assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("AuthenticationRequired: Invalid identifier or password"),
            "{e}"
        );
        for body in [
            r#"{"error":"AccountTakedown","message":"Account has been taken down"}"#,
            r#"{"error":"AuthFactorTokenRequired","message":"A sign in code has been sent to your email address"}"#,
            r#"{"error":"InvalidRequest","message":"Input/identifier must be a string"}"#,
        ] {
            let e = map(Call::CreateSession, 400, &h, body);
            assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        }
        // createSession's own limit: 30 per 5 minutes.
        let e = map(
            Call::CreateSession,
            429,
            &headers(&[("ratelimit-reset", "30")]),
            r#"{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}"#,
        );
        assert_eq!(
            e,
            ChannelError::RateLimited {
                retry_after: Some(Duration::from_secs(30))
            }
        );
    }

    #[test]
    fn post_failures_map_to_what_to_do_next() {
        let h = HeaderMap::new();
        let e = map(
            Call::CreateRecord,
            400,
            &h,
            r#"{"error":"InvalidRequest","message":"Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"}"#,
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
                .contains("InvalidRequest: Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"),
            "{e}"
        );
        let e = map(
            Call::CreateRecord,
            400,
            &h,
            r#"{"error":"ExpiredToken","message":"Token has expired"}"#,
        );
        assert!(e.is_retryable(), "{e}");
        for (status, body) in [
            (
                401,
                r#"{"error":"AuthenticationRequired","message":"Authentication Required"}"#,
            ),
            (
                400,
                r#"{"error":"InvalidToken","message":"Token could not be verified"}"#,
            ),
            (
                400,
                r#"{"error":"AccountTakedown","message":"Account has been taken down"}"#,
            ),
        ] {
            let e = map(Call::CreateRecord, status, &h, body);
            assert!(matches!(e, ChannelError::Config { .. }), "{e}");
        }
        let e = map(
            Call::CreateRecord,
            400,
            &h,
            r#"{"error":"ConcurrentWrites","message":"too many concurrent writes"}"#,
        );
        assert!(e.is_retryable(), "{e}");
        for status in [500, 502, 503, 504] {
            let e = map(
                Call::CreateRecord,
                status,
                &headers(&[("retry-after", "5")]),
                r#"{"error":"InternalServerError","message":"Internal Server Error"}"#,
            );
            assert_eq!(e.kind(), crate::channel::ErrorKind::Transient, "{e}");
            assert_eq!(e.retry_after(), Some(Duration::from_secs(5)));
        }
        // Not XRPC at all (a proxy's page): the status decides.
        assert!(map(Call::CreateRecord, 502, &h, "<html>Bad gateway</html>").is_retryable());
        assert!(!map(Call::CreateRecord, 413, &h, "<html>too large</html>").is_retryable());
    }

    #[test]
    fn rate_limits_take_the_reset_time() {
        let now = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let reset = headers(&[
            ("ratelimit-limit", "5000"),
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "1767225645"),
            ("ratelimit-policy", "5000;w=3600"),
        ]);
        assert_eq!(rate_limit_delay(&reset, now), Some(Duration::from_secs(45)));
        let past = headers(&[("ratelimit-reset", "1767225000")]);
        assert_eq!(rate_limit_delay(&past, now), Some(Duration::ZERO));
        let both = headers(&[("ratelimit-reset", "1767225645"), ("retry-after", "7")]);
        assert_eq!(rate_limit_delay(&both, now), Some(Duration::from_secs(7)));
        assert_eq!(rate_limit_delay(&HeaderMap::new(), now), None);
        assert_eq!(
            rate_limit_delay(&headers(&[("ratelimit-reset", "soon")]), now),
            None
        );
    }

    #[test]
    fn error_messages_are_cleaned() {
        let h = HeaderMap::new();
        let jwt = format!("eyJ{}", "a".repeat(120));
        let body = serde_json::json!({
            "error": "Invalid<Request>\n",
            "message": format!("bad token {jwt} <script>alert(1)</script>\u{7}"),
        })
        .to_string();
        let e = map(Call::CreateRecord, 400, &h, &body).to_string();
        assert!(
            !e.contains("eyJ") && !e.contains('<') && !e.contains('\u{7}'),
            "{e}"
        );
        assert!(e.contains("InvalidRequest: bad token"), "{e}");
        let long = serde_json::json!({"error": "X", "message": "word ".repeat(100)}).to_string();
        let e = map(Call::CreateRecord, 400, &h, &long).to_string();
        assert!(e.chars().count() < 200, "{e}");
    }

    #[test]
    fn links_are_found_by_utf8_byte_offsets() {
        let link = "https://status.example.com/incidents/inc-7";
        for prefix in ["", "é ", "👩‍👩‍👧 ", "障害が発生しています。\n", "e\u{301}\n\n"]
        {
            let text = format!("{prefix}{link}");
            let range = link_range(&text, link).unwrap();
            assert_eq!(range, prefix.len()..prefix.len() + link.len());
            assert_eq!(&text.as_bytes()[range], link.as_bytes());
        }
        // The last occurrence is the fitted link.
        let text = format!("see {link} and\n{link}");
        assert_eq!(
            link_range(&text, link).unwrap().start,
            text.len() - link.len()
        );
        // Missing: no range (and no facet).
        assert_eq!(link_range("Fixed.  ", link), None);
        assert_eq!(link_range("Fixed.", ""), None);
    }

    #[test]
    fn record_keys_are_deterministic_tids() {
        let key = IdempotencyKey::derive(
            &crate::incident::IncidentId::new("inc-1").unwrap(),
            1,
            "bluesky",
            &crate::audience::Target::new("status.example.com").unwrap(),
            1,
        );
        let other = IdempotencyKey::derive(
            &crate::incident::IncidentId::new("inc-1").unwrap(),
            2,
            "bluesky",
            &crate::audience::Target::new("status.example.com").unwrap(),
            1,
        );
        let at = DateTime::parse_from_rfc3339("2026-11-25T14:03:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let k = record_key(&key, at);
        assert_eq!(k, record_key(&key, at));
        assert_ne!(k, record_key(&other, at));
        assert_eq!(k.len(), 13);
        assert!(b"234567abcdefghij".contains(&k.as_bytes()[0]), "{k}");
        assert!(
            k.bytes()
                .all(|b| b"234567abcdefghijklmnopqrstuvwxyz".contains(&b)),
            "{k}"
        );
        // Decoded, the time is within a second after the update's.
        let value = k.bytes().fold(0u64, |acc, b| {
            let digit = b"234567abcdefghijklmnopqrstuvwxyz"
                .iter()
                .position(|c| *c == b)
                .unwrap() as u64;
            (acc << 5) | digit
        });
        let micros = value >> 10;
        let at_micros = at.timestamp() as u64 * 1_000_000;
        assert!((at_micros..at_micros + 1_000_000).contains(&micros), "{k}");
        // TIDs sort by time.
        let later = at + chrono::Duration::seconds(2);
        assert!(record_key(&key, later) > k);
    }

    #[test]
    fn post_refs_round_trip_through_message_refs() {
        let r = PostRef {
            uri: "at://did:plc:abc/app.bsky.feed.post/3kabc".into(),
            cid: "bafyreib2rxk3rh6kzwq".into(),
        };
        let m = r.to_message_ref();
        assert_eq!(PostRef::from_message_ref(&m), Some(r));
        assert_eq!(
            PostRef::from_message_ref(&MessageRef::new("1234.5678")),
            None
        );
        assert_eq!(
            PostRef::from_message_ref(&MessageRef::new(r#"{"uri":"https://x","cid":"b"}"#)),
            None
        );
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_secrets() {
        let ok = || BlueskyChannel::builder("status.example.com", "abcd-SECRET-ijkl-mnop");
        let credential = |b: BlueskyChannelBuilder| match b.build() {
            Err(BuildError::InvalidCredential { credential, .. }) => credential,
            other => panic!("expected an invalid credential, got {other:?}"),
        };
        assert!(credential(BlueskyChannel::builder("", "pw")).contains("identifier"));
        assert!(credential(BlueskyChannel::builder("a b", "pw")).contains("identifier"));
        assert_eq!(
            credential(BlueskyChannel::builder("status.example.com", "")),
            "Bluesky app password"
        );
        for bad in [
            ok().langs(["en", "de", "fr", "it"]),
            ok().langs(["english!"]),
        ] {
            assert!(matches!(
                bad.build().unwrap_err(),
                BuildError::InvalidSetting { setting, .. } if setting == "Bluesky langs"
            ));
        }
        assert!(ok().langs(Vec::<String>::new()).build().is_ok());
        assert!(ok().langs(["pt-BR", "ja"]).build().is_ok());
        for bad in [
            "http://pds.example.com",
            "https://pds.example.com/?x=1",
            "not a url",
        ] {
            let err = ok().base_url(bad).build().unwrap_err();
            assert!(
                matches!(&err, BuildError::InvalidUrl { field, .. } if field.starts_with("Bluesky base URL")),
                "{err:?}"
            );
            assert!(!err.to_string().contains("pds.example.com"), "{err}");
        }
        assert!(matches!(
            ok().http(HttpOptions::new().timeout(Duration::ZERO))
                .build()
                .unwrap_err(),
            BuildError::InvalidSetting { .. }
        ));
        let ch = ok().build().unwrap();
        let dbg = format!("{ch:?} {:?}", ok());
        assert!(!dbg.contains("SECRET"), "{dbg}");
        assert!(ch.limits().threads);
        assert_eq!(ch.limits().text, Some(text_limit()));
        let limit = text_limit();
        let bounds: Vec<_> = limit.bounds().map(|b| (b.max, b.unit)).collect();
        assert_eq!(
            bounds,
            [(300, LengthUnit::Graphemes), (3_000, LengthUnit::Utf8Bytes)]
        );
        let ch = BlueskyChannel::builder("@status.example.com", "pw")
            .build()
            .unwrap();
        assert_eq!(ch.identifier, "status.example.com");
    }

    #[test]
    fn sessions_hide_their_tokens() {
        let s = Session {
            access: "eyJ-ACCESS".into(),
            refresh: "eyJ-REFRESH".into(),
            did: "did:plc:abc".into(),
            handle: "status.example.com".into(),
        };
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("ACCESS") && !dbg.contains("REFRESH") && dbg.contains("did:plc:abc"));
    }
}
