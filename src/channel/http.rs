//! HTTP plumbing shared by every HTTP channel, written once: the client,
//! status → error mapping, `Retry-After` parsing, and URL checks.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use url::Url;

use super::ChannelError;

/// The default per-request timeout (Standard Webhooks suggests 15–30 s).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// A client that never follows redirects and never waits forever.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, ChannelError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("tidings/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ChannelError::Config {
            reason: format!("cannot build the HTTP client: {}", e.without_url()),
        })
}

/// Parses `Retry-After`: delta-seconds (decimals tolerated) or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Maps a non-success status to an error, following the general HTTP rules:
/// 429 is a rate limit; 408 and 5xx are transient; 3xx (redirects are not
/// followed) and other 4xx are permanent; 410 Gone means the endpoint is gone.
///
/// Response bodies are not part of the error: providers' own error bodies are
/// read by their channel's `map_error`, which keeps only known fields.
pub(crate) fn error_for_status(status: StatusCode, headers: &HeaderMap) -> ChannelError {
    let retry_after = retry_after(headers, SystemTime::now());
    let code = status.as_u16();
    match code {
        429 => ChannelError::RateLimited { retry_after },
        408 | 500..=599 => ChannelError::Transient {
            reason: format!("server answered {status}"),
            status: Some(code),
            retry_after,
        },
        410 => ChannelError::Rejected {
            reason: "endpoint is gone (410); it is disabled".into(),
            status: Some(code),
        },
        300..=399 => ChannelError::Rejected {
            reason: format!("redirect ({status}) not followed; fix the URL"),
            status: Some(code),
        },
        _ => ChannelError::Rejected {
            reason: format!("server answered {status}"),
            status: Some(code),
        },
    }
}

/// Sends `request` (built for `url`) with `timeout`; maps transport errors and
/// refuses a response that came through a redirect (whatever the client's
/// policy), so a signed body or a token never counts as delivered elsewhere.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    url: &Url,
    timeout: Duration,
) -> Result<reqwest::Response, ChannelError> {
    let response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| transport_error(e, timeout))?;
    if response.url() != url {
        return Err(ChannelError::Rejected {
            reason: "the response came from a redirect, which is not followed".into(),
            status: Some(response.status().as_u16()),
        });
    }
    Ok(response)
}

/// Reads at most 64 KiB of a response body as text (provider error bodies and
/// small JSON answers); a body that cannot be read is empty.
#[cfg(any(
    feature = "__chat",
    feature = "__social",
    feature = "sms-twilio",
    feature = "statuspage-io",
    feature = "bluesky"
))]
pub(crate) async fn body_text(mut response: reqwest::Response) -> String {
    const MAX: usize = 64 * 1024;
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Maps a transport error; the URL (which may hold a secret) is stripped.
///
/// - Failing to connect (refused, reset during the connect, a connect
///   timeout): nothing was sent; transient.
/// - A TLS handshake or certificate failure, or a host name that does not
///   resolve: a configuration error, not retried.
/// - A timeout once connected: the request may have been delivered;
///   [`ChannelError::Timeout`] (outcome unknown).
/// - Any other failure once connected (a connection reset or closed while the
///   request was written or the answer read): the request may have been
///   delivered; [`ChannelError::ConnectionLost`] (outcome unknown).
pub(crate) fn transport_error(err: reqwest::Error, timeout: Duration) -> ChannelError {
    if err.is_builder() {
        return ChannelError::Config {
            reason: format!("cannot build the request: {}", err.without_url()),
        };
    }
    let chain = causes(&err);
    if err.is_connect() {
        if is_tls(&chain) {
            return ChannelError::Config {
                reason: format!("TLS with the server failed (certificate or handshake): {chain}"),
            };
        }
        if is_dns(&chain) {
            return ChannelError::Config {
                reason: format!("the host name does not resolve: {chain}"),
            };
        }
        if err.is_timeout() {
            return ChannelError::transient("connecting timed out");
        }
        return ChannelError::transient(format!("connection failed: {chain}"));
    }
    if err.is_timeout() {
        return ChannelError::Timeout { after: timeout };
    }
    ChannelError::ConnectionLost {
        reason: err.without_url().to_string(),
    }
}

/// The error's causes, joined, without the URL.
fn causes(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    if parts.is_empty() {
        return "no detail".into();
    }
    parts.join(": ")
}

fn is_tls(chain: &str) -> bool {
    let c = chain.to_ascii_lowercase();
    [
        "certificate",
        "tls",
        "handshake",
        "unknownissuer",
        "invalid peer",
    ]
    .iter()
    .any(|w| c.contains(w))
}

fn is_dns(chain: &str) -> bool {
    let c = chain.to_ascii_lowercase();
    [
        "dns error",
        "failed to lookup address",
        "name or service not known",
        "no address associated",
    ]
    .iter()
    .any(|w| c.contains(w))
}

/// Checks an endpoint URL: https, or http on a loopback host (for local
/// receivers and tests) unless `allow_http` is set.
pub(crate) fn check_url(raw: &str, allow_http: bool) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("not a valid URL ({e})"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http || is_loopback(&url) => Ok(url),
        "http" => Err("plain http is only allowed to loopback hosts; use https".to_owned()),
        other => Err(format!("unsupported scheme {other:?}")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with_retry_after(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&with_retry_after("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&with_retry_after("1.5"), now),
            Some(Duration::from_millis(1500))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            retry_after(&with_retry_after(&date), now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(
            retry_after(&with_retry_after(&past), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&with_retry_after("soon"), now), None);
        assert_eq!(retry_after(&with_retry_after("-3"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn statuses_map_to_what_to_do_next() {
        let h = with_retry_after("3");
        let e = |code: u16| error_for_status(StatusCode::from_u16(code).unwrap(), &h);
        assert_eq!(
            e(429),
            ChannelError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        for code in [408, 500, 502, 503, 504] {
            assert!(e(code).is_retryable(), "{code}");
            assert_eq!(e(code).retry_after(), Some(Duration::from_secs(3)));
        }
        for code in [301, 302, 307, 400, 401, 403, 404, 410, 422] {
            assert!(!e(code).is_retryable(), "{code}");
            assert_eq!(e(code).status(), Some(code));
        }
        assert!(e(410).to_string().contains("gone"));
    }

    #[test]
    fn urls_must_be_https_unless_loopback() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/x", false).is_ok());
        assert!(check_url("http://localhost/x", false).is_ok());
        assert!(check_url("http://[::1]/x", false).is_ok());
        assert!(check_url("http://hooks.example.com/x", false).is_err());
        assert!(check_url("http://hooks.example.com/x", true).is_ok());
        assert!(check_url("ftp://x", true).is_err());
        assert!(check_url("not a url", true).is_err());
    }
}
