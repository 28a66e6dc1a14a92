//! A delivery's states, and the rule that moves between them.
//!
//! ```text
//!              claim                      finish(Sent)
//!   (none) ───────────▶ Claimed ─────────────────────────▶ Sent
//!                        │  │ │  finish(Failed)
//!     claim (retryable)  │  │ └──────────────────────────▶ Failed ──┐
//!   ┌────────────────────┼──┘    finish(InDoubt), or the          │
//!   │                    │       lease ran out (owner gone)        │
//!   │                    └─────────────────────────────────▶ InDoubt
//!   └──────────────────────────────────────────────────────────────┘
//! ```
//!
//! Every backend applies the same rule ([`decide`]), so they agree on what a
//! claim returns in every state.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::JournalError;
use crate::channel::{ChannelError, IdempotencyKey, Receipt};
use crate::render::FitError;

/// Who holds a claim: one dispatcher (one process, or one replica). Claims
/// carry their owner so that a stale owner can be told apart from the live
/// one.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Owner(Arc<str>);

impl Owner {
    /// An owner named `name`: 1-128 printable ASCII characters, no spaces.
    pub fn new(name: impl Into<String>) -> Result<Self, JournalError> {
        let name = name.into();
        if name.is_empty() || name.len() > 128 || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(JournalError::Invalid {
                reason: format!("owner name {name:?}: use 1-128 printable ASCII characters"),
            });
        }
        Ok(Self(name.into()))
    }

    /// A fresh owner for this process: `tdg-<pid>-<random>`, unique enough
    /// that two processes (or two dispatchers in one) never share it.
    pub fn unique() -> Self {
        Self(format!("tdg-{}-{:016x}", std::process::id(), fastrand::u64(..)).into())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Owner {
    type Error = JournalError;
    fn try_from(s: String) -> Result<Self, JournalError> {
        Owner::new(s)
    }
}

impl From<Owner> for String {
    fn from(o: Owner) -> String {
        o.0.to_string()
    }
}

/// Proof of a claim: the delivery, its owner, and the fencing counter the
/// claim was given. Every claim of a delivery gets a higher counter, so a
/// token from an earlier claim is refused ([`JournalError::Conflict`]) and
/// changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClaimToken {
    key: IdempotencyKey,
    owner: Owner,
    fence: u64,
}

impl ClaimToken {
    /// A token; journals make them when they grant a claim.
    pub fn new(key: IdempotencyKey, owner: Owner, fence: u64) -> Self {
        Self { key, owner, fence }
    }
    /// The delivery claimed.
    pub fn key(&self) -> &IdempotencyKey {
        &self.key
    }
    /// Who holds it.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }
    /// The fencing counter: 1 for the first claim, one more for each later.
    pub fn fence(&self) -> u64 {
        self.fence
    }
}

/// Why a delivery failed. Stored in the journal as it is, so a restarted
/// process, the review and the report all see the same typed reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Failure {
    /// The channel failed (after retries, if the error was retryable).
    #[error(transparent)]
    Channel(ChannelError),
    /// The message cannot fit the channel's limit with its link.
    #[error("the link and next-update line alone measure {needed} {unit}, over the limit of {max}")]
    DoesNotFit {
        /// What the smallest possible message measures.
        needed: usize,
        /// The limit.
        max: usize,
        /// How it was counted.
        unit: String,
    },
    /// The journal could not record the delivery, so it was not sent.
    #[error(transparent)]
    Journal(JournalError),
    /// An earlier part of the same split message failed; later parts were held
    /// back so the thread does not arrive out of order.
    #[error("an earlier part of this message failed")]
    EarlierPartFailed,
    /// The channel's circuit breaker is open after repeated failures; the
    /// delivery was not attempted.
    #[error("channel {channel:?} is failing; circuit open, not attempted")]
    CircuitOpen {
        /// The channel's registered name.
        channel: String,
    },
    /// The channel panicked while sending (a bug in the channel). Not retried;
    /// the channel's other deliveries and every other channel go on.
    #[error("channel {channel:?} panicked while sending: {message}")]
    Panicked {
        /// The channel's registered name.
        channel: String,
        /// The panic's message, if it was a string.
        message: String,
    },
    /// The publish was cancelled before the request was sent; nothing reached
    /// the provider. Retried by the outbox.
    #[error("the publish was cancelled before this delivery was sent")]
    Cancelled,
    /// The delivery was still not sent when its deadline passed; it is not
    /// tried again (the news would be stale).
    #[error("not delivered before its deadline {deadline}")]
    DeadlinePassed {
        /// The deadline.
        deadline: DateTime<Utc>,
    },
}

impl Failure {
    /// Whether trying again (the outbox, or publishing again) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Failure::Channel(e) => e.is_retryable(),
            Failure::Journal(e) => e.is_retryable(),
            Failure::EarlierPartFailed | Failure::CircuitOpen { .. } | Failure::Cancelled => true,
            Failure::DoesNotFit { .. }
            | Failure::Panicked { .. }
            | Failure::DeadlinePassed { .. } => false,
        }
    }

    /// A short label of bounded cardinality, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Channel(e) => e.kind().as_str(),
            Failure::DoesNotFit { .. } => "does_not_fit",
            Failure::Journal(_) => "journal",
            Failure::EarlierPartFailed => "earlier_part_failed",
            Failure::CircuitOpen { .. } => "circuit_open",
            Failure::Panicked { .. } => "panicked",
            Failure::Cancelled => "cancelled",
            Failure::DeadlinePassed { .. } => "deadline_passed",
        }
    }
}

impl From<ChannelError> for Failure {
    fn from(e: ChannelError) -> Self {
        Failure::Channel(e)
    }
}

impl From<JournalError> for Failure {
    fn from(e: JournalError) -> Self {
        Failure::Journal(e)
    }
}

impl From<&FitError> for Failure {
    fn from(e: &FitError) -> Self {
        match e {
            FitError::DoesNotFit { needed, max, unit } => Failure::DoesNotFit {
                needed: *needed,
                max: *max,
                unit: format!("{unit:?}"),
            },
        }
    }
}

/// Why the outcome of a send is not known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DoubtReason {
    /// The publish was dropped (cancelled) while the request was in flight.
    Cancelled,
    /// The claim's owner stopped (crashed, was killed) without recording an
    /// outcome, and its lease ran out.
    Abandoned {
        /// The owner that held the claim.
        owner: Owner,
    },
    /// The request may have reached the provider, but no answer came: a
    /// timeout or a connection lost after the request was written.
    NoAnswer {
        /// What the channel (or the dispatcher's timeout) reported.
        error: ChannelError,
    },
}

impl fmt::Display for DoubtReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DoubtReason::Cancelled => f.write_str("the publish was cancelled mid-send"),
            DoubtReason::Abandoned { owner } => {
                write!(f, "worker {owner} stopped mid-send (its claim ran out)")
            }
            DoubtReason::NoAnswer { error } => write!(f, "no answer: {error}"),
        }
    }
}

/// A delivery's latest state in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryState {
    /// Claimed by `owner` until `lease_until` (renewed while the owner is
    /// sending). After the lease, the owner is presumed gone and the outcome
    /// unknown.
    Claimed {
        /// Who holds the claim.
        owner: Owner,
        /// The claim's fencing counter.
        fence: u64,
        /// When the lease ends.
        lease_until: DateTime<Utc>,
    },
    /// Sent; the provider accepted it.
    Sent(Receipt),
    /// Not sent.
    Failed {
        /// Why.
        failure: Failure,
        /// How many times the channel was called, over every claim.
        attempts: u32,
    },
    /// Sent or not: nobody knows. Resent (with the same idempotency key) only
    /// where the channel deduplicates or the route asks for it; otherwise
    /// reported.
    InDoubt {
        /// Why the outcome is unknown.
        reason: DoubtReason,
        /// How many times the channel was called, over every claim.
        attempts: u32,
    },
}

impl DeliveryState {
    /// A short label: `claimed`, `sent`, `failed` or `in_doubt`.
    pub fn label(&self) -> &'static str {
        match self {
            DeliveryState::Claimed { .. } => "claimed",
            DeliveryState::Sent(_) => "sent",
            DeliveryState::Failed { .. } => "failed",
            DeliveryState::InDoubt { .. } => "in_doubt",
        }
    }

    /// How many times the channel was called, where the state records it.
    pub fn attempts(&self) -> Option<u32> {
        match self {
            DeliveryState::Failed { attempts, .. } | DeliveryState::InDoubt { attempts, .. } => {
                Some(*attempts)
            }
            _ => None,
        }
    }
}

/// The outcome a claim holder records with [`Journal::finish`](super::Journal::finish).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Finish {
    /// The provider accepted it.
    Sent(Receipt),
    /// It was not sent, for `failure`.
    Failed {
        /// Why.
        failure: Failure,
        /// Channel calls made under this claim (0 if it was never attempted).
        attempts: u32,
    },
    /// Nobody knows whether it was sent.
    InDoubt {
        /// Why.
        reason: DoubtReason,
        /// Channel calls made under this claim.
        attempts: u32,
    },
}

impl Finish {
    /// The state this outcome leaves, given the attempts made before this
    /// claim.
    pub fn into_state(self, earlier_attempts: u32) -> DeliveryState {
        match self {
            Finish::Sent(r) => DeliveryState::Sent(r),
            Finish::Failed { failure, attempts } => DeliveryState::Failed {
                failure,
                attempts: earlier_attempts.saturating_add(attempts),
            },
            Finish::InDoubt { reason, attempts } => DeliveryState::InDoubt {
                reason,
                attempts: earlier_attempts.saturating_add(attempts),
            },
        }
    }
}

/// What a claim may take over, besides new deliveries and retryable
/// failures (which are always claimable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ClaimOptions {
    /// Claim deliveries in doubt (and abandoned claims) to send them again
    /// with the same idempotency key: for channels whose provider
    /// deduplicates, or routes that accept a duplicate over a loss.
    pub resend_in_doubt: bool,
    /// Claim deliveries that failed for good (a rejected token, an invalid
    /// target) to try them again: an explicit publish after fixing the
    /// configuration. The outbox never does.
    pub retry_permanent: bool,
}

impl ClaimOptions {
    /// Claim only what is new or failed-retryable.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`ClaimOptions::resend_in_doubt`].
    #[must_use]
    pub fn resend_in_doubt(mut self, yes: bool) -> Self {
        self.resend_in_doubt = yes;
        self
    }
    /// Sets [`ClaimOptions::retry_permanent`].
    #[must_use]
    pub fn retry_permanent(mut self, yes: bool) -> Self {
        self.retry_permanent = yes;
        self
    }
}

/// What [`Journal::claim`](super::Journal::claim) found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The caller now owns the send, until the lease ends (renew it while
    /// sending). `resend` is true when an earlier attempt's outcome is
    /// unknown (the delivery was in doubt, or its earlier claim was
    /// abandoned): the caller sends again with the same key.
    Claimed {
        /// Proof of the claim, for `renew` and `finish`.
        token: ClaimToken,
        /// Whether this is a resend after doubt.
        resend: bool,
    },
    /// It was sent before; here is the receipt. Send nothing.
    AlreadySent(Receipt),
    /// Someone else holds a live claim on it. Send nothing.
    InFlight {
        /// Who.
        owner: Owner,
        /// When their lease ends.
        lease_until: DateTime<Utc>,
    },
    /// Its outcome is unknown and the options do not allow a resend. Send
    /// nothing; report it.
    InDoubt {
        /// Why.
        reason: DoubtReason,
    },
    /// It failed for good and the options do not allow a retry.
    Failed {
        /// Why.
        failure: Failure,
    },
}

/// What a backend does with a claim, from the delivery's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Claim it (insert, or take over). With `doubt`, the row was an expired
    /// claim: record that it fell into doubt before taking it over.
    Take {
        /// Whether the claimer resends after doubt.
        resend: bool,
        /// The doubt to record first (an abandoned claim), if any.
        doubt: Option<DoubtReason>,
    },
    /// An abandoned claim that may not be resent: record it in doubt and
    /// answer [`Claim::InDoubt`].
    MarkInDoubt(DoubtReason),
    /// Change nothing; answer this.
    Answer(Claim),
}

/// The one claim rule every backend applies: what to do with a claim at
/// `now` on a delivery in state `current` (`None`: never claimed).
pub fn decide(current: Option<&DeliveryState>, now: DateTime<Utc>, opts: ClaimOptions) -> Decision {
    let take = Decision::Take {
        resend: false,
        doubt: None,
    };
    match current {
        None => take,
        Some(DeliveryState::Sent(receipt)) => Decision::Answer(Claim::AlreadySent(receipt.clone())),
        Some(DeliveryState::Claimed {
            owner, lease_until, ..
        }) if *lease_until > now => Decision::Answer(Claim::InFlight {
            owner: owner.clone(),
            lease_until: *lease_until,
        }),
        Some(DeliveryState::Claimed { owner, .. }) => {
            let reason = DoubtReason::Abandoned {
                owner: owner.clone(),
            };
            if opts.resend_in_doubt {
                Decision::Take {
                    resend: true,
                    doubt: Some(reason),
                }
            } else {
                Decision::MarkInDoubt(reason)
            }
        }
        Some(DeliveryState::Failed { failure, .. }) => {
            if failure.is_retryable() || opts.retry_permanent {
                take
            } else {
                Decision::Answer(Claim::Failed {
                    failure: failure.clone(),
                })
            }
        }
        Some(DeliveryState::InDoubt { reason, .. }) => {
            if opts.resend_in_doubt {
                Decision::Take {
                    resend: true,
                    doubt: None,
                }
            } else {
                Decision::Answer(Claim::InDoubt {
                    reason: reason.clone(),
                })
            }
        }
    }
}

/// Whether `token` still holds the claim on a delivery in state `current`.
pub fn holds(current: Option<&DeliveryState>, token: &ClaimToken) -> bool {
    matches!(
        current,
        Some(DeliveryState::Claimed { owner, fence, .. })
            if owner == token.owner() && *fence == token.fence()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(s)
    }

    #[test]
    fn the_rule_in_every_state() {
        let owner = Owner::new("a").unwrap();
        let plain = ClaimOptions::new();
        let resend = ClaimOptions::new().resend_in_doubt(true);
        let claimed = DeliveryState::Claimed {
            owner: owner.clone(),
            fence: 3,
            lease_until: t(60),
        };
        assert!(matches!(
            decide(None, t(0), plain),
            Decision::Take {
                resend: false,
                doubt: None
            }
        ));
        assert!(matches!(
            decide(Some(&claimed), t(59), resend),
            Decision::Answer(Claim::InFlight { .. })
        ));
        assert_eq!(
            decide(Some(&claimed), t(60), plain),
            Decision::MarkInDoubt(DoubtReason::Abandoned {
                owner: owner.clone()
            })
        );
        assert!(matches!(
            decide(Some(&claimed), t(61), resend),
            Decision::Take {
                resend: true,
                doubt: Some(_)
            }
        ));
        let transient = DeliveryState::Failed {
            failure: Failure::Channel(ChannelError::transient("503")),
            attempts: 2,
        };
        assert!(matches!(
            decide(Some(&transient), t(0), plain),
            Decision::Take { .. }
        ));
        let rejected = DeliveryState::Failed {
            failure: Failure::Channel(ChannelError::rejected("401")),
            attempts: 1,
        };
        assert!(matches!(
            decide(Some(&rejected), t(0), plain),
            Decision::Answer(Claim::Failed { .. })
        ));
        assert!(matches!(
            decide(Some(&rejected), t(0), plain.retry_permanent(true)),
            Decision::Take { .. }
        ));
        let doubt = DeliveryState::InDoubt {
            reason: DoubtReason::Cancelled,
            attempts: 1,
        };
        assert!(matches!(
            decide(Some(&doubt), t(0), plain),
            Decision::Answer(Claim::InDoubt { .. })
        ));
        assert!(matches!(
            decide(Some(&doubt), t(0), resend),
            Decision::Take {
                resend: true,
                doubt: None
            }
        ));
        let token = ClaimToken::new(IdempotencyKey::from_raw("k"), owner.clone(), 3);
        assert!(holds(Some(&claimed), &token));
        assert!(!holds(
            Some(&claimed),
            &ClaimToken::new(token.key().clone(), owner, 2)
        ));
        assert!(!holds(Some(&doubt), &token));
        assert!(!holds(None, &token));
    }

    #[test]
    fn states_round_trip_through_serde() {
        let states = [
            DeliveryState::Failed {
                failure: Failure::Channel(ChannelError::RateLimited {
                    retry_after: Some(std::time::Duration::from_millis(1500)),
                }),
                attempts: 4,
            },
            DeliveryState::InDoubt {
                reason: DoubtReason::NoAnswer {
                    error: ChannelError::Timeout {
                        after: std::time::Duration::from_secs(30),
                    },
                },
                attempts: 1,
            },
            DeliveryState::Failed {
                failure: Failure::DeadlinePassed { deadline: t(5) },
                attempts: 0,
            },
        ];
        for s in states {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(
                serde_json::from_str::<DeliveryState>(&json).unwrap(),
                s,
                "{json}"
            );
        }
        assert!(Owner::new("has space").is_err());
        assert!(Owner::new("").is_err());
        assert_ne!(Owner::unique(), Owner::unique());
    }
}
