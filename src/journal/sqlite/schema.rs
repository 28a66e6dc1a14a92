//! Opening a journal file: connection settings and the schema, migrated to
//! the version this build knows.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::worker::unavailable;
use super::{SqliteOptions, Synchronous};
use crate::journal::JournalError;

/// Every migration, in order; the schema version is how many ran.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_init.sql")];

/// The schema version this build writes.
pub(super) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens a connection with the journal's settings: WAL (readers never block
/// the writer), the configured `synchronous`, a busy timeout (another process
/// holding the write lock is waited for, not failed at once).
pub(super) fn connect(path: &Path, options: &SqliteOptions) -> Result<Connection, JournalError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        JournalError::unavailable(format!("cannot open the journal {}: {e}", path.display()))
    })?;
    conn.busy_timeout(options.busy_timeout)
        .map_err(unavailable)?;
    conn.set_prepared_statement_cache_capacity(64);
    let synchronous = match options.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = OFF; \
         PRAGMA journal_size_limit = 67108864; PRAGMA wal_autocheckpoint = 0;"
    ))
    .map_err(unavailable)?;
    Ok(conn)
}

/// Brings the schema to [`VERSION`], in one transaction; refuses a file
/// written by a newer schema.
pub(super) fn migrate(conn: &Connection) -> Result<(), JournalError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(unavailable)?;
    let result = (|| {
        conn.execute_batch("CREATE TABLE IF NOT EXISTS tidings_schema (version INTEGER NOT NULL)")
            .map_err(unavailable)?;
        let found: i64 = conn
            .query_row(
                "SELECT coalesce(max(version), 0) FROM tidings_schema",
                [],
                |r| r.get(0),
            )
            .map_err(unavailable)?;
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
            conn.execute_batch(sql).map_err(unavailable)?;
            conn.execute(
                "INSERT INTO tidings_schema (version) VALUES (?1)",
                [i as i64 + 1],
            )
            .map_err(unavailable)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT").map_err(unavailable),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The default busy timeout.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
