//! Where results live: SQLite in WAL mode, migrations run at open, raw
//! checks and rollups written in batches by one writer task, reads for the
//! web on read-only connections of their own.

mod files;
pub mod history;
pub mod incidents;
mod query;
pub mod retention;
pub mod rollup;
mod write;
pub mod writer;

pub use crate::clock::{day_of, from_unix_ms, hour_of, unix_ms};
pub use query::{DayStat, HourLatency, Run};
pub use write::StoredCheck;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

/// hopwatch's own storage failures (a target being down is never one).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database folder could not be created.
    #[error("cannot create {path}: {source}")]
    CreateDir {
        /// The folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The database file, or its WAL, could not be created owner-only.
    #[error("cannot create {path}: {source}")]
    CreateFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite refused an operation (read-only, full disk, corrupt file...).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Connections that write: the result writer, the alert manager and
/// dispatcher, retention, annotations and acks.
const WRITE_CONNECTIONS: u32 = 4;

/// The SQLite store. Cloning shares the pools.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating the file and its folder) and migrates the database.
    /// Folders it creates are 0700, and a database it creates is 0600 with
    /// its WAL: they hold evidence that may quote what targets answered.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            files::create_dirs(parent).map_err(|source| StoreError::CreateDir {
                path: parent.display().to_string(),
                source,
            })?;
        }
        let file_error = |source| StoreError::CreateFile {
            path: path.display().to_string(),
            source,
        };
        let created = files::create_database(path).map_err(file_error)?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: a crash loses at most the last transaction, never
            // consistency, and commits skip an fsync each.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(WRITE_CONNECTIONS)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        // The migration wrote, so the WAL and shared-memory files exist now.
        if created {
            files::restrict_companions(path).map_err(file_error)?;
        }
        Ok(Self { pool })
    }

    /// The pool that writes, for the modules of this store.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The pool the web's reads use. It is the writer's pool: in WAL mode
    /// readers and the writer do not block each other, and pages are
    /// snapshots read at most once a second. (A read-only pool of its own
    /// was tried and dropped: after a full disk its connections kept
    /// reading a stale snapshot.)
    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.pool
    }

    /// The ids of these monitors, creating rows for new names. Ids are
    /// stable, so history survives reloads and restarts.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn monitor_ids(&self, names: &[&str]) -> Result<HashMap<String, i64>, StoreError> {
        let now = unix_ms(SystemTime::now());
        let mut tx = self.pool.begin().await?;
        for name in names {
            sqlx::query("INSERT OR IGNORE INTO monitors (name, created_ms) VALUES (?, ?)")
                .bind(name)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let rows = sqlx::query("SELECT id, name FROM monitors")
            .fetch_all(&self.pool)
            .await?;
        let mut ids = HashMap::with_capacity(rows.len());
        for row in rows {
            ids.insert(
                row.try_get::<String, _>("name")?,
                row.try_get::<i64, _>("id")?,
            );
        }
        ids.retain(|name, _| names.contains(&name.as_str()));
        Ok(ids)
    }

    /// Records the start of a daemon run; returns its id.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn start_run(&self, now: SystemTime) -> Result<i64, StoreError> {
        let now = unix_ms(now);
        let row = sqlx::query("INSERT INTO runs (started_ms, alive_ms) VALUES (?, ?) RETURNING id")
            .bind(now)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// When the previous run was last seen alive, if there was one.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn last_alive(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MAX(alive_ms) FROM runs")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Monitor names already known to the store, with their creation time.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn known_monitors(&self) -> Result<HashMap<String, i64>, StoreError> {
        let rows = sqlx::query("SELECT name, created_ms FROM monitors")
            .fetch_all(&self.pool)
            .await?;
        let mut known = HashMap::with_capacity(rows.len());
        for row in rows {
            known.insert(row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?);
        }
        Ok(known)
    }

    /// Marks a run as cleanly stopped.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn stop_run(&self, run: i64, now: SystemTime) -> Result<(), StoreError> {
        let now = unix_ms(now);
        sqlx::query("UPDATE runs SET alive_ms = ?, stopped_ms = ? WHERE id = ?")
            .bind(now)
            .bind(now)
            .bind(run)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes the pools; the writing one last, so that its last connection
    /// checkpoints the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
