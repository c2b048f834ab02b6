//! Uptime Kuma monitors to hopwatch monitors: http, keyword and json-query
//! to http, port to tcp, dns to dns, push to push, tls to tls, ping to icmp,
//! grpc-keyword to grpc (see `grpc.rs`).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value as Json;

use super::super::duration::spell;
use super::super::model::{Entry, Names, Value, escape_literal, not_imported};
use super::super::status;
use super::read::{Monitor, flag, int, seconds, string};

/// Uptime Kuma's group monitors by id: their name and their own parent.
pub(crate) type Groups = BTreeMap<i64, (String, Option<i64>)>;

/// The record types both Uptime Kuma and hopwatch's dns monitor ask for.
const RECORDS: [&str; 6] = ["A", "AAAA", "CNAME", "MX", "NS", "TXT"];

/// What hopwatch has in place of the monitor types it cannot check.
fn unsupported(kind: &str) -> String {
    match kind {
        "tailscale-ping" => "hopwatch pings over the host's own network, not through Tailscale".into(),
        "docker" => "hopwatch does not ask Docker about containers".into(),
        "sqlserver" | "postgres" | "mysql" | "mongodb" | "redis" => {
            "hopwatch does not log in to databases (a tcp monitor on the port checks that it listens)".into()
        }
        "real-browser" => "hopwatch does not drive a browser".into(),
        "steam" | "gamedig" => "hopwatch does not query game servers".into(),
        "" => "it has no type".into(),
        other => format!("hopwatch has no {other} monitor"),
    }
}

/// One monitor; `Err` is why it was not imported. `groups` maps the ids
/// of Uptime Kuma's group monitors to their names.
pub(crate) fn monitor(names: &mut Names, m: &Monitor, groups: &Groups) -> Result<Entry, String> {
    let row = &m.row;
    let kind = string(row, "type").unwrap_or_default();
    if !matches!(
        kind.as_str(),
        "http"
            | "keyword"
            | "json-query"
            | "port"
            | "dns"
            | "push"
            | "tls"
            | "ping"
            | "grpc-keyword"
    ) {
        return Err(unsupported(&kind));
    }
    if !flag(row, "active") {
        return Err("paused in Uptime Kuma".into());
    }
    if flag(row, "upside_down") {
        return Err("upside-down mode (down counts as up): hopwatch has no inverted check".into());
    }
    let name = string(row, "name").ok_or("no name")?;
    let (group, other_tags) = group(m, groups);
    let claimed = names.claim(&name, group.as_deref());
    let mut entry = Entry::named(&claimed.name);
    entry.origin = format!("monitor {} {name:?} ({kind})", int(row, "id").unwrap_or(0));
    entry.note(format!("from {}", entry.origin));
    if let Some(note) = claimed.note {
        entry.note(note);
    }
    if claimed.name != name {
        entry.set("title", Value::literal(&name));
    }
    if let Some(group) = &group {
        entry.set("group", Value::literal(group));
    }
    if !other_tags.is_empty() {
        entry.not_imported(
            format!("tags {}", other_tags.join(", ")),
            "a hopwatch monitor has one group",
        );
    }
    if let Some(description) = string(row, "description") {
        entry.not_imported(
            format!("description {description:?}"),
            "hopwatch monitors have a title only",
        );
    }
    match kind.as_str() {
        "http" | "keyword" | "json-query" => http(&mut entry, m, &kind)?,
        "port" => {
            entry.set("type", Value::Str("tcp".into()));
            entry.set("target", Value::literal(&host_port(m)?));
        }
        "tls" => {
            if string(row, "expected_tls_alert").is_some_and(|a| a != "none") {
                return Err(
                    "it expects a TLS alert; hopwatch's tls check expects a handshake".into(),
                );
            }
            entry.set("type", Value::Str("tls".into()));
            entry.set("target", Value::literal(&host_port(m)?));
            if flag(row, "ignore_tls") {
                entry.set("insecure", Value::bool(true));
            }
        }
        "dns" => dns(&mut entry, m)?,
        "ping" => ping(&mut entry, m)?,
        "grpc-keyword" => super::grpc::grpc(&mut entry, m)?,
        _ => push(&mut entry, m)?,
    }
    timing(&mut entry, m, &kind);
    if int(row, "proxy_id").is_some() {
        entry.not_imported("its proxy", "hopwatch connects directly");
    }
    Ok(entry)
}

/// The group: the Uptime Kuma group monitors it sits in, else its first
/// tag; the other tags are returned to be named in a comment.
fn group(m: &Monitor, groups: &Groups) -> (Option<String>, Vec<String>) {
    let mut path = Vec::new();
    let mut parent = int(&m.row, "parent");
    // A parent chain is at most as long as there are groups; a loop in a
    // damaged database stops there.
    for _ in 0..=groups.len() {
        let Some((name, up)) = parent.and_then(|id| groups.get(&id)) else {
            break;
        };
        path.insert(0, name.clone());
        parent = *up;
    }
    if !path.is_empty() {
        return (Some(path.join(" / ")), m.tags.clone());
    }
    let mut tags = m.tags.clone();
    if tags.is_empty() {
        return (None, tags);
    }
    let first = tags.remove(0);
    (Some(first), tags)
}

fn http(entry: &mut Entry, m: &Monitor, kind: &str) -> Result<(), String> {
    let row = &m.row;
    let auth = string(row, "auth_method").unwrap_or_default();
    // Before Uptime Kuma had auth_method, a basic_auth_user meant basic.
    let basic = auth == "basic" || (auth.is_empty() && string(row, "basic_auth_user").is_some());
    let bearer = auth == "bearer";
    if !basic && !bearer && !auth.is_empty() {
        return Err(format!(
            "it authenticates with {auth}, which hopwatch does not do"
        ));
    }
    let url = string(row, "url").ok_or("no url")?;
    entry.set("url", Value::literal(&url));
    if let Some(method) = string(row, "method").filter(|m| !m.eq_ignore_ascii_case("GET")) {
        entry.set("method", Value::literal(&method));
    }
    let mut headers: Vec<(String, Value)> = Vec::new();
    if let Some(text) = string(row, "headers") {
        match serde_json::from_str::<serde_json::Map<String, Json>>(&text) {
            Ok(map) => {
                for (name, value) in map {
                    let value = match value {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    headers.push((name, Value::literal(&value)));
                }
            }
            Err(_) => entry.not_imported("headers", "they are not a JSON object"),
        }
    }
    let has_header = |headers: &[(String, Value)], name: &str| {
        headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    let body = string(row, "body");
    if body.is_some() && !has_header(&headers, "content-type") {
        // Uptime Kuma labels the body by its encoding setting (JSON unless set).
        match string(row, "http_body_encoding").as_deref() {
            None | Some("json") => {
                headers.push(("Content-Type".into(), Value::Str("application/json".into())))
            }
            Some("xml") => headers.push((
                "Content-Type".into(),
                Value::Str("text/xml; charset=utf-8".into()),
            )),
            Some(other) => entry.not_imported(
                format!("body encoding {other}"),
                "hopwatch sends the body without a Content-Type",
            ),
        }
    }
    if basic && !has_header(&headers, "authorization") {
        let user = string(row, "basic_auth_user").unwrap_or_default();
        let pass = string(row, "basic_auth_pass").unwrap_or_default();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        entry.note("basic auth: sent as an Authorization header");
        headers.push(("Authorization".into(), Value::Str(format!("Basic {token}"))));
    }
    if bearer && !has_header(&headers, "authorization") {
        let token = string(row, "bearer_token").unwrap_or_default();
        headers.push((
            "Authorization".into(),
            Value::literal(&format!("Bearer {token}")),
        ));
    }
    if !headers.is_empty() {
        entry.set("headers", Value::Map(headers));
    }
    if let Some(body) = body {
        entry.set("body", Value::literal(&body));
    }
    if flag(row, "ignore_tls") {
        entry.set("insecure", Value::bool(true));
    }
    match int(row, "maxredirects") {
        Some(0) => entry.set("follow_redirects", Value::bool(false)),
        Some(n) if n != 10 => {
            entry.not_imported(format!("maxredirects {n}"), "hopwatch follows at most 10")
        }
        _ => {}
    }
    if flag(row, "cache_bust") {
        entry.not_imported("cache busting", "hopwatch requests the URL as written");
    }
    let mut expect = vec![("status".to_owned(), statuses(entry, m))];
    match kind {
        "keyword" => keyword(entry, m, &mut expect),
        "json-query" => json_query(entry, m, &mut expect),
        _ => {}
    }
    entry.set("expect", Value::Map(expect));
    Ok(())
}

/// `accepted_statuscodes` (`["200-299", "301"]`) as `expect.status`.
fn statuses(entry: &mut Entry, m: &Monitor) -> Value {
    let listed: Vec<String> = match m.row.get("accepted_statuscodes") {
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => string(&m.row, "accepted_statuscodes_json")
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_else(|| vec!["200-299".to_owned()]),
    };
    let mut allowed = status::every(false);
    for item in &listed {
        let (from, to) = item.split_once('-').unwrap_or((item, item));
        match (from.trim().parse::<u16>(), to.trim().parse::<u16>()) {
            (Ok(from), Ok(to)) => status::allow(&mut allowed, from, to),
            _ => entry.not_imported(format!("accepted status {item:?}"), "not a code or range"),
        }
    }
    if !allowed.contains(&true) {
        return Value::List(vec![Value::Str("2xx".into())]);
    }
    status::value(&allowed)
}

fn keyword(entry: &mut Entry, m: &Monitor, expect: &mut Vec<(String, Value)>) {
    let Some(keyword) = string(&m.row, "keyword") else {
        return;
    };
    if flag(&m.row, "invert_keyword") {
        entry.not_imported(
            format!("keyword {keyword:?} must be absent"),
            "hopwatch has no negative body match; this monitor checks the status only",
        );
        return;
    }
    expect.push(("body_contains".into(), Value::literal(&keyword)));
}

fn json_query(entry: &mut Entry, m: &Monitor, expect: &mut Vec<(String, Value)>) {
    let query = string(&m.row, "json_path").unwrap_or_default();
    let wanted = string(&m.row, "expected_value").unwrap_or_default();
    let operator = string(&m.row, "json_path_operator").unwrap_or_else(|| "==".into());
    if operator != "==" {
        entry.not_imported(
            format!("json query {query:?} {operator} {wanted:?}"),
            "hopwatch compares JSON values for equality only",
        );
        return;
    }
    match jsonpath(&query) {
        // Uptime Kuma compares the text of the result: a string is right.
        Some(path) => expect.push((
            "json".into(),
            Value::Map(vec![(path, Value::literal(&wanted))]),
        )),
        None => entry.not_imported(
            format!("json query {query:?}"),
            "a JSONata expression beyond a plain path; hopwatch takes JSONPath",
        ),
    }
}

/// A plain JSONata path (`data.items[0].name`, `$.status`) as JSONPath.
pub(crate) fn jsonpath(query: &str) -> Option<String> {
    let query = query.trim();
    let rest = query
        .strip_prefix("$.")
        .or_else(|| query.strip_prefix('$'))
        .unwrap_or(query);
    let step = regex::Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])*$").ok()?;
    if rest.is_empty() || !rest.split('.').all(|s| step.is_match(s)) {
        return None;
    }
    let path = format!("$.{rest}");
    serde_json_path::JsonPath::parse(&path)
        .ok()
        .map(|_| escape_literal(&path))
}

fn host_port(m: &Monitor) -> Result<String, String> {
    let host = string(&m.row, "hostname").ok_or("no hostname")?;
    let port = int(&m.row, "port").ok_or("no port")?;
    Ok(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

fn dns(entry: &mut Entry, m: &Monitor) -> Result<(), String> {
    let row = &m.row;
    let query = string(row, "hostname").ok_or("no hostname")?;
    let record = string(row, "dns_resolve_type")
        .unwrap_or_else(|| "A".into())
        .to_ascii_uppercase();
    if !RECORDS.contains(&record.as_str()) {
        return Err(format!(
            "hopwatch's dns monitor asks for {} records, not {record}",
            RECORDS.join(", ")
        ));
    }
    entry.set("type", Value::Str("dns".into()));
    entry.set("query", Value::literal(&query));
    entry.set("record", Value::Str(record));
    if let Some(servers) = string(row, "dns_resolve_server") {
        let mut list = servers.split(',').map(str::trim).filter(|s| !s.is_empty());
        if let Some(first) = list.next() {
            let port = int(row, "port").unwrap_or(53);
            let server = if first.contains(':') {
                format!("[{first}]:{port}")
            } else {
                format!("{first}:{port}")
            };
            entry.set("server", Value::literal(&server));
        }
        let rest: Vec<&str> = list.collect();
        if !rest.is_empty() {
            entry.not_imported(
                format!("resolvers {}", rest.join(", ")),
                "hopwatch asks one resolver",
            );
        }
    }
    if string(row, "conditions").is_some_and(|c| c.trim() != "[]") {
        entry.not_imported(
            "its conditions on the records",
            "hopwatch compares the whole answer set (expect.answers)",
        );
    }
    Ok(())
}

/// `ping`: the host, and Uptime Kuma 2's `ping_count` (1 before it had
/// one) within hopwatch's 1 to 20.
fn ping(entry: &mut Entry, m: &Monitor) -> Result<(), String> {
    let row = &m.row;
    let host = string(row, "hostname").ok_or("no hostname")?;
    let wanted = int(row, "ping_count").unwrap_or(1);
    let count = wanted.clamp(1, 20);
    if count != wanted {
        entry.note(format!(
            "ping_count {wanted} is outside hopwatch's 1 to 20; {count} is sent"
        ));
    }
    entry.set("type", Value::Str("icmp".into()));
    entry.set("target", Value::literal(&host));
    entry.set("count", Value::int(count));
    if int(row, "packet_size").is_some_and(|size| size != 56) {
        entry.not_imported("its packet size", "hopwatch sends small echo requests");
    }
    Ok(())
}

fn push(entry: &mut Entry, m: &Monitor) -> Result<(), String> {
    let token = string(&m.row, "push_token").ok_or("no push token")?;
    entry.note(format!(
        "push to /api/v1/push/{}?token=…&status=up (Uptime Kuma's /api/push/<token> is not hopwatch's)",
        entry.name().unwrap_or_default()
    ));
    entry.set("type", Value::Str("push".into()));
    entry.set("token", Value::literal(&token));
    Ok(())
}

/// `interval` and `timeout` (seconds in Uptime Kuma), and the retries.
fn timing(entry: &mut Entry, m: &Monitor, kind: &str) {
    let row = &m.row;
    let interval = int(row, "interval").filter(|i| *i > 0).unwrap_or(60);
    entry.set("interval", Value::Plain(format!("{interval}s")));
    let timeout = seconds(row, "timeout").filter(|t| *t > 0.0 && t.is_finite());
    if let Some(timeout) = timeout.filter(|_| kind != "push") {
        let limit = std::time::Duration::from_secs_f64(timeout.min(interval as f64));
        if timeout > interval as f64 {
            entry.note(format!("timeout {timeout}s is longer than the interval; hopwatch allows at most the interval"));
        }
        entry.set("timeout", Value::Plain(spell(limit)));
    }
    let retries = int(row, "maxretries").unwrap_or(0);
    let retry_interval = int(row, "retry_interval").unwrap_or(interval);
    if retries > 0 && retry_interval != interval {
        entry.comments.push(not_imported(
            format!("retry interval {retry_interval}s"),
            "hopwatch counts failures at the monitor's interval",
        ));
    }
}
