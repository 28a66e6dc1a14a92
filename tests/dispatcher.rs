//! Dispatcher behaviour, on tokio's paused clock: every wait is virtual, so
//! these tests are instant and deterministic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;
use tidings::channel::memory::MemoryChannel;
use tidings::channel::{ChannelError, ChannelLimits, RateLimit};
use tidings::dispatch::{ConfigError, DispatchError};
use tidings::journal::{DeliveryState, DoubtReason, Failure, LinkSource, MemoryJournal};
use tidings::prelude::*;
use tidings::render::TextLimit;
use tokio::time::Instant;

type Log = Arc<Mutex<Vec<(&'static str, Instant)>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn page() -> Arc<MemoryChannel> {
    Arc::new(MemoryChannel::primary(PERMALINK_BASE.parse().unwrap()))
}

const PERMALINK: &str = "https://status.example.com/incidents/inc-7";

fn core(channel: &str, targets: &[&str]) -> AudiencePolicy {
    AudiencePolicy::new(Audience::CoreResponders)
        .route(Route::new(channel, targets.iter().map(|t| target(t))))
}

fn customers(channel: &str, targets: &[&str]) -> AudiencePolicy {
    AudiencePolicy::new(Audience::Customers)
        .route(Route::new(channel, targets.iter().map(|t| target(t))))
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default().backoff(Duration::from_millis(100), Duration::from_secs(1))
}

#[tokio::test(start_paused = true)]
async fn the_primary_goes_first_and_its_permalink_is_in_every_message() {
    let log = log();
    let primary = Probe::new(
        "page",
        MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())
            .with_latency(Duration::from_secs(2)),
        log.clone(),
    );
    let chat = Probe::new("chat", MemoryChannel::new(), log.clone());
    let mail = Probe::new("mail", MemoryChannel::new(), log.clone());
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", primary.clone())
        .channel("chat", chat.clone())
        .channel("mail", mail.clone())
        .audience(core("chat", &["#inc", "#ops"]))
        .audience(customers(
            "mail",
            &["a@example.com", "b@example.com", "c@example.com"],
        ))
        .build()
        .unwrap();
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();

    assert!(report.all_sent(), "{report:?}");
    assert_eq!(report.link_source, LinkSource::Primary);
    assert_eq!(report.link.as_str(), PERMALINK);
    assert_eq!(report.deliveries.len(), 5);
    let entries = log.lock().unwrap().clone();
    assert_eq!(entries[0].0, "page");
    let page_done = entries[0].1 + Duration::from_secs(2);
    for (name, at) in &entries[1..] {
        assert_ne!(*name, "page");
        assert!(
            *at >= page_done,
            "{name} started before the primary finished"
        );
    }
    for probe in [&chat, &mail] {
        for d in probe.inner.deliveries() {
            assert_eq!(d.link.as_str(), PERMALINK);
            assert!(d.text.ends_with(PERMALINK), "{}", d.text);
            assert!(
                d.text.contains("Next update by 2026-11-25 14:33 UTC."),
                "{}",
                d.text
            );
        }
    }
    assert_eq!(primary.inner.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_primary_falls_back_to_the_canonical_url_and_says_so() {
    let page = page();
    page.fail_next(ChannelError::rejected("bad page id"));
    let chat = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder("https://status.example.com/i/{id}")
        .primary("page", page.clone())
        .channel("chat", chat.clone())
        .audience(core("chat", &["#inc"]))
        .build()
        .unwrap();
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();
    assert!(
        matches!(report.link_source, LinkSource::Canonical { ref reason } if reason.contains("bad page id"))
    );
    assert_eq!(report.link.as_str(), "https://status.example.com/i/inc-7");
    assert!(matches!(
        report.primary.as_ref().unwrap().outcome,
        Outcome::Failed(Failure::Channel(ChannelError::Rejected { .. }))
    ));
    assert_eq!(
        report.primary.as_ref().unwrap().attempts,
        1,
        "permanent errors are not retried"
    );
    assert!(chat.texts()[0].ends_with("https://status.example.com/i/inc-7"));
    assert!(!report.all_sent());
}

#[tokio::test(start_paused = true)]
async fn rate_limited_then_success_waits_the_retry_after() {
    let log = log();
    let chat = Probe::new("chat", MemoryChannel::new(), log.clone());
    chat.inner.fail_next(ChannelError::RateLimited {
        retry_after: Some(Duration::from_secs(7)),
    });
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("chat", chat.clone())
        .audience(core("chat", &["#inc"]))
        .retry(fast_retry())
        .build()
        .unwrap();
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();
    let r = &report.deliveries[0];
    assert!(matches!(r.outcome, Outcome::Sent(_)), "{r:?}");
    assert_eq!(r.attempts, 2);
    let starts = chat.starts();
    assert_eq!(starts.len(), 2);
    let waited = starts[1] - starts[0];
    assert!(waited >= Duration::from_secs(7), "waited only {waited:?}");
    assert!(
        waited <= Duration::from_millis(7700),
        "waited {waited:?}: jitter is at most 10 %"
    );
    assert!(r.latency >= Duration::from_secs(7));
    let chat_metrics = d
        .metrics()
        .into_iter()
        .find(|m| m.channel == "chat")
        .unwrap();
    assert_eq!(
        (
            chat_metrics.attempts,
            chat_metrics.rate_limited,
            chat_metrics.sent,
            chat_metrics.failed
        ),
        (2, 1, 1, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried_and_transient_ones_are_until_the_budget() {
    let rejected = Arc::new(MemoryChannel::new());
    rejected.fail_next(ChannelError::rejected("invalid_auth"));
    let flaky = Arc::new(MemoryChannel::new());
    for _ in 0..10 {
        flaky.fail_next(ChannelError::transient("502"));
    }
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("rejected", rejected.clone())
        .channel("flaky", flaky.clone())
        .audience(core("rejected", &["#a"]))
        .audience(customers("flaky", &["b"]))
        .retry(fast_retry().max_attempts(3))
        .build()
        .unwrap();
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();
    let by = |ch: &str| {
        report
            .deliveries
            .iter()
            .find(|d| &*d.channel == ch)
            .unwrap()
    };
    assert_eq!(by("rejected").attempts, 1);
    assert_eq!(rejected.attempts(), 1);
    assert!(matches!(&by("rejected").outcome, Outcome::Failed(f) if !f.is_retryable()));
    assert_eq!(by("flaky").attempts, 3);
    assert_eq!(flaky.attempts(), 3);
    assert!(matches!(&by("flaky").outcome, Outcome::Failed(f) if f.is_retryable()));
    assert_eq!(report.failures().count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_slow_channel_never_delays_a_fast_one() {
    let log = log();
    let slow = Probe::new(
        "slow",
        MemoryChannel::new().with_latency(Duration::from_secs(60)),
        log.clone(),
    );
    let fast = Probe::new("fast", MemoryChannel::new(), log.clone());
    let failing = Probe::new("failing", MemoryChannel::new(), log.clone());
    for _ in 0..100 {
        failing.inner.fail_next(ChannelError::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
        });
    }
    let slow_targets: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    let fast_targets: Vec<String> = (0..50).map(|i| format!("f{i}")).collect();
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("slow", slow.clone())
        .channel("fast", fast.clone())
        .channel("failing", failing.clone())
        .audience(core(
            "slow",
            &slow_targets.iter().map(String::as_str).collect::<Vec<_>>(),
        ))
        .audience(customers(
            "fast",
            &fast_targets.iter().map(String::as_str).collect::<Vec<_>>(),
        ))
        .audience(
            AudiencePolicy::new(Audience::Leadership)
                .route(Route::new("failing", [target("#lead")])),
        )
        .concurrency_per_channel(1)
        .send_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let (inc, first) = incident();
    let start = Instant::now();
    let report = d.publish(&inc, &first).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(600),
        "10 slow sends one at a time"
    );
    let fast_starts = fast.starts();
    assert_eq!(fast_starts.len(), 50);
    let last_fast = *fast_starts.iter().max().unwrap();
    assert!(
        last_fast - start < Duration::from_millis(1),
        "fast lane finished at {:?}",
        last_fast - start
    );
    assert_eq!(
        report
            .deliveries
            .iter()
            .filter(|d| matches!(d.outcome, Outcome::Sent(_)))
            .count(),
        60
    );
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded_per_channel() {
    let log = log();
    let ch = Probe::new(
        "ch",
        MemoryChannel::new().with_latency(Duration::from_secs(1)),
        log.clone(),
    );
    let targets: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("ch", ch.clone())
        .audience(customers(
            "ch",
            &targets.iter().map(String::as_str).collect::<Vec<_>>(),
        ))
        .concurrency_per_channel(4)
        .build()
        .unwrap();
    let (inc, first) = incident();
    let start = Instant::now();
    let report = d.publish(&inc, &first).await.unwrap();
    assert!(report.all_sent());
    assert_eq!(
        ch.max_in_flight.load(std::sync::atomic::Ordering::SeqCst),
        4
    );
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(5),
        "20 sends of 1 s, 4 at a time"
    );
}

#[tokio::test(start_paused = true)]
async fn channel_and_target_rate_limits_are_respected() {
    let log = log();
    let limited = MemoryChannel::new().with_limits(
        ChannelLimits::new()
            .with_rate(RateLimit::new(2, Duration::from_secs(1)).unwrap())
            .with_per_target_rate(RateLimit::new(1, Duration::from_secs(600)).unwrap()),
    );
    let ch = Probe::new("ch", limited, log.clone());
    let targets: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("ch", ch.clone())
        .audience(customers(
            "ch",
            &targets.iter().map(String::as_str).collect::<Vec<_>>(),
        ))
        .build()
        .unwrap();
    let (mut inc, first) = incident();
    let start = Instant::now();
    d.publish(&inc, &first).await.unwrap();
    let starts = ch.starts();
    assert_eq!(starts.len(), 10);
    // A burst of 2, then one every 500 ms.
    for (i, s) in starts.iter().enumerate() {
        let earliest = Duration::from_millis(500 * (i.saturating_sub(1)) as u64);
        assert!(*s - start >= earliest, "send {i} at {:?}", *s - start);
    }
    for w in starts.windows(3) {
        assert!(
            w[2] - w[0] >= Duration::from_millis(500),
            "no more than 2 per 500 ms window"
        );
    }
    assert_eq!(
        *starts.last().unwrap() - start,
        Duration::from_secs(4),
        "and no slower than the limit"
    );
    // The per-target limit (1 per 10 min) holds the next update to each target.
    let second = post(&mut inc, Status::Identified, 10, "Found it.");
    let before = Instant::now();
    d.publish(&inc, &second).await.unwrap();
    let next_starts = &ch.starts()[10..];
    assert_eq!(next_starts.len(), 10);
    assert!(
        next_starts
            .iter()
            .all(|s| *s - start >= Duration::from_secs(600))
    );
    assert!(before - start < Duration::from_secs(600));
}

#[tokio::test(start_paused = true)]
async fn the_dispatcher_rate_limit_override_wins() {
    let log = log();
    let ch = Probe::new("ch", MemoryChannel::new(), log.clone());
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("ch", ch.clone())
        .audience(customers("ch", &["a", "b", "c"]))
        .rate_limit("ch", RateLimit::new(1, Duration::from_secs(10)).unwrap())
        .build()
        .unwrap();
    let (inc, first) = incident();
    let start = Instant::now();
    d.publish(&inc, &first).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(20));
}

#[tokio::test(start_paused = true)]
async fn publishing_twice_sends_nothing_new_but_retries_failures() {
    let chat = Arc::new(MemoryChannel::new());
    let mail = Arc::new(MemoryChannel::new());
    mail.fail_next(ChannelError::rejected("mailbox full"));
    let page = page();
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page.clone())
        .channel("chat", chat.clone())
        .channel("mail", mail.clone())
        .audience(core("chat", &["#inc"]))
        .audience(customers("mail", &["a@example.com"]))
        .build()
        .unwrap();
    let (inc, first) = incident();
    let one = d.publish(&inc, &first).await.unwrap();
    assert_eq!(one.sent_now(), 2);
    let two = d.publish(&inc, &first).await.unwrap();
    assert_eq!(two.sent_now(), 1, "only the failed delivery is sent again");
    assert_eq!(
        two.link_source,
        LinkSource::Primary,
        "the permalink comes from the journal"
    );
    assert!(matches!(
        two.primary.as_ref().unwrap().outcome,
        Outcome::AlreadySent(_)
    ));
    let three = d.publish(&inc, &first).await.unwrap();
    assert_eq!(three.sent_now(), 0);
    assert!(three.all_sent());
    assert_eq!((page.len(), chat.len(), mail.len()), (1, 1, 1));
    for (a, b) in one.all().zip(three.all()) {
        assert_eq!(a.key, b.key, "keys are deterministic");
    }
}

#[tokio::test(start_paused = true)]
async fn internal_notes_never_reach_customers_or_employees() {
    let ch = Arc::new(MemoryChannel::new());
    let partners = Audience::custom("partners").unwrap();
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("ch", ch.clone())
        .audience(core("ch", &["core"]))
        .audience(
            AudiencePolicy::new(Audience::Leadership).route(Route::new("ch", [target("lead")])),
        )
        .audience(AudiencePolicy::new(Audience::Employees).route(Route::new("ch", [target("all")])))
        .audience(customers("ch", &["cust"]))
        .audience(
            AudiencePolicy::new(partners.clone()).route(Route::new("ch", [target("partners")])),
        )
        .build()
        .unwrap();
    let (inc, first) = incident();
    d.publish(&inc, &first).await.unwrap();
    let deliveries = ch.deliveries();
    assert_eq!(deliveries.len(), 5);
    for d in deliveries {
        let sees = matches!(d.audience, Audience::CoreResponders | Audience::Leadership);
        assert_eq!(
            d.text.contains("SECRET-NOTE"),
            sees,
            "{}: {}",
            d.audience,
            d.text
        );
        assert_eq!(d.update.internal_notes.is_some(), sees, "{}", d.audience);
        assert_eq!(d.detail == Detail::Internal, sees);
        if !sees {
            assert!(
                d.incident
                    .updates()
                    .iter()
                    .all(|u| u.internal_notes.is_none())
            );
            assert!(!format!("{:?}", d.message).contains("SECRET"));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn later_updates_thread_under_the_first_contact() {
    let chat = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("chat", chat.clone())
        .audience(core("chat", &["#a", "#b"]))
        .build()
        .unwrap();
    let (mut inc, first) = incident();
    let r1 = d.publish(&inc, &first).await.unwrap();
    let second = post(&mut inc, Status::Identified, 20, "A bad deploy.");
    d.publish(&inc, &second).await.unwrap();
    let resolved = post(&mut inc, Status::Resolved, 40, "Fixed.");
    d.publish(&inc, &resolved).await.unwrap();
    let all = chat.deliveries();
    assert_eq!(all.len(), 6);
    for t in ["#a", "#b"] {
        let mine: Vec<_> = all.iter().filter(|d| d.target.as_str() == t).collect();
        let root = r1
            .deliveries
            .iter()
            .find(|d| d.target.as_str() == t)
            .and_then(|d| d.outcome.receipt())
            .and_then(|r| r.message_ref.clone())
            .unwrap();
        assert!(mine[0].thread.is_none());
        assert_eq!(mine[1].thread.as_ref().unwrap().root, root);
        assert_eq!(mine[2].thread.as_ref().unwrap().root, root);
        assert_ne!(
            mine[2].thread.as_ref().unwrap().latest,
            root,
            "latest follows the chain"
        );
        assert!(
            !mine[2].text.contains("Next update"),
            "the resolution promises no next update"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn recipients_and_component_scopes_decide_who_hears() {
    let ch = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("ch", ch.clone())
        .audience(core("ch", &["core"]))
        .audience(customers("ch", &["cust"]))
        .audience(
            AudiencePolicy::new(Audience::custom("billing-team").unwrap())
                .route(Route::new("ch", [target("billing")]))
                .components([ComponentId::new("billing").unwrap()]),
        )
        .audience(
            AudiencePolicy::new(Audience::custom("api-team").unwrap())
                .route(Route::new("ch", [target("api")]))
                .components([ComponentId::new("api").unwrap()]),
        )
        .build()
        .unwrap();
    let (mut inc, first) = incident();
    d.publish(&inc, &first).await.unwrap();
    let targets = |ds: Vec<Delivery>| {
        let mut t: Vec<String> = ds.iter().map(|d| d.target.to_string()).collect();
        t.sort();
        t
    };
    assert_eq!(targets(ch.deliveries()), ["api", "core", "cust"]);
    ch.clear();
    let internal_only = inc
        .post(
            UpdateDraft::new(Status::Identified, t0() + minutes(10), "Responders only.")
                .only_for([Audience::CoreResponders])
                .next_update_at(t0() + minutes(30)),
        )
        .unwrap()
        .clone();
    d.publish(&inc, &internal_only).await.unwrap();
    assert_eq!(targets(ch.deliveries()), ["core"]);
}

#[tokio::test(start_paused = true)]
async fn long_messages_split_into_threaded_parts_that_all_carry_the_link() {
    let sms = Arc::new(
        MemoryChannel::new().with_limits(
            ChannelLimits::new()
                .threaded()
                .with_text(TextLimit::chars(160)),
        ),
    );
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("sms", sms.clone())
        .audience(
            AudiencePolicy::new(Audience::CoreResponders)
                .route(Route::new("sms", [target("+15550100")]).overflow(Overflow::split(4))),
        )
        .audience(
            AudiencePolicy::new(Audience::Leadership)
                .route(Route::new("sms", [target("+15550101")])),
        )
        .build()
        .unwrap();
    let (mut inc, _) = incident();
    let long =
        "The primary database in eu-west is refusing connections after a failover. ".repeat(4);
    let up = inc
        .post(
            UpdateDraft::new(Status::Identified, t0() + minutes(10), long)
                .next_update_at(t0() + minutes(40)),
        )
        .unwrap()
        .clone();
    let report = d.publish(&inc, &up).await.unwrap();
    assert!(report.all_sent());
    let split: Vec<_> = sms
        .deliveries()
        .into_iter()
        .filter(|d| d.target.as_str() == "+15550100")
        .collect();
    assert!(split.len() > 1 && split.len() <= 4, "{}", split.len());
    for (i, d) in split.iter().enumerate() {
        assert!(d.text.chars().count() <= 160, "{}", d.text);
        assert!(d.text.ends_with(PERMALINK));
        assert_eq!(usize::from(d.part.index), i + 1);
        assert_eq!(usize::from(d.part.count), split.len());
        if i > 0 {
            assert!(d.thread.is_some(), "part {} threads under part 1", i + 1);
        }
    }
    let keys: std::collections::HashSet<_> = split.iter().map(|d| d.key.clone()).collect();
    assert_eq!(keys.len(), split.len(), "each part has its own key");
    let shortened: Vec<_> = sms
        .deliveries()
        .into_iter()
        .filter(|d| d.target.as_str() == "+15550101")
        .collect();
    assert_eq!(shortened.len(), 1);
    assert!(shortened[0].text.contains('…') && shortened[0].text.ends_with(PERMALINK));
    assert!(shortened[0].text.chars().count() <= 160);
}

#[tokio::test(start_paused = true)]
async fn a_target_shared_by_audiences_gets_one_message() {
    let ch = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("ch", ch.clone())
        .audience(
            AudiencePolicy::new(Audience::Employees)
                .route(Route::new("ch", [target("#all"), target("#x")])),
        )
        .audience(customers("ch", &["#all"]))
        .build()
        .unwrap();
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();
    assert_eq!(report.deliveries.len(), 2);
    assert_eq!(ch.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hung_channel_that_cannot_deduplicate_is_in_doubt_not_resent() {
    let hung = Arc::new(MemoryChannel::new().with_latency(Duration::from_secs(3600)));
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("hung", hung.clone())
        .audience(core("hung", &["#x"]))
        .send_timeout(Duration::from_secs(5))
        .retry(fast_retry().max_attempts(2))
        .build()
        .unwrap();
    let (inc, first) = incident();
    let start = Instant::now();
    let report = d.publish(&inc, &first).await.unwrap();
    let r = &report.deliveries[0];
    assert_eq!(
        r.attempts, 1,
        "a timeout may have delivered it: not repeated"
    );
    assert!(
        matches!(
            &r.outcome,
            Outcome::InDoubt(DoubtReason::NoAnswer {
                error: ChannelError::Timeout { .. }
            })
        ),
        "{:?}",
        r.outcome
    );
    assert!(
        !report.pending,
        "a doubt that will not be resent is settled"
    );
    assert!(start.elapsed() < Duration::from_secs(6));
    // Publishing again reports it, and still does not resend.
    let again = d.publish(&inc, &first).await.unwrap();
    assert!(matches!(again.deliveries[0].outcome, Outcome::InDoubt(_)));
    assert_eq!(hung.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_hung_channel_that_deduplicates_is_retried_with_the_same_key() {
    let hung = Arc::new(
        MemoryChannel::new()
            .with_deduplication()
            .with_latency(Duration::from_secs(3600)),
    );
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("hung", hung.clone())
        .audience(core("hung", &["#x"]))
        .send_timeout(Duration::from_secs(5))
        .retry(fast_retry().max_attempts(2))
        .build()
        .unwrap();
    let (inc, first) = incident();
    let start = Instant::now();
    let report = d.publish(&inc, &first).await.unwrap();
    let r = &report.deliveries[0];
    assert_eq!(r.attempts, 2);
    assert!(r.resend);
    assert!(matches!(r.outcome, Outcome::InDoubt(_)), "{:?}", r.outcome);
    assert!(report.pending, "the outbox will resend it");
    assert!(start.elapsed() < Duration::from_secs(12));
    let history = d.journal().history(inc.id()).await.unwrap();
    let labels: Vec<&str> = history
        .iter()
        .filter(|t| t.key == r.key)
        .map(|t| t.state.label())
        .collect();
    assert_eq!(labels, ["claimed", "in_doubt", "claimed", "in_doubt"]);
}

#[tokio::test(start_paused = true)]
async fn the_journal_records_before_and_after_and_can_be_shared() {
    let journal = Arc::new(MemoryJournal::new());
    let ch = Arc::new(MemoryChannel::new());
    ch.fail_next(ChannelError::rejected("nope"));
    let build = || {
        Dispatcher::builder(CANONICAL)
            .primary("page", page())
            .channel("ch", ch.clone())
            .audience(core("ch", &["a", "b"]))
            .journal(journal.clone())
            .build()
            .unwrap()
    };
    let (inc, first) = incident();
    build().publish(&inc, &first).await.unwrap();
    let records = journal.all();
    assert_eq!(records.len(), 3);
    assert!(records[0].entry.primary && records[1..].iter().all(|r| !r.entry.primary));
    assert!(records.iter().all(|r| r.entry.has_link));
    let failed = records
        .iter()
        .filter(|r| matches!(r.state, tidings::journal::DeliveryState::Failed { .. }))
        .count();
    assert_eq!(failed, 1);
    // A second dispatcher (a restarted process) sharing the journal sends only what failed.
    let again = build().publish(&inc, &first).await.unwrap();
    assert_eq!(again.sent_now(), 1);
    assert_eq!(ch.len(), 2);
}

#[tokio::test]
async fn bad_input_is_a_typed_error() {
    let (inc, first) = incident();
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("ch", Arc::new(MemoryChannel::new()))
        .audience(core("ch", &["a"]))
        .build()
        .unwrap();
    let (mut other, _) = incident();
    let foreign = post(&mut other, Status::Identified, 9, "other");
    assert!(matches!(
        d.publish(&inc, &foreign).await,
        Err(DispatchError::UnknownUpdate { seq: 2, .. })
    ));
    let mut edited = first.clone();
    edited.message = "edited after posting".into();
    assert!(matches!(
        d.publish(&inc, &edited).await,
        Err(DispatchError::UnknownUpdate { .. })
    ));

    let ch = || Arc::new(MemoryChannel::new());
    let base = || {
        Dispatcher::builder(CANONICAL)
            .primary("page", page())
            .channel("ch", ch())
    };
    assert!(matches!(
        Dispatcher::builder(CANONICAL).build(),
        Err(ConfigError::NoPrimary)
    ));
    assert!(matches!(
        Dispatcher::builder("https://status.example.com/")
            .primary("page", page())
            .build(),
        Err(ConfigError::CanonicalUrl { .. })
    ));
    assert!(matches!(
        Dispatcher::builder(CANONICAL).primary("page", ch()).build(),
        Err(ConfigError::NotAPrimary(_))
    ));
    assert!(matches!(
        base().channel("ch", ch()).build(),
        Err(ConfigError::DuplicateChannel(_))
    ));
    assert!(matches!(
        base().audience(core("nope", &["a"])).build(),
        Err(ConfigError::UnknownChannel { .. })
    ));
    assert!(matches!(
        base().audience(core("page", &["a"])).build(),
        Err(ConfigError::RouteToPrimary(_))
    ));
    assert!(matches!(
        base()
            .audience(customers("ch", &["a"]).detail(Detail::Internal))
            .build(),
        Err(ConfigError::Policy(_))
    ));
    assert!(matches!(
        base()
            .audience(core("ch", &["a"]))
            .audience(customers("ch", &["a"]))
            .build(),
        Err(ConfigError::ConflictingDetail { .. })
    ));
    assert!(matches!(
        base()
            .audience(core("ch", &["a"]))
            .audience(core("ch", &["b"]))
            .build(),
        Err(ConfigError::DuplicateAudience(_))
    ));
    assert!(matches!(
        base().concurrency_per_channel(0).build(),
        Err(ConfigError::Zero(_))
    ));
    assert!(matches!(
        base()
            .rate_limit("nope", RateLimit::new(1, Duration::from_secs(1)).unwrap())
            .build(),
        Err(ConfigError::UnknownRateLimitChannel(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn concurrent_publishes_of_one_update_keep_the_primary_first_and_send_once() {
    let log = log();
    let page = Probe::new(
        "page",
        MemoryChannel::primary(PERMALINK_BASE.parse().unwrap())
            .with_latency(Duration::from_secs(5)),
        log.clone(),
    );
    let chat = Probe::new("chat", MemoryChannel::new(), log.clone());
    let d = Dispatcher::builder("https://status.example.com/canonical/{id}")
        .primary("page", page.clone())
        .channel("chat", chat.clone())
        .audience(core("chat", &["#a", "#b"]))
        .build()
        .unwrap();
    let (inc, first) = incident();
    let (one, two) = tokio::join!(d.publish(&inc, &first), d.publish(&inc, &first));
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(page.inner.len(), 1, "the page is updated once");
    assert_eq!(chat.inner.len(), 2, "each target hears once");
    for r in [&one, &two] {
        assert_eq!(r.link_source, LinkSource::Primary, "{r:?}");
        assert_eq!(r.link.as_str(), PERMALINK);
    }
    let page_done = page.starts()[0] + Duration::from_secs(5);
    assert!(
        chat.starts().iter().all(|s| *s >= page_done),
        "no fan-out before the primary"
    );
    assert_eq!(one.sent_now() + two.sent_now(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_publish_cancelled_mid_send_leaves_the_delivery_in_doubt_not_stuck() {
    for dedup in [false, true] {
        let mut chat = MemoryChannel::new().with_latency(Duration::from_secs(60));
        if dedup {
            chat = chat.with_deduplication();
        }
        let chat = Arc::new(chat);
        let d = Dispatcher::builder(CANONICAL)
            .primary("page", page())
            .channel("chat", chat.clone())
            .audience(core("chat", &["#a"]))
            .send_timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let (inc, first) = incident();
        assert!(
            tokio::time::timeout(Duration::from_secs(10), d.publish(&inc, &first))
                .await
                .is_err()
        );
        tokio::time::sleep(Duration::from_millis(1)).await; // let the claim be recorded
        let key = &d.journal().records(inc.id()).await.unwrap()[1]
            .entry
            .key
            .clone();
        assert!(
            matches!(
                d.journal().state(key).await.unwrap(),
                Some(DeliveryState::InDoubt {
                    reason: DoubtReason::Cancelled,
                    ..
                })
            ),
            "dedup={dedup}"
        );
        let report = d.publish(&inc, &first).await.unwrap();
        if dedup {
            // The provider keeps a key once: sent again with the same key.
            assert!(matches!(report.deliveries[0].outcome, Outcome::Sent(_)));
            assert!(report.deliveries[0].resend);
            assert_eq!(chat.len(), 1);
        } else {
            // Maybe sent, maybe not: reported, never guessed.
            assert!(matches!(report.deliveries[0].outcome, Outcome::InDoubt(_)));
            assert!(chat.is_empty());
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_publish_cancelled_before_the_send_is_retried_as_if_never_sent() {
    // The per-target limit makes the second delivery wait; the publish is
    // dropped while it waits, before its claim: nothing is in doubt.
    let chat = Arc::new(
        MemoryChannel::new().with_limits(
            ChannelLimits::new()
                .with_per_target_rate(RateLimit::new(1, Duration::from_secs(60)).unwrap()),
        ),
    );
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("chat", chat.clone())
        .audience(core("chat", &["#a"]))
        .build()
        .unwrap();
    let (mut inc, first) = incident();
    d.publish(&inc, &first).await.unwrap();
    let second = post(&mut inc, Status::Identified, 20, "Cause found.");
    assert!(
        tokio::time::timeout(Duration::from_secs(10), d.publish(&inc, &second))
            .await
            .is_err()
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
    let report = d.publish(&inc, &second).await.unwrap();
    assert!(
        matches!(report.deliveries[0].outcome, Outcome::Sent(_)),
        "{report:?}"
    );
    assert_eq!(chat.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_template_failing_at_publish_time_sends_nothing() {
    let page = page();
    let chat = Arc::new(MemoryChannel::new());
    let templates = tidings::render::Templates::new()
        .with_template(
            "first_contact.internal",
            "{{ update.message }} on {{ incident.components[0].name }}",
        )
        .unwrap();
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page.clone())
        .channel("chat", chat.clone())
        .audience(core("chat", &["#a"]))
        .templates(templates)
        .build()
        .unwrap();
    let mut bare = Incident::new(
        IncidentId::new("bare").unwrap(),
        "No components",
        Impact::Minor,
        t0(),
    )
    .unwrap();
    let first = bare
        .post(UpdateDraft::new(Status::Investigating, t0(), "x").next_update_at(t0() + minutes(30)))
        .unwrap()
        .clone();
    assert!(matches!(
        d.publish(&bare, &first).await,
        Err(DispatchError::Template(_))
    ));
    assert!(page.is_empty() && chat.is_empty());
}

#[tokio::test(start_paused = true)]
async fn updates_not_for_customers_leave_the_public_page_alone() {
    let page = page();
    let chat = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page.clone())
        .channel("chat", chat.clone())
        .audience(core("chat", &["#a"]))
        .build()
        .unwrap();
    let (mut inc, _) = incident();
    let internal = inc
        .post(
            UpdateDraft::new(
                Status::Identified,
                t0() + minutes(10),
                "Rolling back deploy 8f3e2a.",
            )
            .only_for([Audience::CoreResponders])
            .next_update_at(t0() + minutes(30)),
        )
        .unwrap()
        .clone();
    let report = d.publish(&inc, &internal).await.unwrap();
    assert!(report.primary.is_none());
    assert!(
        page.is_empty(),
        "nothing responders-only on the public page"
    );
    assert!(matches!(report.link_source, LinkSource::Canonical { .. }));
    assert!(chat.texts()[0].ends_with(PERMALINK));
    assert!(report.all_sent());
}

#[tokio::test(start_paused = true)]
async fn a_dead_channel_opens_its_circuit_and_fails_fast() {
    let dead = Arc::new(MemoryChannel::new());
    for _ in 0..1000 {
        dead.fail_next(ChannelError::transient("503"));
    }
    let healthy = Arc::new(MemoryChannel::new());
    let targets: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("dead", dead.clone())
        .channel("healthy", healthy.clone())
        .audience(core(
            "dead",
            &targets.iter().map(String::as_str).collect::<Vec<_>>(),
        ))
        .audience(customers("healthy", &["c"]))
        .retry(fast_retry().max_attempts(3))
        .circuit_breaker(tidings::dispatch::CircuitBreaker::new(
            5,
            Duration::from_secs(60),
        ))
        .concurrency_per_channel(1)
        .build()
        .unwrap();
    let (inc, first) = incident();
    let start = Instant::now();
    let report = d.publish(&inc, &first).await.unwrap();
    assert_eq!(dead.attempts(), 5, "the provider is not hammered");
    let open = report
        .deliveries
        .iter()
        .filter(|r| matches!(&r.outcome, Outcome::Failed(Failure::CircuitOpen { .. })))
        .count();
    // The first delivery failed its 3 attempts, the second failed twice and
    // then found the circuit open, like every delivery after it.
    assert_eq!(open, 49);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(healthy.len(), 1);
    assert!(report.failures().all(|(_, f)| f.is_retryable()));
    let metrics = d.metrics();
    let dead_metrics = metrics.iter().find(|m| m.channel == "dead").unwrap();
    assert_eq!(
        (
            dead_metrics.attempts,
            dead_metrics.failed,
            dead_metrics.circuit_open,
            dead_metrics.sent
        ),
        (5, 50, 49, 0)
    );
    assert_eq!(
        metrics
            .iter()
            .find(|m| m.channel == "healthy")
            .unwrap()
            .sent,
        1
    );
    assert_eq!(metrics[0].channel, "page");
    assert_eq!(metrics[0].sent, 1);
    // Every planned delivery is in the journal, failed ones included.
    let records = d.journal().records(inc.id()).await.unwrap();
    assert_eq!(records.len(), 52);
}

#[tokio::test(start_paused = true)]
async fn each_audience_reads_the_next_update_in_its_own_time_zone() {
    let chat = Arc::new(MemoryChannel::new());
    let mail = Arc::new(MemoryChannel::new());
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("chat", chat.clone())
        .channel("mail", mail.clone())
        .audience(core("chat", &["#inc"]))
        .audience(customers("mail", &["a@example.com"]).in_time_zone(chrono_tz::Asia::Tokyo))
        .build()
        .unwrap();
    let (inc, first) = incident();
    assert!(d.publish(&inc, &first).await.unwrap().all_sent());
    let due = first.next_update_at.unwrap();
    let utc = due.format("%Y-%m-%d %H:%M UTC").to_string();
    let tokyo = due
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m-%d %H:%M JST")
        .to_string();
    let chat_text = chat.texts().join("\n");
    let mail_text = mail.texts().join("\n");
    assert!(
        chat_text.contains(&format!("Next update by {utc}.")),
        "{chat_text}"
    );
    assert!(
        mail_text.contains(&format!("Next update by {tokyo}.")),
        "{mail_text}"
    );
    assert!(!mail_text.contains("UTC"), "{mail_text}");
}

#[tokio::test(start_paused = true)]
async fn a_large_fan_out_keeps_counts_and_what_needs_attention_not_every_report() {
    /// Refuses one room: the 31st delivery, after the report is full.
    #[derive(Debug)]
    struct RefuseOne(MemoryChannel);
    #[async_trait::async_trait]
    impl tidings::channel::Channel for RefuseOne {
        fn kind(&self) -> tidings::channel::ChannelKind {
            tidings::channel::ChannelKind::new("refuse_one")
        }
        fn limits(&self) -> &ChannelLimits {
            self.0.limits()
        }
        async fn send(
            &self,
            delivery: &tidings::channel::Delivery,
        ) -> Result<tidings::channel::Receipt, ChannelError> {
            if delivery.target.as_str() == "#room-30" {
                return Err(ChannelError::rejected("no such room"));
            }
            self.0.send(delivery).await
        }
    }
    let chat = Arc::new(RefuseOne(MemoryChannel::new()));
    let targets: Vec<String> = (0..50).map(|i| format!("#room-{i:02}")).collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let journal = Arc::new(MemoryJournal::new());
    let d = Dispatcher::builder(CANONICAL)
        .primary("page", page())
        .channel("chat", chat.clone())
        .audience(core("chat", &targets))
        .journal(journal.clone())
        .concurrency_per_channel(1)
        .retry(RetryPolicy::default().max_attempts(1))
        .report_limit(10)
        .build()
        .unwrap();
    let (inc, first) = incident();
    let report = d.publish(&inc, &first).await.unwrap();

    assert_eq!(report.counts.total(), 50);
    assert_eq!((report.counts.sent, report.counts.failed), (49, 1));
    assert_eq!(report.deliveries.len(), 10);
    assert_eq!(report.omitted, 40);
    // The failure is kept although it came after the limit was reached.
    assert_eq!(report.failures().count(), 1);
    assert!(!report.all_sent());
    assert_eq!(report.sent_now(), 50, "49 and the primary");
    // The journal has every one.
    let records = tidings::journal::Journal::records(&*journal, inc.id());
    assert_eq!(records.await.unwrap().len(), 51);
}
