//! Copies a whole store into another, table by table: `hopwatch
//! migrate-store` moves a SQLite node's history onto PostgreSQL.
//!
//! Each table is read in batches ordered by its primary key, the next batch
//! starting after the last key read (keyset pagination), so one batch is in
//! memory whatever the size of the history; each batch is written in one
//! transaction of multi-row INSERTs. Ids are kept as they are: checks and
//! rollups refer to monitors by id.
//!
//! A failure midway leaves the batches already committed in the target. The
//! error names the table and the batch; drop the target database (or file),
//! create it empty and run the copy again, as a target that holds checks,
//! incidents or monitors is refused.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::query_builder::Separated;
use sqlx::{Database, QueryBuilder, Row};

use super::check_rows::{COPY_INTO_POSTGRES, Timings};
use super::{Backend, Location, Store, StoreError, on_backend};

/// Rows per batch: each is a round trip and a commit, so fewer is faster,
/// and 5,000 rows of the widest table stay within a few megabytes.
const BATCH_ROWS: usize = 5_000;

/// Bound values per INSERT statement, under SQLite's limit (32,766) and
/// PostgreSQL's (65,535); a batch of a wide table takes a few statements.
const STATEMENT_BINDS: usize = 30_000;

/// A target holding any row of these already has a history of its own, and
/// ids from the source would collide with it.
const MUST_BE_EMPTY: [&str; 3] = ["checks", "incidents", "monitors"];

/// How a column is read from the source and bound into the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `INTEGER NOT NULL` / `BIGINT NOT NULL`.
    Int,
    /// `INTEGER` / `BIGINT`, may be NULL.
    NullInt,
    /// `REAL` / `DOUBLE PRECISION`, may be NULL (the only real columns are).
    Real,
    /// `TEXT NOT NULL`.
    Text,
    /// `TEXT`, may be NULL.
    NullText,
    /// `BLOB` / `BYTEA`, not NULL.
    Blob,
}

use Kind::{Blob, Int, NullInt, NullText, Real, Text};

/// One table to copy.
#[derive(Debug)]
struct Table {
    name: &'static str,
    /// How many of the leading `columns` make the primary key.
    key: usize,
    columns: &'static [(&'static str, Kind)],
    /// PostgreSQL generates its `id` for new rows: the sequence must move
    /// past the copied ids, or the next insert collides.
    identity: bool,
}

const ROLLUP_COLUMNS: &[(&str, Kind)] = &[
    ("monitor_id", Int),
    ("bucket", Int),
    ("total", Int),
    ("ok", Int),
    ("failed", Int),
    ("unknown", Int),
    ("n5xx", Int),
    ("p50_us", Int),
    ("p95_us", Int),
    ("p99_us", Int),
    ("causes", Blob),
    ("histogram", Blob),
];

/// Every table of the schema, in the order they are copied (monitors and
/// runs first, as the rest refers to them). A unit test holds this list to
/// the SQLite schema, so a new column cannot be left behind unnoticed.
const TABLES: &[Table] = &[
    Table {
        name: "monitors",
        key: 1,
        columns: &[
            ("id", Int),
            ("name", Text),
            ("created_ms", Int),
            ("thinned_ms", Int),
        ],
        identity: true,
    },
    Table {
        name: "runs",
        key: 1,
        columns: &[
            ("id", Int),
            ("started_ms", Int),
            ("alive_ms", Int),
            ("stopped_ms", NullInt),
        ],
        identity: true,
    },
    // Before `checks`, whose rows name their node by its id.
    Table {
        name: "check_nodes",
        key: 1,
        columns: &[("id", Int), ("name", Text)],
        identity: true,
    },
    Table {
        name: "checks",
        key: 2,
        columns: &[
            ("monitor_id", Int),
            ("at_ms", Int),
            ("cause", Int),
            ("flags", Int),
            ("timings", Blob),
        ],
        identity: false,
    },
    Table {
        name: "check_details",
        key: 2,
        columns: &[("monitor_id", Int), ("at_ms", Int), ("detail", Text)],
        identity: false,
    },
    Table {
        name: "rollups_hourly",
        key: 2,
        columns: ROLLUP_COLUMNS,
        identity: false,
    },
    Table {
        name: "rollups_daily",
        key: 2,
        columns: ROLLUP_COLUMNS,
        identity: false,
    },
    Table {
        name: "incidents",
        key: 1,
        columns: &[
            ("id", Text),
            ("alert", Text),
            ("monitor", Text),
            ("severity", Text),
            ("state", Text),
            ("cause", Text),
            ("verdict", Text),
            ("responder", NullText),
            ("evidence", NullText),
            ("value", Real),
            ("threshold", Real),
            ("started_ms", Int),
            ("resolved_ms", NullInt),
            ("acknowledged", Int),
            ("folded_into", NullText),
            ("notified_ms", NullInt),
            ("regions", NullText),
        ],
        identity: false,
    },
    Table {
        name: "annotations",
        key: 1,
        columns: &[
            ("id", Int),
            ("at_ms", Int),
            ("text", Text),
            ("monitors", Text),
        ],
        identity: true,
    },
    Table {
        name: "reports",
        key: 1,
        columns: &[
            ("id", Int),
            ("title", Text),
            ("status", Text),
            ("monitors", Text),
            ("pages", Text),
            ("created_ms", Int),
            ("resolved_ms", NullInt),
        ],
        identity: true,
    },
    // After `reports`, whose ids its rows refer to.
    Table {
        name: "report_updates",
        key: 1,
        columns: &[
            ("id", Int),
            ("report_id", Int),
            ("at_ms", Int),
            ("status", Text),
            ("message", Text),
        ],
        identity: true,
    },
    Table {
        name: "deliveries",
        key: 1,
        columns: &[
            ("id", Text),
            ("notifier", Text),
            ("events", Text),
            ("state", Text),
            ("attempts", Int),
            ("created_ms", Int),
            ("next_attempt_ms", Int),
            ("last_error", NullText),
            ("subscriber", NullInt),
        ],
        identity: false,
    },
    Table {
        name: "subscribers",
        key: 1,
        columns: &[
            ("id", Int),
            ("page", Text),
            ("email", Text),
            ("created_ms", Int),
            ("asked_ms", Int),
            ("confirmed_ms", NullInt),
        ],
        identity: true,
    },
    Table {
        name: "signing_keys",
        key: 1,
        columns: &[("name", Text), ("key", Blob)],
        identity: false,
    },
];

/// One value of a row on its way from the source to the target.
#[derive(Debug, Clone)]
enum Value {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Blob(Vec<u8>),
}

/// What was copied of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The table.
    pub table: &'static str,
    /// Rows copied.
    pub rows: u64,
    /// Time it took.
    pub elapsed: Duration,
}

/// Why a copy did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopyError {
    /// The source file does not exist. It is not created: an empty
    /// database would copy nothing and look like success.
    #[error("{path}: no such file (the SQLite database to copy from)")]
    NoSource {
        /// The path given.
        path: String,
    },
    /// The source could not be opened (not a SQLite database, unreadable,
    /// a migration failed).
    #[error("cannot open the source {path}: {source}")]
    Source {
        /// The path given.
        path: String,
        /// Why.
        source: StoreError,
    },
    /// The target could not be opened or migrated (unreachable, refused
    /// login; the message names the server, never the password).
    #[error("cannot open the target: {0}")]
    Target(StoreError),
    /// The target already holds rows of `table`: nothing was written.
    #[error(
        "the target already holds {table}: migrate-store copies only into an empty database, and has written nothing"
    )]
    NotEmpty {
        /// The first of checks, incidents, monitors found with rows.
        table: &'static str,
    },
    /// Looking for rows in the target failed: nothing was written.
    #[error("cannot look for rows in the target: {0}")]
    Inspect(StoreError),
    /// A batch could not be read or written; the batches before it are in
    /// the target.
    #[error(
        "copying {table}: batch {batch} (rows {first} to {last}) could not be {step}: {source}"
    )]
    Batch {
        /// The table.
        table: &'static str,
        /// Its batch, from 1.
        batch: u64,
        /// First row of the batch, from 1.
        first: u64,
        /// Last row it would hold if full.
        last: u64,
        /// "read from the source" or "written into the target".
        step: &'static str,
        /// Why.
        source: StoreError,
    },
    /// Every row of `table` was copied, but its id sequence could not be
    /// moved past them.
    #[error("copying {table}: the id sequence could not be moved past the copied ids: {source}")]
    Sequence {
        /// The table.
        table: &'static str,
        /// Why.
        source: StoreError,
    },
}

impl CopyError {
    /// Whether the target may now hold part of the copy, and must be
    /// dropped and created empty before the next try.
    pub fn left_partial_copy(&self) -> bool {
        matches!(self, Self::Batch { .. } | Self::Sequence { .. })
    }
}

/// Opens the SQLite file at `from` (migrating it to the current schema)
/// and the database at `to`, and copies every table; `done` is told of
/// each table as it completes. Both stores are closed before returning.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn migrate(
    from: &Path,
    to: &Location,
    done: impl FnMut(&Copied),
) -> Result<Vec<Copied>, CopyError> {
    let source = open_source(from).await?;
    let target = match Store::open_at(to).await {
        Ok(target) => target,
        Err(err) => {
            source.close().await;
            return Err(CopyError::Target(err));
        }
    };
    let copied = copy_store(&source, &target, done).await;
    source.close().await;
    target.close().await;
    copied
}

/// Opens an existing SQLite store; a missing file is an error, not a new
/// database.
pub async fn open_source(path: &Path) -> Result<Store, CopyError> {
    if !path.is_file() {
        return Err(CopyError::NoSource {
            path: path.display().to_string(),
        });
    }
    Store::open(path).await.map_err(|source| CopyError::Source {
        path: path.display().to_string(),
        source,
    })
}

/// Copies every table of `source` into `target`, which must hold no check,
/// incident or monitor; `done` is told of each table as it completes.
/// Returns the rows copied per table, in the order copied.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn copy_store(
    source: &Store,
    target: &Store,
    mut done: impl FnMut(&Copied),
) -> Result<Vec<Copied>, CopyError> {
    refuse_non_empty(target).await?;
    let mut copied = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let started = Instant::now();
        let rows = copy_table(source, target, table).await?;
        if table.identity {
            move_sequence(target, table)
                .await
                .map_err(|source| CopyError::Sequence {
                    table: table.name,
                    source,
                })?;
        }
        let table = Copied {
            table: table.name,
            rows,
            elapsed: started.elapsed(),
        };
        done(&table);
        copied.push(table);
    }
    Ok(copied)
}

async fn refuse_non_empty(target: &Store) -> Result<(), CopyError> {
    for table in MUST_BE_EMPTY {
        // `table` is one of three constants, never user input.
        let sql = format!("SELECT 1 FROM {table} LIMIT 1");
        let found = on_backend!(target, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_optional(pool)
                .await
                .map_err(|err| CopyError::Inspect(err.into()))?
                .is_some()
        });
        if found {
            return Err(CopyError::NotEmpty { table });
        }
    }
    Ok(())
}

/// Copies one table batch by batch; returns its row count. The next batch
/// is read from the source while the current one is written into the
/// target, so neither database waits for the other.
async fn copy_table(source: &Store, target: &Store, table: &Table) -> Result<u64, CopyError> {
    // Every batch before the last is full, so a batch's rows follow from
    // its number.
    let failed = |batch: u64, step, source| CopyError::Batch {
        table: table.name,
        batch,
        first: (batch - 1) * BATCH_ROWS as u64 + 1,
        last: batch * BATCH_ROWS as u64,
        step,
        source,
    };
    const READ: &str = "read from the source";
    const WRITE: &str = "written into the target";
    let mut batch = 1;
    let mut rows = 0;
    let mut current = read_batch(source, table, None)
        .await
        .map_err(|err| failed(batch, READ, err))?;
    while !current.is_empty() {
        let count = current.len();
        let after = current.last().map(|row| row[..table.key].to_vec());
        let read_next = async {
            if count < BATCH_ROWS {
                return Ok(Vec::new());
            }
            read_batch(source, table, after.as_deref()).await
        };
        let (written, next) = tokio::join!(write_batch(target, table, current), read_next);
        written.map_err(|err| failed(batch, WRITE, err))?;
        rows += count as u64;
        tracing::debug!(table = table.name, batch, rows, "copied");
        batch += 1;
        current = next.map_err(|err| failed(batch, READ, err))?;
    }
    Ok(rows)
}

/// Up to [`BATCH_ROWS`] rows of `table` whose key comes after `after`, in
/// key order.
async fn read_batch(
    source: &Store,
    table: &Table,
    after: Option<&[Value]>,
) -> Result<Vec<Vec<Value>>, StoreError> {
    let key = column_list(&table.columns[..table.key]);
    let head = format!("SELECT {} FROM {} ", column_list(table.columns), table.name);
    Ok(on_backend!(source, pool => {
        // Names come from `TABLES`; the key values are bound.
        let mut select = QueryBuilder::new(&head);
        if let Some(after) = after {
            // A row-value comparison: (a, b) > (x, y) in key order, which
            // both databases answer from the primary key's index.
            select.push(format_args!("WHERE ({key}) > ("));
            let mut values = select.separated(", ");
            for value in after {
                push_value(&mut values, value.clone());
            }
            values.push_unseparated(") ");
        }
        select.push(format_args!("ORDER BY {key} LIMIT "));
        select.push_bind(BATCH_ROWS as i64);
        let rows = select.build().fetch_all(pool).await?;
        rows.iter()
            .map(|row| read_row(row, table.columns))
            .collect::<Result<Vec<_>, sqlx::Error>>()?
    }))
}

/// Writes `rows` into `table` of the target in one transaction.
async fn write_batch(
    target: &Store,
    table: &Table,
    rows: Vec<Vec<Value>>,
) -> Result<(), StoreError> {
    let (head, tail) = insert_around(table, target.backend());
    let rows = into_target_layout(table, target.backend(), rows);
    let width = rows.first().map_or(1, Vec::len);
    let per_statement = (STATEMENT_BINDS / width).max(1);
    on_backend!(target, pool => {
        let mut tx = pool.begin().await?;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut insert = QueryBuilder::new(&head);
            insert.push_values(rows.by_ref().take(per_statement), |mut row, values| {
                for value in values {
                    push_value(&mut row, value);
                }
            });
            insert.push(tail);
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// The INSERT of a batch of `table` into `target`, before and after its
/// VALUES list. PostgreSQL keys and packs checks its own way
/// (`store::check_rows`): SQLite's rows are converted there.
fn insert_around(table: &Table, target: &Backend) -> (String, &'static str) {
    match (table.name, target) {
        ("checks", Backend::Postgres(_)) => (COPY_INTO_POSTGRES.0.to_owned(), COPY_INTO_POSTGRES.1),
        _ => (
            format!(
                "INSERT INTO {} ({}) ",
                table.name,
                column_list(table.columns)
            ),
            "",
        ),
    }
}

/// `rows` of `table` as `target` takes them: PostgreSQL keeps a check's
/// timings as integer columns, which SQLite packs into one blob, the
/// row's last value.
fn into_target_layout(
    table: &Table,
    target: &Backend,
    mut rows: Vec<Vec<Value>>,
) -> Vec<Vec<Value>> {
    if let ("checks", Backend::Postgres(_)) = (table.name, target) {
        for row in &mut rows {
            match row.pop() {
                Some(Value::Blob(timings)) => {
                    let columns = Timings::columns_of(&timings);
                    row.extend(columns.map(|value| Value::Int(Some(value))));
                }
                // `TABLES` puts the blob last (a test holds it there).
                other => row.extend(other),
            }
        }
    }
    rows
}

/// Sets the next generated id of `table` on PostgreSQL to one past the
/// largest copied (SQLite's rowid ids already follow the largest).
async fn move_sequence(target: &Store, table: &Table) -> Result<(), StoreError> {
    if let Backend::Postgres(pool) = target.backend() {
        let name = table.name;
        // `name` comes from `TABLES`; `false`: the value given is the next one.
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{name}', 'id'), COALESCE(MAX(id), 0) + 1, false) \
             FROM {name}"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
    }
    Ok(())
}

fn column_list(columns: &[(&str, Kind)]) -> String {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

/// A row of either backend as owned values, by the columns' kinds.
fn read_row<'r, R>(row: &'r R, columns: &[(&str, Kind)]) -> Result<Vec<Value>, sqlx::Error>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut values = Vec::with_capacity(columns.len());
    for (at, (_, kind)) in columns.iter().enumerate() {
        values.push(match kind {
            Int => Value::Int(Some(row.try_get(at)?)),
            NullInt => Value::Int(row.try_get(at)?),
            Real => Value::Real(row.try_get(at)?),
            Text => Value::Text(Some(row.try_get(at)?)),
            NullText => Value::Text(row.try_get(at)?),
            Blob => Value::Blob(row.try_get(at)?),
        });
    }
    Ok(values)
}

/// Binds one value into a statement of either backend.
fn push_value<DB>(row: &mut Separated<'_, DB, &'static str>, value: Value)
where
    DB: Database,
    Option<i64>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Option<f64>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Vec<u8>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
{
    match value {
        Value::Int(value) => row.push_bind(value),
        Value::Real(value) => row.push_bind(value),
        Value::Text(value) => row.push_bind(value),
        Value::Blob(value) => row.push_bind(value),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table and its columns in the SQLite schema the migrations leave.
    async fn schema(store: &Store) -> Vec<(String, Vec<String>)> {
        let Backend::Sqlite(pool) = store.backend() else {
            panic!("a SQLite store");
        };
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_%' ORDER BY name",
        )
        .fetch_all(pool)
        .await
        .expect("tables");
        let mut schema = Vec::new();
        for table in tables {
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                    .bind(&table)
                    .fetch_all(pool)
                    .await
                    .expect("columns");
            schema.push((table, columns));
        }
        schema
    }

    #[tokio::test]
    async fn every_table_and_column_of_the_schema_is_copied() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("s.db")).await.expect("open");
        let mut listed: Vec<(String, Vec<String>)> = TABLES
            .iter()
            .map(|table| {
                let columns = table.columns.iter().map(|(name, _)| (*name).to_owned());
                (table.name.to_owned(), columns.collect())
            })
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            schema(&store).await,
            "a table or column was added to the schema: give it its place in TABLES"
        );
        store.close().await;
    }

    #[test]
    fn checks_are_read_as_their_conversion_into_postgres_expects() {
        use crate::store::check_rows::COPY_SQLITE_COLUMNS;
        let checks = TABLES.iter().find(|t| t.name == "checks").expect("checks");
        let names: Vec<&str> = checks.columns.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, COPY_SQLITE_COLUMNS);
        // `into_target_layout` unpacks the last value.
        assert_eq!(checks.columns.last(), Some(&("timings", Blob)));
    }

    #[test]
    fn keys_lead_the_columns_and_the_generated_ids_are_known() {
        for table in TABLES {
            assert!((1..=table.columns.len()).contains(&table.key), "{table:?}");
            let generated = table.columns[0] == ("id", Int);
            assert_eq!(table.identity, generated, "{table:?}");
        }
    }
}
