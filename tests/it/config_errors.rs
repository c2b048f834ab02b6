//! The config loader against broken and working files: each broken file must
//! give exactly the expected error lines, and every shipped example must load.

use std::path::Path;
use std::time::Duration;

use hopwatch::config::{Format, LoadedConfig, find_config_file, load, parse_with_env};
use hopwatch::monitor::MonitorKind;
use proptest::prelude::*;

/// The environment the table runs in; the process environment is not used.
fn env(name: &str) -> Option<String> {
    match name {
        "API_TOKEN" => Some("tok-9f8e7d".to_owned()),
        "CONFIRM" => Some("2".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn yaml(text: &str) -> Result<LoadedConfig, Vec<String>> {
    parse_with_env(text, Format::Yaml, "hopwatch.yaml", &env).map_err(|e| e.errors)
}

fn toml(text: &str) -> Result<LoadedConfig, Vec<String>> {
    parse_with_env(text, Format::Toml, "hopwatch.toml", &env).map_err(|e| e.errors)
}

/// (what is broken, YAML text, the exact error lines)
const BROKEN: &[(&str, &str, &[&str])] = &[
    (
        "yaml syntax error names the line",
        "monitors:\n  - name: a\n    url: http://x\n   bad: [\n",
        &[
            "hopwatch.yaml: line 4 column 4: did not find expected '-' indicator, while parsing a block collection at line 2 column 3",
        ],
    ),
    (
        "a key given twice",
        "monitors:\n  - name: a\n    url: http://x\n    expect: { status: [200] }\n    expect: { status: [201] }\n",
        &[r#"hopwatch.yaml: line 2 column 5: monitors[0]: duplicate key "expect""#],
    ),
    (
        "a section given twice",
        "monitors: [{ name: a, url: http://x }]\nmonitors: [{ name: b, url: http://x }]\n",
        &[r#"hopwatch.yaml: line 1 column 1: duplicate key "monitors""#],
    ),
    (
        "empty file",
        "# nothing here\n",
        &["hopwatch.yaml: the file is empty (expected at least a monitors list)"],
    ),
    (
        "top level is a list",
        "- name: a\n",
        &[
            "hopwatch.yaml: the top level must be a mapping of sections (server, monitors, ...), found a list",
        ],
    ),
    (
        "no monitors at all",
        "server: { listen: 127.0.0.1:9000 }\n",
        &["hopwatch.yaml: monitors: at least one monitor is required"],
    ),
    (
        "an empty monitors list",
        "monitors: []\n",
        &["hopwatch.yaml: monitors: at least one monitor is required"],
    ),
    (
        "unknown top-level key",
        "monitor:\n  - { name: a, url: http://x }\nmonitors: [{ name: b, url: http://x }]\n",
        &[
            "hopwatch.yaml: monitor: unknown key (expected one of: server, storage, node, defaults, monitors, alerts, notifiers, maintenance, agents, pages, subscriptions)",
        ],
    ),
    (
        "unknown key in a monitor",
        "monitors:\n  - { name: a, url: http://x }\n  - { name: b, url: http://x, intervall: 5s }\n",
        &[
            "hopwatch.yaml: monitors[1].intervall: unknown key (expected one of: name, title, group, type, url, method, headers, body, resolve, follow_redirects, insecure, ca_file, expect, upstream, regions, quorum, addresses, confirm, runbook, interval, timeout, target, query, record, server, grace, token, starttls, domain, rdap_server, count, service, tls, send)",
        ],
    ),
    (
        "unknown key in expect",
        "monitors:\n  - { name: a, url: http://x, expect: { staus: [200] } }\n",
        &[
            "hopwatch.yaml: monitors[0].expect.staus: unknown key (expected one of: status, body_contains, body_regex, json, headers, max_latency, cert_min_days, answers, min_days)",
        ],
    ),
    (
        "bad duration, the contract's own example",
        "monitors:\n  - { name: a, url: http://x }\n  - { name: b, url: http://x }\n  - { name: c, url: http://x, interval: 5 sec }\n",
        &[
            r#"hopwatch.yaml: monitors[2].interval: invalid duration "5 sec" (expected e.g. 30s, 5m)"#,
        ],
    ),
    (
        "a bare number is not a duration",
        "monitors:\n  - { name: a, url: http://x, timeout: 5 }\n",
        &["hopwatch.yaml: monitors[0].timeout: invalid duration 5 (expected e.g. 30s, 5m)"],
    ),
    (
        "interval under a second",
        "monitors:\n  - { name: a, url: http://x, interval: 500ms }\n",
        &["hopwatch.yaml: monitors[0].interval: 500ms is too short (at least 1s)"],
    ),
    (
        "timeout longer than interval",
        "monitors:\n  - { name: a, url: http://x, interval: 5s, timeout: 10s }\n",
        &["hopwatch.yaml: monitors[0].timeout: 10s is longer than interval 5s"],
    ),
    (
        "an own interval shorter than the default timeout",
        "defaults: { timeout: 10s }\nmonitors:\n  - { name: a, url: http://x, interval: 5s }\n",
        &["hopwatch.yaml: monitors[0].interval: 5s is shorter than the default timeout 10s"],
    ),
    (
        "duplicate monitor names",
        "monitors:\n  - { name: a, url: http://x }\n  - { name: a, type: tcp, target: x:1 }\n",
        &[r#"hopwatch.yaml: monitors[1].name: duplicate name "a" (also used by monitors[0])"#],
    ),
    (
        "bad characters in a name",
        "monitors:\n  - { name: Shop Edge, url: http://x }\n",
        &[
            r#"hopwatch.yaml: monitors[0].name: invalid name "Shop Edge" (use a-z, 0-9, '.', '_', '-')"#,
        ],
    ),
    (
        "a missing name",
        "monitors:\n  - { url: http://x }\n",
        &["hopwatch.yaml: monitors[0].name: required key is missing"],
    ),
    (
        "unknown monitor type",
        "monitors:\n  - { name: a, type: htp, url: http://x }\n",
        &[
            r#"hopwatch.yaml: monitors[0].type: unknown value "htp" (expected one of: http, tcp, tls, dns, push, smtp, domain, icmp, grpc, websocket)"#,
        ],
    ),
    (
        "a word where a number belongs",
        "monitors:\n  - { name: a, url: http://x, confirm: lots }\n",
        &[r#"hopwatch.yaml: monitors[0].confirm: expected a whole number, found "lots""#],
    ),
    (
        "upstream names nothing",
        "monitors:\n  - { name: a, url: http://x, upstream: ghost }\n",
        &[r#"hopwatch.yaml: monitors[0].upstream: no monitor named "ghost""#],
    ),
    (
        "upstream is itself",
        "monitors:\n  - { name: a, url: http://x, upstream: a }\n",
        &["hopwatch.yaml: monitors[0].upstream: a monitor cannot be its own upstream"],
    ),
    (
        "upstream loop is reported once",
        "monitors:\n  - { name: c, url: http://x }\n  - { name: a, url: http://x, upstream: b }\n  - { name: b, url: http://x, upstream: a }\n",
        &["hopwatch.yaml: monitors[1].upstream: upstream loop: a -> b -> a"],
    ),
    (
        "alert notifies nothing",
        "monitors: [{ name: a, url: http://x }]\nalerts:\n  - { name: down, monitors: [a], when: { consecutive_failures: 3 }, notify: [pager] }\n",
        &[r#"hopwatch.yaml: alerts[0].notify[0]: no notifier named "pager""#],
    ),
    (
        "alert selects nothing",
        "monitors: [{ name: a, url: http://x, group: Shop }]\nalerts:\n  - { name: down, monitors: [ghost, \"group:Nope\", \"group:Shop\", \"*\"], when: { consecutive_failures: 3 } }\n",
        &[
            r#"hopwatch.yaml: alerts[0].monitors[0]: no monitor named "ghost""#,
            r#"hopwatch.yaml: alerts[0].monitors[1]: no group named "Nope""#,
        ],
    ),
    (
        "unknown condition",
        "monitors: [{ name: a, url: http://x }]\nalerts:\n  - { name: down, monitors: [a], when: { consecutive_failure: 3 } }\n",
        &[
            "hopwatch.yaml: alerts[0].when.consecutive_failure: unknown key (expected one of: consecutive_failures, error_rate, status_5xx_rate, latency, cert_expiry)",
        ],
    ),
    (
        "two conditions in one alert",
        "monitors: [{ name: a, url: http://x }]\nalerts:\n  - { name: down, monitors: [a], when: { consecutive_failures: 3, error_rate: { above: 5%, window: 5m } } }\n",
        &["hopwatch.yaml: alerts[0].when: expected exactly one key"],
    ),
    (
        "a condition without its value",
        "monitors: [{ name: a, url: http://x }]\nalerts:\n  - { name: down, monitors: [a], when: consecutive_failures }\n",
        &[
            "hopwatch.yaml: alerts[0].when: expected a mapping such as { consecutive_failures: ... }",
        ],
    ),
    (
        "a section of the wrong shape",
        "storage: 3\nmonitors: { a: 1 }\nalerts: [5]\n",
        &[
            "hopwatch.yaml: storage: expected a mapping, found a number",
            "hopwatch.yaml: monitors: expected a list, found a mapping",
            "hopwatch.yaml: alerts[0]: expected a mapping, found a number",
        ],
    ),
    (
        "storage.keep_healthy out of range",
        "storage: { keep_healthy: { after: 10m, every: 0s } }\nmonitors: [{ name: a, url: http://x }]\n",
        &[
            "hopwatch.yaml: storage.keep_healthy.after: must be at least 1h (recent checks are read whole)",
            "hopwatch.yaml: storage.keep_healthy.every: must be between 1s and 1d",
        ],
    ),
    (
        "storage.keep_healthy misspelt",
        "storage: { keep_healthy: { every: 5 min, keep: 1 } }\nmonitors: [{ name: a, url: http://x }]\n",
        &[
            "hopwatch.yaml: storage.keep_healthy.every: invalid duration \"5 min\" (expected e.g. 30s, 5m)",
            "hopwatch.yaml: storage.keep_healthy.keep: unknown key (expected after or every)",
        ],
    ),
    (
        "storage.keep_healthy neither a duration, off nor a mapping",
        "storage: { keep_healthy: sometimes }\nmonitors: [{ name: a, url: http://x }]\n",
        &[
            "hopwatch.yaml: storage.keep_healthy: invalid value \"sometimes\" (expected a duration such as 5m, 0 or off to keep every check, or { after: 48h, every: 5m })",
        ],
    ),
    (
        "percentage over 100%",
        "monitors: [{ name: a, url: http://x }]\nalerts:\n  - { name: 5xx, monitors: [a], when: { status_5xx_rate: { above: 150%, window: 5m } } }\n",
        &[
            "hopwatch.yaml: alerts[0].when.status_5xx_rate.above: percentage 1.5 out of range (expected 0%..100% or 0..1)",
        ],
    ),
    (
        "latency percentile out of range",
        "monitors: [{ name: a, url: http://x }]\nalerts:\n  - { name: slow, monitors: [a], when: { latency: { percentile: 150, above: 1s, window: 5m } } }\n",
        &[
            "hopwatch.yaml: alerts[0].when.latency.percentile: 150 is out of range (expected more than 0, at most 100)",
        ],
    ),
    (
        "duplicate alert and notifier names",
        "monitors: [{ name: a, url: http://x }]\nalerts:\n  - { name: x, monitors: [a], when: { consecutive_failures: 1 } }\n  - { name: x, monitors: [a], when: { consecutive_failures: 2 } }\nnotifiers:\n  - { name: n, type: webhook, url: http://hook }\n  - { name: n, type: webhook, url: http://hook }\n",
        &[
            r#"hopwatch.yaml: alerts[1].name: duplicate name "x" (also used by alerts[0])"#,
            r#"hopwatch.yaml: notifiers[1].name: duplicate name "n" (also used by notifiers[0])"#,
        ],
    ),
    (
        "unset environment variable",
        "monitors: [{ name: a, url: http://x }]\nnotifiers:\n  - name: mail\n    type: email\n    smtp: { host: smtp.example.com, password: \"${SMTP_PASSWORD}\" }\n    from: a@example.com\n    to: [b@example.com]\n",
        &[
            "hopwatch.yaml: notifiers[0].smtp.password: environment variable SMTP_PASSWORD is not set (use ${SMTP_PASSWORD:-default} for a default)",
        ],
    ),
    (
        "an unset variable is reported once, not echoed by later checks",
        "monitors: [{ name: a, url: \"${ORIGIN_URL}\" }]\n",
        &[
            "hopwatch.yaml: monitors[0].url: environment variable ORIGIN_URL is not set (use ${ORIGIN_URL:-default} for a default)",
        ],
    ),
    (
        "a secret from the environment is never echoed",
        "monitors: [{ name: a, url: \"htp://x/?t=${API_TOKEN}\" }]\n",
        &[
            r#"hopwatch.yaml: monitors[0].url: invalid url "htp://x/?t=***" (expected http:// or https:// with a host)"#,
        ],
    ),
    (
        "a secret in a bad duration is not echoed either",
        "monitors: [{ name: a, url: http://x, interval: \"${API_TOKEN}\" }]\n",
        &[r#"hopwatch.yaml: monitors[0].interval: invalid duration "***" (expected e.g. 30s, 5m)"#],
    ),
    (
        "bad regex",
        "monitors: [{ name: a, url: http://x, expect: { body_regex: \"(ok\" } }]\n",
        &["hopwatch.yaml: monitors[0].expect.body_regex: invalid regex: error: unclosed group"],
    ),
    (
        "bad JSONPath",
        "monitors: [{ name: a, url: http://x, expect: { json: { \"$.[\": ok } } }]\n",
        &[
            "hopwatch.yaml: monitors[0].expect.json.$.[: invalid JSONPath: at position 2, in dot member name, must start with lowercase alpha or '_'",
        ],
    ),
    (
        "bad status class",
        "monitors: [{ name: a, url: http://x, expect: { status: [200, \"6xx\"] } }]\n",
        &[
            r#"hopwatch.yaml: monitors[0].expect.status[1]: invalid status "6xx" (expected a code 100-599 or a class such as "2xx")"#,
        ],
    ),
    (
        "tcp monitor with a url",
        "monitors: [{ name: db, type: tcp, target: \"db:5432\", url: http://x }]\n",
        &["hopwatch.yaml: monitors[0].url: not used by a tcp monitor"],
    ),
    (
        "smtp and domain keys on other monitors",
        "monitors: [{ name: db, type: tcp, target: \"db:5432\", starttls: true, rdap_server: \"https://rdap.test/\", expect: { min_days: 10 } }]\n",
        &[
            "hopwatch.yaml: monitors[0].starttls: not used by a tcp monitor",
            "hopwatch.yaml: monitors[0].rdap_server: not used by a tcp monitor",
            "hopwatch.yaml: monitors[0].expect.min_days: not used by a tcp monitor",
        ],
    ),
    (
        "smtp monitor without a target, with trust settings but no starttls",
        "monitors: [{ name: mx, type: smtp, insecure: true, expect: { cert_min_days: 10 } }]\n",
        &[
            "hopwatch.yaml: monitors[0].insecure: used by an smtp monitor only with starttls: true",
            "hopwatch.yaml: monitors[0].expect.cert_min_days: used by an smtp monitor only with starttls: true",
            "hopwatch.yaml: monitors[0].target: an smtp monitor needs a target (host:port)",
        ],
    ),
    (
        "domain monitor without a domain, with a bad rdap_server and a url",
        "monitors: [{ name: reg, type: domain, url: http://x, rdap_server: \"ftp://rdap.test/\", expect: { max_latency: 1s } }]\n",
        &[
            "hopwatch.yaml: monitors[0].url: not used by a domain monitor",
            "hopwatch.yaml: monitors[0].expect.max_latency: not used by a domain monitor",
            "hopwatch.yaml: monitors[0].domain: a domain monitor needs a domain (the registered name, e.g. example.com)",
            r#"hopwatch.yaml: monitors[0].rdap_server: invalid rdap_server "ftp://rdap.test/" (expected an http:// or https:// base URL)"#,
        ],
    ),
    (
        "domain monitor for a bare TLD",
        "monitors: [{ name: reg, type: domain, domain: com }]\n",
        &[
            r#"hopwatch.yaml: monitors[0].domain: invalid domain "com" (expected a registered name such as example.com)"#,
        ],
    ),
    (
        "icmp monitor with a count out of range and a url",
        "monitors:\n  - { name: gw, type: icmp, target: 192.0.2.1, count: 21, url: http://x }\n  - { name: gw2, type: icmp, target: gw.example.com, count: 0 }\n",
        &[
            "hopwatch.yaml: monitors[0].url: not used by an icmp monitor",
            "hopwatch.yaml: monitors[0].count: invalid count 21 (expected 1 to 20 echo requests)",
            "hopwatch.yaml: monitors[1].count: invalid count 0 (expected 1 to 20 echo requests)",
        ],
    ),
    (
        "icmp monitor without a target, or with a port",
        "monitors:\n  - { name: gw, type: icmp }\n  - { name: gw2, type: icmp, target: \"gw.example.com:80\" }\n  - { name: db, type: tcp, target: \"db:5432\", count: 3 }\n",
        &[
            "hopwatch.yaml: monitors[0].target: an icmp monitor needs a target (a host name or IP address)",
            r#"hopwatch.yaml: monitors[1].target: invalid target "gw.example.com:80" (expected a host name or IP address without a port, e.g. db.example.com or 2001:db8::7)"#,
            "hopwatch.yaml: monitors[2].count: not used by a tcp monitor",
        ],
    ),
    (
        "http monitor without url",
        "monitors: [{ name: a }]\n",
        &["hopwatch.yaml: monitors[0].url: an http monitor needs a url"],
    ),
    (
        "an error in defaults is reported once",
        "defaults: { interval: soon, expect: { body_regex: \"(\" } }\nmonitors:\n  - { name: a, url: http://x }\n  - { name: b, url: http://y }\n  - { name: c, url: http://z }\n",
        &[
            r#"hopwatch.yaml: defaults.interval: invalid duration "soon" (expected e.g. 30s, 5m)"#,
            "hopwatch.yaml: defaults.expect.body_regex: invalid regex: error: unclosed group",
        ],
    ),
    (
        "a bad default hides no monitor error",
        "defaults: { intervall: 5s }\nmonitors:\n  - { name: a, url: http://x, confirm: many }\n",
        &[
            "hopwatch.yaml: defaults.intervall: unknown key (expected one of: name, title, group, type, url, method, headers, body, resolve, follow_redirects, insecure, ca_file, expect, upstream, regions, quorum, addresses, confirm, runbook, interval, timeout, target, query, record, server, grace, token, starttls, domain, rdap_server, count, service, tls, send)",
            r#"hopwatch.yaml: monitors[0].confirm: expected a whole number, found "many""#,
        ],
    ),
    (
        "two errors in two monitors are both reported",
        "monitors:\n  - { name: a, url: http://x, interval: 1 minute later }\n  - { name: b, type: tcp }\n",
        &[
            r#"hopwatch.yaml: monitors[0].interval: invalid duration "1 minute later" (expected e.g. 30s, 5m)"#,
            "hopwatch.yaml: monitors[1].target: a tcp monitor needs a target (host:port)",
        ],
    ),
    (
        "two errors in one monitor are both reported",
        "monitors:\n  - { name: a, url: http://x, interval: often, addresses: some }\n",
        &[
            r#"hopwatch.yaml: monitors[0].addresses: unknown value "some" (expected first or all)"#,
            r#"hopwatch.yaml: monitors[0].interval: invalid duration "often" (expected e.g. 30s, 5m)"#,
        ],
    ),
    (
        "notifiers missing what their type needs",
        "monitors: [{ name: a, url: http://x }]\nnotifiers:\n  - { name: hook, type: webhook, format: pagerduty }\n  - { name: mail, type: email, url: http://x }\n",
        &[
            "hopwatch.yaml: notifiers[0].url: a webhook notifier needs a url",
            "hopwatch.yaml: notifiers[0].routing_key: format pagerduty needs a routing_key",
            "hopwatch.yaml: notifiers[1].url: not used by an email notifier",
            "hopwatch.yaml: notifiers[1].smtp: an email notifier needs smtp (host, port, security, ...)",
            "hopwatch.yaml: notifiers[1].from: an email notifier needs a from address",
            "hopwatch.yaml: notifiers[1].to: an email notifier needs at least one recipient",
        ],
    ),
    (
        "bad server addresses",
        "server: { listen: localhost, connectivity_check: 192.0.2.1 }\nmonitors: [{ name: a, url: http://x }]\n",
        &[
            r#"hopwatch.yaml: server.listen: invalid address "localhost" (expected ip:port, e.g. 127.0.0.1:8080)"#,
            r#"hopwatch.yaml: server.connectivity_check: invalid address "192.0.2.1" (expected host:port, e.g. 192.0.2.1:53)"#,
        ],
    ),
    (
        "maintenance needs exactly one of start and cron",
        "monitors: [{ name: a, url: http://x }]\nmaintenance:\n  - { monitors: [a], duration: 1h }\n  - { monitors: [a], start: 2026-12-01T02:00:00Z, cron: \"0 3 * * *\", duration: 1h }\n  - { monitors: [a], start: next tuesday, duration: 1h }\n",
        &[
            "hopwatch.yaml: maintenance[0]: needs a start (RFC 3339) or a cron schedule",
            "hopwatch.yaml: maintenance[1]: set either start or cron, not both",
            r#"hopwatch.yaml: maintenance[2].start: invalid time "next tuesday" (expected RFC 3339, e.g. 2026-12-01T02:00:00Z)"#,
        ],
    ),
    (
        "maintenance announcements need notifiers that exist",
        "monitors: [{ name: a, url: http://x }]\nnotifiers: [{ name: ops, type: webhook, url: http://127.0.0.1:9/h }]\nmaintenance:\n  - { monitors: [a], cron: \"0 2 * * *\", duration: 1h, announce: true }\n  - { monitors: [a], start: 2026-12-01T02:00:00Z, duration: 1h, announce: true, notify: [ops, pager] }\n  - { monitors: [a], start: 2026-12-01T02:00:00Z, duration: 1h, notify: [ops] }\n",
        &[
            "hopwatch.yaml: maintenance[0].notify: announce: true needs notify (the notifiers to announce through)",
            r#"hopwatch.yaml: maintenance[1].notify[1]: no notifier named "pager""#,
        ],
    ),
    (
        "a secret written as a number is refused without its value",
        "server: { admin_token: 8675309 }\nmonitors:\n  - { name: a, url: http://x }\n  - { name: b, type: push, token: 4242424 }\n",
        &[
            "hopwatch.yaml: server.admin_token: expected a string, found a number (put it in quotes; a secret's value is never shown)",
            "hopwatch.yaml: monitors[1].token: expected a string, found a number (put it in quotes; a secret's value is never shown)",
        ],
    ),
    (
        "wrongly typed notifier secrets are refused without their values",
        "monitors: [{ name: a, url: http://x }]\nnotifiers:\n  - { name: mail, type: email, smtp: { host: smtp.example.com, username: u, password: [hunter2] }, from: a@example.com, to: [b@example.com] }\n  - { name: pd, type: webhook, url: http://hook, format: pagerduty, secret: true, routing_key: 31337 }\n",
        &[
            "hopwatch.yaml: notifiers[0].smtp.password: expected a string, found a list (a secret's value is never shown)",
            "hopwatch.yaml: notifiers[1].routing_key: expected a string, found a number (put it in quotes; a secret's value is never shown)",
            "hopwatch.yaml: notifiers[1].secret: expected a string, found a boolean (put it in quotes; a secret's value is never shown)",
        ],
    ),
    (
        "a url that does not parse shows no password, even one with a slash",
        "monitors: [{ name: a, url: \"https://bob:hun/ter2@example.com:99999/\" }]\nnotifiers:\n  - { name: hook, type: webhook, url: \"https://hook:s3c#r3t@hooks.example.com/x y\" }\n",
        &[
            r#"hopwatch.yaml: monitors[0].url: invalid url "https://***@example.com:99999/": invalid port number"#,
            r#"hopwatch.yaml: notifiers[0].url: invalid url "https://***@hooks.example.com/x y" (expected http:// or https://)"#,
        ],
    ),
    (
        "a yaml error on a line holding a secret does not quote it",
        "server: { admin_token: !!int s3cr3t-t0ken }\nmonitors: [{ name: a, url: http://x }]\n",
        &[
            r#"hopwatch.yaml: line 1 column 24: server.admin_token: invalid value: string "***", expected an integer"#,
        ],
    ),
    (
        "an smtp login in clear text without the opt-in",
        "monitors: [{ name: a, url: http://x }]\nnotifiers:\n  - { name: mail, type: email, smtp: { host: smtp.example.com, security: none, username: u, password: \"${API_TOKEN}\" }, from: a@example.com, to: [b@example.com] }\n  - { name: relay, type: email, smtp: { host: smtp.example.com, security: none, username: u }, from: a@example.com, to: [b@example.com] }\n",
        &[
            "hopwatch.yaml: notifiers[0].smtp.security: none would send the username and password in clear text: use starttls or tls, or set smtp.allow_plaintext_auth: true for a relay on a trusted network",
            "hopwatch.yaml: notifiers[1].smtp.security: none would send the username and password in clear text: use starttls or tls, or set smtp.allow_plaintext_auth: true for a relay on a trusted network",
        ],
    ),
    (
        "pages with bad and repeated slugs, and names that do not exist",
        "monitors: [{ name: a, url: http://x, group: Shop }]\npages:\n  - { slug: Shop Page, groups: [Shop] }\n  - { slug: shop, groups: [Shop, Nope], monitors: [a, ghost] }\n  - { slug: shop, monitors: [\"*\"] }\n",
        &[
            r#"hopwatch.yaml: pages[0].slug: invalid slug "Shop Page" (use a-z, 0-9, '-', '_', at most 64; "" is the page at /)"#,
            r#"hopwatch.yaml: pages[1].groups[1]: no group named "Nope""#,
            r#"hopwatch.yaml: pages[1].monitors[1]: no monitor named "ghost""#,
            r#"hopwatch.yaml: pages[2].slug: duplicate slug "shop" (also used by pages[1])"#,
        ],
    ),
    (
        "pages that show nothing, or are private without a key, or keyed but public",
        "monitors: [{ name: a, url: http://x }]\npages:\n  - { slug: empty }\n  - { slug: ops, monitors: [a], private: true }\n  - { slug: ops2, monitors: [a], private: true, access_key: \"${EMPTY}\" }\n  - { slug: open, monitors: [a], access_key: \"${API_TOKEN}\" }\n  - { slug: \"\", monitors: [a], private: true, access_key: k3y }\n  - { slug: typo, monitors: [a], privat: true }\n",
        &[
            r#"hopwatch.yaml: pages[0]: a page needs groups or monitors (monitors: ["*"] shows every monitor)"#,
            "hopwatch.yaml: pages[1].access_key: a private page needs a non-empty access_key",
            "hopwatch.yaml: pages[2].access_key: a private page needs a non-empty access_key",
            "hopwatch.yaml: pages[3].access_key: only used with private: true (without it the page is public)",
            "hopwatch.yaml: pages[4].private: the page at / cannot be private: give it a slug and serve it at /p/{slug}",
            "hopwatch.yaml: pages[5].privat: unknown key (expected one of: slug, title, groups, monitors, private, access_key)",
        ],
    ),
    (
        "subscriptions with a value of the wrong kind",
        "monitors: [{ name: a, url: http://x }]\nnotifiers:\n  - { name: hook, type: webhook, url: \"http://127.0.0.1:9/\" }\nsubscriptions: { notifier: hook, incidents: yes-please }\n",
        &["hopwatch.yaml: subscriptions.incidents: expected true or false, found \"yes-please\""],
    ),
    (
        "subscriptions naming a webhook, without the pages' address",
        "monitors: [{ name: a, url: http://x }]\nnotifiers:\n  - { name: hook, type: webhook, url: \"http://127.0.0.1:9/\" }\nsubscriptions: { notifier: hook }\n",
        &[
            "hopwatch.yaml: server.public_url: subscriptions need the pages' address for the links they mail (for example https://status.example.com)",
            r#"hopwatch.yaml: subscriptions.notifier: notifier "hook" is a webhook; subscribers need an email notifier"#,
        ],
    ),
    (
        "subscriptions naming no notifier, with an unknown key",
        "server: { public_url: \"https://status.example.com\" }\nmonitors: [{ name: a, url: http://x }]\nsubscriptions: { notifier: mail, incident: true }\n",
        &["hopwatch.yaml: subscriptions.incident: unknown key (expected notifier or incidents)"],
    ),
    (
        "subscriptions naming a notifier that does not exist",
        "server: { public_url: \"https://status.example.com\" }\nmonitors: [{ name: a, url: http://x }]\nsubscriptions: { notifier: mail }\n",
        &[r#"hopwatch.yaml: subscriptions.notifier: no notifier named "mail""#],
    ),
    (
        "an access key written as a number is refused without its value",
        "monitors: [{ name: a, url: http://x }]\npages:\n  - { slug: ops, monitors: [a], private: true, access_key: 8675309 }\n",
        &[
            "hopwatch.yaml: pages[0].access_key: expected a string, found a number (put it in quotes; a secret's value is never shown)",
        ],
    ),
];

#[test]
fn every_broken_config_gives_exactly_its_errors() {
    assert!(BROKEN.len() >= 25);
    let mut wrong = Vec::new();
    for (what, text, expected) in BROKEN {
        match yaml(text) {
            Ok(_) => wrong.push(format!("{what}: loaded, expected {expected:#?}")),
            Err(lines) if lines != *expected => {
                wrong.push(format!(
                    "{what}:\n  got      {lines:#?}\n  expected {expected:#?}"
                ));
            }
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn toml_syntax_errors_name_the_line() {
    let errors = toml("[[monitors]]\nname = \"a\"\nurl = http://x\n").unwrap_err();
    assert_eq!(
        errors,
        vec![
            "hopwatch.toml: line 3 column 7: string values must be quoted, expected literal string"
        ]
    );
}

#[test]
fn toml_errors_have_the_same_paths_as_yaml() {
    let errors = toml("[[monitors]]\nname = \"a\"\nurl = \"http://x\"\n\n[[monitors]]\nname = \"b\"\ntype = \"tcp\"\ntarget = \"db:5432\"\ninterval = \"5 sek\"\n").unwrap_err();
    assert_eq!(
        errors,
        vec![
            r#"hopwatch.toml: monitors[1].interval: invalid duration "5 sek" (expected e.g. 30s, 5m)"#
        ]
    );
}

#[test]
fn toml_datetimes_are_read_as_rfc3339_text() {
    let loaded = toml("[[monitors]]\nname = \"a\"\nurl = \"http://x\"\n\n[[maintenance]]\nmonitors = [\"a\"]\nstart = 2026-12-01T02:00:00Z\nduration = \"1h\"\n").unwrap();
    assert_eq!(
        loaded.config.maintenance[0].start.as_deref(),
        Some("2026-12-01T02:00:00Z")
    );
}

#[test]
fn every_example_in_the_config_folder_loads() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&folder).expect("config/ is readable") {
        let path = entry.expect("a directory entry").path();
        if Format::from_path(&path).is_none() {
            continue;
        }
        seen += 1;
        if let Err(errors) = load(&path) {
            panic!("{} does not load:\n{errors}", path.display());
        }
    }
    assert!(
        seen >= 3,
        "expected hopwatch.yaml, minimal.yaml and minimal.toml, saw {seen}"
    );
}

#[test]
fn the_full_example_uses_every_monitor_type_and_merges_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hopwatch.yaml");
    let loaded = load(&path).expect("the example loads");
    let config = &loaded.config;
    for kind in [
        MonitorKind::Http,
        MonitorKind::Tcp,
        MonitorKind::Tls,
        MonitorKind::Dns,
        MonitorKind::Push,
        MonitorKind::Icmp,
        MonitorKind::Smtp,
        MonitorKind::Domain,
        MonitorKind::Grpc,
        MonitorKind::Websocket,
    ] {
        assert!(
            config.monitors.iter().any(|m| m.kind == kind),
            "{kind:?} is not shown"
        );
    }
    let edge = &config.monitors[0];
    assert_eq!(
        edge.headers.get("User-Agent").map(String::as_str),
        Some("hopwatch")
    );
    assert_eq!(
        edge.headers.get("Accept").map(String::as_str),
        Some("application/json")
    );
    // A default header is skipped where the type has no headers.
    let db = config.monitors.iter().find(|m| m.name == "db").expect("db");
    assert!(db.headers.is_empty());
    assert_eq!(db.interval, Some(Duration::from_secs(30)));
    assert_eq!(loaded.summary(), "ok: 11 monitors, 5 alerts, 5 notifiers");
}

#[test]
fn interval_and_timeout_are_filled() {
    let loaded = yaml(
        "monitors:\n  - { name: a, url: http://x }\n  - { name: b, url: http://x, interval: 4s }\n",
    )
    .unwrap();
    let [a, b] = &loaded.config.monitors[..] else {
        panic!("two monitors")
    };
    assert_eq!(
        (a.interval, a.timeout),
        (Some(Duration::from_secs(30)), Some(Duration::from_secs(10)))
    );
    assert_eq!(
        (b.interval, b.timeout),
        (Some(Duration::from_secs(4)), Some(Duration::from_secs(4)))
    );
}

#[test]
fn variables_come_from_the_lookup_with_defaults() {
    let text = "server: { admin_token: \"${API_TOKEN}\" }\nmonitors:\n  - { name: a, url: \"https://x/${MISSING_PATH:-health}\", confirm: \"${CONFIRM}\", title: \"${EMPTY:-Shop}\", body: \"$${literal}\" }\n";
    let loaded = yaml(text).unwrap();
    let monitor = &loaded.config.monitors[0];
    assert_eq!(
        loaded
            .config
            .server
            .admin_token
            .as_ref()
            .map(|t| t.expose()),
        Some("tok-9f8e7d")
    );
    assert_eq!(monitor.url.as_deref(), Some("https://x/health"));
    assert_eq!(
        monitor.confirm, 2,
        "a whole ${{VAR}} is re-read as a number"
    );
    assert_eq!(monitor.title.as_deref(), Some("Shop"));
    assert_eq!(monitor.body.as_deref(), Some("${literal}"));
}

#[test]
fn pages_load_with_their_key_from_the_environment_and_never_show_it() {
    let text = "monitors:\n  - { name: web, url: http://x, group: Shop }\n  - { name: db, type: tcp, target: \"db:5432\" }\npages:\n  - { slug: \"\", title: Status, groups: [Shop] }\n  - { slug: ops, title: Ops, monitors: [db], private: true, access_key: \"${API_TOKEN}\" }\n";
    let loaded = yaml(text).expect("valid pages");
    let config = &loaded.config;
    assert_eq!(config.pages.len(), 2);
    let ops = config.page("ops").expect("the ops page");
    assert_eq!(ops.path(), "/p/ops");
    assert_eq!(
        ops.access_key.as_ref().map(|k| k.expose()),
        Some("tok-9f8e7d")
    );
    assert!(!format!("{loaded:?}").contains("tok-9f8e7d"));
    let hidden: Vec<&str> = config.private_only().into_iter().collect();
    assert_eq!(hidden, ["db"]);
    // Without `pages:`, `/` is a page of every monitor, as before.
    let plain = yaml("monitors: [{ name: a, url: http://x }]\n").expect("valid");
    let root = plain.config.page("").expect("a page at /");
    assert!(root.shows(&plain.config.monitors[0]));
    assert!(plain.config.private_only().is_empty());
}

#[test]
fn an_smtp_login_in_clear_text_loads_with_the_opt_in_and_without_a_login() {
    let notifier = |smtp: &str| {
        format!(
            "monitors: [{{ name: a, url: http://x }}]\nnotifiers:\n  - {{ name: mail, type: email, smtp: {smtp}, from: a@example.com, to: [b@example.com] }}\n"
        )
    };
    let opted_in = yaml(&notifier(
        "{ host: relay.internal, security: none, username: u, password: p, allow_plaintext_auth: true }",
    ))
    .expect("the opt-in allows a login in clear text");
    let smtp = opted_in.config.notifiers[0].smtp.as_ref().expect("smtp");
    assert!(smtp.allow_plaintext_auth && !smtp.sends_login_in_clear());
    yaml(&notifier("{ host: relay.internal, security: none }")).expect("no login, no secret sent");
    yaml(&notifier(
        "{ host: smtp.example.com, username: u, password: p }",
    ))
    .expect("starttls by default");
}

#[test]
fn the_config_file_is_found_in_order() {
    let explicit = Path::new("elsewhere/my.toml");
    assert_eq!(find_config_file(Some(explicit)), explicit);
}

#[test]
fn load_names_the_file_as_given() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, "monitors: []\n").expect("write");
    let errors = load(&path).unwrap_err().errors;
    assert_eq!(
        errors,
        vec![format!(
            "{}: monitors: at least one monitor is required",
            path.display()
        )]
    );
    let json = dir.path().join("hopwatch.json");
    let errors = load(&json).unwrap_err().errors;
    assert_eq!(
        errors,
        vec![format!(
            "{}: unknown config format (expected a .yaml, .yml or .toml file)",
            json.display()
        )]
    );
}

fn well_formed(
    result: Result<LoadedConfig, Vec<String>>,
    label: &str,
) -> Result<(), TestCaseError> {
    if let Err(lines) = result {
        prop_assert!(!lines.is_empty());
        for line in lines {
            prop_assert!(line.starts_with(&format!("{label}: ")), "{line}");
            prop_assert!(!line.contains('\n'), "{line}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_text_is_loaded_or_refused_with_lines(text in "\\PC{0,200}") {
        well_formed(yaml(&text), "hopwatch.yaml")?;
        well_formed(toml(&text), "hopwatch.toml")?;
    }

    #[test]
    fn any_bytes_are_loaded_or_refused_with_lines(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&bytes);
        well_formed(yaml(&text), "hopwatch.yaml")?;
        well_formed(toml(&text), "hopwatch.toml")?;
    }

    #[test]
    fn a_damaged_example_is_loaded_or_refused_with_lines(start in 0usize..6000, len in 0usize..40, junk in "[ :{}\\[\\]$a-z0-9\n-]{0,8}") {
        let example = include_str!("../../config/hopwatch.yaml");
        let start = start.min(example.len());
        let end = (start + len).min(example.len());
        let (Some(head), Some(tail)) = (example.get(..start), example.get(end..)) else {
            return Ok(());
        };
        well_formed(yaml(&format!("{head}{junk}{tail}")), "hopwatch.yaml")?;
    }
}
