//! Scheduled maintenance end to end: the real binary shows a window on its
//! page and feed before and while it runs, announces its start and end once
//! each through a webhook, and a restart inside the window sends nothing again.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use crate::helpers::{
    Receiver, Reply, config_yaml, count_rows, free_port, start_binary, try_send, wait_until_async,
};

/// A bound on each wait: the daemon's tick is 2 s, its dispatcher polls
/// every second, and a slow machine may start the binary slowly.
const WITHIN: Duration = Duration::from_secs(45);

/// The webhook bodies whose `event` is `kind`.
fn events(receiver: &Receiver, kind: &str) -> Vec<serde_json::Value> {
    receiver
        .seen()
        .iter()
        .map(|(_, body)| serde_json::from_slice(body).expect("a JSON body"))
        .filter(|body: &serde_json::Value| body["event"] == kind)
        .collect()
}

/// The body of a 200 answer to `GET path`; `None` while the daemon is
/// not up (it is started and restarted as a binary) or answers otherwise.
async fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let request = http::Request::get(path);
    let answer = try_send(addr, request, "").await.ok()?;
    (answer.status() == 200).then(|| String::from_utf8_lossy(answer.body()).into_owned())
}

async fn page_says(addr: SocketAddr, path: &str, text: &str) -> bool {
    get(addr, path)
        .await
        .is_some_and(|body| body.contains(text))
}

#[tokio::test]
async fn an_announced_window_shows_ahead_and_during_and_is_announced_once_across_a_restart() {
    let receiver = Receiver::start(Reply::Status(200)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("an address");
    // Starts a few seconds after the daemon, and lasts long enough for a
    // restart inside it; whole seconds, as the config writes them.
    let start = SystemTime::now() + Duration::from_secs(8);
    let start = humantime::format_rfc3339_seconds(start).to_string();
    let db = dir.path().join("hopwatch.db");
    // The monitor checks the daemon's own port: nothing else is needed.
    let text = config_yaml(
        &format!("listen: 127.0.0.1:{port}"),
        &db,
        &format!(
            "monitors:\n  - {{ name: shop-edge, title: \"Shop <edge>\", group: Shop, type: tcp, target: \"127.0.0.1:{port}\", interval: 30s }}\n\
             notifiers:\n  - {{ name: ops, type: webhook, url: \"{}\" }}\n\
             maintenance:\n  - {{ monitors: [\"group:Shop\"], start: \"{start}\", duration: 20s, announce: true, notify: [ops] }}\n",
            receiver.url()
        ),
    );
    let config = dir.path().join("hopwatch.yaml");
    std::fs::write(&config, text).expect("write config");
    let mut daemon = start_binary(&config);

    wait_until_async("the page shows the window ahead", WITHIN, async || {
        page_says(addr, "/", "Scheduled: ").await
    })
    .await;
    let page = get(addr, "/").await.expect("the page");
    assert!(page.contains(", Shop</h3>"), "{page}");
    let monitor = get(addr, "/monitors/shop-edge")
        .await
        .expect("the monitor page");
    assert!(monitor.contains("Scheduled: "), "{monitor}");
    let feed = get(addr, "/feed.atom").await.expect("the feed");
    assert!(feed.contains("<id>urn:hopwatch:maintenance-"), "{feed}");
    assert!(feed.contains("<category term=\"maintenance\"/>"), "{feed}");

    wait_until_async("the start is announced", WITHIN, async || {
        !events(&receiver, "maintenance_started").is_empty()
    })
    .await;
    wait_until_async(
        "the page shows the window in progress",
        WITHIN,
        async || page_says(addr, "/", "Maintenance in progress until ").await,
    )
    .await;
    let started = &events(&receiver, "maintenance_started")[0];
    assert_eq!(started["monitor"]["name"], "Shop", "{started:#}");
    assert_eq!(started["alert"], "maintenance");

    // Restart inside the window, once the start is on record as sent (a
    // kill before that would rightly send it again, under the same id).
    let sent = "SELECT COUNT(*) FROM deliveries WHERE state = 'sent'";
    wait_until_async("the start is recorded as sent", WITHIN, async || {
        count_rows(&db, sent).await >= 1
    })
    .await;
    daemon.kill().expect("SIGKILL");
    daemon.wait().expect("reap");
    let mut daemon = start_binary(&config);

    let pending = "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'";
    wait_until_async(
        "the end is announced and nothing is left to send",
        WITHIN,
        async || {
            !events(&receiver, "maintenance_ended").is_empty()
                && count_rows(&db, pending).await == 0
        },
    )
    .await;
    wait_until_async("the page no longer shows the window", WITHIN, async || {
        get(addr, "/")
            .await
            .is_some_and(|body| !body.contains("maintenance-h"))
    })
    .await;
    daemon.kill().expect("stop");
    daemon.wait().expect("reap");
    let all = receiver.seen().len();
    assert_eq!(
        events(&receiver, "maintenance_started").len(),
        1,
        "{all} messages"
    );
    assert_eq!(
        events(&receiver, "maintenance_ended").len(),
        1,
        "{all} messages"
    );
    assert_eq!(
        count_rows(&db, "SELECT COUNT(*) FROM deliveries").await,
        2,
        "one delivery per phase and notifier"
    );
}

#[tokio::test]
async fn a_window_shows_only_where_its_monitors_may_be_seen_and_escaped() {
    let in_days = |days: u64| {
        let at = SystemTime::now() + Duration::from_secs(days * 86_400);
        humantime::format_rfc3339_seconds(at).to_string()
    };
    let rest = format!(
        "monitors:\n\
         \x20 - {{ name: shop-web, title: \"Shop <b>front</b>\", group: Shop, type: tcp, target: \"127.0.0.1:1\", interval: 1m }}\n\
         \x20 - {{ name: vault, title: Secret vault, group: Internal, type: tcp, target: \"127.0.0.1:1\", interval: 1m }}\n\
         maintenance:\n\
         \x20 - {{ monitors: [shop-web], start: \"{}\", duration: 1h }}\n\
         \x20 - {{ monitors: [vault], start: \"{}\", duration: 1h }}\n\
         \x20 - {{ monitors: [vault], start: \"{}\", duration: 1h }}\n\
         pages:\n\
         \x20 - {{ slug: '', title: Example status, groups: [Shop] }}\n\
         \x20 - {{ slug: ops, title: Operations, monitors: [vault], private: true, access_key: 'k3y-0ps' }}\n",
        in_days(2),
        in_days(3),
        // Beyond the 7-day notice: shown nowhere yet.
        in_days(9),
    );
    let app = crate::helpers::spawn_app_config("", &rest).await;
    let get = async |path: &str| get(app.addr, path).await.unwrap_or_default();

    let public = get("/").await;
    assert_eq!(public.matches("Scheduled: ").count(), 1, "{public}");
    assert!(
        public.contains(", Shop &lt;b&gt;front&lt;/b&gt;</h3>"),
        "{public}"
    );
    assert!(!public.contains("<b>front</b>"), "{public}");
    assert!(!public.contains("Secret vault"), "{public}");
    let monitor = get("/monitors/shop-web").await;
    assert!(monitor.contains("Scheduled: "), "{monitor}");

    let private = get("/p/ops?key=k3y-0ps").await;
    assert_eq!(private.matches("Scheduled: ").count(), 1, "{private}");
    assert!(private.contains(", Secret vault</h3>"), "{private}");
    assert!(!private.contains("Shop &lt;b&gt;"), "{private}");

    let feed = get("/feed.atom").await;
    assert_eq!(
        feed.matches("<category term=\"maintenance\"/>").count(),
        1,
        "{feed}"
    );
    assert!(!feed.contains("Secret vault"), "{feed}");
    assert!(!feed.contains("<b>"), "{feed}");
    app.stop().await;
}
