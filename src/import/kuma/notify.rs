//! Uptime Kuma notifications to hopwatch notifiers, and the monitors'
//! links to them to alerts: one alert per set of monitors that share the
//! same notifiers, retries and resend interval.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::super::model::{Draft, Entry, Names, Section, Value, not_imported};
use super::read::Notification;

/// Where Uptime Kuma sends PagerDuty events unless told otherwise.
const PAGERDUTY_EVENTS: &str = "https://events.pagerduty.com/v2/enqueue";

/// Keys every notification's config has, which say nothing about sending.
const BOOKKEEPING: [&str; 6] = ["type", "name", "isDefault", "applyExisting", "active", "id"];

type Fields = Vec<(String, Value)>;

/// Adds a notifier for each notification that maps; returns their names
/// by notification id.
pub(crate) fn notifiers(draft: &mut Draft, list: &[Notification]) -> BTreeMap<i64, String> {
    let mut names = Names::default();
    let mut by_id = BTreeMap::new();
    for n in list {
        let kind = n.config.get("type").and_then(Json::as_str).unwrap_or("");
        let origin = format!("notification {} {:?} ({kind})", n.id, n.name);
        let result = if n.active {
            notifier(kind, &n.config)
        } else {
            Err("disabled in Uptime Kuma".to_owned())
        };
        match result {
            Ok((fields, notes)) => {
                let claimed = names.claim(&n.name, None);
                let mut entry = Entry::named(&claimed.name);
                entry.origin = origin.clone();
                entry.note(format!("from {origin}"));
                entry.comments.extend(claimed.note);
                entry.comments.extend(notes);
                entry.fields.extend(fields);
                draft.notifiers.push(entry);
                by_id.insert(n.id, claimed.name);
            }
            Err(why) => draft.skip(Section::Notifiers, origin, why),
        }
    }
    by_id
}

/// The keys of a hopwatch notifier for one notification, and its notes.
fn notifier(kind: &str, config: &Map<String, Json>) -> Result<(Fields, Vec<String>), String> {
    let get = |key: &str| {
        config.get(key).and_then(|v| match v {
            Json::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let need = |key: &str| get(key).ok_or(format!("no {key}"));
    let webhook = |format: &str, url: String| -> Fields {
        vec![
            ("type".into(), Value::Str("webhook".into())),
            ("format".into(), Value::Str(format.into())),
            ("url".into(), Value::literal(&url)),
        ]
    };
    let mut notes = Vec::new();
    let (fields, used): (Fields, &[&str]) = match kind {
        "slack" => (
            webhook("slack", need("slackwebhookURL")?),
            &["slackwebhookURL"],
        ),
        "discord" => (
            webhook("discord", need("discordWebhookUrl")?),
            &["discordWebhookUrl"],
        ),
        "mattermost" => {
            notes.push("Mattermost's incoming webhooks take Slack's format".into());
            (
                webhook("slack", need("mattermostWebhookUrl")?),
                &["mattermostWebhookUrl"],
            )
        }
        "webhook" => {
            notes.push(not_imported(
                "the content type, custom body and headers",
                "hopwatch POSTs its own JSON body (see the README's webhook format)",
            ));
            let used: &[&str] = &[
                "webhookURL",
                "webhookContentType",
                "webhookCustomBody",
                "webhookAdditionalHeaders",
            ];
            (webhook("json", need("webhookURL")?), used)
        }
        "PagerDuty" => {
            let url = get("pagerdutyIntegrationUrl").unwrap_or_else(|| PAGERDUTY_EVENTS.to_owned());
            let mut fields = webhook("pagerduty", url);
            fields.push((
                "routing_key".into(),
                Value::literal(&need("pagerdutyIntegrationKey")?),
            ));
            (
                fields,
                &["pagerdutyIntegrationUrl", "pagerdutyIntegrationKey"],
            )
        }
        "smtp" => (
            email(config, &mut notes)?,
            &[
                "smtpHost",
                "smtpPort",
                "smtpSecure",
                "smtpIgnoreSTARTTLS",
                "smtpUsername",
                "smtpPassword",
                "smtpFrom",
                "smtpTo",
            ],
        ),
        "" => return Err("it has no type".into()),
        other => {
            return Err(format!(
                "hopwatch has no {other} notifier (it sends email, and webhooks in its own JSON, Slack, Discord or PagerDuty format)"
            ));
        }
    };
    // Settings left at their empty defaults say nothing; only set ones count.
    let extra: Vec<&str> = config
        .iter()
        .filter(|(k, _)| !used.contains(&k.as_str()) && !BOOKKEEPING.contains(&k.as_str()))
        .filter(|(_, v)| !matches!(v, Json::Null | Json::Bool(false)) && v.as_str() != Some(""))
        .map(|(k, _)| k.as_str())
        .collect();
    if !extra.is_empty() {
        notes.push(not_imported(
            extra.join(", "),
            format!("hopwatch's {kind} notifier has no such settings"),
        ));
    }
    Ok((fields, notes))
}

fn email(config: &Map<String, Json>, notes: &mut Vec<String>) -> Result<Fields, String> {
    let get = |key: &str| {
        config.get(key).and_then(|v| match v {
            Json::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let on = |key: &str| config.get(key).and_then(Json::as_bool) == Some(true);
    let host = get("smtpHost").ok_or("no smtpHost")?;
    let from = get("smtpFrom").ok_or("no smtpFrom")?;
    let to: Vec<Value> = get("smtpTo")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Value::literal)
        .collect();
    if to.is_empty() {
        return Err("no recipient in smtpTo".into());
    }
    // nodemailer: `secure` is TLS from the first byte; otherwise STARTTLS
    // unless told to skip it.
    let security = if on("smtpSecure") {
        "tls"
    } else if on("smtpIgnoreSTARTTLS") {
        "none"
    } else {
        "starttls"
    };
    let mut smtp = vec![
        ("host".to_owned(), Value::literal(&host)),
        ("security".to_owned(), Value::Str(security.into())),
    ];
    if let Some(port) = get("smtpPort") {
        let value = match port.parse::<u16>() {
            Ok(n) => Value::int(n),
            Err(_) => Value::literal(&port),
        };
        smtp.insert(1, ("port".to_owned(), value));
    }
    if let Some(user) = get("smtpUsername") {
        smtp.push(("username".into(), Value::literal(&user)));
    }
    if let Some(password) = get("smtpPassword") {
        smtp.push(("password".into(), Value::literal(&password)));
    }
    if on("smtpIgnoreTLSError") {
        notes.push(not_imported(
            "smtpIgnoreTLSError",
            "hopwatch always verifies the mail server's certificate",
        ));
    }
    Ok(vec![
        ("type".into(), Value::Str("email".into())),
        ("smtp".into(), Value::Map(smtp)),
        ("from".into(), Value::literal(&from)),
        ("to".into(), Value::List(to)),
    ])
}

/// What one imported monitor asks to be told about.
#[derive(Debug, Clone)]
pub(crate) struct Watch {
    pub monitor: String,
    /// Failed checks in a row before Uptime Kuma calls it down (retries + 1).
    pub failures: i64,
    /// Seconds between repeated notifications while down, if any.
    pub repeat: Option<i64>,
    /// Notifier names, sorted.
    pub notify: Vec<String>,
    /// Certificate expiry notifications are on (an https monitor).
    pub cert: bool,
}

/// Alerts for the watches: monitors that share notifiers and timing share
/// one alert.
pub(crate) fn alerts(draft: &mut Draft, watches: &[Watch], days: &[u32]) {
    let mut names = Names::default();
    let mut down: BTreeMap<(Vec<String>, i64, Option<i64>), Vec<String>> = BTreeMap::new();
    let mut cert: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for w in watches.iter().filter(|w| !w.notify.is_empty()) {
        let key = (w.notify.clone(), w.failures, w.repeat);
        down.entry(key).or_default().push(w.monitor.clone());
        if w.cert {
            cert.entry(w.notify.clone())
                .or_default()
                .push(w.monitor.clone());
        }
    }
    for ((notify, failures, repeat), monitors) in down {
        let mut wanted = format!("down-{}", notify.join("-"));
        if failures > 1 {
            wanted.push_str(&format!("-after-{failures}"));
        }
        let mut entry = alert(&mut names, &wanted, &monitors);
        let checks = if failures == 1 {
            "a failed check".to_owned()
        } else {
            format!("{failures} failed checks in a row")
        };
        entry.note(format!(
            "Uptime Kuma: down after {checks}; told again when up"
        ));
        entry.set(
            "when",
            Value::Map(vec![("consecutive_failures".into(), Value::int(failures))]),
        );
        if let Some(seconds) = repeat {
            entry.set("repeat", Value::Plain(format!("{seconds}s")));
        }
        entry.set("notify", list(&notify));
        draft.alerts.push(entry);
    }
    let Some(most) = days.iter().max() else {
        return;
    };
    for (notify, monitors) in cert {
        let wanted = format!("cert-expiry-{}", notify.join("-"));
        let mut entry = alert(&mut names, &wanted, &monitors);
        let listed: Vec<String> = days.iter().map(u32::to_string).collect();
        entry.note(format!(
            "Uptime Kuma told at {} days before expiry; hopwatch alerts once, below {most} days",
            listed.join(", ")
        ));
        entry.set(
            "when",
            Value::Map(vec![(
                "cert_expiry".into(),
                Value::Map(vec![("below".into(), Value::Plain(format!("{most}d")))]),
            )]),
        );
        // Uptime Kuma sends nothing when a certificate is renewed.
        entry.set("send_resolved", Value::bool(false));
        entry.set("notify", list(&notify));
        draft.alerts.push(entry);
    }
}

/// An alert with its name and monitors; the caller adds the rest.
fn alert(names: &mut Names, wanted: &str, monitors: &[String]) -> Entry {
    let claimed = names.claim(wanted, None);
    let mut entry = Entry::named(&claimed.name);
    entry.origin = format!("alert for {}", monitors.join(", "));
    entry.set("monitors", list(monitors));
    entry
}

fn list(names: &[String]) -> Value {
    Value::List(names.iter().map(|n| Value::Str(n.clone())).collect())
}
