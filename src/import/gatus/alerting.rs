//! Gatus alerting providers to hopwatch notifiers (email and webhooks in
//! the Slack, Discord, PagerDuty or hopwatch JSON format), and endpoint
//! alerts to `consecutive_failures` alerts.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::super::duration::{duration_value, go_duration};
use super::super::model::{Entry, Section, Value, not_imported};
use super::{Context, text};

/// Where Gatus sends PagerDuty events (Events API v2); hopwatch wants the
/// URL written out.
const PAGERDUTY_EVENTS: &str = "https://events.pagerduty.com/v2/enqueue";

/// Gatus's alert defaults.
const FAILURE_THRESHOLD: u64 = 3;
const SUCCESS_THRESHOLD: u64 = 2;

/// The providers of `alerting:`, by alert type.
#[derive(Debug, Default)]
pub(crate) struct Providers {
    by_type: BTreeMap<String, Provider>,
}

#[derive(Debug)]
struct Provider {
    /// The notifier for alerts without an override, or why there is none.
    notifier: Result<String, String>,
    /// Endpoint group -> the notifier built from that group's override.
    overrides: BTreeMap<String, String>,
    /// `default-alert`, under each alert's own keys.
    default_alert: Map<String, Json>,
    /// The provider's settings, for `provider-override` to start from.
    config: Map<String, Json>,
}

impl Providers {
    /// Builds a notifier for each provider (and each group override).
    pub fn build(alerting: Option<&Json>, cx: &mut Context) -> Providers {
        let mut by_type = BTreeMap::new();
        let providers = alerting
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        for (kind, settings) in providers {
            let mut config = settings.as_object().cloned().unwrap_or_default();
            let default_alert = match config.remove("default-alert") {
                Some(Json::Object(map)) => map,
                _ => Map::new(),
            };
            let overrides = config.remove("overrides");
            let path = format!("alerting.{kind}");
            let notifier = add_notifier(cx, &kind, &kind, &path, &config);
            let mut by_group = BTreeMap::new();
            for (n, over) in overrides
                .iter()
                .flat_map(|o| o.as_array().into_iter().flatten())
                .enumerate()
            {
                let path = format!("alerting.{kind}.overrides[{n}]");
                let Some(group) = over.get("group").map(text).filter(|g| !g.is_empty()) else {
                    cx.draft.skip(Section::Notifiers, path, "no group");
                    continue;
                };
                let mut merged = config.clone();
                for (key, value) in over.as_object().into_iter().flatten() {
                    if key != "group" {
                        merged.insert(key.clone(), value.clone());
                    }
                }
                let wanted = format!("{kind}-{group}");
                if let Ok(name) = add_notifier(cx, &kind, &wanted, &path, &merged) {
                    by_group.insert(group, name);
                }
            }
            let provider = Provider {
                notifier,
                overrides: by_group,
                default_alert,
                config,
            };
            by_type.insert(kind, provider);
        }
        Providers { by_type }
    }

    /// One entry of an endpoint's `alerts:`.
    pub fn alert(
        &self,
        cx: &mut Context,
        origin: &str,
        monitor: &str,
        group: Option<&str>,
        alert: &Json,
    ) {
        if let Err(why) = self.try_alert(cx, origin, monitor, group, alert) {
            cx.draft.skip(Section::Alerts, origin, why);
        }
    }

    fn try_alert(
        &self,
        cx: &mut Context,
        origin: &str,
        monitor: &str,
        group: Option<&str>,
        alert: &Json,
    ) -> Result<(), String> {
        let kind = alert.get("type").map(text).unwrap_or_default();
        let provider = self.by_type.get(&kind).ok_or(format!(
            "alerting.{kind} is not configured, so Gatus sent nothing either"
        ))?;
        let mut settings = provider.default_alert.clone();
        for (key, value) in alert.as_object().into_iter().flatten() {
            settings.insert(key.clone(), value.clone());
        }
        if settings.get("enabled").and_then(Json::as_bool) == Some(false) {
            return Err("disabled (enabled: false)".into());
        }
        let notifier = if let Some(Json::Object(over)) = settings.get("provider-override") {
            let mut merged = provider.config.clone();
            merged.extend(over.clone());
            let path = format!("{origin}.provider-override");
            add_notifier(cx, &kind, &format!("{kind}-{monitor}"), &path, &merged)
                .map_err(|why| format!("its provider-override was not imported: {why}"))?
        } else if let Some(name) = group.and_then(|g| provider.overrides.get(g)) {
            name.clone()
        } else {
            provider
                .notifier
                .clone()
                .map_err(|why| format!("alerting.{kind} was not imported: {why}"))?
        };
        let claimed = cx.alert_names.claim(&format!("{monitor}-{kind}"), None);
        let mut entry = Entry::named(&claimed.name);
        entry.origin = origin.to_owned();
        entry.note(format!("from {origin} (type {kind})"));
        let failures = settings
            .get("failure-threshold")
            .and_then(Json::as_u64)
            .unwrap_or(FAILURE_THRESHOLD);
        let successes = settings
            .get("success-threshold")
            .and_then(Json::as_u64)
            .unwrap_or(SUCCESS_THRESHOLD);
        if successes != SUCCESS_THRESHOLD {
            entry.not_imported(
                format!("success-threshold {successes}"),
                "hopwatch resolves an alert after 2 passing checks",
            );
        }
        if let Some(description) = settings
            .get("description")
            .map(text)
            .filter(|d| !d.is_empty())
        {
            entry.not_imported(
                format!("description {description:?}"),
                "hopwatch's messages name the monitor, the cause and the verdict instead",
            );
        }
        entry.set(
            "monitors",
            Value::List(vec![Value::Str(monitor.to_owned())]),
        );
        entry.set(
            "when",
            Value::Map(vec![(
                "consecutive_failures".into(),
                Value::int(failures as i64),
            )]),
        );
        entry.set("notify", Value::List(vec![Value::Str(notifier)]));
        // Gatus sends no resolved message unless asked; hopwatch does.
        let resolved = settings
            .get("send-on-resolved")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        entry.set("send_resolved", Value::bool(resolved));
        if let Some(reminder) = settings.get("minimum-reminder-interval").map(text) {
            match (go_duration(&reminder), duration_value(&reminder)) {
                (Some(d), _) if d.is_zero() => {}
                (Some(_), Some(value)) => entry.set("repeat", value),
                _ => entry.not_imported(
                    format!("minimum-reminder-interval {reminder:?}"),
                    "not a duration",
                ),
            }
        }
        cx.draft.alerts.push(entry);
        Ok(())
    }
}

/// Adds the notifier for one provider's settings, named after `wanted`.
fn add_notifier(
    cx: &mut Context,
    kind: &str,
    wanted: &str,
    path: &str,
    config: &Map<String, Json>,
) -> Result<String, String> {
    match notifier(kind, path, config) {
        Ok((fields, notes)) => {
            let claimed = cx.notifier_names.claim(wanted, None);
            let mut entry = Entry::named(&claimed.name);
            entry.origin = path.to_owned();
            entry.note(format!("from {path}"));
            entry.comments.extend(notes);
            entry.fields.extend(fields);
            cx.draft.notifiers.push(entry);
            Ok(claimed.name)
        }
        Err(why) => {
            cx.draft.skip(Section::Notifiers, path, &why);
            Err(why)
        }
    }
}

type Fields = Vec<(String, Value)>;

/// The keys of a hopwatch notifier for a Gatus provider, and its notes.
fn notifier(
    kind: &str,
    path: &str,
    config: &Map<String, Json>,
) -> Result<(Fields, Vec<String>), String> {
    let get = |key: &str| config.get(key).map(text).filter(|v| !v.is_empty());
    let need = |key: &str| get(key).ok_or(format!("no {key}"));
    let mut notes = Vec::new();
    let webhook = |format: &str, url: String| -> Fields {
        vec![
            ("type".into(), Value::Str("webhook".into())),
            ("format".into(), Value::Str(format.into())),
            ("url".into(), Value::Str(url)),
        ]
    };
    let (fields, used): (Fields, &[&str]) = match kind {
        "slack" => (webhook("slack", need("webhook-url")?), &["webhook-url"]),
        "discord" => (webhook("discord", need("webhook-url")?), &["webhook-url"]),
        "mattermost" => {
            notes.push("Mattermost's incoming webhooks take Slack's format".to_owned());
            (webhook("slack", need("webhook-url")?), &["webhook-url"])
        }
        "pagerduty" => {
            let mut fields = webhook("pagerduty", PAGERDUTY_EVENTS.to_owned());
            fields.push(("routing_key".into(), Value::Str(need("integration-key")?)));
            (fields, &["integration-key"])
        }
        "custom" => {
            let method = get("method").unwrap_or_else(|| "GET".to_owned());
            if !method.eq_ignore_ascii_case("POST") {
                return Err(format!(
                    "it calls {method}; hopwatch's webhooks POST a JSON body"
                ));
            }
            notes.push(not_imported(
                "the custom body, headers and placeholders",
                "hopwatch POSTs its own JSON body (see the README's webhook format)",
            ));
            (
                webhook("json", need("url")?),
                &["url", "method", "body", "headers", "placeholders"],
            )
        }
        "email" => (
            email(config, &mut notes)?,
            &[
                "from", "username", "password", "host", "port", "to", "client",
            ],
        ),
        other => {
            return Err(format!(
                "hopwatch has no {other} notifier (it sends email, and webhooks in its own JSON, Slack, Discord or PagerDuty format)"
            ));
        }
    };
    let extra: Vec<&str> = config
        .keys()
        .map(String::as_str)
        .filter(|k| !used.contains(k))
        .collect();
    if !extra.is_empty() {
        notes.push(not_imported(
            format!("{path}: {}", extra.join(", ")),
            format!("hopwatch's {kind} notifier has no such settings"),
        ));
    }
    Ok((fields, notes))
}

fn email(config: &Map<String, Json>, notes: &mut Vec<String>) -> Result<Fields, String> {
    let get = |key: &str| config.get(key).map(text).filter(|v| !v.is_empty());
    let host = get("host").ok_or("no host")?;
    let from = get("from").ok_or("no from")?;
    let to = get("to").ok_or("no to")?;
    let port = config.get("port").ok_or("no port")?;
    let port_value = match port {
        Json::Number(n) => Value::Plain(n.to_string()),
        other => Value::Str(text(other)),
    };
    // gomail: implicit TLS on 465, else STARTTLS when the server offers it.
    let implicit = port.as_u64() == Some(465);
    let security = if implicit { "tls" } else { "starttls" };
    let mut smtp = vec![
        ("host".to_owned(), Value::Str(host)),
        ("port".to_owned(), port_value),
        ("security".to_owned(), Value::Str(security.into())),
    ];
    match get("password") {
        // Gatus logs in as `from` unless a username is given.
        Some(password) => {
            let username = get("username").unwrap_or_else(|| from.clone());
            smtp.push(("username".into(), Value::Str(username)));
            smtp.push(("password".into(), Value::Str(password)));
        }
        None if !implicit => notes.push(
            "Gatus used STARTTLS only when offered; hopwatch requires it (security: none for a relay without TLS)"
                .into(),
        ),
        None => {}
    }
    if config
        .get("client")
        .and_then(|c| c.get("insecure"))
        .and_then(Json::as_bool)
        == Some(true)
    {
        notes.push(not_imported(
            "client.insecure",
            "hopwatch always verifies the mail server's certificate",
        ));
    }
    let recipients = to.split(',').map(str::trim).filter(|r| !r.is_empty());
    Ok(vec![
        ("type".into(), Value::Str("email".into())),
        ("smtp".into(), Value::Map(smtp)),
        ("from".into(), Value::Str(from)),
        (
            "to".into(),
            Value::List(recipients.map(|r| Value::Str(r.to_owned())).collect()),
        ),
    ])
}
