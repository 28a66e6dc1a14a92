//! Fault injection for the fan-out. Each test drives the dispatcher into one
//! fault and checks the promise: every planned delivery ends sent, failed
//! with a typed reason, or in doubt, none missing; nothing is sent twice to a
//! receiver that does not deduplicate; nothing waits longer than its
//! configured bound.
//!
//! Providers that misbehave in time (429 storms, 5xx bursts, panics, hangs,
//! cancellations) are scripted channels on tokio's paused clock, so times are
//! exact. Providers that misbehave on the wire (a connection reset mid-body,
//! a server that accepts and never answers, a slow drip) are real servers on
//! 127.0.0.1 behind the real HTTP channels, on real time with short timeouts.
//! The page's two writers and full disk are in `tests/status_page_faults.rs`;
//! each row of the error classification against real servers (a TLS
//! certificate included) is in `tests/transport_faults.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use support::{CANONICAL, PERMALINK_BASE, incident, post, target};
use tidings::channel::memory::MemoryChannel;
use tidings::channel::{Channel, ChannelError, ChannelKind, ChannelLimits, Delivery, Receipt};
use tidings::dispatch::{CircuitBreaker, Outcome, RetryBudget};
use tidings::journal::{DeliveryState, DoubtReason, Failure, LinkSource};
use tidings::prelude::*;
use tokio::time::Instant;

/// What a scripted provider does with call number `n` (from 0) to `target`.
type Script = dyn Fn(usize, &str) -> Step + Send + Sync;

/// One answer of a scripted provider.
enum Step {
    Ok,
    Fail(ChannelError),
    Panic,
    Hang,
    After(Duration, Box<Step>),
}

/// A provider played by a script: counts every call and every message it
/// accepted, per idempotency key.
struct Scripted {
    limits: ChannelLimits,
    script: Box<Script>,
    calls: AtomicUsize,
    accepted: Mutex<HashMap<String, usize>>,
}

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripted").finish_non_exhaustive()
    }
}

impl Scripted {
    fn new(
        limits: ChannelLimits,
        script: impl Fn(usize, &str) -> Step + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            limits,
            script: Box::new(script),
            calls: AtomicUsize::new(0),
            accepted: Mutex::default(),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Keys accepted more than once.
    fn twice(&self) -> Vec<String> {
        let accepted = self.accepted.lock().unwrap();
        accepted
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn accepted(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }
}

#[async_trait]
impl Channel for Scripted {
    fn kind(&self) -> ChannelKind {
        ChannelKind::new("scripted")
    }
    fn limits(&self) -> &ChannelLimits {
        &self.limits
    }
    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let mut step = (self.script)(n, delivery.target.as_str());
        loop {
            match step {
                Step::Ok => {
                    *self
                        .accepted
                        .lock()
                        .unwrap()
                        .entry(delivery.key.to_string())
                        .or_default() += 1;
                    let mut r = Receipt::new(tidings::clock::now());
                    if self.limits.primary {
                        r = r.with_permalink(
                            format!("{PERMALINK_BASE}incidents/{}", delivery.incident.id())
                                .parse()
                                .unwrap(),
                        );
                    }
                    return Ok(r);
                }
                Step::Fail(e) => return Err(e),
                Step::Panic => panic!("scripted panic for {}", delivery.target),
                Step::Hang => std::future::pending::<()>().await,
                Step::After(wait, then) => {
                    tokio::time::sleep(wait).await;
                    step = *then;
                }
            }
        }
    }
}

/// A line past the harness's capture, so `./scripts/test` shows it.
fn report_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "faults: {line}");
}

fn targets(n: usize) -> Vec<Target> {
    (0..n).map(|i| target(&format!("t{i:03}"))).collect()
}

fn page() -> Arc<MemoryChannel> {
    Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap()).with_deduplication())
}

/// Checks the promise on a report and the journal: every planned delivery
/// has an outcome that is sent, failed with a typed reason, or in doubt; none
/// is left claimed. Returns (sent, failed, in doubt).
async fn settled(d: &Dispatcher, inc: &Incident, planned: usize) -> (usize, usize, usize) {
    let records = d.journal().records(inc.id()).await.unwrap();
    assert_eq!(
        records.len(),
        planned,
        "every planned delivery is journaled"
    );
    let (mut sent, mut failed, mut doubt) = (0, 0, 0);
    for r in &records {
        match &r.state {
            DeliveryState::Sent(_) => sent += 1,
            DeliveryState::Failed { .. } => failed += 1,
            DeliveryState::InDoubt { .. } => doubt += 1,
            other => panic!("{} left {other:?}", r.entry.key),
        }
    }
    (sent, failed, doubt)
}

fn fan_out(channel: Arc<dyn Channel>, n: usize) -> tidings::dispatch::DispatcherBuilder {
    Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("provider", channel)
        .audience(
            AudiencePolicy::new(Audience::CoreResponders).route(Route::new("provider", targets(n))),
        )
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_pauses_the_provider_not_each_delivery() {
    // 200 targets; the provider answers the first request 429, Retry-After 30.
    let provider = Scripted::new(ChannelLimits::new(), |n, _| {
        if n == 0 {
            Step::Fail(ChannelError::RateLimited {
                retry_after: Some(Duration::from_secs(30)),
            })
        } else {
            Step::After(Duration::from_millis(20), Box::new(Step::Ok))
        }
    });
    let d = fan_out(provider.clone(), 200).build().unwrap();
    let (inc, first) = incident();
    let start = Instant::now();
    let report = d.publish(&inc, &first).await.unwrap();
    let took = start.elapsed();
    assert!(report.all_sent(), "{:?}", report.failures().next());
    // 30 s of pause, plus 200 sends of 20 ms, 16 at a time (about 0.3 s).
    assert!(
        took >= Duration::from_secs(30) && took < Duration::from_secs(32),
        "{took:?}"
    );
    assert_eq!(provider.calls(), 201, "one 429, no extra one");
    report_line(&format!(
        "429 pause: 200 targets in {:.1} s on the paused clock, {} rate-limited answer(s), {} calls",
        took.as_secs_f64(),
        d.metrics()[1].rate_limited,
        provider.calls()
    ));
    assert_eq!(d.metrics()[1].rate_limited, 1);
    assert!(provider.twice().is_empty());
    assert_eq!(settled(&d, &inc, 201).await, (201, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_429_storm_renews_the_pause_and_still_loses_nothing() {
    // The provider answers 429 (Retry-After 10) to its first four requests:
    // the first, and each probe after a pause.
    let provider = Scripted::new(ChannelLimits::new(), |n, _| {
        if n < 4 {
            Step::Fail(ChannelError::RateLimited {
                retry_after: Some(Duration::from_secs(10)),
            })
        } else {
            Step::Ok
        }
    });
    let d = fan_out(provider.clone(), 50)
        .retry(RetryPolicy::default().max_attempts(10))
        .build()
        .unwrap();
    let (inc, first) = incident();
    let start = Instant::now();
    let report = d.publish(&inc, &first).await.unwrap();
    assert!(report.all_sent());
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(40) && took < Duration::from_secs(42),
        "{took:?}"
    );
    assert_eq!(provider.calls(), 54, "one 429 per pause, no more");
    assert_eq!(settled(&d, &inc, 51).await, (51, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_5xx_burst_is_retried_within_the_budget_and_finished_by_the_outbox() {
    // The provider fails its first 60 requests with 503.
    let provider = Scripted::new(ChannelLimits::new(), |n, _| {
        if n < 60 {
            Step::Fail(ChannelError::Transient {
                reason: "503".into(),
                status: Some(503),
                retry_after: None,
            })
        } else {
            Step::Ok
        }
    });
    let d = fan_out(provider.clone(), 40)
        .retry(RetryPolicy::default().backoff(Duration::from_millis(100), Duration::from_secs(1)))
        .retry_budget(RetryBudget::new(Duration::from_secs(10), 1, 0.2))
        .circuit_breaker(CircuitBreaker::new(1000, Duration::from_secs(1)))
        .outbox_backoff(Duration::from_secs(1), Duration::from_secs(2))
        .build()
        .unwrap();
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();
    // The budget held the retries back: 40 first attempts buy 8, plus a
    // floor of 10 over 10 s.
    let retries = provider.calls() - 40;
    assert!(retries <= 18, "{retries} retries");
    assert!(report.pending, "what the budget held back is the outbox's");
    assert!(d.metrics()[1].retries_denied > 0);
    let left = d.outbox().drain(Duration::from_secs(120)).await.unwrap();
    assert_eq!(left.unsettled, 0);
    assert!(provider.twice().is_empty(), "none accepted twice");
    assert_eq!(provider.accepted(), 40);
    assert_eq!(settled(&d, &inc, 41).await, (41, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_channel_fails_only_its_own_deliveries() {
    let boom = Scripted::new(ChannelLimits::new(), |_, target| {
        if target == "t001" {
            Step::Panic
        } else {
            Step::Ok
        }
    });
    let calm = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("boom", boom.clone())
        .channel("calm", calm.clone())
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("boom", targets(3)))
                .route(Route::new("calm", targets(3))),
        )
        .build()
        .unwrap();
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let (delivery, failure) = failures[0];
    assert_eq!(delivery.target.as_str(), "t001");
    assert!(
        matches!(failure, Failure::Panicked { channel, message } if channel == "boom" && message.contains("scripted panic")),
        "{failure:?}"
    );
    assert!(!failure.is_retryable());
    assert_eq!(calm.len(), 3, "the other lane finished");
    assert_eq!(
        boom.accepted(),
        2,
        "the channel's other deliveries went out"
    );
    assert_eq!(settled(&d, &inc, 7).await, (6, 1, 0));
    // The journal shows the typed failure.
    let records = d.journal().records(inc.id()).await.unwrap();
    assert!(records.iter().any(|r| matches!(
        &r.state,
        DeliveryState::Failed {
            failure: Failure::Panicked { .. },
            ..
        }
    )));
    // Publishing again does not retry a panic... unless asked explicitly:
    // an explicit publish retries permanent failures, and it panics again.
    let again = d.publish(&inc, &first).await.unwrap();
    assert_eq!(again.sent_now(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_primary_holds_the_fan_out_for_its_deadline_only() {
    let primary = Scripted::new(ChannelLimits::new().as_primary(), |_, _| Step::Hang);
    let chat = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", primary.clone())
        .channel("chat", chat.clone())
        .audience(AudiencePolicy::new(Audience::Customers).route(Route::new("chat", targets(5))))
        .primary_deadline(Duration::from_secs(3))
        .send_timeout(Duration::from_secs(20))
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let (inc, first) = incident();
    let start = Instant::now();
    let report = d.publish(&inc, &first).await.unwrap();
    // The fan-out went out at the deadline, with the canonical URL.
    let sent_at: Vec<_> = chat
        .deliveries()
        .iter()
        .map(|d| d.incident.started_at())
        .collect();
    assert_eq!(sent_at.len(), 5);
    match &report.link_source {
        LinkSource::Canonical { reason } => {
            assert!(reason.contains("did not answer within 3s"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(chat.texts().iter().all(|t| t.ends_with("/incidents/inc-7")));
    let fan_out_at = d
        .journal()
        .records(inc.id())
        .await
        .unwrap()
        .iter()
        .filter(|r| !r.entry.primary)
        .map(|r| r.updated_at)
        .max()
        .unwrap();
    let started = tidings::clock::now() - chrono::Duration::from_std(start.elapsed()).unwrap();
    assert!(
        fan_out_at - started < chrono::Duration::seconds(4),
        "the fan-out waited {}",
        fan_out_at - started
    );
    // The primary kept trying beside it, bounded by its send timeout: it
    // timed out, and its outcome is unknown (it does not deduplicate).
    assert!(
        start.elapsed() >= Duration::from_secs(20) && start.elapsed() < Duration::from_secs(21)
    );
    assert!(matches!(
        report.primary.as_ref().unwrap().outcome,
        Outcome::InDoubt(DoubtReason::NoAnswer { .. })
    ));
    assert_eq!(settled(&d, &inc, 6).await, (5, 0, 1));
}

/// A lane of a deduplicating provider and one of a provider that does not,
/// both slow: cancelling the publish at any moment leaves nothing stuck and
/// nothing sent twice where it may not be.
#[tokio::test(start_paused = true)]
async fn a_publish_cancelled_at_any_moment_leaves_every_delivery_accounted_for() {
    for cancel_ms in (0..=260).step_by(10) {
        let plain = Scripted::new(ChannelLimits::new(), |_, _| {
            Step::After(Duration::from_millis(25), Box::new(Step::Ok))
        });
        let dedup = Scripted::new(ChannelLimits::new().deduplicating(), |_, _| {
            Step::After(Duration::from_millis(35), Box::new(Step::Ok))
        });
        let d = Dispatcher::builder(CANONICAL)
            .primary("page", page())
            .channel("plain", plain.clone())
            .channel("dedup", dedup.clone())
            .audience(
                AudiencePolicy::new(Audience::CoreResponders)
                    .route(Route::new("plain", targets(6)))
                    .route(Route::new("dedup", targets(6))),
            )
            .concurrency_per_channel(2)
            .claim_lease(Duration::from_secs(5))
            .outbox_backoff(Duration::from_millis(100), Duration::from_secs(1))
            .build()
            .unwrap();
        let (mut inc, _) = incident();
        let update = post(&mut inc, Status::Identified, 10, "Cause found.");
        let cancelled =
            tokio::time::timeout(Duration::from_millis(cancel_ms), d.publish(&inc, &update)).await;
        // Let the records of the dropped publish be written, then the outbox
        // finish what is left (abandoned claims after their lease).
        tokio::time::sleep(Duration::from_millis(1)).await;
        let drained = d.outbox().drain(Duration::from_secs(60)).await.unwrap();
        assert_eq!(
            drained.unsettled, 0,
            "cancel at {cancel_ms} ms: {drained:?}"
        );
        let (sent, failed, doubt) = settled(&d, &inc, 13).await;
        assert_eq!(failed, 0, "cancel at {cancel_ms} ms");
        assert_eq!(sent + doubt, 13, "cancel at {cancel_ms} ms");
        // The plain provider never gets a key twice; the deduplicating one
        // may (a resend after doubt), and keeps it once.
        assert!(
            plain.twice().is_empty(),
            "cancel at {cancel_ms} ms: {:?}",
            plain.twice()
        );
        assert_eq!(dedup.accepted(), 6, "cancel at {cancel_ms} ms");
        // Only the plain lane's in-flight sends may stay in doubt.
        assert!(doubt <= 2, "cancel at {cancel_ms} ms: {doubt} in doubt");
        if cancelled.is_ok() {
            assert_eq!(doubt, 0);
        }
    }
}

/// Wire faults, against real servers on 127.0.0.1 behind real channels.
#[cfg(all(feature = "webhook", feature = "mattermost"))]
mod wire {
    use super::*;
    use std::net::SocketAddr;
    use tidings::channel::HttpOptions;
    use tidings::channel::chat::mattermost::MattermostChannel;
    use tidings::channel::webhook::WebhookChannel;
    use tidings::dispatch::DispatchReport;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    /// How the server treats one request.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Mode {
        /// Reads the whole request, then resets the connection (the request
        /// arrived; the answer never does).
        ResetAfterRequest,
        /// Reads half the body, then resets.
        ResetMidBody,
        /// Reads the request and never answers.
        Silent,
        /// Answers the head, then drips the body a byte every 200 ms.
        Drip,
        /// Answers 200.
        Ok,
    }

    /// A server that treats the first `faulty` requests with `mode`, then
    /// answers 200; counts the requests it read whole, per `webhook-id` or
    /// per path.
    struct Server {
        addr: SocketAddr,
        whole: Arc<Mutex<HashMap<String, usize>>>,
    }

    async fn server(mode: Mode, faulty: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let whole: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let seen = Arc::new(AtomicUsize::new(0));
        let counts = whole.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (counts, seen) = (counts.clone(), seen.clone());
                tokio::spawn(async move { serve(stream, mode, faulty, &counts, &seen).await });
            }
        });
        Server { addr, whole }
    }

    async fn serve(
        mut stream: TcpStream,
        mode: Mode,
        faulty: usize,
        counts: &Mutex<HashMap<String, usize>>,
        seen: &AtomicUsize,
    ) {
        loop {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // The head.
            let head_end = loop {
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            // A webhook is known by its id; any other request by its path
            // (each target has its own).
            let id = head
                .lines()
                .find_map(|l| l.strip_prefix("webhook-id:"))
                .map(|v| v.trim().to_owned())
                .or_else(|| head.split_whitespace().nth(1).map(str::to_owned));
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let mode = if n < faulty { mode } else { Mode::Ok };
            if mode == Mode::ResetMidBody {
                while buf.len() < head_end + length / 2 {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                #[allow(deprecated)] // a zero linger sends RST at once; it never blocks
                let _ = stream.set_linger(Some(Duration::ZERO));
                return;
            }
            while buf.len() < head_end + length {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            *counts
                .lock()
                .unwrap()
                .entry(id.unwrap_or_default())
                .or_default() += 1;
            match mode {
                Mode::ResetAfterRequest => {
                    #[allow(deprecated)] // a zero linger sends RST at once; it never blocks
                    let _ = stream.set_linger(Some(Duration::ZERO));
                    return;
                }
                Mode::Silent => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
                Mode::Drip => {
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n")
                        .await;
                    for _ in 0..40 {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        if stream.write_all(b"x").await.is_err() {
                            return;
                        }
                    }
                }
                Mode::Ok | Mode::ResetMidBody => {
                    if stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    }

    /// Publishes one update to 4 targets of a webhook (deduplicates) and 4
    /// of a Mattermost (does not), each behind its own faulty server, with a
    /// 300 ms request timeout; then lets the outbox finish.
    async fn run(mode: Mode) -> (Server, Server, Dispatcher, Incident, Duration) {
        let hooks_server = server(mode, 2).await;
        let chat_server = server(mode, 2).await;
        let timeout = Duration::from_millis(300);
        let mut hooks = WebhookChannel::builder().http(HttpOptions::new().timeout(timeout));
        let mut chat = MattermostChannel::builder().http(HttpOptions::new().timeout(timeout));
        for i in 0..4 {
            let name = format!("t{i:03}");
            hooks = hooks.endpoint(
                &name,
                format!("http://{}/{name}", hooks_server.addr),
                SECRET,
            );
            chat = chat.webhook(&name, format!("http://{}/hooks/{name}", chat_server.addr));
        }
        let d = Dispatcher::builder(CANONICAL)
            .primary("page", page())
            .channel("hooks", Arc::new(hooks.build().unwrap()))
            .channel("chat", Arc::new(chat.build().unwrap()))
            .audience(
                AudiencePolicy::new(Audience::CoreResponders)
                    .route(Route::new("hooks", targets(4)))
                    .route(Route::new("chat", targets(4))),
            )
            .retry(
                RetryPolicy::default()
                    .backoff(Duration::from_millis(20), Duration::from_millis(50)),
            )
            .outbox_backoff(Duration::from_millis(50), Duration::from_millis(200))
            .build()
            .unwrap();
        let (inc, first) = incident();
        let start = std::time::Instant::now();
        let report: DispatchReport = d.publish(&inc, &first).await.unwrap();
        let took = start.elapsed();
        assert_eq!(report.all().count(), 9);
        let drained = d.outbox().drain(Duration::from_secs(30)).await.unwrap();
        assert_eq!(drained.unsettled, 0);
        (hooks_server, chat_server, d, inc, took)
    }

    async fn check(mode: Mode, bound: Duration) {
        let (hooks, chat, d, inc, took) = run(mode).await;
        assert!(took < bound, "{mode:?}: the publish took {took:?}");
        let (sent, failed, doubt) = settled(&d, &inc, 9).await;
        assert_eq!(failed, 0, "{mode:?}");
        // The webhook receiver deduplicates by webhook-id: every delivery
        // ends sent; the faulty ones were sent again with the same id.
        let hook_counts = hooks.whole.lock().unwrap().clone();
        assert_eq!(hook_counts.len(), 4, "{mode:?}: {hook_counts:?}");
        // Mattermost does not: a message that may have arrived is in doubt
        // and never sent again.
        let chat_counts = chat.whole.lock().unwrap().clone();
        assert!(
            chat_counts.values().all(|n| *n == 1),
            "{mode:?}: {chat_counts:?}"
        );
        let records = d.journal().records(inc.id()).await.unwrap();
        for r in records.iter().filter(|r| &*r.entry.channel == "hooks") {
            assert!(matches!(r.state, DeliveryState::Sent(_)), "{mode:?}: {r:?}");
        }
        let chat_doubt = records
            .iter()
            .filter(|r| &*r.entry.channel == "chat")
            .filter(|r| matches!(r.state, DeliveryState::InDoubt { .. }))
            .count();
        assert_eq!(chat_doubt, doubt, "{mode:?}");
        report_line(&format!(
            "{mode:?}: 9 planned, {sent} sent, {failed} failed, {doubt} in doubt, webhook ids received {:?}, chat requests per target {:?}, publish took {took:?}",
            hook_counts.values().collect::<Vec<_>>(),
            chat_counts.values().collect::<Vec<_>>()
        ));
        assert_eq!(sent + doubt, 9);
        match mode {
            // The request was cut before it was whole: nothing arrived, so
            // nothing is in doubt... unless the client cannot tell.
            Mode::ResetMidBody => assert!(doubt <= 2, "{mode:?}"),
            // The status line (200) arrived before the drip: that is the
            // provider's answer; the body is not needed.
            Mode::Drip => assert_eq!(doubt, 0, "{mode:?}"),
            _ => assert_eq!(doubt, 2, "{mode:?}: the two faulty chat sends are in doubt"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_reset_after_the_request_is_in_doubt_and_resent_only_where_deduplicated() {
        check(Mode::ResetAfterRequest, Duration::from_secs(5)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_reset_mid_body_loses_nothing() {
        check(Mode::ResetMidBody, Duration::from_secs(5)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_server_that_never_answers_is_bounded_by_the_timeout() {
        check(Mode::Silent, Duration::from_secs(5)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_drip_is_bounded_by_the_timeout() {
        check(Mode::Drip, Duration::from_secs(5)).await;
    }
}
