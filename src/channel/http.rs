//! HTTP plumbing shared by every HTTP channel, written once: the client,
//! status → error mapping, `Retry-After` parsing, and URL checks.

use std::error::Error as StdError;
use std::io;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use url::Url;

use super::ChannelError;

/// The default per-request timeout (Standard Webhooks suggests 15–30 s).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// The longest a connection (DNS, TCP and TLS) may take to be made.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client that never follows redirects and never waits forever.
///
/// Connecting may take half the timeout, at most 10 s: shorter than the
/// request's timeout, so that a connection that cannot be made fails as such
/// (nothing sent, [`ChannelError::Transient`]) rather than as a timeout whose
/// outcome is unknown.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, ChannelError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout((timeout / 2).min(MAX_CONNECT_TIMEOUT))
        .user_agent(concat!("tidings/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ChannelError::Config {
            reason: format!("cannot build the HTTP client: {}", e.without_url()),
        })
}

/// The crypto provider the `tls-*` features chose: aws-lc-rs, else ring.
fn crypto_provider() -> Result<rustls::crypto::CryptoProvider, ChannelError> {
    #[cfg(feature = "tls-aws-lc")]
    {
        Ok(rustls::crypto::aws_lc_rs::default_provider())
    }
    #[cfg(all(feature = "tls-ring", not(feature = "tls-aws-lc")))]
    {
        Ok(rustls::crypto::ring::default_provider())
    }
    #[cfg(not(any(feature = "tls-aws-lc", feature = "tls-ring")))]
    {
        Err(ChannelError::Config {
            reason: "no TLS crypto provider is built in: enable the tls-aws-lc (default) or tls-ring feature".into(),
        })
    }
}

/// TLS for HTTP channels: rustls on the chosen provider, certificates checked
/// against the platform's trust store, HTTP/1.1.
fn tls_config() -> Result<rustls::ClientConfig, ChannelError> {
    let config = |reason: String| ChannelError::Config { reason };
    let provider = std::sync::Arc::new(crypto_provider()?);
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| config(format!("cannot load the platform's certificates: {e}")))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config(format!("TLS versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
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
///
/// A redirect is told by the response's URL naming another resource: scheme,
/// host, port, path or query differ. User information (which reqwest moves
/// into an `Authorization` header) and the fragment (never sent) are not
/// compared: reqwest 0.13 reports the URL re-read from the request's
/// `http::Uri`, which holds neither.
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
    if !same_resource(response.url(), url) {
        return Err(ChannelError::Rejected {
            reason: "the response came from a redirect, which is not followed".into(),
            status: Some(response.status().as_u16()),
        });
    }
    Ok(response)
}

/// Whether two URLs name the same resource on the same server: what an HTTP
/// request carries of a URL (scheme, host, port, path and query).
fn same_resource(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
        && a.query() == b.query()
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

/// Maps a transport error to what to do next; the URL (which may hold a
/// secret) is never part of it. What decides is how far the request got, read
/// from the error's causes by their types (reqwest 0.13, hyper 1, rustls 0.23):
///
/// | where it failed | found by | error |
/// |---|---|---|
/// | connecting: refused, reset, timed out (DNS, TCP and TLS together, within the connect timeout) | [`reqwest::Error::is_connect`] | [`ChannelError::Transient`]: nothing was sent |
/// | the TLS handshake or the server's certificate | a [`rustls::Error`] among the causes (tokio-rustls wraps it in an [`io::Error`]) | [`ChannelError::Config`], not retried |
/// | the host name does not resolve | [`reqwest::Error::is_dns`] | [`ChannelError::Config`], not retried; a resolver's *temporary* failure is [`ChannelError::Transient`] |
/// | the connection closed before hyper started writing the request | [`hyper::Error::is_canceled`] ("the message was never even started") | [`ChannelError::Transient`]: nothing was sent |
/// | no answer within the timeout, once connected | [`reqwest::Error::is_timeout`] | [`ChannelError::Timeout`] (outcome unknown) |
/// | anything else once connected: reset while the request was written or the answer read, closed before the answer | — | [`ChannelError::ConnectionLost`] (outcome unknown) |
///
/// A connection reset by the server as soon as it accepted, before reading
/// anything, is outcome unknown too when hyper had started writing: the
/// request's bytes may already be in the server's socket, and from the client
/// a server that reset without reading cannot be told from one that read the
/// request and then failed. (hyper-util also reports a connection that died
/// after connecting but before hyper took the request as a send error like
/// any other; it is outcome unknown as well, since it cannot be told apart.)
///
/// A timeout that fires before the connection is made (a total timeout no
/// longer than the connect timeout, as with a shared client) cannot be told
/// from one after sending: it is reported as a [`ChannelError::Timeout`], on
/// the safe side. [`client`] keeps the connect timeout shorter.
pub(crate) fn transport_error(err: reqwest::Error, timeout: Duration) -> ChannelError {
    if err.is_builder() {
        return ChannelError::Config {
            reason: format!("cannot build the request: {}", err.without_url()),
        };
    }
    let detail = causes(&err);
    if err.is_connect() {
        if let Some(tls) = tls_failure(&err) {
            return ChannelError::Config {
                reason: format!(
                    "TLS with the server failed ({tls}); check the host name and the server's certificate"
                ),
            };
        }
        if err.is_dns() {
            if dns_is_temporary(&err) {
                return ChannelError::transient(format!(
                    "the host name could not be resolved for now: {detail}"
                ));
            }
            return ChannelError::Config {
                reason: format!("the host name does not resolve: {detail}"),
            };
        }
        if err.is_timeout() {
            return ChannelError::transient("connecting timed out");
        }
        return ChannelError::transient(format!("connection failed: {detail}"));
    }
    if never_started(&err) {
        return ChannelError::transient(format!(
            "the connection closed before the request was sent: {detail}"
        ));
    }
    if err.is_timeout() {
        return ChannelError::Timeout { after: timeout };
    }
    ChannelError::ConnectionLost { reason: detail }
}

/// The error's causes (never the URL, which only the top error holds).
fn sources(err: &reqwest::Error) -> impl Iterator<Item = &(dyn StdError + 'static)> {
    std::iter::successors(StdError::source(err), |e| (*e).source())
}

/// The error's causes, joined.
fn causes(err: &reqwest::Error) -> String {
    let parts: Vec<String> = sources(err).map(ToString::to_string).collect();
    if parts.is_empty() {
        return "no detail".into();
    }
    parts.join(": ")
}

/// The rustls error among the causes, if any. tokio-rustls hands a rustls
/// error over as an `io::Error` holding it, which hyper-rustls wraps in
/// another `io::Error`; `io::Error::source` skips the error it holds, so
/// each `io::Error` is opened down to what it holds.
fn tls_failure(err: &reqwest::Error) -> Option<&rustls::Error> {
    sources(err).find_map(|cause| {
        let mut e: &(dyn StdError + 'static) = cause;
        loop {
            if let Some(tls) = e.downcast_ref::<rustls::Error>() {
                return Some(tls);
            }
            let held = e.downcast_ref::<io::Error>()?.get_ref()?;
            e = held;
        }
    })
}

/// Whether the resolver said its failure is temporary (`EAI_AGAIN`, "try
/// again"), rather than that the name does not exist. `getaddrinfo` errors
/// reach us only as text (std makes an `io::Error` of `gai_strerror`), except
/// on Windows (`WSATRY_AGAIN`).
fn dns_is_temporary(err: &reqwest::Error) -> bool {
    const WSATRY_AGAIN: i32 = 11002;
    sources(err)
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|io| {
            io.raw_os_error() == Some(WSATRY_AGAIN)
                || io
                    .to_string()
                    .to_ascii_lowercase()
                    .contains("temporary failure in name resolution")
        })
}

/// Whether hyper gave the request back unsent: its dispatcher cancels a
/// queued request when the connection closes before writing began.
fn never_started(err: &reqwest::Error) -> bool {
    sources(err)
        .filter_map(|e| e.downcast_ref::<hyper::Error>())
        .any(hyper::Error::is_canceled)
}

/// Checks an endpoint URL: https, or http on a loopback host (for local
/// receivers and tests) unless `allow_http` is set.
///
/// - User information (`https://user:password@host/…`) is refused: reqwest
///   would send it as HTTP basic authentication, which no provider here takes
///   from the URL; credentials go in the provider's own settings (its token,
///   secret or API key).
/// - A fragment (`#…`) is accepted and ignored: it is never sent, and plays
///   no part in telling a redirect (see [`send`]). Providers whose URLs must
///   have none say so themselves.
///
/// Errors never contain the URL, nor any part of it.
pub(crate) fn check_url(raw: &str, allow_http: bool) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("not a valid URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the URL holds a user name or password (user:password@…); put \
                    credentials in the provider's own configuration, not in the URL"
                .to_owned(),
        );
    }
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

    #[test]
    fn user_information_is_refused_and_a_fragment_kept_out_of_the_way() {
        for raw in [
            "https://user:pa55word@hooks.example.com/x",
            "https://user@hooks.example.com/x",
            "https://:pa55word@hooks.example.com/x",
        ] {
            let err = check_url(raw, false).unwrap_err();
            assert!(err.contains("user name or password"), "{err}");
            assert!(!err.contains("pa55word") && !err.contains("user@"), "{err}");
        }
        let url = check_url("https://hooks.example.com/x?k=1#frag", false).unwrap();
        assert_eq!(url.fragment(), Some("frag"));
    }

    #[test]
    fn a_redirect_is_another_resource_not_another_spelling() {
        let u = |s: &str| Url::parse(s).unwrap();
        let base = u("https://hooks.example.com/x/y?k=1");
        for same in [
            "https://hooks.example.com/x/y?k=1",
            "https://user:pw@hooks.example.com/x/y?k=1",
            "https://hooks.example.com:443/x/y?k=1",
            "https://HOOKS.example.com/x/y?k=1#frag",
        ] {
            assert!(same_resource(&base, &u(same)), "{same}");
        }
        for other in [
            "http://hooks.example.com/x/y?k=1",
            "https://hooks.example.org/x/y?k=1",
            "https://hooks.example.com:8443/x/y?k=1",
            "https://hooks.example.com/x/z?k=1",
            "https://hooks.example.com/x/y?k=2",
            "https://hooks.example.com/x/y",
        ] {
            assert!(!same_resource(&base, &u(other)), "{other}");
        }
    }

    /// What reqwest does with a URL's user information and fragment: the
    /// former becomes basic authentication, the latter is not sent, and
    /// neither is in the URL it reports. Neither makes a delivered request
    /// look redirected.
    #[tokio::test]
    async fn user_information_and_fragments_do_not_look_like_redirects() {
        use wiremock::matchers::{header, method, path, query_param};
        use wiremock::{Mock, MockServer, ResponseTemplate};

        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/hook"))
            .and(query_param("k", "1"))
            .and(header("authorization", "Basic dXNlcjpwdw=="))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
        let timeout = Duration::from_secs(5);
        let client = client(timeout).unwrap();
        let addr = server.address();
        let url = Url::parse(&format!("http://user:pw@{addr}/hook?k=1#frag")).unwrap();
        let response = send(client.post(url.clone()), &url, timeout).await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        // reqwest reports the URL re-read from the request's `http::Uri`,
        // which has neither: comparing whole URLs would see a redirect.
        assert_eq!(response.url().username(), "");
        assert_eq!(response.url().fragment(), None);
        assert_ne!(response.url(), &url);
        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].url.fragment(), None);
    }
}
