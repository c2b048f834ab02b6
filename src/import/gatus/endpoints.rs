//! Gatus endpoints to hopwatch monitors: the type from the URL scheme (or
//! `dns:`), the request, the client settings, the conditions; external
//! endpoints to push monitors.

use std::time::Duration;

use serde_json::Value as Json;

use super::super::duration::{duration_value, go_duration, spell};
use super::super::model::{Entry, Section, Value, not_imported};
use super::conditions::{self, Probe};
use super::{Context, domain, keys, maintenance, text};

/// Gatus checks an endpoint every minute unless told otherwise.
const GATUS_INTERVAL: &str = "60s";

/// The record types both Gatus and hopwatch's dns monitor ask for.
const RECORDS: [&str; 6] = ["A", "AAAA", "CNAME", "MX", "NS", "TXT"];

/// What the endpoint is, from its URL and keys.
enum Kind {
    Probe(Probe),
    Unsupported(&'static str),
}

/// A monitor entry under a unique hopwatch name claimed for `name` in the
/// endpoint's group (the original name kept as its title when it had to
/// change), saying where it came from; and the name it got.
fn claim_entry(cx: &mut Context, name: &str, origin: &str, ep: &Json) -> (Entry, String) {
    let group = ep
        .get("group")
        .and_then(Json::as_str)
        .filter(|g| !g.is_empty());
    let claimed = cx.monitor_names.claim(name, group);
    let mut entry = Entry::named(&claimed.name);
    entry.origin = origin.to_owned();
    entry.note(format!("from {origin}"));
    if let Some(note) = claimed.note {
        entry.note(note);
    }
    if claimed.name != name {
        entry.set("title", Value::Str(name.to_owned()));
    }
    if let Some(group) = group {
        entry.set("group", Value::Str(group.to_owned()));
    }
    (entry, claimed.name)
}

fn kind(endpoint: &Json, url: &str) -> Kind {
    if endpoint.get("dns").is_some() {
        return Kind::Probe(Probe::Dns);
    }
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("http") => Kind::Probe(Probe::Http),
        Some("https") => Kind::Probe(Probe::Https),
        Some("tcp") => Kind::Probe(Probe::Tcp),
        Some("tls") => Kind::Probe(Probe::Tls),
        Some("icmp") => Kind::Probe(Probe::Icmp),
        Some("udp" | "sctp") => Kind::Unsupported("hopwatch has no UDP or SCTP check"),
        Some("ws" | "wss") => Kind::Probe(Probe::Websocket),
        Some("grpc" | "grpcs") => Kind::Probe(Probe::Grpc),
        Some("ssh") => Kind::Unsupported("hopwatch has no ssh monitor"),
        Some("starttls") => Kind::Probe(Probe::Smtp),
        // A URL from a variable: Gatus decides when it runs; http is by
        // far the likeliest, and the comment says it was a guess.
        _ if url.starts_with("${") => Kind::Probe(Probe::Https),
        _ => Kind::Unsupported("its URL scheme is not one hopwatch checks"),
    }
}

/// One entry of `endpoints:`.
pub(crate) fn endpoint(cx: &mut Context, index: usize, endpoint: &Json) {
    let name = endpoint.get("name").map(text).unwrap_or_default();
    let origin = format!("endpoints[{index}] {name:?}");
    let url = endpoint.get("url").map(text).unwrap_or_default();
    match monitor(cx, &origin, endpoint) {
        Ok((mut entry, domain_min_days)) => {
            let monitor = entry.name().unwrap_or_default().to_owned();
            let group = endpoint.get("group").and_then(Json::as_str);
            let expiry = domain_min_days.and_then(|days| {
                let named_group = group.filter(|g| !g.is_empty());
                match domain::monitor(cx, &origin, &monitor, named_group, &url, days) {
                    Ok(expiry) => {
                        let name = expiry.name().unwrap_or_default();
                        entry.note(format!(
                            "its [DOMAIN_EXPIRATION] condition is the domain monitor {name}"
                        ));
                        Some(expiry)
                    }
                    Err(why) => {
                        entry.note(not_imported("its [DOMAIN_EXPIRATION] condition", why));
                        None
                    }
                }
            });
            cx.draft.monitors.push(entry);
            cx.draft.monitors.extend(expiry);
            after_monitor(cx, &origin, &monitor, group, endpoint);
        }
        Err(why) => {
            let what = format!("{origin} ({})", crate::mask::lone_url(&url));
            cx.draft.skip(Section::Monitors, what, why);
        }
    }
}

/// Alerts and maintenance windows of an imported monitor.
fn after_monitor(cx: &mut Context, origin: &str, monitor: &str, group: Option<&str>, ep: &Json) {
    if let Some(alerts) = ep.get("alerts").and_then(Json::as_array) {
        // Taken out while alerts are added: they add notifiers to `cx`.
        let providers = std::mem::take(&mut cx.providers);
        for (n, alert) in alerts.iter().enumerate() {
            let origin = format!("{origin} alerts[{n}]");
            providers.alert(cx, &origin, monitor, group, alert);
        }
        cx.providers = providers;
    }
    if let Some(windows) = ep.get("maintenance-windows").and_then(Json::as_array) {
        for (n, window) in windows.iter().enumerate() {
            let origin = format!("{origin} maintenance-windows[{n}]");
            let monitors = [monitor.to_owned()];
            if let Some(entry) = maintenance(&mut cx.draft, &origin, window, &monitors) {
                cx.draft.maintenance.push(entry);
            }
        }
    }
}

/// The monitor, and the days of registration a `[DOMAIN_EXPIRATION]`
/// condition asks for.
fn monitor(cx: &mut Context, origin: &str, ep: &Json) -> Result<(Entry, Option<u32>), String> {
    if ep.get("enabled").and_then(Json::as_bool) == Some(false) {
        return Err("disabled in Gatus (enabled: false)".into());
    }
    let name = ep
        .get("name")
        .map(text)
        .filter(|n| !n.is_empty())
        .ok_or("no name")?;
    let url = ep.get("url").map(text).unwrap_or_default();
    let probe = match kind(ep, &url) {
        Kind::Probe(probe) => probe,
        Kind::Unsupported(why) => return Err(why.to_owned()),
    };
    let client = ep.get("client").cloned().unwrap_or(Json::Null);
    for (key, why) in [
        (
            "oauth2",
            "it needs an OAuth2 token, which hopwatch does not fetch",
        ),
        (
            "identity-aware-proxy",
            "it needs an Identity-Aware-Proxy token",
        ),
        ("tls", "it needs a client certificate (mTLS)"),
        ("tunnel", "it goes through an SSH tunnel"),
    ] {
        if client.get(key).is_some() {
            return Err(why.to_owned());
        }
    }

    let (mut entry, _) = claim_entry(cx, &name, origin, ep);
    match probe {
        Probe::Http | Probe::Https => http(&mut entry, ep, &client, &url),
        Probe::Tcp | Probe::Tls | Probe::Smtp => socket(&mut entry, ep, probe, &client, &url)?,
        Probe::Dns => dns(&mut entry, ep, &url)?,
        Probe::Grpc => grpc(&mut entry, &client, &url)?,
        Probe::Websocket => websocket(&mut entry, ep, &client, &url),
        Probe::Icmp => icmp(&mut entry, &url)?,
    }
    if url.starts_with("${") {
        entry.note("type http is a guess: the URL comes from a variable");
    }
    let conditions: Vec<String> = ep
        .get("conditions")
        .and_then(Json::as_array)
        .map(|c| c.iter().map(text).collect())
        .unwrap_or_default();
    let mapped = conditions::map(&conditions, probe);
    for note in mapped.notes {
        entry.note(note);
    }
    if !mapped.expect.is_empty() {
        entry.set("expect", Value::Map(mapped.expect));
    }
    timing(&mut entry, ep, &client);
    leftovers(&mut entry, ep, &client);
    Ok((entry, mapped.domain_min_days))
}

fn http(entry: &mut Entry, ep: &Json, client: &Json, url: &str) {
    entry.set("url", Value::Str(url.to_owned()));
    if let Some(method) = ep
        .get("method")
        .map(text)
        .filter(|m| !m.eq_ignore_ascii_case("GET"))
    {
        entry.set("method", Value::Str(method));
    }
    let mut headers: Vec<(String, Value)> = ep
        .get("headers")
        .and_then(Json::as_object)
        .map(|h| {
            h.iter()
                .map(|(k, v)| (k.clone(), Value::Str(text(v))))
                .collect()
        })
        .unwrap_or_default();
    let body = ep.get("body").map(text).filter(|b| !b.is_empty());
    let graphql = ep.get("graphql").and_then(Json::as_bool) == Some(true);
    let body = match body {
        // Gatus wraps a GraphQL body as {"query": body} and sends JSON.
        Some(body) if graphql => {
            let has_type = headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
            if !has_type {
                headers.push(("Content-Type".into(), Value::Str("application/json".into())));
            }
            entry.note("graphql: the body is wrapped in {\"query\": …} as Gatus sent it");
            Some(serde_json::json!({ "query": body }).to_string())
        }
        other => other,
    };
    if !headers.is_empty() {
        entry.set("headers", Value::Map(headers));
    }
    if let Some(body) = body {
        if body.contains("[ENDPOINT_")
            || body.contains("[RANDOM_STRING_")
            || body.contains("[LOCAL_ADDRESS]")
        {
            entry.note(not_imported(
                "placeholders in the body",
                "hopwatch sends the body as written",
            ));
        }
        entry.set("body", Value::Str(body));
    }
    if client.get("insecure").and_then(Json::as_bool) == Some(true) {
        entry.set("insecure", Value::bool(true));
    }
    if client.get("ignore-redirect").and_then(Json::as_bool) == Some(true) {
        entry.set("follow_redirects", Value::bool(false));
    }
}

fn socket(
    entry: &mut Entry,
    ep: &Json,
    probe: Probe,
    client: &Json,
    url: &str,
) -> Result<(), String> {
    let target = url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or(rest))
        .filter(|t| !t.is_empty())
        .ok_or("no host:port in its URL")?;
    let kind = match probe {
        Probe::Tcp => "tcp",
        Probe::Smtp => "smtp",
        _ => "tls",
    };
    entry.set("type", Value::Str(kind.into()));
    entry.set("target", Value::Str(target.to_owned()));
    if probe == Probe::Smtp {
        // Gatus's starttls:// is EHLO, STARTTLS and the handshake.
        entry.set("starttls", Value::bool(true));
    }
    let has_tls = matches!(probe, Probe::Tls | Probe::Smtp);
    if has_tls && client.get("insecure").and_then(Json::as_bool) == Some(true) {
        entry.set("insecure", Value::bool(true));
    }
    if ep.get("body").map(text).is_some_and(|b| !b.is_empty()) {
        entry.note(not_imported(
            "body",
            format!("hopwatch's {kind} check connects and sends nothing"),
        ));
    }
    Ok(())
}

/// `icmp://host`: Gatus sends one echo request; so does the import, so
/// loss reads the same.
fn icmp(entry: &mut Entry, url: &str) -> Result<(), String> {
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or(rest))
        .filter(|t| !t.is_empty())
        .ok_or("no host in its URL")?;
    entry.set("type", Value::Str("icmp".into()));
    entry.set("target", Value::Str(host.to_owned()));
    entry.set("count", Value::int(1));
    Ok(())
}

/// `grpc://host:port` (h2c) or `grpcs://host:port` (TLS): the health check.
fn grpc(entry: &mut Entry, client: &Json, url: &str) -> Result<(), String> {
    let (scheme, rest) = url.split_once("://").unwrap_or_default();
    let target = rest
        .split(['/', '?'])
        .next()
        .filter(|t| !t.is_empty())
        .ok_or("no host:port in its URL")?;
    entry.set("type", Value::Str("grpc".into()));
    entry.set("target", Value::Str(target.to_owned()));
    if scheme.eq_ignore_ascii_case("grpcs") {
        entry.set("tls", Value::bool(true));
        if client.get("insecure").and_then(Json::as_bool) == Some(true) {
            entry.set("insecure", Value::bool(true));
        }
    }
    Ok(())
}

/// `ws://` or `wss://`; Gatus sends the endpoint's `body` as the message.
fn websocket(entry: &mut Entry, ep: &Json, client: &Json, url: &str) {
    entry.set("type", Value::Str("websocket".into()));
    entry.set("url", Value::Str(url.to_owned()));
    if let Some(body) = ep.get("body").map(text).filter(|b| !b.is_empty()) {
        entry.set("send", Value::Str(body));
    }
    let headers: Vec<(String, Value)> = ep
        .get("headers")
        .and_then(Json::as_object)
        .map(|h| {
            h.iter()
                .map(|(k, v)| (k.clone(), Value::Str(text(v))))
                .collect()
        })
        .unwrap_or_default();
    if !headers.is_empty() {
        entry.set("headers", Value::Map(headers));
    }
    let secure = url.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("wss:"));
    if secure && client.get("insecure").and_then(Json::as_bool) == Some(true) {
        entry.set("insecure", Value::bool(true));
    }
}

fn dns(entry: &mut Entry, ep: &Json, url: &str) -> Result<(), String> {
    let dns = ep.get("dns").cloned().unwrap_or(Json::Null);
    let query = dns
        .get("query-name")
        .map(text)
        .filter(|q| !q.is_empty())
        .ok_or("dns without query-name")?;
    let record = dns
        .get("query-type")
        .map(text)
        .unwrap_or_default()
        .to_ascii_uppercase();
    if !RECORDS.contains(&record.as_str()) {
        return Err(format!(
            "hopwatch's dns monitor asks for {} records, not {record:?}",
            RECORDS.join(", ")
        ));
    }
    entry.set("type", Value::Str("dns".into()));
    entry.set("query", Value::Str(query));
    entry.set("record", Value::Str(record));
    if !url.is_empty() {
        entry.set("server", Value::Str(url.to_owned()));
    }
    Ok(())
}

/// `interval` (Gatus's default written out, since hopwatch's differs) and
/// `client.timeout`, kept within the interval as hopwatch requires.
fn timing(entry: &mut Entry, ep: &Json, client: &Json) {
    let written = ep.get("interval").map(text);
    let interval_text = written.clone().unwrap_or_else(|| GATUS_INTERVAL.to_owned());
    let interval = go_duration(&interval_text);
    match duration_value(&interval_text) {
        Some(value) => entry.set("interval", value),
        None => entry.note(not_imported(
            format!("interval {interval_text:?}"),
            "not a duration",
        )),
    }
    let Some(timeout_text) = client.get("timeout").map(text) else {
        return;
    };
    match (go_duration(&timeout_text), duration_value(&timeout_text)) {
        (Some(timeout), _) if interval.is_some_and(|i| timeout > i) => {
            let interval = interval.unwrap_or(Duration::ZERO);
            entry.note(format!(
                "client.timeout {timeout_text} is longer than the interval; hopwatch allows at most the interval"
            ));
            entry.set("timeout", Value::Plain(spell(interval)));
        }
        (Some(_), Some(value)) => entry.set("timeout", value),
        _ => entry.note(not_imported(
            format!("client.timeout {timeout_text:?}"),
            "not a duration",
        )),
    }
}

/// A `# not imported` line for each key that has no place in hopwatch.
fn leftovers(entry: &mut Entry, ep: &Json, client: &Json) {
    const USED: [&str; 13] = [
        "name",
        "group",
        "url",
        "method",
        "conditions",
        "interval",
        "graphql",
        "body",
        "headers",
        "dns",
        "alerts",
        "maintenance-windows",
        "client",
    ];
    for key in keys(ep).filter(|k| !USED.contains(k) && *k != "enabled") {
        let why = match key {
            "ui" => "display settings of Gatus's dashboard",
            "extra-labels" => "hopwatch's metrics carry the monitor's name and group",
            "always-run" | "store" => "hopwatch has no suites",
            _ => "not a key this importer knows",
        };
        entry.note(not_imported(key, why));
    }
    for key in keys(client) {
        let why = match key {
            "insecure" | "ignore-redirect" | "timeout" => continue,
            "dns-resolver" => "hopwatch uses the system resolver (or `resolve:` per monitor)",
            "proxy-url" => "hopwatch connects directly, without a proxy",
            "network" => "hopwatch checks the first address (or `addresses: all`)",
            "store-cookies" => "hopwatch sends no cookies",
            _ => "not a client setting this importer knows",
        };
        entry.note(not_imported(format!("client.{key}"), why));
    }
}

/// One entry of `external-endpoints:`: results pushed from outside, a
/// hopwatch push monitor.
pub(crate) fn external(cx: &mut Context, index: usize, ep: &Json) {
    let name = ep.get("name").map(text).unwrap_or_default();
    let origin = format!("external-endpoints[{index}] {name:?}");
    let result = (|| -> Result<Entry, String> {
        if ep.get("enabled").and_then(Json::as_bool) == Some(false) {
            return Err("disabled in Gatus (enabled: false)".into());
        }
        if name.is_empty() {
            return Err("no name".into());
        }
        let token = ep
            .get("token")
            .map(text)
            .filter(|t| !t.is_empty())
            .ok_or("no token")?;
        let interval = ep
            .pointer("/heartbeat/interval")
            .map(text)
            .unwrap_or_default();
        let interval = duration_value(&interval)
            .filter(|_| go_duration(&interval).is_some_and(|d| !d.is_zero()))
            .ok_or("no heartbeat interval: a hopwatch push monitor is down when pushes stop, so it needs one")?;
        let (mut entry, claimed) = claim_entry(cx, &name, &origin, ep);
        entry.note(format!(
            "push to /api/v1/push/{}?status=up|down with the same bearer token",
            claimed
        ));
        entry.set("type", Value::Str("push".into()));
        entry.set("interval", interval);
        entry.set("token", Value::Str(token));
        Ok(entry)
    })();
    match result {
        Ok(entry) => {
            let monitor = entry.name().unwrap_or_default().to_owned();
            let group = ep.get("group").and_then(Json::as_str);
            cx.draft.monitors.push(entry);
            after_monitor(cx, &origin, &monitor, group, ep);
        }
        Err(why) => cx.draft.skip(Section::Monitors, origin, why),
    }
}
