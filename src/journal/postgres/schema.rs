//! The PostgreSQL schema, migrated to the version this build knows, under a
//! lock so that replicas starting together migrate once.

use tokio_postgres::Client;

use super::db;
use crate::journal::JournalError;

/// Every migration, in order; the schema version is how many ran.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_init.sql")];

/// The schema version this build writes.
pub(super) const VERSION: i64 = MIGRATIONS.len() as i64;

/// An advisory lock id only tidings' migrations take ("tidings" in ASCII).
const MIGRATION_LOCK: i64 = 0x0074_6964_696e_6773;

/// Brings the schema to [`VERSION`] in one transaction; refuses a database
/// written by a newer schema.
pub(super) async fn migrate(client: &mut Client) -> Result<(), JournalError> {
    let tx = client.transaction().await.map_err(db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS tidings_schema (version BIGINT NOT NULL)")
        .await
        .map_err(db)?;
    let found: i64 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM tidings_schema", &[])
        .await
        .map_err(db)?
        .get(0);
    if found > VERSION {
        return Err(JournalError::SchemaMismatch {
            found,
            supported: VERSION,
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(sql).await.map_err(db)?;
        let version = i as i64 + 1;
        tx.execute(
            "INSERT INTO tidings_schema (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(db)?;
    }
    tx.commit().await.map_err(db)
}
