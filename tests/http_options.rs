//! `HttpOptions` through a real channel (the signed webhook) against servers
//! on 127.0.0.1: the timeout, the `User-Agent`, the proxy and its
//! credentials, and the settings `build()` refuses.
#![cfg(feature = "webhook")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::*;
use tidings::channel::webhook::WebhookChannel;
use tidings::channel::{BuildError, Channel, ChannelError, Delivery, HttpOptions};
use tidings::prelude::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PERMALINK: &str = "https://status.example.com/incidents/inc-7";
const PROXY_PASSWORD: &str = "pr0xy-s3cret";

fn delivery() -> Delivery {
    let (inc, update) = incident();
    let msg = tidings::render::Templates::new()
        .render(&inc, &update, &Audience::Customers, Detail::Public)
        .unwrap();
    Delivery::new(
        "hooks",
        Arc::new(inc),
        Arc::new(update),
        Audience::Customers,
        Detail::Public,
        target("bridge"),
        Arc::new(msg),
        format!("text {PERMALINK}"),
        Arc::new(PERMALINK.parse().unwrap()),
    )
}

fn webhook(url: &str, http: HttpOptions) -> Result<WebhookChannel, BuildError> {
    WebhookChannel::builder()
        .endpoint("bridge", url, SECRET)
        .http(http)
        .build()
}

/// A server on 127.0.0.1 that accepts connections and never answers.
fn silent_server() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/tidings", listener.local_addr().unwrap());
    (listener, url)
}

// The request timeout is the one set, measured on tokio's paused clock: the
// server never answers, so the request ends exactly when the timeout fires.
#[tokio::test(start_paused = true)]
async fn the_timeout_set_is_the_one_applied() {
    let (_listener, url) = silent_server();
    for timeout in [Duration::from_secs(3), Duration::from_secs(45)] {
        let ch = webhook(&url, HttpOptions::new().timeout(timeout)).unwrap();
        let start = tokio::time::Instant::now();
        let err = ch.send(&delivery()).await.unwrap_err();
        assert_eq!(err, ChannelError::Timeout { after: timeout });
        assert_eq!(start.elapsed(), timeout);
    }
}

// With a client of the caller's own, the timeout still applies, per request.
#[tokio::test(start_paused = true)]
async fn the_timeout_applies_to_a_client_of_your_own() {
    install_crypto_provider();
    let (_listener, url) = silent_server();
    let timeout = Duration::from_secs(7);
    let ch = webhook(
        &url,
        HttpOptions::new()
            .client(reqwest::Client::new())
            .timeout(timeout),
    )
    .unwrap();
    let start = tokio::time::Instant::now();
    let err = ch.send(&delivery()).await.unwrap_err();
    assert_eq!(err, ChannelError::Timeout { after: timeout });
    assert_eq!(start.elapsed(), timeout);
}

async fn user_agent_sent(options: HttpOptions) -> String {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/tidings"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let ch = webhook(&format!("{}/hooks/tidings", server.uri()), options).unwrap();
    ch.send(&delivery()).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let agents: Vec<_> = requests[0]
        .headers
        .get_all("user-agent")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(agents.len(), 1, "{agents:?}");
    agents[0].clone()
}

#[tokio::test]
async fn the_user_agent_is_ours_with_a_suffix_or_replaced() {
    let ours = format!("tidings/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(user_agent_sent(HttpOptions::new()).await, ours);
    assert_eq!(
        user_agent_sent(HttpOptions::new().user_agent_suffix("acme-status/2.1 (ops@acme.example)"))
            .await,
        format!("{ours} acme-status/2.1 (ops@acme.example)")
    );
    assert_eq!(
        user_agent_sent(HttpOptions::new().user_agent("AcmeStatus/3")).await,
        "AcmeStatus/3"
    );
}

// Requests go through the proxy, with its credentials as
// `Proxy-Authorization`; the credentials never show in `Debug`.
#[tokio::test]
async fn requests_go_through_the_proxy_with_its_credentials() {
    let proxy = MockServer::start().await;
    // base64("ops:pr0xy-s3cret")
    Mock::given(method("POST"))
        .and(path("/hooks/tidings"))
        .and(header(
            "proxy-authorization",
            "Basic b3BzOnByMHh5LXMzY3JldA==",
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&proxy)
        .await;
    let proxy_url = format!("http://ops:{PROXY_PASSWORD}@{}", proxy.address());
    // Nothing listens at the target itself: only the proxy can answer.
    let (listener, url) = silent_server();
    drop(listener);
    let options = HttpOptions::new().proxy(proxy_url);
    let builder = WebhookChannel::builder()
        .endpoint("bridge", url.as_str(), SECRET)
        .http(options.clone());
    let shown = format!("{options:?} {builder:?}");
    let ch = builder.build().unwrap();
    let shown = format!("{shown} {ch:?}");
    assert!(
        !shown.contains(PROXY_PASSWORD) && !shown.contains("ops:"),
        "{shown}"
    );
    assert!(shown.contains("<redacted>"), "{shown}");
    let receipt = ch.send(&delivery()).await.unwrap();
    assert_eq!(receipt.status, Some(204));
}

// A proxy that cannot be reached fails the send; neither the error nor its
// `Debug` holds the proxy's credentials.
#[tokio::test]
async fn proxy_credentials_never_show_in_errors() {
    let (listener, proxy_addr) = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        (l, a)
    };
    drop(listener); // connection refused
    let ch = webhook(
        "https://hooks.example.com/hooks/tidings",
        HttpOptions::new()
            .timeout(Duration::from_secs(5))
            .proxy(format!("http://ops:{PROXY_PASSWORD}@{proxy_addr}")),
    )
    .unwrap();
    let err = ch.send(&delivery()).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(PROXY_PASSWORD), "{shown}");
    assert!(err.is_retryable(), "{err:?}");

    // Refused at build, the error names the field, never the URL.
    for bad in [
        format!("ftp://ops:{PROXY_PASSWORD}@proxy.internal:21"),
        format!("ops:{PROXY_PASSWORD}"),
    ] {
        let err = webhook(
            "https://hooks.example.com/hooks/tidings",
            HttpOptions::new().proxy(bad.clone()),
        )
        .unwrap_err();
        assert!(
            matches!(&err, BuildError::InvalidUrl { field, .. } if field == "proxy URL"),
            "{bad}: {err:?}"
        );
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains(PROXY_PASSWORD) && !shown.contains("proxy.internal"),
            "{shown}"
        );
    }
}

#[test]
fn conflicting_or_invalid_settings_are_refused_at_build() {
    install_crypto_provider();
    let url = "https://hooks.example.com/hooks/tidings";
    let setting = |options: HttpOptions| match webhook(url, options) {
        Err(BuildError::InvalidSetting { setting, reason }) => (setting, reason),
        other => panic!("expected an invalid setting, got {other:?}"),
    };
    let own = || HttpOptions::new().client(reqwest::Client::new());
    for conflicting in [
        own().connect_timeout(Duration::from_secs(1)),
        own().user_agent("AcmeStatus/3"),
        own().user_agent_suffix("acme/1"),
        own().proxy(format!("http://ops:{PROXY_PASSWORD}@proxy.internal:3128")),
    ] {
        let (field, reason) = setting(conflicting);
        assert_eq!(field, "HTTP options");
        assert!(reason.contains("client of your own"), "{reason}");
        assert!(!reason.contains(PROXY_PASSWORD), "{reason}");
    }
    assert_eq!(
        setting(HttpOptions::new().timeout(Duration::ZERO)).0,
        "HTTP timeout"
    );
    assert_eq!(
        setting(HttpOptions::new().connect_timeout(Duration::ZERO)).0,
        "HTTP connect timeout"
    );
    let (field, reason) = setting(
        HttpOptions::new()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(6)),
    );
    assert_eq!(field, "HTTP connect timeout");
    assert!(
        reason.contains("longer than the request timeout"),
        "{reason}"
    );
    for agent in ["", "  ", "acme\r\nX-Injected: 1", "acme\u{7f}"] {
        assert_eq!(
            setting(HttpOptions::new().user_agent(agent)).0,
            "HTTP User-Agent",
            "{agent:?}"
        );
    }
    assert_eq!(
        setting(HttpOptions::new().user_agent_suffix("a\nb")).0,
        "HTTP User-Agent"
    );
    // Accepted: a connect timeout as long as the timeout, a client with
    // only a timeout.
    webhook(
        url,
        HttpOptions::new()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(5)),
    )
    .unwrap();
    webhook(url, own().timeout(Duration::from_secs(5))).unwrap();
    // A BuildError is a tidings::Error too.
    let err: tidings::Error = webhook(url, HttpOptions::new().timeout(Duration::ZERO))
        .unwrap_err()
        .into();
    assert!(matches!(err, tidings::Error::Build(_)));
    assert!(!err.is_retryable());
}

#[test]
fn debug_shows_the_settings_but_not_the_proxy() {
    let options = HttpOptions::new()
        .timeout(Duration::from_secs(8))
        .user_agent_suffix("acme/1")
        .proxy(format!("http://ops:{PROXY_PASSWORD}@proxy.internal:3128"));
    let shown = format!("{options:?}");
    assert!(shown.contains("8s") && shown.contains("4s"), "{shown}");
    assert!(shown.contains("acme/1"), "{shown}");
    assert!(
        !shown.contains(PROXY_PASSWORD) && !shown.contains("proxy.internal"),
        "{shown}"
    );
}
