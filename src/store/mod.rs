//! Where results live: SQLite in WAL mode on one node (the default), or
//! PostgreSQL for a cluster. Migrations run at open; raw checks and rollups
//! are written in batches by one writer task.
//!
//! Both backends run the same SQL text: placeholders are `$1`, `$2`... (SQLite
//! reads them too), conflicts use `ON CONFLICT`, integers are 64-bit. The
//! [`on_backend!`] macro expands one body once per backend, so each query is
//! written once and compiled against each driver's own types.

mod check_rows;
pub mod cluster;
pub mod copy;
mod files;
pub mod history;
pub mod incidents;
mod leb128;
mod query;
pub mod reports;
pub mod retention;
pub mod rollup;
pub mod subscribers;
pub mod thinning;
pub mod uptime;
mod write;
pub mod writer;

pub use crate::clock::{day_of, from_unix_ms, hour_of, unix_ms};
pub use query::{DayStat, HourLatency, Run};
pub use write::StoredCheck;

mod backend;

pub use crate::config::Location;
pub(crate) use backend::{Backend, on_backend};

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use sqlx::Row;

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
    /// The database refused an operation (read-only, full disk, corrupt
    /// file, connection lost...).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The PostgreSQL server could not be reached or refused the login.
    /// Names the host and port, never the password.
    #[error("cannot connect to the database at {server}: {source}")]
    Connect {
        /// `host:port` of the server.
        server: String,
        /// Why.
        source: sqlx::Error,
    },
    /// `storage.url` is not a database URL hopwatch knows.
    #[error("storage.url: {0}")]
    Url(String),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A write only the cluster's leader may do, from a node whose lease
    /// has passed (or lapsed): refused, so there are never two leaders.
    #[error("this node no longer holds the leader's lease; the write is refused")]
    Fenced,
    /// The database did not answer in time.
    #[error("the database did not answer within {0:?}")]
    Unanswered(std::time::Duration),
    /// A cluster operation on a store that is not shared (SQLite).
    #[error("a cluster needs PostgreSQL (storage.url: postgres://...)")]
    NotShared,
}

/// The row in `monitors` that holds a monitor's series in `region`: its
/// name in the default region (so single-node history stays where it
/// was), `name@region` elsewhere ('@' is never in a monitor name).
pub fn series_key(name: &str, region: &str) -> String {
    if region == crate::config::schema::DEFAULT_REGION {
        name.to_owned()
    } else {
        format!("{name}@{region}")
    }
}

/// Monitor names inserted by one statement (two parameters each, well
/// inside both drivers' limits).
const NAMES_PER_INSERT: usize = 400;

/// The store. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    /// Set on a cluster leader's copy: its leader-only writes carry the
    /// lease's fencing token and are refused once the lease is gone.
    fence: Option<std::sync::Arc<cluster::Fence>>,
    /// Ids of `check_nodes` names already read, so each batch need not ask
    /// again: a row there keeps its id and is never deleted; the one row
    /// renamed (this node's, on SQLite) is renamed at start, which clears
    /// this.
    known_nodes: check_rows::NodeIds,
}

impl Store {
    /// Opens (creating the file and its folder) and migrates a SQLite
    /// database. Folders it creates are 0700, and a database it creates is
    /// 0600 with its WAL: they hold evidence that may quote what targets
    /// answered.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_at(&Location::Sqlite(path.to_path_buf())).await
    }

    /// Opens and migrates the database at `location`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn open_at(location: &Location) -> Result<Self, StoreError> {
        let backend = match location {
            Location::Sqlite(path) => backend::open_sqlite(path).await?,
            Location::Postgres(url) => backend::open_postgres(url).await?,
        };
        Ok(Self {
            backend,
            fence: None,
            known_nodes: check_rows::NodeIds::default(),
        })
    }

    /// The pool, for the modules of this store.
    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Whether this is the PostgreSQL backend (a cluster's store).
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// The ids of these monitors, creating rows for new names. Ids are
    /// stable, so history survives reloads and restarts.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn monitor_ids(&self, names: &[&str]) -> Result<HashMap<String, i64>, StoreError> {
        let mut ids = self.all_monitor_ids().await?;
        // Only names not there yet: PostgreSQL would use up an id for each
        // conflicting row, and ids must stay below 2^22 (check_rows).
        let new: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| !ids.contains_key(*name))
            .collect();
        if !new.is_empty() {
            let now = unix_ms(SystemTime::now());
            on_backend!(self, pool => {
                let mut tx = pool.begin().await?;
                // Many rows a statement: 20,000 series of a cluster's config
                // are 50 round trips, not 20,000.
                for chunk in new.chunks(NAMES_PER_INSERT) {
                    let mut sql = String::from("INSERT INTO monitors (name, created_ms) VALUES ");
                    for n in 0..chunk.len() {
                        if n > 0 {
                            sql.push_str(", ");
                        }
                        sql.push_str(&format!("(${}, ${})", 2 * n + 1, 2 * n + 2));
                    }
                    // Another node may have added one meanwhile.
                    sql.push_str(" ON CONFLICT DO NOTHING");
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for name in chunk {
                        query = query.bind(*name).bind(now);
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            });
            ids = self.all_monitor_ids().await?;
        }
        ids.retain(|name, _| names.contains(&name.as_str()));
        Ok(ids)
    }

    async fn all_monitor_ids(&self) -> Result<HashMap<String, i64>, StoreError> {
        let rows = on_backend!(self, pool => {
            let rows = sqlx::query("SELECT id, name FROM monitors").fetch_all(pool).await?;
            rows.iter()
                .map(|row| Ok((row.try_get::<String, _>(1)?, row.try_get::<i64, _>(0)?)))
                .collect::<Result<Vec<_>, StoreError>>()?
        });
        Ok(rows.into_iter().collect())
    }

    /// Records the start of a daemon run; returns its id.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn start_run(&self, now: SystemTime) -> Result<i64, StoreError> {
        let now = unix_ms(now);
        Ok(on_backend!(self, pool => {
            sqlx::query("INSERT INTO runs (started_ms, alive_ms) VALUES ($1, $2) RETURNING id")
                .bind(now)
                .bind(now)
                .fetch_one(pool)
                .await?
                .try_get(0)?
        }))
    }

    /// When the previous run was last seen alive, if there was one.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn last_alive(&self) -> Result<Option<i64>, StoreError> {
        Ok(on_backend!(self, pool => {
            sqlx::query("SELECT MAX(alive_ms) FROM runs")
                .fetch_one(pool)
                .await?
                .try_get(0)?
        }))
    }

    /// Monitor names already known to the store, with their creation time.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn known_monitors(&self) -> Result<HashMap<String, i64>, StoreError> {
        let rows = on_backend!(self, pool => {
            let rows = sqlx::query("SELECT name, created_ms FROM monitors").fetch_all(pool).await?;
            rows.iter()
                .map(|row| Ok((row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?)))
                .collect::<Result<Vec<_>, StoreError>>()?
        });
        Ok(rows.into_iter().collect())
    }

    /// Marks a run as cleanly stopped.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn stop_run(&self, run: i64, now: SystemTime) -> Result<(), StoreError> {
        let now = unix_ms(now);
        on_backend!(self, pool => {
            sqlx::query("UPDATE runs SET alive_ms = $1, stopped_ms = $2 WHERE id = $3")
                .bind(now)
                .bind(now)
                .bind(run)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Closes the pool; on SQLite its last connection checkpoints the WAL.
    pub async fn close(&self) {
        on_backend!(self, pool => pool.close().await);
    }
}
