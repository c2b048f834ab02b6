//! /metrics and the shipped dashboards under the real promtool: the
//! exposition lints clean, the rules load, and every metric the dashboard
//! and the rules query exists in a real daemon's output.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::{CertKind, Origin, require, spawn_status, spawn_tls};

use super::Daemon;

const RULES: &str = include_str!("../../../dashboards/hopwatch-rules.yml");
const DASHBOARD: &str = include_str!("../../../dashboards/hopwatch-grafana.json");

/// Runs promtool with `args`, feeding `stdin`; (success, stdout + stderr).
fn promtool(args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(require("promtool"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("feed promtool");
    drop(input);
    let output = child.wait_with_output().expect("promtool finishes");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Metric names in PromQL or YAML text; histogram series lose their suffix.
fn names_used(text: &str) -> BTreeSet<String> {
    let pattern = regex::Regex::new(r"hopwatch_[a-z_]+").expect("regex");
    pattern
        .find_iter(text)
        .map(|m| {
            let name = m.as_str();
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name)
                .to_owned()
        })
        .collect()
}

/// Names of the metric families an exposition declares.
fn names_exported(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// A daemon with every kind of series: a 502, a refused connection, a
/// certificate, an alert whose deliveries fail, an open incident.
#[tokio::test]
async fn metrics_lint_clean_and_cover_every_name_the_dashboards_use() {
    let bad_gateway = spawn_status(502, &[], "bad gateway").await;
    let stopped = Origin::spawn().await;
    stopped.stop().await;
    let tls = spawn_tls(CertKind::Valid { days_left: 40 }).await;
    let rest = format!(
        "monitors:\n\
         \x20 - {{ name: edge, url: '{}', interval: 1s, timeout: 1s }}\n\
         \x20 - {{ name: gone, group: Back, url: '{}', interval: 1s, timeout: 1s }}\n\
         \x20 - {{ name: cert, type: tls, target: 'localhost:{}', ca_file: '{}', interval: 1s, timeout: 1s }}\n\
         alerts:\n\
         \x20 - {{ name: down, monitors: ['*'], when: {{ consecutive_failures: 1 }}, notify: [hook] }}\n\
         notifiers:\n\
         \x20 - {{ name: hook, type: webhook, url: 'http://127.0.0.1:1/' }}\n",
        bad_gateway.url("/"),
        stopped.url("/"),
        tls.port(),
        tls.ca_file().display()
    );
    let daemon = Daemon::spawn("title: metrics", &rest).await;
    let wanted = [
        "hopwatch_alert_deliveries_total{notifier=\"hook\",result=\"retry\"}",
        "hopwatch_tls_cert_expiry_timestamp_seconds{monitor=\"cert\"}",
        "hopwatch_http_responses_total{code=\"502\",monitor=\"edge\"}",
        "hopwatch_checks_total{cause=\"connect_refused\",monitor=\"gone\"}",
        "hopwatch_incidents_open{severity=\"critical\"}",
        "hopwatch_node_info{node=\"",
        "hopwatch_cluster_leader 1",
    ];
    let mut exposition = String::new();
    for _ in 0..200 {
        let answer = daemon.get("/metrics").await;
        assert_eq!(answer.status, 200);
        exposition = answer.body;
        if wanted.iter().all(|series| exposition.contains(series)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for series in wanted {
        assert!(exposition.contains(series), "no {series} in:\n{exposition}");
    }
    assert!(!exposition.contains("url="), "no URL label");

    let (ok, report) = promtool(&["check", "metrics"], &exposition);
    assert!(
        ok && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );

    let exported = names_exported(&exposition);
    for (file, text) in [("rules", RULES), ("dashboard", DASHBOARD)] {
        let used = names_used(text);
        assert!(
            used.len() >= 5,
            "the {file} queries hopwatch's metrics: {used:?}"
        );
        let missing: Vec<_> = used.difference(&exported).collect();
        assert!(
            missing.is_empty(),
            "the {file} uses metrics hopwatch does not export: {missing:?}"
        );
    }
    daemon.stop().await;
}

#[test]
fn the_alert_rules_pass_promtool_and_cover_the_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hopwatch-rules.yml");
    std::fs::write(&path, RULES).expect("write rules");
    let (ok, report) = promtool(&["check", "rules", &path.display().to_string()], "");
    assert!(ok, "promtool check rules:\n{report}");
    assert!(report.contains("SUCCESS"), "{report}");
    for needed in [
        "hopwatch_monitor_up",
        "hopwatch_http_responses_total",
        "hopwatch_tls_cert_expiry_timestamp_seconds",
        "hopwatch_alert_deliveries_total",
        "hopwatch_scheduler_lateness_seconds",
        "hopwatch_store_write_errors_total",
        "absent(",
        "up{",
    ] {
        assert!(RULES.contains(needed), "the rules watch {needed}");
    }
}

/// Every query of the dashboard, with Grafana's variables given values,
/// checked by promtool as recording rules: a typo in PromQL fails here.
#[test]
fn the_dashboard_is_grafana_json_whose_queries_parse() {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).expect("JSON");
    assert!(dashboard["uid"].is_string() && dashboard["title"].is_string());
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        assert!(panel["gridPos"].is_object(), "{panel}");
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().expect("an expr").to_owned());
        }
    }
    assert!(exprs.len() >= 10, "{exprs:#?}");
    let rules: Vec<String> = exprs
        .iter()
        .enumerate()
        .map(|(i, expr)| {
            let expr = expr
                .replace("$__rate_interval", "5m")
                .replace("$job", ".*")
                .replace("$monitor", ".*");
            format!(
                "      - record: dashboard:query_{i}\n        expr: {}\n",
                serde_json::json!(expr)
            )
        })
        .collect();
    let file = format!(
        "groups:\n  - name: dashboard\n    rules:\n{}",
        rules.concat()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("dashboard-queries.yml");
    std::fs::write(&path, &file).expect("write");
    let (ok, report) = promtool(&["check", "rules", &path.display().to_string()], "");
    assert!(ok, "a dashboard query does not parse:\n{report}\n{file}");
}
