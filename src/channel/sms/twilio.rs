//! SMS through Twilio Programmable Messaging: one `POST
//! /2010-04-01/Accounts/{AccountSid}/Messages.json` per message and phone
//! number.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::num::NonZeroU32;
//! use std::time::Duration;
//! use tidings::channel::RateLimit;
//! use tidings::channel::sms::twilio::TwilioChannel;
//!
//! // Account SID and auth token (or an API key: `TwilioChannel::with_api_key`).
//! let sms = TwilioChannel::with_auth_token("ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "your-auth-token")
//!     .from("+14155550100") // or .messaging_service("MGxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
//!     .segment_budget(2) // the default: at most 2 segments per message
//!     .rate(RateLimit::per_second(NonZeroU32::MIN)) // one long code: about 1 message a second
//!     .per_target_rate(RateLimit::new(1, Duration::from_secs(60))?) // to each phone number
//!     .status_callback("https://hooks.example.com/twilio/status")
//!     .build()?;
//! # let _ = sms; Ok(()) }
//! ```
//!
//! Targets are E.164 numbers (`+14155550100`); anything else is an
//! [`InvalidTarget`](ChannelError::InvalidTarget) and no request is made.
//!
//! **Length.** The text limit is a budget of SMS segments (default 2, at most
//! 10), counted exactly by [`render::sms`](crate::render::sms): GSM-7 160 / 153
//! septets, UCS-2 70 / 67 UTF-16 units, a grapheme cluster (an emoji with a
//! skin tone, a flag, a `ZWJ` sequence) never split across two segments, as
//! Twilio's segment calculator counts. Fitting shortens the body and keeps the
//! title (`[Identified] …`) and the link. The message is laid out by
//! [`TwilioFormat`]: the plain layout, with typographic look-alikes (curly
//! quotes, dashes, `…`) replaced by plain GSM-7 characters when that costs
//! fewer segments (see [`TwilioChannelBuilder::smart_encoding`]); the budget
//! counts the segments of exactly that, which is the `Body` sent. A body over
//! Twilio's hard limit of 1,600 characters is refused before any request.
//! The [`Receipt`] records the segment count: Twilio's `num_segments`, or our
//! own count when Twilio says `0` (as it does for messages sent through a
//! Messaging Service).
//!
//! **Rates.** One message per second for the whole channel (a single long
//! code; raise it for a toll-free number, short code or Messaging Service), and
//! one message per 30 seconds to each phone number, so an incident that
//! changes quickly does not buzz the same phone again and again. Both are
//! configurable; the dispatcher waits, it does not drop. Parts of a message
//! split with [`Overflow::split`](crate::render::Overflow::split) are paced
//! like separate messages, so prefer the default shortening for SMS.
//!
//! **Errors.** Twilio answers errors as `{"code": 21211, "message": "…",
//! "more_info": "…", "status": 400}`. Invalid, non-mobile or not-permitted
//! numbers (21211, 21614, 21408) are invalid targets; an unsubscribed recipient
//! (21610: they replied STOP) is rejected for that number; bad credentials
//! (20003, HTTP 401) are configuration errors; 20429 and HTTP 429 are rate
//! limits (with `Retry-After`), as is 14107 (the send-rate limit between two
//! numbers, 30 s); 5xx is transient; anything else is rejected. Errors keep
//! Twilio's code and a short, cleaned message, never the whole body.
//!
//! **Retries.** Twilio's Message create has no idempotency key: a request that
//! timed out may still have been sent, and retrying it can send the text twice.
//! Use a [`RetryPolicy`](crate::dispatch::RetryPolicy) that suits SMS.
//!
//! The auth token (or API key secret) is a secret: it never appears in `Debug`
//! output, logs or errors.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use url::Url;

use super::is_e164;
use crate::channel::http::{self, HttpOptions};
use crate::channel::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, MessageRef, RateLimit,
    Receipt,
};
use crate::render::{Format, Pieces, Plain, sms};

/// Twilio's REST API base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// The longest `Body` Twilio takes, in characters (counted here as UTF-16
/// code units, which is never fewer than characters).
pub const MAX_BODY: usize = 1_600;

/// The default budget of segments per message.
pub const DEFAULT_SEGMENT_BUDGET: u32 = 2;

/// The largest budget: 10 GSM-7 segments (1,530 septets) always fit in
/// [`MAX_BODY`]; 11 might not.
pub const MAX_SEGMENT_BUDGET: u32 = 10;

/// The default pause between two messages to the same phone number.
pub const DEFAULT_PER_RECIPIENT_INTERVAL: Duration = Duration::from_secs(30);

/// How long Twilio blocks messages between two numbers after error 14107.
const LOOP_PROTECTION: Duration = Duration::from_secs(30);

/// How [`TwilioChannel`] lays a message out: the plain layout (title, body,
/// next-update line, link), then, with smart encoding on, [`sms::cheapest`]:
/// typographic look-alikes (curly quotes, dashes, `…`, unusual spaces)
/// replaced by plain GSM-7 characters when that costs fewer segments. What
/// it returns is the `Body` sent, and what the channel's segment budget
/// ([`sms::segment_limit`]) counts.
///
/// ```
/// use tidings::channel::sms::twilio::TwilioFormat;
/// use tidings::render::{Format, Pieces};
///
/// let pieces = Pieces {
///     title: "[Identified] It’s the database",
///     body: "We’re restoring it; writes are paused.",
///     part: None,
///     next_update: None,
///     link: "https://status.example.com/i/1",
/// };
/// // Two UCS-2 segments as rendered, one GSM-7 segment with plain quotes.
/// assert_eq!(
///     TwilioFormat::new(true).layout(&pieces),
///     "[Identified] It's the database\n\nWe're restoring it; writes are paused.\n\nhttps://status.example.com/i/1"
/// );
/// // Smart encoding off: as rendered.
/// assert!(TwilioFormat::new(false).layout(&pieces).contains("It’s"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwilioFormat {
    smart_encoding: bool,
}

impl TwilioFormat {
    /// The layout with smart encoding on or off (see
    /// [`TwilioChannelBuilder::smart_encoding`]).
    pub const fn new(smart_encoding: bool) -> Self {
        Self { smart_encoding }
    }

    /// Whether look-alikes are replaced when that is cheaper.
    pub const fn smart_encoding(&self) -> bool {
        self.smart_encoding
    }
}

impl Default for TwilioFormat {
    /// Smart encoding on, as the channel's default.
    fn default() -> Self {
        Self::new(true)
    }
}

impl Format for TwilioFormat {
    fn layout(&self, pieces: &Pieces<'_>) -> String {
        let text = Plain.layout(pieces);
        if !self.smart_encoding {
            return text;
        }
        match sms::cheapest(&text) {
            Cow::Owned(cheaper) => cheaper,
            Cow::Borrowed(_) => text,
        }
    }
}

/// Who the message is from.
enum Sender {
    /// `From`: a Twilio phone number, short code or alphanumeric sender ID.
    From(String),
    /// `MessagingServiceSid`: Twilio picks the number from the service's pool.
    Service(String),
}

/// HTTP Basic credentials: `AccountSid:AuthToken` or `ApiKeySid:ApiKeySecret`.
struct Credentials {
    user: String,
    secret: String,
}

/// Sends SMS through Twilio. See the [module docs](self).
pub struct TwilioChannel {
    messages_url: Url,
    account_sid: String,
    credentials: Credentials,
    sender: Sender,
    status_callback: Option<Url>,
    format: TwilioFormat,
    client: reqwest::Client,
    timeout: Duration,
    limits: ChannelLimits,
}

impl fmt::Debug for TwilioChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (field, sender) = match &self.sender {
            Sender::From(from) => ("from", from),
            Sender::Service(sid) => ("messaging_service", sid),
        };
        f.debug_struct("TwilioChannel")
            .field("messages_url", &self.messages_url.as_str())
            .field("account_sid", &self.account_sid)
            .field("auth_user", &self.credentials.user)
            .field("auth_secret", &"<redacted>")
            .field(field, sender)
            .field(
                "status_callback",
                &self.status_callback.as_ref().map(Url::as_str),
            )
            .field("smart_encoding", &self.format.smart_encoding)
            .field("timeout", &self.timeout)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Builds a [`TwilioChannel`]; every check happens in [`build`](Self::build).
#[must_use]
pub struct TwilioChannelBuilder {
    account_sid: String,
    user: String,
    secret: String,
    from: Option<String>,
    messaging_service: Option<String>,
    status_callback: Option<String>,
    base: String,
    http: HttpOptions,
    segment_budget: u32,
    smart_encoding: bool,
    rate: RateLimit,
    per_target_rate: Option<RateLimit>,
}

impl fmt::Debug for TwilioChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioChannelBuilder")
            .field("account_sid", &self.account_sid)
            .field("auth_user", &self.user)
            .field("auth_secret", &"<redacted>")
            .field("from", &self.from)
            .field("messaging_service", &self.messaging_service)
            .field("segment_budget", &self.segment_budget)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl TwilioChannel {
    /// Authenticates with the account's SID (`AC…`) and auth token.
    pub fn with_auth_token(
        account_sid: impl Into<String>,
        auth_token: impl Into<String>,
    ) -> TwilioChannelBuilder {
        let account_sid = account_sid.into();
        TwilioChannelBuilder::new(account_sid.clone(), account_sid, auth_token.into())
    }

    /// Authenticates with an API key (`SK…`) and its secret, for the account
    /// `account_sid` (`AC…`). Keys can be revoked one by one; prefer them.
    pub fn with_api_key(
        account_sid: impl Into<String>,
        api_key_sid: impl Into<String>,
        api_key_secret: impl Into<String>,
    ) -> TwilioChannelBuilder {
        TwilioChannelBuilder::new(
            account_sid.into(),
            api_key_sid.into(),
            api_key_secret.into(),
        )
    }
}

/// `prefix` followed by 32 hex digits: the shape of every Twilio SID.
fn is_sid(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A `From` Twilio can send as: an E.164 number, a short code, or an
/// alphanumeric sender ID (up to 11 letters, digits and spaces, at least one
/// letter).
fn is_sender(from: &str) -> bool {
    let short_code = (3..=8).contains(&from.len()) && from.bytes().all(|b| b.is_ascii_digit());
    let alphanumeric = (1..=11).contains(&from.len())
        && from.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && from.bytes().any(|b| b.is_ascii_alphabetic())
        && from.trim() == from;
    is_e164(from) || short_code || alphanumeric
}

impl TwilioChannelBuilder {
    fn new(account_sid: String, user: String, secret: String) -> Self {
        Self {
            account_sid,
            user,
            secret,
            from: None,
            messaging_service: None,
            status_callback: None,
            base: DEFAULT_BASE_URL.to_owned(),
            http: HttpOptions::new(),
            segment_budget: DEFAULT_SEGMENT_BUDGET,
            smart_encoding: true,
            rate: RateLimit::per_second(NonZeroU32::MIN),
            per_target_rate: None,
        }
    }

    /// Sends from this Twilio phone number (E.164), short code or alphanumeric
    /// sender ID. Exactly one of `from` and
    /// [`messaging_service`](Self::messaging_service) must be set.
    pub fn from(mut self, from: impl Into<String>) -> Self {
        self.from = Some(from.into());
        self
    }

    /// Sends through a Messaging Service (`MG…`), which picks the number.
    /// Exactly one of [`from`](Self::from) and `messaging_service` must be set.
    pub fn messaging_service(mut self, sid: impl Into<String>) -> Self {
        self.messaging_service = Some(sid.into());
        self
    }

    /// Twilio posts delivery status changes to this URL (`StatusCallback`).
    pub fn status_callback(mut self, url: impl Into<String>) -> Self {
        self.status_callback = Some(url.into());
        self
    }

    /// The REST API base URL (default [`DEFAULT_BASE_URL`]; a regional edge,
    /// or a local server in tests).
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

    /// The most segments one message may cost (default
    /// [`DEFAULT_SEGMENT_BUDGET`], from 1 to [`MAX_SEGMENT_BUDGET`]).
    pub fn segment_budget(mut self, segments: u32) -> Self {
        self.segment_budget = segments;
        self
    }

    /// Whether curly quotes, dashes, `…` and unusual spaces are replaced by
    /// plain GSM-7 look-alikes when that makes the message cheaper (default
    /// on; see [`TwilioFormat`]). Off, the text is sent exactly as rendered.
    /// Either way, the segment budget counts what is sent.
    pub fn smart_encoding(mut self, yes: bool) -> Self {
        self.smart_encoding = yes;
        self
    }

    /// Messages for the whole channel (default one per second, what a single
    /// long code sends).
    pub fn rate(mut self, rate: RateLimit) -> Self {
        self.rate = rate;
        self
    }

    /// Messages to each route target, a phone number (default one per
    /// [`DEFAULT_PER_RECIPIENT_INTERVAL`]).
    pub fn per_target_rate(mut self, rate: RateLimit) -> Self {
        self.per_target_rate = Some(rate);
        self
    }

    /// Validates and builds the channel.
    pub fn build(self) -> Result<TwilioChannel, BuildError> {
        if !is_sid(&self.account_sid, "AC") {
            return Err(BuildError::credential(
                "Twilio Account SID",
                "it must be AC followed by 32 hex digits",
            ));
        }
        if self.user != self.account_sid && !is_sid(&self.user, "SK") {
            return Err(BuildError::credential(
                "Twilio API key SID",
                "it must be SK followed by 32 hex digits",
            ));
        }
        if self.secret.is_empty() || !self.secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(BuildError::credential(
                "Twilio auth token or API key secret",
                "it is empty or has spaces or control characters",
            ));
        }
        let sender = match (self.from, self.messaging_service) {
            (Some(from), None) if is_sender(&from) => Sender::From(from),
            (Some(from), None) => {
                return Err(BuildError::setting(
                    "Twilio from",
                    format!(
                        "{from:?} is not an E.164 number, a short code or an alphanumeric sender ID"
                    ),
                ));
            }
            (None, Some(sid)) if is_sid(&sid, "MG") => Sender::Service(sid),
            (None, Some(_)) => {
                return Err(BuildError::setting(
                    "Twilio messaging_service",
                    "the Messaging Service SID must be MG followed by 32 hex digits",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(BuildError::setting(
                    "Twilio from / messaging_service",
                    "set either a From or a Messaging Service, not both",
                ));
            }
            (None, None) => {
                return Err(BuildError::setting(
                    "Twilio from / messaging_service",
                    "a Twilio channel needs a From number or a Messaging Service",
                ));
            }
        };
        if !(1..=MAX_SEGMENT_BUDGET).contains(&self.segment_budget) {
            return Err(BuildError::setting(
                "Twilio segment_budget",
                format!(
                    "it must be 1 to {MAX_SEGMENT_BUDGET}, not {}",
                    self.segment_budget
                ),
            ));
        }
        let base = http::url_setting(&self.base, false, "Twilio base URL")?;
        let messages_url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            base.as_str().trim_end_matches('/'),
            self.account_sid
        );
        let messages_url = http::url_setting(&messages_url, false, "Twilio base URL")?;
        let status_callback = self
            .status_callback
            .map(|raw| http::url_setting(&raw, false, "Twilio status callback URL"))
            .transpose()?;
        let per_recipient = match self.per_target_rate {
            Some(rate) => rate,
            None => RateLimit::new(1, DEFAULT_PER_RECIPIENT_INTERVAL)
                .map_err(|e| BuildError::setting("Twilio default rate", e.to_string()))?,
        };
        // A budget of at most 10 makes a u32 → usize conversion lossless.
        let budget = self.segment_budget as usize;
        let limits = ChannelLimits::new()
            .with_text(sms::segment_limit(budget))
            .with_rate(self.rate)
            .with_per_target_rate(per_recipient);
        let client = http::client(&self.http)?;
        Ok(TwilioChannel {
            messages_url,
            account_sid: self.account_sid,
            credentials: Credentials {
                user: self.user,
                secret: self.secret,
            },
            sender,
            status_callback,
            format: TwilioFormat::new(self.smart_encoding),
            client,
            timeout: self.http.request_timeout(),
            limits,
        })
    }
}

/// Twilio's error body: `{"code": 21211, "message": "…", "more_info": "…",
/// "status": 400}`. Only the code and message are read.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<u32>,
    #[serde(default)]
    message: Option<String>,
}

/// Twilio's answer to a created message: `{"sid": "SM…", "status": "queued",
/// "num_segments": "1", …}`.
#[derive(Deserialize)]
struct Created {
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    num_segments: Option<serde_json::Value>,
}

/// `num_segments` is a string in Twilio's JSON (`"2"`); a number is accepted
/// too. `0` (not yet known) and anything unreadable are `None`.
fn parse_segments(value: Option<&serde_json::Value>) -> Option<u32> {
    let n = match value? {
        serde_json::Value::String(s) => s.trim().parse::<u32>().ok()?,
        serde_json::Value::Number(n) => u32::try_from(n.as_u64()?).ok()?,
        _ => return None,
    };
    (n > 0).then_some(n)
}

/// Twilio's messages are short English sentences; control characters are
/// dropped, whitespace collapsed and the result cut to 160 characters.
fn sanitize(message: &str) -> String {
    let mut out = String::new();
    for word in message.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().filter(|c| !c.is_control()));
    }
    if out.chars().count() > 160 {
        out = out.chars().take(159).collect();
        out.push('…');
    }
    out
}

/// Maps Twilio's error answer (HTTP status, headers, body) for a message to
/// `target` to what to do next. An answer without Twilio's JSON (a proxy's
/// page) follows the general HTTP rules, except that 401 is a configuration
/// error.
fn map_error(status: StatusCode, headers: &HeaderMap, body: &str, target: &str) -> ChannelError {
    let parsed: Option<ErrorBody> = serde_json::from_str(body).ok();
    let Some(code) = parsed.as_ref().and_then(|b| b.code) else {
        return match status {
            StatusCode::UNAUTHORIZED => ChannelError::Config {
                reason: "Twilio refused the credentials (HTTP 401)".into(),
            },
            _ => http::error_for_status(status, headers),
        };
    };
    let said = match parsed.as_ref().and_then(|b| b.message.as_deref()) {
        Some(message) => format!("Twilio {code}: {}", sanitize(message)),
        None => format!("Twilio {code}"),
    };
    let retry_after = || http::retry_after(headers, std::time::SystemTime::now());
    let http_status = status.as_u16();
    match (code, http_status) {
        // 21211 invalid 'To' number; 21614 'To' is not a mobile number;
        // 21408 permission to send to the number's region is not enabled.
        // Permanent for this number.
        (21211 | 21614 | 21408, _) => ChannelError::InvalidTarget {
            target: target.to_owned(),
            reason: said,
        },
        // 21610: the recipient replied STOP (or UNSUBSCRIBE, CANCEL, END, QUIT);
        // nothing reaches them until they reply START. Permanent for this
        // number only; not charged.
        (21610, _) => ChannelError::Rejected {
            reason: format!(
                "{target} unsubscribed (replied STOP) and gets no SMS until they reply START; {said}"
            ),
            status: Some(http_status),
        },
        // 20003 (HTTP 401): authentication failed. 21212 invalid From and
        // 21606 From cannot send to this destination (UNCONFIRMED codes) are
        // the sender's configuration too.
        (20003 | 21212 | 21606, _) | (_, 401) => ChannelError::Config {
            reason: format!("Twilio refused the credentials or sender; {said}"),
        },
        // 14107: send-rate limit between two numbers (loop protection); the
        // message is failed for 30 s.
        (14107, _) => ChannelError::RateLimited {
            retry_after: Some(retry_after().map_or(LOOP_PROTECTION, |r| r.max(LOOP_PROTECTION))),
        },
        // 20429 Too Many Requests (HTTP 429): retry with backoff.
        (20429, _) | (_, 429) => ChannelError::RateLimited {
            retry_after: retry_after(),
        },
        // 5xx: Twilio-side failure; retry.
        (_, 500..=599) => ChannelError::Transient {
            reason: said,
            status: Some(http_status),
            retry_after: retry_after(),
        },
        // Any other refusal (14103 invalid body, 21602 body required, …) will
        // not pass on a retry.
        _ => ChannelError::Rejected {
            reason: said,
            status: Some(http_status),
        },
    }
}

#[async_trait]
impl Channel for TwilioChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("twilio")
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    fn format(&self) -> &dyn Format {
        &self.format
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let to = delivery.target.as_str();
        if !is_e164(to) {
            return Err(ChannelError::InvalidTarget {
                target: to.to_owned(),
                reason: "not an E.164 phone number (+ then 8 to 15 digits, e.g. +14155550100)"
                    .into(),
            });
        }
        // Laid out by the format and fitted to the budget: sent as it is.
        let body = &*delivery.text;
        if body.trim().is_empty() {
            return Err(ChannelError::rejected("the SMS body is empty"));
        }
        let length = body.encode_utf16().count();
        if length > MAX_BODY {
            return Err(ChannelError::rejected(format!(
                "the SMS body is {length} characters; Twilio takes at most {MAX_BODY}"
            )));
        }
        let mut form: Vec<(&str, &str)> = vec![("To", to)];
        match &self.sender {
            Sender::From(from) => form.push(("From", from)),
            Sender::Service(sid) => form.push(("MessagingServiceSid", sid)),
        }
        form.push(("Body", body));
        if let Some(callback) = &self.status_callback {
            form.push(("StatusCallback", callback.as_str()));
        }
        let request = self
            .client
            .post(self.messages_url.clone())
            .basic_auth(&self.credentials.user, Some(&self.credentials.secret))
            .form(&form);
        let response = http::send(request, &self.messages_url, self.timeout).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = http::body_text(response).await;
        if !status.is_success() {
            return Err(map_error(status, &headers, &text, to));
        }
        // Twilio created the message. Whatever the body says, sending again
        // would text the person twice, so this is a success.
        let created: Option<Created> = serde_json::from_str(&text).ok();
        let segments = created
            .as_ref()
            .and_then(|c| parse_segments(c.num_segments.as_ref()))
            .unwrap_or_else(|| u32::try_from(sms::segments(body).count).unwrap_or(u32::MAX));
        let mut receipt = Receipt::new(crate::clock::now())
            .with_status(status.as_u16())
            .with_segments(segments);
        match created.and_then(|c| c.sid) {
            Some(sid) if !sid.is_empty() && sid.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                receipt = receipt.with_message_ref(MessageRef::new(sid));
            }
            _ => {
                tracing::warn!(key = %delivery.key, status = status.as_u16(), "Twilio accepted the SMS but returned no message sid");
            }
        }
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    fn answer(status: u16, retry_after: Option<&str>, body: &str) -> ChannelError {
        let mut headers = HeaderMap::new();
        if let Some(after) = retry_after {
            headers.insert(
                reqwest::header::RETRY_AFTER,
                reqwest::header::HeaderValue::from_str(after).unwrap(),
            );
        }
        map_error(
            StatusCode::from_u16(status).unwrap(),
            &headers,
            body,
            "+14155550100",
        )
    }

    #[test]
    fn errors_map_to_what_to_do_next() {
        // Error bodies as Twilio sends them (shape from its error docs).
        let e = |status: u16, code: u32, message: &str| {
            let body = serde_json::json!({
                "code": code,
                "message": message,
                "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
                "status": status,
            })
            .to_string();
            answer(status, None, &body)
        };
        for code in [21211, 21614, 21408] {
            assert!(
                matches!(e(400, code, "The 'To' number +1415 is not a valid phone number."), ChannelError::InvalidTarget { ref target, .. } if target == "+14155550100"),
                "{code}"
            );
        }
        let opted_out = e(400, 21610, "Attempt to send to unsubscribed recipient");
        assert!(matches!(
            opted_out,
            ChannelError::Rejected {
                status: Some(400),
                ..
            }
        ));
        assert!(
            opted_out.to_string().contains("unsubscribed"),
            "{opted_out}"
        );
        assert!(
            opted_out.to_string().contains("+14155550100"),
            "{opted_out}"
        );
        assert!(matches!(
            e(401, 20003, "Authenticate"),
            ChannelError::Config { .. }
        ));
        assert!(matches!(answer(401, None, ""), ChannelError::Config { .. }));
        assert_eq!(
            answer(
                429,
                Some("4"),
                r#"{"code":20429,"message":"Too Many Requests","status":429}"#,
            ),
            ChannelError::RateLimited {
                retry_after: Some(Duration::from_secs(4))
            }
        );
        assert_eq!(
            answer(429, None, "<html>slow down</html>"),
            ChannelError::RateLimited { retry_after: None }
        );
        assert_eq!(
            e(400, 14107, "SMS send rate limit exceeded").retry_after(),
            Some(Duration::from_secs(30))
        );
        let body = r#"{"code":14107,"message":"SMS send rate limit exceeded","status":400}"#;
        assert_eq!(
            answer(400, Some("90"), body).retry_after(),
            Some(Duration::from_secs(90))
        );
        assert!(matches!(
            answer(404, None, "Not Found"),
            ChannelError::Rejected {
                status: Some(404),
                ..
            }
        ));
        let server = e(500, 20500, "Internal Server Error");
        assert!(
            server.is_retryable() && server.to_string().contains("20500"),
            "{server}"
        );
        assert!(answer(503, Some("2"), "<html>").retry_after() == Some(Duration::from_secs(2)));
        let other = e(400, 21602, "Message body is required.");
        assert!(matches!(
            other,
            ChannelError::Rejected {
                status: Some(400),
                ..
            }
        ));
        assert!(
            other
                .to_string()
                .contains("21602: Message body is required."),
            "{other}"
        );
        // Only the code and a short, clean message are kept.
        let long = e(400, 30000, &format!("bad\n\u{7}{}", "x".repeat(500)));
        let text = long.to_string();
        assert!(
            !text.contains('\n') && !text.contains('\u{7}') && text.len() < 260,
            "{text}"
        );
        assert!(!text.contains("more_info") && !text.contains("docs/errors"));
    }

    #[test]
    fn num_segments_is_read_from_strings_and_numbers() {
        let v = |j: serde_json::Value| parse_segments(Some(&j));
        assert_eq!(v(serde_json::json!("2")), Some(2));
        assert_eq!(v(serde_json::json!(3)), Some(3));
        assert_eq!(v(serde_json::json!("0")), None);
        assert_eq!(v(serde_json::json!(null)), None);
        assert_eq!(v(serde_json::json!("many")), None);
    }

    #[test]
    fn builder_checks_the_configuration_and_hides_secrets() {
        let token = "0123456789abcdef0123456789SECRET";
        let ok = || TwilioChannel::with_auth_token(SID, token).from("+14155550100");
        let ch = ok().build().unwrap();
        let dbg = format!("{ch:?}");
        assert!(!dbg.contains("SECRET") && dbg.contains(SID), "{dbg}");
        assert!(!format!("{:?}", ok()).contains("SECRET"));
        assert_eq!(ch.limits().text.unwrap().max, 2);
        assert_eq!(
            ch.limits().rate,
            Some(RateLimit::per_second(NonZeroU32::MIN))
        );
        assert_eq!(
            ch.limits().per_target_rate,
            Some(RateLimit::new(1, Duration::from_secs(30)).unwrap())
        );
        assert!(!ch.limits().threads && !ch.limits().primary);
        let mg = "MG0123456789abcdef0123456789abcdef";
        let sk = "SK0123456789abcdef0123456789abcdef";
        assert!(
            TwilioChannel::with_auth_token(SID, token)
                .messaging_service(mg)
                .build()
                .is_ok()
        );
        assert!(
            TwilioChannel::with_api_key(SID, sk, token)
                .from("Acme Status")
                .build()
                .is_ok()
        );
        assert!(ok().from("12345").build().is_ok(), "a short code");
        let bad = [
            TwilioChannel::with_auth_token(SID, token),
            ok().messaging_service(mg),
            TwilioChannel::with_auth_token(SID, token).messaging_service("MG123"),
            ok().from("+1 415 555 0100"),
            ok().from("Acme Status Page"),
            TwilioChannel::with_auth_token("AC123", token).from("+14155550100"),
            TwilioChannel::with_auth_token("AC0123456789abcdef0123456789abcdef/../x", token)
                .from("+14155550100"),
            TwilioChannel::with_api_key(SID, "nope", token).from("+14155550100"),
            TwilioChannel::with_auth_token(SID, "").from("+14155550100"),
            TwilioChannel::with_auth_token(SID, "has space").from("+14155550100"),
            ok().segment_budget(0),
            ok().segment_budget(11),
            ok().http(HttpOptions::new().timeout(Duration::ZERO)),
            ok().base_url("http://api.twilio.com"),
            ok().status_callback("http://hooks.example.com/status"),
        ];
        for b in bad {
            let err = b.build().unwrap_err();
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

    #[test]
    fn smart_encoding_can_be_turned_off() {
        let token = "0123456789abcdef0123456789abcdef";
        let on = TwilioChannel::with_auth_token(SID, token)
            .from("+14155550100")
            .build()
            .unwrap();
        let off = TwilioChannel::with_auth_token(SID, token)
            .from("+14155550100")
            .smart_encoding(false)
            .build()
            .unwrap();
        let layout = |ch: &TwilioChannel, body: &str| {
            ch.format().layout(&Pieces {
                title: "",
                body,
                part: None,
                next_update: None,
                link: "https://s.example/i",
            })
        };
        let text = format!("It’s back… {}", "a".repeat(100));
        assert_eq!(
            layout(&on, &text),
            format!("It's back... {}\n\nhttps://s.example/i", "a".repeat(100))
        );
        assert_eq!(
            layout(&off, &text),
            format!("{text}\n\nhttps://s.example/i")
        );
        // Already one segment as it is: sent unchanged.
        assert_eq!(
            layout(&on, "It’s back…"),
            "It’s back…\n\nhttps://s.example/i"
        );
        // The budget counts what the format lays out, on or off.
        assert_eq!(on.limits().text, off.limits().text);
        assert_eq!(on.limits().text, Some(sms::segment_limit(2)));
    }
}
