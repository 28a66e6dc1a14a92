//! Local stand-ins for the providers' endpoints, on 127.0.0.1: a webhook
//! receiver that verifies Standard Webhooks signatures (when given a secret),
//! and answers shaped like Slack's, Discord's, Mattermost's, Teams', Google
//! Chat's, Twilio's, Mastodon's, Bluesky's and X's, so the drill runs offline.
//! Shared by the drill example and the dispatch benchmark.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tidings::channel::webhook::{WebhookSecret, verify_headers};
use tokio::net::TcpListener;

/// What the receiver saw.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Webhook requests received.
    pub(crate) received: AtomicU64,
    /// Webhook requests whose signature verified.
    pub(crate) verified: AtomicU64,
    /// Webhook requests refused (bad signature).
    pub(crate) refused: AtomicU64,
    /// Webhook requests answered 429 on purpose.
    pub(crate) throttled: AtomicU64,
    /// Requests per stand-in provider (`slack`, …).
    pub(crate) providers: Mutex<BTreeMap<&'static str, u64>>,
    /// The Confluence stand-in's pages: title → (id, version, body).
    pub(crate) pages: Mutex<BTreeMap<String, (u64, u64, String)>>,
    /// PagerDuty events received, by action (`trigger`, `resolve`, …).
    pub(crate) pager_events: Mutex<Vec<String>>,
    /// Jira Service Management requests, by path's last segment (`alerts`,
    /// `notes`, `close`).
    pub(crate) alert_requests: Mutex<Vec<String>>,
}

impl Stats {
    /// A counter's value.
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn count(&self, provider: &'static str) -> u64 {
        let mut map = self
            .providers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = map.entry(provider).or_default();
        *n += 1;
        *n
    }
}

/// Starts the receiver on an ephemeral loopback port. With `secret`, every
/// webhook's signature is verified first (401 if it fails); with
/// `throttle_first`, the very first webhook is then answered
/// `429 Retry-After: 1`.
pub(crate) async fn spawn(
    secret: Option<WebhookSecret>,
    throttle_first: bool,
) -> std::io::Result<(SocketAddr, Arc<Stats>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(Stats::default());
    let shared = (Arc::new(secret), stats.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (secret, stats) = shared.clone();
            let service = service_fn(move |req: Request<Incoming>| {
                let (secret, stats) = (secret.clone(), stats.clone());
                async move { Ok::<_, Infallible>(handle(req, &secret, &stats, throttle_first).await) }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, stats))
}

async fn handle(
    req: Request<Incoming>,
    secret: &Option<WebhookSecret>,
    stats: &Stats,
    throttle_first: bool,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return answer(StatusCode::BAD_REQUEST, "");
    };
    let path = parts.uri.path();
    if path.starts_with("/slack/api/chat.postMessage") {
        let n = stats.count("slack");
        return answer(
            StatusCode::OK,
            &format!(r#"{{"ok":true,"channel":"C0","ts":"1700000000.{n:06}"}}"#),
        );
    }
    if path.starts_with("/slack/api/chat.update") {
        stats.count("slack");
        return answer(StatusCode::OK, r#"{"ok":true}"#);
    }
    if path.starts_with("/discord/") {
        let n = stats.count("discord");
        return answer(
            StatusCode::OK,
            &format!(r#"{{"id":"11800000000000{n:05}","channel_id":"1","content":""}}"#),
        );
    }
    if path.starts_with("/mattermost/") {
        stats.count("mattermost");
        let mut response = answer(StatusCode::OK, "");
        *response.body_mut() = Full::new(Bytes::from_static(b"ok"));
        return response;
    }
    if path.starts_with("/teams/") {
        stats.count("teams");
        return answer(StatusCode::ACCEPTED, "");
    }
    if path.starts_with("/gchat/") {
        let n = stats.count("google_chat");
        return answer(
            StatusCode::OK,
            &format!(r#"{{"name":"spaces/DRILL/messages/m{n}"}}"#),
        );
    }
    if path.starts_with("/mastodon/api/v1/statuses") {
        let n = stats.count("mastodon");
        return answer(
            StatusCode::OK,
            &format!(
                r#"{{"id":"10900000000000{n:04}","url":"https://social.example/@status/{n}","uri":"https://social.example/users/status/statuses/{n}"}}"#
            ),
        );
    }
    if path.starts_with("/bluesky/xrpc/com.atproto.server.createSession") {
        stats.count("bluesky");
        return answer(
            StatusCode::OK,
            r#"{"accessJwt":"drill-access","refreshJwt":"drill-refresh","did":"did:plc:drill","handle":"status.example.com"}"#,
        );
    }
    if path.starts_with("/bluesky/xrpc/com.atproto.repo.createRecord") {
        let n = stats.count("bluesky");
        return answer(
            StatusCode::OK,
            &format!(
                r#"{{"uri":"at://did:plc:drill/app.bsky.feed.post/drill{n}","cid":"bafyreidrill{n}"}}"#
            ),
        );
    }
    if path.starts_with("/x/2/tweets") {
        let n = stats.count("x");
        return answer(
            StatusCode::CREATED,
            &format!(r#"{{"data":{{"id":"18000000000000{n:05}","text":""}}}}"#),
        );
    }
    if path.starts_with("/twilio/") {
        let n = stats.count("twilio");
        return answer(
            StatusCode::CREATED,
            &format!(r#"{{"sid":"SM{n:032}","status":"queued","num_segments":"0"}}"#),
        );
    }
    if path.starts_with("/pagerduty/v2/enqueue") {
        stats.count("pagerduty");
        let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let action = event["event_action"].as_str().unwrap_or("?").to_owned();
        let key = event["dedup_key"].as_str().unwrap_or("").to_owned();
        if let Ok(mut events) = stats.pager_events.lock() {
            events.push(action);
        }
        return answer(
            StatusCode::ACCEPTED,
            &serde_json::json!({"status": "success", "message": "Event processed", "dedup_key": key})
                .to_string(),
        );
    }
    if path.starts_with("/atlassian/jsm/ops/integration/v2/alerts") {
        let n = stats.count("jsm");
        let last = path.rsplit('/').next().unwrap_or("").to_owned();
        if let Ok(mut requests) = stats.alert_requests.lock() {
            requests.push(last);
        }
        return answer(
            StatusCode::ACCEPTED,
            &format!(
                r#"{{"result":"Request will be processed","took":0.01,"requestId":"drill-{n}"}}"#
            ),
        );
    }
    if let Some(rest) = path.strip_prefix("/confluence/wiki/api/v2/") {
        stats.count("confluence");
        return confluence(&parts, rest, &body, stats);
    }
    let n = stats.received.fetch_add(1, Ordering::Relaxed);
    if let Some(secret) = secret {
        if verify_headers(secret, &parts.headers, &body).is_err() {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            return answer(StatusCode::UNAUTHORIZED, "");
        }
        stats.verified.fetch_add(1, Ordering::Relaxed);
    }
    if throttle_first && n == 0 {
        stats.throttled.fetch_add(1, Ordering::Relaxed);
        let mut response = answer(StatusCode::TOO_MANY_REQUESTS, "");
        response
            .headers_mut()
            .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
        return response;
    }
    answer(StatusCode::NO_CONTENT, "")
}

/// A Confluence Cloud stand-in: one space (`OPS`), pages found by title,
/// created, and updated with the next version number.
fn confluence(
    parts: &hyper::http::request::Parts,
    rest: &str,
    body: &[u8],
    stats: &Stats,
) -> Response<Full<Bytes>> {
    let query: BTreeMap<String, String> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let Ok(mut pages) = stats.pages.lock() else {
        return answer(StatusCode::INTERNAL_SERVER_ERROR, "");
    };
    let page = |id: u64, title: &str, version: u64, value: &str| {
        serde_json::json!({
            "id": id.to_string(), "title": title, "status": "current",
            "version": {"number": version}, "body": {"storage": {"value": value, "representation": "storage"}},
        })
    };
    let sent: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let value = sent["body"]["value"].as_str().unwrap_or("").to_owned();
    let title = sent["title"].as_str().unwrap_or("").to_owned();
    match (&parts.method, rest) {
        (&hyper::Method::GET, "spaces") => answer(
            StatusCode::OK,
            r#"{"results":[{"id":"98304","key":"OPS","name":"Operations"}]}"#,
        ),
        (&hyper::Method::GET, "pages") => {
            let found: Vec<_> = query
                .get("title")
                .and_then(|t| pages.get(t).map(|(id, v, b)| page(*id, t, *v, b)))
                .into_iter()
                .collect();
            answer(
                StatusCode::OK,
                &serde_json::json!({ "results": found }).to_string(),
            )
        }
        (&hyper::Method::POST, "pages") => {
            let id = 1_000 + pages.len() as u64;
            pages.insert(title.clone(), (id, 1, value.clone()));
            answer(StatusCode::OK, &page(id, &title, 1, &value).to_string())
        }
        (&hyper::Method::PUT, _) if rest.starts_with("pages/") => {
            let version = sent["version"]["number"].as_u64().unwrap_or(0);
            let id = pages.get(&title).map_or(0, |p| p.0);
            pages.insert(title.clone(), (id, version, value.clone()));
            answer(
                StatusCode::OK,
                &page(id, &title, version, &value).to_string(),
            )
        }
        _ => answer(
            StatusCode::NOT_FOUND,
            r#"{"errors":[{"status":404,"title":"Not Found"}]}"#,
        ),
    }
}

fn answer(code: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = code;
    if !body.is_empty() {
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
    }
    response
}
