//! Microsoft Teams (Workflows webhooks) against a real HTTP server on
//! 127.0.0.1: the exact card, escaping, the payload ceiling, and the answers
//! Workflows and Teams really give.
#![cfg(feature = "teams")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;
use tidings::channel::HttpOptions;
use tidings::channel::chat::teams::{DEFAULT_MAX_PAYLOAD, TeamsChannel};
use tidings::channel::memory::MemoryChannel;
use tidings::channel::{Channel, ChannelError, RateLimit};
use tidings::journal::Failure;
use tidings::prelude::*;
use tidings::render::{Fitted, Plain, RenderedMessage};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SIG: &str = "Zx9-SECRETsignature_Q";
const FLOW: &str = "/workflows/5a1bc0de/triggers/manual/paths/invoke";
const QUERY: &str =
    "api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Zx9-SECRETsignature_Q";
const PERMALINK: &str = "https://status.example.com/incidents/inc-7";
const Z: char = '\u{200B}';

fn workflow_url(server: &MockServer) -> String {
    format!("{}{FLOW}?{QUERY}", server.uri())
}

fn teams(server: &MockServer) -> tidings::channel::chat::teams::TeamsChannelBuilder {
    TeamsChannel::builder()
        .webhook("incidents", workflow_url(server))
        .per_target_rate(RateLimit::new(100, Duration::from_secs(1)).unwrap())
}

fn dispatcher(teams: TeamsChannel, route: Route) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("teams", Arc::new(teams))
        .audience(AudiencePolicy::new(Audience::Employees).route(route))
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

fn to_incidents() -> Route {
    Route::new("teams", [target("incidents")])
}

async fn cards(server: &MockServer) -> Vec<(usize, Value)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| (r.body.len(), r.body_json().unwrap()))
        .collect()
}

/// The texts of a card's text blocks, in order.
fn texts(card: &Value) -> Vec<String> {
    card["attachments"][0]["content"]["body"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "TextBlock")
        .map(|e| e["text"].as_str().unwrap().to_owned())
        .collect()
}

fn button_url(card: &Value) -> &str {
    let actions = card["attachments"][0]["content"]["actions"]
        .as_array()
        .unwrap();
    assert_eq!(actions.len(), 1);
    actions[0]["url"].as_str().unwrap()
}

#[tokio::test]
async fn posts_the_adaptive_card_the_workflow_expects() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(FLOW))
        .and(query_param("api-version", "2016-06-01"))
        .and(query_param("sp", "/triggers/manual/run"))
        .and(query_param("sv", "1.0"))
        .and(query_param("sig", SIG))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": "[Investigating] API errors", "size": "Medium", "weight": "Bolder", "wrap": true},
                        {"type": "TextBlock", "text": "Some API requests fail.\n\nAffected: API (major outage).\n\nNext update by 2026-11-25 14:33 UTC.", "wrap": true},
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open status page", "url": PERMALINK}],
                },
            }],
        })))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let (inc, first) = incident();
    let report = dispatcher(teams(&server).build().unwrap(), to_incidents())
        .publish(&inc, &first)
        .await
        .unwrap();
    assert!(report.all_sent(), "{report:?}");
    let receipt = report.deliveries[0].outcome.receipt().unwrap();
    assert_eq!(receipt.status, Some(202));
    assert!(receipt.message_ref.is_none(), "a webhook cannot thread");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests[0].url.query(),
        Some(QUERY),
        "the URL is sent as configured"
    );
}

#[tokio::test]
async fn a_200_is_accepted_too_and_a_resolution_has_no_next_update() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("1"))
        .mount(&server)
        .await;
    let (mut inc, _) = incident();
    let resolved = post(&mut inc, Status::Resolved, 40, "Fixed.");
    let report = dispatcher(teams(&server).build().unwrap(), to_incidents())
        .publish(&inc, &resolved)
        .await
        .unwrap();
    assert!(report.all_sent(), "{report:?}");
    let (_, card) = &cards(&server).await[0];
    assert_eq!(
        texts(card),
        [
            "[Resolved] API errors",
            "Fixed.\n\nThis incident is resolved; it lasted 40 min. Thank you for your patience."
        ]
    );
}

#[tokio::test]
async fn user_text_cannot_mention_or_link() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let mut inc = Incident::new(
        IncidentId::new("inc-7").unwrap(),
        "API [down](https://evil.example/t) <at>Everyone</at>",
        Impact::Major,
        t0(),
    )
    .unwrap();
    let hostile = inc
        .post(UpdateDraft::new(
            Status::Resolved,
            t0() + minutes(5),
            "<at>All</at> @channel <users/all> [click](https://evil.example) [ref][1]\n[1]: https://evil.example\n<https://evil.example> <a href=\"https://evil.example\">x</a> &lt;b&gt; a&b *bold* **loud** _it_",
        ))
        .unwrap()
        .clone();
    dispatcher(teams(&server).build().unwrap(), to_incidents())
        .publish(&inc, &hostile)
        .await
        .unwrap();
    let (_, card) = &cards(&server).await[0];
    let texts = texts(card);
    assert_eq!(
        texts[0],
        format!("[Resolved] API [down]{Z}(https://evil.example/t) <{Z}at>Everyone<{Z}/at>")
    );
    assert_eq!(
        texts[1],
        format!(
            "<{Z}at>All<{Z}/at> @channel <{Z}users/all> [click]{Z}(https://evil.example) [ref]{Z}[1]\n[1]{Z}: https://evil.example\n<{Z}https://evil.example> <{Z}a href=\"https://evil.example\">x<{Z}/a> &{Z}lt;b&{Z}gt; a&{Z}b *bold* **loud** _it_\n\nThis incident is resolved; it lasted 5 min. Thank you for your patience."
        )
    );
    for t in &texts {
        assert!(!t.contains("]("), "no Markdown link: {t}");
        assert!(
            t.match_indices(['<', '&'])
                .all(|(i, _)| t[i + 1..].starts_with(Z)),
            "no tag, autolink or entity: {t}"
        );
    }
    assert_eq!(
        button_url(card),
        PERMALINK,
        "the only link is the status page"
    );
    assert!(
        card["attachments"][0]["content"].get("msteams").is_none(),
        "no mention entities"
    );
}

#[tokio::test]
async fn long_messages_fit_the_payload_and_keep_the_link() {
    // Every character here grows when escaped for JSON or for the card.
    let body = "\"\\\u{1}<&](x) Ünïcödé 👩‍👩‍👧 \n".repeat(4_000);
    for (ceiling, overflow, parts) in [
        (DEFAULT_MAX_PAYLOAD, Overflow::Shorten, 1),
        (DEFAULT_MAX_PAYLOAD, Overflow::split(3), 3),
        (8_000, Overflow::split(2), 2),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(202))
            .mount(&server)
            .await;
        let (mut inc, _) = incident();
        let long = post(&mut inc, Status::Identified, 10, &body);
        let d = dispatcher(
            teams(&server).max_payload_bytes(ceiling).build().unwrap(),
            to_incidents().overflow(overflow),
        );
        let report = d.publish(&inc, &long).await.unwrap();
        assert!(report.all_sent(), "{report:?}");
        let cards = cards(&server).await;
        assert_eq!(cards.len(), parts);
        for (i, (bytes, card)) in cards.iter().enumerate() {
            assert!(*bytes <= ceiling, "{bytes} bytes over {ceiling}");
            assert!(
                *bytes > ceiling / 2,
                "the room is used: {bytes} of {ceiling}"
            );
            assert_eq!(button_url(card), PERMALINK);
            let texts = texts(card);
            // The title is in the first part, as on every channel.
            let message = if i == 0 {
                assert_eq!(texts[0], "[Identified] API errors");
                &texts[1]
            } else {
                assert_eq!(texts.len(), 1, "{texts:?}");
                &texts[0]
            };
            if parts > 1 {
                assert!(
                    message.contains(&format!("({}/{parts})", i + 1)),
                    "{message}"
                );
            }
        }
        let last = texts(&cards[parts - 1].1);
        assert!(
            last.last()
                .unwrap()
                .ends_with("Next update by 2026-11-25 14:40 UTC.")
        );
    }
}

/// A delivery of `body`, laid out whole (unfitted) by `channel`'s format.
fn delivery(channel: &TeamsChannel, body: &str) -> Delivery {
    let message = RenderedMessage {
        title: "[Identified] API errors".into(),
        body: body.into(),
        next_update: None,
    };
    let fitted = Fitted::whole(&message, PERMALINK, channel.format());
    delivery_of(message, fitted)
}

fn delivery_of(message: RenderedMessage, fitted: Fitted) -> Delivery {
    let (mut inc, _) = incident();
    let update = post(&mut inc, Status::Identified, 10, "x");
    Delivery::fitted(
        "teams",
        Arc::new(inc),
        Arc::new(update),
        Audience::Employees,
        Detail::Public,
        target("incidents"),
        Arc::new(message),
        fitted,
        Arc::new(PERMALINK.parse().unwrap()),
    )
}

#[tokio::test]
async fn oversized_or_unformatted_cards_are_refused_without_sending() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let channel = teams(&server).build().unwrap();
    // Not fitted: more than the ceiling on its own.
    let err = channel
        .send(&delivery(&channel, &"x".repeat(25_000)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChannelError::Rejected { status: None, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("bytes"), "{err}");
    // Not laid out by the channel's format: no card.
    let message = RenderedMessage {
        title: "[Identified] API errors".into(),
        body: "Plain.".into(),
        next_update: None,
    };
    let plain = Fitted::whole(&message, PERMALINK, &Plain);
    let err = channel
        .send(&delivery_of(message, plain))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChannelError::Rejected { status: None, .. }),
        "{err}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    // Fitted to the channel's limit: sent, exactly as laid out.
    let limit = channel.limits().text.unwrap();
    let message = RenderedMessage {
        title: "[Identified] API errors".into(),
        body: "\"<".repeat(20_000),
        next_update: None,
    };
    let fitted = tidings::render::fit(
        &message,
        PERMALINK,
        Some(&limit),
        channel.format(),
        Overflow::Shorten,
    )
    .unwrap()
    .remove(0);
    let text = fitted.text.clone();
    channel.send(&delivery_of(message, fitted)).await.unwrap();
    let received = server.received_requests().await.unwrap();
    assert_eq!(received[0].body, text.as_bytes());
    assert!(received[0].body.len() <= DEFAULT_MAX_PAYLOAD);
}

/// The limit is measured on exactly what the workflow receives: a text with
/// no word to cut at, all of it escaped for the card and for JSON, fills
/// each payload to within one escaped grapheme of the ceiling in bytes, and
/// the button keeps the link whole.
#[tokio::test]
async fn the_limit_is_measured_on_the_payload_teams_receives() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let d = dispatcher(
        teams(&server).build().unwrap(),
        to_incidents().overflow(Overflow::split(3)),
    );
    let (mut inc, _) = incident();
    let long = post(
        &mut inc,
        Status::Identified,
        10,
        &"\"\\<&](x)👩‍👩‍👧".repeat(4_000),
    );
    let report = d.publish(&inc, &long).await.unwrap();
    assert!(report.all_sent(), "{report:?}");
    let cards = cards(&server).await;
    assert_eq!(cards.len(), 3);
    for (i, (bytes, card)) in cards.iter().enumerate() {
        assert!(*bytes <= DEFAULT_MAX_PAYLOAD, "{bytes} bytes");
        if i < 2 {
            assert!(
                *bytes > DEFAULT_MAX_PAYLOAD - 32,
                "within a grapheme of the ceiling: {bytes}"
            );
        }
        assert_eq!(button_url(card), PERMALINK);
    }
}

#[tokio::test]
async fn teams_failures_map_to_what_to_do_next() {
    let logic_apps = |status: u16, code: &str, message: &str| {
        ResponseTemplate::new(status)
            .set_body_string(json!({"error": {"code": code, "message": message}}).to_string())
    };
    let cases = [
        (
            ResponseTemplate::new(429).insert_header("Retry-After", "30"),
            "rate_limited",
        ),
        // Teams throttles with a success status and a body that says so.
        (
            ResponseTemplate::new(200).set_body_string("Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tID=77,MsgId=88.".to_string()),
            "rate_limited",
        ),
        (
            ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"),
            "transient",
        ),
        (ResponseTemplate::new(503), "transient"),
        (
            logic_apps(
                400,
                "TriggerInputSchemaMismatch",
                "The input body for trigger 'manual' of type 'Request' did not match its schema definition.",
            ),
            "rejected",
        ),
        (
            logic_apps(
                401,
                "DirectApiInvalidAuthorizationSignature",
                "The provided authorization signature is not valid.",
            ),
            "config",
        ),
        (
            logic_apps(
                401,
                "DirectApiAuthorizationRequired",
                "The request must be authenticated only by Shared Access scheme.",
            ),
            "config",
        ),
        (
            logic_apps(404, "WorkflowNotFound", "The workflow could not be found."),
            "config",
        ),
        (
            logic_apps(
                409,
                "WorkflowTriggerIsNotEnabled",
                "Could not execute workflow 'abc' trigger 'manual' with state 'Suspended': trigger is not enabled.",
            ),
            "config",
        ),
        (
            ResponseTemplate::new(413).set_body_string("<html>too large</html>"),
            "rejected",
        ),
    ];
    for (response, kind) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(response)
            .mount(&server)
            .await;
        let (inc, first) = incident();
        let report = dispatcher(teams(&server).build().unwrap(), to_incidents())
            .publish(&inc, &first)
            .await
            .unwrap();
        let (_, failure) = report.failures().next().unwrap();
        let Failure::Channel(err) = failure else {
            panic!("{failure:?}")
        };
        assert_eq!(err.kind().as_str(), kind, "{err}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(SIG), "{shown}");
        assert!(
            !shown.contains("schema definition"),
            "no body copied: {shown}"
        );
        if err.retry_after().is_some() {
            assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
        }
    }
}

#[tokio::test]
async fn a_silent_workflow_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let timeout = Duration::from_millis(200);
    let channel = teams(&server)
        .http(HttpOptions::new().timeout(timeout))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = channel
        .send(&delivery(&channel, "Slow."))
        .await
        .unwrap_err();
    assert_eq!(err, ChannelError::Timeout { after: timeout });
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn the_webhook_url_stays_secret() {
    let server = MockServer::start().await;
    let channel = teams(&server).build().unwrap();
    assert!(!format!("{channel:?}").contains(SIG));
    assert!(!format!("{:?}", teams(&server)).contains(SIG));
    // Nothing listens there: the transport error must not name the URL.
    let closed = TeamsChannel::builder()
        .webhook("incidents", format!("http://127.0.0.1:9{FLOW}?{QUERY}"))
        .build()
        .unwrap();
    let err = closed.send(&delivery(&closed, "Down.")).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(!format!("{err} {err:?}").contains(SIG), "{err:?}");
    // An unknown target names the target, not a URL.
    let mut d = delivery(&channel, "x");
    d.target = target("elsewhere");
    let err = channel.send(&d).await.unwrap_err();
    assert!(matches!(err, ChannelError::InvalidTarget { .. }), "{err}");
}
