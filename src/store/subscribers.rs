//! Email subscribers of the public pages, and the messages they are sent
//! (contract section 8). A subscriber is a row per page and address; each
//! message to one is an outbox row naming the row, never the address, so
//! that unsubscribing (which deletes the row) leaves no address behind.

use std::time::{Duration, SystemTime};

use sqlx::Row;

use super::{Store, StoreError, on_backend, unix_ms};
use crate::incident::Notice;

/// A second subscribe of an address not yet confirmed queues a new
/// confirmation only this long after the last: a form posted again and
/// again (from many addresses, past the per-client limit) cannot turn
/// hopwatch into a mail bomb.
pub const ASK_AGAIN_AFTER: Duration = Duration::from_secs(10 * 60);

/// The name of the key that signs the subscribers' links.
pub const LINKS_KEY: &str = "links";

/// Bytes of a signing key.
const KEY_BYTES: usize = 32;

/// Who hears of something: the confirmed subscribers of these pages,
/// through this (email) notifier. An address on several of the pages is
/// told once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    /// The notifier of `subscriptions.notifier`.
    pub notifier: String,
    /// Slugs of the public pages concerned.
    pub pages: Vec<String>,
}

/// One notice to every subscriber of an audience: a row each, with id
/// `{id}.s{subscriber}`, so queueing it twice sends it once.
#[derive(Debug, Clone, PartialEq)]
pub struct Fanout {
    /// The id the rows' ids start with.
    pub id: String,
    /// Who.
    pub audience: Audience,
    /// What.
    pub notice: Notice,
}

/// One subscriber, as the dispatcher and the links read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// Its row id, which the signed links name.
    pub id: i64,
    /// The page's slug.
    pub page: String,
    /// The address, lower case.
    pub email: String,
    /// Confirmed through the mailed link.
    pub confirmed: bool,
}

/// What a subscribe did. The page answers the same in every case: the
/// difference is only for the logs at debug level and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    /// A confirmation mail to subscriber `id` was queued.
    Asked(i64),
    /// Not confirmed yet, and asked less than [`ASK_AGAIN_AFTER`] ago.
    AskedRecently,
    /// Already confirmed: it stays so, and nothing is sent.
    AlreadyConfirmed,
}

/// Queues `$fanout` (a [`Fanout`]) inside the caller's transaction: one
/// row per address among the confirmed subscribers of its pages.
macro_rules! queue_fanout {
    ($tx:expr, $fanout:expr, $now:expr) => {{
        let fanout: &$crate::store::subscribers::Fanout = $fanout;
        if !fanout.audience.pages.is_empty() {
            let mut sql = String::from(
                "INSERT INTO deliveries (id, notifier, events, state, created_ms, next_attempt_ms, subscriber) \
                 SELECT $1 || CAST(id AS TEXT), $2, $3, 'pending', $4, $4, id FROM subscribers \
                 WHERE id IN (SELECT MIN(id) FROM subscribers \
                 WHERE confirmed_ms IS NOT NULL AND page IN (",
            );
            for n in 0..fanout.audience.pages.len() {
                if n > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", n + 5));
            }
            sql.push_str(") GROUP BY email) ON CONFLICT DO NOTHING");
            // Built from fixed text and numbered placeholders only.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(format!("{}.s", fanout.id))
                .bind(&fanout.audience.notifier)
                .bind(serde_json::to_string(&fanout.notice).unwrap_or_else(|_| "null".to_owned()))
                .bind($now);
            for page in &fanout.audience.pages {
                query = query.bind(page);
            }
            query.execute(&mut *$tx).await?;
        }
    }};
}
pub(crate) use queue_fanout;

/// Queues the confirmation mail of subscriber `$id` (its id tells each
/// asking apart) inside the caller's transaction.
macro_rules! queue_confirmation {
    ($tx:expr, $id:expr, $notifier:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO deliveries (id, notifier, events, state, created_ms, next_attempt_ms, subscriber) \
             VALUES ($1, $2, $3, 'pending', $4, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(format!("subscribe.{}.{}", $id, $now))
        .bind($notifier)
        .bind(serde_json::to_string(&Notice::Confirm).unwrap_or_else(|_| "null".to_owned()))
        .bind($now)
        .bind($id)
        .execute(&mut *$tx)
        .await?
    };
}

impl Store {
    /// Subscribes `email` (lower case, checked by the caller) to `page`
    /// and queues its confirmation through `notifier`, unless it is
    /// confirmed already or was asked moments ago.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn subscribe(
        &self,
        page: &str,
        email: &str,
        notifier: &str,
        now: SystemTime,
    ) -> Result<Subscribed, StoreError> {
        let now = unix_ms(now);
        let again_after = ASK_AGAIN_AFTER.as_millis() as i64;
        Ok(on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let new: Option<i64> = sqlx::query_scalar(
                "INSERT INTO subscribers (page, email, created_ms, asked_ms) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (page, email) DO NOTHING RETURNING id",
            )
            .bind(page)
            .bind(email)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let outcome = match new {
                Some(id) => {
                    queue_confirmation!(tx, id, notifier, now);
                    Subscribed::Asked(id)
                }
                None => {
                    let row = sqlx::query(
                        "SELECT id, asked_ms, confirmed_ms FROM subscribers WHERE page = $1 AND email = $2",
                    )
                    .bind(page)
                    .bind(email)
                    .fetch_one(&mut *tx)
                    .await?;
                    let id: i64 = row.try_get(0)?;
                    let asked_ms: i64 = row.try_get(1)?;
                    let confirmed_ms: Option<i64> = row.try_get(2)?;
                    if confirmed_ms.is_some() {
                        Subscribed::AlreadyConfirmed
                    } else if now - asked_ms < again_after {
                        Subscribed::AskedRecently
                    } else {
                        sqlx::query("UPDATE subscribers SET asked_ms = $1 WHERE id = $2")
                            .bind(now)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        queue_confirmation!(tx, id, notifier, now);
                        Subscribed::Asked(id)
                    }
                }
            };
            tx.commit().await?;
            outcome
        }))
    }

    /// Confirms subscriber `id`: `None` when there is no such subscriber
    /// (unsubscribed since), `Some(false)` when it was confirmed already.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn confirm_subscriber(
        &self,
        id: i64,
        now: SystemTime,
    ) -> Result<Option<bool>, StoreError> {
        let now = unix_ms(now);
        let (changed, exists) = on_backend!(self, pool => {
            let changed = sqlx::query(
                "UPDATE subscribers SET confirmed_ms = $1 WHERE id = $2 AND confirmed_ms IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected();
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM subscribers WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            (changed, exists.is_some())
        });
        Ok(exists.then_some(changed > 0))
    }

    /// Deletes subscriber `id` and the messages not yet sent to it; false
    /// when there was none.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn unsubscribe(&self, id: i64) -> Result<bool, StoreError> {
        let deleted = on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM deliveries WHERE subscriber = $1 AND state = 'pending'")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let deleted = sqlx::query("DELETE FROM subscribers WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            deleted
        });
        Ok(deleted > 0)
    }

    /// Subscriber `id`, if it still exists.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn subscriber(&self, id: i64) -> Result<Option<Subscriber>, StoreError> {
        let row: Option<(i64, String, String, Option<i64>)> = on_backend!(self, pool => {
            sqlx::query_as("SELECT id, page, email, confirmed_ms FROM subscribers WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(id, page, email, confirmed_ms)| Subscriber {
            id,
            page,
            email,
            confirmed: confirmed_ms.is_some(),
        }))
    }

    /// Queues one notice for every subscriber of an audience (maintenance,
    /// or anything that belongs to no incident or report).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn queue_fanout(&self, fanout: &Fanout) -> Result<(), StoreError> {
        let now = unix_ms(SystemTime::now());
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            queue_fanout!(tx, fanout, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// The key called `name`, made on first use and the same for every
    /// node of a cluster (whichever node makes it first wins).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn signing_key(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        use ring::rand::{SecureRandom, SystemRandom};
        let mut fresh = [0u8; KEY_BYTES];
        SystemRandom::new().fill(&mut fresh).map_err(|_| {
            StoreError::Database(sqlx::Error::Protocol(
                "the system's random source failed".to_owned(),
            ))
        })?;
        Ok(on_backend!(self, pool => {
            sqlx::query("INSERT INTO signing_keys (name, key) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(name)
                .bind(&fresh[..])
                .execute(pool)
                .await?;
            sqlx::query_scalar("SELECT key FROM signing_keys WHERE name = $1")
                .bind(name)
                .fetch_one(pool)
                .await?
        }))
    }
}
