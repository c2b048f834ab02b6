//! A cluster (contract section 7) of real `hopwatch run` processes on one
//! real PostgreSQL: the work split among the nodes of a region, a second
//! node of one name refused, one leader that pages once, and a SIGKILLed
//! leader whose successor takes over from the database without paging
//! again. One scenario, one database: the slow parts are shared.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::helpers::{
    Mode, Origin, Receiver, Relay, Reply, free_port, signal, test_database, try_send, wait_exit,
    wait_until_async,
};

/// A node starting, a takeover (the contract allows 15 s), an incident:
/// each well inside this.
const WITHIN: Duration = Duration::from_secs(60);
const SECRET: &str = "cluster-webhook-secret";
/// Monitors besides the one that breaks: enough that each of two nodes
/// gets some by rendezvous hashing.
const HEALTHY: usize = 10;

/// A node of the test's, SIGKILLed if the test ends before it does.
struct Node {
    name: &'static str,
    addr: SocketAddr,
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `hopwatch run` on the shared config in `eu-west`, its name, region and
/// address from the environment, as the README's example runs them.
fn start_node(config: &Path, name: &'static str, stderr: Stdio) -> Node {
    let database = std::fs::read_to_string(config.with_extension("url")).expect("the url");
    start_node_in(config, name, "eu-west", &database, stderr)
}

/// [`start_node`] in `region`, on the database at `url`.
fn start_node_in(
    config: &Path,
    name: &'static str,
    region: &str,
    url: &str,
    stderr: Stdio,
) -> Node {
    start_node_with(config, name, region, url, "", stderr)
}

/// [`start_node_in`] with `SHOP_URL` set to `shop` in its environment.
fn start_node_with(
    config: &Path,
    name: &'static str,
    region: &str,
    url: &str,
    shop: &str,
    stderr: Stdio,
) -> Node {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let child = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["run", "-c"])
        .arg(config)
        .env("HOPWATCH_NODE_NAME", name)
        .env("HOPWATCH_NODE_REGION", region)
        .env("NODE_LISTEN", addr.to_string())
        .env("DATABASE_URL", url)
        .env("SHOP_URL", shop)
        .env("RUST_LOG", "warn,hopwatch::cluster=info")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start hopwatch run");
    Node { name, addr, child }
}

async fn get_json(addr: SocketAddr, path: &str) -> Option<Value> {
    let response = try_send(addr, http::Request::get(path), "").await.ok()?;
    (response.status() == 200).then(|| serde_json::from_slice(response.body()).ok())?
}

async fn get_text(addr: SocketAddr, path: &str) -> Option<String> {
    let response = try_send(addr, http::Request::get(path), "").await.ok()?;
    String::from_utf8(response.body().to_vec()).ok()
}

/// `/api/v1/cluster`'s live nodes as `node` sees them: (name, leader, monitors).
async fn live_nodes(node: &Node) -> Vec<(String, bool, u64)> {
    let Some(cluster) = get_json(node.addr, "/api/v1/cluster").await else {
        return Vec::new();
    };
    cluster["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["kind"] == "node" && n["alive"] == true)
        .map(|n| {
            (
                n["name"].as_str().unwrap_or_default().to_owned(),
                n["leader"] == true,
                n["monitors"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// The webhook bodies received so far, by event (`firing`, `resolved`).
fn received(hook: &Receiver, kind: &str) -> Vec<Value> {
    hook.seen()
        .iter()
        .filter_map(|(_, body)| serde_json::from_slice::<Value>(body).ok())
        .filter(|body| body["event"] == kind)
        .collect()
}

/// Whether every monitor has a stored check at or after `since`, read
/// through `node` (which may not be the one that checked it).
async fn all_checked_since(node: &Node, since: SystemTime) -> bool {
    let since = hopwatch::clock::rfc3339_millis(since);
    let mut names: Vec<String> = (0..HEALTHY).map(|i| format!("site-{i}")).collect();
    names.push("shop".to_owned());
    for name in names {
        let path = format!("/api/v1/monitors/{name}/checks?since={since}&limit=1");
        match get_json(node.addr, &path).await {
            Some(Value::Array(checks)) if !checks.is_empty() => {}
            _ => return false,
        }
    }
    true
}

/// The nodes named by the monitors' stored checks from `since` on, read
/// through `node`.
async fn checkers_since(node: &Node, since: SystemTime) -> HashSet<String> {
    let since = hopwatch::clock::rfc3339_millis(since);
    let mut names: Vec<String> = (0..HEALTHY).map(|i| format!("site-{i}")).collect();
    names.push("shop".to_owned());
    let mut checkers = HashSet::new();
    for name in names {
        let path = format!("/api/v1/monitors/{name}/checks?since={since}&limit=100");
        let checks = get_json(node.addr, &path).await.unwrap_or_default();
        for check in checks.as_array().into_iter().flatten() {
            checkers.insert(check["node"].as_str().unwrap_or("(none)").to_owned());
        }
    }
    checkers
}

/// What each scenario runs on: a database of its own, the healthy sites'
/// origin, the shop's (which the test breaks), the webhook receiver, and a
/// folder for the config.
struct Fixture {
    database: crate::helpers::TestDatabase,
    healthy: Origin,
    shop: Origin,
    hook: Receiver,
    dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        Fixture {
            database: test_database().await,
            healthy: Origin::spawn().await,
            shop: Origin::spawn().await,
            hook: Receiver::start(Reply::Status(204)).await,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
}

/// The config every node shares: `shop` (the one alerted on) and
/// [`HEALTHY`] sites, 1 s apart; the database URL comes from each node's
/// environment (`DATABASE_URL`), `url` is written beside it for
/// [`start_node`].
fn write_config(
    dir: &Path,
    url: &str,
    healthy: &Origin,
    shop: &Origin,
    hook: &Receiver,
    quorum: Option<u32>,
) -> std::path::PathBuf {
    write_config_to(dir, url, healthy, &shop.url("/"), hook, quorum)
}

/// [`write_config`] with the shop at `shop` (which may be a `${VAR}`).
fn write_config_to(
    dir: &Path,
    url: &str,
    healthy: &Origin,
    shop: &str,
    hook: &Receiver,
    quorum: Option<u32>,
) -> std::path::PathBuf {
    let config = dir.join("hopwatch.yaml");
    std::fs::write(config.with_extension("url"), url).expect("write the url");
    let mut text = format!(
        "server: {{ listen: '${{NODE_LISTEN}}' }}\n\
         storage: {{ url: '${{DATABASE_URL}}' }}\n\
         monitors:\n\
         \x20 - {{ name: shop, url: '{shop}', interval: 1s, timeout: 1s }}\n",
    );
    for i in 0..HEALTHY {
        let url = healthy.url(&format!("/site-{i}"));
        text.push_str(&format!(
            "  - {{ name: site-{i}, url: '{url}', interval: 1s, timeout: 1s }}\n"
        ));
    }
    let quorum = quorum.map(|q| format!(", quorum: {q}")).unwrap_or_default();
    text.push_str(&format!(
        "alerts:\n\
         \x20 - {{ name: shop-down, monitors: [shop], when: {{ consecutive_failures: 2 }}, notify: [hook]{quorum} }}\n\
         notifiers:\n\
         \x20 - {{ name: hook, type: webhook, url: '{hook}', secret: {SECRET} }}\n",
        hook = hook.url(),
    ));
    std::fs::write(&config, text).expect("write the config");
    config
}

/// Waits until the deliveries table holds nothing pending: every message
/// a leader decided to send has reached the receiver.
async fn outbox_drained(url: &str) {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    wait_until_async("the outbox holds nothing pending", WITHIN, async || {
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'")
                .fetch_one(&pool)
                .await
                .unwrap_or(1);
        pending == 0
    })
    .await;
    pool.close().await;
}

/// Waits until the outbox records a delivery as sent. A leader lost
/// between the receiver's 2xx and that record would have the next leader
/// send the delivery again, under the same id for the receiver to drop
/// (contract section 5); the tests stop a leader once the answer is on
/// record, so each message is received once.
async fn sent_on_record(url: &str) {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    wait_until_async("the delivery is recorded as sent", WITHIN, async || {
        let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'sent'")
            .fetch_one(&pool)
            .await
            .unwrap_or(0);
        sent >= 1
    })
    .await;
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_splits_the_work_pages_once_and_survives_its_leaders_death() {
    let Fixture {
        database,
        healthy,
        shop,
        hook,
        dir,
    } = Fixture::new().await;
    let config = write_config(dir.path(), &database.url, &healthy, &shop, &hook, None);
    // Two nodes of one region share its work; exactly one leads.
    let first = start_node(&config, "eu-1", Stdio::inherit());
    let second = start_node(&config, "eu-2", Stdio::inherit());
    let mut nodes = vec![first, second];
    wait_until_async(
        "both nodes alive, one leader, the work split",
        WITHIN,
        async || {
            let seen = live_nodes(&nodes[0]).await;
            let names: HashSet<&str> = seen.iter().map(|(n, _, _)| n.as_str()).collect();
            let leaders = seen.iter().filter(|(_, leader, _)| *leader).count();
            let total: u64 = seen.iter().map(|(_, _, m)| m).sum();
            names == HashSet::from(["eu-1", "eu-2"])
                && leaders == 1
                && total == HEALTHY as u64 + 1
                && seen.iter().all(|(_, _, m)| *m > 0)
        },
    )
    .await;
    let split = live_nodes(&nodes[0]).await;
    eprintln!("the work split: {split:?}");

    // A node that starts with a live node's name exits 1 naming it, and
    // the live one carries on.
    let mut twin = start_node(&config, "eu-1", Stdio::piped());
    let status = wait_exit(&mut twin.child).await;
    let mut stderr = String::new();
    std::io::Read::read_to_string(twin.child.stderr.as_mut().expect("piped"), &mut stderr)
        .expect("read the twin's stderr");
    assert_eq!(status.code(), Some(1), "the twin exits 1: {stderr}");
    assert!(
        stderr.contains("\"eu-1\"") && stderr.contains("already in the cluster"),
        "the twin's error names the node: {stderr}"
    );
    assert!(
        matches!(nodes[0].child.try_wait(), Ok(None)),
        "the live eu-1 carries on"
    );

    // Every monitor is checked, whichever node checks it, and any node
    // serves every monitor's checks from the database, each naming the
    // node that made it: both do some.
    let started = SystemTime::now();
    for node in &nodes {
        wait_until_async(
            "every monitor checked, seen from each node",
            WITHIN,
            async || all_checked_since(node, started).await,
        )
        .await;
        let checkers = checkers_since(node, started).await;
        assert_eq!(
            checkers,
            HashSet::from(["eu-1".to_owned(), "eu-2".to_owned()])
        );
    }

    // The shop fails: the leader pages once.
    shop.set_mode(Mode::Status(500, "broken".into())).await;
    wait_until_async("one firing message", WITHIN, async || {
        !received(&hook, "firing").is_empty()
    })
    .await;
    sent_on_record(&database.url).await;
    let leader_index = {
        let seen = live_nodes(&nodes[0]).await;
        let leader = seen
            .iter()
            .find(|(_, leader, _)| *leader)
            .map(|(name, _, _)| name.clone())
            .expect("a leader");
        nodes
            .iter()
            .position(|n| n.name == leader)
            .expect("a node of ours")
    };
    let leader_metrics = get_text(nodes[leader_index].addr, "/metrics")
        .await
        .unwrap_or_default();
    assert!(
        leader_metrics.contains("hopwatch_cluster_leader 1"),
        "the leader says so in its metrics"
    );

    // SIGKILL the leader: the other node takes over from the database
    // (within the contract's 15 s; bounded here, not timed), checks the
    // dead node's monitors, and does not page again for the open incident.
    let mut dead = nodes.remove(leader_index);
    signal(&dead.child, "KILL");
    let _ = wait_exit(&mut dead.child).await;
    let killed = SystemTime::now();
    let survivor = &nodes[0];
    wait_until_async("the survivor leads alone", WITHIN, async || {
        let seen = live_nodes(survivor).await;
        seen.len() == 1 && seen[0].0 == survivor.name && seen[0].1
    })
    .await;
    wait_until_async("every monitor checked after the kill", WITHIN, async || {
        all_checked_since(survivor, killed).await
    })
    .await;
    let survivor_metrics = get_text(survivor.addr, "/metrics")
        .await
        .unwrap_or_default();
    assert!(survivor_metrics.contains("hopwatch_cluster_leader 1"));

    // The shop recovers: the new leader resolves the incident it took over.
    shop.set_mode(Mode::Healthy).await;
    wait_until_async("one resolved message", WITHIN, async || {
        !received(&hook, "resolved").is_empty()
    })
    .await;
    // The outbox is empty once the resolved message went: everything the
    // leaders decided to send has reached the receiver by now.
    outbox_drained(&database.url).await;
    let pool = database.pool().await;
    let firing = received(&hook, "firing");
    let resolved = received(&hook, "resolved");
    assert_eq!(
        firing.len(),
        1,
        "paged once across the takeover: {firing:?}"
    );
    assert_eq!(resolved.len(), 1, "resolved once: {resolved:?}");
    assert_eq!(firing[0]["incident_id"], resolved[0]["incident_id"]);
    let incidents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM incidents")
        .fetch_one(&pool)
        .await
        .expect("count incidents");
    assert_eq!(
        incidents, 1,
        "the takeover neither reopened nor forgot the incident"
    );
    pool.close().await;
}

/// `url` with its port changed to `port`.
fn through(url: &str, port: u16) -> String {
    let (scheme_host, rest) = url.rsplit_once(':').expect("a url with a port");
    let (_, path) = rest.split_once('/').expect("a url with a database");
    format!("{scheme_host}:{port}/{path}")
}

async fn healthz(node: &Node) -> Option<u16> {
    let response = try_send(node.addr, http::Request::get("/healthz"), "")
        .await
        .ok()?;
    Some(response.status().as_u16())
}

/// What `node`'s `/metrics` says of its leadership (the sample line, not
/// the help text, which starts with "1 while").
async fn leads(node: &Node) -> bool {
    get_text(node.addr, "/metrics")
        .await
        .is_some_and(|text| text.lines().any(|line| line == "hopwatch_cluster_leader 1"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_loses_the_database_stops_leading_keeps_checking_and_catches_up() {
    let Fixture {
        database,
        healthy,
        shop,
        hook,
        dir,
    } = Fixture::new().await;
    // One region each, so that what the cut-off node checked is a series
    // of its own; any one region failing pages.
    let config = write_config(dir.path(), &database.url, &healthy, &shop, &hook, Some(1));
    let port: u16 = database
        .url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next()?.parse().ok())
        .expect("the database's port");
    let relay = Relay::start(SocketAddr::from(([127, 0, 0, 1], port))).await;
    let cut_off_url = through(&database.url, relay.addr().port());

    // The node behind the relay starts first and leads.
    let eu = start_node_in(&config, "eu-1", "eu-west", &cut_off_url, Stdio::inherit());
    wait_until_async("eu-1 leads", WITHIN, async || leads(&eu).await).await;
    let us = start_node_in(&config, "us-1", "us-east", &database.url, Stdio::inherit());
    wait_until_async("both nodes alive", WITHIN, async || {
        live_nodes(&us).await.len() == 2
    })
    .await;
    shop.set_mode(Mode::Status(500, "broken".into())).await;
    wait_until_async("one firing message", WITHIN, async || {
        !received(&hook, "firing").is_empty()
    })
    .await;
    sent_on_record(&database.url).await;

    // The leader's path to the database goes: it stops leading, says
    // so on /healthz, and the other node takes over.
    relay.cut().await;
    let cut = SystemTime::now();
    wait_until_async(
        "eu-1 no longer leads and is unhealthy",
        WITHIN,
        async || !leads(&eu).await && healthz(&eu).await == Some(503),
    )
    .await;
    wait_until_async("us-1 leads", WITHIN, async || leads(&us).await).await;
    // The shop recovers while eu-1 is cut off: us-1 resolves the incident.
    shop.set_mode(Mode::Healthy).await;
    wait_until_async("one resolved message", WITHIN, async || {
        !received(&hook, "resolved").is_empty()
    })
    .await;
    // eu-1 has kept checking all along, into its buffer. Its failures
    // from before the recovery are a backlog by the time it is back (over
    // 10 s old): stored, not judged, so they page nobody.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let restored = SystemTime::now();
    relay.restore();

    // Back: eu-1 is healthy, writes what it buffered, rejoins, and does
    // not take the lead back from a live leader.
    wait_until_async("eu-1 healthy again", WITHIN, async || {
        healthz(&eu).await == Some(200)
    })
    .await;
    let pool = database.pool().await;
    let (from, to) = (
        hopwatch::clock::unix_ms(cut) + 1_000,
        hopwatch::clock::unix_ms(restored) - 500,
    );
    wait_until_async(
        "eu-1's checks from the cut are stored",
        WITHIN,
        async || {
            let buffered: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM checks c JOIN monitors m ON m.id = check_monitor_id(c.key_hi) \
             WHERE m.name = 'shop@eu-west' AND check_at_ms(c.key_hi, c.key_lo) BETWEEN $1 AND $2",
            )
            .bind(from)
            .bind(to)
            .fetch_one(&pool)
            .await
            .unwrap_or(0);
            buffered > 0
        },
    )
    .await;
    wait_until_async("eu-1 is alive again to us-1", WITHIN, async || {
        live_nodes(&us).await.len() == 2
    })
    .await;
    assert!(
        leads(&us).await && !leads(&eu).await,
        "one leader, the one that took over"
    );
    outbox_drained(&database.url).await;
    let firing = received(&hook, "firing");
    let resolved = received(&hook, "resolved");
    assert_eq!(firing.len(), 1, "paged once: {firing:?}");
    assert_eq!(resolved.len(), 1, "resolved once: {resolved:?}");
    pool.close().await;
}

/// The `shop` entry of `/api/v1/status` as `node` renders it.
async fn shop_status(node: &Node) -> Value {
    let status = get_json(node.addr, "/api/v1/status")
        .await
        .unwrap_or(Value::Null);
    status["monitors"]
        .as_array()
        .and_then(|monitors| monitors.iter().find(|m| m["name"] == "shop"))
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_cut_from_one_region_is_that_regions_verdict_and_pages_nobody() {
    let Fixture {
        database,
        healthy,
        shop,
        hook,
        dir,
    } = Fixture::new().await;
    // One config; each node reaches the shop by its own path: eu-west
    // through a relay the test cuts, us-east directly.
    let config = write_config_to(
        dir.path(),
        &database.url,
        &healthy,
        "${SHOP_URL}",
        &hook,
        None,
    );
    let path = Relay::start(SocketAddr::from(([127, 0, 0, 1], shop.port()))).await;
    let eu_shop = format!("http://{}/", path.addr());
    let eu = start_node_with(
        &config,
        "eu-1",
        "eu-west",
        &database.url,
        &eu_shop,
        Stdio::inherit(),
    );
    let us = start_node_with(
        &config,
        "us-1",
        "us-east",
        &database.url,
        &shop.url("/"),
        Stdio::inherit(),
    );
    wait_until_async(
        "the shop up from both regions, seen from each node",
        WITHIN,
        async || {
            let mut both = true;
            for node in [&eu, &us] {
                let shop = shop_status(node).await;
                let regions = shop["regions"].as_array().cloned().unwrap_or_default();
                both &= shop["state"] == "up"
                    && regions.len() == 2
                    && regions
                        .iter()
                        .all(|r| r["state"] == "up" && r["alive"] == true);
            }
            both
        },
    )
    .await;

    // eu-west's path to the shop is cut: the shop is degraded, the verdict
    // names the region's path, and no page goes out below the quorum (2
    // of 2 regions by default).
    path.cut().await;
    wait_until_async("us-1 names eu-west's path", WITHIN, async || {
        let shop = shop_status(&us).await;
        shop["state"] == "degraded"
            && shop["last_check"]["verdict"]["hop"] == "network"
            && shop["last_check"]["verdict"]["summary"]
                .as_str()
                .is_some_and(|s| s.starts_with("fails only from eu-west (us-east sees it up)"))
    })
    .await;
    let pool = database.pool().await;
    let failing_here = async || -> i64 {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM checks c JOIN monitors m ON m.id = check_monitor_id(c.key_hi) \
             WHERE m.name = 'shop@eu-west' AND c.cause <> 0",
        )
        .fetch_one(&pool)
        .await
        .unwrap_or(0)
    };
    // Twice the alert's streak, read back by the leader: it has judged them.
    wait_until_async("eu-west's failures stored", WITHIN, async || {
        failing_here().await >= 5
    })
    .await;
    let leader = if leads(&eu).await { &eu } else { &us };
    wait_until_async("the leader shows eu-west failing", WITHIN, async || {
        shop_status(leader).await["state"] == "degraded"
    })
    .await;
    let incidents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM incidents")
        .fetch_one(&pool)
        .await
        .expect("count incidents");
    assert_eq!(incidents, 0, "one region below the quorum pages nobody");

    // Down for everyone: one page, both regions failing.
    shop.set_mode(Mode::Status(500, "broken".into())).await;
    wait_until_async("one firing message", WITHIN, async || {
        !received(&hook, "firing").is_empty()
    })
    .await;
    outbox_drained(&database.url).await;
    let firing = received(&hook, "firing");
    assert_eq!(
        firing.len(),
        1,
        "one incident per alert and monitor: {firing:?}"
    );
    let failing = &firing[0]["regions"]["failing"];
    assert_eq!(
        failing,
        &serde_json::json!(["eu-west", "us-east"]),
        "{:#}",
        firing[0]
    );
    pool.close().await;
}
