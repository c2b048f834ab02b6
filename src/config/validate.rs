//! Checks that span keys or entries once each section has deserialized: names,
//! references, durations, addresses, notifier needs. Every problem is kept.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use super::compile::{DEFAULT_INTERVAL, DEFAULT_TIMEOUT, parse_host_port};
use super::schema::{
    AlertConfig, Condition, MaintenanceConfig, NotifierConfig, NotifierKind, WebhookFormat,
};
use super::sections::{Draft, MonitorEntry};
use super::{Problem, join_index, join_key};

const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Runs every check, and fills each monitor's `interval` and `timeout`.
pub(crate) fn check(draft: &mut Draft, problems: &mut Vec<Problem>) {
    server(draft, problems);
    if let Some(storage) = &draft.storage {
        positive("storage.retention", storage.retention, problems);
        if let Some(keep) = &storage.keep_healthy {
            keep_healthy(keep, problems);
        }
        if storage.path.is_some() && storage.url.is_some() {
            let message = "set either path (SQLite) or url (postgres:// or sqlite://), not both";
            problems.push(Problem::new("storage", message));
        }
        if let Some(url) = &storage.url
            && let Err(message) = super::Location::parse(url)
        {
            problems.push(Problem::new("storage.url", message));
        }
    }
    if draft.no_monitors {
        problems.push(Problem::new("monitors", "at least one monitor is required"));
    }
    unique_names("monitors", &draft.monitor_names, problems);
    for (index, name) in &draft.monitor_names {
        let allowed = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-');
        if name.is_empty() || !name.bytes().all(allowed) {
            let at = join_key(&join_index("monitors", *index), "name");
            let message = format!("invalid name {name:?} (use a-z, 0-9, '.', '_', '-')");
            problems.push(Problem::new(at, message));
        }
    }
    let names: BTreeSet<String> = draft.monitor_names.iter().map(|(_, n)| n.clone()).collect();
    for entry in &mut draft.monitors {
        durations(entry, problems);
        upstream(entry, &names, problems);
    }
    upstream_cycles(&draft.monitors, problems);
    alerts(draft, &names, problems);
    super::regions::check(draft, problems);
    unique_names("notifiers", &draft.notifier_names, problems);
    for (index, notifier) in &draft.notifiers {
        notifier_needs(&join_index("notifiers", *index), notifier, problems);
    }
    let notifiers: BTreeSet<String> = draft
        .notifier_names
        .iter()
        .map(|(_, n)| n.clone())
        .collect();
    for (index, window) in &draft.maintenance {
        let base = join_index("maintenance", *index);
        selectors(&base, &window.monitors, &names, &draft.groups, problems);
        let message = match (&window.start, &window.cron) {
            (Some(_), Some(_)) => Some((
                base.clone(),
                "set either start or cron, not both".to_owned(),
            )),
            (None, None) => Some((
                base.clone(),
                "needs a start (RFC 3339) or a cron schedule".to_owned(),
            )),
            (Some(start), None) => crate::clock::parse_rfc3339(start).is_err().then(|| {
                let expected = "expected RFC 3339, e.g. 2026-12-01T02:00:00Z";
                (
                    join_key(&base, "start"),
                    format!("invalid time {start:?} ({expected})"),
                )
            }),
            // Only the shape is checked here; the schedule reads the fields.
            (None, Some(cron)) => (cron.split_whitespace().count() != 5).then(|| {
                let expected = "expected 5 fields: minute hour day month weekday";
                (
                    join_key(&base, "cron"),
                    format!("invalid cron {cron:?} ({expected})"),
                )
            }),
        };
        if let Some((at, message)) = message {
            problems.push(Problem::new(at, message));
        }
        positive(&join_key(&base, "duration"), window.duration, problems);
        announcements(&base, window, &notifiers, problems);
    }
    super::pages::check(draft, problems);
}

/// A window's `notify` names notifiers that exist, and `announce: true`
/// has somewhere to go: an announcement with no notifier would be a
/// promise the config silently breaks.
fn announcements(
    base: &str,
    window: &MaintenanceConfig,
    notifiers: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) {
    let notify = join_key(base, "notify");
    for (n, notifier) in window.notify.iter().enumerate() {
        if !notifiers.contains(notifier) {
            let at = join_index(&notify, n);
            problems.push(Problem::new(at, format!("no notifier named {notifier:?}")));
        }
    }
    if window.announce && window.notify.is_empty() {
        let message = "announce: true needs notify (the notifiers to announce through)";
        problems.push(Problem::new(notify, message));
    }
}

fn alerts(draft: &Draft, names: &BTreeSet<String>, problems: &mut Vec<Problem>) {
    let alert_names: Vec<(usize, String)> = draft
        .alerts
        .iter()
        .map(|(i, a)| (*i, a.name.clone()))
        .collect();
    unique_names("alerts", &alert_names, problems);
    let notifiers: BTreeSet<&str> = draft
        .notifier_names
        .iter()
        .map(|(_, n)| n.as_str())
        .collect();
    for (index, alert) in &draft.alerts {
        let base = join_index("alerts", *index);
        selectors(&base, &alert.monitors, names, &draft.groups, problems);
        for (n, notifier) in alert.notify.iter().enumerate() {
            if !notifiers.contains(notifier.as_str()) {
                let at = join_index(&join_key(&base, "notify"), n);
                problems.push(Problem::new(at, format!("no notifier named {notifier:?}")));
            }
        }
        condition(&base, alert, problems);
    }
}

fn server(draft: &mut Draft, problems: &mut Vec<Problem>) {
    let Some(server) = &mut draft.server else {
        return;
    };
    if server.listen.parse::<SocketAddr>().is_err() {
        let message = format!(
            "invalid address {:?} (expected ip:port, e.g. 127.0.0.1:8080)",
            server.listen
        );
        problems.push(Problem::new("server.listen", message));
    }
    if let Some(public_url) = &server.public_url
        && !is_http_url(public_url)
    {
        problems.push(Problem::new("server.public_url", bad_url(public_url)));
    }
    if let Some(target) = &server.connectivity_check
        && parse_host_port(target).is_none()
    {
        let message = format!("invalid address {target:?} (expected host:port, e.g. 192.0.2.1:53)");
        problems.push(Problem::new("server.connectivity_check", message));
    }
    if server.max_concurrent_checks == Some(0) {
        problems.push(Problem::new(
            "server.max_concurrent_checks",
            "must be at least 1",
        ));
    }
    if server.max_connections == Some(0) {
        problems.push(Problem::new("server.max_connections", "must be at least 1"));
    }
    // `${HOPWATCH_ADMIN_TOKEN:-}` is the natural way to make the token
    // optional; an empty token must mean "writes disabled", not "no password".
    if server.admin_token.as_ref().is_some_and(|t| t.is_empty()) {
        server.admin_token = None;
    }
}

/// `storage.keep_healthy` thins only what no one reads raw any more: the
/// alert windows a new leader refills span minutes, never an hour.
fn keep_healthy(keep: &super::values::KeepHealthy, problems: &mut Vec<Problem>) {
    const HOUR: Duration = Duration::from_secs(3_600);
    const DAY: Duration = Duration::from_secs(86_400);
    if keep.after < HOUR {
        let message = "must be at least 1h (recent checks are read whole)";
        problems.push(Problem::new("storage.keep_healthy.after", message));
    }
    if !(Duration::from_secs(1)..=DAY).contains(&keep.every) {
        let message = "must be between 1s and 1d";
        problems.push(Problem::new("storage.keep_healthy.every", message));
    }
}

fn positive(at: &str, value: Duration, problems: &mut Vec<Problem>) {
    if value.is_zero() {
        problems.push(Problem::new(at, "must be longer than 0"));
    }
}

fn unique_names(section: &str, names: &[(usize, String)], problems: &mut Vec<Problem>) {
    for (n, (index, name)) in names.iter().enumerate() {
        if let Some((first, _)) = names[..n].iter().find(|(_, other)| other == name) {
            let at = join_key(&join_index(section, *index), "name");
            let first = join_index(section, *first);
            problems.push(Problem::new(
                at,
                format!("duplicate name {name:?} (also used by {first})"),
            ));
        }
    }
}

/// Monitor names, `group:NAME` or `*`, as alerts and maintenance take them.
fn selectors(
    base: &str,
    list: &[String],
    names: &BTreeSet<String>,
    groups: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) {
    let key = join_key(base, "monitors");
    if list.is_empty() {
        let message = "at least one entry is required (a monitor name, \"group:NAME\" or \"*\")";
        problems.push(Problem::new(&key, message));
    }
    for (n, selector) in list.iter().enumerate() {
        let message = match selector.strip_prefix("group:") {
            _ if selector == "*" => continue,
            Some(group) if groups.contains(group) => continue,
            Some(group) => format!("no group named {group:?}"),
            None if names.contains(selector.as_str()) => continue,
            None => format!("no monitor named {selector:?}"),
        };
        problems.push(Problem::new(join_index(&key, n), message));
    }
}

fn upstream(entry: &MonitorEntry, names: &BTreeSet<String>, problems: &mut Vec<Problem>) {
    let Some(upstream) = &entry.config.upstream else {
        return;
    };
    let message = if *upstream == entry.config.name {
        "a monitor cannot be its own upstream".to_owned()
    } else if !names.contains(upstream.as_str()) {
        format!("no monitor named {upstream:?}")
    } else {
        return;
    };
    problems.push(Problem::new(entry.place("upstream"), message));
}

/// Reports each `upstream` loop once, at its member listed first.
fn upstream_cycles(monitors: &[MonitorEntry], problems: &mut Vec<Problem>) {
    let next = |name: &str| {
        monitors
            .iter()
            .find(|m| m.config.name == name)
            .and_then(|m| m.config.upstream.as_deref())
    };
    for entry in monitors {
        let start = entry.config.name.as_str();
        let mut chain = vec![start];
        let mut here = entry.config.upstream.as_deref();
        // A loop through `start` has at most one step per monitor.
        for _ in 0..monitors.len() {
            let Some(name) = here.filter(|n| *n != chain[chain.len() - 1]) else {
                break;
            };
            if name == start {
                let first = chain
                    .iter()
                    .filter_map(|n| monitors.iter().find(|m| m.config.name == *n))
                    .map(|m| m.index)
                    .min();
                if first == Some(entry.index) {
                    chain.push(start);
                    let message = format!("upstream loop: {}", chain.join(" -> "));
                    problems.push(Problem::new(entry.place("upstream"), message));
                }
                break;
            }
            if chain.contains(&name) {
                break;
            }
            chain.push(name);
            here = next(name);
        }
    }
}

fn condition(base: &str, alert: &AlertConfig, problems: &mut Vec<Problem>) {
    let when = join_key(base, "when");
    match &alert.when {
        Condition::ConsecutiveFailures(0) => {
            problems.push(Problem::new(
                join_key(&when, "consecutive_failures"),
                "must be at least 1",
            ));
        }
        Condition::ConsecutiveFailures(_) => {}
        Condition::ErrorRate(rate) | Condition::Status5xxRate(rate) => {
            let name = match alert.when {
                Condition::ErrorRate(_) => "error_rate",
                _ => "status_5xx_rate",
            };
            positive(
                &join_key(&join_key(&when, name), "window"),
                rate.window,
                problems,
            );
        }
        Condition::Latency(latency) => {
            let at = join_key(&when, "latency");
            if let Some(p) = latency.percentile
                && !(p > 0.0 && p <= 100.0)
            {
                let message = format!("{p} is out of range (expected more than 0, at most 100)");
                problems.push(Problem::new(join_key(&at, "percentile"), message));
            }
            positive(&join_key(&at, "window"), latency.window, problems);
        }
        Condition::CertExpiry(cert) => {
            positive(
                &join_key(&join_key(&when, "cert_expiry"), "below"),
                cert.below,
                problems,
            );
        }
    }
    if let Some(repeat) = alert.repeat {
        positive(&join_key(base, "repeat"), repeat, problems);
    }
}

fn is_http_url(text: &str) -> bool {
    url::Url::parse(text)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// The message for a url that is not http(s); credentials in it are masked.
fn bad_url(text: &str) -> String {
    let shown = crate::mask::lone_url(text);
    format!("invalid url {shown:?} (expected http:// or https://)")
}

fn notifier_needs(base: &str, n: &NotifierConfig, problems: &mut Vec<Problem>) {
    let mut found = Vec::new();
    let mut need = |key: &str, message: &str| found.push((key.to_owned(), message.to_owned()));
    // Keys of the other notifier type are refused, as for monitors: a stray
    // `url` on an email notifier is a mistake, not a second channel.
    let (kind, foreign) = match n.kind {
        NotifierKind::Webhook => (
            "a webhook",
            [
                ("smtp", n.smtp.is_some()),
                ("from", n.from.is_some()),
                ("to", !n.to.is_empty()),
                ("", false),
            ],
        ),
        NotifierKind::Email => (
            "an email",
            [
                ("url", n.url.is_some()),
                ("format", n.format.is_some()),
                ("secret", n.secret.is_some()),
                ("routing_key", n.routing_key.is_some()),
            ],
        ),
    };
    for (key, _) in foreign.iter().filter(|(_, set)| *set) {
        need(key, &format!("not used by {kind} notifier"));
    }
    match n.kind {
        NotifierKind::Webhook => {
            match &n.url {
                None => need("url", "a webhook notifier needs a url"),
                Some(url) if !is_http_url(url) => need("url", &bad_url(url)),
                Some(_) => {}
            }
            match (&n.routing_key, n.format == Some(WebhookFormat::Pagerduty)) {
                (None, true) => need("routing_key", "format pagerduty needs a routing_key"),
                (Some(_), false) => need("routing_key", "only used with format: pagerduty"),
                _ => {}
            }
        }
        NotifierKind::Email => {
            match &n.smtp {
                None => need(
                    "smtp",
                    "an email notifier needs smtp (host, port, security, ...)",
                ),
                Some(smtp) if smtp.host.trim().is_empty() => need("smtp.host", "must not be empty"),
                Some(smtp) if smtp.sends_login_in_clear() => need(
                    "smtp.security",
                    "none would send the username and password in clear text: use starttls or tls, \
                     or set smtp.allow_plaintext_auth: true for a relay on a trusted network",
                ),
                Some(_) => {}
            }
            match &n.from {
                None => need("from", "an email notifier needs a from address"),
                Some(from) if !from.contains('@') => {
                    need("from", &format!("invalid address {from:?}"))
                }
                Some(_) => {}
            }
            if n.to.is_empty() {
                need("to", "an email notifier needs at least one recipient");
            }
            for (i, to) in n.to.iter().enumerate() {
                if !to.contains('@') {
                    need(&join_index("to", i), &format!("invalid address {to:?}"));
                }
            }
        }
    }
    for (key, message) in found {
        problems.push(Problem::new(join_key(base, &key), message));
    }
}

/// Checks `interval` and `timeout` against each other and fills them.
fn durations(entry: &mut MonitorEntry, problems: &mut Vec<Problem>) {
    let config = &entry.config;
    let interval = config.interval.unwrap_or(DEFAULT_INTERVAL);
    let show = |d: Duration| humantime::format_duration(d).to_string();
    if interval < MIN_INTERVAL {
        let message = format!("{} is too short (at least 1s)", show(interval));
        problems.push(Problem::new(entry.place("interval"), message));
    }
    if let Some(timeout) = config.timeout {
        let timeout_at = entry.place("timeout");
        let interval_at = entry.place("interval");
        if timeout.is_zero() {
            problems.push(Problem::new(timeout_at, "must be longer than 0"));
        } else if timeout > interval && interval >= MIN_INTERVAL {
            // Name the key the monitor itself set, if only one of them.
            let own_interval = config.interval.is_some() && !interval_at.starts_with("defaults.");
            let message = if timeout_at.starts_with("defaults.") && own_interval {
                (
                    interval_at,
                    format!(
                        "{} is shorter than the default timeout {}",
                        show(interval),
                        show(timeout)
                    ),
                )
            } else {
                (
                    timeout_at,
                    format!(
                        "{} is longer than interval {}",
                        show(timeout),
                        show(interval)
                    ),
                )
            };
            problems.push(Problem::new(message.0, message.1));
        }
    }
    let timeout = config.timeout.unwrap_or(DEFAULT_TIMEOUT.min(interval));
    entry.config.interval = Some(interval);
    entry.config.timeout = Some(timeout);
}
