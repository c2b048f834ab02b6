//! The `hopwatch` binary as a user runs it: `check` against a real nginx in
//! front of a stopped origin, `validate` on good and broken files, `run`
//! refusing a bad config without touching anything.

use std::process::Output;

use tokio::process::Command;

use crate::helpers::{GatewayOpts, Mode, Nginx, Origin, config_yaml};

async fn hopwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run hopwatch")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn check_names_the_gateway_and_blames_the_origin_when_the_origin_is_down() {
    let origin = Origin::spawn().await;
    let nginx = Nginx::start(origin.port(), GatewayOpts::default()).await;
    origin.set_mode(Mode::Stopped).await;
    let url = nginx.url("/health");

    let output = hopwatch(&["check", &url]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("cause      http_502"), "{text}");
    assert!(text.contains("responder  gateway (nginx)"), "{text}");
    assert!(text.contains("verdict    origin: "), "{text}");
    assert!(
        text.contains("check the origin"),
        "the verdict must say where to look: {text}"
    );
    for phase in ["dns", "connect", "tls", "ttfb", "transfer", "total"] {
        assert!(
            text.contains(&format!("  {phase}")),
            "phase {phase} missing: {text}"
        );
    }

    let output = hopwatch(&["check", &url, "--json"]).await;
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    assert_eq!(json["monitor"], serde_json::Value::Null);
    assert_eq!(json["cause"], "http_502");
    assert_eq!(json["status"], 502);
    assert_eq!(json["responder"]["role"], "gateway");
    assert_eq!(json["responder"]["product"], "nginx");
    assert_eq!(json["verdict"]["hop"], "origin");
    assert!(
        json["evidence"]["body_excerpt"]
            .as_str()
            .unwrap_or("")
            .contains("nginx")
    );

    origin.start().await;
    let output = hopwatch(&["check", &url]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("verdict    none: "));
}

#[tokio::test]
async fn check_takes_resolve_headers_and_method_and_refuses_bad_usage() {
    let origin = Origin::spawn().await;
    let url = format!("http://service.test:{}/", origin.port());
    let resolve = format!("127.0.0.1:{}", origin.port());
    let output = hopwatch(&[
        "check",
        &url,
        "--resolve",
        &resolve,
        "-H",
        "X-Probe: 1",
        "-X",
        "get",
        "--timeout",
        "2s",
    ])
    .await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );

    let output = hopwatch(&["check", "ftp://example.com/"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("URL: invalid url"),
        "{}",
        stderr(&output)
    );
    let output = hopwatch(&["check", &url, "-H", "no colon"]).await;
    assert_eq!(output.status.code(), Some(2));
    let output = hopwatch(&["check"]).await;
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test]
async fn validate_prints_a_summary_or_every_error_with_its_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "monitors:\n  - { name: a, url: 'http://127.0.0.1:1/' }\n  - { name: b, type: tcp, target: '127.0.0.1:2' }\n\
         alerts:\n  - { name: down, monitors: ['*'], when: { consecutive_failures: 3 }, notify: [hook] }\n\
         notifiers:\n  - { name: hook, type: webhook, url: 'http://127.0.0.1:3/' }\n",
    )
    .expect("write");
    let output = hopwatch(&["validate", "-c", good.to_str().expect("utf-8 path")]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "ok: 2 monitors, 1 alerts, 1 notifiers\n");

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "monitors:\n  - { name: a, url: 'http://127.0.0.1:1/', interval: 5 sec }\n  - { name: b, type: tcp, target: nowhere }\n",
    )
    .expect("write");
    let label = bad.to_str().expect("utf-8 path");
    let output = hopwatch(&["validate", "-c", label]).await;
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(
        errors.contains(&format!(
            "{label}: monitors[0].interval: invalid duration \"5 sec\" (expected e.g. 30s, 5m)"
        )),
        "{errors}"
    );
    assert!(
        errors.contains(&format!("{label}: monitors[1].target: ")),
        "{errors}"
    );
}

#[tokio::test]
async fn validate_never_prints_a_secret_of_a_broken_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    // (file name, text, the secret it must not show)
    let cases = [
        (
            "number.yaml",
            "server: { admin_token: 8675309 }\nmonitors: [{ name: a, url: 'http://127.0.0.1:1/' }]\n",
            "8675309",
        ),
        (
            "number.toml",
            "[server]\nadmin_token = 8675309\n\n[[monitors]]\nname = \"a\"\nurl = \"http://127.0.0.1:1/\"\n",
            "8675309",
        ),
        (
            "password.yaml",
            "monitors: [{ name: a, url: 'http://127.0.0.1:1/' }]\nnotifiers:\n  - { name: m, type: email, smtp: { host: 127.0.0.1, username: u, password: 20260101 }, from: a@example.com, to: [b@example.com] }\n",
            "20260101",
        ),
        (
            "monitor-url.yaml",
            "monitors: [{ name: a, url: 'https://bob:hun/ter2@127.0.0.1:99999/' }]\n",
            "hun/ter2",
        ),
        (
            "webhook-url.yaml",
            "monitors: [{ name: a, url: 'http://127.0.0.1:1/' }]\nnotifiers:\n  - { name: h, type: webhook, url: 'https://hook:s3c#r3t@127.0.0.1/x y' }\n",
            "s3c#r3t",
        ),
        (
            "syntax.yaml",
            "server:\n  admin_token: !!int s3cr3t-t0ken\nmonitors: [{ name: a, url: 'http://127.0.0.1:1/' }]\n",
            "s3cr3t-t0ken",
        ),
        (
            "syntax.toml",
            "[server]\nadmin_token = !s3cr3t-t0ken\n",
            "s3cr3t-t0ken",
        ),
    ];
    for (name, text, secret) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let output = hopwatch(&["validate", "-c", path.to_str().expect("utf-8 path")]).await;
        let shown = format!("{}{}", stdout(&output), stderr(&output));
        assert_eq!(output.status.code(), Some(1), "{name}: {shown}");
        assert!(
            shown.contains(name),
            "{name}: the error names the file: {shown}"
        );
        assert!(!shown.contains(secret), "{name} shows its secret: {shown}");
    }
}

#[tokio::test]
async fn a_secret_in_a_file_others_can_read_gets_a_warning_from_validate_and_run() {
    use std::os::unix::fs::PermissionsExt;
    let origin = Origin::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("data").join("hopwatch.db");
    let write = |name: &str, token: &str, mode: u32| {
        let path = dir.path().join(name);
        let text = config_yaml(
            &format!("listen: 127.0.0.1:0, admin_token: \"{token}\""),
            &db,
            &format!(
                "monitors:\n  - {{ name: web, url: '{}', interval: 1s, timeout: 1s }}\n",
                origin.url("/")
            ),
        );
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path.to_str().expect("utf-8 path").to_owned()
    };
    let hopwatch = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hopwatch"));
        command
            .args(args)
            .env("RUST_LOG", "warn")
            .env("ADMIN_TOKEN", "fr0m-the-env");
        command
    };

    let readable = write("readable.yaml", "l1teral-t0ken", 0o644);
    let output = hopwatch(&["validate", "-c", &readable])
        .output()
        .await
        .expect("run hopwatch");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "ok: 1 monitors, 0 alerts, 0 notifiers\n");
    assert_eq!(
        stderr(&output),
        format!(
            "{readable}: server.admin_token: warning: this secret is written in a file that group or others can read (mode 644): chmod 600 {readable}, or set it from the environment with ${{VAR}}\n"
        )
    );

    for (name, token, mode) in [
        ("private.yaml", "l1teral-t0ken", 0o600),
        ("from-env.yaml", "${ADMIN_TOKEN}", 0o644),
    ] {
        let path = write(name, token, mode);
        let output = hopwatch(&["validate", "-c", &path])
            .output()
            .await
            .expect("run hopwatch");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert_eq!(stderr(&output), "", "{name} needs no warning");
    }

    let daemon = hopwatch(&["run", "-c", &readable])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start hopwatch");
    crate::helpers::wait_until("a check reached the origin", || origin.requests() >= 1).await;
    let pid = daemon.id().expect("running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
    // A net under a hung daemon, not a measurement: it stops within 10 s.
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        daemon.wait_with_output(),
    )
    .await
    .expect("hopwatch stopped")
    .expect("its output");
    let logged = stderr(&output);
    assert!(output.status.success(), "{logged}");
    assert!(
        logged.contains(&format!("{readable}: server.admin_token: warning: "))
            && logged.contains(&format!("chmod 600 {readable}")),
        "{logged}"
    );
    assert!(!logged.contains("l1teral-t0ken"), "{logged}");
}

#[tokio::test]
async fn run_with_a_bad_config_exits_1_and_creates_no_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("data").join("hopwatch.db");
    let config = dir.path().join("hopwatch.yaml");
    std::fs::write(
        &config,
        format!(
            "storage: {{ path: {} }}\nmonitors:\n  - {{ name: a, url: 'not a url' }}\n",
            db.display()
        ),
    )
    .expect("write");
    let output = hopwatch(&["run", "-c", config.to_str().expect("utf-8 path")]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("monitors[0].url"),
        "{}",
        stderr(&output)
    );
    assert!(
        !db.exists() && !db.parent().is_some_and(|p| p.exists()),
        "a bad config must touch nothing"
    );
}
