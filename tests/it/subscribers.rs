//! Email subscribers end to end (contract section 8), with the real binary
//! and a real SMTP server (aiosmtpd): the form, the same answer for every
//! address, double opt-in, report updates and incidents mailed with their
//! unsubscribe headers, tokens forged, expired and reused, the one-click
//! unsubscribe, and exactly one mail per subscriber across a SIGKILL
//! between posting an update and sending it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{
    SmtpServer, config_yaml, count_rows, free_port, read_maildir, signal, try_send, wait_exit,
    wait_until_async,
};

/// A bound on each wait: the dispatcher polls every second, a retry comes
/// a few seconds later, and a slow machine starts the binary slowly.
const WITHIN: Duration = Duration::from_secs(60);
const TOKEN: &str = "admin-token-for-subscribers";

/// The daemon at `config`, logging at info into `log` (to check that no
/// address shows there).
fn start(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("a log file");
    Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["run", "-c"])
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start hopwatch")
}

/// A port that accepts connections (and drops them) until aborted.
async fn open_shop(port: u16) -> tokio::task::JoinHandle<()> {
    let mut listener = None;
    // The port may still be held a moment after the last abort.
    for _ in 0..50 {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(bound) => {
                listener = Some(bound);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let listener = listener.expect("the shop's port");
    tokio::spawn(async move {
        loop {
            let _ = listener.accept().await;
        }
    })
}

async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    let mut builder = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let answer = try_send(addr, builder, body.to_owned()).await.ok()?;
    Some((
        answer.status().as_u16(),
        String::from_utf8_lossy(answer.body()).into_owned(),
    ))
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    request(addr, "GET", path, &[], "")
        .await
        .unwrap_or_else(|| panic!("GET {path}: no answer"))
}

async fn subscribe(addr: SocketAddr, page: &str, email: &str) -> (u16, String) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("page", page)
        .append_pair("email", email)
        .finish();
    let form = [("content-type", "application/x-www-form-urlencoded")];
    request(addr, "POST", "/subscribe", &form, &body)
        .await
        .expect("an answer to POST /subscribe")
}

async fn api_post(addr: SocketAddr, path: &str, body: Value) -> (u16, String) {
    let auth = format!("Bearer {TOKEN}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    request(addr, "POST", path, &headers, &body.to_string())
        .await
        .expect("an answer from the API")
}

/// The mails delivered to `address`, oldest first.
fn mails_to(server: &SmtpServer, address: &str) -> Vec<Value> {
    read_maildir(&server.maildir())
        .as_array()
        .expect("a list")
        .iter()
        .filter(|m| m["to"].as_str() == Some(address))
        .cloned()
        .collect()
}

async fn wait_mails(server: &SmtpServer, address: &str, count: usize) -> Vec<Value> {
    wait_until_async(&format!("{count} mails to {address}"), WITHIN, async || {
        mails_to(server, address).len() >= count
    })
    .await;
    mails_to(server, address)
}

/// The text part of a mail.
fn text_of(mail: &Value) -> String {
    mail["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .find(|p| p["type"] == "text/plain")
        .and_then(|p| p["text"].as_str())
        .expect("a text part")
        .to_owned()
}

fn html_of(mail: &Value) -> String {
    mail["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .find(|p| p["type"] == "text/html")
        .and_then(|p| p["text"].as_str())
        .expect("an HTML part")
        .to_owned()
}

/// The path and query of the first link in `text` to `path`.
fn link(text: &str, base: &str, path: &str) -> String {
    let start = text
        .find(&format!("{base}{path}?token="))
        .unwrap_or_else(|| panic!("no {path} link in {text}"));
    let url: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    url[base.len()..].to_owned()
}

/// Pending or sent rows of the outbox for subscribers, by state.
async fn subscriber_rows(db: &Path, state: &str) -> i64 {
    count_rows(
        db,
        &format!(
            "SELECT COUNT(*) FROM deliveries WHERE subscriber IS NOT NULL AND state = '{state}'"
        ),
    )
    .await
}

#[tokio::test]
async fn subscribers_confirm_hear_every_update_once_even_across_a_kill_and_leave_in_one_click() {
    let smtp = SmtpServer::start(&[], false).await;
    let smtp_port = smtp.port();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hopwatch.db");
    let log = dir.path().join("hopwatch.log");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("an address");
    let base = format!("http://127.0.0.1:{port}");
    // The shop's monitor checks a port the test opens and closes.
    let shop_port = free_port();
    let shop = open_shop(shop_port).await;
    let text = config_yaml(
        &format!("listen: \"127.0.0.1:{port}\", public_url: \"{base}\", admin_token: {TOKEN}"),
        &db,
        &format!(
            "monitors:\n\
             \x20 - {{ name: web, group: Shop, type: tcp, target: \"127.0.0.1:{shop_port}\", interval: 1s, timeout: 1s }}\n\
             \x20 - {{ name: db, type: tcp, target: \"127.0.0.1:{port}\", interval: 30s }}\n\
             alerts:\n  - {{ name: web-down, monitors: [web], when: {{ consecutive_failures: 2 }}, notify: [mail] }}\n\
             notifiers:\n  - {{ name: mail, type: email, smtp: {{ host: 127.0.0.1, port: {smtp_port}, security: none }}, from: \"Status <status@example.com>\", to: [oncall@example.com] }}\n\
             pages:\n\
             \x20 - {{ slug: shop, title: \"Shop & co\", groups: [Shop] }}\n\
             \x20 - {{ slug: ops, monitors: [db], private: true, access_key: s3cret-key }}\n\
             subscriptions: {{ notifier: mail, incidents: true }}\n"
        ),
    );
    let config = dir.path().join("hopwatch.yaml");
    std::fs::write(&config, text).expect("config");
    let mut daemon = start(&config, &log);
    wait_until_async("the daemon answers", WITHIN, async || {
        request(addr, "GET", "/p/shop", &[], "").await.is_some()
    })
    .await;

    // The public page carries the form; the private page's key holders
    // see no form, and the private page takes no subscribers.
    let (status, page) = get(addr, "/p/shop").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"<form method="post" action="/subscribe">"#),
        "{page}"
    );
    assert!(page.contains(r#"name="page" value="shop""#));
    let (_, private) = get(addr, "/p/ops?key=s3cret-key").await;
    assert!(!private.contains("/subscribe"), "{private}");
    for (page, why) in [("ops", "a private page"), ("nope", "no such page")] {
        let (status, _) = subscribe(addr, page, "eve@example.com").await;
        assert_eq!(status, 404, "{why}");
    }

    // A malformed address: the form again, with the error; nothing queued.
    let (status, body) = subscribe(addr, "shop", "ann at example.com").await;
    assert_eq!(status, 400);
    assert!(
        body.contains("does not look like an email address"),
        "{body}"
    );
    assert!(body.contains(r#"value="ann at example.com""#), "{body}");
    assert_eq!(count_rows(&db, "SELECT COUNT(*) FROM subscribers").await, 0);

    // The same answer for a new address, the same one again, another new
    // one, and one in other letters.
    let first = subscribe(addr, "shop", "Ann@Example.com").await;
    assert_eq!(first.0, 200);
    assert!(first.1.contains("Check your inbox"), "{}", first.1);
    for email in ["ann@example.com", "carol@example.com", "bob@example.com"] {
        assert_eq!(subscribe(addr, "shop", email).await, first, "{email}");
    }
    assert_eq!(
        count_rows(&db, "SELECT COUNT(*) FROM subscribers").await,
        3,
        "one subscriber per address"
    );

    // One confirmation each, asking again moments later sends none more.
    let confirmations = wait_mails(&smtp, "ann@example.com", 1).await;
    wait_mails(&smtp, "carol@example.com", 1).await;
    wait_mails(&smtp, "bob@example.com", 1).await;
    wait_until_async("every confirmation sent", WITHIN, async || {
        subscriber_rows(&db, "pending").await == 0
    })
    .await;
    assert_eq!(mails_to(&smtp, "ann@example.com").len(), 1);
    let confirmation = &confirmations[0];
    assert_eq!(
        confirmation["subject"],
        "Confirm your subscription to Shop & co"
    );
    let text = text_of(confirmation);
    assert!(text.contains("within 48 hours"), "{text}");
    let confirm = link(&text, &base, "/subscribe/confirm");
    let unsubscribe_ann = link(&text, &base, "/unsubscribe");
    assert_eq!(
        confirmation["list_unsubscribe"].as_str(),
        Some(format!("<{base}{unsubscribe_ann}>").as_str())
    );
    assert_eq!(
        confirmation["list_unsubscribe_post"],
        "List-Unsubscribe=One-Click"
    );
    assert!(
        html_of(confirmation)
            .contains(&format!("href=\"{base}{}\"", confirm.replace('&', "&amp;")))
    );

    // Forged and altered tokens change nothing; the real one confirms once.
    let (status, body) = get(addr, "/subscribe/confirm?token=forged").await;
    assert_eq!(status, 400);
    assert!(body.contains("not valid"), "{body}");
    let mut altered = confirm.clone();
    let last = altered.pop().expect("a token");
    altered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(get(addr, &altered).await.0, 400);
    let (status, body) = get(addr, &confirm).await;
    assert_eq!(status, 200);
    assert!(body.contains("Subscribed"), "{body}");
    let (status, body) = get(addr, &confirm).await;
    assert_eq!(status, 200, "a reused link");
    assert!(body.contains("Nothing was changed"), "{body}");
    let carol = wait_mails(&smtp, "carol@example.com", 1).await;
    let carol_text = text_of(&carol[0]);
    assert_eq!(
        get(addr, &link(&carol_text, &base, "/subscribe/confirm"))
            .await
            .0,
        200
    );
    let unsubscribe_carol = link(&carol_text, &base, "/unsubscribe");
    // An expired confirmation, signed with the store's own key.
    let key: Vec<u8> = {
        let pool = crate::helpers::sqlite_pool(&db).await;
        let key = sqlx::query_scalar("SELECT key FROM signing_keys WHERE name = 'links'")
            .fetch_one(&pool)
            .await
            .expect("the key");
        pool.close().await;
        key
    };
    let bob: i64 = count_rows(
        &db,
        "SELECT id FROM subscribers WHERE email = 'bob@example.com'",
    )
    .await;
    let expired = hopwatch::token::sign(&key, hopwatch::token::Purpose::Confirm, bob, Some(1));
    let (status, body) = get(addr, &format!("/subscribe/confirm?token={expired}")).await;
    assert_eq!(status, 410);
    assert!(body.contains("expired"), "{body}");
    assert_eq!(
        count_rows(
            &db,
            "SELECT COUNT(*) FROM subscribers WHERE confirmed_ms IS NOT NULL"
        )
        .await,
        2,
        "ann and carol confirmed, bob not"
    );

    // A report: each confirmed subscriber gets it once, bob nothing.
    let (status, body) = api_post(
        addr,
        "/api/v1/reports",
        serde_json::json!({
            "title": "Checkout <b>fails</b>",
            "status": "investigating",
            "message": "Some payments fail: <script>alert(1)</script>",
            "monitors": ["web"],
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let report: Value = serde_json::from_str(&body).expect("the report");
    let ann = wait_mails(&smtp, "ann@example.com", 2).await;
    let update = &ann[1];
    assert_eq!(
        update["subject"],
        "[Shop & co] Investigating: Checkout <b>fails</b>"
    );
    assert!(text_of(update).contains("Some payments fail: <script>alert(1)</script>"));
    let html = html_of(update);
    assert!(
        !html.contains("<script>") && !html.contains("<b>"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert_eq!(
        update["list_unsubscribe"].as_str(),
        Some(format!("<{base}{unsubscribe_ann}>").as_str())
    );
    wait_mails(&smtp, "carol@example.com", 2).await;

    // An incident of the page's monitor is told too: it fires, and resolves.
    shop.abort();
    let firing = wait_mails(&smtp, "ann@example.com", 3).await;
    assert_eq!(firing[2]["subject"], "[Shop & co] web is failing");
    let shop = open_shop(shop_port).await;
    let resolved = wait_mails(&smtp, "ann@example.com", 4).await;
    assert_eq!(resolved[3]["subject"], "[Shop & co] web is working again");
    wait_mails(&smtp, "carol@example.com", 4).await;
    wait_until_async("everything sent", WITHIN, async || {
        subscriber_rows(&db, "pending").await == 0
    })
    .await;

    // The mail server goes away; an update is posted and tried; the daemon
    // is killed before it could send; both come back: one mail each.
    drop(smtp);
    let (status, body) = api_post(
        addr,
        &format!("/api/v1/reports/{}/updates", report["id"]),
        serde_json::json!({"status": "identified", "message": "A bad deploy; rolling back."}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    wait_until_async("the update tried and waiting", WITHIN, async || {
        count_rows(
            &db,
            "SELECT COUNT(*) FROM deliveries WHERE subscriber IS NOT NULL AND state = 'pending' AND attempts > 0",
        )
        .await
            == 2
    })
    .await;
    signal(&daemon, "KILL");
    wait_exit(&mut daemon).await;
    let smtp = SmtpServer::start_on(Some(smtp_port), &[], false).await;
    let mut daemon = start(&config, &log);
    wait_until_async("the update sent after the restart", WITHIN, async || {
        subscriber_rows(&db, "pending").await == 0
    })
    .await;
    for address in ["ann@example.com", "carol@example.com"] {
        let mails = mails_to(&smtp, address);
        assert_eq!(mails.len(), 1, "exactly one mail to {address}: {mails:?}");
        assert_eq!(
            mails[0]["subject"],
            "[Shop & co] Identified: Checkout <b>fails</b>"
        );
    }
    assert!(mails_to(&smtp, "bob@example.com").is_empty());

    // Unsubscribing: a click, and a mail client's one-click POST. The rows
    // go, a second click changes nothing, and the next update reaches
    // nobody.
    let (status, body) = get(addr, &unsubscribe_ann).await;
    assert_eq!(status, 200);
    assert!(body.contains("Unsubscribed"), "{body}");
    let (status, _) = get(addr, &unsubscribe_ann).await;
    assert_eq!(status, 410, "a reused unsubscribe link");
    let one_click = request(
        addr,
        "POST",
        &unsubscribe_carol,
        &[("content-type", "application/x-www-form-urlencoded")],
        "List-Unsubscribe=One-Click",
    )
    .await
    .expect("an answer");
    assert_eq!(one_click.0, 200);
    assert_eq!(
        count_rows(
            &db,
            "SELECT COUNT(*) FROM subscribers WHERE email IN ('ann@example.com', 'carol@example.com')"
        )
        .await,
        0,
        "the addresses are deleted"
    );
    let (status, _) = api_post(
        addr,
        &format!("/api/v1/reports/{}/updates", report["id"]),
        serde_json::json!({"status": "resolved", "message": "Rolled back."}),
    )
    .await;
    assert_eq!(status, 201);
    // The update is stored with the fan-out in one transaction: once it
    // answered, a fan-out to anyone would be in the outbox already.
    assert_eq!(subscriber_rows(&db, "pending").await, 0);
    assert_eq!(mails_to(&smtp, "ann@example.com").len(), 1);

    signal(&daemon, "TERM");
    wait_exit(&mut daemon).await;
    shop.abort();
    // No address in the logs at the default level.
    let logged = std::fs::read_to_string(&log).expect("the log");
    assert!(logged.contains("subscriber confirmed"), "{logged}");
    for address in ["ann@example.com", "carol@example.com", "bob@example.com"] {
        assert!(!logged.to_lowercase().contains(address), "{address} logged");
    }
}

/// A config for an in-process dispatcher: the page `shop`, its subscribers
/// mailed through `mail` (the SMTP server at `smtp_port`), and `notifier`
/// (a YAML flow mapping) beside it when given.
fn shop_config(smtp_port: u16, notifier: &str) -> String {
    let other = if notifier.is_empty() {
        String::new()
    } else {
        format!("  - {notifier}\n")
    };
    format!(
        "server: {{ public_url: 'http://127.0.0.1:9/' }}\n\
         monitors: [{{ name: web, group: Shop, url: 'http://127.0.0.1:9/' }}]\n\
         notifiers:\n  - {{ name: mail, type: email, smtp: {{ host: 127.0.0.1, port: {smtp_port}, security: none }}, from: 'Status <status@example.com>', to: [oncall@example.com] }}\n\
         {other}\
         pages: [{{ slug: shop, title: Shop, groups: [Shop] }}]\n\
         subscriptions: {{ notifier: mail }}\n"
    )
}

/// A fan-out mails several subscribers at once (a mail server's tens of
/// ms a message, one at a time, would take minutes for thousands), and
/// each subscriber's mails still go in the order queued.
#[tokio::test]
async fn a_fan_out_mails_several_subscribers_at_once_each_in_order() {
    use hopwatch::incident::ReportStatus;
    use hopwatch::store::Store;
    use hopwatch::store::reports::NewReport;
    use hopwatch::store::subscribers::{Audience, Subscribed};

    const SUBSCRIBERS: usize = 4;
    // Held 10 s at most: all four go at once well within it, and a sender
    // one at a time is found out in a few rounds.
    let smtp = SmtpServer::start_gated(SUBSCRIBERS, Duration::from_secs(10)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("s.db")).await.expect("store");
    // Queued a second apart: the outbox keeps each queue in time order.
    let now = std::time::SystemTime::now();
    let before = now - Duration::from_secs(1);
    let addresses: Vec<String> = (0..SUBSCRIBERS)
        .map(|n| format!("s{n}@example.com"))
        .collect();
    // Each is asked to confirm (one mail each), confirms, then hears of a
    // report: two mails each, the confirmation first.
    for address in &addresses {
        let Subscribed::Asked(id) = store
            .subscribe("shop", address, "mail", before)
            .await
            .expect("subscribe")
        else {
            panic!("a new address is asked to confirm");
        };
        store.confirm_subscriber(id, before).await.expect("confirm");
    }
    let audience = Audience {
        notifier: "mail".to_owned(),
        pages: vec!["shop".to_owned()],
    };
    let report = NewReport {
        title: "Checkout".to_owned(),
        status: ReportStatus::Investigating,
        message: "Looking into it.".to_owned(),
        monitors: Vec::new(),
        pages: Vec::new(),
    };
    store
        .create_report(&report, now, Some(&audience))
        .await
        .expect("report");

    let dispatcher = crate::helpers::dispatcher(&store, &shop_config(smtp.port(), ""));
    // A round sends what is due; a few are enough, each bounded.
    for _ in 0..5 {
        dispatcher.deliver_due().await.expect("deliver");
        if smtp.arrivals().len() >= 2 * SUBSCRIBERS {
            break;
        }
    }
    let arrivals = smtp.arrivals();
    assert_eq!(arrivals.len(), 2 * SUBSCRIBERS, "{arrivals:#?}");
    assert_eq!(
        smtp.peak(),
        SUBSCRIBERS,
        "every subscriber's first mail in flight at once: {arrivals:#?}"
    );
    for address in &addresses {
        let theirs: Vec<&String> = arrivals
            .iter()
            .filter(|line| line.starts_with(&format!("{address} ")))
            .collect();
        assert_eq!(theirs.len(), 2, "{address}: {arrivals:#?}");
        assert!(
            theirs[0].contains("Confirm your subscription"),
            "{theirs:?}"
        );
        assert!(theirs[1].contains("Checkout"), "{theirs:?}");
    }
    store.close().await;
}

/// An alert goes out while subscribers' mail waits on a slow mail server:
/// the two sides of the outbox are delivered apart, so the page is not
/// held back until the fan-out's round ends.
#[tokio::test]
async fn an_alert_goes_out_while_a_fan_out_waits_on_the_mail_server() {
    use hopwatch::store::Store;
    use hopwatch::store::subscribers::Subscribed;

    // Holds every mail until released (never reaching 1,000 at once), and
    // for longer than the test waits for the page: the page cannot go out
    // after the hold ended by itself.
    let smtp = SmtpServer::start_gated(1_000, 2 * WITHIN).await;
    let hook = crate::helpers::Receiver::start(crate::helpers::Reply::Status(200)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("s.db")).await.expect("store");
    for address in ["s0@example.com", "s1@example.com"] {
        let asked = store
            .subscribe("shop", address, "mail", std::time::SystemTime::now())
            .await
            .expect("subscribe");
        assert!(matches!(asked, Subscribed::Asked(_)), "{asked:?}");
    }
    let hook_notifier = format!("{{ name: hook, type: webhook, url: '{}' }}", hook.url());
    let dispatcher = crate::helpers::dispatcher(&store, &shop_config(smtp.port(), &hook_notifier));
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(dispatcher.run(stop.clone()));
    wait_until_async(
        "the confirmations are held by the mail server",
        WITHIN,
        async || smtp.arrivals().len() == 2,
    )
    .await;

    let incident = crate::helpers::open_incident("inc-1", "web");
    let page = crate::helpers::firing_delivery("inc-1.hook.firing.0", "hook", &incident);
    store
        .open_incident(&incident, &[page])
        .await
        .expect("queue the page");
    wait_until_async("the page reaches the hook", WITHIN, async || {
        !hook.seen().is_empty()
    })
    .await;
    assert!(
        read_maildir(&smtp.maildir())
            .as_array()
            .is_none_or(Vec::is_empty),
        "the page went out only once the mail server let the fan-out through"
    );

    smtp.release();
    wait_until_async("both confirmations are delivered", WITHIN, async || {
        read_maildir(&smtp.maildir())
            .as_array()
            .is_some_and(|mails| mails.len() == 2)
    })
    .await;
    stop.cancel();
    running.await.expect("the dispatcher stops");
    store.close().await;
}
