//! Incidents, annotations and the delivery outbox in SQLite. Every change
//! to an incident and the deliveries it causes commit in one transaction.

use std::time::SystemTime;

use serde::Serialize;
use sqlx::Row;

use super::subscribers::{Fanout, queue_fanout};
use super::{Store, StoreError, from_unix_ms, on_backend, unix_ms};
use crate::incident::{
    AlertEvent, Annotation, EventKind, Incident, IncidentState, Notice, Severity,
};
use crate::monitor::{Cause, Verdict};

/// A message to queue for a notifier.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// The id the receiver will see on every try.
    pub id: String,
    /// The notifier's name.
    pub notifier: String,
    /// What to send.
    pub events: Vec<AlertEvent>,
}

/// What an incident change queues: its notifiers' messages and, when
/// subscribers hear of incidents, theirs. Converts from the deliveries
/// alone, as most changes queue only those.
#[derive(Debug, Clone, Copy, Default)]
pub struct Messages<'a> {
    /// One per notifier of the alert.
    pub deliveries: &'a [NewDelivery],
    /// To the subscribers of the pages that show the monitor.
    pub fanout: Option<&'a Fanout>,
}

impl<'a> From<&'a [NewDelivery]> for Messages<'a> {
    fn from(deliveries: &'a [NewDelivery]) -> Self {
        Self {
            deliveries,
            fanout: None,
        }
    }
}

impl<'a> From<&'a Vec<NewDelivery>> for Messages<'a> {
    fn from(deliveries: &'a Vec<NewDelivery>) -> Self {
        Self::from(deliveries.as_slice())
    }
}

impl<'a, const N: usize> From<&'a [NewDelivery; N]> for Messages<'a> {
    fn from(deliveries: &'a [NewDelivery; N]) -> Self {
        Self::from(deliveries.as_slice())
    }
}

impl Messages<'_> {
    /// Whether anything at all is queued.
    pub fn is_empty(&self) -> bool {
        self.deliveries.is_empty() && self.fanout.is_none()
    }
}

/// A message for one subscriber: whom (the row, looked up when sending)
/// and what.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriberNotice {
    /// The subscriber's row id.
    pub subscriber: i64,
    /// What to tell them.
    pub notice: Notice,
}

/// A queued message, as the dispatcher reads it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Delivery id.
    pub id: String,
    /// Notifier name.
    pub notifier: String,
    /// The events (JSON decoded); none for a subscriber's message.
    pub events: Vec<AlertEvent>,
    /// Set for a message to one subscriber instead of the notifier's own
    /// recipients.
    pub subscriber: Option<SubscriberNotice>,
    /// Tries so far.
    pub attempts: u32,
    /// Queued at, unix ms.
    pub created_ms: i64,
    /// Not to be tried before, unix ms.
    pub next_attempt_ms: i64,
}

/// Where a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not taken yet: untried, or waiting for its next try.
    Pending,
    /// The receiver took it.
    Sent,
    /// Given up on.
    Failed,
}

/// A message about one incident, for the incident's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentMessage {
    /// Delivery id.
    pub id: String,
    /// Notifier name.
    pub notifier: String,
    /// Firing (first or repeat) or resolved.
    pub kind: EventKind,
    /// Other incidents' events sent in the same message (an alert storm).
    pub grouped_with: usize,
    /// Where it stands.
    pub state: DeliveryState,
    /// Tries so far.
    pub attempts: u32,
    /// Queued.
    pub queued_at: SystemTime,
    /// The last try was due then (sent or failed), or the next one is
    /// (pending after a failed try); the queue time before any try.
    pub try_at: SystemTime,
}

/// What a page tells of an incident besides its own row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentActivity {
    /// Its messages, oldest first.
    pub messages: Vec<IncidentMessage>,
    /// The incidents folded into it, oldest first.
    pub folded: Vec<Incident>,
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// Adds messages to the outbox inside the caller's transaction (a macro:
/// the transaction's type differs per backend).
macro_rules! queue {
    ($tx:expr, $messages:expr, $now:expr) => {
        let messages: Messages<'_> = $messages;
        if let Some(fanout) = messages.fanout {
            queue_fanout!($tx, fanout, $now);
        }
        for delivery in messages.deliveries {
            sqlx::query(
                "INSERT INTO deliveries (id, notifier, events, state, created_ms, next_attempt_ms) \
                 VALUES ($1, $2, $3, 'pending', $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(&delivery.id)
            .bind(&delivery.notifier)
            .bind(json(&delivery.events))
            .bind($now)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        }
    };
}

/// Who a delivery of the outbox goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients {
    /// A notifier's own recipients (alerts, announcements).
    Notifiers,
    /// One subscriber of a page.
    Subscribers,
}

impl Store {
    /// Records a new incident and queues its first messages.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn open_incident(
        &self,
        incident: &Incident,
        messages: impl Into<Messages<'_>>,
    ) -> Result<(), StoreError> {
        let messages: Messages<'_> = messages.into();
        let now = unix_ms(SystemTime::now());
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            self.check_fence(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO incidents (id, alert, monitor, severity, state, cause, verdict, responder, evidence, \
                 value, threshold, started_ms, acknowledged, folded_into, notified_ms) \
                 VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9, $10, $11, 0, $12, $13)",
            )
            .bind(&incident.id)
            .bind(&incident.alert)
            .bind(&incident.monitor)
            .bind(incident.severity.as_str())
            .bind(incident.cause.as_str())
            .bind(json(&incident.verdict))
            .bind(incident.responder.as_ref().map(json))
            .bind(incident.evidence.as_ref().map(json))
            .bind(incident.value)
            .bind(incident.threshold)
            .bind(unix_ms(incident.started_at))
            .bind(&incident.folded_into)
            .bind((!messages.deliveries.is_empty()).then_some(now))
            .bind(json(&incident.regions))
            .execute(&mut *tx)
            .await?;
            queue!(tx, messages, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Queues messages that belong to no incident (maintenance
    /// announcements). A delivery whose id is already in the outbox is
    /// left as it is: queueing the same announcement twice sends it once.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn queue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<(), StoreError> {
        let now = unix_ms(SystemTime::now());
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            self.check_fence(&mut *tx).await?;
            queue!(tx, Messages::from(deliveries), now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Marks an incident resolved and queues its resolved messages.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn resolve_incident(
        &self,
        id: &str,
        at: SystemTime,
        messages: impl Into<Messages<'_>>,
    ) -> Result<(), StoreError> {
        let messages: Messages<'_> = messages.into();
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            self.check_fence(&mut *tx).await?;
            sqlx::query("UPDATE incidents SET state = 'resolved', resolved_ms = $1 WHERE id = $2 AND state = 'open'")
                .bind(unix_ms(at))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            queue!(tx, messages, unix_ms(SystemTime::now()));
            tx.commit().await?;
        });
        Ok(())
    }

    /// Queues repeat messages of an open incident.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn repeat_incident(
        &self,
        id: &str,
        deliveries: &[NewDelivery],
    ) -> Result<(), StoreError> {
        let now = unix_ms(SystemTime::now());
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            self.check_fence(&mut *tx).await?;
            sqlx::query("UPDATE incidents SET notified_ms = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            queue!(tx, Messages::from(deliveries), now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// An incident that was folded pages on its own now: the fold goes,
    /// its verdict is the newer one, and its messages are queued, at once.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %incident.id))]
    pub async fn unfold_incident(
        &self,
        incident: &Incident,
        messages: impl Into<Messages<'_>>,
    ) -> Result<(), StoreError> {
        let messages: Messages<'_> = messages.into();
        let now = unix_ms(SystemTime::now());
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            self.check_fence(&mut *tx).await?;
            sqlx::query(
                "UPDATE incidents SET folded_into = NULL, verdict = $1, notified_ms = $2 WHERE id = $3",
            )
            .bind(json(&incident.verdict))
            .bind(now)
            .bind(&incident.id)
            .execute(&mut *tx)
            .await?;
            queue!(tx, messages, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records that an incident is folded into another.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
    pub async fn fold_incident(&self, id: &str, into: &str) -> Result<(), StoreError> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            self.check_fence(&mut *tx).await?;
            sqlx::query("UPDATE incidents SET folded_into = $1 WHERE id = $2")
                .bind(into)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Acknowledges an incident; false when there is no such incident.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
    pub async fn acknowledge(&self, id: &str) -> Result<bool, StoreError> {
        let done = on_backend!(self, pool => {
            sqlx::query("UPDATE incidents SET acknowledged = 1 WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    /// Incidents, newest first: all open ones, or those in `state`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn incidents(
        &self,
        state: Option<IncidentState>,
        limit: u32,
    ) -> Result<Vec<Incident>, StoreError> {
        let mut incidents = on_backend!(self, pool => {
            let rows = match state {
                Some(state) => sqlx::query(
                    "SELECT * FROM incidents WHERE state = $1 ORDER BY started_ms DESC LIMIT $2",
                )
                .bind(state.as_str())
                .bind(i64::from(limit)),
                None => sqlx::query("SELECT * FROM incidents ORDER BY started_ms DESC LIMIT $1")
                    .bind(i64::from(limit)),
            }
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(incident_from_row)
                .collect::<Result<Vec<_>, _>>()?
        });
        for incident in &mut incidents {
            incident.annotations = self
                .annotations_before(&incident.monitor, incident.started_at)
                .await?;
        }
        Ok(incidents)
    }

    /// One incident by id.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
    pub async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let Some(mut incident) = on_backend!(self, pool => {
            let row = sqlx::query("SELECT * FROM incidents WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(incident_from_row).transpose()?
        }) else {
            return Ok(None);
        };
        incident.annotations = self
            .annotations_before(&incident.monitor, incident.started_at)
            .await?;
        Ok(Some(incident))
    }

    /// The messages queued about incident `id` and the incidents folded
    /// into it. A message names its incidents only inside its `events`
    /// JSON, so the outbox is searched with a LIKE pattern (plain SQL for
    /// every backend, but a scan of the outbox) and each match is checked
    /// by decoding its events.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
    pub async fn incident_activity(&self, id: &str) -> Result<IncidentActivity, StoreError> {
        let pattern = format!("%\"incident_id\":{}%", like_escape(&json(&id)));
        let (rows, folded) = on_backend!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, notifier, events, state, attempts, created_ms, next_attempt_ms \
                 FROM deliveries WHERE subscriber IS NULL AND events LIKE $1 ESCAPE '\\' \
                 ORDER BY created_ms, id",
            )
            .bind(pattern)
            .fetch_all(pool)
            .await?;
            let rows = rows
                .iter()
                .map(|row| {
                    Ok((
                        row.try_get::<String, _>(0)?,
                        row.try_get::<String, _>(1)?,
                        row.try_get::<String, _>(2)?,
                        row.try_get::<String, _>(3)?,
                        row.try_get::<i64, _>(4)?,
                        row.try_get::<i64, _>(5)?,
                        row.try_get::<i64, _>(6)?,
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let folded = sqlx::query(
                "SELECT * FROM incidents WHERE folded_into = $1 ORDER BY started_ms, id",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
            .iter()
            .map(incident_from_row)
            .collect::<Result<Vec<_>, _>>()?;
            (rows, folded)
        });
        let mut messages = Vec::with_capacity(rows.len());
        for (delivery, notifier, events, state, attempts, queued_ms, try_ms) in rows {
            let events: Vec<AlertEvent> = serde_json::from_str(&events).unwrap_or_default();
            let Some(event) = events.iter().find(|e| e.incident_id == id) else {
                continue;
            };
            let state = match state.as_str() {
                "sent" => DeliveryState::Sent,
                "failed" => DeliveryState::Failed,
                _ => DeliveryState::Pending,
            };
            messages.push(IncidentMessage {
                id: delivery,
                notifier,
                kind: event.kind,
                grouped_with: events.len() - 1,
                state,
                attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
                queued_at: from_unix_ms(queued_ms),
                try_at: from_unix_ms(try_ms),
            });
        }
        Ok(IncidentActivity { messages, folded })
    }

    /// Stores a deploy or change marker; `monitors` empty means all.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn add_annotation(
        &self,
        at: SystemTime,
        text: &str,
        monitors: &[String],
    ) -> Result<i64, StoreError> {
        Ok(on_backend!(self, pool => {
            sqlx::query(
                "INSERT INTO annotations (at_ms, text, monitors) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(unix_ms(at))
            .bind(text)
            .bind(json(&monitors))
            .fetch_one(pool)
            .await?
            .try_get(0)?
        }))
    }

    /// Markers for `monitor` in the hour up to `at`, oldest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn annotations_before(
        &self,
        monitor: &str,
        at: SystemTime,
    ) -> Result<Vec<Annotation>, StoreError> {
        let end = unix_ms(at);
        let rows = on_backend!(self, pool => {
            let rows = sqlx::query("SELECT at_ms, text, monitors FROM annotations WHERE at_ms BETWEEN $1 AND $2 ORDER BY at_ms")
                .bind(end - 3_600_000)
                .bind(end)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
                .collect::<Result<Vec<(i64, String, String)>, StoreError>>()?
        });
        let mut out = Vec::new();
        for (at_ms, text, monitors) in rows {
            let monitors: Vec<String> = serde_json::from_str(&monitors).unwrap_or_default();
            if monitors.is_empty() || monitors.iter().any(|m| m == monitor) {
                out.push(Annotation {
                    at: from_unix_ms(at_ms),
                    text,
                });
            }
        }
        Ok(out)
    }

    /// Pending deliveries, oldest first (due or waiting for a retry), the
    /// notifiers' own before the subscribers'.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn pending_deliveries(&self, limit: u32) -> Result<Vec<Delivery>, StoreError> {
        let mut pending = self
            .pending_deliveries_to(Recipients::Notifiers, limit)
            .await?;
        let room = limit.saturating_sub(u32::try_from(pending.len()).unwrap_or(u32::MAX));
        if room > 0 {
            pending.extend(
                self.pending_deliveries_to(Recipients::Subscribers, room)
                    .await?,
            );
        }
        Ok(pending)
    }

    /// Pending deliveries to `to`, oldest first (due or waiting for a retry).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn pending_deliveries_to(
        &self,
        to: Recipients,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        on_backend!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, notifier, events, attempts, created_ms, next_attempt_ms, subscriber \
                 FROM deliveries WHERE state = 'pending' AND (subscriber IS NULL) = $2 \
                 ORDER BY created_ms, id LIMIT $1",
            )
            .bind(i64::from(limit))
            .bind(to == Recipients::Notifiers)
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let events: String = row.try_get(2)?;
                let subscriber: Option<i64> = row.try_get(6)?;
                // A notice this version cannot read (written by a newer
                // node of a cluster) stays pending for a node that can.
                let (events, subscriber) = match subscriber {
                    None => (serde_json::from_str(&events).unwrap_or_default(), None),
                    Some(subscriber) => match serde_json::from_str(&events) {
                        Ok(notice) => (Vec::new(), Some(SubscriberNotice { subscriber, notice })),
                        Err(_) => continue,
                    },
                };
                out.push(Delivery {
                    id: row.try_get(0)?,
                    notifier: row.try_get(1)?,
                    events,
                    subscriber,
                    attempts: row.try_get::<i64, _>(3)?.clamp(0, i64::from(u32::MAX)) as u32,
                    created_ms: row.try_get(4)?,
                    next_attempt_ms: row.try_get(5)?,
                });
            }
            Ok(out)
        })
    }

    /// The soonest time a pending delivery is due, if any.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn next_delivery_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(on_backend!(self, pool => {
            sqlx::query("SELECT MIN(next_attempt_ms) FROM deliveries WHERE state = 'pending'")
                    .fetch_one(pool)
                    .await?
                    .try_get(0)?
        }))
    }

    /// The receiver took it: never sent again.
    #[tracing::instrument(level = "debug", skip_all, fields(id = %id))]
    pub async fn delivery_sent(&self, id: &str, attempts: u32) -> Result<(), StoreError> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            self.check_fence(&mut *tx).await?;
            sqlx::query(
                "UPDATE deliveries SET state = 'sent', attempts = $1, last_error = NULL WHERE id = $2",
            )
            .bind(i64::from(attempts))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Try again at `next`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn delivery_retry(
        &self,
        id: &str,
        attempts: u32,
        next: SystemTime,
        error: &str,
    ) -> Result<(), StoreError> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            self.check_fence(&mut *tx).await?;
            sqlx::query(
                "UPDATE deliveries SET attempts = $1, next_attempt_ms = $2, last_error = $3 WHERE id = $4",
            )
            .bind(i64::from(attempts))
            .bind(unix_ms(next))
            .bind(error)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Given up on.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn delivery_failed(
        &self,
        id: &str,
        attempts: u32,
        error: &str,
    ) -> Result<(), StoreError> {
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            self.check_fence(&mut *tx).await?;
            sqlx::query(
                "UPDATE deliveries SET state = 'failed', attempts = $1, last_error = $2 WHERE id = $3",
            )
            .bind(i64::from(attempts))
            .bind(error)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Replaces several untried deliveries of one notifier by one grouped
    /// delivery (an alert storm), atomically.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn group_deliveries(
        &self,
        grouped: &NewDelivery,
        replaced: &[String],
    ) -> Result<(), StoreError> {
        let now = unix_ms(SystemTime::now());
        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            self.check_fence(&mut *tx).await?;
            for id in replaced {
                sqlx::query(
                    "DELETE FROM deliveries WHERE id = $1 AND attempts = 0 AND state = 'pending'",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            queue!(tx, Messages::from(std::slice::from_ref(grouped)), now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deliveries by state (tests, diagnostics): (id, notifier, state, attempts).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn deliveries(&self) -> Result<Vec<(String, String, String, i64)>, StoreError> {
        on_backend!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, notifier, state, attempts FROM deliveries ORDER BY created_ms, id",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                .collect()
        })
    }
}

/// `text` matched literally by `LIKE ... ESCAPE '\'`.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An incident from a row of either backend.
fn incident_from_row<'r, R>(row: &'r R) -> Result<Incident, StoreError>
where
    R: Row,
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let text = |name: &'r str| -> Result<Option<String>, StoreError> {
        Ok(row.try_get::<Option<String>, _>(name)?)
    };
    let severity = match row.try_get::<String, _>("severity")?.as_str() {
        "warning" => Severity::Warning,
        "info" => Severity::Info,
        _ => Severity::Critical,
    };
    let state = if row.try_get::<String, _>("state")? == "open" {
        IncidentState::Open
    } else {
        IncidentState::Resolved
    };
    Ok(Incident {
        id: row.try_get("id")?,
        alert: row.try_get("alert")?,
        monitor: row.try_get("monitor")?,
        severity,
        state,
        cause: row
            .try_get::<String, _>("cause")?
            .parse()
            .unwrap_or(Cause::Unknown),
        verdict: serde_json::from_str(&row.try_get::<String, _>("verdict")?).unwrap_or(Verdict {
            hop: crate::monitor::Hop::Unknown,
            summary: String::new(),
        }),
        responder: text("responder")?.and_then(|t| serde_json::from_str(&t).ok()),
        evidence: text("evidence")?.and_then(|t| serde_json::from_str(&t).ok()),
        value: row.try_get("value")?,
        threshold: row.try_get("threshold")?,
        started_at: from_unix_ms(row.try_get("started_ms")?),
        resolved_at: row
            .try_get::<Option<i64>, _>("resolved_ms")?
            .map(from_unix_ms),
        acknowledged: row.try_get::<i64, _>("acknowledged")? != 0,
        folded_into: row.try_get("folded_into")?,
        annotations: Vec::new(),
        notified_at: row
            .try_get::<Option<i64>, _>("notified_ms")?
            .map(from_unix_ms),
        regions: text("regions")?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::like_escape;

    #[test]
    fn like_patterns_match_wildcards_literally() {
        assert_eq!(like_escape(r#""a_b%c\d""#), r#""a\_b\%c\\d""#);
    }
}
