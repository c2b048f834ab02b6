//! Status reports and their timelines. A report and its first update are
//! written in one transaction, so a report never exists without its message.

use std::collections::HashMap;
use std::time::SystemTime;

use sqlx::Row;

use super::subscribers::{Audience, Fanout, queue_fanout};
use super::{Store, StoreError, from_unix_ms, on_backend, unix_ms};
use crate::incident::{Notice, Report, ReportStatus, ReportUpdate};

/// A report as a person posts it, checked by the caller.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// The headline.
    pub title: String,
    /// Its first status.
    pub status: ReportStatus,
    /// Its first message.
    pub message: String,
    /// The monitors it concerns.
    pub monitors: Vec<String>,
    /// The pages (slugs) it concerns.
    pub pages: Vec<String>,
}

/// Which reports a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportState {
    /// Not resolved yet.
    Open,
    /// Resolved by an update.
    Resolved,
}

/// A `reports` row before its updates are attached.
type ReportRow = (i64, String, String, String, String, i64, Option<i64>);

/// Every SQL text here is built from these constants and fixed filters;
/// values are always bound, so `AssertSqlSafe` holds.
const REPORT_COLUMNS: &str = "id, title, status, monitors, pages, created_ms, resolved_ms";

fn list_json(names: &[String]) -> String {
    serde_json::to_string(names).unwrap_or_else(|_| "[]".to_owned())
}

/// A status word read back; one this version does not know (written by a
/// newer node of a cluster) reads as `investigating`, the most careful one.
fn status_of(word: &str) -> ReportStatus {
    ReportStatus::parse(word).unwrap_or(ReportStatus::Investigating)
}

/// What the subscribers of `audience` are sent for update `update` of
/// report `report`; its id makes queueing it twice send it once.
fn fanout(
    audience: &Audience,
    report: i64,
    update: i64,
    title: &str,
    status: ReportStatus,
    message: &str,
    at_ms: i64,
) -> Fanout {
    Fanout {
        id: format!("report.{report}.{update}"),
        audience: audience.clone(),
        notice: Notice::Report {
            report,
            title: title.to_owned(),
            status,
            message: message.to_owned(),
            at: from_unix_ms(at_ms),
        },
    }
}

fn report_of(row: ReportRow) -> Report {
    let (id, title, status, monitors, pages, created_ms, resolved_ms) = row;
    Report {
        id,
        title,
        status: status_of(&status),
        monitors: serde_json::from_str(&monitors).unwrap_or_default(),
        pages: serde_json::from_str(&pages).unwrap_or_default(),
        created_at: from_unix_ms(created_ms),
        resolved_at: resolved_ms.map(from_unix_ms),
        updates: Vec::new(),
    }
}

impl Store {
    /// Stores a new report with its message as the first update, and
    /// queues that message for the subscribers of `audience` in the same
    /// transaction: posted means told, even across a crash.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn create_report(
        &self,
        new: &NewReport,
        at: SystemTime,
        audience: Option<&Audience>,
    ) -> Result<Report, StoreError> {
        let at_ms = unix_ms(at);
        let resolved_ms = (new.status == ReportStatus::Resolved).then_some(at_ms);
        let id: i64 = on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query(
                "INSERT INTO reports (title, status, monitors, pages, created_ms, resolved_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&new.title)
            .bind(new.status.as_str())
            .bind(list_json(&new.monitors))
            .bind(list_json(&new.pages))
            .bind(at_ms)
            .bind(resolved_ms)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            let update: i64 = sqlx::query_scalar(
                "INSERT INTO report_updates (report_id, at_ms, status, message) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(id)
            .bind(at_ms)
            .bind(new.status.as_str())
            .bind(&new.message)
            .fetch_one(&mut *tx)
            .await?;
            if let Some(audience) = audience {
                let fanout = fanout(audience, id, update, &new.title, new.status, &new.message, at_ms);
                queue_fanout!(tx, &fanout, at_ms);
            }
            tx.commit().await?;
            id
        });
        Ok(Report {
            id,
            title: new.title.clone(),
            status: new.status,
            monitors: new.monitors.clone(),
            pages: new.pages.clone(),
            created_at: from_unix_ms(at_ms),
            resolved_at: resolved_ms.map(from_unix_ms),
            updates: vec![ReportUpdate {
                at: from_unix_ms(at_ms),
                status: new.status,
                message: new.message.clone(),
            }],
        })
    }

    /// Adds an update to report `id` and sets its status: `resolved`
    /// closes it, any other status (re)opens it. The update is queued for
    /// the subscribers of `audience` in the same transaction. `None` when
    /// there is no such report.
    #[tracing::instrument(level = "debug", skip_all, fields(id))]
    pub async fn add_report_update(
        &self,
        id: i64,
        status: ReportStatus,
        message: &str,
        at: SystemTime,
        audience: Option<&Audience>,
    ) -> Result<Option<Report>, StoreError> {
        let at_ms = unix_ms(at);
        let resolved_ms = (status == ReportStatus::Resolved).then_some(at_ms);
        let found = on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            // A report resolved twice keeps the time it was first resolved.
            let changed = sqlx::query(
                "UPDATE reports SET status = $1, \
                 resolved_ms = CASE WHEN $2 IS NULL THEN NULL ELSE COALESCE(resolved_ms, $2) END \
                 WHERE id = $3",
            )
            .bind(status.as_str())
            .bind(resolved_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed > 0 {
                let update: i64 = sqlx::query_scalar(
                    "INSERT INTO report_updates (report_id, at_ms, status, message) \
                     VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(id)
                .bind(at_ms)
                .bind(status.as_str())
                .bind(message)
                .fetch_one(&mut *tx)
                .await?;
                if let Some(audience) = audience {
                    let title: String = sqlx::query_scalar("SELECT title FROM reports WHERE id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                    let fanout = fanout(audience, id, update, &title, status, message, at_ms);
                    queue_fanout!(tx, &fanout, at_ms);
                }
            }
            tx.commit().await?;
            changed > 0
        });
        if !found {
            return Ok(None);
        }
        self.report(id).await
    }

    /// Report `id` with its timeline, if there is one.
    #[tracing::instrument(level = "debug", skip_all, fields(id))]
    pub async fn report(&self, id: i64) -> Result<Option<Report>, StoreError> {
        let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1");
        let row: Option<ReportRow> = on_backend!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(pool).await?
        });
        let Some(row) = row else {
            return Ok(None);
        };
        let mut reports = vec![report_of(row)];
        self.attach_updates(&mut reports, "$1", id).await?;
        Ok(reports.pop())
    }

    /// The latest `limit` reports (all, or those in `state`), newest first,
    /// each with its timeline oldest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn reports(
        &self,
        state: Option<ReportState>,
        limit: u32,
    ) -> Result<Vec<Report>, StoreError> {
        let filter = match state {
            None => "",
            Some(ReportState::Open) => "WHERE resolved_ms IS NULL",
            Some(ReportState::Resolved) => "WHERE resolved_ms IS NOT NULL",
        };
        let newest = format!("FROM reports {filter} ORDER BY created_ms DESC, id DESC LIMIT $1");
        let sql = format!("SELECT {REPORT_COLUMNS} {newest}");
        let rows: Vec<ReportRow> = on_backend!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(i64::from(limit)).fetch_all(pool).await?
        });
        let mut reports: Vec<Report> = rows.into_iter().map(report_of).collect();
        // A report posted between the two reads may push one of these out
        // of the subquery's window: it then shows without its timeline
        // until the next read, which beats a second lock on both backends.
        self.attach_updates(
            &mut reports,
            &format!("SELECT id {newest}"),
            i64::from(limit),
        )
        .await?;
        Ok(reports)
    }

    /// Reads the timelines of `reports` in one query: those of the
    /// reports whose ids `which` selects, with `value` bound as its `$1`
    /// (the list's own query again, so the SQL stays one fixed text on
    /// both backends where a list of ids would need one per length).
    async fn attach_updates(
        &self,
        reports: &mut [Report],
        which: &str,
        value: i64,
    ) -> Result<(), StoreError> {
        if reports.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT report_id, at_ms, status, message FROM report_updates \
             WHERE report_id IN ({which}) ORDER BY report_id, at_ms, id"
        );
        let rows: Vec<(i64, i64, String, String)> = on_backend!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(value).fetch_all(pool).await?
        });
        let index: HashMap<i64, usize> =
            reports.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        for (report_id, at_ms, status, message) in rows {
            if let Some(&i) = index.get(&report_id) {
                reports[i].updates.push(ReportUpdate {
                    at: from_unix_ms(at_ms),
                    status: status_of(&status),
                    message,
                });
            }
        }
        Ok(())
    }
}
