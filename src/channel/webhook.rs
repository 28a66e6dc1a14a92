//! A generic webhook signed per the [Standard Webhooks] specification, and
//! [`verify`] for receivers.
//!
//! Each delivery is an HTTP `POST` of a JSON body
//!
//! ```json
//! {
//!   "type": "incident.update",
//!   "timestamp": "2026-11-25T14:30:00Z",
//!   "data": {
//!     "idempotency_key": "tdg_…",
//!     "incident": {"id": "inc-1", "title": "API errors", "impact": "major",
//!                  "status": "identified", "started_at": "…",
//!                  "components": [{"id": "api", "name": "API", "status": "partial_outage"}]},
//!     "update": {"seq": 2, "status": "identified", "at": "…", "message": "…",
//!                "internal_notes": "…", "next_update_at": "…"},
//!     "audience": "core_responders", "detail": "internal", "target": "ops-bridge",
//!     "link": "https://status.example.com/incidents/inc-1",
//!     "text": "[Identified] API errors …",
//!     "part": {"index": 1, "count": 1}
//!   }
//! }
//! ```
//!
//! `type` is `incident.first_contact`, `incident.update`, `incident.resolution`
//! or `incident.postmortem`, and for a [scheduled
//! maintenance](crate::incident::Incident::maintenance)
//! `maintenance.announcement`, `maintenance.reminder`, `maintenance.update` or
//! `maintenance.completion` (its `incident` then also has `scheduled_for` and
//! `scheduled_until`); `internal_notes` is present only at internal detail;
//! `next_update_at` is absent once closed (resolved, or completed). Headers: `webhook-id` (the delivery's
//! idempotency key, stable across retries: dedupe on it), `webhook-timestamp`
//! (unix seconds of the attempt) and `webhook-signature` (`v1,<base64 HMAC-SHA256
//! of "id.timestamp.body">`).
//!
//! Answers: 2xx is success; 429 (with `Retry-After`, seconds or HTTP date) is a
//! rate limit; 408 and 5xx are transient; 3xx (redirects are never followed),
//! 410 Gone (disable the endpoint) and other 4xx are permanent.
//!
//! Endpoint URLs are https (or http to a loopback host). One with a user name
//! or password (`https://user:password@host/…`) is refused when the channel
//! is built: the receiver checks the signature, and credentials do not belong
//! in the URL. A fragment (`#…`) is accepted and ignored: it is never sent.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tidings::channel::webhook::WebhookChannel;
//! let webhook = WebhookChannel::builder()
//!     .endpoint(
//!         "ops-bridge",
//!         "https://bridge.example.com/hooks/tidings",
//!         "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
//!     )
//!     .build()?;
//! # let _ = webhook; Ok(()) }
//! ```
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde::Serialize;
use sha2::Sha256;
use url::Url;

use super::http::{self, HttpOptions};
use super::named::Named;
use super::{
    BuildError, Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, Part, RateLimit,
    RateLimitScope, Receipt,
};
use crate::incident::Act;
use crate::render::TextLimit;

/// How far a `webhook-timestamp` may be from the receiver's clock by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// A Standard Webhooks signing secret: `whsec_` + base64 of 24 to 64 random
/// bytes. Its `Debug` output never shows the key.
///
/// It has no `PartialEq` on purpose: comparing secrets must be constant-time;
/// use [`verify`].
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
    mac: Hmac<Sha256>,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// What a secret must look like.
const SECRET_SHAPE: &str = "whsec_ followed by base64 of 24 to 64 bytes";

/// A secret that is not `whsec_` + base64 of 24 to 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid webhook secret: {0} (expected {SECRET_SHAPE})")]
pub struct SecretError(&'static str);

impl FromStr for WebhookSecret {
    type Err = SecretError;
    fn from_str(s: &str) -> Result<Self, SecretError> {
        let b64 = s
            .strip_prefix("whsec_")
            .ok_or(SecretError("missing whsec_ prefix"))?;
        let key = BASE64
            .decode(b64.trim())
            .map_err(|_| SecretError("not base64"))?;
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError("key must be 24 to 64 bytes"));
        }
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key)
            .map_err(|_| SecretError("key rejected by HMAC"))?;
        Ok(Self { key, mac })
    }
}

impl WebhookSecret {
    /// The secret in its `whsec_` form, to hand to a receiver.
    pub fn expose(&self) -> String {
        format!("whsec_{}", BASE64.encode(&self.key))
    }
}

fn signed_mac(secret: &WebhookSecret, id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = secret.mac.clone();
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value for a message: `v1,<base64 HMAC-SHA256 of
/// "id.timestamp.body">`.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = signed_mac(secret, id, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    format!("v1,{}", BASE64.encode(tag))
}

/// Why a received webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is missing or not ASCII.
    #[error("missing or unreadable header {0}")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not an integer.
    #[error("webhook-timestamp is not unix seconds")]
    BadTimestamp,
    /// The timestamp is further from now than the tolerance (a replay, or a
    /// skewed clock).
    #[error("webhook-timestamp is {skew:?} away from now, more than {tolerance:?}")]
    StaleTimestamp {
        /// How far it was.
        skew: Duration,
        /// The tolerance.
        tolerance: Duration,
    },
    /// No `v1` signature in the header matches.
    #[error("no valid v1 signature")]
    BadSignature,
}

/// Verifies a Standard Webhooks message from its three header values and the raw
/// body bytes, at time `now`, allowing `tolerance` of clock difference. Every
/// space-separated `v1,` signature is tried (key rotation); comparison is
/// constant-time.
pub fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let skew = Duration::from_secs(now_secs.abs_diff(ts));
    if skew > tolerance {
        return Err(VerifyError::StaleTimestamp { skew, tolerance });
    }
    let expected = signed_mac(secret, id, timestamp.trim(), body);
    let valid = signatures
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| BASE64.decode(b64).ok())
        .any(|tag| expected.clone().verify_slice(&tag).is_ok());
    if valid {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// [`verify`] reading `webhook-id`, `webhook-timestamp` and `webhook-signature`
/// from a header map, now, with [`DEFAULT_TOLERANCE`].
pub fn verify_headers(
    secret: &WebhookSecret,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), VerifyError> {
    let get = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(VerifyError::MissingHeader(name))
    };
    verify(
        secret,
        get("webhook-id")?,
        get("webhook-timestamp")?,
        get("webhook-signature")?,
        body,
        SystemTime::now(),
        DEFAULT_TOLERANCE,
    )
}

struct Endpoint {
    url: Url,
    secret: WebhookSecret,
    /// Set once the endpoint answered 410 Gone: it is not called again.
    gone: AtomicBool,
}

/// Posts signed JSON to named endpoints. The route's target is the endpoint
/// name; endpoint URLs and secrets never appear in `Debug`, logs or errors.
pub struct WebhookChannel {
    client: reqwest::Client,
    endpoints: Named<Endpoint>,
    timeout: Duration,
    limits: ChannelLimits,
}

impl fmt::Debug for WebhookChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookChannel")
            .field("endpoints", &self.endpoints)
            .field("timeout", &self.timeout)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Builds a [`WebhookChannel`]; every check happens in [`build`](Self::build).
#[must_use]
pub struct WebhookChannelBuilder {
    http: HttpOptions,
    limits: ChannelLimits,
    allow_http: bool,
    pending: Vec<(String, String, String)>,
}

impl fmt::Debug for WebhookChannelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookChannelBuilder")
            .field(
                "endpoints",
                &self.pending.iter().map(|p| &p.0).collect::<Vec<_>>(),
            )
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl WebhookChannel {
    /// Starts a builder: add at least one
    /// [`endpoint`](WebhookChannelBuilder::endpoint). Default [HTTP
    /// options](HttpOptions) (20 s timeout), no rate limit, text up to 16 KiB
    /// (the spec asks for payloads under 20 KB).
    pub fn builder() -> WebhookChannelBuilder {
        WebhookChannelBuilder {
            http: HttpOptions::new(),
            limits: ChannelLimits::new()
                .with_text(TextLimit::bytes(16 * 1024))
                .deduplicating()
                // Each endpoint is a receiver of its own.
                .with_rate_limit_scope(RateLimitScope::Target),
            allow_http: false,
            pending: Vec::new(),
        }
    }
}

impl WebhookChannelBuilder {
    /// Adds an endpoint: the route target `name` posts to `url`, signed with
    /// `secret` (`whsec_…`). `url` must be https, or http to a loopback host,
    /// without a user name or password; a fragment is ignored.
    pub fn endpoint(
        mut self,
        name: impl Into<String>,
        url: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        self.pending.push((name.into(), url.into(), secret.into()));
        self
    }

    /// How requests are made: timeouts, `User-Agent`, a proxy, or a client
    /// of your own (default [`HttpOptions::new`]).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// Requests for the whole channel, all endpoints together (default: no
    /// limit).
    pub fn rate(mut self, rate: RateLimit) -> Self {
        self.limits.rate = Some(rate);
        self
    }

    /// Requests to each endpoint (a route target; default: no limit).
    pub fn per_target_rate(mut self, rate: RateLimit) -> Self {
        self.limits.per_target_rate = Some(rate);
        self
    }

    /// Allows plain-http endpoints on any host. Messages and signatures then
    /// travel unencrypted: only for private networks you trust.
    pub fn danger_allow_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Validates every endpoint and the HTTP options, and builds the channel.
    pub fn build(self) -> Result<WebhookChannel, BuildError> {
        let allow_http = self.allow_http;
        let pending = self
            .pending
            .into_iter()
            .map(|(name, url, secret)| (name, (url, secret)));
        let endpoints = Named::build(
            "webhook endpoint",
            pending.collect(),
            |label, (url, secret)| {
                Ok(Endpoint {
                    url: http::url_setting(&url, allow_http, label)?,
                    secret: secret.parse::<WebhookSecret>().map_err(|e| {
                        BuildError::credential(
                            format!("{label} secret"),
                            format!("{} (expected {SECRET_SHAPE})", e.0),
                        )
                    })?,
                    gone: AtomicBool::new(false),
                })
            },
        )?;
        let client = http::client(&self.http)?;
        Ok(WebhookChannel {
            client,
            endpoints,
            timeout: self.http.request_timeout(),
            limits: self.limits,
        })
    }
}

#[derive(Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: DateTime<Utc>,
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    idempotency_key: &'a str,
    incident: IncidentJson<'a>,
    update: UpdateJson<'a>,
    audience: &'a str,
    detail: &'static str,
    target: &'a str,
    link: &'a str,
    text: &'a str,
    part: Part,
}

#[derive(Serialize)]
struct IncidentJson<'a> {
    id: &'a str,
    title: &'a str,
    impact: crate::incident::Impact,
    status: crate::incident::Status,
    started_at: DateTime<Utc>,
    components: &'a [crate::incident::Component],
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_for: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_until: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct UpdateJson<'a> {
    seq: u32,
    status: crate::incident::Status,
    at: DateTime<Utc>,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    internal_notes: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_update_at: Option<DateTime<Utc>>,
}

fn event_type(act: Act) -> &'static str {
    match act {
        Act::FirstContact => "incident.first_contact",
        Act::Update => "incident.update",
        Act::Resolution => "incident.resolution",
        Act::Postmortem => "incident.postmortem",
        Act::Announcement => "maintenance.announcement",
        Act::Reminder => "maintenance.reminder",
        Act::Maintenance => "maintenance.update",
        Act::Completion => "maintenance.completion",
    }
}

/// The JSON body for a delivery (exactly the bytes that are signed and sent).
fn payload(delivery: &Delivery) -> Result<Vec<u8>, ChannelError> {
    let (incident, update) = (&delivery.incident, &delivery.update);
    let internal = delivery.detail == crate::audience::Detail::Internal
        && delivery.audience.may_see_internal();
    let body = Payload {
        kind: event_type(update.act()),
        timestamp: update.at,
        data: Data {
            idempotency_key: delivery.key.as_str(),
            incident: IncidentJson {
                id: incident.id().as_str(),
                title: incident.title(),
                impact: incident.impact(),
                status: update.status,
                started_at: incident.started_at(),
                components: incident.components(),
                scheduled_for: incident.window().map(|w| w.scheduled_for()),
                scheduled_until: incident.window().map(|w| w.scheduled_until()),
            },
            update: UpdateJson {
                seq: update.seq,
                status: update.status,
                at: update.at,
                message: &update.message,
                internal_notes: update.internal_notes.as_deref().filter(|_| internal),
                next_update_at: update.next_update_at,
            },
            audience: delivery.audience.as_str(),
            detail: if internal { "internal" } else { "public" },
            target: delivery.target.as_str(),
            link: delivery.link.as_str(),
            text: &delivery.text,
            part: delivery.part,
        },
    };
    serde_json::to_vec(&body).map_err(|e| ChannelError::Config {
        reason: format!("cannot serialise the webhook payload: {e}"),
    })
}

#[async_trait]
impl Channel for WebhookChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::WEBHOOK
    }

    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let endpoint = self.endpoints.get(&delivery.target)?;
        if endpoint.gone.load(Ordering::Relaxed) {
            return Err(ChannelError::Rejected {
                reason: "endpoint answered 410 Gone earlier and is disabled".into(),
                status: Some(410),
            });
        }
        let body = payload(delivery)?;
        let id = delivery.key.as_str();
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let signature = sign(&endpoint.secret, id, timestamp, &body);
        let request = self
            .client
            .post(endpoint.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        let response = http::send(request, &endpoint.url, self.timeout).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(Receipt::new(crate::clock::now()).with_status(status.as_u16()));
        }
        if status == reqwest::StatusCode::GONE {
            endpoint.gone.store(true, Ordering::Relaxed);
        }
        // The body is not kept: a receiver that echoes requests would copy the
        // message (and internal notes) into errors and logs.
        Err(http::error_for_status(status, response.headers()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example from the Standard Webhooks reference implementations.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(ts: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(ts as u64)
    }

    #[test]
    fn signs_like_the_reference_implementations() {
        let secret: WebhookSecret = SECRET.parse().unwrap();
        assert_eq!(sign(&secret, ID, TS, BODY), SIG);
        assert_eq!(secret.expose(), SECRET);
        assert_eq!(format!("{secret:?}"), "WebhookSecret(<redacted>)");
    }

    #[test]
    fn verify_accepts_good_and_rejects_bad() {
        let secret: WebhookSecret = SECRET.parse().unwrap();
        let ts = TS.to_string();
        let now = at(TS + 10);
        verify(&secret, ID, &ts, SIG, BODY, now, DEFAULT_TOLERANCE).unwrap();
        // Rotation: any listed v1 signature may match.
        verify(
            &secret,
            ID,
            &ts,
            &format!("v1,AAAA {SIG} v1a,xyz"),
            BODY,
            now,
            DEFAULT_TOLERANCE,
        )
        .unwrap();
        let bad = |id: &str, ts: &str, sig: &str, body: &[u8], now| {
            verify(&secret, id, ts, sig, body, now, DEFAULT_TOLERANCE)
        };
        assert_eq!(
            bad(ID, &ts, SIG, b"{}", now),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            bad("msg_other", &ts, SIG, BODY, now),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            bad(ID, &ts, "v1,not-base64!", BODY, now),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            bad(ID, &ts, "v2,abc", BODY, now),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            bad(ID, "soon", SIG, BODY, now),
            Err(VerifyError::BadTimestamp)
        );
        assert!(matches!(
            bad(ID, &ts, SIG, BODY, at(TS + 301)),
            Err(VerifyError::StaleTimestamp { .. })
        ));
        assert!(matches!(
            bad(ID, &ts, SIG, BODY, at(TS - 301)),
            Err(VerifyError::StaleTimestamp { .. })
        ));
        let other: WebhookSecret = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".parse().unwrap();
        assert_eq!(
            verify(&other, ID, &ts, SIG, BODY, now, DEFAULT_TOLERANCE),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn secrets_are_validated() {
        assert!(
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
                .parse::<WebhookSecret>()
                .is_err()
        );
        assert!("whsec_!!!".parse::<WebhookSecret>().is_err());
        assert!("whsec_c2hvcnQ=".parse::<WebhookSecret>().is_err());
    }

    #[test]
    fn builder_refuses_bad_endpoints_without_leaking_them() {
        let err = WebhookChannel::builder()
            .endpoint("a", "http://hooks.example.com/secret-path", SECRET)
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, BuildError::InvalidUrl { field, .. } if field == r#"webhook endpoint "a""#),
            "{err:?}"
        );
        assert!(!err.to_string().contains("secret-path"), "{err}");
        let err = WebhookChannel::builder()
            .endpoint("a", "https://hooks.example.com/x", "whsec_short")
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, BuildError::InvalidCredential { credential, .. } if credential == r#"webhook endpoint "a" secret"#),
            "{err:?}"
        );
        assert!(!err.to_string().contains("whsec_short"), "{err}");
        assert_eq!(
            WebhookChannel::builder().build().unwrap_err(),
            BuildError::NoEndpoint {
                endpoint: "webhook endpoint"
            }
        );
        assert!(matches!(
            WebhookChannel::builder()
                .endpoint("a", "https://hooks.example.com/x", SECRET)
                .http(HttpOptions::new().timeout(Duration::ZERO))
                .build()
                .unwrap_err(),
            BuildError::InvalidSetting { .. }
        ));
        let ok = WebhookChannel::builder()
            .endpoint("a", "https://hooks.example.com/secret-path", SECRET)
            .build()
            .unwrap();
        let dbg = format!("{ok:?}");
        assert!(
            !dbg.contains("secret-path") && !dbg.contains("MfKQ"),
            "{dbg}"
        );
    }
}
