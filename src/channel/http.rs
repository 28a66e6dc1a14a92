//! HTTP plumbing shared by every HTTP channel, written once: the options and
//! the client, status → error mapping, `Retry-After` parsing, and URL checks.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use url::Url;

use super::{BuildError, ChannelError};

/// The default per-request timeout (Standard Webhooks suggests 15–30 s).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// The longest a connection (DNS, TCP and TLS) may take to be made, unless
/// set.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `User-Agent` of every request, unless replaced.
const DEFAULT_USER_AGENT: &str = concat!("tidings/", env!("CARGO_PKG_VERSION"));

/// How an HTTP channel makes its requests: timeouts, `User-Agent`, a proxy,
/// or a [`reqwest::Client`] of your own. Every HTTP channel's builder takes
/// one (`.http(options)`); what is not set keeps its default.
///
/// | setting | default |
/// |---|---|
/// | [`timeout`](Self::timeout): the whole request, until the answer's headers | 20 s |
/// | [`connect_timeout`](Self::connect_timeout): DNS, TCP and TLS | half the timeout, at most 10 s |
/// | [`user_agent`](Self::user_agent) / [`user_agent_suffix`](Self::user_agent_suffix) | `tidings/<version>` |
/// | [`proxy`](Self::proxy) | none (reqwest reads `HTTPS_PROXY` and the like from the environment) |
/// | [`client`](Self::client) | a client of the channel's own |
///
/// The channel's own client uses rustls with the crypto provider the
/// `tls-aws-lc` (default) or `tls-ring` feature chose, checks certificates
/// against the platform's trust store, speaks HTTP/1.1 and never follows a
/// redirect.
///
/// Everything is checked by the channel builder's `build()`, which returns a
/// [`BuildError`]: a zero timeout, a connect timeout longer than the request
/// timeout, a `User-Agent` that is not a header value, a proxy URL that is
/// not `http` or `https`, or connection settings given together with a
/// client of your own. A proxy URL may hold credentials
/// (`http://user:password@proxy:3128`): it never appears in `Debug` output
/// or errors.
///
/// ```
/// # #[cfg(feature = "webhook")]
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tidings::channel::HttpOptions;
/// use tidings::channel::webhook::WebhookChannel;
///
/// let webhook = WebhookChannel::builder()
///     .endpoint("ops", "https://bridge.example.com/hooks", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
///     .http(
///         HttpOptions::new()
///             .timeout(Duration::from_secs(10))
///             .user_agent_suffix("acme-status/2.1") // "tidings/<version> acme-status/2.1"
///             .proxy("http://user:secret@proxy.internal:3128"),
///     )
///     .build()?;
/// assert!(!format!("{webhook:?}").contains("secret"));
/// # Ok(()) }
/// # #[cfg(not(feature = "webhook"))]
/// # fn main() {}
/// ```
///
/// With a [`client`](Self::client) of your own (to share one connection
/// pool between channels, or to configure what these options do not), the
/// channel still applies [`timeout`](Self::timeout) to each request, and
/// still refuses an answer that came through a redirect, whatever the
/// client's redirect policy; set everything else on the client itself. It
/// must have a rustls crypto provider (tidings builds reqwest with
/// `rustls-no-provider`: give it a `rustls::ClientConfig` with
/// `tls_backend_preconfigured`, or install a process-wide default provider),
/// and it should not follow redirects
/// (`redirect(reqwest::redirect::Policy::none())`): a followed redirect
/// sends the request a second time, to where the redirect pointed, before
/// the channel refuses its answer.
#[derive(Clone)]
#[must_use]
pub struct HttpOptions {
    timeout: Duration,
    connect_timeout: Option<Duration>,
    user_agent: UserAgent,
    proxy: Option<String>,
    client: Option<reqwest::Client>,
}

/// The `User-Agent` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum UserAgent {
    Default,
    Suffix(String),
    Replace(String),
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// The proxy and the client are shown only as set or not: a proxy URL may
/// hold credentials.
impl fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpOptions")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.effective_connect_timeout())
            .field("user_agent", &self.user_agent_value())
            .field("proxy", &self.proxy.as_ref().map(|_| "<redacted>"))
            .field("own_client", &self.client.is_some())
            .finish()
    }
}

impl HttpOptions {
    /// The defaults: a 20 s timeout, connecting within half of it (at most
    /// 10 s), `User-Agent: tidings/<version>`, no proxy of its own, a client
    /// of the channel's own.
    pub fn new() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: None,
            user_agent: UserAgent::Default,
            proxy: None,
            client: None,
        }
    }

    /// The longest a request may take, from connecting until the answer's
    /// status line and headers (default 20 s). A request whose answer does
    /// not come in time may still have reached the provider: it is a
    /// [`ChannelError::Timeout`], its outcome unknown.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest connecting (DNS, TCP and TLS) may take (default: half the
    /// timeout, at most 10 s). A connection not made in time is a
    /// [`ChannelError::Transient`]: nothing was sent. Keep it shorter than
    /// the [`timeout`](Self::timeout), which includes it; it may not be
    /// longer.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Replaces the `User-Agent` (default `tidings/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = UserAgent::Replace(user_agent.into());
        self
    }

    /// Adds to the `User-Agent`: `tidings/<version> <suffix>`, e.g. your
    /// product and version, or a contact.
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent = UserAgent::Suffix(suffix.into());
        self
    }

    /// Sends every request through this proxy: an `http` or `https` URL,
    /// with credentials if the proxy needs them
    /// (`http://user:password@proxy.internal:3128`; never shown in `Debug`
    /// output or errors). Without one, reqwest uses the proxy the
    /// environment names (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
    /// `NO_PROXY`).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Sends through this client instead of one of the channel's own: see
    /// the [type's docs](Self) for what it must do. The
    /// [`timeout`](Self::timeout) still applies to each request; the other
    /// settings may not be given with it.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The per-request timeout.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.timeout
    }

    fn effective_connect_timeout(&self) -> Duration {
        self.connect_timeout
            .unwrap_or_else(|| (self.timeout / 2).min(MAX_CONNECT_TIMEOUT))
    }

    fn user_agent_value(&self) -> Cow<'_, str> {
        match &self.user_agent {
            UserAgent::Default => Cow::Borrowed(DEFAULT_USER_AGENT),
            UserAgent::Suffix(suffix) => Cow::Owned(format!("{DEFAULT_USER_AGENT} {suffix}")),
            UserAgent::Replace(agent) => Cow::Borrowed(agent),
        }
    }

    /// Checks every setting; the proxy, parsed, if there is one.
    fn check(&self) -> Result<Option<reqwest::Proxy>, BuildError> {
        let zero = "it must be greater than zero";
        if self.timeout.is_zero() {
            return Err(BuildError::setting("HTTP timeout", zero));
        }
        if let Some(connect) = self.connect_timeout {
            if connect.is_zero() {
                return Err(BuildError::setting("HTTP connect timeout", zero));
            }
            if connect > self.timeout {
                return Err(BuildError::setting(
                    "HTTP connect timeout",
                    format!(
                        "{connect:?} is longer than the request timeout ({:?}), which includes connecting",
                        self.timeout
                    ),
                ));
            }
        }
        if self.client.is_some() {
            let own = self.connect_timeout.is_some()
                || self.user_agent != UserAgent::Default
                || self.proxy.is_some();
            if own {
                return Err(BuildError::setting(
                    "HTTP options",
                    "a connect timeout, User-Agent or proxy cannot be given with a client of your own; set them on the client",
                ));
            }
            return Ok(None);
        }
        let agent = self.user_agent_value();
        if agent.trim().is_empty()
            || agent.chars().any(char::is_control)
            || reqwest::header::HeaderValue::from_str(&agent).is_err()
        {
            return Err(BuildError::setting(
                "HTTP User-Agent",
                "it must be visible ASCII characters and spaces, not blank",
            ));
        }
        self.proxy.as_deref().map(parse_proxy).transpose()
    }
}

/// A proxy for every request; the error never holds the URL.
fn parse_proxy(raw: &str) -> Result<reqwest::Proxy, BuildError> {
    let field = "proxy URL";
    let url = Url::parse(raw.trim())
        .map_err(|e| BuildError::url(field, format!("not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(BuildError::url(field, "the scheme must be http or https"));
    }
    if url.host().is_none() {
        return Err(BuildError::url(field, "it names no host"));
    }
    reqwest::Proxy::all(url).map_err(|_| BuildError::url(field, "reqwest cannot use it as a proxy"))
}

/// The client `options` ask for, once every setting is checked: the
/// caller's own, or one that never follows redirects and never waits
/// forever.
///
/// Connecting may by default take half the timeout, at most 10 s: shorter
/// than the request's timeout, so that a connection that cannot be made
/// fails as such (nothing sent, [`ChannelError::Transient`]) rather than as a
/// timeout whose outcome is unknown.
pub(crate) fn client(options: &HttpOptions) -> Result<reqwest::Client, BuildError> {
    let proxy = options.check()?;
    if let Some(client) = &options.client {
        return Ok(client.clone());
    }
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(options.timeout)
        .connect_timeout(options.effective_connect_timeout())
        .user_agent(options.user_agent_value().into_owned());
    if let Some(proxy) = proxy {
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| {
        BuildError::client(format!("cannot build the HTTP client: {}", e.without_url()))
    })
}

/// The crypto provider the `tls-*` features chose: aws-lc-rs, else ring.
fn crypto_provider() -> Result<rustls::crypto::CryptoProvider, BuildError> {
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
        Err(BuildError::client(
            "no TLS crypto provider is built in: enable the tls-aws-lc (default) or tls-ring feature",
        ))
    }
}

/// TLS for HTTP channels: rustls on the chosen provider, certificates checked
/// against the platform's trust store, HTTP/1.1.
fn tls_config() -> Result<rustls::ClientConfig, BuildError> {
    let provider = std::sync::Arc::new(crypto_provider()?);
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| BuildError::client(format!("cannot load the platform's certificates: {e}")))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BuildError::client(format!("TLS versions: {e}")))?
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
    feature = "bluesky",
    feature = "__records"
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
/// the safe side. [`client`] keeps the connect timeout no longer than the
/// timeout, and by default shorter.
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

/// [`check_url`] for a builder: a URL refused is an invalid `field`.
pub(crate) fn url_setting(
    raw: &str,
    allow_http: bool,
    field: impl Into<String>,
) -> Result<Url, BuildError> {
    check_url(raw, allow_http).map_err(|reason| BuildError::url(field, reason))
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
        let client = client(&HttpOptions::new().timeout(timeout)).unwrap();
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
