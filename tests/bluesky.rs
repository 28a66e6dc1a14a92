//! Bluesky against a real HTTP server on 127.0.0.1 standing in for a PDS:
//! exact requests, one session for many posts, refresh, facets at UTF-8 byte
//! offsets, threads, idempotent retries, and real failure answers.
#![cfg(feature = "bluesky")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::*;
use tidings::channel::HttpOptions;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::social::bluesky::{BlueskyChannel, BlueskyChannelBuilder, PostRef};
use tidings::channel::{ChannelError, Delivery, ErrorKind, Thread};
use tidings::journal::{DoubtReason, Failure};
use tidings::prelude::*;
use tidings::render::RenderedMessage;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request, Respond, ResponseTemplate};

const HANDLE: &str = "status.example.com";
const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const APP_PASSWORD: &str = "abcd-SECR-ETPW-mnop";
const ACCESS: &str = "eyJhbGciOiJIUzI1NiJ9.ACCESS-ONE-secret.sig";
const REFRESH: &str = "eyJhbGciOiJIUzI1NiJ9.REFRESH-ONE-secret.sig";
const ACCESS2: &str = "eyJhbGciOiJIUzI1NiJ9.ACCESS-TWO-secret.sig";
const REFRESH2: &str = "eyJhbGciOiJIUzI1NiJ9.REFRESH-TWO-secret.sig";
const PERMALINK: &str = "https://status.example.com/incidents/inc-7";
const CREATE_SESSION: &str = "/xrpc/com.atproto.server.createSession";
const REFRESH_SESSION: &str = "/xrpc/com.atproto.server.refreshSession";
const CREATE_RECORD: &str = "/xrpc/com.atproto.repo.createRecord";
const GET_RECORD: &str = "/xrpc/com.atproto.repo.getRecord";
const TIMEOUT: Duration = Duration::from_millis(300);

fn session(access: &str, refresh: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "accessJwt": access,
        "refreshJwt": refresh,
        "did": DID,
        "handle": HANDLE,
        "email": "ops@example.com",
        "emailConfirmed": true,
        "active": true,
        "didDoc": {"id": DID},
    }))
}

fn created(n: usize) -> ResponseTemplate {
    let (uri, cid) = post_ref(n);
    ResponseTemplate::new(200).set_body_json(json!({
        "uri": uri,
        "cid": cid,
        "commit": {"cid": "bafyreicommit", "rev": "3l2rev"},
        "validationStatus": "valid",
    }))
}

fn post_ref(n: usize) -> (String, String) {
    (
        format!("at://{DID}/app.bsky.feed.post/3lpost{n}"),
        format!("bafyreipost{n}"),
    )
}

fn xrpc_error(status: u16, name: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": name, "message": message}))
}

/// Answers each create with the next post: `3lpost1`, `3lpost2`, …
struct Posts(AtomicUsize);

impl Respond for Posts {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        created(self.0.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

/// The request's JSON is `expected` once `record.createdAt` (checked to be an
/// RFC 3339 UTC time with milliseconds, close to now) is taken out.
struct RecordIs(Value);

impl Match for RecordIs {
    fn matches(&self, request: &Request) -> bool {
        let Ok(mut got) = serde_json::from_slice::<Value>(&request.body) else {
            return false;
        };
        let Some(created) = got["record"]
            .as_object_mut()
            .and_then(|r| r.remove("createdAt"))
        else {
            return false;
        };
        let created = created.as_str().unwrap_or_default().to_owned();
        let Ok(at) = chrono::DateTime::parse_from_rfc3339(&created) else {
            return false;
        };
        let close = (chrono::Utc::now() - at.with_timezone(&chrono::Utc))
            .num_seconds()
            .abs()
            < 86_400 * 2;
        created.ends_with('Z') && created.len() == 24 && close && got == self.0
    }
}

/// No body and no content type: what an XRPC procedure without input takes.
struct NoBody;

impl Match for NoBody {
    fn matches(&self, request: &Request) -> bool {
        request.body.is_empty() && !request.headers.contains_key("content-type")
    }
}

fn channel(server: &MockServer) -> BlueskyChannelBuilder {
    BlueskyChannel::builder(HANDLE, APP_PASSWORD)
        .base_url(server.uri())
        .http(HttpOptions::new().timeout(TIMEOUT))
}

async fn mount_login(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path(CREATE_SESSION))
        .respond_with(session(ACCESS, REFRESH))
        .expect(times)
        .mount(server)
        .await;
}

/// A delivery of `text` to the account, for the first update of the test
/// incident.
fn delivery(text: &str) -> Delivery {
    let (inc, first) = incident();
    let message = RenderedMessage {
        title: "[Investigating] API errors".into(),
        body: "Some API requests fail.".into(),
        next_update: None,
    };
    Delivery::new(
        "bluesky",
        Arc::new(inc),
        Arc::new(first),
        Audience::Customers,
        Detail::Public,
        target(HANDLE),
        Arc::new(message),
        text,
        Arc::new(PERMALINK.parse().unwrap()),
    )
}

fn dispatcher(bluesky: BlueskyChannel, retry: RetryPolicy) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("bluesky", Arc::new(bluesky))
        .audience(
            AudiencePolicy::new(Audience::Customers).route(Route::new("bluesky", [target(HANDLE)])),
        )
        .retry(retry)
        .build()
        .unwrap()
}

async fn bodies(server: &MockServer, at: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == at)
        .map(|r| r.body_json().unwrap())
        .collect()
}

#[tokio::test]
async fn logs_in_once_and_posts_the_exact_record() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_SESSION))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"identifier": HANDLE, "password": APP_PASSWORD}),
        ))
        .respond_with(session(ACCESS, REFRESH))
        .expect(1)
        .mount(&server)
        .await;
    let text = format!("[Investigating] API errors\n\nSome API requests fail.\n\n{PERMALINK}");
    let d = delivery(&text);
    // The record key is the delivery's, derived from its idempotency key.
    let rkey = "3n35d6isp54qn";
    assert_eq!(
        tidings::channel::social::bluesky::record_key(&d.key, d.update.at),
        rkey
    );
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .and(header("authorization", format!("Bearer {ACCESS}").as_str()))
        .and(header("content-type", "application/json"))
        .and(header("accept", "application/json"))
        .and(RecordIs(json!({
            "repo": DID,
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text,
                "langs": ["en"],
                "facets": [{
                    "index": {"byteStart": 53, "byteEnd": 95},
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": PERMALINK}],
                }],
            },
        })))
        .respond_with(created(1))
        .expect(3)
        .mount(&server)
        .await;
    let bluesky = channel(&server).build().unwrap();
    for _ in 0..3 {
        let receipt = bluesky.send(&d).await.unwrap();
        let r = PostRef::from_message_ref(receipt.message_ref.as_ref().unwrap()).unwrap();
        assert_eq!((r.uri, r.cid), post_ref(1));
        assert_eq!(receipt.status, Some(200));
    }
    let dbg = format!("{bluesky:?}");
    assert!(dbg.contains(DID), "{dbg}");
    for secret in [APP_PASSWORD, ACCESS, REFRESH] {
        assert!(!dbg.contains(secret), "{dbg}");
    }
}

#[tokio::test]
async fn languages_are_configurable_and_record_keys_optional() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .respond_with(created(1))
        .mount(&server)
        .await;
    let text = format!("Störung behoben.\n{PERMALINK}");
    channel(&server)
        .langs(["de", "en"])
        .idempotent_record_keys(false)
        .build()
        .unwrap()
        .send(&delivery(&text))
        .await
        .unwrap();
    let body = &bodies(&server, CREATE_RECORD).await[0];
    assert_eq!(body["record"]["langs"], json!(["de", "en"]));
    assert!(body.get("rkey").is_none(), "{body}");
    assert!(body["record"].get("reply").is_none(), "{body}");
}

#[tokio::test]
async fn facets_use_utf8_byte_offsets_after_multibyte_text() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .respond_with(created(1))
        .mount(&server)
        .await;
    let bluesky = channel(&server).build().unwrap();
    // Prefix and the link's UTF-8 byte offsets, counted by hand: é is 2 bytes,
    // the family emoji 18, each CJK character 3, a flag 8.
    let cases = [
        ("é\n", 3),
        ("👩\u{200d}👩\u{200d}👧 ", 19),
        ("障害 ", 7),
        ("e\u{301} ", 4),
        ("🇫🇷\n", 9),
        ("Panne réglée 🎉 障害は解消しました。\n\n", 52),
    ];
    for (prefix, start) in cases {
        bluesky
            .send(&delivery(&format!("{prefix}{PERMALINK}")))
            .await
            .unwrap();
        let body = bodies(&server, CREATE_RECORD).await.pop().unwrap();
        let facets = body["record"]["facets"].as_array().unwrap();
        assert_eq!(facets.len(), 1);
        assert_eq!(
            facets[0]["index"],
            json!({"byteStart": start, "byteEnd": start + 42}),
            "{prefix:?}"
        );
        let text = body["record"]["text"].as_str().unwrap().as_bytes();
        assert_eq!(&text[start..start + 42], PERMALINK.as_bytes());
    }
}

#[tokio::test]
async fn threads_first_contact_update_and_resolution() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .respond_with(Posts(AtomicUsize::new(0)))
        .expect(3)
        .mount(&server)
        .await;
    let d = dispatcher(channel(&server).build().unwrap(), RetryPolicy::never());
    let (mut inc, first) = incident();
    let r1 = d.publish(&inc, &first).await.unwrap();
    assert!(r1.all_sent(), "{r1:?}");
    let update = post(&mut inc, Status::Identified, 20, "Found it.");
    assert!(d.publish(&inc, &update).await.unwrap().all_sent());
    let resolved = post(&mut inc, Status::Resolved, 40, "Fixed.");
    let r3 = d.publish(&inc, &resolved).await.unwrap();
    assert!(r3.all_sent(), "{r3:?}");
    let posts = bodies(&server, CREATE_RECORD).await;
    let strong = |n: usize| {
        let (uri, cid) = post_ref(n);
        json!({"uri": uri, "cid": cid})
    };
    assert!(posts[0]["record"].get("reply").is_none(), "{}", posts[0]);
    assert_eq!(
        posts[1]["record"]["reply"],
        json!({"root": strong(1), "parent": strong(1)})
    );
    assert_eq!(
        posts[2]["record"]["reply"],
        json!({"root": strong(1), "parent": strong(2)})
    );
    let texts: Vec<&str> = posts
        .iter()
        .map(|p| p["record"]["text"].as_str().unwrap())
        .collect();
    assert!(
        texts[0].starts_with("[Investigating] API errors"),
        "{texts:?}"
    );
    assert!(texts[2].starts_with("[Resolved] API errors"), "{texts:?}");
    for text in &texts {
        assert!(text.ends_with(PERMALINK), "{text}");
        assert!(!text.contains("SECRET-NOTE"), "customers get public text");
    }
    let keys: Vec<&str> = posts.iter().map(|p| p["rkey"].as_str().unwrap()).collect();
    assert!(keys[0] != keys[1] && keys[1] != keys[2], "{keys:?}");
}

#[tokio::test]
async fn user_text_cannot_mention_or_link() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .respond_with(created(1))
        .mount(&server)
        .await;
    let (mut inc, _) = incident();
    let hostile = post(
        &mut inc,
        Status::Identified,
        10,
        "@someone.bsky.social did:plc:abc https://evil.example/login #outage [x](https://evil.example) <a href=x>",
    );
    dispatcher(channel(&server).build().unwrap(), RetryPolicy::never())
        .publish(&inc, &hostile)
        .await
        .unwrap();
    let body = &bodies(&server, CREATE_RECORD).await[0];
    let record = &body["record"];
    let text = record["text"].as_str().unwrap();
    assert!(
        text.contains("@someone.bsky.social did:plc:abc https://evil.example/login #outage"),
        "user text is sent as plain text: {text}"
    );
    assert_eq!(
        record["facets"],
        json!([{
            "index": {"byteStart": text.len() - PERMALINK.len(), "byteEnd": text.len()},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": PERMALINK}],
        }]),
        "the only facet is the status page link"
    );
    assert!(record.get("embed").is_none() && record.get("tags").is_none());
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_then_the_post_succeeds() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .and(header("authorization", format!("Bearer {ACCESS}").as_str()))
        .respond_with(xrpc_error(400, "ExpiredToken", "Token has expired"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(REFRESH_SESSION))
        .and(header(
            "authorization",
            format!("Bearer {REFRESH}").as_str(),
        ))
        .and(NoBody)
        .respond_with(session(ACCESS2, REFRESH2))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .and(header(
            "authorization",
            format!("Bearer {ACCESS2}").as_str(),
        ))
        .respond_with(Posts(AtomicUsize::new(0)))
        .expect(2)
        .mount(&server)
        .await;
    let bluesky = channel(&server).build().unwrap();
    let text = format!("Found it.\n{PERMALINK}");
    let receipt = bluesky.send(&delivery(&text)).await.unwrap();
    assert!(receipt.message_ref.is_some());
    // The refreshed session is kept: no second refresh, no second login.
    bluesky.send(&delivery(&text)).await.unwrap();
    let posts = bodies(&server, CREATE_RECORD).await;
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[0], posts[1], "the same post, sent again");
}

#[tokio::test]
async fn an_expired_refresh_token_falls_back_to_a_new_login() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_SESSION))
        .respond_with(session(ACCESS, REFRESH))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .and(header("authorization", format!("Bearer {ACCESS}").as_str()))
        .respond_with(xrpc_error(401, "ExpiredToken", "Token has expired"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(REFRESH_SESSION))
        .respond_with(xrpc_error(400, "ExpiredToken", "Token has expired"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CREATE_SESSION))
        .respond_with(session(ACCESS2, REFRESH2))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .and(header(
            "authorization",
            format!("Bearer {ACCESS2}").as_str(),
        ))
        .respond_with(created(1))
        .expect(1)
        .mount(&server)
        .await;
    let bluesky = channel(&server).build().unwrap();
    bluesky
        .send(&delivery(&format!("Found it.\n{PERMALINK}")))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refused_login_is_a_configuration_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_SESSION))
        .respond_with(xrpc_error(
            401,
            "AuthenticationRequired",
            "Invalid identifier or password",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = channel(&server)
        .build()
        .unwrap()
        .send(&delivery(&format!("x\n{PERMALINK}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("AuthenticationRequired"), "{err}");
    assert!(!err.to_string().contains(APP_PASSWORD), "{err}");
    assert!(bodies(&server, CREATE_RECORD).await.is_empty());
}

#[tokio::test]
async fn failures_map_to_what_to_do_next() {
    let soon = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 40;
    let cases = [
        (
            xrpc_error(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
            ),
            ErrorKind::Rejected,
        ),
        (
            xrpc_error(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: Record/reply/parent/cid must be a cid string",
            ),
            ErrorKind::Rejected,
        ),
        (
            xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded")
                .insert_header("ratelimit-limit", "5000")
                .insert_header("ratelimit-remaining", "0")
                .insert_header("ratelimit-reset", soon.to_string().as_str())
                .insert_header("ratelimit-policy", "5000;w=3600"),
            ErrorKind::RateLimited,
        ),
        (
            xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded")
                .insert_header("retry-after", "30"),
            ErrorKind::RateLimited,
        ),
        (
            xrpc_error(502, "UpstreamFailure", "Upstream Failure"),
            ErrorKind::Transient,
        ),
        (
            ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
            ErrorKind::Transient,
        ),
        (
            xrpc_error(500, "InternalServerError", "Internal Server Error"),
            ErrorKind::Transient,
        ),
        (created(1).set_delay(TIMEOUT * 5), ErrorKind::Timeout),
    ];
    for (response, kind) in cases {
        let server = MockServer::start().await;
        mount_login(&server, 1).await;
        Mock::given(method("POST"))
            .and(path(CREATE_RECORD))
            .respond_with(response)
            .mount(&server)
            .await;
        let (inc, first) = incident();
        let report = dispatcher(channel(&server).build().unwrap(), RetryPolicy::never())
            .publish(&inc, &first)
            .await
            .unwrap();
        let err = match (report.failures().next(), report.in_doubt().next()) {
            (Some((_, Failure::Channel(err))), _) => err.clone(),
            // A timeout leaves the outcome unknown: in doubt, and (Bluesky
            // deduplicates by record key) resent later with the same key.
            (None, Some((_, DoubtReason::NoAnswer { error }))) => error.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(err.kind(), kind, "{err}");
        if kind == ErrorKind::Rejected {
            assert!(
                err.to_string()
                    .contains("InvalidRequest: Invalid app.bsky.feed.post record"),
                "{err}"
            );
        }
        if kind == ErrorKind::RateLimited {
            let after = err.retry_after().unwrap();
            assert!(
                after == Duration::from_secs(30)
                    || (Duration::from_secs(38)..=Duration::from_secs(40)).contains(&after),
                "{after:?}"
            );
        }
        for secret in [APP_PASSWORD, ACCESS, REFRESH] {
            assert!(!err.to_string().contains(secret), "{err}");
        }
    }
}

#[tokio::test]
async fn a_retry_after_a_timeout_does_not_post_twice() {
    /// The PDS stand-in: the first create is stored but answered too late;
    /// creating the same record key again fails with 500, as Bluesky's PDS
    /// does; getRecord serves what was stored.
    #[derive(Clone, Default)]
    struct Pds {
        stored: Arc<Mutex<Option<Value>>>,
        creates: Arc<AtomicUsize>,
    }
    impl Respond for Pds {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            if request.url.path() == GET_RECORD {
                return match self.stored.lock().unwrap().as_ref() {
                    Some(body) => ResponseTemplate::new(200).set_body_json(json!({
                        "uri": format!("at://{DID}/app.bsky.feed.post/{}", body["rkey"].as_str().unwrap()),
                        "cid": "bafyreistored",
                        "value": body["record"],
                    })),
                    None => xrpc_error(400, "RecordNotFound", "Could not locate record"),
                };
            }
            let body: Value = request.body_json().unwrap();
            if self.creates.fetch_add(1, Ordering::SeqCst) == 0 {
                *self.stored.lock().unwrap() = Some(body);
                return created(1).set_delay(TIMEOUT * 3);
            }
            xrpc_error(500, "InternalServerError", "Internal Server Error")
        }
    }
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    let pds = Pds::default();
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .respond_with(pds.clone())
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(GET_RECORD))
        .and(query_param("repo", DID))
        .and(query_param("collection", "app.bsky.feed.post"))
        .and(header("accept", "application/json"))
        .respond_with(pds.clone())
        .expect(1)
        .mount(&server)
        .await;
    let retry = RetryPolicy::default()
        .max_attempts(3)
        .backoff(Duration::from_millis(20), Duration::from_millis(50));
    let d = dispatcher(channel(&server).build().unwrap(), retry);
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    let posts = bodies(&server, CREATE_RECORD).await;
    assert_eq!(posts[0]["rkey"], posts[1]["rkey"], "the same record key");
    let rkey = posts[0]["rkey"].as_str().unwrap();
    let receipt = report.deliveries[0].outcome.receipt().unwrap();
    let r = PostRef::from_message_ref(receipt.message_ref.as_ref().unwrap()).unwrap();
    assert_eq!(r.uri, format!("at://{DID}/app.bsky.feed.post/{rkey}"));
    assert_eq!(r.cid, "bafyreistored");
    let gets = server.received_requests().await.unwrap();
    let get = gets.iter().find(|r| r.url.path() == GET_RECORD).unwrap();
    assert!(
        get.headers.get("authorization").is_none(),
        "no token to read"
    );
    assert!(get.url.query_pairs().any(|(k, v)| k == "rkey" && v == rkey));
}

#[tokio::test]
async fn a_different_post_under_the_record_key_is_not_taken_for_ours() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .respond_with(xrpc_error(
            500,
            "InternalServerError",
            "Internal Server Error",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(GET_RECORD))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "uri": format!("at://{DID}/app.bsky.feed.post/3lother"),
            "cid": "bafyreiother",
            "value": {"$type": "app.bsky.feed.post", "text": "something else", "createdAt": "2026-01-01T00:00:00.000Z"},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = channel(&server)
        .build()
        .unwrap()
        .send(&delivery(&format!("Fixed.\n{PERMALINK}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");
    assert!(err.to_string().contains("different post"), "{err}");
}

#[tokio::test]
async fn a_missing_record_after_a_500_stays_transient() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .respond_with(xrpc_error(
            500,
            "InternalServerError",
            "Internal Server Error",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(GET_RECORD))
        .respond_with(xrpc_error(
            400,
            "RecordNotFound",
            "Could not locate record: at://did:plc:x/app.bsky.feed.post/3l",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = channel(&server)
        .build()
        .unwrap()
        .send(&delivery(&format!("Fixed.\n{PERMALINK}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert_eq!(err.status(), Some(500));
}

#[tokio::test]
async fn over_3000_bytes_is_refused_before_any_request() {
    let server = MockServer::start().await;
    let bluesky = channel(&server).build().unwrap();
    // 200 graphemes (within 300) of 18 bytes each: 3,600 bytes.
    let family = "👩\u{200d}👩\u{200d}👧".repeat(200);
    let err = bluesky
        .send(&delivery(&format!("{family}\n{PERMALINK}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");
    assert!(err.to_string().contains("3000"), "{err}");
    // Over 300 graphemes (a delivery not fitted to the channel).
    let err = bluesky
        .send(&delivery(&format!("{}\n{PERMALINK}", "a".repeat(300))))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn targets_name_the_account() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .respond_with(created(1))
        .expect(3)
        .mount(&server)
        .await;
    let bluesky = channel(&server).build().unwrap();
    let text = format!("Fixed.\n{PERMALINK}");
    for t in [HANDLE, "@Status.Example.com", DID] {
        let mut d = delivery(&text);
        d.target = target(t);
        bluesky.send(&d).await.unwrap();
    }
    let mut d = delivery(&text);
    d.target = target("someone-else.bsky.social");
    let err = bluesky.send(&d).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidTarget, "{err}");
}

#[tokio::test]
async fn unreadable_thread_refs_fall_back_without_failing() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .respond_with(created(2))
        .mount(&server)
        .await;
    let bluesky = channel(&server).build().unwrap();
    let (uri, cid) = post_ref(1);
    let good = PostRef { uri, cid };
    let text = format!("Fixed.\n{PERMALINK}");
    let d = delivery(&text).with_thread(Some(Thread {
        root: good.to_message_ref(),
        latest: tidings::channel::MessageRef::new("not a post ref"),
    }));
    bluesky.send(&d).await.unwrap();
    let d = delivery(&text).with_thread(Some(Thread {
        root: tidings::channel::MessageRef::new("1700000000.0001"),
        latest: tidings::channel::MessageRef::new("garbage"),
    }));
    bluesky.send(&d).await.unwrap();
    let posts = bodies(&server, CREATE_RECORD).await;
    let strong = json!({"uri": good.uri, "cid": good.cid});
    assert_eq!(
        posts[0]["record"]["reply"],
        json!({"root": strong, "parent": strong})
    );
    assert!(posts[1]["record"].get("reply").is_none());
}

#[tokio::test]
async fn secrets_never_appear_in_debug_or_errors() {
    let server = MockServer::start().await;
    mount_login(&server, 1).await;
    // A PDS that quotes the secrets back (none does; the channel must not
    // pass them on if one did).
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .respond_with(xrpc_error(
            400,
            "InvalidRequest",
            &format!("bad {APP_PASSWORD} {ACCESS} {REFRESH}"),
        ))
        .mount(&server)
        .await;
    let builder = channel(&server);
    assert!(!format!("{builder:?}").contains(APP_PASSWORD));
    let bluesky = builder.build().unwrap();
    let err = bluesky
        .send(&delivery(&format!("Fixed.\n{PERMALINK}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err}");
    let shown = format!("{err} {err:?} {bluesky:?}");
    for secret in [APP_PASSWORD, ACCESS, REFRESH] {
        assert!(!shown.contains(secret), "{shown}");
    }
    // A refused login quoting the password.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_SESSION))
        .respond_with(xrpc_error(
            401,
            "AuthenticationRequired",
            &format!("wrong password {APP_PASSWORD}"),
        ))
        .mount(&server)
        .await;
    let err = channel(&server)
        .build()
        .unwrap()
        .send(&delivery(&format!("Fixed.\n{PERMALINK}")))
        .await
        .unwrap_err();
    assert!(matches!(err, ChannelError::Config { .. }), "{err}");
    assert!(!format!("{err} {err:?}").contains(APP_PASSWORD), "{err}");
}
