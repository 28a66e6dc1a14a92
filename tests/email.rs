//! E-mail against a real SMTP server (aiosmtpd) on 127.0.0.1; every received
//! message is parsed as MIME and checked.
#![cfg(feature = "email")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders};
use support::smtp::SmtpServer;
use support::*;
use tidings::channel::email::{EmailChannel, unsubscribe_token};
use tidings::channel::memory::MemoryChannel;
use tidings::channel::{Channel, ChannelError, IdempotencyKey};
use tidings::journal::Failure;
use tidings::prelude::*;

const PERMALINK: &str = "https://status.example.com/incidents/inc-7";
const KEY: &[u8] = b"unsubscribe-key-0123456789";

fn channel(server: &SmtpServer) -> EmailChannel {
    EmailChannel::builder_dangerous("127.0.0.1")
        .port(server.port)
        .from("Example Status <status@example.com>")
        .message_id_domain("status.example.com")
        .list_unsubscribe_url(
            "https://status.example.com/unsubscribe?r={recipient}&t={token}",
            KEY,
        )
        .list_unsubscribe_mailto("unsubscribe@example.com")
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap()
}

fn dispatcher(email: EmailChannel) -> Dispatcher {
    Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("email", Arc::new(email))
        .audience(
            AudiencePolicy::new(Audience::Customers)
                .route(Route::new("email", [target("ann@example.com")])),
        )
        .audience(
            AudiencePolicy::new(Audience::Leadership)
                .route(Route::new("email", [target("lead@example.com")])),
        )
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

fn parse(raw: &[u8]) -> Message<'_> {
    MessageParser::default().parse(raw).unwrap()
}

fn to(m: &Message<'_>) -> String {
    m.to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap()
        .to_owned()
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => vec![],
    }
}

#[tokio::test]
async fn first_contact_update_and_resolution_thread_with_both_parts_and_the_link() {
    let server = SmtpServer::start();
    let d = dispatcher(channel(&server));
    let (mut inc, first) = incident();
    assert!(d.publish(&inc, &first).await.unwrap().all_sent());
    let second = post(
        &mut inc,
        Status::Identified,
        20,
        "A bad deploy <script>alert(1)</script> & co.",
    );
    assert!(d.publish(&inc, &second).await.unwrap().all_sent());
    let resolved = post(&mut inc, Status::Resolved, 40, "Fixed.");
    assert!(d.publish(&inc, &resolved).await.unwrap().all_sent());

    let raw = server.messages();
    assert_eq!(raw.len(), 6);
    let messages: Vec<Message<'_>> = raw.iter().map(|r| parse(r)).collect();
    for who in ["ann@example.com", "lead@example.com"] {
        let mine: Vec<&Message<'_>> = messages.iter().filter(|m| to(m) == who).collect();
        assert_eq!(mine.len(), 3);
        let subjects: Vec<&str> = mine.iter().map(|m| m.subject().unwrap()).collect();
        assert_eq!(
            subjects,
            [
                "[Investigating] API errors",
                "[Identified] API errors",
                "[Resolved] API errors"
            ]
        );
        let first_key = IdempotencyKey::derive(inc.id(), 1, "email", &target(who), 1);
        let first_id = format!("{first_key}@status.example.com");
        assert_eq!(mine[0].message_id(), Some(first_id.as_str()));
        assert!(ids(mine[0].in_reply_to()).is_empty());
        for later in &mine[1..] {
            assert_eq!(
                ids(later.in_reply_to()),
                std::slice::from_ref(&first_id),
                "threads under the first contact"
            );
            assert!(ids(later.references()).contains(&first_id));
        }
        for m in &mine {
            let from = m.from().and_then(|a| a.first()).unwrap();
            assert_eq!(
                (from.name(), from.address()),
                (Some("Example Status"), Some("status@example.com"))
            );
            let ct = m.content_type().unwrap();
            assert_eq!(
                (ct.ctype(), ct.subtype()),
                ("multipart", Some("alternative"))
            );
            let text = m.body_text(0).unwrap();
            let html = m.body_html(0).unwrap();
            assert!(text.trim_end().ends_with(PERMALINK), "{text}");
            assert!(
                html.contains(&format!("href=\"{PERMALINK}\""))
                    || html.contains("href=\"https:&#x2f;&#x2f;"),
                "{html}"
            );
            assert!(!html.contains("<script>"), "user text is escaped in HTML");
        }
        assert!(mine[1].body_html(0).unwrap().contains("&lt;script&gt;"));
        assert!(
            mine[0]
                .body_text(0)
                .unwrap()
                .contains("Next update by 2026-11-25 14:33 UTC.")
        );
        assert!(!mine[2].body_text(0).unwrap().contains("Next update"));
    }

    let ann: Vec<&Message<'_>> = messages
        .iter()
        .filter(|m| to(m) == "ann@example.com")
        .collect();
    let lead: Vec<&Message<'_>> = messages
        .iter()
        .filter(|m| to(m) == "lead@example.com")
        .collect();
    // Unfolded (lettre folds long headers; DKIM's relaxed canonicalisation does too).
    let unsubscribe = ann[0]
        .header_raw("List-Unsubscribe")
        .unwrap()
        .replace("\r\n", "")
        .trim()
        .to_owned();
    let token = unsubscribe_token(KEY, "ann@example.com");
    assert_eq!(
        unsubscribe,
        format!(
            "<https://status.example.com/unsubscribe?r=ann%40example.com&t={token}>, <mailto:unsubscribe@example.com?subject=unsubscribe>"
        )
    );
    assert_eq!(
        ann[0].header_raw("List-Unsubscribe-Post").unwrap().trim(),
        "List-Unsubscribe=One-Click"
    );
    assert!(
        lead[0].header_raw("List-Unsubscribe").is_none(),
        "leadership is not a subscriber list"
    );
    assert!(lead[0].body_text(0).unwrap().contains("SECRET-NOTE"));
    assert!(!ann[0].body_text(0).unwrap().contains("SECRET-NOTE"));
    assert!(!ann[0].body_html(0).unwrap().contains("SECRET-NOTE"));
}

#[tokio::test]
async fn smtp_answers_map_to_what_to_do_next() {
    let server = SmtpServer::start();
    let ch = Arc::new(channel(&server));
    let (inc, first) = incident();
    let d = Dispatcher::builder(CANONICAL)
        .primary(
            "page",
            Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())),
        )
        .channel("email", ch.clone())
        .audience(
            AudiencePolicy::new(Audience::Customers).route(Route::new(
                "email",
                [
                    "busy@example.com",
                    "nobody@example.com",
                    "not an address",
                    "ok@example.com",
                ]
                .map(target),
            )),
        )
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let report = d.publish(&inc, &first).await.unwrap();
    let outcome = |t: &str| {
        &report
            .deliveries
            .iter()
            .find(|d| d.target.as_str() == t)
            .unwrap()
            .outcome
    };
    assert!(matches!(
        outcome("busy@example.com"),
        Outcome::Failed(Failure::Channel(ChannelError::Transient {
            status: Some(451),
            ..
        }))
    ));
    assert!(matches!(
        outcome("nobody@example.com"),
        Outcome::Failed(Failure::Channel(ChannelError::InvalidTarget { .. }))
    ));
    assert!(matches!(
        outcome("not an address"),
        Outcome::Failed(Failure::Channel(ChannelError::InvalidTarget { .. }))
    ));
    assert!(matches!(outcome("ok@example.com"), Outcome::Sent(r) if r.status == Some(250)));
    assert_eq!(server.messages().len(), 1);

    let (mut inc, _) = incident();
    let up = post(&mut inc, Status::Identified, 5, "x");
    let msg = tidings::render::Templates::new()
        .render(&inc, &up, &Audience::Customers, Detail::Public)
        .unwrap();
    let delivery = Delivery::new(
        "email",
        Arc::new(inc),
        Arc::new(up),
        Audience::Customers,
        Detail::Public,
        target("ok@example.com"),
        Arc::new(msg),
        format!("x\n{PERMALINK}"),
        Arc::new(PERMALINK.parse().unwrap()),
    );
    server.answer_next("554 5.7.1 Message rejected as spam");
    let err = ch.send(&delivery).await.unwrap_err();
    assert!(
        matches!(
            err,
            ChannelError::Rejected {
                status: Some(554),
                ..
            }
        ),
        "{err}"
    );
    server.answer_next("hang");
    let err = ch.send(&delivery).await.unwrap_err();
    assert_eq!(
        err,
        ChannelError::Timeout {
            after: Duration::from_millis(800)
        }
    );
}

#[tokio::test]
async fn a_closed_port_is_a_transient_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ch = EmailChannel::builder_dangerous("127.0.0.1")
        .port(port)
        .from("s@example.com")
        .build()
        .unwrap();
    let (inc, first) = incident();
    let report = dispatcher(ch).publish(&inc, &first).await.unwrap();
    let (_, failure) = report.failures().next().unwrap();
    assert!(failure.is_retryable(), "{failure}");
}
