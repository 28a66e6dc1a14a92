//! Twilio Programmable Messaging against a real HTTP server on 127.0.0.1:
//! exact requests, E.164 checks, Twilio's real error answers, timeouts,
//! secrets, and messages fitted to a budget of segments.
#![cfg(feature = "sms-twilio")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::*;
use tidings::channel::HttpOptions;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::sms::twilio::{TwilioChannel, TwilioChannelBuilder};
use tidings::channel::{ChannelError, RateLimit};
use tidings::journal::Failure;
use tidings::prelude::*;
use tidings::render::sms::{Encoding, segments};
use tidings::render::{Fitted, RenderedMessage};
use wiremock::matchers::{header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-secret-auth-token-1234";
/// base64("AC0123456789abcdef0123456789abcdef:twilio-secret-auth-token-1234")
const BASIC: &str = "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0d2lsaW8tc2VjcmV0LWF1dGgtdG9rZW4tMTIzNA==";
const API_KEY: &str = "SK00112233445566778899aabbccddeeff";
const API_SECRET: &str = "api-key-SECRET-5678";
/// base64("SK00112233445566778899aabbccddeeff:api-key-SECRET-5678")
const API_BASIC: &str =
    "Basic U0swMDExMjIzMzQ0NTU2Njc3ODg5OWFhYmJjY2RkZWVmZjphcGkta2V5LVNFQ1JFVC01Njc4";
const SERVICE: &str = "MG00112233445566778899aabbccddeeff";
const PATH: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";
const FROM: &str = "+14155550199";
const TO: &str = "+14155550100";
const PERMALINK: &str = "https://status.example.com/incidents/inc-7";
const SID: &str = "SM0123456789abcdef0123456789abcdef";

/// The request body, decoded, is exactly these fields in this order.
struct FormIs(Vec<(String, String)>);

impl Match for FormIs {
    fn matches(&self, request: &Request) -> bool {
        let got: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        got == self.0
    }
}

fn form(pairs: &[(&str, &str)]) -> FormIs {
    FormIs(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

/// The form field `name` of a received request.
fn field(request: &Request, name: &str) -> Option<String> {
    url::form_urlencoded::parse(&request.body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The request's form field `name` equals `value`.
struct FieldIs(&'static str, String);

impl Match for FieldIs {
    fn matches(&self, request: &Request) -> bool {
        field(request, self.0).as_deref() == Some(self.1.as_str())
    }
}

/// Twilio's 201 answer to a created message (trimmed to the fields we read
/// plus a few of the rest).
fn created(sid: &str, to: &str, num_segments: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "account_sid": ACCOUNT,
        "api_version": "2010-04-01",
        "body": "…",
        "date_created": "Wed, 25 Nov 2026 14:03:00 +0000",
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": FROM,
        "messaging_service_sid": null,
        "num_media": "0",
        "num_segments": num_segments,
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "to": to,
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json"),
    }))
}

/// A Twilio error answer, as its API sends it.
fn twilio_error(status: u16, code: u32, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    }))
}

fn builder(server: &MockServer) -> TwilioChannelBuilder {
    TwilioChannel::with_auth_token(ACCOUNT, TOKEN)
        .from(FROM)
        .base_url(server.uri())
}

/// A delivery of `text` to `to`, as the dispatcher would make it.
fn delivery(text: &str, to: &str) -> Delivery {
    let (inc, first) = incident();
    Delivery::new(
        "sms",
        Arc::new(inc),
        Arc::new(first),
        Audience::Customers,
        Detail::Public,
        target(to),
        Arc::new(RenderedMessage {
            title: "[Investigating] API errors".into(),
            body: "Some API requests fail.".into(),
            next_update: None,
        }),
        text,
        Arc::new(PERMALINK.parse().unwrap()),
    )
}

/// A delivery of `message` to `to`, laid out by `sms`'s format, as the
/// dispatcher makes it.
fn laid_out(sms: &TwilioChannel, message: RenderedMessage, to: &str) -> Delivery {
    let (inc, first) = incident();
    let fitted = Fitted::whole(&message, PERMALINK, sms.format());
    Delivery::fitted(
        "sms",
        Arc::new(inc),
        Arc::new(first),
        Audience::Customers,
        Detail::Public,
        target(to),
        Arc::new(message),
        fitted,
        Arc::new(PERMALINK.parse().unwrap()),
    )
}

fn dispatcher(sms: TwilioChannel, targets: &[&str], retry: RetryPolicy) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("sms", Arc::new(sms))
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("sms", targets.iter().map(|t| target(t)))),
        )
        .retry(retry)
        .build()
        .unwrap()
}

#[tokio::test]
async fn posts_the_exact_form_with_basic_auth() {
    let server = MockServer::start().await;
    let text = format!(
        "[Investigating] API errors\n\nSome API requests fail: 50% of {{calls}} & more.\n{PERMALINK}"
    );
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(header("authorization", BASIC))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(form(&[
            ("To", TO),
            ("From", FROM),
            ("Body", &text),
            ("StatusCallback", "https://hooks.example.com/twilio/status"),
        ]))
        .respond_with(created(SID, TO, "1"))
        .expect(1)
        .mount(&server)
        .await;
    let sms = builder(&server)
        .status_callback("https://hooks.example.com/twilio/status")
        .build()
        .unwrap();
    let receipt = sms.send(&delivery(&text, TO)).await.unwrap();
    assert_eq!(receipt.message_ref.unwrap().as_str(), SID);
    assert_eq!(receipt.status, Some(201));
    assert_eq!(receipt.segments, Some(1));
    // `+`, `&`, `%`, `{` and newlines are percent-encoded, not sent raw.
    let raw = String::from_utf8(server.received_requests().await.unwrap()[0].body.clone()).unwrap();
    assert!(
        raw.starts_with(
            "To=%2B14155550100&From=%2B14155550199&Body=%5BInvestigating%5D+API+errors%0A%0A"
        ),
        "{raw}"
    );
    assert!(raw.contains("50%25+of+%7Bcalls%7D+%26+more."), "{raw}");
}

#[tokio::test]
async fn api_keys_and_messaging_services_and_our_own_segment_count() {
    let server = MockServer::start().await;
    // Long enough for two GSM-7 segments; Twilio says "0" through a service.
    let text = format!("{}\n{PERMALINK}", "The API is slow. ".repeat(12));
    assert_eq!(segments(&text).count, 2);
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(header("authorization", API_BASIC))
        .and(form(&[
            ("To", TO),
            ("MessagingServiceSid", SERVICE),
            ("Body", &text),
        ]))
        .respond_with(created(SID, TO, "0"))
        .expect(1)
        .mount(&server)
        .await;
    let sms = TwilioChannel::with_api_key(ACCOUNT, API_KEY, API_SECRET)
        .messaging_service(SERVICE)
        .base_url(format!("{}/", server.uri()))
        .build()
        .unwrap();
    let receipt = sms.send(&delivery(&text, TO)).await.unwrap();
    assert_eq!(
        receipt.segments,
        Some(2),
        "counted by us when Twilio says 0"
    );
    assert!(!format!("{sms:?}").contains(API_SECRET));
}

#[tokio::test]
async fn look_alikes_are_sent_as_gsm_when_cheaper() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created(SID, TO, "1"))
        .mount(&server)
        .await;
    let sms = builder(&server).build().unwrap();
    let message = RenderedMessage {
        title: "[Identified] It’s the “EU” database — fixed soon…".into(),
        body: String::new(),
        next_update: None,
    };
    let delivery = laid_out(&sms, message.clone(), TO);
    let receipt = sms.send(&delivery).await.unwrap();
    assert_eq!(receipt.segments, Some(1));
    let body = field(&server.received_requests().await.unwrap()[0], "Body").unwrap();
    assert_eq!(
        body,
        format!("[Identified] It's the \"EU\" database - fixed soon...\n\n{PERMALINK}")
    );
    assert_eq!(body, &*delivery.text, "the format's layout, sent as it is");
    assert_eq!(segments(&body).encoding, Encoding::Gsm7);
    // Without smart encoding: as rendered.
    let plain = builder(&server).smart_encoding(false).build().unwrap();
    plain.send(&laid_out(&plain, message, TO)).await.unwrap();
    let body = field(&server.received_requests().await.unwrap()[1], "Body").unwrap();
    assert_eq!(
        body,
        format!("[Identified] It’s the “EU” database — fixed soon…\n\n{PERMALINK}")
    );
}

#[tokio::test]
async fn numbers_must_be_e164_and_bad_ones_are_never_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created(SID, TO, "1"))
        .expect(0)
        .mount(&server)
        .await;
    let sms = builder(&server).build().unwrap();
    for bad in [
        "4155550100",
        "+1 415 555 0100",
        "(415) 555-0100",
        "+0415555010",
        "+1234567",
        "+1234567890123456",
        "+1415555O100",
        "ops@example.com",
        "whatsapp:+14155550100",
    ] {
        let err = sms.send(&delivery("x", bad)).await.unwrap_err();
        assert!(
            matches!(&err, ChannelError::InvalidTarget { target, .. } if target == bad),
            "{bad}: {err}"
        );
    }
}

#[tokio::test]
async fn bodies_over_1600_characters_are_refused_before_sending() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created(SID, TO, "1"))
        .expect(0)
        .mount(&server)
        .await;
    let sms = builder(&server).build().unwrap();
    let err = sms
        .send(&delivery(&"a".repeat(1_601), TO))
        .await
        .unwrap_err();
    assert!(matches!(err, ChannelError::Rejected { .. }), "{err}");
    assert!(err.to_string().contains("1600"), "{err}");
}

#[tokio::test]
async fn twilio_errors_map_to_what_to_do_next() {
    // Bodies as Twilio's API answers them; HTTP statuses as its error pages give.
    let cases: Vec<(ResponseTemplate, &str, Option<Duration>)> = vec![
        (
            twilio_error(400, 21211, "Invalid 'To' Phone Number: +14155550XXX"),
            "invalid_target",
            None,
        ),
        (
            twilio_error(400, 21614, "'To' number is not a valid mobile number"),
            "invalid_target",
            None,
        ),
        (
            twilio_error(
                400,
                21408,
                "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +14155550100.",
            ),
            "invalid_target",
            None,
        ),
        (
            twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"),
            "rejected",
            None,
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({
                "code": 20003,
                "detail": "Your AccountSid or AuthToken was incorrect.",
                "message": "Authenticate",
                "more_info": "https://www.twilio.com/docs/errors/20003",
                "status": 401,
            })),
            "config",
            None,
        ),
        (
            twilio_error(429, 20429, "Too Many Requests").insert_header("Retry-After", "5"),
            "rate_limited",
            Some(Duration::from_secs(5)),
        ),
        (ResponseTemplate::new(429), "rate_limited", None),
        (
            twilio_error(400, 14107, "SMS send rate limit exceeded"),
            "rate_limited",
            Some(Duration::from_secs(30)),
        ),
        (
            twilio_error(500, 20500, "Internal Server Error"),
            "transient",
            None,
        ),
        (
            ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
            "transient",
            None,
        ),
        (
            twilio_error(400, 21602, "Message body is required."),
            "rejected",
            None,
        ),
        (
            twilio_error(
                404,
                20404,
                "The requested resource /2010-04-01/Accounts/AC0/Messages.json was not found",
            ),
            "rejected",
            None,
        ),
    ];
    for (response, kind, retry_after) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(response)
            .expect(1)
            .mount(&server)
            .await;
        let sms = builder(&server).build().unwrap();
        let err = sms
            .send(&delivery(&format!("Hello\n{PERMALINK}"), TO))
            .await
            .unwrap_err();
        assert_eq!(err.kind().as_str(), kind, "{err}");
        assert_eq!(err.retry_after(), retry_after, "{err}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains(TOKEN), "{text}");
        assert!(
            !text.contains("more_info") && !text.contains("docs/errors"),
            "{text}"
        );
        if kind == "rejected" && text.contains("21610") {
            assert!(text.contains("unsubscribed"), "{text}");
        }
    }
}

#[tokio::test]
async fn an_unsubscribed_recipient_fails_alone() {
    let server = MockServer::start().await;
    let opted_out = "+14155550111";
    Mock::given(method("POST"))
        .and(FieldIs("To", opted_out.to_owned()))
        .respond_with(twilio_error(
            400,
            21610,
            "Attempt to send to unsubscribed recipient",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(FieldIs("To", TO.to_owned()))
        .respond_with(created(SID, TO, "1"))
        .expect(1)
        .mount(&server)
        .await;
    let d = dispatcher(
        builder(&server).build().unwrap(),
        &[TO, opted_out],
        RetryPolicy::default(),
    );
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "{report:?}");
    let (delivery, failure) = failures[0];
    assert_eq!(delivery.target.as_str(), opted_out);
    assert_eq!(delivery.attempts, 1, "not retried");
    let Failure::Channel(err) = failure else {
        panic!("{failure:?}")
    };
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("unsubscribed"), "{err}");
    let sent = report
        .all()
        .find(|r| r.target.as_str() == TO)
        .unwrap()
        .outcome
        .receipt()
        .unwrap();
    assert_eq!(sent.message_ref.as_ref().unwrap().as_str(), SID);
}

#[tokio::test]
async fn a_slow_twilio_is_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created(SID, TO, "1").set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let timeout = Duration::from_millis(200);
    let sms = builder(&server)
        .http(HttpOptions::new().timeout(timeout))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = sms
        .send(&delivery(&format!("Hello\n{PERMALINK}"), TO))
        .await
        .unwrap_err();
    assert_eq!(err, ChannelError::Timeout { after: timeout });
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn secrets_stay_out_of_debug_and_errors() {
    // Nothing listens on this port: a transport error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let builder = TwilioChannel::with_auth_token(ACCOUNT, TOKEN)
        .from(FROM)
        .base_url(format!("http://{addr}"));
    assert!(!format!("{builder:?}").contains(TOKEN));
    let sms = builder.build().unwrap();
    assert!(!format!("{sms:?}").contains(TOKEN));
    let err = sms
        .send(&delivery(&format!("Hello\n{PERMALINK}"), TO))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(!format!("{err} {err:?}").contains(TOKEN));
    // A bad configuration does not echo the token either.
    let err = TwilioChannel::with_auth_token(ACCOUNT, format!("{TOKEN} x"))
        .from(FROM)
        .build()
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(TOKEN));
}

/// A long update through the dispatcher: the default two-segment budget, the
/// status in front, the link at the end, and the segments in the receipt.
#[tokio::test]
async fn long_updates_fit_two_segments_with_status_and_link() {
    for (long, encoding) in [
        (
            "The database failover is in progress in the EU region; requests may fail or be slow while replicas catch up. ".repeat(8),
            Encoding::Gsm7,
        ),
        (
            "障害対応中。Die Datenbank wird umgeschaltet – Anfragen können fehlschlagen. ".repeat(8),
            Encoding::Ucs2,
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(PATH))
            .respond_with(created(SID, TO, "2"))
            .expect(1)
            .mount(&server)
            .await;
        let d = dispatcher(builder(&server).build().unwrap(), &[TO], RetryPolicy::never());
        let (mut inc, _) = incident();
        let update = post(&mut inc, Status::Identified, 10, &long);
        let report = d.publish(&inc, &update).await.unwrap();
        assert!(report.all_sent(), "{report:?}");
        let receipt = report
            .all()
            .find(|r| r.channel.as_ref() == "sms")
            .unwrap()
            .outcome
            .receipt()
            .unwrap()
            .clone();
        assert_eq!(receipt.segments, Some(2));
        let body = field(&server.received_requests().await.unwrap()[0], "Body").unwrap();
        let s = segments(&body);
        assert!(s.count <= 2, "{} segments: {body}", s.count);
        assert_eq!(s.encoding, encoding, "{body}");
        assert!(body.starts_with("[Identified] API errors"), "{body}");
        assert!(body.ends_with(PERMALINK), "{body}");
        assert!(body.contains("Next update by"), "{body}");
        let cut = if encoding == Encoding::Gsm7 { "..." } else { "…" };
        assert!(body.contains(cut), "shortened: {body}");
    }
}

#[tokio::test]
async fn channel_and_recipient_rates_are_configurable() {
    let server = MockServer::start().await;
    let sms = builder(&server)
        .rate(RateLimit::per_second(NonZeroU32::new(10).unwrap()))
        .per_target_rate(RateLimit::per_minute(NonZeroU32::new(2).unwrap()))
        .segment_budget(3)
        .build()
        .unwrap();
    let limits = sms.limits();
    assert_eq!(
        limits.rate,
        Some(RateLimit::per_second(NonZeroU32::new(10).unwrap()))
    );
    assert_eq!(
        limits.per_target_rate,
        Some(RateLimit::per_minute(NonZeroU32::new(2).unwrap()))
    );
    assert_eq!(limits.text.unwrap().max, 3);
}
