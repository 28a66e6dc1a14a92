//! What every backend shares: the claim, renew, finish and release rules
//! applied to a stored row.

use chrono::{DateTime, Utc};

use super::{
    Claim, ClaimOptions, ClaimToken, Decision, DeliveryState, Failure, Finish, JournalError, Owner,
    decide, holds,
};

/// A stored delivery row, as the claim and finish rules need it.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) state: DeliveryState,
    pub(crate) fence: u64,
    pub(crate) attempts: u32,
}

/// What a claim writes, and answers.
#[derive(Debug)]
pub(crate) struct ClaimWrite {
    pub(crate) answer: Claim,
    /// The row's new state, fence and attempts; `None`: nothing to write.
    pub(crate) row: Option<Row>,
    /// The transitions to record, in order.
    pub(crate) transitions: Vec<DeliveryState>,
}

/// Applies the claim rule ([`decide`]) to a stored row.
pub(crate) fn claim(
    key: &crate::channel::IdempotencyKey,
    current: Option<&Row>,
    owner: &Owner,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    options: ClaimOptions,
) -> ClaimWrite {
    let attempts = current.map_or(0, |r| r.attempts);
    match decide(current.map(|r| &r.state), now, options) {
        Decision::Answer(answer) => ClaimWrite {
            answer,
            row: None,
            transitions: Vec::new(),
        },
        Decision::MarkInDoubt(reason) => {
            let state = DeliveryState::InDoubt {
                reason: reason.clone(),
                attempts,
            };
            ClaimWrite {
                answer: Claim::InDoubt { reason },
                row: Some(Row {
                    state: state.clone(),
                    fence: current.map_or(0, |r| r.fence),
                    attempts,
                }),
                transitions: vec![state],
            }
        }
        Decision::Take { resend, doubt } => {
            let fence = current.map_or(0, |r| r.fence) + 1;
            let mut transitions = Vec::with_capacity(2);
            if let Some(reason) = doubt {
                transitions.push(DeliveryState::InDoubt { reason, attempts });
            }
            let state = DeliveryState::Claimed {
                owner: owner.clone(),
                fence,
                lease_until,
            };
            transitions.push(state.clone());
            ClaimWrite {
                answer: Claim::Claimed {
                    token: ClaimToken::new(key.clone(), owner.clone(), fence),
                    resend,
                },
                row: Some(Row {
                    state,
                    fence,
                    attempts,
                }),
                transitions,
            }
        }
    }
}

/// Applies a finish to a stored row: the new row, or a conflict if `token`
/// no longer holds the claim.
pub(crate) fn finish(
    current: Option<&Row>,
    token: &ClaimToken,
    finish: Finish,
) -> Result<Row, JournalError> {
    let Some(row) = current.filter(|r| holds(Some(&r.state), token)) else {
        return Err(JournalError::Conflict {
            key: token.key().clone(),
        });
    };
    let state = finish.into_state(row.attempts);
    Ok(Row {
        attempts: state.attempts().unwrap_or(row.attempts),
        fence: row.fence,
        state,
    })
}

/// Applies a renewal: the new row, or a conflict.
pub(crate) fn renew(
    current: Option<&Row>,
    token: &ClaimToken,
    until: DateTime<Utc>,
) -> Result<Row, JournalError> {
    let Some(row) = current.filter(|r| holds(Some(&r.state), token)) else {
        return Err(JournalError::Conflict {
            key: token.key().clone(),
        });
    };
    let mut row = row.clone();
    if let DeliveryState::Claimed { lease_until, .. } = &mut row.state {
        *lease_until = until;
    }
    Ok(row)
}

/// Applies a release: the new row if `owner` held the claim.
pub(crate) fn release(current: Option<&Row>, owner: &Owner) -> Option<Row> {
    let row = current?;
    match &row.state {
        DeliveryState::Claimed { owner: o, .. } if o == owner => Some(Row {
            state: DeliveryState::Failed {
                failure: Failure::Cancelled,
                attempts: row.attempts,
            },
            fence: row.fence,
            attempts: row.attempts,
        }),
        _ => None,
    }
}
