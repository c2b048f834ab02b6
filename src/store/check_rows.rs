//! How a stored check is laid out in each database, and the only SQL that
//! knows it: every read, insert and delete of `checks` takes its text from
//! here.
//!
//! SQLite keys a check by `(monitor_id, at_ms)` in a `WITHOUT ROWID` table;
//! its cause and flags are columns (thinning reads them), and its status and
//! timings, which no query filters on, one blob of LEB128 integers
//! ([`Timings`], migration 0008), 30.9 bytes a healthy check instead of 35.2
//! as seven integer columns. PostgreSQL (migration 0007) packs that key into
//! two 32-bit halves, `key_hi` and `key_lo`, which keeps a check under 100
//! bytes there (BENCHMARKS.md says why and how much); its SQL functions
//! `check_key_hi`, `check_key_lo`, `check_monitor_id` and `check_at_ms`
//! convert, so both backends bind a monitor id and a time in milliseconds.
//!
//! A check names the node or agent that made it by an id in `check_nodes`.
//! PostgreSQL keeps that id in `node`, two bytes the row's alignment left
//! free. SQLite keeps it in `flags` above [`FLAG_BITS`], and 0 there is the
//! node that owns the file (see [`Store::name_this_node`]): its own checks,
//! nearly all of them, cost no byte for it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{PgConnection, QueryBuilder, Row, SqliteConnection};

use super::{Backend, Store, StoreError, StoredCheck, leb128, on_backend};

/// The low bits of SQLite's `flags` that hold flags
/// ([`super::write::FLAG_FLAKY`]...); the node's id is above them. The
/// SQL below writes the mask (15) and the shift (4) out.
pub(super) const FLAG_BITS: u32 = 4;

/// Checks per INSERT statement on SQLite: 5 columns each stays far below
/// its variable limit while saving most per-statement overhead.
const SQLITE_ROWS_PER_STATEMENT: usize = 200;

/// One statement in the SQL of each backend, with the same parameters.
pub(super) struct Sql {
    sqlite: &'static str,
    postgres: &'static str,
}

impl Sql {
    /// The text for `backend`.
    pub(super) fn on(&self, backend: &Backend) -> &'static str {
        match backend {
            Backend::Sqlite(_) => self.sqlite,
            Backend::Postgres(_) => self.postgres,
        }
    }
}

/// The select list of a stored check on SQLite; `c` is `checks`, `d` its
/// details, `n` its node (joined by `sqlite_check_joins`).
macro_rules! sqlite_check_fields {
    () => {
        "SELECT c.monitor_id, c.at_ms, c.cause, c.timings, c.flags & 15 AS flags, \
         n.name AS node, d.detail"
    };
}

macro_rules! sqlite_check_joins {
    () => {
        " LEFT JOIN check_details d ON d.monitor_id = c.monitor_id AND d.at_ms = c.at_ms \
         LEFT JOIN check_nodes n ON n.id = c.flags >> 4"
    };
}

/// The select list of a stored check on PostgreSQL, every integer read
/// back 64-bit (`status` 0 is none).
macro_rules! postgres_check_fields {
    () => {
        "SELECT check_monitor_id(c.key_hi) AS monitor_id, check_at_ms(c.key_hi, c.key_lo) AS at_ms, \
         CAST(c.cause AS BIGINT) AS cause, CAST(NULLIF(c.status, 0) AS BIGINT) AS status, \
         CAST(c.latency_us AS BIGINT) AS latency_us, CAST(c.dns_us AS BIGINT) AS dns_us, \
         CAST(c.connect_us AS BIGINT) AS connect_us, CAST(c.tls_us AS BIGINT) AS tls_us, \
         CAST(c.ttfb_us AS BIGINT) AS ttfb_us, CAST(c.transfer_us AS BIGINT) AS transfer_us, \
         CAST(c.flags AS BIGINT) AS flags, n.name AS node, d.detail"
    };
}

macro_rules! postgres_check_joins {
    () => {
        " LEFT JOIN check_details d ON d.monitor_id = check_monitor_id(c.key_hi) \
         AND d.at_ms = check_at_ms(c.key_hi, c.key_lo) \
         LEFT JOIN check_nodes n ON n.id = c.node"
    };
}

/// A check's status and timings, as SQLite keeps them in `timings`: in
/// LEB128, the status (0: none, as no HTTP status is 0), the latency, then
/// the dns, connect, tls, ttfb and transfer phases, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timings {
    /// The status, 0 for none.
    status: u32,
    latency_us: u32,
    phases_us: [u32; 5],
}

impl Timings {
    fn of(check: &StoredCheck) -> Self {
        // `from_result` keeps times in 0 ..= i32::MAX already.
        let us = |value: i64| u32::try_from(value.max(0)).unwrap_or(u32::MAX);
        Self {
            status: check.status.map_or(0, u32::from),
            latency_us: us(check.latency_us),
            phases_us: check.phases_us.map(us),
        }
    }

    fn values(&self) -> [u32; 7] {
        let [dns, connect, tls, ttfb, transfer] = self.phases_us;
        [
            self.status,
            self.latency_us,
            dns,
            connect,
            tls,
            ttfb,
            transfer,
        ]
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        for value in self.values() {
            leb128::push(out, value);
        }
    }

    /// The inverse of [`Timings::encode_into`]; values missing from a
    /// short blob read as 0, a status past `u16` as none.
    fn decode(bytes: &[u8]) -> Self {
        let mut iter = bytes.iter();
        let mut values = [0; 7];
        for value in &mut values {
            *value = leb128::read(&mut iter).unwrap_or(0);
        }
        let [status, latency_us, dns, connect, tls, ttfb, transfer] = values;
        Self {
            status,
            latency_us,
            phases_us: [dns, connect, tls, ttfb, transfer],
        }
    }

    /// The values of a `timings` blob as the integer columns
    /// [`COPY_INTO_POSTGRES`] takes in its place, in its order.
    pub(super) fn columns_of(bytes: &[u8]) -> [i64; 7] {
        Self::decode(bytes).values().map(i64::from)
    }
}

/// A [`StoredCheck`] from a row read with its backend's fields.
pub(super) trait CheckRow {
    fn stored_check(&self) -> Result<StoredCheck, sqlx::Error>;
}

impl CheckRow for SqliteRow {
    fn stored_check(&self) -> Result<StoredCheck, sqlx::Error> {
        let timings = Timings::decode(self.try_get::<&[u8], _>("timings")?);
        Ok(StoredCheck {
            monitor_id: self.try_get("monitor_id")?,
            at_ms: self.try_get("at_ms")?,
            cause: self.try_get::<i64, _>("cause")?.clamp(0, 255) as u8,
            status: u16::try_from(timings.status).ok().filter(|s| *s != 0),
            latency_us: i64::from(timings.latency_us),
            phases_us: timings.phases_us.map(i64::from),
            flags: self.try_get("flags")?,
            node: self.try_get::<Option<String>, _>("node")?.map(Arc::from),
            detail: self.try_get("detail")?,
        })
    }
}

impl CheckRow for PgRow {
    fn stored_check(&self) -> Result<StoredCheck, sqlx::Error> {
        Ok(StoredCheck {
            monitor_id: self.try_get("monitor_id")?,
            at_ms: self.try_get("at_ms")?,
            cause: self.try_get::<i64, _>("cause")?.clamp(0, 255) as u8,
            status: self.try_get::<Option<i64>, _>("status")?.map(|s| s as u16),
            latency_us: self.try_get("latency_us")?,
            phases_us: [
                self.try_get("dns_us")?,
                self.try_get("connect_us")?,
                self.try_get("tls_us")?,
                self.try_get("ttfb_us")?,
                self.try_get("transfer_us")?,
            ],
            flags: self.try_get("flags")?,
            node: self.try_get::<Option<String>, _>("node")?.map(Arc::from),
            detail: self.try_get("detail")?,
        })
    }
}

// On PostgreSQL monitor m's checks are the keys from
// (check_key_hi(m, 0), check_key_lo(0)) to the last whose `key_hi` is
// check_key_hi(m, 9223372036854775807): the functions clamp any time, the
// largest BIGINT included, into the key's range. Each range below also
// bounds `key_hi` alone, although the pair's bound implies it: the planner
// estimates the rows from that (as it did from `monitor_id` before), not
// from the pair, which it takes for a large part of the table.

/// Checks of monitor `$1` at or after `$2`, newest first, at most `$3`.
pub(super) const RECENT: Sql = Sql {
    sqlite: concat!(
        sqlite_check_fields!(),
        " FROM checks c",
        sqlite_check_joins!(),
        " WHERE c.monitor_id = $1 AND c.at_ms >= $2 ORDER BY c.at_ms DESC LIMIT $3"
    ),
    postgres: concat!(
        postgres_check_fields!(),
        " FROM checks c",
        postgres_check_joins!(),
        " WHERE c.key_hi BETWEEN check_key_hi($1, $2) AND check_key_hi($1, 9223372036854775807) \
         AND (c.key_hi, c.key_lo) >= (check_key_hi($1, $2), check_key_lo($2)) \
         ORDER BY c.key_hi DESC, c.key_lo DESC LIMIT $3"
    ),
};

/// How many checks monitor `$1` has.
pub(super) const COUNT: Sql = Sql {
    sqlite: "SELECT COUNT(*) FROM checks WHERE monitor_id = $1",
    postgres: "SELECT COUNT(*) FROM checks \
               WHERE key_hi BETWEEN check_key_hi($1, 0) AND check_key_hi($1, 9223372036854775807)",
};

/// The time of monitor `$1`'s check number `$3` (from 0, oldest first)
/// before `$2`.
pub(super) const NTH_BEFORE: Sql = Sql {
    sqlite: "SELECT at_ms FROM checks WHERE monitor_id = $1 AND at_ms < $2 \
             ORDER BY at_ms LIMIT 1 OFFSET $3",
    postgres: "SELECT check_at_ms(key_hi, key_lo) FROM checks \
               WHERE key_hi BETWEEN check_key_hi($1, 0) AND check_key_hi($1, $2) \
               AND (key_hi, key_lo) < (check_key_hi($1, $2), check_key_lo($2)) \
               ORDER BY key_hi, key_lo LIMIT 1 OFFSET $3",
};

/// Deletes monitor `$1`'s checks before `$2`.
pub(super) const DELETE_BEFORE: Sql = Sql {
    sqlite: "DELETE FROM checks WHERE monitor_id = $1 AND at_ms < $2",
    postgres: "DELETE FROM checks \
               WHERE key_hi BETWEEN check_key_hi($1, 0) AND check_key_hi($1, $2) \
               AND (key_hi, key_lo) < (check_key_hi($1, $2), check_key_lo($2))",
};

/// The time of monitor `$1`'s first check at or after `$2`.
pub(super) const FIRST_FROM: Sql = Sql {
    sqlite: "SELECT at_ms FROM checks WHERE monitor_id = $1 AND at_ms >= $2 \
             ORDER BY at_ms LIMIT 1",
    postgres: "SELECT check_at_ms(key_hi, key_lo) FROM checks \
               WHERE key_hi BETWEEN check_key_hi($1, $2) AND check_key_hi($1, 9223372036854775807) \
               AND (key_hi, key_lo) >= (check_key_hi($1, $2), check_key_lo($2)) \
               ORDER BY key_hi, key_lo LIMIT 1",
};

// Thinning (`storage.keep_healthy`, src/store/thinning.rs) deletes, among
// monitor `$1`'s checks from `$2` to before `$3`, every healthy one (cause
// `$5`, which is ok, and no flag) whose neighbours are healthy too and
// that is not the first healthy one of its span of `$4` ms from the epoch.
// The neighbours are looked up beyond the window as well (the one check
// before it and the one after it), so a window's edge changes nothing;
// `$2` and `$3` fall on span boundaries, so no span is split. On what it
// keeps, it deletes nothing more: a second pass is a no-op.

/// Thins monitor `$1`'s checks in [`$2`, `$3`): see above.
pub(super) const THIN: Sql = Sql {
    sqlite: "WITH around AS (\
             SELECT at_ms, 1 AS inside, cause = $5 AND flags & 15 = 0 AS healthy FROM checks \
             WHERE monitor_id = $1 AND at_ms >= $2 AND at_ms < $3 \
             UNION ALL SELECT * FROM (SELECT at_ms, 0, cause = $5 AND flags & 15 = 0 FROM checks \
             WHERE monitor_id = $1 AND at_ms < $2 ORDER BY at_ms DESC LIMIT 1) \
             UNION ALL SELECT * FROM (SELECT at_ms, 0, cause = $5 AND flags & 15 = 0 FROM checks \
             WHERE monitor_id = $1 AND at_ms >= $3 ORDER BY at_ms LIMIT 1)), \
             marked AS (SELECT at_ms, inside, healthy, \
             LAG(healthy, 1, 1) OVER w AS healthy_before, \
             LEAD(healthy, 1, 1) OVER w AS healthy_after, \
             ROW_NUMBER() OVER (PARTITION BY at_ms / $4, healthy ORDER BY at_ms) AS nth \
             FROM around WINDOW w AS (ORDER BY at_ms)) \
             DELETE FROM checks WHERE monitor_id = $1 AND at_ms IN (SELECT at_ms FROM marked \
             WHERE inside AND healthy AND healthy_before AND healthy_after AND nth > 1)",
    postgres: "WITH around AS (\
               SELECT key_hi, key_lo, TRUE AS inside, cause = $5 AND flags = 0 AS healthy \
               FROM checks \
               WHERE key_hi BETWEEN check_key_hi($1, $2) AND check_key_hi($1, $3) \
               AND (key_hi, key_lo) >= (check_key_hi($1, $2), check_key_lo($2)) \
               AND (key_hi, key_lo) < (check_key_hi($1, $3), check_key_lo($3)) \
               UNION ALL (SELECT key_hi, key_lo, FALSE, cause = $5 AND flags = 0 FROM checks \
               WHERE key_hi BETWEEN check_key_hi($1, 0) AND check_key_hi($1, $2) \
               AND (key_hi, key_lo) < (check_key_hi($1, $2), check_key_lo($2)) \
               ORDER BY key_hi DESC, key_lo DESC LIMIT 1) \
               UNION ALL (SELECT key_hi, key_lo, FALSE, cause = $5 AND flags = 0 FROM checks \
               WHERE key_hi BETWEEN check_key_hi($1, $3) AND check_key_hi($1, 9223372036854775807) \
               AND (key_hi, key_lo) >= (check_key_hi($1, $3), check_key_lo($3)) \
               ORDER BY key_hi, key_lo LIMIT 1)), \
               marked AS (SELECT key_hi, key_lo, inside, healthy, \
               LAG(healthy, 1, TRUE) OVER w AS healthy_before, \
               LEAD(healthy, 1, TRUE) OVER w AS healthy_after, \
               ROW_NUMBER() OVER (PARTITION BY check_at_ms(key_hi, key_lo) / $4, healthy \
               ORDER BY key_hi, key_lo) AS nth \
               FROM around WINDOW w AS (ORDER BY key_hi, key_lo)) \
               DELETE FROM checks c USING marked m \
               WHERE c.key_hi = m.key_hi AND c.key_lo = m.key_lo AND m.inside AND m.healthy \
               AND m.healthy_before AND m.healthy_after AND m.nth > 1",
};

/// Checks written after each series' cursor (PostgreSQL only): `$1` the
/// series, `$2` the `at_ms` last read of each, at most `$3` of each, oldest
/// first. One index range per series (a lateral join), so the cost follows
/// the rows read, not the table's size.
pub(super) const AFTER_CURSORS: &str = concat!(
    postgres_check_fields!(),
    " FROM unnest($1::BIGINT[], $2::BIGINT[]) AS s(id, since) \
     CROSS JOIN LATERAL (SELECT * FROM checks \
     WHERE key_hi BETWEEN check_key_hi(s.id, s.since) AND check_key_hi(s.id, 9223372036854775807) \
     AND (key_hi, key_lo) > (check_key_hi(s.id, s.since), check_key_lo(s.since)) \
     ORDER BY key_hi, key_lo LIMIT $3) c",
    postgres_check_joins!(),
    " ORDER BY at_ms"
);

/// PostgreSQL: a whole batch in one statement, from arrays (one per
/// column), so its text never changes and stays prepared.
const POSTGRES_INSERT: &str = "INSERT INTO checks (key_hi, key_lo, latency_us, dns_us, \
     connect_us, tls_us, ttfb_us, transfer_us, status, cause, flags, node) \
     SELECT check_key_hi(v.monitor_id, v.at_ms), check_key_lo(v.at_ms), v.latency_us, \
     v.dns_us, v.connect_us, v.tls_us, v.ttfb_us, v.transfer_us, v.status, v.cause, v.flags, v.node \
     FROM unnest($1::BIGINT[], $2::BIGINT[], $3::INTEGER[], $4::INTEGER[], $5::INTEGER[], \
     $6::INTEGER[], $7::INTEGER[], $8::INTEGER[], $9::SMALLINT[], $10::SMALLINT[], \
     $11::SMALLINT[], $12::SMALLINT[]) \
     AS v (monitor_id, at_ms, latency_us, dns_us, connect_us, tls_us, ttfb_us, transfer_us, \
     status, cause, flags, node) \
     ON CONFLICT DO NOTHING";

/// A copied SQLite row of `checks` (its columns, in order, as
/// `COPY_SQLITE_COLUMNS` names them, the `timings` blob in its place given
/// as the seven integers [`Timings::columns_of`] reads from it) in
/// PostgreSQL's layout: the VALUES list of a batch goes between the two
/// parts.
pub(super) const COPY_INTO_POSTGRES: (&str, &str) = (
    "INSERT INTO checks (key_hi, key_lo, latency_us, dns_us, connect_us, tls_us, ttfb_us, \
     transfer_us, status, cause, flags, node) \
     SELECT check_key_hi(v.monitor_id, v.at_ms), check_key_lo(v.at_ms), v.latency_us::INTEGER, \
     v.dns_us::INTEGER, v.connect_us::INTEGER, v.tls_us::INTEGER, v.ttfb_us::INTEGER, \
     v.transfer_us::INTEGER, COALESCE(v.status, 0)::SMALLINT, v.cause::SMALLINT, \
     (v.flags & 15)::SMALLINT, (v.flags >> 4)::SMALLINT FROM (",
    ") AS v (monitor_id, at_ms, cause, flags, status, latency_us, dns_us, connect_us, tls_us, \
     ttfb_us, transfer_us)",
);

/// The columns of SQLite's `checks`, as `migrate-store` copies them.
#[cfg(test)]
pub(super) const COPY_SQLITE_COLUMNS: [&str; 5] =
    ["monitor_id", "at_ms", "cause", "flags", "timings"];

/// Inserting checks, as each database lays them out.
pub(super) trait CheckRows {
    /// Inserts `checks`, skipping any already stored (a replayed batch);
    /// `nodes` has the id of every node they name.
    fn insert_checks(
        &mut self,
        checks: &[StoredCheck],
        nodes: &HashMap<Arc<str>, i64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The id of the node that made `check`; 0 when it names none.
fn node_id(check: &StoredCheck, nodes: &HashMap<Arc<str>, i64>) -> i64 {
    check
        .node
        .as_ref()
        .and_then(|name| nodes.get(name))
        .copied()
        .unwrap_or(0)
}

impl CheckRows for SqliteConnection {
    async fn insert_checks(
        &mut self,
        checks: &[StoredCheck],
        nodes: &HashMap<Arc<str>, i64>,
    ) -> Result<(), StoreError> {
        // One buffer holds a statement's blobs, which its binds borrow.
        let mut blobs = Vec::new();
        let mut ends = Vec::with_capacity(SQLITE_ROWS_PER_STATEMENT);
        for chunk in checks.chunks(SQLITE_ROWS_PER_STATEMENT) {
            blobs.clear();
            ends.clear();
            for check in chunk {
                Timings::of(check).encode_into(&mut blobs);
                ends.push(blobs.len());
            }
            let mut insert =
                QueryBuilder::new("INSERT INTO checks (monitor_id, at_ms, cause, flags, timings) ");
            let mut start = 0;
            insert.push_values(chunk.iter().zip(&ends), |mut row, (check, &end)| {
                row.push_bind(check.monitor_id)
                    .push_bind(check.at_ms)
                    .push_bind(i64::from(check.cause))
                    .push_bind(check.flags | node_id(check, nodes) << FLAG_BITS)
                    .push_bind(&blobs[start..end]);
                start = end;
            });
            insert.push(" ON CONFLICT DO NOTHING");
            insert.build().execute(&mut *self).await?;
        }
        Ok(())
    }
}

impl CheckRows for PgConnection {
    async fn insert_checks(
        &mut self,
        checks: &[StoredCheck],
        nodes: &HashMap<Arc<str>, i64>,
    ) -> Result<(), StoreError> {
        if checks.is_empty() {
            return Ok(());
        }
        // Within the columns' types; `from_result` already keeps times in
        // 32 bits, and a node past the two bytes' ids is not recorded (0).
        let int = |value: i64| value.clamp(0, i64::from(i32::MAX)) as i32;
        let small = |value: i64| i16::try_from(value).unwrap_or(0).max(0);
        let n = checks.len();
        let (mut monitors, mut times) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut latencies = Vec::with_capacity(n);
        let mut phases: [Vec<i32>; 5] = Default::default();
        let (mut statuses, mut causes) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut flags, mut node_ids) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for check in checks {
            monitors.push(check.monitor_id);
            times.push(check.at_ms);
            latencies.push(int(check.latency_us));
            for (column, phase) in phases.iter_mut().zip(check.phases_us) {
                column.push(int(phase));
            }
            // 0: no status (no HTTP status is 0), as a NULL would cost a
            // null bitmap.
            statuses.push(small(check.status.map_or(0, i64::from)));
            causes.push(i16::from(check.cause));
            flags.push(small(check.flags));
            node_ids.push(small(node_id(check, nodes)));
        }
        let [dns, connect, tls, ttfb, transfer] = phases;
        sqlx::query(POSTGRES_INSERT)
            .bind(monitors)
            .bind(times)
            .bind(latencies)
            .bind(dns)
            .bind(connect)
            .bind(tls)
            .bind(ttfb)
            .bind(transfer)
            .bind(statuses)
            .bind(causes)
            .bind(flags)
            .bind(node_ids)
            .execute(&mut *self)
            .await?;
        Ok(())
    }
}

/// Names of `check_nodes` already read, with their ids; shared by a
/// store's clones.
#[derive(Debug, Clone, Default)]
pub(super) struct NodeIds(Arc<std::sync::Mutex<HashMap<Arc<str>, i64>>>);

impl NodeIds {
    /// The ids known of `names`.
    fn get(&self, names: &[&Arc<str>]) -> HashMap<Arc<str>, i64> {
        let Ok(known) = self.0.lock() else {
            return HashMap::new();
        };
        names
            .iter()
            .filter_map(|name| known.get(*name).map(|id| (Arc::clone(name), *id)))
            .collect()
    }

    fn remember(&self, name: &Arc<str>, id: i64) {
        if let Ok(mut known) = self.0.lock() {
            known.insert(Arc::clone(name), id);
        }
    }

    fn clear(&self) {
        if let Ok(mut known) = self.0.lock() {
            known.clear();
        }
    }
}

impl Store {
    /// The id in `check_nodes` of each of `names`, a row made for a new
    /// one. Read and made outside the batch's transaction: a name stays
    /// even if the batch fails, which is harmless.
    pub(super) async fn node_ids(
        &self,
        names: &[&Arc<str>],
    ) -> Result<HashMap<Arc<str>, i64>, StoreError> {
        let mut ids = self.known_nodes.get(names);
        // Nearly always every name is known, and remembered: no statement.
        for pass in 0..2 {
            let missing: Vec<&Arc<str>> = names
                .iter()
                .copied()
                .filter(|name| !ids.contains_key(*name))
                .collect();
            if missing.is_empty() {
                break;
            }
            let placeholders: Vec<String> = (1..=missing.len()).map(|n| format!("${n}")).collect();
            if pass == 1 {
                // `WHERE NOT EXISTS` first: PostgreSQL would use up an
                // identity value on each conflicting row.
                let values: Vec<String> = placeholders.iter().map(|p| format!("({p})")).collect();
                let sql = format!(
                    "INSERT INTO check_nodes (name) SELECT column1 FROM (VALUES {}) AS v \
                     WHERE NOT EXISTS (SELECT 1 FROM check_nodes n WHERE n.name = v.column1) \
                     ON CONFLICT DO NOTHING",
                    values.join(", ")
                );
                on_backend!(self, pool => {
                    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for name in &missing {
                        insert = insert.bind(name.as_ref());
                    }
                    insert.execute(pool).await?;
                });
            }
            let sql = format!(
                "SELECT CAST(id AS BIGINT), name FROM check_nodes WHERE name IN ({})",
                placeholders.join(", ")
            );
            let rows = on_backend!(self, pool => {
                let mut select = sqlx::query(sqlx::AssertSqlSafe(sql));
                for name in &missing {
                    select = select.bind(name.as_ref());
                }
                select
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|row| Ok((row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?)))
                    .collect::<Result<Vec<_>, StoreError>>()?
            });
            for (id, name) in rows {
                if let Some(known) = missing.iter().find(|m| m.as_ref() == name.as_str()) {
                    ids.insert(Arc::clone(known), id);
                    self.known_nodes.remember(known, id);
                }
            }
        }
        Ok(ids)
    }

    /// On SQLite, names the node that owns the file: its checks are stored
    /// with node id 0 and read back with this name (those stored before it
    /// was named, too). A name already given to another id keeps it.
    /// Nothing on PostgreSQL, where every node's checks carry its id.
    pub async fn name_this_node(&self, name: &str) -> Result<(), StoreError> {
        if let Backend::Sqlite(pool) = self.backend() {
            sqlx::query(
                "INSERT INTO check_nodes (id, name) SELECT 0, $1 \
                 WHERE NOT EXISTS (SELECT 1 FROM check_nodes WHERE name = $1) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            )
            .bind(name)
            .execute(pool)
            .await?;
            // Id 0 may have had another name.
            self.known_nodes.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_splits_sqlite_flags_where_the_writer_does() {
        let mask = format!("flags & {}", (1 << FLAG_BITS) - 1);
        let shift = format!("flags >> {FLAG_BITS}");
        for sql in [RECENT.sqlite, COPY_INTO_POSTGRES.0] {
            assert!(sql.contains(&mask) && sql.contains(&shift), "{sql}");
        }
        // Thinning keeps a flagged check: it reads the flags alone.
        assert!(THIN.sqlite.contains(&format!("{mask} = 0")));
    }

    #[test]
    fn timings_pack_into_leb128_and_read_back() {
        let check = StoredCheck {
            monitor_id: 1,
            at_ms: 0,
            cause: 0,
            status: Some(200),
            latency_us: 1_500,
            phases_us: [0, 127, 128, 16_384, i64::from(i32::MAX)],
            flags: 0,
            node: None,
            detail: None,
        };
        let mut blob = Vec::new();
        Timings::of(&check).encode_into(&mut blob);
        assert_eq!(
            blob,
            [
                0xC8, 0x01, // 200
                0xDC, 0x0B, // 1,500
                0x00, 0x7F, 0x80, 0x01, 0x80, 0x80, 0x01, // 0, 127, 128, 16,384
                0xFF, 0xFF, 0xFF, 0xFF, 0x07, // 2^31 - 1
            ]
        );
        assert_eq!(Timings::decode(&blob), Timings::of(&check));
        assert_eq!(
            Timings::columns_of(&blob),
            [200, 1_500, 0, 127, 128, 16_384, i64::from(i32::MAX)]
        );
        // No status is 0, a byte; a blob cut short reads its missing values as 0.
        let none = StoredCheck {
            status: None,
            ..check
        };
        let mut blob = Vec::new();
        Timings::of(&none).encode_into(&mut blob);
        assert_eq!((blob[0], blob.len()), (0, 15));
        assert_eq!(Timings::columns_of(&[0xC8, 0x01]), [200, 0, 0, 0, 0, 0, 0]);
    }
}
