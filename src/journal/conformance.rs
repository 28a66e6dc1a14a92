//! The contract every [`Journal`] must keep, as scenarios to run against a
//! backend (feature `journal-conformance`). The crate runs them on the
//! memory, SQLite and PostgreSQL journals; run them on your own:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use tidings::journal::conformance::{self, Store};
//! use tidings::journal::{Journal, MemoryJournal};
//!
//! /// A memory journal "reopened" is the same value.
//! struct Memory(Arc<MemoryJournal>);
//!
//! #[async_trait]
//! impl Store for Memory {
//!     async fn open(&self) -> Arc<dyn Journal> {
//!         self.0.clone()
//!     }
//! }
//!
//! conformance::run_all(&Memory(Arc::new(MemoryJournal::new()))).await;
//! # }
//! ```
//!
//! Every scenario uses incident ids of its own (random), so they can share
//! one store, and one store can be shared by concurrent test runs. A
//! scenario that finds a broken rule panics with what it expected.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use url::Url;

use super::{
    Claim, ClaimOptions, DeliveryState, DoubtReason, Failure, Finish, Journal, JournalEntry,
    JournalError, LinkChoice, LinkSource, Owner,
};
use crate::audience::{Audience, Target};
use crate::channel::{ChannelError, IdempotencyKey, MessageRef, Part, Receipt};
use crate::incident::{Impact, Incident, IncidentId, Status, UpdateDraft};

/// Opens the journal under test. Called more than once, it must open the
/// same store again (a restart), so that what was written before is read.
#[async_trait]
pub trait Store: Send + Sync {
    /// The journal, opened (again).
    async fn open(&self) -> Arc<dyn Journal>;
}

/// Runs every scenario, one after the other.
pub async fn run_all(store: &dyn Store) {
    claims_are_exclusive(store).await;
    stale_tokens_are_refused_and_change_nothing(store).await;
    renewal_extends_the_lease(store).await;
    abandoned_claims_fall_into_doubt_after_the_lease(store).await;
    in_doubt_is_resent_only_when_asked(store).await;
    failures_are_retried_by_kind(store).await;
    sent_is_never_sent_again(store).await;
    release_gives_back_an_unsent_claim(store).await;
    threads_incidents_and_publications_survive_a_reopen(store).await;
    records_and_history_keep_their_order(store).await;
    the_longer_copy_of_an_incident_wins(store).await;
    publications_are_due_in_order(store).await;
    pruning_removes_closed_incidents(store).await;
}

/// `t0 + s` seconds, on a fixed day.
fn t(s: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap() + chrono::Duration::seconds(s)
}

fn incident_id(scenario: &str) -> IncidentId {
    IncidentId::new(format!("conf-{scenario}-{:016x}", fastrand::u64(..))).unwrap()
}

fn entry(incident: &IncidentId, channel: &str, target: &str) -> JournalEntry {
    let target = Target::new(target).unwrap();
    JournalEntry::new(
        IdempotencyKey::derive(incident, 1, channel, &target, 1),
        incident.clone(),
        1,
        channel,
        false,
        vec![Audience::Customers, Audience::Employees],
        target,
        Part::WHOLE,
        true,
        t(0),
    )
}

fn owner(name: &str) -> Owner {
    Owner::new(format!("{name}-{:08x}", fastrand::u32(..))).unwrap()
}

fn plain() -> ClaimOptions {
    ClaimOptions::new()
}

fn resend() -> ClaimOptions {
    ClaimOptions::new().resend_in_doubt(true)
}

async fn claimed(
    journal: &dyn Journal,
    e: &JournalEntry,
    o: &Owner,
    now: i64,
    until: i64,
    opts: ClaimOptions,
) -> super::ClaimToken {
    match journal.claim(e, o, t(now), t(until), opts).await.unwrap() {
        Claim::Claimed { token, .. } => token,
        other => panic!("expected a claim, got {other:?}"),
    }
}

fn failed(error: ChannelError) -> Finish {
    Finish::Failed {
        failure: Failure::Channel(error),
        attempts: 1,
    }
}

/// Many claimers race on one key: exactly one wins, the others see it in
/// flight.
pub async fn claims_are_exclusive(store: &dyn Store) {
    let journal = store.open().await;
    let inc = incident_id("race");
    let e = entry(&inc, "chat", "#race");
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (journal, e) = (journal.clone(), e.clone());
            let o = owner(&format!("racer{i}"));
            tokio::spawn(async move { journal.claim(&e, &o, t(0), t(60), resend()).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Claim::Claimed { token, resend } => {
                assert_eq!(token.fence(), 1);
                assert!(!resend);
                won += 1;
            }
            Claim::InFlight { lease_until, .. } => assert_eq!(lease_until, t(60)),
            other => panic!("a racer saw {other:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one claim among 16 racers");
}

/// A token from an earlier claim is refused by `finish` and `renew`, and
/// changes nothing.
pub async fn stale_tokens_are_refused_and_change_nothing(store: &dyn Store) {
    let journal = store.open().await;
    let inc = incident_id("stale");
    let e = entry(&inc, "chat", "#stale");
    let (a, b) = (owner("a"), owner("b"));
    let old = claimed(&*journal, &e, &a, 0, 60, resend()).await;
    // A's lease ran out; B takes over (the outcome of A's send is unknown).
    let new = match journal
        .claim(&e, &b, t(61), t(121), resend())
        .await
        .unwrap()
    {
        Claim::Claimed { token, resend } => {
            assert!(resend, "taking over an abandoned claim is a resend");
            token
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(new.fence(), old.fence() + 1);
    let before = journal.state(&e.key).await.unwrap();
    let late = journal
        .finish(&old, Finish::Sent(Receipt::new(t(62))), t(62))
        .await;
    assert!(
        matches!(late, Err(JournalError::Conflict { .. })),
        "{late:?}"
    );
    assert!(!late.unwrap_err().is_retryable());
    let renewed = journal.renew(&old, t(500)).await;
    assert!(
        matches!(renewed, Err(JournalError::Conflict { .. })),
        "{renewed:?}"
    );
    assert_eq!(
        journal.state(&e.key).await.unwrap(),
        before,
        "nothing changed"
    );
    journal
        .finish(&new, Finish::Sent(Receipt::new(t(63))), t(63))
        .await
        .unwrap();
    // Finishing twice with the same token is refused too.
    let again = journal
        .finish(&new, failed(ChannelError::transient("x")), t(64))
        .await;
    assert!(matches!(again, Err(JournalError::Conflict { .. })));
    assert!(matches!(
        journal.state(&e.key).await.unwrap(),
        Some(DeliveryState::Sent(_))
    ));
    // A token for a key never claimed is refused.
    let other = entry(&inc, "chat", "#never");
    let never = super::ClaimToken::new(other.key.clone(), a, 1);
    assert!(matches!(
        journal
            .finish(&never, Finish::Sent(Receipt::new(t(0))), t(0))
            .await,
        Err(JournalError::Conflict { .. })
    ));
}

/// A renewed claim stays in flight past its first lease.
pub async fn renewal_extends_the_lease(store: &dyn Store) {
    let journal = store.open().await;
    let inc = incident_id("renew");
    let e = entry(&inc, "chat", "#renew");
    let (a, b) = (owner("a"), owner("b"));
    let token = claimed(&*journal, &e, &a, 0, 60, plain()).await;
    journal.renew(&token, t(200)).await.unwrap();
    match journal
        .claim(&e, &b, t(100), t(160), resend())
        .await
        .unwrap()
    {
        Claim::InFlight { owner, lease_until } => {
            assert_eq!(owner, a);
            assert_eq!(lease_until, t(200));
        }
        other => panic!("a renewed claim must hold: {other:?}"),
    }
    journal
        .finish(&token, Finish::Sent(Receipt::new(t(150))), t(150))
        .await
        .unwrap();
}

/// An abandoned claim (its lease ran out) falls into doubt: reported when
/// the claimer may not resend, taken over when it may.
pub async fn abandoned_claims_fall_into_doubt_after_the_lease(store: &dyn Store) {
    let journal = store.open().await;
    let inc = incident_id("abandoned");
    let e = entry(&inc, "sms", "+15550100");
    let (a, b) = (owner("a"), owner("b"));
    claimed(&*journal, &e, &a, 0, 60, plain()).await;
    match journal.claim(&e, &b, t(59), t(119), plain()).await.unwrap() {
        Claim::InFlight { .. } => {}
        other => panic!("the lease has not run out: {other:?}"),
    }
    match journal.claim(&e, &b, t(61), t(121), plain()).await.unwrap() {
        Claim::InDoubt {
            reason: DoubtReason::Abandoned { owner },
        } => assert_eq!(owner, a),
        other => panic!("an abandoned claim is in doubt: {other:?}"),
    }
    assert!(matches!(
        journal.state(&e.key).await.unwrap(),
        Some(DeliveryState::InDoubt { .. })
    ));
    // Still in doubt for a claimer that may not resend.
    assert!(matches!(
        journal.claim(&e, &b, t(62), t(122), plain()).await.unwrap(),
        Claim::InDoubt { .. }
    ));
    // The same with a claimer that may resend: taken over.
    let e2 = entry(&inc, "webhook", "receiver");
    claimed(&*journal, &e2, &a, 0, 60, resend()).await;
    match journal
        .claim(&e2, &b, t(61), t(121), resend())
        .await
        .unwrap()
    {
        Claim::Claimed { token, resend } => {
            assert!(resend);
            assert_eq!(token.fence(), 2);
            assert_eq!(token.owner(), &b);
        }
        other => panic!("{other:?}"),
    }
}

/// A delivery recorded in doubt is resent only by a claimer that asks to.
pub async fn in_doubt_is_resent_only_when_asked(store: &dyn Store) {
    let journal = store.open().await;
    let inc = incident_id("doubt");
    let e = entry(&inc, "chat", "#doubt");
    let a = owner("a");
    let token = claimed(&*journal, &e, &a, 0, 60, plain()).await;
    let timeout = ChannelError::Timeout {
        after: std::time::Duration::from_secs(30),
    };
    journal
        .finish(
            &token,
            Finish::InDoubt {
                reason: DoubtReason::NoAnswer {
                    error: timeout.clone(),
                },
                attempts: 1,
            },
            t(30),
        )
        .await
        .unwrap();
    match journal.state(&e.key).await.unwrap() {
        Some(DeliveryState::InDoubt { reason, attempts }) => {
            assert_eq!(reason, DoubtReason::NoAnswer { error: timeout });
            assert_eq!(attempts, 1);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        journal
            .claim(&e, &a, t(31), t(91), plain().retry_permanent(true))
            .await
            .unwrap(),
        Claim::InDoubt { .. }
    ));
    let again = claimed(&*journal, &e, &a, 32, 92, resend()).await;
    assert_eq!(again.fence(), 2);
}

/// Retryable failures are claimed again; permanent ones only when asked;
/// attempts add up over claims.
pub async fn failures_are_retried_by_kind(store: &dyn Store) {
    let journal = store.open().await;
    let inc = incident_id("failures");
    let a = owner("a");
    let e = entry(&inc, "chat", "#flaky");
    let token = claimed(&*journal, &e, &a, 0, 60, plain()).await;
    journal
        .finish(&token, failed(ChannelError::transient("503")), t(1))
        .await
        .unwrap();
    let token = claimed(&*journal, &e, &a, 2, 62, plain()).await;
    journal
        .finish(&token, failed(ChannelError::transient("503")), t(3))
        .await
        .unwrap();
    match journal.state(&e.key).await.unwrap() {
        Some(DeliveryState::Failed { failure, attempts }) => {
            assert!(failure.is_retryable());
            assert_eq!(attempts, 2, "attempts add up over claims");
        }
        other => panic!("{other:?}"),
    }
    let e = entry(&inc, "chat", "#rejected");
    let token = claimed(&*journal, &e, &a, 0, 60, plain()).await;
    let rejected = ChannelError::rejected("401 bad token");
    journal
        .finish(&token, failed(rejected.clone()), t(1))
        .await
        .unwrap();
    match journal.claim(&e, &a, t(2), t(62), resend()).await.unwrap() {
        Claim::Failed { failure } => assert_eq!(failure, Failure::Channel(rejected)),
        other => panic!("a permanent failure is not retried unless asked: {other:?}"),
    }
    claimed(&*journal, &e, &a, 3, 63, plain().retry_permanent(true)).await;
}

/// A sent delivery answers every later claim with its receipt.
pub async fn sent_is_never_sent_again(store: &dyn Store) {
    let journal = store.open().await;
    let inc = incident_id("sent");
    let e = entry(&inc, "chat", "#sent");
    let a = owner("a");
    let token = claimed(&*journal, &e, &a, 0, 60, plain()).await;
    let receipt = Receipt::new(t(1))
        .with_message_ref(MessageRef::new("m1"))
        .with_status(200);
    journal
        .finish(&token, Finish::Sent(receipt.clone()), t(1))
        .await
        .unwrap();
    for opts in [plain(), resend(), plain().retry_permanent(true)] {
        assert_eq!(
            journal
                .claim(&e, &owner("b"), t(1000), t(1060), opts)
                .await
                .unwrap(),
            Claim::AlreadySent(receipt.clone())
        );
    }
}

/// `release` gives back a claim its owner holds (recorded as a retryable
/// cancellation), and nobody else's.
pub async fn release_gives_back_an_unsent_claim(store: &dyn Store) {
    let journal = store.open().await;
    let inc = incident_id("release");
    let e = entry(&inc, "chat", "#release");
    let (a, b) = (owner("a"), owner("b"));
    claimed(&*journal, &e, &a, 0, 60, plain()).await;
    assert!(!journal.release(&e.key, &b, t(1)).await.unwrap(), "not b's");
    assert!(journal.release(&e.key, &a, t(1)).await.unwrap());
    assert!(matches!(
        journal.state(&e.key).await.unwrap(),
        Some(DeliveryState::Failed {
            failure: Failure::Cancelled,
            ..
        })
    ));
    claimed(&*journal, &e, &b, 2, 62, plain()).await;
    let never = entry(&inc, "chat", "#never");
    assert!(!journal.release(&never.key, &a, t(3)).await.unwrap());
}

fn sample_incident(id: IncidentId, updates: usize, resolved: bool) -> Incident {
    let mut inc = Incident::new(id, "Payments delayed", Impact::Major, t(0)).unwrap();
    for i in 0..updates {
        let at = t(60 * (i as i64 + 1));
        inc.post(
            UpdateDraft::new(Status::Investigating, at, format!("update {i}"))
                .internal_notes("notes")
                .next_update_at(at + chrono::Duration::minutes(30)),
        )
        .unwrap();
    }
    if resolved {
        let at = t(60 * (updates as i64 + 1));
        inc.post(UpdateDraft::new(Status::Resolved, at, "fixed"))
            .unwrap();
    }
    inc
}

/// Threads, incidents, publications and records are read back after the
/// store is opened again.
pub async fn threads_incidents_and_publications_survive_a_reopen(store: &dyn Store) {
    let journal = store.open().await;
    let inc = sample_incident(incident_id("reopen"), 2, false);
    let id = inc.id().clone();
    let p = journal
        .record_update(&inc, 1, t(1), t(3600), t(90))
        .await
        .unwrap();
    assert_eq!(p.seq, 1);
    assert_eq!(p.link, None);
    assert_eq!(p.next_attempt_at, Some(t(90)));
    let link = LinkChoice::new(
        Url::parse("https://status.example.com/incidents/x").unwrap(),
        LinkSource::Primary,
    );
    assert_eq!(journal.choose_link(&id, 1, &link).await.unwrap(), link);
    let other = LinkChoice::new(
        Url::parse("https://status.example.com/canonical").unwrap(),
        LinkSource::Canonical {
            reason: "late".into(),
        },
    );
    assert_eq!(
        journal.choose_link(&id, 1, &other).await.unwrap(),
        link,
        "the first link wins"
    );
    let a = owner("a");
    let mut e = entry(&id, "chat", "#thread");
    for (n, seq) in [(1, 1), (2, 2)] {
        e.seq = seq;
        e.key = IdempotencyKey::derive(&id, seq, "chat", &e.target, 1);
        let token = claimed(&*journal, &e, &a, n, n + 60, plain()).await;
        let receipt = Receipt::new(t(n)).with_message_ref(MessageRef::new(format!("m{n}")));
        journal
            .finish(&token, Finish::Sent(receipt), t(n))
            .await
            .unwrap();
    }
    drop(journal);

    let journal = store.open().await;
    let thread = journal
        .thread(&id, "chat", &e.target)
        .await
        .unwrap()
        .expect("the thread survives");
    assert_eq!((thread.root.as_str(), thread.latest.as_str()), ("m1", "m2"));
    assert!(
        journal
            .thread(&id, "chat", &Target::new("#none").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(journal.incident(&id).await.unwrap().as_ref(), Some(&inc));
    let p = journal.publication(&id, 1).await.unwrap().unwrap();
    assert_eq!(p.link, Some(link));
    assert_eq!(p.deadline, t(3600));
    let records = journal.records(&id).await.unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0].entry.audiences,
        [Audience::Customers, Audience::Employees]
    );
    assert!(matches!(records[1].state, DeliveryState::Sent(_)));
    assert!(
        journal
            .open_incidents()
            .await
            .unwrap()
            .iter()
            .any(|i| i.id() == &id)
    );
}

/// Records come back in the order first claimed; history holds every
/// change, in order.
pub async fn records_and_history_keep_their_order(store: &dyn Store) {
    let journal = store.open().await;
    let inc = incident_id("order");
    let a = owner("a");
    let names = ["#e", "#a", "#d", "#b", "#c"];
    for (i, name) in names.iter().enumerate() {
        let e = entry(&inc, "chat", name);
        let token = claimed(&*journal, &e, &a, i as i64, 100, plain()).await;
        if i == 1 {
            journal
                .finish(&token, failed(ChannelError::transient("503")), t(10))
                .await
                .unwrap();
            let token = claimed(&*journal, &e, &a, 11, 100, plain()).await;
            journal
                .finish(&token, Finish::Sent(Receipt::new(t(12))), t(12))
                .await
                .unwrap();
        }
    }
    let records = journal.records(&inc).await.unwrap();
    let order: Vec<&str> = records.iter().map(|r| r.entry.target.as_str()).collect();
    assert_eq!(order, names);
    let history = journal.history(&inc).await.unwrap();
    let second = &records[1].entry.key;
    let mine: Vec<(&str, DateTime<Utc>)> = history
        .iter()
        .filter(|h| &h.key == second)
        .map(|h| (h.state.label(), h.at))
        .collect();
    assert_eq!(
        mine,
        [
            ("claimed", t(1)),
            ("failed", t(10)),
            ("claimed", t(11)),
            ("sent", t(12))
        ],
        "a failure that later succeeded keeps both"
    );
    assert_eq!(history.len(), names.len() + 3);
}

/// A copy of an incident with fewer updates (read before another worker
/// posted) never replaces the longer one.
pub async fn the_longer_copy_of_an_incident_wins(store: &dyn Store) {
    let journal = store.open().await;
    let id = incident_id("copies");
    let long = sample_incident(id.clone(), 3, false);
    let short = sample_incident(id.clone(), 2, false);
    journal.save_incident(&long).await.unwrap();
    journal
        .record_update(&short, 2, t(1), t(100), t(10))
        .await
        .unwrap();
    assert_eq!(journal.incident(&id).await.unwrap(), Some(long.clone()));
    let longer = sample_incident(id.clone(), 4, false);
    journal.save_incident(&longer).await.unwrap();
    assert_eq!(journal.incident(&id).await.unwrap(), Some(longer));
}

/// Publications are due at their next attempt, oldest first; a settled one
/// is never due; recording an update twice keeps the first publication.
pub async fn publications_are_due_in_order(store: &dyn Store) {
    let journal = store.open().await;
    // Times of their own, far from other scenarios' (which share the store).
    let base = 10_000_000;
    let inc = sample_incident(incident_id("due"), 3, false);
    let id = inc.id().clone();
    for (seq, due) in [(1, 30), (2, 10), (3, 20)] {
        let p = journal
            .record_update(&inc, seq, t(base), t(base + 3600), t(base + due))
            .await
            .unwrap();
        assert_eq!(p.passes, 0);
    }
    let again = journal
        .record_update(&inc, 2, t(base + 5), t(base + 9999), t(base + 999))
        .await
        .unwrap();
    assert_eq!(
        again.next_attempt_at,
        Some(t(base + 10)),
        "the first publication stays"
    );
    let mine = |ps: Vec<super::Publication>| -> Vec<u32> {
        ps.into_iter()
            .filter(|p| p.incident == id)
            .map(|p| p.seq)
            .collect()
    };
    assert_eq!(
        mine(
            journal
                .due_publications(t(base + 15), 100_000)
                .await
                .unwrap()
        ),
        [2]
    );
    assert_eq!(
        mine(
            journal
                .due_publications(t(base + 40), 100_000)
                .await
                .unwrap()
        ),
        [2, 3, 1]
    );
    journal.end_pass(&id, 2, None).await.unwrap();
    journal.end_pass(&id, 3, Some(t(base + 100))).await.unwrap();
    assert_eq!(
        mine(
            journal
                .due_publications(t(base + 40), 100_000)
                .await
                .unwrap()
        ),
        [1]
    );
    let p = journal.publication(&id, 3).await.unwrap().unwrap();
    assert_eq!((p.passes, p.next_attempt_at), (1, Some(t(base + 100))));
    assert!(
        journal
            .end_pass(&incident_id("none"), 1, None)
            .await
            .is_err()
    );
}

/// Pruning removes incidents closed before the cut-off, with everything
/// about them, and keeps open and recent ones.
pub async fn pruning_removes_closed_incidents(store: &dyn Store) {
    let journal = store.open().await;
    let old = sample_incident(incident_id("pruned"), 1, true);
    let open = sample_incident(incident_id("kept"), 1, false);
    let a = owner("a");
    for inc in [&old, &open] {
        journal
            .record_update(inc, 1, t(0), t(100), t(10))
            .await
            .unwrap();
        let mut e = entry(inc.id(), "chat", "#p");
        e.key = IdempotencyKey::derive(inc.id(), 1, "chat", &e.target, 1);
        let token = claimed(&*journal, &e, &a, 1, 61, plain()).await;
        let receipt = Receipt::new(t(2)).with_message_ref(MessageRef::new("m"));
        journal
            .finish(&token, Finish::Sent(receipt), t(2))
            .await
            .unwrap();
    }
    // The resolution of `old` is at t(120).
    let pruned = journal.prune(t(121)).await.unwrap();
    assert!(
        pruned.incidents >= 1 && pruned.deliveries >= 1,
        "{pruned:?}"
    );
    assert_eq!(journal.incident(old.id()).await.unwrap(), None);
    assert!(journal.records(old.id()).await.unwrap().is_empty());
    assert!(journal.history(old.id()).await.unwrap().is_empty());
    assert!(journal.publication(old.id(), 1).await.unwrap().is_none());
    assert!(
        journal
            .thread(old.id(), "chat", &Target::new("#p").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(journal.incident(open.id()).await.unwrap().is_some());
    assert_eq!(journal.records(open.id()).await.unwrap().len(), 1);
}
