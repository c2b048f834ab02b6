//! Agents (contract section 7) with real processes: the daemon as a binary
//! on one SQLite node with an `agents:` entry, and `hopwatch agent`
//! processes checking the monitors of their region for it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use http::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Origin, free_port, signal, spawn_app_config, start_binary, try_send, wait_exit, wait_until,
    wait_until_async,
};

const EU_TOKEN: &str = "eu-agent-token-0123456789";
const US_TOKEN: &str = "us-agent-token-0123456789";
const PUSH_TOKEN: &str = "pu5h-t0ken-0123456789";
const ADMIN_TOKEN: &str = "adm1n-t0ken-0123456789";
/// A server coming up, an agent's first results: each well inside this.
const WITHIN: Duration = Duration::from_secs(30);

/// A process of the test's, killed if the test ends before it does.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The daemon as a binary on a fixed port (a restart keeps it) with one
/// SQLite file, two agents (eu-west and us-east), a monitor for each
/// region and a push monitor.
struct Server {
    _dir: tempfile::TempDir,
    addr: SocketAddr,
    config: PathBuf,
    process: Option<Process>,
}

impl Server {
    async fn start(origin: &Origin) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let config = dir.path().join("hopwatch.yaml");
        let text = format!(
            "server: {{ listen: '{addr}', admin_token: {ADMIN_TOKEN} }}\n\
             storage: {{ path: '{db}' }}\n\
             agents:\n\
             \x20 - {{ name: eu-agent-1, region: eu-west, token: {EU_TOKEN} }}\n\
             \x20 - {{ name: us-agent-1, region: us-east, token: {US_TOKEN} }}\n\
             monitors:\n\
             \x20 - {{ name: web-eu, url: '{url}', interval: 1s, timeout: 1s, regions: [eu-west] }}\n\
             \x20 - {{ name: web-us, url: '{url}', interval: 1s, timeout: 1s, regions: [us-east] }}\n\
             \x20 - {{ name: beat, type: push, token: {PUSH_TOKEN} }}\n",
            db = dir.path().join("hopwatch.db").display(),
            url = origin.url("/"),
        );
        std::fs::write(&config, text).expect("write the config");
        // Owner-only, as secrets written in a config should be.
        let owner_only = std::os::unix::fs::PermissionsExt::from_mode(0o600);
        std::fs::set_permissions(&config, owner_only).expect("chmod the config");
        let mut server = Server {
            _dir: dir,
            addr,
            config,
            process: None,
        };
        server.run().await;
        server
    }

    /// Starts the daemon and waits (bounded) until it answers.
    async fn run(&mut self) {
        self.process = Some(Process(start_binary(&self.config)));
        let addr = self.addr;
        wait_until_async("the server answers /healthz", WITHIN, async || {
            let request = http::Request::get("/healthz");
            matches!(try_send(addr, request, "").await, Ok(r) if r.status() == 200)
        })
        .await;
    }

    /// Adds a monitor (a YAML flow mapping) to the config; the server
    /// reloads when it sees the file change.
    fn add_monitor(&self, monitor: &str) {
        let mut text = std::fs::read_to_string(&self.config).expect("read the config");
        text.push_str(&format!("  - {monitor}\n"));
        std::fs::write(&self.config, text).expect("write the config");
    }

    /// SIGTERM, and the exit (bounded) of a clean drain.
    async fn stop(&mut self) {
        let mut process = self.process.take().expect("the server runs");
        signal(&process.0, "TERM");
        let status = wait_exit(&mut process.0).await;
        assert!(status.success(), "the server stops cleanly: {status}");
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One request; (status, headers, body as JSON or null).
    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<bytes::Bytes>,
    ) -> (u16, http::HeaderMap, Value) {
        let mut request = http::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = tokio::time::timeout(WITHIN, try_send(self.addr, request, body))
            .await
            .unwrap_or_else(|_| panic!("no answer to {path} within {WITHIN:?}"))
            .unwrap_or_else(|err| panic!("{path}: {err}"));
        let json = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        (response.status().as_u16(), response.headers().clone(), json)
    }

    /// The stored checks of `monitor`, newest first, from `since` on.
    async fn checks(&self, monitor: &str, since: SystemTime) -> Vec<Value> {
        let since = hopwatch::clock::rfc3339_millis(since);
        let path = format!("/api/v1/monitors/{monitor}/checks?since={since}&limit=1000");
        let (status, _, json) = self.call(Method::GET, &path, &[], "").await;
        assert_eq!(status, 200, "{path}: {json}");
        json.as_array().expect("a list of checks").clone()
    }

    /// The `last_check` of `monitor` in `/api/v1/status`, rendered for
    /// this request (the admin's answers are never a shared snapshot).
    async fn last_check(&self, monitor: &str) -> Value {
        let admin = bearer(ADMIN_TOKEN);
        let headers = [("authorization", admin.as_str())];
        let (_, _, status) = self.call(Method::GET, "/api/v1/status", &headers, "").await;
        status["monitors"]
            .as_array()
            .and_then(|monitors| monitors.iter().find(|m| m["name"] == monitor))
            .map(|m| m["last_check"].clone())
            .unwrap_or(Value::Null)
    }

    /// Waits (bounded) until the server shows a result of `agent` as the
    /// latest of `monitor`, with the agent's region. The server checks
    /// the monitor too (every node does, on this branch), so its own
    /// results and the agent's take turns as the latest.
    async fn wait_for_agent_result(&self, monitor: &str, agent: &str, region: &str) {
        let what = format!("{monitor}'s last check comes from {agent} in {region}");
        wait_until_async(&what, WITHIN, async || {
            let last = self.last_check(monitor).await;
            last["node"] == agent && last["region"] == region
        })
        .await;
    }
}

/// `hopwatch agent` for the server at `url`, its token in the environment
/// (not on the command line, where `ps` shows it).
fn start_agent(url: &str, name: &str, token: &str, stderr: Stdio) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["agent", "--server", url, "--name", name])
        .env("HOPWATCH_AGENT_TOKEN", token)
        .env("RUST_LOG", "warn,hopwatch=info")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start hopwatch agent");
    Process(child)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A passing CHECK of `monitor` at `at`, as an agent sends it.
fn check(monitor: &str, at: SystemTime) -> Value {
    json!({
        "at": hopwatch::clock::rfc3339_millis(at),
        "monitor": monitor,
        "ok": true,
        "cause": "ok",
        "latency_ms": 1.5,
        "phases_ms": {"dns": 0, "connect": 0.5, "tls": 0, "ttfb": 1, "transfer": 0},
        "verdict": {"hop": "none", "summary": "healthy"},
    })
}

/// `at` to the millisecond below, as the store keeps times.
fn whole_ms(at: SystemTime) -> SystemTime {
    hopwatch::clock::from_unix_ms(hopwatch::clock::unix_ms(at))
}

/// The `at` of each check.
fn times(checks: &[Value]) -> Vec<SystemTime> {
    checks
        .iter()
        .map(|check| {
            let at = check["at"].as_str().expect("an at");
            hopwatch::clock::parse_rfc3339(at).expect("an RFC 3339 at")
        })
        .collect()
}

#[tokio::test]
async fn an_agent_checks_its_region_and_its_results_count_for_it() {
    let origin = Origin::spawn().await;
    let mut server = Server::start(&origin).await;
    let auth = bearer(EU_TOKEN);

    // What the eu agent is sent: its region's monitor, no other region's,
    // no push monitor; polled again, 304 until the config changes.
    let path = "/api/v1/agent/monitors";
    let (status, headers, sent) = server
        .call(Method::GET, path, &[("authorization", &auth)], "")
        .await;
    assert_eq!(status, 200, "{sent}");
    let names: Vec<&str> = sent["monitors"]
        .as_array()
        .expect("monitors")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["web-eu"]);
    assert_eq!(sent["agent"], "eu-agent-1");
    assert_eq!(sent["region"], "eu-west");
    assert_eq!(headers["cache-control"], "no-store");
    let etag = headers["etag"].to_str().expect("an ETag").to_owned();
    assert_eq!(etag, format!("\"{}\"", sent["version"].as_str().unwrap()));
    let again = [("authorization", auth.as_str()), ("if-none-match", &etag)];
    let (status, _, _) = server.call(Method::GET, path, &again, "").await;
    assert_eq!(status, 304);

    let mut agent = start_agent(&server.url(), "eu-agent-1", EU_TOKEN, Stdio::inherit());
    server
        .wait_for_agent_result("web-eu", "eu-agent-1", "eu-west")
        .await;
    let last = server.last_check("web-eu").await;
    assert_eq!(last["ok"], true, "{last}");
    assert_eq!(last["monitor"], "web-eu", "{last}");

    // A monitor added to the region on the server reaches the agent.
    server.add_monitor(&format!(
        "{{ name: web-eu-2, type: tcp, target: '{}', interval: 1s, regions: [eu-west] }}",
        origin.addr()
    ));
    server
        .wait_for_agent_result("web-eu-2", "eu-agent-1", "eu-west")
        .await;

    // SIGTERM: the agent stops cleanly.
    signal(&agent.0, "TERM");
    let status = wait_exit(&mut agent.0).await;
    assert!(status.success(), "the agent stops cleanly: {status}");
    server.stop().await;
}

#[tokio::test]
async fn while_the_server_is_away_the_agent_keeps_checking_and_sends_later_with_their_times() {
    let origin = Origin::spawn().await;
    let mut server = Server::start(&origin).await;
    let _agent = start_agent(&server.url(), "eu-agent-1", EU_TOKEN, Stdio::inherit());
    server
        .wait_for_agent_result("web-eu", "eu-agent-1", "eu-west")
        .await;

    server.stop().await;
    // From here on only the agent reaches the origin.
    let away_since = whole_ms(SystemTime::now());
    let before = origin.requests();
    wait_until("the agent checks three times with the server away", || {
        origin.requests() >= before + 3
    })
    .await;
    let back_at = SystemTime::now();
    let checked_meanwhile = origin.requests() - before;

    server.run().await;
    // Each check that reached the origin while the server was down is
    // stored with its own time, inside the outage; one may have started
    // just before it.
    let mut during = Vec::new();
    wait_until_async(
        "the agent's buffered checks are stored",
        WITHIN,
        async || {
            let checks = server.checks("web-eu", away_since).await;
            during = times(&checks)
                .into_iter()
                .filter(|at| *at < back_at)
                .collect();
            during.len() + 1 >= checked_meanwhile
        },
    )
    .await;
    assert!(
        during.iter().all(|at| *at >= away_since && *at < back_at),
        "{during:?}"
    );
    // Stored as the agent's region's series: every CHECK read back says so.
    let stored = server.checks("web-eu", away_since).await;
    let regions: Vec<&Value> = stored.iter().map(|c| &c["region"]).collect();
    assert!(
        !regions.is_empty() && regions.iter().all(|r| *r == "eu-west"),
        "{regions:?}"
    );
    // And each names the agent that made it.
    let nodes: Vec<&Value> = stored.iter().map(|c| &c["node"]).collect();
    assert!(nodes.iter().all(|n| *n == "eu-agent-1"), "{nodes:?}");
    let mut distinct = during.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        during.len(),
        "none stored twice: {during:?}"
    );
    // And the agent carries on as before.
    server
        .wait_for_agent_result("web-eu", "eu-agent-1", "eu-west")
        .await;
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_the_agent_exits_1_saying_so() {
    let origin = Origin::spawn().await;
    let mut server = Server::start(&origin).await;
    let wrong = "not-an-agent-token-0123456789";

    let mut agent = start_agent(&server.url(), "eu-agent-1", wrong, Stdio::piped());
    let status = wait_exit(&mut agent.0).await;
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut agent.0.stderr.take().expect("stderr"), &mut stderr)
        .expect("read the agent's stderr");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refused the token (401)"),
        "the agent says why: {stderr}"
    );
    assert!(
        !stderr.contains(wrong),
        "the token is never printed: {stderr}"
    );

    // What it was answered.
    let monitors = "/api/v1/agent/monitors";
    let results = "/api/v1/agent/results";
    let auth = bearer(wrong);
    for (method, path, headers) in [
        (
            Method::GET,
            monitors,
            vec![("authorization", auth.as_str())],
        ),
        (Method::GET, monitors, vec![]),
        (
            Method::POST,
            results,
            vec![("authorization", auth.as_str())],
        ),
        (Method::POST, results, vec![]),
    ] {
        let body = json!({"results": [check("web-eu", SystemTime::now())]}).to_string();
        let (status, headers, json) = server.call(method, path, &headers, body).await;
        assert_eq!(status, 401, "{path}: {json}");
        assert_eq!(headers["www-authenticate"], "Bearer");
    }
    // The token of an agent named otherwise: the agent says whose it is.
    let mut agent = start_agent(&server.url(), "eu-agent-2", EU_TOKEN, Stdio::piped());
    let status = wait_exit(&mut agent.0).await;
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut agent.0.stderr.take().expect("stderr"), &mut stderr)
        .expect("read the agent's stderr");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("\"eu-agent-1\"'s, not \"eu-agent-2\"'s"),
        "{stderr}"
    );
    server.stop().await;
}

/// An agent whose clock is an hour behind the server's: the time it says
/// it sent the batch tells the server by how much, and its results are
/// stored on the server's clock, as fresh as they are (so they are judged,
/// not taken for a backlog an hour old). A time that is not one changes
/// nothing.
#[tokio::test]
async fn an_agents_clock_behind_the_servers_is_made_up_for_by_the_time_it_sent() {
    let origin = Origin::spawn().await;
    let mut server = Server::start(&origin).await;
    let auth = bearer(EU_TOKEN);
    let path = "/api/v1/agent/results";
    let hour = Duration::from_secs(3_600);
    let agent_now = whole_ms(SystemTime::now() - hour);
    let sent_at = hopwatch::clock::unix_ms(agent_now).to_string();
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("hopwatch-sent-at", sent_at.as_str()),
    ];
    let checked = agent_now - Duration::from_millis(500);
    let batch = json!({"results": [check("web-eu", checked)]});
    let before = SystemTime::now();
    let (status, _, json) = server
        .call(Method::POST, path, &headers, batch.to_string())
        .await;
    let after = SystemTime::now();
    assert_eq!(status, 200, "{json}");
    // The server's clock read between `before` and `after`: the result
    // moved by as much as the agent's clock is behind it then.
    let earliest = whole_ms(checked + before.duration_since(agent_now).expect("behind"));
    let latest = checked + after.duration_since(agent_now).expect("behind");
    // The server checks web-eu too: the agent's checks are those it made.
    let agents = |checks: Vec<Value>| -> Vec<SystemTime> {
        let theirs: Vec<Value> = checks
            .into_iter()
            .filter(|check| check["node"] == "eu-agent-1")
            .collect();
        times(&theirs)
    };
    wait_until_async("the agent's result is stored", WITHIN, async || {
        let stored = agents(server.checks("web-eu", checked - hour).await);
        !stored.is_empty()
    })
    .await;
    let stored = agents(server.checks("web-eu", checked - hour).await);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(
        (earliest..=latest).contains(&stored[0]),
        "{:?} not moved onto the server's clock ({earliest:?} to {latest:?})",
        stored[0]
    );

    // Not a time: the agent's own times are kept.
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("hopwatch-sent-at", "yesterday"),
    ];
    let kept = whole_ms(checked - Duration::from_secs(60));
    let batch = json!({"results": [check("web-eu", kept)]});
    let (status, _, json) = server
        .call(Method::POST, path, &headers, batch.to_string())
        .await;
    assert_eq!(status, 200, "{json}");
    wait_until_async("the result is stored at its own time", WITHIN, async || {
        agents(server.checks("web-eu", kept).await).contains(&kept)
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn a_result_for_another_regions_monitor_is_refused_and_nothing_of_its_batch_is_stored() {
    let origin = Origin::spawn().await;
    let mut server = Server::start(&origin).await;
    let auth = bearer(EU_TOKEN);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let path = "/api/v1/agent/results";
    // Before the server started: none of its own checks is at these
    // times. Whole milliseconds, as checks are stored.
    let base = whole_ms(SystemTime::now() - Duration::from_secs(3_600));
    let at = |ms: u64| base + Duration::from_millis(ms);

    let batch = json!({"results": [check("web-eu", at(0)), check("web-us", at(1))]});
    let (status, _, json) = server
        .call(Method::POST, path, &headers, batch.to_string())
        .await;
    assert_eq!(status, 400, "{json}");
    let error = json["error"].as_str().expect("an error");
    assert!(
        error.starts_with(
            "results[1].monitor: \"web-us\" is not checked by agents of region \"eu-west\""
        ),
        "{error}"
    );
    for (monitor, what) in [("nope", "no monitor named \"nope\""), ("beat", "\"beat\"")] {
        let batch = json!({"results": [check("web-eu", at(2)), check(monitor, at(3))]});
        let (status, _, json) = server
            .call(Method::POST, path, &headers, batch.to_string())
            .await;
        assert_eq!(status, 400, "{json}");
        assert!(json["error"].as_str().unwrap().contains(what), "{json}");
    }
    let too_big = vec![b' '; 4 * 1024 * 1024 + 1];
    let (status, _, json) = server.call(Method::POST, path, &headers, too_big).await;
    assert_eq!(status, 413, "{json}");

    // A good batch after the refused ones: once it is stored, the writer
    // has had everything before it, and the refused ones are not there.
    let batch = json!({"results": [check("web-eu", at(4))]});
    let (status, _, json) = server
        .call(Method::POST, path, &headers, batch.to_string())
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["accepted"], 1);
    let mut stored = Vec::new();
    wait_until_async("the good batch is stored", WITHIN, async || {
        stored = times(&server.checks("web-eu", base).await);
        stored.contains(&at(4))
    })
    .await;
    for refused in [at(0), at(2)] {
        assert!(!stored.contains(&refused), "{refused:?} in {stored:?}");
    }
    let us = times(&server.checks("web-us", base).await);
    assert!(!us.contains(&at(1)), "{us:?}");
    server.stop().await;
}

#[tokio::test]
async fn an_agents_monitors_carry_their_secrets_and_no_public_answer_shows_them() {
    let header_secret = "h3ader-s3cret-value";
    let url_password = "ur1-pa55word";
    let origin = Origin::spawn().await;
    let url = origin
        .url("/")
        .replace("http://", &format!("http://probe:{url_password}@"));
    let rest = format!(
        "agents:\n\
         \x20 - {{ name: eu-agent-1, region: eu-west, token: {EU_TOKEN} }}\n\
         monitors:\n\
         \x20 - name: web-eu\n\
         \x20   url: '{url}'\n\
         \x20   interval: 1s\n\
         \x20   headers: {{ authorization: 'Bearer {header_secret}' }}\n\
         \x20 - {{ name: beat, type: push, token: {PUSH_TOKEN} }}\n"
    );
    let app = spawn_app_config("", &rest).await;
    app.wait_stored("web-eu", 1).await;

    // The agent holding the token gets what it probes with.
    let request =
        http::Request::get("/api/v1/agent/monitors").header("authorization", bearer(EU_TOKEN));
    let sent = try_send(app.addr, request, "").await.expect("an answer");
    assert_eq!(sent.status(), 200);
    let sent = String::from_utf8_lossy(sent.body()).into_owned();
    assert!(
        sent.contains(header_secret) && sent.contains(url_password),
        "{sent}"
    );

    let secrets = [header_secret, url_password, PUSH_TOKEN, EU_TOKEN];
    for path in [
        "/",
        "/monitors/web-eu",
        "/monitors/beat",
        "/api/v1/status",
        "/api/v1/monitors/web-eu/checks",
        "/api/v1/agent/monitors",
        "/feed.atom",
        "/metrics",
    ] {
        let (status, body) = app.get(path).await;
        assert!(status == 200 || status == 401, "{path}: {status}");
        for secret in secrets {
            assert!(!body.contains(secret), "{path} shows {secret}: {body}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn the_token_is_sent_over_https_or_to_loopback_only() {
    let output = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["agent", "--server", "http://192.0.2.1:8080", "--name", "a"])
        .env("HOPWATCH_AGENT_TOKEN", EU_TOKEN)
        .output()
        .expect("run hopwatch agent");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("use https://"), "{stderr}");
}
