//! Reading Uptime Kuma's setup: its SQLite database (opened read-only) or
//! its JSON backup, into one shape with the database's snake_case keys.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value as Json};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{Column, Connection, Row, TypeInfo, ValueRef};

use super::super::ImportError;

/// A monitor row (or backup object), keys in the database's spelling.
pub(crate) type Record = Map<String, Json>;

/// One monitor with what other tables say about it.
#[derive(Debug, Clone)]
pub(crate) struct Monitor {
    pub row: Record,
    /// Tags as `name` or `name:value`, sorted.
    pub tags: Vec<String>,
    /// Ids of the notifications it sends to.
    pub notifications: Vec<i64>,
}

/// One notification: its `config` is the provider's JSON settings.
#[derive(Debug, Clone)]
pub(crate) struct Notification {
    pub id: i64,
    pub name: String,
    pub active: bool,
    pub config: Map<String, Json>,
}

/// Everything read from the file.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    /// "database (2.x)", "backup of 1.23.16", … for the header.
    pub describe: String,
    pub monitors: Vec<Monitor>,
    pub notifications: Vec<Notification>,
    /// Days before a certificate expires that Uptime Kuma notifies.
    pub tls_expiry_days: Vec<u32>,
}

/// Uptime Kuma's default for `tlsExpiryNotifyDays`.
const TLS_EXPIRY_DAYS: [u32; 3] = [7, 14, 21];

/// The tables read, each with its query (every one has an `id`).
const TABLES: [(&str, &str); 6] = [
    ("monitor", "SELECT * FROM monitor ORDER BY id"),
    ("tag", "SELECT * FROM tag ORDER BY id"),
    ("monitor_tag", "SELECT * FROM monitor_tag ORDER BY id"),
    ("notification", "SELECT * FROM notification ORDER BY id"),
    (
        "monitor_notification",
        "SELECT * FROM monitor_notification ORDER BY id",
    ),
    ("setting", "SELECT * FROM setting ORDER BY id"),
];

/// Reads a `kuma.db` or a backup, told apart by their first bytes.
pub(crate) async fn read(path: &Path) -> Result<Setup, ImportError> {
    let label = path.display().to_string();
    let read_error = |source| ImportError::Read {
        path: label.clone(),
        source,
    };
    // The first bytes tell the two apart; a database (which may be large,
    // with its heartbeats) is then read by SQLite, not into memory.
    let mut magic = Vec::with_capacity(16);
    let file = std::fs::File::open(path).map_err(read_error)?;
    std::io::Read::read_to_end(&mut std::io::Read::take(file, 16), &mut magic)
        .map_err(read_error)?;
    if magic == b"SQLite format 3\0" {
        return database(path).await.map_err(|e| match e {
            Failure::NotKuma(reason) => ImportError::NotKuma {
                path: label,
                reason,
            },
            Failure::Sql(err) => ImportError::Database {
                path: label,
                reason: err.to_string(),
            },
        });
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    backup(&bytes).map_err(|reason| ImportError::NotKuma {
        path: label,
        reason,
    })
}

enum Failure {
    NotKuma(String),
    Sql(sqlx::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(err: sqlx::Error) -> Self {
        Failure::Sql(err)
    }
}

async fn database(path: &Path) -> Result<Setup, Failure> {
    // Read-only: Uptime Kuma may be running on this very file.
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let present: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut conn)
            .await?;
    let has = |t: &str| present.iter().any(|p| p == t);
    if !has("monitor") || !has("notification") {
        return Err(Failure::NotKuma(
            "an SQLite database without Uptime Kuma's monitor and notification tables".into(),
        ));
    }
    let mut tables: BTreeMap<&str, Vec<Record>> = BTreeMap::new();
    for (table, query) in TABLES.into_iter().filter(|(t, _)| has(t)) {
        let rows = sqlx::query(query).fetch_all(&mut conn).await?;
        tables.insert(table, rows.iter().map(record).collect());
    }
    conn.close().await?;

    let rows = |t: &str| tables.get(t).cloned().unwrap_or_default();
    let tag_names: BTreeMap<i64, String> = rows("tag")
        .iter()
        .filter_map(|t| Some((int(t, "id")?, string(t, "name")?)))
        .collect();
    let mut monitors: Vec<Monitor> = rows("monitor")
        .into_iter()
        .map(|row| Monitor {
            row,
            tags: Vec::new(),
            notifications: Vec::new(),
        })
        .collect();
    let by_id = |monitors: &mut Vec<Monitor>, id: Option<i64>| {
        let id = id?;
        monitors
            .iter_mut()
            .position(|m| int(&m.row, "id") == Some(id))
    };
    for link in rows("monitor_tag") {
        let Some(at) = by_id(&mut monitors, int(&link, "monitor_id")) else {
            continue;
        };
        let Some(name) = int(&link, "tag_id").and_then(|id| tag_names.get(&id)) else {
            continue;
        };
        monitors[at]
            .tags
            .push(tag(name, string(&link, "value").as_deref()));
    }
    for link in rows("monitor_notification") {
        let Some(at) = by_id(&mut monitors, int(&link, "monitor_id")) else {
            continue;
        };
        if let Some(id) = int(&link, "notification_id") {
            monitors[at].notifications.push(id);
        }
    }
    let notifications = rows("notification")
        .iter()
        .filter_map(|n| {
            let config = string(n, "config").unwrap_or_default();
            notification(n, &config)
        })
        .collect();
    let settings = rows("setting");
    let days = settings
        .iter()
        .find(|s| string(s, "key").as_deref() == Some("tlsExpiryNotifyDays"))
        .and_then(|s| string(s, "value"))
        .and_then(|v| serde_json::from_str::<Vec<u32>>(&v).ok())
        .unwrap_or_else(|| TLS_EXPIRY_DAYS.to_vec());
    // 2.x keeps its schema with knex; 1.x with numbered patches.
    let generation = if has("knex_migrations") { "2.x" } else { "1.x" };
    Ok(finish(Setup {
        describe: format!("database ({generation})"),
        monitors,
        notifications,
        tls_expiry_days: days,
    }))
}

/// A row as JSON, each value by the type SQLite stored it with.
fn record(row: &SqliteRow) -> Record {
    let mut out = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let kind = row
            .try_get_raw(i)
            .ok()
            .filter(|v| !v.is_null())
            .map(|v| v.type_info().name().to_owned());
        let value = match kind.as_deref() {
            Some("INTEGER") => row.try_get::<i64, _>(i).map(Json::from).ok(),
            Some("REAL") => row.try_get::<f64, _>(i).map(Json::from).ok(),
            Some("TEXT") => row.try_get::<String, _>(i).map(Json::from).ok(),
            _ => None,
        };
        out.insert(column.name().to_owned(), value.unwrap_or(Json::Null));
    }
    out
}

/// A 1.x backup: `{version, notificationList, monitorList}`.
fn backup(bytes: &[u8]) -> Result<Setup, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "neither SQLite nor JSON text".to_owned())?;
    let doc: Json = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let (Some(monitors), Some(notifications)) = (
        doc.get("monitorList").and_then(Json::as_array),
        doc.get("notificationList").and_then(Json::as_array),
    ) else {
        return Err("JSON without monitorList and notificationList".into());
    };
    let monitors = monitors
        .iter()
        .filter_map(Json::as_object)
        .map(|m| {
            let row: Record = m.iter().map(|(k, v)| (snake_case(k), v.clone())).collect();
            let tags = m
                .get("tags")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(|t| {
                    Some(tag(
                        t.get("name")?.as_str()?,
                        t.get("value").and_then(Json::as_str),
                    ))
                })
                .collect();
            let notifications = m
                .get("notificationIDList")
                .and_then(Json::as_object)
                .into_iter()
                .flatten()
                .filter(|(_, on)| truthy(on))
                .filter_map(|(id, _)| id.parse().ok())
                .collect();
            Monitor {
                row,
                tags,
                notifications,
            }
        })
        .collect();
    let notifications = notifications
        .iter()
        .filter_map(Json::as_object)
        .filter_map(|n| {
            let config = match n.get("config") {
                Some(Json::String(text)) => text.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            notification(n, &config)
        })
        .collect();
    let version = doc
        .get("version")
        .and_then(Json::as_str)
        .unwrap_or("an unknown version");
    Ok(finish(Setup {
        describe: format!("backup of {version}"),
        monitors,
        notifications,
        // The backup does not carry settings.
        tls_expiry_days: TLS_EXPIRY_DAYS.to_vec(),
    }))
}

fn notification(row: &Record, config: &str) -> Option<Notification> {
    let config = serde_json::from_str::<Map<String, Json>>(config).unwrap_or_default();
    Some(Notification {
        id: int(row, "id")?,
        name: string(row, "name")
            .or_else(|| config.get("name").and_then(Json::as_str).map(str::to_owned))
            .unwrap_or_default(),
        active: row.get("active").is_none_or(truthy),
        config,
    })
}

fn finish(mut setup: Setup) -> Setup {
    for monitor in &mut setup.monitors {
        monitor.tags.sort();
        monitor.tags.dedup();
        monitor.notifications.sort_unstable();
        monitor.notifications.dedup();
    }
    setup
}

fn tag(name: &str, value: Option<&str>) -> String {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(value) => format!("{name}:{value}"),
        None => name.to_owned(),
    }
}

/// `pushToken` -> `push_token`: the backup's keys in the database's spelling.
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A value as text: strings as they are, numbers spelled; empty is none.
pub(crate) fn string(row: &Record, key: &str) -> Option<String> {
    match row.get(key)? {
        Json::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A whole number, also from text or a boolean.
pub(crate) fn int(row: &Record, key: &str) -> Option<i64> {
    match row.get(key)? {
        Json::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Json::String(s) => s.trim().parse().ok(),
        Json::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// A number of seconds, which may have a fraction (`timeout`).
pub(crate) fn seconds(row: &Record, key: &str) -> Option<f64> {
    match row.get(key)? {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// SQLite booleans are 0/1; the backup has true/false.
pub(crate) fn flag(row: &Record, key: &str) -> bool {
    row.get(key).is_some_and(truthy)
}

fn truthy(value: &Json) -> bool {
    match value {
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::String(s) => matches!(s.as_str(), "1" | "true"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_keys_take_the_database_spelling() {
        assert_eq!(snake_case("pushToken"), "push_token");
        assert_eq!(snake_case("accepted_statuscodes"), "accepted_statuscodes");
        assert_eq!(snake_case("notificationIDList"), "notification_i_d_list");
    }

    #[test]
    fn a_backup_is_read_with_tags_and_notifications() {
        let doc = serde_json::json!({
            "version": "1.23.16",
            "notificationList": [{"id": 4, "name": "ops", "active": true,
                "config": "{\"type\":\"slack\",\"slackwebhookURL\":\"https://hooks.example/x\"}"}],
            "monitorList": [{"id": 1, "name": "web", "type": "http", "active": true,
                "ignoreTls": false, "notificationIDList": {"4": true, "5": false},
                "tags": [{"name": "env", "value": "prod"}, {"name": "web", "value": ""}]}]
        });
        let setup = backup(doc.to_string().as_bytes()).expect("a backup");
        assert_eq!(setup.describe, "backup of 1.23.16");
        assert_eq!(setup.monitors[0].tags, ["env:prod", "web"]);
        assert_eq!(setup.monitors[0].notifications, [4]);
        assert!(setup.monitors[0].row.contains_key("ignore_tls"));
        assert_eq!(setup.notifications[0].config["type"], "slack");
        assert!(backup(b"{\"a\": 1}").unwrap_err().contains("monitorList"));
        assert!(backup(b"\x00\x01").unwrap_err().contains("not JSON"));
    }
}
