//! Keeping claims honest: a claim renewed while its send runs, and recorded
//! as it really ended when the publish is dropped mid-way.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{Either, select};

use crate::channel::IdempotencyKey;
use crate::clock;
use crate::journal::{ClaimToken, DoubtReason, Finish, Journal, Owner};

/// Runs `send` while renewing `token`'s lease every third of `lease`, so a
/// slow send never outlives its claim. If the claim is lost (a renewal is
/// refused), the send still runs to its end: it cannot be called back, and
/// its outcome is what the caller records (or fails to).
pub(crate) async fn renew_while<T>(
    journal: &Arc<dyn Journal>,
    token: &ClaimToken,
    lease: Duration,
    send: impl Future<Output = T>,
) -> T {
    let every = (lease / 3).max(Duration::from_millis(1));
    let renew = async {
        loop {
            tokio::time::sleep(every).await;
            let until = clock::now() + crate::dispatch::dispatcher::chrono_duration(lease);
            match journal.renew(token, until).await {
                Ok(()) => {}
                Err(e) if e.is_conflict() => {
                    tracing::error!(key = %token.key(), "lost the claim while sending: {e}");
                    return;
                }
                Err(e) => tracing::warn!(key = %token.key(), error = %e, "lease renewal failed"),
            }
        }
    };
    let send = pin!(send);
    let renew = pin!(renew);
    match select(send, renew).await {
        Either::Left((out, _)) => out,
        Either::Right(((), send)) => send.await,
    }
}

/// Where a delivery stood when its publish was dropped.
enum Phase {
    /// Asking the journal for the claim: nothing was sent.
    Claiming { key: IdempotencyKey, owner: Owner },
    /// The request may be on its way: the outcome is unknown.
    Sending(ClaimToken),
    /// Recorded; nothing to do.
    Done,
}

/// Records a delivery's claim as it really ended if the publish future is
/// dropped (a caller's timeout, a cancelled task): released as failed
/// (retryable) if the send had not started, in doubt if it had. The record
/// is written by a task spawned on the current runtime; without one (or if
/// the runtime is shutting down) the claim's lease runs out instead, with
/// the same result.
pub(crate) struct ClaimGuard {
    journal: Arc<dyn Journal>,
    phase: Phase,
}

impl ClaimGuard {
    pub(crate) fn claiming(journal: Arc<dyn Journal>, key: IdempotencyKey, owner: Owner) -> Self {
        Self {
            journal,
            phase: Phase::Claiming { key, owner },
        }
    }

    pub(crate) fn sending(&mut self, token: ClaimToken) {
        self.phase = Phase::Sending(token);
    }

    pub(crate) fn disarm(&mut self) {
        self.phase = Phase::Done;
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        if matches!(phase, Phase::Done) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let journal = self.journal.clone();
        runtime.spawn(async move {
            let now = clock::now();
            let result = match &phase {
                Phase::Claiming { key, owner } => journal.release(key, owner, now).await.map(|_| ()),
                Phase::Sending(token) => {
                    let finish = Finish::InDoubt {
                        reason: DoubtReason::Cancelled,
                        attempts: 1,
                    };
                    journal.finish(token, finish, now).await
                }
                Phase::Done => Ok(()),
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "could not record a delivery cancelled mid-way; its claim will run out");
            }
        });
    }
}
