//! The contract every `Channel` implementation must keep.
//!
//! A channel's test module implements [`Harness`] (how to make its provider
//! answer each way, and what the provider received) and calls
//! `conformance_tests!` to get one test per scenario.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tidings::channel::{Channel, ChannelError, Delivery, ErrorKind};
use tidings::prelude::*;
use tidings::render::{Templates, fit};

use crate::support;

/// How a scenario drives one channel's provider.
#[async_trait]
pub trait Harness: Send + Sync {
    /// The channel under test.
    fn channel(&self) -> Arc<dyn Channel>;
    /// A target the channel accepts.
    fn target(&self) -> Target;
    /// A target the channel must refuse with `InvalidTarget`, if it validates.
    fn invalid_target(&self) -> Option<Target>;
    /// Secrets that must never appear in `Debug` output or errors.
    fn secrets(&self) -> Vec<String>;
    /// The channel's own per-request timeout, if it has one (network channels
    /// must). Without one, the dispatcher's send timeout is the only bound.
    fn own_timeout(&self) -> Option<Duration>;
    /// Whether the provider has a rate-limit answer with a delay (HTTP 429 and
    /// its kin); SMTP has none (its 4xx are transient).
    fn answers_rate_limits(&self) -> bool {
        true
    }
    /// Whether the provider can fail in a way that may pass (a 5xx, a dropped
    /// connection). A channel that writes files has no such answer a test can
    /// provoke (a full disk is transient, but cannot be arranged portably).
    fn answers_transient(&self) -> bool {
        true
    }
    /// The provider accepts the next message.
    async fn respond_ok(&self);
    /// The provider rate-limits the next message, asking to wait `after`.
    async fn respond_rate_limited(&self, after: Duration);
    /// The provider fails the next message in a way that may pass (5xx).
    async fn respond_transient(&self);
    /// The provider refuses the next message for good (4xx).
    async fn respond_permanent(&self);
    /// The provider never answers the next message in time.
    async fn respond_hang(&self);
    /// The text of every message the provider received, in order.
    async fn received(&self) -> Vec<String>;
    /// Whether the provider receives the link to the source of truth. A
    /// primary that *is* the source of truth (a hosted status page, where the
    /// link points) sends the message without it.
    fn receives_link(&self) -> bool {
        true
    }
    /// The provider's own limit on what it receives, in its units (by default
    /// the channel's limit, for channels that send their text as it is).
    fn received_limit(&self) -> Option<tidings::render::TextLimit> {
        self.channel().limits().text
    }
    /// The status of the update the scenarios send (by default Identified,
    /// an update after the first contact). A channel that sends one act
    /// only (Confluence: the postmortem) names its status; every other act
    /// it must decline (a receipt, and nothing sent).
    fn status(&self) -> Status {
        Status::Identified
    }
    /// Whether the channel sends a scheduled maintenance's announcement;
    /// one that does not must decline it (a receipt, and nothing sent).
    fn sends_maintenance(&self) -> bool {
        true
    }
}

/// A delivery of `update` rendered for customers and fitted to the channel.
pub fn delivery_for(
    h: &dyn Harness,
    body: &str,
    target: Target,
    overflow: Overflow,
) -> Vec<Delivery> {
    delivery_with_status(h, h.status(), body, target, overflow)
}

/// A delivery of an update with `status` (a postmortem follows a
/// resolution), rendered for customers and fitted to the channel.
pub fn delivery_with_status(
    h: &dyn Harness,
    status: Status,
    body: &str,
    target: Target,
    overflow: Overflow,
) -> Vec<Delivery> {
    let (mut inc, _) = support::incident();
    if status == Status::Postmortem {
        support::post(&mut inc, Status::Resolved, 9, "It works again.");
    }
    let update = support::post(&mut inc, status, 10, body);
    let channel = h.channel();
    let link: url::Url = "https://status.example.com/incidents/inc-7"
        .parse()
        .unwrap();
    let message = Templates::new()
        .render(&inc, &update, &Audience::Customers, Detail::Public)
        .unwrap();
    let parts = fit(
        &message,
        link.as_str(),
        channel.limits().text.as_ref(),
        channel.format(),
        overflow,
    )
    .unwrap();
    let (inc, update, message, link) = (
        Arc::new(inc),
        Arc::new(update),
        Arc::new(message),
        Arc::new(link),
    );
    let count = parts.len() as u16;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, fitted)| {
            Delivery::fitted(
                "under-test",
                inc.clone(),
                update.clone(),
                Audience::Customers,
                Detail::Public,
                target.clone(),
                message.clone(),
                fitted,
                link.clone(),
            )
            .with_part(tidings::channel::Part {
                index: i as u16 + 1,
                count,
            })
        })
        .collect()
}

/// A scheduled maintenance's announcement, rendered for customers and fitted
/// to the channel (shortened).
fn maintenance_announcement(h: &dyn Harness) -> Delivery {
    let t0 = support::t0();
    let mut m = support::maintenance("mnt-7", t0, t0 + chrono::Duration::days(3), 2);
    let update = m
        .post(UpdateDraft::new(
            Status::Scheduled,
            t0,
            "The API will be read-only.",
        ))
        .unwrap()
        .clone();
    let message = Templates::new()
        .render(&m, &update, &Audience::Customers, Detail::Public)
        .unwrap();
    let channel = h.channel();
    let fitted = fit(
        &message,
        LINK,
        channel.limits().text.as_ref(),
        channel.format(),
        Overflow::Shorten,
    )
    .unwrap()
    .remove(0);
    Delivery::fitted(
        "under-test",
        Arc::new(m),
        Arc::new(update),
        Audience::Customers,
        Detail::Public,
        h.target(),
        Arc::new(message),
        fitted,
        Arc::new(LINK.parse().unwrap()),
    )
}

fn short(h: &dyn Harness) -> Delivery {
    delivery_for(h, "We found the cause.", h.target(), Overflow::Shorten).remove(0)
}

const LINK: &str = "https://status.example.com/incidents/inc-7";

pub async fn success(h: &dyn Harness) {
    h.respond_ok().await;
    let d = short(h);
    let before = chrono::Utc::now();
    let receipt = h.channel().send(&d).await.expect("send succeeds");
    assert!(receipt.at >= before - chrono::Duration::seconds(1));
    let got = h.received().await;
    assert_eq!(got.len(), 1, "exactly one message reaches the provider");
    assert!(
        !h.receives_link() || got[0].contains(LINK),
        "the message carries the link: {}",
        got[0]
    );
    assert!(got[0].contains("We found the cause."), "{}", got[0]);
    if h.channel().limits().threads {
        assert!(
            receipt.message_ref.is_some(),
            "a threading channel returns a message ref"
        );
    }
    if h.channel().limits().primary {
        assert!(receipt.permalink.is_some(), "a primary returns a permalink");
    }
}

/// A scheduled maintenance is sent like an incident: one message, with the
/// link and the announcement.
pub async fn maintenance(h: &dyn Harness) {
    h.respond_ok().await;
    let d = maintenance_announcement(h);
    let receipt = h.channel().send(&d).await.expect("send succeeds");
    let got = h.received().await;
    if !h.sends_maintenance() {
        assert!(got.is_empty(), "a declined act sends nothing: {got:?}");
        assert_eq!(receipt.message_ref, None, "a declined act has no message");
        return;
    }
    assert_eq!(got.len(), 1, "exactly one message reaches the provider");
    // A primary may link to itself: the maintenance's own page.
    let own = receipt
        .permalink
        .as_ref()
        .filter(|_| h.channel().limits().primary)
        .is_some_and(|p| got[0].contains(p.as_str()));
    assert!(
        !h.receives_link() || got[0].contains(LINK) || own,
        "the message carries the link: {}",
        got[0]
    );
    assert!(got[0].contains("The API will be read-only."), "{}", got[0]);
    if h.channel().limits().primary {
        assert!(receipt.permalink.is_some(), "a primary returns a permalink");
    }
}

/// A channel that sends one act only declines the others: the send
/// succeeds, and nothing reaches the provider.
pub async fn declines_acts_it_does_not_send(h: &dyn Harness) {
    if h.status() == Status::Identified {
        return;
    }
    h.respond_ok().await;
    for status in [Status::Identified, Status::Resolved] {
        let d = delivery_with_status(
            h,
            status,
            "We found the cause.",
            h.target(),
            Overflow::Shorten,
        )
        .remove(0);
        let receipt = h.channel().send(&d).await.expect("a declined act succeeds");
        assert_eq!(receipt.message_ref, None, "a declined act has no message");
        assert_eq!(
            receipt.status, None,
            "a declined act has no provider status"
        );
    }
    assert!(
        h.received().await.is_empty(),
        "a declined act sends nothing"
    );
}

pub async fn rate_limited(h: &dyn Harness) {
    if !h.answers_rate_limits() {
        return;
    }
    h.respond_rate_limited(Duration::from_secs(3)).await;
    let err = h.channel().send(&short(h)).await.unwrap_err();
    assert_eq!(
        err,
        ChannelError::RateLimited {
            retry_after: Some(Duration::from_secs(3))
        }
    );
    assert!(err.is_retryable());
}

pub async fn transient(h: &dyn Harness) {
    if !h.answers_transient() {
        return;
    }
    h.respond_transient().await;
    let err = h.channel().send(&short(h)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert!(err.is_retryable());
}

pub async fn permanent(h: &dyn Harness) {
    h.respond_permanent().await;
    let err = h.channel().send(&short(h)).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Rejected | ErrorKind::InvalidTarget | ErrorKind::Config
        ),
        "{err}"
    );
}

pub async fn timeout(h: &dyn Harness) {
    let Some(own) = h.own_timeout() else {
        return; // bounded by the dispatcher's send timeout (tests/dispatcher.rs)
    };
    h.respond_hang().await;
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(own * 10, h.channel().send(&short(h))).await;
    let err = result
        .expect("the channel's own timeout fires")
        .unwrap_err();
    assert_eq!(err, ChannelError::Timeout { after: own });
    assert!(err.is_retryable());
    assert!(started.elapsed() >= own);
}

pub async fn invalid_target(h: &dyn Harness) {
    let Some(bad) = h.invalid_target() else {
        return;
    };
    let d = delivery_for(h, "x", bad, Overflow::Shorten).remove(0);
    let err = h.channel().send(&d).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidTarget, "{err}");
    assert!(
        h.received().await.is_empty(),
        "nothing is sent to an invalid target"
    );
}

/// Hostile, long text: what the provider receives is within the limit, with
/// the link whole.
pub async fn long_text_fits_and_keeps_the_link(h: &dyn Harness) {
    let body = "Ünïcödé ✓ e\u{301} 👩‍👩‍👧 <b>&amp;</b> \"quotes\" @channel ".repeat(2_000);
    let mut sent = 0;
    for overflow in [Overflow::Shorten, Overflow::split(3)] {
        for d in delivery_for(h, &body, h.target(), overflow) {
            h.respond_ok().await;
            h.channel().send(&d).await.expect("send succeeds");
            sent += 1;
        }
    }
    let received = h.received().await;
    assert_eq!(received.len(), sent);
    for text in received {
        if let Some(limit) = h.received_limit() {
            assert!(
                limit.allows(&text),
                "received text over the provider's limit"
            );
        }
        assert!(!h.receives_link() || text.contains(LINK), "link kept whole");
    }
}

pub async fn secrets_stay_secret(h: &dyn Harness) {
    let dbg = format!("{:?}", h.channel());
    h.respond_permanent().await;
    let err = h.channel().send(&short(h)).await.unwrap_err();
    for secret in h.secrets() {
        assert!(!dbg.contains(&secret), "Debug output leaks a secret: {dbg}");
        assert!(
            !err.to_string().contains(&secret),
            "error leaks a secret: {err}"
        );
        assert!(
            !format!("{err:?}").contains(&secret),
            "error Debug leaks a secret: {err:?}"
        );
    }
}

/// One test per scenario for a harness built by `$make` (an async expression).
macro_rules! conformance_tests {
    ($make:expr) => {
        #[tokio::test]
        async fn success() {
            $crate::suite::success(&$make).await
        }
        #[tokio::test]
        async fn maintenance() {
            $crate::suite::maintenance(&$make).await
        }
        #[tokio::test]
        async fn declines_acts_it_does_not_send() {
            $crate::suite::declines_acts_it_does_not_send(&$make).await
        }
        #[tokio::test]
        async fn rate_limited() {
            $crate::suite::rate_limited(&$make).await
        }
        #[tokio::test]
        async fn transient() {
            $crate::suite::transient(&$make).await
        }
        #[tokio::test]
        async fn permanent() {
            $crate::suite::permanent(&$make).await
        }
        #[tokio::test]
        async fn timeout() {
            $crate::suite::timeout(&$make).await
        }
        #[tokio::test]
        async fn invalid_target() {
            $crate::suite::invalid_target(&$make).await
        }
        #[tokio::test]
        async fn long_text_fits_and_keeps_the_link() {
            $crate::suite::long_text_fits_and_keeps_the_link(&$make).await
        }
        #[tokio::test]
        async fn secrets_stay_secret() {
            $crate::suite::secrets_stay_secret(&$make).await
        }
    };
}
