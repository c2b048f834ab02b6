//! The cluster's tables, on PostgreSQL only: who is alive (heartbeats
//! stamped with the server's clock, so the nodes' clocks never have to
//! agree), the leader's lease with its fencing token, and the checks the
//! other nodes wrote.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPool;
use sqlx::{PgConnection, Row, SqliteConnection};

use super::check_rows::{AFTER_CURSORS, CheckRow};
use super::{Backend, Store, StoreError, StoredCheck};

/// A cluster node as its row says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// Its unique name.
    pub name: String,
    /// Where it checks from.
    pub region: String,
    /// Its process start's random number.
    pub incarnation: i64,
    /// Since its last heartbeat, by the database's clock.
    pub silent_for: Duration,
    /// The (monitor, region) pairs it checks.
    pub monitors: u32,
    /// Whether it holds an unexpired leader's lease.
    pub leader: bool,
}

/// What joining the cluster under a name gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Join {
    /// The name is this process's now.
    Joined,
    /// A live node has the name.
    Taken {
        /// Its region.
        region: String,
        /// Since its last heartbeat.
        silent_for: Duration,
    },
}

/// A leader's proof: the lease's token when it was won. Writes carrying
/// it pass only while the lease is still this holder's and unexpired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The node.
    pub name: String,
    /// Its process start.
    pub incarnation: i64,
    /// The lease's token.
    pub token: i64,
}

impl Store {
    fn postgres(&self) -> Result<&PgPool, StoreError> {
        match self.backend() {
            Backend::Postgres(pool) => Ok(pool),
            Backend::Sqlite(_) => Err(StoreError::NotShared),
        }
    }

    /// This store, for a leader: its leader-only writes (incidents and the
    /// outbox's states) check `fence` in their transaction.
    pub fn fenced(&self, fence: Fence) -> Store {
        Store {
            backend: self.backend().clone(),
            fence: Some(Arc::new(fence)),
            known_nodes: self.known_nodes.clone(),
        }
    }

    /// Refuses a leader-only write when this store's fence no longer holds.
    /// The row lock it takes makes a takeover wait for the write to end.
    pub(super) async fn check_fence<C: FenceCheck>(&self, conn: &mut C) -> Result<(), StoreError> {
        match &self.fence {
            None => Ok(()),
            Some(fence) => conn.check_fence(fence).await,
        }
    }

    /// Takes `name` for this process unless a live node has it (its last
    /// heartbeat within `dead_after`).
    pub async fn join_cluster(
        &self,
        name: &str,
        region: &str,
        incarnation: i64,
        dead_after: Duration,
    ) -> Result<Join, StoreError> {
        let pool = self.postgres()?;
        let taken = sqlx::query(
            "INSERT INTO cluster_nodes (name, region, incarnation, last_seen) VALUES ($1, $2, $3, now()) \
             ON CONFLICT (name) DO UPDATE SET region = $2, incarnation = $3, last_seen = now(), monitors = 0 \
             WHERE cluster_nodes.last_seen < now() - make_interval(secs => $4) \
             RETURNING name",
        )
        .bind(name)
        .bind(region)
        .bind(incarnation)
        .bind(dead_after.as_secs_f64())
        .fetch_optional(pool)
        .await?;
        if taken.is_some() {
            return Ok(Join::Joined);
        }
        let row = sqlx::query(
            "SELECT region, EXTRACT(EPOCH FROM now() - last_seen)::DOUBLE PRECISION FROM cluster_nodes WHERE name = $1",
        )
        .bind(name)
        .fetch_one(pool)
        .await?;
        Ok(Join::Taken {
            region: row.try_get(0)?,
            silent_for: seconds(row.try_get(1)?),
        })
    }

    /// A heartbeat; false when the name has gone to another process (this
    /// one was silent long enough to be taken for dead).
    pub async fn heartbeat(
        &self,
        name: &str,
        incarnation: i64,
        monitors: u32,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE cluster_nodes SET last_seen = now(), monitors = $3 WHERE name = $1 AND incarnation = $2",
        )
        .bind(name)
        .bind(incarnation)
        .bind(i64::from(monitors).min(i64::from(i32::MAX)) as i32)
        .execute(self.postgres()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A clean stop: the node counts as dead at once and gives up the lease,
    /// so that its work and the leadership move without waiting.
    pub async fn leave_cluster(&self, name: &str, incarnation: i64) -> Result<(), StoreError> {
        let pool = self.postgres()?;
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE cluster_nodes SET last_seen = 'epoch' WHERE name = $1 AND incarnation = $2",
        )
        .bind(name)
        .bind(incarnation)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE cluster_lease SET expires = 'epoch' WHERE id = 1 AND holder = $1 AND holder_incarnation = $2",
        )
        .bind(name)
        .bind(incarnation)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every node that ever joined, by name.
    pub async fn cluster_nodes(&self) -> Result<Vec<NodeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT n.name, n.region, n.incarnation, \
             EXTRACT(EPOCH FROM now() - n.last_seen)::DOUBLE PRECISION, CAST(n.monitors AS BIGINT), \
             (l.holder IS NOT NULL AND l.expires > now()) \
             FROM cluster_nodes n LEFT JOIN cluster_lease l \
             ON l.id = 1 AND l.holder = n.name AND l.holder_incarnation = n.incarnation \
             ORDER BY n.name",
        )
        .fetch_all(self.postgres()?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(NodeRow {
                    name: row.try_get(0)?,
                    region: row.try_get(1)?,
                    incarnation: row.try_get(2)?,
                    silent_for: seconds(row.try_get(3)?),
                    monitors: row.try_get::<i64, _>(4)?.clamp(0, i64::from(u32::MAX)) as u32,
                    leader: row.try_get::<Option<bool>, _>(5)?.unwrap_or(false),
                })
            })
            .collect()
    }

    /// Takes or renews the leader's lease for `lease` from now (the
    /// database's now): the token when this node holds it, `None` when
    /// another holds an unexpired one. The token changes only when the
    /// holder does.
    pub async fn acquire_lease(
        &self,
        name: &str,
        incarnation: i64,
        lease: Duration,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "UPDATE cluster_lease SET \
             token = CASE WHEN holder = $1 AND holder_incarnation = $2 THEN token ELSE token + 1 END, \
             holder = $1, holder_incarnation = $2, expires = now() + make_interval(secs => $3) \
             WHERE id = 1 AND ((holder = $1 AND holder_incarnation = $2) OR holder IS NULL OR expires <= now()) \
             RETURNING token",
        )
        .bind(name)
        .bind(incarnation)
        .bind(lease.as_secs_f64())
        .fetch_optional(self.postgres()?)
        .await?;
        Ok(match row {
            Some(row) => Some(row.try_get(0)?),
            None => None,
        })
    }

    /// Checks written after each series' cursor: `cursors` pairs a series
    /// (monitor id) with the `at_ms` last read of it; at most `per_series`
    /// of each, oldest first. One index range per series (a lateral join),
    /// so the cost follows the rows read, not the table's size.
    pub async fn checks_after(
        &self,
        cursors: &[(i64, i64)],
        per_series: u32,
    ) -> Result<Vec<StoredCheck>, StoreError> {
        let (ids, since): (Vec<i64>, Vec<i64>) = cursors.iter().copied().unzip();
        let rows = sqlx::query(AFTER_CURSORS)
            .bind(ids)
            .bind(since)
            .bind(i64::from(per_series))
            .fetch_all(self.postgres()?)
            .await?;
        rows.iter().map(|row| Ok(row.stored_check()?)).collect()
    }
}

fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(Duration::MAX)
}

/// A connection on which a leader's fence can be checked.
pub(super) trait FenceCheck {
    fn check_fence(&mut self, fence: &Fence)
    -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl FenceCheck for PgConnection {
    async fn check_fence(&mut self, fence: &Fence) -> Result<(), StoreError> {
        let held = sqlx::query(
            "SELECT 1 FROM cluster_lease WHERE id = 1 AND holder = $1 AND holder_incarnation = $2 \
             AND token = $3 AND expires > now() FOR SHARE",
        )
        .bind(&fence.name)
        .bind(fence.incarnation)
        .bind(fence.token)
        .fetch_optional(self)
        .await?;
        held.map(|_| ()).ok_or(StoreError::Fenced)
    }
}

impl FenceCheck for SqliteConnection {
    /// One SQLite node is its own leader: there is no lease to lose.
    async fn check_fence(&mut self, _: &Fence) -> Result<(), StoreError> {
        Ok(())
    }
}
