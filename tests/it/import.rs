//! `hopwatch import gatus|kuma` as a user runs it: a Gatus config, Uptime
//! Kuma 1.23 and 2.x databases built here with their real columns, and a
//! 1.x JSON backup. The output must validate, name what it left out, and
//! every imported http monitor must pass `hopwatch check` (and its own
//! expectations) against an origin on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Output;

use hopwatch::config::compile;
use hopwatch::config::{self, Format, MonitorConfig};
use hopwatch::monitor::MonitorKind;
use hopwatch::monitor::trust::TrustStore;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tokio::process::Command;

use crate::helpers::{CertKind, Origin, TlsPeer, spawn_tls};

const GATUS: &str = include_str!("import/gatus.yaml");
const KUMA_1_23: &str = include_str!("import/kuma_1_23.sql");
const KUMA_2_X: &str = include_str!("import/kuma_2_x.sql");
const KUMA_DATA: &str = include_str!("import/kuma_data.sql");
const KUMA_2_X_DATA: &str = include_str!("import/kuma_2_x_data.sql");
const KUMA_BACKUP: &str = include_str!("import/kuma_backup.json");

/// The variable the Gatus fixture reads its Slack URL from.
const SLACK_URL: (&str, &str) = ("SLACK_URL", "http://127.0.0.1:9/slack");

async fn hopwatch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hopwatch"));
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove(SLACK_URL.0);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().await.expect("run hopwatch")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `hopwatch import KIND FILE`, expects exit 0, writes the config
/// next to the input and returns its path, its text and the stderr line.
async fn import(kind: &str, file: &Path) -> (PathBuf, String, String) {
    let output = hopwatch(&["import", kind, &file.display().to_string()], &[]).await;
    let (yaml, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}\n{yaml}");
    let out = file.with_extension("hopwatch.yaml");
    std::fs::write(&out, &yaml).expect("write the imported config");
    (out, yaml, stderr)
}

/// `hopwatch validate -c FILE` must accept it; returns its summary line.
async fn validate(path: &Path, env: &[(&str, &str)]) -> String {
    let output = hopwatch(&["validate", "-c", &path.display().to_string()], env).await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        text(&output.stderr),
        std::fs::read_to_string(path).unwrap_or_default()
    );
    stdout.trim().to_owned()
}

/// Every http monitor through `hopwatch check` with its method, headers
/// and certificate setting; then every http and tcp monitor through the
/// probe with its own expectations. Returns how many of each ran.
async fn check_monitors(yaml: &str, env: &[(&str, &str)]) -> (usize, usize) {
    let lookup = |name: &str| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let loaded = config::parse_with_env(yaml, Format::Yaml, "imported", &lookup)
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let mut checked = 0;
    let mut probed = 0;
    for monitor in &loaded.config.monitors {
        if monitor.kind == MonitorKind::Http {
            check_command(monitor).await;
            checked += 1;
        }
        if matches!(
            monitor.kind,
            MonitorKind::Http | MonitorKind::Tcp | MonitorKind::Tls | MonitorKind::Icmp
        ) {
            let spec = compile::probe(monitor, &TrustStore::default())
                .expect("an imported monitor compiles");
            let result = hopwatch::probe::run(&spec).await;
            assert!(result.ok, "{} failed:\n{result:#?}", monitor.name);
            probed += 1;
        }
    }
    (checked, probed)
}

async fn check_command(monitor: &MonitorConfig) {
    let url = monitor.url.clone().expect("an http monitor has a url");
    let method = monitor.method.clone().unwrap_or_else(|| "GET".into());
    let mut args = vec!["check".to_owned(), url, "-X".into(), method];
    args.extend(["--timeout".into(), "5s".into()]);
    for (name, value) in &monitor.headers {
        args.extend(["-H".into(), format!("{name}: {value}")]);
    }
    if monitor.insecure {
        args.push("--insecure".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = hopwatch(&args, &[]).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "hopwatch {args:?}:\n{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

#[track_caller]
fn assert_lines(yaml: &str, lines: &[&str]) {
    for line in lines {
        assert!(yaml.contains(line), "missing {line:?} in:\n{yaml}");
    }
}

/// The Gatus fixture with the test servers' addresses.
fn gatus_config(dir: &Path, origin: &Origin, tls: &TlsPeer) -> PathBuf {
    let text = GATUS
        .replace("{ORIGIN}", &origin.addr().to_string())
        .replace("{TLS}", &format!("127.0.0.1:{}", tls.port()));
    let path = dir.join("gatus.yaml");
    std::fs::write(&path, text).expect("write the Gatus config");
    path
}

#[tokio::test]
async fn a_gatus_config_imports_validates_and_its_http_monitors_pass_check() {
    let origin = Origin::spawn().await;
    let tls = spawn_tls(CertKind::Valid { days_left: 30 }).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = gatus_config(dir.path(), &origin, &tls);

    let (out, yaml, stderr) = import("gatus", &file).await;
    assert!(
        stderr.contains("imported 13 monitors, 6 alerts, 7 notifiers")
            && stderr.contains("set SLACK_URL before running it"),
        "{stderr}"
    );
    let summary = validate(&out, &[SLACK_URL]).await;
    assert_eq!(summary, "ok: 13 monitors, 6 alerts, 7 notifiers", "{yaml}");
    let (checked, probed) = check_monitors(&yaml, &[SLACK_URL]).await;
    assert_eq!((checked, probed), (5, 8), "{yaml}");

    assert_lines(
        &yaml,
        &[
            // names, groups, values as Gatus has them
            "  - name: front-page\n    title: \"Front Page\"\n    group: core\n",
            "name \"Front Page\" is edge-front-page here: front-page was taken",
            "    interval: 30s\n",
            "    url: \"${SLACK_URL}\"\n",
            // conditions
            "      status: [200]\n      body_contains: ok\n      json: {\"$.status\": ok}\n      max_latency: 3s\n",
            "      status: [200, 201]\n",
            "      status: [2xx]\n",
            "      cert_min_days: 2\n",
            "      answers: [127.0.0.1]\n",
            "not imported: condition \"len([BODY].items) > 0\" — hopwatch has no len() or has() on JSON",
            "not imported: its [DOMAIN_EXPIRATION] condition — 127.0.0.1 is an IP address, which has no registration to expire",
            "hopwatch counts whole days, so 2",
            // endpoint kinds
            "    type: tcp\n",
            "    type: tls\n",
            "    type: dns\n    query: example.org\n    record: A\n    server: 127.0.0.1:5353\n",
            "    type: push\n    interval: 24h\n    token: push-token-1\n",
            "graphql: the body is wrapped in {\"query\": …}",
            "    follow_redirects: false\n",
            "not imported: endpoints[7] \"mail-records\" (127.0.0.1) — hopwatch's dns monitor asks for A, AAAA, CNAME, MX, NS, TXT records, not \"SRV\"",
            "  - name: ping\n    type: icmp\n    target: 127.0.0.1\n    count: 1\n",
            "    type: smtp\n",
            "    starttls: true\n",
            "    type: websocket\n    url: ws://127.0.0.1:",
            "    type: grpc\n    target: 127.0.0.1:50051\n",
            "— hopwatch has no ssh monitor",
            "— hopwatch has no UDP or SCTP check",
            "not imported: endpoints[14] \"retired\"",
            "not imported: external-endpoints[1] \"manual-report\" — no heartbeat interval",
            // alerting
            "    when: {consecutive_failures: 5}\n    notify: [slack]\n    send_resolved: true\n",
            "    when: {consecutive_failures: 2}\n    notify: [pagerduty-core]\n",
            "not imported: success-threshold 3 — hopwatch resolves an alert after 2 passing checks",
            "not imported: description \"front page down\"",
            "    repeat: 30m\n",
            "    format: pagerduty\n    url: https://events.pagerduty.com/v2/enqueue\n    routing_key: pd-core-key\n",
            "Mattermost's incoming webhooks take Slack's format",
            "not imported: the custom body, headers and placeholders",
            "      security: starttls\n      username: mailer\n      password: hunter2\n",
            "    to: [ops@example.com, dev@example.com]\n",
            "not imported: alerting.teams-workflows — hopwatch has no teams-workflows notifier",
            "not imported: alerting.telegram — hopwatch has no telegram notifier",
            "not imported: endpoints[0] \"Front Page\" alerts[2] — alerting.telegram was not imported",
            "not imported: endpoints[3] \"secure\" alerts[0] — disabled (enabled: false)",
            // top level and maintenance
            "  title: \"Test status\"\n  listen: 127.0.0.1:8089\n",
            "  connectivity_check: 127.0.0.1:53\n",
            "  max_concurrent_checks: 5\n",
            "not imported: storage — hopwatch keeps its results in its own SQLite file",
            "    cron: \"0 23 * * 1,4\"\n    duration: 1h\n",
            "  - monitors: [origin-tls]\n    cron: \"30 7 * * *\"\n    duration: 40m\n",
            "timezone Europe/Amsterdam: hopwatch reads cron in UTC",
        ],
    );
}

#[tokio::test]
async fn gatus_domain_expiration_becomes_a_domain_monitor_per_endpoint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("gatus.yaml");
    let config = r#"endpoints:
  - name: shop
    group: web
    url: "https://shop.example.com/health"
    conditions:
      - "[STATUS] == 200"
      - "[CERTIFICATE_EXPIRATION] > 240h"
      - "[DOMAIN_EXPIRATION] > 720h"
  - name: db
    url: "tcp://db.internal.example.co.uk:5432"
    conditions:
      - "[CONNECTED] == true"
      - "[DOMAIN_EXPIRATION] > 36h"
"#;
    std::fs::write(&file, config).expect("write");

    let (out, yaml, stderr) = import("gatus", &file).await;
    assert!(stderr.contains("imported 4 monitors"), "{stderr}\n{yaml}");
    assert_eq!(
        validate(&out, &[]).await,
        "ok: 4 monitors, 0 alerts, 0 notifiers",
        "{yaml}"
    );
    assert_lines(
        &yaml,
        &[
            "      status: [200]\n      cert_min_days: 10\n",
            "# its [DOMAIN_EXPIRATION] condition is the domain monitor shop-domain\n",
            "  # from endpoints[0] \"shop\": its [DOMAIN_EXPIRATION] condition\n",
            "  - name: shop-domain\n    group: web\n    type: domain\n    domain: example.com\n    expect: {min_days: 30}\n",
            "# its [DOMAIN_EXPIRATION] condition is the domain monitor db-domain\n",
            "example.co.uk is the registered name guessed from the host db.internal.example.co.uk",
            "domain registration must last more than 36h: hopwatch counts whole days, so 2",
            "  - name: db-domain\n    type: domain\n    domain: example.co.uk\n    expect: {min_days: 2}\n",
        ],
    );
    assert!(!yaml.contains("not imported: condition"), "{yaml}");
}

/// Two gRPC monitors of Uptime Kuma: one that calls the health service
/// itself, one that calls an application method and looks for a keyword.
const KUMA_GRPC: &str = r#"
INSERT INTO user (id, username, password) VALUES (1, 'admin', 'not-a-hash');
INSERT INTO monitor (id, name, type, user_id, interval, timeout, keyword, grpc_url,
    grpc_service_name, grpc_method, grpc_protobuf, grpc_body, grpc_metadata, grpc_enable_tls)
VALUES (1, 'Cart health', 'grpc-keyword', 1, 60, 48, 'SERVING', 'cart.example.com:443',
    'Health', 'Check',
    'syntax = "proto3"; package grpc.health.v1; service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }',
    '{"service": "shop.Cart"}', '{}', 1);
INSERT INTO monitor (id, name, type, user_id, interval, timeout, keyword, grpc_url,
    grpc_service_name, grpc_method, grpc_protobuf, grpc_body, grpc_metadata, grpc_enable_tls)
VALUES (2, 'Greeter', 'grpc-keyword', 1, 60, 48, 'Hello probe', '127.0.0.1:50051',
    'helloworld.Greeter', 'SayHello',
    'syntax = "proto3"; package helloworld; service Greeter { rpc SayHello(HelloRequest) returns (HelloReply); }',
    '{"name": "probe"}', '{"x-team": "shop"}', 0);
"#;

#[tokio::test]
async fn a_kuma_grpc_keyword_monitor_becomes_a_grpc_health_check() {
    let origin = Origin::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = kuma_db(dir.path(), &[KUMA_1_23, KUMA_GRPC], &origin, None).await;

    let (out, yaml, stderr) = import("kuma", &db).await;
    assert!(stderr.contains("imported 2 monitors"), "{stderr}\n{yaml}");
    assert_eq!(
        validate(&out, &[]).await,
        "ok: 2 monitors, 0 alerts, 0 notifiers",
        "{yaml}"
    );
    assert_lines(
        &yaml,
        &[
            "  - name: cart-health\n    title: \"Cart health\"\n    type: grpc\n    target: cart.example.com:443\n    service: shop.Cart\n    tls: true\n",
            "# note: Uptime Kuma called Health/Check and looked for \"SERVING\" in the answer; hopwatch asks grpc.health.v1.Health/Check about service \"shop.Cart\" and passes on SERVING\n",
            "    type: grpc\n    target: 127.0.0.1:50051\n    interval: 60s\n",
            "# note: Uptime Kuma called helloworld.Greeter/SayHello and looked for \"Hello probe\" in the answer; hopwatch asks grpc.health.v1.Health/Check about the server as a whole",
            "# not imported: keyword \"Hello probe\" in the answer of helloworld.Greeter/SayHello — hopwatch's grpc check reads the health status",
            "# not imported: the request body — hopwatch sends the health check's own request",
            "# not imported: the request metadata — hopwatch's grpc check sends none",
        ],
    );
    assert!(!yaml.contains("keyword \"SERVING\""), "{yaml}");
    assert!(!yaml.contains("(grpc-keyword) —"), "{yaml}");
}

/// A `kuma.db` built from the fixture scripts, its URLs and port 1 pointed
/// at `origin`, port 2 at `tls`.
async fn kuma_db(
    dir: &Path,
    scripts: &[&'static str],
    origin: &Origin,
    tls: Option<&TlsPeer>,
) -> PathBuf {
    let path = dir.join("kuma.db");
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .expect("create kuma.db");
    for script in scripts {
        sqlx::raw_sql(*script)
            .execute(&mut conn)
            .await
            .expect("the fixture SQL runs");
    }
    sqlx::query("UPDATE monitor SET url = replace(url, '{ORIGIN}', ?1)")
        .bind(origin.addr().to_string())
        .execute(&mut conn)
        .await
        .expect("point URLs at the origin");
    sqlx::query("UPDATE monitor SET port = ?1 WHERE port = 1")
        .bind(i64::from(origin.port()))
        .execute(&mut conn)
        .await
        .expect("point the port monitor at the origin");
    if let Some(tls) = tls {
        sqlx::query("UPDATE monitor SET port = ?1 WHERE port = 2")
            .bind(i64::from(tls.port()))
            .execute(&mut conn)
            .await
            .expect("point the tls monitor at the TLS peer");
    }
    conn.close().await.expect("close kuma.db");
    path
}

/// What both database versions must give.
const KUMA_LINES: &[&str] = &[
    "hopwatch config imported from the Uptime Kuma database",
    "  - name: shop-front\n    title: \"Shop front\"\n    group: prod\n",
    "not imported: tags team:web — a hopwatch monitor has one group",
    "not imported: description \"the public shop\"",
    "not imported: retry interval 20s — hopwatch counts failures at the monitor's interval",
    "      status: [2xx, 304]\n",
    "    interval: 60s\n    timeout: 48s\n",
    "      body_contains: ok\n",
    "      json: {\"$.status\": ok}\n",
    "    method: POST\n    headers:\n      Accept: application/json\n      X-Probe: kuma\n      Content-Type: application/json\n      Authorization: \"Basic cHJvYmU6czNjcmV0\"\n    body: \"{\\\"user\\\": \\\"probe\\\"}\"\n    follow_redirects: false\n",
    "    type: tcp\n",
    "    type: dns\n    query: example.org\n    record: AAAA\n    server: 127.0.0.1:5353\n",
    "    type: push\n    token: kuma-push-token\n    interval: 86400s\n",
    "  - name: backend-health\n    title: \"Backend health\"\n    group: Backend\n",
    "    type: icmp\n    target: 127.0.0.1\n    count: 1\n",
    "not imported: monitor 11 \"Worker container\" (docker) — hopwatch does not ask Docker",
    "not imported: monitor 12 \"Old site\" (http) — paused in Uptime Kuma",
    "not imported: monitor 13 \"Must be down\" (http) — upside-down mode",
    "not imported: monitor 14 \"Orders DB\" (postgres) — hopwatch does not log in to databases",
    "not imported: its notification 7 — that notification was not imported",
    // notifiers
    "  - name: ops-slack\n    type: webhook\n    format: slack\n    url: http://127.0.0.1:9/slack\n",
    "not imported: slackchannel — hopwatch's slack notifier has no such settings",
    "      host: 127.0.0.1\n      port: 465\n      security: tls\n      username: kuma\n      password: mail-pass\n",
    "    from: \"\\\"Uptime Kuma\\\" <kuma@example.com>\"\n    to: [ops@example.com, oncall@example.com]\n",
    "not imported: smtpCC",
    "    format: pagerduty\n    url: http://127.0.0.1:9/pd\n    routing_key: pd-routing-key\n",
    "    format: discord\n",
    "    format: json\n    url: http://127.0.0.1:9/hook\n",
    "Mattermost's incoming webhooks take Slack's format",
    "not imported: notification 7 \"Phone\" (telegram) — hopwatch has no telegram notifier",
    // alerts
    "  - name: down-ops-mail-ops-slack-after-3\n    monitors: [shop-front]\n    when: {consecutive_failures: 3}\n    repeat: 180s\n    notify: [ops-mail, ops-slack]\n",
    "  - name: down-chat-hook\n    monitors: [backend-health]\n",
    "  - name: down-ops-mail\n    monitors: [nightly-job]\n",
];

#[tokio::test]
async fn a_kuma_1_23_database_imports_validates_and_its_http_monitors_pass_check() {
    let origin = Origin::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = kuma_db(dir.path(), &[KUMA_1_23, KUMA_DATA], &origin, None).await;
    let before = std::fs::read(&db).expect("read kuma.db");

    let (out, yaml, stderr) = import("kuma", &db).await;
    assert!(
        stderr.contains("imported 9 monitors, 6 alerts, 6 notifiers"),
        "{stderr}\n{yaml}"
    );
    assert_eq!(
        validate(&out, &[]).await,
        "ok: 9 monitors, 6 alerts, 6 notifiers"
    );
    assert_eq!(check_monitors(&yaml, &[]).await, (5, 7), "{yaml}");
    assert_lines(&yaml, KUMA_LINES);
    assert_lines(
        &yaml,
        &[
            "Uptime Kuma database (1.x)",
            "  - name: down-ops-slack\n    monitors: [health-keyword, status-json]\n",
        ],
    );
    assert_eq!(
        std::fs::read(&db).expect("read kuma.db"),
        before,
        "the database was changed"
    );
}

#[tokio::test]
async fn a_kuma_2_x_database_imports_validates_and_its_http_monitors_pass_check() {
    let origin = Origin::spawn().await;
    let tls = spawn_tls(CertKind::Valid { days_left: 30 }).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let scripts = [KUMA_1_23, KUMA_2_X, KUMA_DATA, KUMA_2_X_DATA];
    let db = kuma_db(dir.path(), &scripts, &origin, Some(&tls)).await;
    // Read-only all the way: a file nobody may write still imports.
    let mut mode = std::fs::metadata(&db).expect("stat").permissions();
    mode.set_readonly(true);
    std::fs::set_permissions(&db, mode).expect("chmod");

    let (out, yaml, stderr) = import("kuma", &db).await;
    assert!(
        stderr.contains("imported 14 monitors, 6 alerts, 6 notifiers"),
        "{stderr}\n{yaml}"
    );
    assert_eq!(
        validate(&out, &[]).await,
        "ok: 14 monitors, 6 alerts, 6 notifiers"
    );
    assert_eq!(check_monitors(&yaml, &[]).await, (8, 11), "{yaml}");
    assert_lines(&yaml, KUMA_LINES);
    assert_lines(
        &yaml,
        &[
            "Uptime Kuma database (2.x)",
            "  - name: down-ops-slack\n    monitors: [health-keyword, status-json, status-json-v2, token-api]\n",
            "    headers: {Authorization: \"Bearer api-token\"}\n",
            "not imported: json query \"queue\" < \"100\" — hopwatch compares JSON values for equality only",
            "    type: tls\n",
            "    insecure: true\n",
            "not imported: its conditions on the records",
            "not imported: monitor 24 \"Browser\" (real-browser) — hopwatch does not drive a browser",
            // grpc-keyword in 2.x's columns: the health service asked about
            // the whole server, its SERVING keyword what the check asks.
            "  - name: inventory-health\n    title: \"Inventory health\"\n    type: grpc\n    target: inventory.internal:50051\n    interval: 30s\n    timeout: 24s\n",
            "# note: Uptime Kuma called grpc.health.v1.Health/check and looked for \"SERVING\" in the answer; hopwatch asks grpc.health.v1.Health/Check about the server as a whole and passes on SERVING\n",
        ],
    );
    assert!(!yaml.contains("keyword \"SERVING\""), "{yaml}");
    assert!(!yaml.contains("(grpc-keyword) —"), "{yaml}");
}

#[tokio::test]
async fn a_kuma_json_backup_imports_validates_and_its_http_monitors_pass_check() {
    let origin = Origin::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("Uptime_Kuma_Backup.json");
    std::fs::write(
        &file,
        KUMA_BACKUP.replace("{ORIGIN}", &origin.addr().to_string()),
    )
    .expect("write the backup");

    let (out, yaml, _) = import("kuma", &file).await;
    assert_eq!(
        validate(&out, &[]).await,
        "ok: 4 monitors, 2 alerts, 1 notifiers"
    );
    assert_eq!(check_monitors(&yaml, &[]).await, (2, 3), "{yaml}");
    assert_lines(
        &yaml,
        &[
            "Uptime Kuma backup of 1.23.16",
            "  - name: shop-front\n    title: \"Shop front\"\n    group: prod\n",
            "      body_contains: status\n",
            "    type: push\n    token: backup-push-token\n    interval: 3600s\n",
            "  - name: down-ops-slack-after-2\n    monitors: [shop-front]\n",
            "not imported: notification 2 \"Pushover\" (pushover) — hopwatch has no pushover notifier",
            "not imported: its notification 2",
            "  - name: gateway-ping\n    title: \"Gateway ping\"\n    type: icmp\n    target: 127.0.0.1\n    count: 1\n",
        ],
    );
}

#[tokio::test]
async fn files_that_are_not_what_they_should_be_exit_1_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path.display().to_string()
    };
    let hopwatch_config = write(
        "hopwatch.yaml",
        b"monitors:\n  - {name: a, url: 'http://127.0.0.1:1/'}\n",
    );
    let broken_yaml = write("broken.yaml", b"endpoints: [\n");
    let list = write("list.json", b"[1, 2, 3]");
    let binary = write("blob.bin", &[0xff, 0xfe, 0x00, 0x01, 0x80]);
    let other_db = dir.path().join("other.db");
    let options = SqliteConnectOptions::new()
        .filename(&other_db)
        .create_if_missing(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .expect("create");
    sqlx::raw_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        .execute(&mut conn)
        .await
        .expect("create a table");
    conn.close().await.expect("close");
    let other_db = other_db.display().to_string();
    let missing = dir.path().join("missing.yaml").display().to_string();

    let cases = [
        (
            "gatus",
            &hopwatch_config,
            "not a Gatus config: no endpoints list (top-level keys: monitors)",
        ),
        ("gatus", &broken_yaml, "not a Gatus config: YAML:"),
        ("gatus", &list, "not a Gatus config: expected a mapping"),
        ("gatus", &binary, "not a Gatus config: the file is not text"),
        ("gatus", &missing, "cannot read:"),
        (
            "kuma",
            &hopwatch_config,
            "not an Uptime Kuma database (kuma.db) or JSON backup: not JSON",
        ),
        (
            "kuma",
            &list,
            "JSON without monitorList and notificationList",
        ),
        ("kuma", &binary, "neither SQLite nor JSON text"),
        (
            "kuma",
            &other_db,
            "an SQLite database without Uptime Kuma's monitor and notification tables",
        ),
        ("kuma", &missing, "cannot read:"),
    ];
    for (kind, file, message) in cases {
        let output = hopwatch(&["import", kind, file], &[]).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{kind} {file}: {stderr}");
        assert!(
            stderr.starts_with("hopwatch import: ") && stderr.contains(message),
            "{kind} {file}: {stderr:?} lacks {message:?}"
        );
        assert!(output.stdout.is_empty(), "{kind} {file}: printed a config");
    }
    let output = hopwatch(&["import", "nagios", &list], &[]).await;
    assert_eq!(
        output.status.code(),
        Some(2),
        "an unknown source is a usage error"
    );
}

#[tokio::test]
async fn a_setup_with_nothing_hopwatch_can_check_says_why_and_exits_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("gatus.yaml");
    let config = "endpoints:\n  - name: router\n    url: ssh://127.0.0.1:22\n    conditions: ['[CONNECTED] == true']\n";
    std::fs::write(&file, config).expect("write");
    let output = hopwatch(&["import", "gatus", &file.display().to_string()], &[]).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no monitor could be imported"), "{stderr}");
    assert!(
        stdout.contains("# not imported: endpoints[0] \"router\" (ssh://127.0.0.1:22) — hopwatch has no ssh monitor"),
        "{stdout}"
    );
}
