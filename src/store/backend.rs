//! The two databases a store can sit on, how each is opened, and the macro
//! that runs one query body against whichever it is.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgConnection, PgPool, SqlitePool};

use super::{StoreError, files};
use crate::config::location::{server_of, without_secrets};

/// The open database.
#[derive(Debug, Clone)]
pub enum Backend {
    /// One node's file.
    Sqlite(SqlitePool),
    /// A cluster's shared server.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's own pool type. The body
/// is expanded once per backend, so it is written once and type-checked
/// against both drivers.
macro_rules! on_backend {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store.backend() {
            $crate::store::Backend::Sqlite($pool) => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Connections that write on SQLite: the result writer, the alert manager
/// and dispatcher, retention, annotations and acks.
const SQLITE_CONNECTIONS: u32 = 4;

/// Connections to PostgreSQL per node: the same users plus the cluster's
/// heartbeat and the pages read from the database.
const POSTGRES_CONNECTIONS: u32 = 8;

/// How long opening PostgreSQL may take before the node gives up: the
/// contract wants an unreachable database reported within 20 s.
const CONNECT_WITHIN: Duration = Duration::from_secs(15);

/// How long a query waits for a connection once running: a lost database
/// shows as errors within seconds, while checks go on.
const ACQUIRE_WITHIN: Duration = Duration::from_secs(5);

pub(super) async fn open_sqlite(path: &Path) -> Result<Backend, StoreError> {
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
    // One pool for writes and the web's reads: in WAL mode readers and the
    // writer do not block each other. (A read-only pool of its own was
    // tried and dropped: after a full disk its connections kept reading a
    // stale snapshot.)
    let pool = SqlitePoolOptions::new()
        .max_connections(SQLITE_CONNECTIONS)
        .connect_with(options)
        .await?;
    announce_packing_checks(&pool, path).await?;
    sqlx::migrate!("migrations/sqlite").run(&pool).await?;
    // The migration wrote, so the WAL and shared-memory files exist now.
    if created {
        files::restrict_companions(path).map_err(file_error)?;
    }
    Ok(Backend::Sqlite(pool))
}

/// Migration 0008 rewrites every check a file stored before it, once, before
/// the daemon starts checking: a large file takes minutes, which the log
/// says first.
async fn announce_packing_checks(pool: &SqlitePool, path: &Path) -> Result<(), StoreError> {
    let unpacked: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM pragma_table_info('checks') WHERE name = 'latency_us'")
            .fetch_optional(pool)
            .await?;
    if unpacked.is_some() {
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        tracing::info!(
            database = %path.display(),
            megabytes = bytes / 1_000_000,
            "packing the stored checks' timings into the new layout (once, before checking \
             starts): about 2 s per million checks, 1 min per GB of database"
        );
    }
    Ok(())
}

pub(super) async fn open_postgres(url: &str) -> Result<Backend, StoreError> {
    let server = server_of(url);
    let options =
        PgConnectOptions::from_str(url).map_err(|err| StoreError::Url(without_secrets(err)))?;
    // One connection first: a refused or failed login is reported at once,
    // where a pool would retry it until its acquire timeout.
    let first = PgConnection::connect_with(&options);
    match tokio::time::timeout(CONNECT_WITHIN, first).await {
        Ok(Ok(connection)) => drop(connection.close().await),
        Ok(Err(source)) => return Err(StoreError::Connect { server, source }),
        Err(_) => {
            return Err(StoreError::Connect {
                server,
                source: sqlx::Error::PoolTimedOut,
            });
        }
    }
    // The server ends a session that sits in a transaction, and a
    // statement that waits for a lock, after 10 s: a node cut off from the
    // network mid-transaction would otherwise keep its locks (the lease's
    // row among them) while its session lives on at the server.
    let options = options.options([
        ("idle_in_transaction_session_timeout", "10s"),
        ("lock_timeout", "10s"),
    ]);
    let pool = PgPoolOptions::new()
        .max_connections(POSTGRES_CONNECTIONS)
        .acquire_timeout(ACQUIRE_WITHIN)
        .connect_lazy_with(options);
    // Nodes starting together are safe: the migrator holds an advisory lock.
    sqlx::migrate!("migrations/postgres").run(&pool).await?;
    Ok(Backend::Postgres(pool))
}
