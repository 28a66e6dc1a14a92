//! The PostgreSQL journal (see [`PostgresJournal`]).

mod batch;
mod schema;

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;

use self::batch::Op;
use super::sql::{count, from_json, from_micros, micros, to_json};
use super::{
    Claim, ClaimOptions, ClaimToken, DeliveryState, Finish, Journal, JournalEntry, JournalError,
    JournalRecord, LinkChoice, Owner, Pruned, Publication, Transition, closed_at,
};
use crate::audience::Target;
use crate::channel::{IdempotencyKey, MessageRef, Thread};
use crate::incident::{Incident, IncidentId};

/// How a [`PostgresJournal`] connects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct PostgresOptions {
    /// Most connections open at once (default 8).
    pub pool_size: usize,
    /// The longest any one database call (or group commit) may take before
    /// it fails as unavailable (default 30 s).
    pub timeout: Duration,
    /// The longest a connection attempt may take (default 10 s).
    pub connect_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            pool_size: 8,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl PostgresOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`PostgresOptions::pool_size`] (at least 1).
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n.max(1);
        self
    }
    /// Sets [`PostgresOptions::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// Sets [`PostgresOptions::connect_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// The PostgreSQL journal: several replicas of a service share one database
/// and split the work; every claim is atomic across them.
///
/// Claims, renewals, finishes and releases are committed in groups (every
/// one queued at a moment, in one transaction with a few set-based
/// statements), so a fan-out of thousands costs a few round trips per group,
/// not per delivery. Each writer takes a transaction-scoped advisory lock per
/// delivery key, in one global order, before it reads and writes the row:
/// two replicas never both win a claim, and never deadlock. The claim rule is
/// the one every backend shares ([`decide`](super::decide)).
///
/// Tables are prefixed `tidings_`; the schema is migrated on connect (under
/// an advisory lock, so replicas starting together migrate once) and carries
/// its version. Connections come from a pool; every database call has a
/// timeout.
///
/// TLS is not built in yet: connect over a trusted network or a local
/// socket (`sslmode=require` is refused).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use tidings::journal::PostgresJournal;
///
/// let journal = PostgresJournal::connect("postgres://tidings@db.internal/tidings").await?;
/// # let _ = journal;
/// # Ok(())
/// # }
/// ```
pub struct PostgresJournal {
    pool: Pool,
    batch: mpsc::UnboundedSender<Op>,
    timeout: Duration,
    /// Where it connects, without credentials (for `Debug` and errors).
    label: String,
}

impl fmt::Debug for PostgresJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresJournal")
            .field("database", &self.label)
            .finish_non_exhaustive()
    }
}

/// A database error, without credentials (tokio-postgres never puts the
/// password in its errors).
pub(super) fn db(e: tokio_postgres::Error) -> JournalError {
    JournalError::unavailable(format!("PostgreSQL: {e}"))
}

/// Runs `f` within `timeout`.
pub(super) async fn within<T>(
    timeout: Duration,
    f: impl Future<Output = Result<T, JournalError>>,
) -> Result<T, JournalError> {
    tokio::time::timeout(timeout, f).await.unwrap_or_else(|_| {
        Err(JournalError::unavailable(format!(
            "PostgreSQL did not answer within {timeout:?}"
        )))
    })
}

impl PostgresJournal {
    /// Connects with the default options to the database at `url`
    /// (`postgres://user:password@host:port/database`, or libpq's
    /// `key=value` form), migrating its schema to this version.
    pub async fn connect(url: &str) -> Result<Self, JournalError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects to the database at `url`, migrating its schema to this
    /// version. A database written by a newer version is refused
    /// ([`JournalError::SchemaMismatch`]).
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, JournalError> {
        let mut config =
            tokio_postgres::Config::from_str(url).map_err(|e| JournalError::Invalid {
                reason: format!("the PostgreSQL URL is not valid: {e}"),
            })?;
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(JournalError::Invalid {
                reason: "sslmode=require: TLS to PostgreSQL is not built in yet; connect over a trusted network".into(),
            });
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        let label = format!(
            "{}/{}",
            config
                .get_hosts()
                .iter()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    #[cfg(unix)]
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            config.get_dbname().unwrap_or("")
        );
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .build()
            .map_err(|e| JournalError::Invalid {
                reason: format!("PostgreSQL pool: {e}"),
            })?;
        within(options.timeout, async {
            let mut client = pool.get().await.map_err(|e| {
                JournalError::unavailable(format!("cannot connect to PostgreSQL at {label}: {e}"))
            })?;
            schema::migrate(&mut client).await
        })
        .await?;
        Ok(Self {
            batch: batch::spawn(pool.clone(), options.timeout),
            pool,
            timeout: options.timeout,
            label,
        })
    }

    /// The schema version this build writes.
    pub const SCHEMA_VERSION: i64 = schema::VERSION;

    async fn client(&self) -> Result<deadpool_postgres::Object, JournalError> {
        self.pool.get().await.map_err(|e| {
            JournalError::unavailable(format!("PostgreSQL pool ({}): {e}", self.label))
        })
    }

    async fn queue<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, JournalError>>) -> Op,
    ) -> Result<T, JournalError> {
        let (tx, rx) = oneshot::channel();
        self.batch.send(op(tx)).map_err(|_| {
            JournalError::unavailable("the PostgreSQL journal's writer has stopped")
        })?;
        rx.await
            .map_err(|_| JournalError::unavailable("the PostgreSQL journal's writer has stopped"))?
    }
}

const PUBLICATION_COLUMNS: &str =
    "incident, seq, link, created_at, deadline, next_attempt_at, passes";

fn publication(r: &tokio_postgres::Row) -> Result<Publication, JournalError> {
    let link: Option<String> = r.get(2);
    let next: Option<i64> = r.get(5);
    Ok(Publication {
        incident: IncidentId::new(r.get::<_, String>(0)).map_err(JournalError::corrupt)?,
        seq: u32::try_from(r.get::<_, i64>(1)).map_err(JournalError::corrupt)?,
        link: link.as_deref().map(from_json).transpose()?,
        created_at: from_micros(r.get(3))?,
        deadline: from_micros(r.get(4))?,
        next_attempt_at: next.map(from_micros).transpose()?,
        passes: count(r.get(6)),
    })
}

async fn store_incident(
    client: &impl deadpool_postgres::GenericClient,
    incident: &Incident,
) -> Result<(), JournalError> {
    let closed = closed_at(incident).map(micros);
    let updates = incident.updates().len() as i64;
    client
        .execute(
            "INSERT INTO tidings_incidents (id, body, updates, closed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, updates = EXCLUDED.updates, \
               closed_at = EXCLUDED.closed_at \
             WHERE EXCLUDED.updates >= tidings_incidents.updates",
            &[
                &incident.id().as_str(),
                &to_json(incident)?,
                &updates,
                &closed,
            ],
        )
        .await
        .map_err(db)?;
    Ok(())
}

async fn read_publication(
    client: &impl deadpool_postgres::GenericClient,
    incident: &str,
    seq: u32,
) -> Result<Option<Publication>, JournalError> {
    let seq = i64::from(seq);
    client
        .query_opt(
            &format!(
                "SELECT {PUBLICATION_COLUMNS} FROM tidings_publications WHERE incident = $1 AND seq = $2"
            ),
            &[&incident, &seq],
        )
        .await
        .map_err(db)?
        .as_ref()
        .map(publication)
        .transpose()
}

fn unknown_publication(incident: &str, seq: u32) -> JournalError {
    JournalError::Invalid {
        reason: format!("no publication of update {seq} of incident {incident}"),
    }
}

#[async_trait]
impl Journal for PostgresJournal {
    async fn record_update(
        &self,
        incident: &Incident,
        seq: u32,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<Publication, JournalError> {
        within(self.timeout, async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            store_incident(&tx, incident).await?;
            let id = incident.id().as_str();
            tx.execute(
                "INSERT INTO tidings_publications (incident, seq, created_at, deadline, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (incident, seq) DO NOTHING",
                &[&id, &i64::from(seq), &micros(now), &micros(deadline), &micros(not_before)],
            )
            .await
            .map_err(db)?;
            let p = read_publication(&tx, id, seq)
                .await?
                .ok_or_else(|| unknown_publication(id, seq))?;
            tx.commit().await.map_err(db)?;
            Ok(p)
        })
        .await
    }

    async fn save_incident(&self, incident: &Incident) -> Result<(), JournalError> {
        within(self.timeout, async {
            let client = self.client().await?;
            store_incident(&client, incident).await
        })
        .await
    }

    async fn incident(&self, id: &IncidentId) -> Result<Option<Incident>, JournalError> {
        within(self.timeout, async {
            let row = self
                .client()
                .await?
                .query_opt(
                    "SELECT body FROM tidings_incidents WHERE id = $1",
                    &[&id.as_str()],
                )
                .await
                .map_err(db)?;
            row.map(|r| from_json(&r.get::<_, String>(0))).transpose()
        })
        .await
    }

    async fn open_incidents(&self) -> Result<Vec<Incident>, JournalError> {
        within(self.timeout, async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT body FROM tidings_incidents WHERE closed_at IS NULL ORDER BY ord",
                    &[],
                )
                .await
                .map_err(db)?;
            rows.iter()
                .map(|r| from_json(&r.get::<_, String>(0)))
                .collect()
        })
        .await
    }

    async fn publication(
        &self,
        incident: &IncidentId,
        seq: u32,
    ) -> Result<Option<Publication>, JournalError> {
        within(self.timeout, async {
            let client = self.client().await?;
            read_publication(&client, incident.as_str(), seq).await
        })
        .await
    }

    async fn choose_link(
        &self,
        incident: &IncidentId,
        seq: u32,
        link: &LinkChoice,
    ) -> Result<LinkChoice, JournalError> {
        within(self.timeout, async {
            let client = self.client().await?;
            let id = incident.as_str();
            client
                .execute(
                    "UPDATE tidings_publications SET link = $1 \
                     WHERE incident = $2 AND seq = $3 AND link IS NULL",
                    &[&to_json(link)?, &id, &i64::from(seq)],
                )
                .await
                .map_err(db)?;
            read_publication(&client, id, seq)
                .await?
                .and_then(|p| p.link)
                .ok_or_else(|| unknown_publication(id, seq))
        })
        .await
    }

    async fn end_pass(
        &self,
        incident: &IncidentId,
        seq: u32,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<(), JournalError> {
        within(self.timeout, async {
            let changed = self
                .client()
                .await?
                .execute(
                    "UPDATE tidings_publications SET next_attempt_at = $1, passes = passes + 1 \
                     WHERE incident = $2 AND seq = $3",
                    &[
                        &next_attempt_at.map(micros),
                        &incident.as_str(),
                        &i64::from(seq),
                    ],
                )
                .await
                .map_err(db)?;
            if changed == 0 {
                return Err(unknown_publication(incident.as_str(), seq));
            }
            Ok(())
        })
        .await
    }

    async fn due_publications(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Publication>, JournalError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        within(self.timeout, async {
            let rows = self
                .client()
                .await?
                .query(
                    &format!(
                        "SELECT {PUBLICATION_COLUMNS} FROM tidings_publications \
                         WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $1 \
                         ORDER BY next_attempt_at LIMIT $2"
                    ),
                    &[&micros(now), &limit],
                )
                .await
                .map_err(db)?;
            rows.iter().map(publication).collect()
        })
        .await
    }

    async fn claim(
        &self,
        entry: &JournalEntry,
        owner: &Owner,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        options: ClaimOptions,
    ) -> Result<Claim, JournalError> {
        self.queue(|reply| Op::Claim {
            entry: Box::new(entry.clone()),
            owner: owner.clone(),
            now,
            lease_until,
            options,
            reply,
        })
        .await
    }

    async fn renew(
        &self,
        token: &ClaimToken,
        lease_until: DateTime<Utc>,
    ) -> Result<(), JournalError> {
        self.queue(|reply| Op::Renew {
            token: token.clone(),
            until: lease_until,
            reply,
        })
        .await
    }

    async fn finish(
        &self,
        token: &ClaimToken,
        finish: Finish,
        at: DateTime<Utc>,
    ) -> Result<(), JournalError> {
        self.queue(|reply| Op::Finish {
            token: token.clone(),
            finish,
            at,
            reply,
        })
        .await
    }

    async fn release(
        &self,
        key: &IdempotencyKey,
        owner: &Owner,
        at: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        self.queue(|reply| Op::Release {
            key: key.clone(),
            owner: owner.clone(),
            at,
            reply,
        })
        .await
    }

    async fn state(&self, key: &IdempotencyKey) -> Result<Option<DeliveryState>, JournalError> {
        within(self.timeout, async {
            let row = self
                .client()
                .await?
                .query_opt(
                    "SELECT state FROM tidings_deliveries WHERE key = $1",
                    &[&key.as_str()],
                )
                .await
                .map_err(db)?;
            row.map(|r| from_json(&r.get::<_, String>(0))).transpose()
        })
        .await
    }

    async fn thread(
        &self,
        incident: &IncidentId,
        channel: &str,
        target: &Target,
    ) -> Result<Option<Thread>, JournalError> {
        within(self.timeout, async {
            let row = self
                .client()
                .await?
                .query_opt(
                    "SELECT root, latest FROM tidings_threads \
                     WHERE incident = $1 AND channel = $2 AND target = $3",
                    &[&incident.as_str(), &channel, &target.as_str()],
                )
                .await
                .map_err(db)?;
            Ok(row.map(|r| Thread {
                root: MessageRef::new(r.get::<_, String>(0)),
                latest: MessageRef::new(r.get::<_, String>(1)),
            }))
        })
        .await
    }

    async fn records(&self, incident: &IncidentId) -> Result<Vec<JournalRecord>, JournalError> {
        within(self.timeout, async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT entry, state, updated_at FROM tidings_deliveries \
                     WHERE incident = $1 ORDER BY id",
                    &[&incident.as_str()],
                )
                .await
                .map_err(db)?;
            rows.iter()
                .map(|r| {
                    Ok(JournalRecord::new(
                        from_json(&r.get::<_, String>(0))?,
                        from_json(&r.get::<_, String>(1))?,
                        from_micros(r.get(2))?,
                    ))
                })
                .collect()
        })
        .await
    }

    async fn history(&self, incident: &IncidentId) -> Result<Vec<Transition>, JournalError> {
        within(self.timeout, async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT key, at, state FROM tidings_transitions WHERE incident = $1 ORDER BY id",
                    &[&incident.as_str()],
                )
                .await
                .map_err(db)?;
            rows.iter()
                .map(|r| {
                    Ok(Transition::new(
                        IdempotencyKey::from_raw(r.get::<_, String>(0)),
                        from_micros(r.get(1))?,
                        from_json(&r.get::<_, String>(2))?,
                    ))
                })
                .collect()
        })
        .await
    }

    async fn prune(&self, closed_before: DateTime<Utc>) -> Result<Pruned, JournalError> {
        within(self.timeout, async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(db)?;
            let gone: Vec<String> = tx
                .query(
                    "SELECT id FROM tidings_incidents WHERE closed_at < $1",
                    &[&micros(closed_before)],
                )
                .await
                .map_err(db)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut pruned = Pruned::default();
            if !gone.is_empty() {
                for table in [
                    "tidings_transitions",
                    "tidings_threads",
                    "tidings_publications",
                ] {
                    tx.execute(
                        &format!("DELETE FROM {table} WHERE incident = ANY($1)"),
                        &[&gone],
                    )
                    .await
                    .map_err(db)?;
                }
                pruned.deliveries = tx
                    .execute(
                        "DELETE FROM tidings_deliveries WHERE incident = ANY($1)",
                        &[&gone],
                    )
                    .await
                    .map_err(db)?;
                pruned.incidents = tx
                    .execute("DELETE FROM tidings_incidents WHERE id = ANY($1)", &[&gone])
                    .await
                    .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
            Ok(pruned)
        })
        .await
    }
}
