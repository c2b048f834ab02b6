//! `hopwatch import gatus`: a Gatus config (YAML) mapped to hopwatch:
//! endpoints to monitors, alerting providers to notifiers, endpoint alerts
//! to alerts, maintenance to cron windows.

mod alerting;
mod conditions;
mod domain;
mod endpoints;
mod env;

use std::collections::BTreeSet;

use serde_json::{Map, Value as Json};

use super::ImportError;
use super::model::{Draft, Entry, Names, Section, Value, not_imported};

/// Everything the mapping of one file shares.
pub(crate) struct Context {
    pub draft: Draft,
    pub monitor_names: Names,
    pub alert_names: Names,
    pub notifier_names: Names,
    pub providers: alerting::Providers,
}

/// Reads the file and maps it.
pub(crate) fn import(text: &str, label: &str) -> Result<Draft, ImportError> {
    let not_gatus = |reason: String| ImportError::NotGatus {
        path: label.to_owned(),
        reason,
    };
    let tree: Json = serde_yaml_ng::from_str(text).map_err(|e| {
        let reason = e.to_string().replace('\n', " ");
        not_gatus(format!("YAML: {reason}"))
    })?;
    let Json::Object(mut top) = tree else {
        return Err(not_gatus(
            "expected a mapping with an endpoints list".into(),
        ));
    };
    let has_list = |key: &str| top.get(key).is_some_and(Json::is_array);
    if !has_list("endpoints") && !has_list("external-endpoints") {
        let keys: Vec<&str> = top.keys().map(String::as_str).take(8).collect();
        return Err(not_gatus(format!(
            "no endpoints list (top-level keys: {})",
            keys.join(", ")
        )));
    }
    let mut vars = BTreeSet::new();
    for value in top.values_mut() {
        env::rewrite_tree(value, &mut vars);
    }

    let mut cx = Context {
        draft: Draft::default(),
        monitor_names: Names::default(),
        alert_names: Names::default(),
        notifier_names: Names::default(),
        providers: alerting::Providers::default(),
    };
    header(&mut cx.draft, label, &vars);
    cx.providers = alerting::Providers::build(top.get("alerting"), &mut cx);
    let header_len = cx.draft.header.len();
    for (key, value) in &top {
        top_level(&mut cx, key, value);
    }
    if cx.draft.header.len() > header_len {
        cx.draft.header.insert(header_len, String::new());
    }
    let list = |key: &str| top.get(key).and_then(Json::as_array).cloned();
    for (index, endpoint) in list("endpoints").unwrap_or_default().iter().enumerate() {
        endpoints::endpoint(&mut cx, index, endpoint);
    }
    for (index, endpoint) in list("external-endpoints")
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        endpoints::external(&mut cx, index, endpoint);
    }
    if let Some(window) = top.get("maintenance")
        && let Some(entry) = maintenance(&mut cx.draft, "maintenance", window, &["*".to_owned()])
    {
        cx.draft.maintenance.push(entry);
    }
    Ok(cx.draft)
}

fn header(draft: &mut Draft, label: &str, vars: &BTreeSet<String>) {
    draft.header = vec![
        format!("hopwatch config imported from the Gatus config {label} (hopwatch import gatus)."),
        "Check it with `hopwatch validate -c FILE`. Each monitor keeps its Gatus name as".into(),
        "its title; `# not imported` lines say what hopwatch has no place for, and why.".into(),
        "Secrets (passwords, tokens, webhook URLs) are copied as written: keep this file".into(),
        "private (chmod 600) or move them to ${VAR}.".into(),
    ];
    if !vars.is_empty() {
        let names: Vec<&str> = vars.iter().map(String::as_str).collect();
        draft.header.push(format!(
            "Environment variables stay variables (hopwatch reads ${{VAR}} too): {}",
            names.join(", ")
        ));
    }
}

/// The top-level keys other than endpoints and alerting.
fn top_level(cx: &mut Context, key: &str, value: &Json) {
    let server = &mut cx.draft.server;
    let why = match key {
        "endpoints" | "external-endpoints" | "alerting" | "maintenance" => None,
        // hopwatch always serves /metrics.
        "metrics" => None,
        "ui" => {
            if let Some(title) = value.get("title").and_then(Json::as_str) {
                server.push(("title".into(), Value::Str(title.to_owned())));
            }
            let others: Vec<&str> = keys(value).filter(|k| *k != "title").collect();
            if !others.is_empty() {
                let what = format!("ui: {}", others.join(", "));
                let why = "hopwatch's status page has a title and no other settings";
                cx.draft.header.push(not_imported(what, why));
            }
            None
        }
        "web" => {
            web(cx, value);
            None
        }
        "connectivity" => match value.pointer("/checker/target").and_then(Json::as_str) {
            Some(target) => {
                server.push(("connectivity_check".into(), Value::Str(target.to_owned())));
                None
            }
            None => Some("no checker.target"),
        },
        "concurrency" => {
            // 0 is "unlimited" in Gatus: hopwatch's default bound stays.
            if let Some(n) = value.as_i64().filter(|n| *n > 0) {
                server.push(("max_concurrent_checks".into(), Value::int(n)));
            }
            None
        }
        "storage" => Some("hopwatch keeps its results in its own SQLite file (storage.path)"),
        "security" => Some("hopwatch has no login; its write endpoints take server.admin_token"),
        "announcements" => Some("hopwatch posts annotations through its API instead"),
        "suites" => Some("hopwatch has no suites of dependent requests"),
        "tunneling" => Some("hopwatch has no SSH tunnels"),
        "remote" => Some("hopwatch does not read other instances"),
        "disable-monitoring-lock" | "skip-invalid-config-update" => {
            Some("hopwatch has no such setting")
        }
        _ => Some("not a key this importer knows"),
    };
    if let Some(why) = why {
        cx.draft.header.push(not_imported(key, why));
    }
}

fn web(cx: &mut Context, value: &Json) {
    // Gatus listens on 0.0.0.0:8080 unless told otherwise.
    let address = value.get("address").and_then(Json::as_str).unwrap_or_else(|| {
        let note = "server.listen is on every address, as Gatus was; hopwatch's own default is 127.0.0.1";
        cx.draft.header.push(note.into());
        "0.0.0.0"
    });
    let port = value.get("port").map_or("8080".to_owned(), text);
    let listen = if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    };
    cx.draft.server.push(("listen".into(), Value::Str(listen)));
    let others: Vec<&str> = keys(value)
        .filter(|k| !matches!(*k, "address" | "port"))
        .collect();
    if !others.is_empty() {
        let what = format!("web: {}", others.join(", "));
        let why = "hopwatch serves plain HTTP; put TLS in front of it";
        cx.draft.header.push(not_imported(what, why));
    }
}

/// A maintenance window (`start: "23:00"`, `duration`, `every`,
/// `timezone`) as a UTC cron window over `monitors`.
pub(crate) fn maintenance(
    draft: &mut Draft,
    origin: &str,
    window: &Json,
    monitors: &[String],
) -> Option<Entry> {
    let result = (|| -> Result<Entry, String> {
        if window.get("enabled").and_then(Json::as_bool) == Some(false) {
            return Err("disabled (enabled: false)".into());
        }
        let zone = window
            .get("timezone")
            .and_then(Json::as_str)
            .unwrap_or("UTC");
        if !matches!(zone, "" | "UTC" | "Etc/UTC" | "GMT") {
            return Err(format!(
                "timezone {zone}: hopwatch reads cron in UTC, and a fixed shift would be wrong half the year"
            ));
        }
        let start = window.get("start").map(text).ok_or("no start")?;
        let (hour, minute) = start
            .split_once(':')
            .and_then(|(h, m)| Some((h.parse::<u8>().ok()?, m.parse::<u8>().ok()?)))
            .filter(|(h, m)| *h < 24 && *m < 60)
            .ok_or(format!("start {start:?} is not hh:mm"))?;
        let duration = window.get("duration").map(text).ok_or("no duration")?;
        let duration = super::duration::duration_value(&duration)
            .ok_or(format!("duration {duration:?} is not a duration"))?;
        let days = match window.get("every").and_then(Json::as_array) {
            None => "*".to_owned(),
            Some(days) if days.is_empty() => "*".to_owned(),
            Some(days) => {
                let numbers: Vec<String> = days
                    .iter()
                    .map(|d| weekday(&text(d)).map(|n| n.to_string()))
                    .collect::<Option<_>>()
                    .ok_or("a day that is not a weekday")?;
                numbers.join(",")
            }
        };
        let mut entry = Entry {
            origin: origin.to_owned(),
            ..Entry::default()
        };
        entry.note(format!("from {origin} (start {start} UTC)"));
        let monitors = monitors.iter().map(|m| Value::Str(m.clone())).collect();
        entry.set("monitors", Value::List(monitors));
        entry.set("cron", Value::Str(format!("{minute} {hour} * * {days}")));
        entry.set("duration", duration);
        Ok(entry)
    })();
    match result {
        Ok(entry) => Some(entry),
        Err(why) => {
            draft.skip(Section::Maintenance, origin, why);
            None
        }
    }
}

fn weekday(name: &str) -> Option<u8> {
    let days = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    let name = name.to_ascii_lowercase();
    days.iter().position(|d| *d == name).map(|n| n as u8)
}

/// A scalar as text: strings as they are, numbers and booleans spelled out.
pub(crate) fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// The keys of a mapping (none for anything else).
pub(crate) fn keys(value: &Json) -> impl Iterator<Item = &str> {
    value
        .as_object()
        .into_iter()
        .flat_map(Map::keys)
        .map(String::as_str)
}
