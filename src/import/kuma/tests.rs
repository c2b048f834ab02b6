//! The Uptime Kuma mapping on setups built in memory: each monitor type,
//! groups from group monitors and tags, notifications, grouped alerts.

use serde_json::{Map, Value as Json, json};

use super::read::{Monitor, Notification, Record, Setup};
use super::*;
use crate::config::{self, Format};
use crate::import::emit;

fn record(value: Json) -> Record {
    value.as_object().cloned().expect("an object")
}

fn monitor(value: Json, tags: &[&str], notifications: &[i64]) -> Monitor {
    Monitor {
        row: record(value),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        notifications: notifications.to_vec(),
    }
}

fn notification(id: i64, name: &str, config: Json) -> Notification {
    Notification {
        id,
        name: name.to_owned(),
        active: true,
        config: config.as_object().cloned().unwrap_or_else(Map::new),
    }
}

fn setup() -> Setup {
    let base = |id: i64, name: &str, kind: &str| {
        json!({"id": id, "name": name, "type": kind, "active": 1, "interval": 60,
               "maxretries": 0, "upside_down": 0, "accepted_statuscodes_json": "[\"200-299\"]"})
    };
    let with = |mut row: Json, extra: Json| {
        for (k, v) in extra.as_object().expect("object") {
            row[k] = v.clone();
        }
        row
    };
    Setup {
        describe: "database (2.x)".into(),
        monitors: vec![
            monitor(base(1, "Outer", "group"), &[], &[]),
            monitor(
                with(base(2, "Inner", "group"), json!({"parent": 1})),
                &[],
                &[],
            ),
            monitor(
                with(
                    base(3, "Shop", "http"),
                    json!({"parent": 2, "url": "https://127.0.0.1:8443/", "method": "POST",
                       "body": "{}", "auth_method": "basic", "basic_auth_user": "u",
                       "basic_auth_pass": "p", "maxretries": 2, "resend_interval": 5,
                       "expiry_notification": 1, "maxredirects": 0, "ignore_tls": 1,
                       "accepted_statuscodes_json": "[\"200-299\",\"400-499\"]"}),
                ),
                &["env:prod"],
                &[1, 2],
            ),
            monitor(
                with(
                    base(4, "Words", "keyword"),
                    json!({"url": "http://127.0.0.1:1/${x}", "keyword": "ok", "invert_keyword": 1}),
                ),
                &["edge", "web"],
                &[1],
            ),
            monitor(
                with(
                    base(5, "Json", "json-query"),
                    json!({"url": "http://127.0.0.1:1/", "json_path": "data.items[0].state",
                       "expected_value": "up", "json_path_operator": "=="}),
                ),
                &[],
                &[1],
            ),
            monitor(
                with(
                    base(6, "Cert", "tls"),
                    json!({"hostname": "::1", "port": 443, "expected_tls_alert": "none"}),
                ),
                &[],
                &[],
            ),
            monitor(
                with(
                    base(7, "Resolver", "dns"),
                    json!({"hostname": "example.org", "dns_resolve_type": "MX",
                       "dns_resolve_server": "127.0.0.1, 127.0.0.2", "port": 5353,
                       "conditions": "[{\"variable\":\"record\"}]"}),
                ),
                &[],
                &[],
            ),
            monitor(with(base(8, "Old", "http"), json!({"active": 0})), &[], &[]),
            monitor(
                with(base(9, "Flip", "http"), json!({"upside_down": 1})),
                &[],
                &[],
            ),
            monitor(
                with(
                    base(10, "Ntlm", "http"),
                    json!({"url": "http://127.0.0.1/", "auth_method": "ntlm"}),
                ),
                &[],
                &[],
            ),
            monitor(
                with(
                    base(11, "Srv", "dns"),
                    json!({"hostname": "x", "dns_resolve_type": "SRV"}),
                ),
                &[],
                &[],
            ),
            monitor(with(base(12, "Redis", "redis"), json!({})), &[], &[]),
        ],
        notifications: vec![
            notification(
                1,
                "Pager",
                json!({"type": "PagerDuty", "pagerdutyIntegrationKey": "k"}),
            ),
            notification(
                2,
                "Hook",
                json!({"type": "webhook", "webhookURL": "https://hooks.example/h",
                "webhookContentType": "json"}),
            ),
            notification(
                3,
                "Chat",
                json!({"type": "mattermost", "mattermostWebhookUrl": "https://chat.example/h"}),
            ),
            notification(
                4,
                "Mail",
                json!({"type": "smtp", "smtpHost": "mail.example", "smtpPort": "465",
                "smtpSecure": true, "smtpFrom": "k@example.com", "smtpTo": "a@example.com,b@example.com",
                "smtpCC": "c@example.com"}),
            ),
            notification(5, "Line", json!({"type": "line"})),
        ],
        tls_expiry_days: vec![7, 14],
    }
}

#[test]
fn a_setup_maps_to_a_config_that_validates() {
    let draft = map(&setup(), "kuma.db");
    let yaml = emit::yaml(&draft);
    let loaded =
        config::parse(&yaml, Format::Yaml, "kuma").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let names: Vec<&str> = loaded
        .config
        .monitors
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["shop", "words", "json", "cert", "resolver"],
        "{yaml}"
    );
    let shop = &loaded.config.monitors[0];
    assert_eq!(shop.group.as_deref(), Some("Outer / Inner"));
    assert_eq!(shop.method.as_deref(), Some("POST"));
    assert_eq!(shop.headers["Authorization"], "Basic dTpw");
    assert_eq!(shop.headers["Content-Type"], "application/json");
    assert!(shop.insecure);
    let status: Vec<String> = shop
        .expect
        .status
        .iter()
        .flatten()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(status, ["2xx", "4xx"]);
    let words = &loaded.config.monitors[1];
    assert_eq!(
        words.url.as_deref(),
        Some("http://127.0.0.1:1/${x}"),
        "literal ${{ stays"
    );
    assert_eq!(words.group.as_deref(), Some("edge"));
    assert_eq!(words.expect.body_contains, None);
    assert_eq!(
        loaded.config.monitors[2].expect.json["$.data.items[0].state"],
        "up"
    );
    assert_eq!(
        loaded.config.monitors[3].target.as_deref(),
        Some("[::1]:443")
    );
    assert_eq!(
        loaded.config.monitors[4].server.as_deref(),
        Some("127.0.0.1:5353")
    );
    for line in [
        "# not imported: monitor 8 \"Old\" (http) — paused in Uptime Kuma",
        "# not imported: monitor 9 \"Flip\" (http) — upside-down mode",
        "# not imported: monitor 10 \"Ntlm\" (http) — it authenticates with ntlm",
        "# not imported: monitor 11 \"Srv\" (dns) — hopwatch's dns monitor asks for",
        "# not imported: monitor 12 \"Redis\" (redis) — hopwatch does not log in to databases",
        "# not imported: keyword \"ok\" must be absent",
        "# not imported: tags web — a hopwatch monitor has one group",
        "# not imported: tags env:prod",
        "# not imported: resolvers 127.0.0.2",
        "# not imported: its conditions on the records",
        "# not imported: the content type, custom body and headers",
        "# not imported: smtpCC",
        "# not imported: notification 5 \"Line\" (line) — hopwatch has no line notifier",
        "# Mattermost's incoming webhooks take Slack's format",
    ] {
        assert!(yaml.contains(line), "missing {line:?}:\n{yaml}");
    }
}

#[test]
fn notifications_become_notifiers_and_shared_alerts() {
    let draft = map(&setup(), "kuma.db");
    let yaml = emit::yaml(&draft);
    let loaded = config::parse(&yaml, Format::Yaml, "kuma").expect("valid");
    let notifiers: Vec<(&str, Option<&str>)> = loaded
        .config
        .notifiers
        .iter()
        .map(|n| (n.name.as_str(), n.url.as_deref()))
        .collect();
    assert_eq!(
        notifiers,
        [
            ("pager", Some("https://events.pagerduty.com/v2/enqueue")),
            ("hook", Some("https://hooks.example/h")),
            ("chat", Some("https://chat.example/h")),
            ("mail", None),
        ]
    );
    let mail = &loaded.config.notifiers[3];
    let smtp = mail.smtp.as_ref().expect("smtp");
    assert_eq!(
        (smtp.port, smtp.security),
        (Some(465), crate::config::SmtpSecurity::Tls)
    );
    assert_eq!(mail.to, ["a@example.com", "b@example.com"]);
    let alerts: Vec<(&str, Vec<&str>)> = loaded
        .config
        .alerts
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.monitors.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        alerts,
        [
            ("down-hook-pager-after-3", vec!["shop"]),
            ("down-pager", vec!["words", "json"]),
            ("cert-expiry-hook-pager", vec!["shop"]),
        ]
    );
    assert_eq!(
        loaded.config.alerts[0].repeat,
        Some(std::time::Duration::from_secs(300))
    );
    assert_eq!(loaded.config.alerts[2].send_resolved, Some(false));
    assert!(yaml.contains("told at 7, 14 days before expiry"), "{yaml}");
}

#[test]
fn jsonata_paths_that_are_plain_become_jsonpath() {
    let cases = [
        ("status", Some("$.status")),
        ("$.status", Some("$.status")),
        ("data.items[0].name", Some("$.data.items[0].name")),
        ("$count(items)", None),
        ("items[type='x']", None),
        ("a.b > 3", None),
        ("", None),
    ];
    for (query, want) in cases {
        assert_eq!(monitors::jsonpath(query).as_deref(), want, "{query:?}");
    }
}
