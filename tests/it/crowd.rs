//! A crowd on the web must never delay a check: handlers run on the web's
//! own threads, and the write and push endpoints are limited per client.

use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use axum::routing::get;
use hopwatch::web::serve::{WEB_THREAD, web_threads};

use crate::api::{Answer, Daemon};
use crate::helpers::{Origin, http_get, spawn_app_with_routes, wait_until};

/// Where the hogging handler ran, and the gate that holds it.
#[derive(Default)]
struct Hog {
    ran_on: Mutex<Vec<(ThreadId, Option<String>)>>,
    released: Mutex<bool>,
    gate: Condvar,
}

impl Hog {
    /// Records its thread, then blocks that thread (not just the task)
    /// until released: the worst a render could do. What it answers.
    fn enter(&self) -> &'static str {
        let current = std::thread::current();
        let name = current.name().map(str::to_owned);
        lock(&self.ran_on).push((current.id(), name));
        let released = lock(&self.released);
        // Bounded, should the test fail before it releases (or, were the
        // handler on the checks' thread, never get to release it).
        match self
            .gate
            .wait_timeout_while(released, Duration::from_secs(30), |released| !*released)
        {
            Ok((_, wait)) if !wait.timed_out() => "released",
            _ => "never released",
        }
    }

    fn release(&self) {
        *lock(&self.released) = true;
        self.gate.notify_all();
    }

    fn threads(&self) -> HashSet<ThreadId> {
        lock(&self.ran_on).iter().map(|(id, _)| *id).collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[tokio::test]
async fn checks_are_stored_while_every_web_thread_is_blocked() {
    let checks_thread = std::thread::current().id();
    let origin = Origin::spawn().await;
    let hog = Arc::new(Hog::default());
    let route = {
        let hog = hog.clone();
        axum::Router::new().route("/hog", get(move || async move { hog.enter() }))
    };
    let app = spawn_app_with_routes(
        &format!(
            "  - {{ name: web, url: '{}', interval: 1s, timeout: 1s }}\n",
            origin.url("/")
        ),
        route,
    )
    .await;
    // More requests than web threads, so that a crowd is in flight. Not
    // every web thread is sure to end up blocked (tokio cannot steal the
    // task a worker set aside to run next), but one is enough: on the
    // checks' thread, one blocked handler would stop every check.
    let crowd = 4 * web_threads();
    let requests: Vec<_> = (0..crowd)
        .map(|_| tokio::spawn(http_get(app.addr, "/hog")))
        .collect();
    wait_until("a handler blocks its thread", || !hog.threads().is_empty()).await;
    let before = app.stored("web").await;
    for _ in 0..200 {
        if app.stored("web").await >= before + 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let during = app.stored("web").await;
    hog.release();
    for request in requests {
        let (status, body) = request.await.expect("the client task");
        assert_eq!((status, body.as_str()), (200, "released"));
    }
    assert!(
        during >= before + 2,
        "checks kept being stored while the web was blocked: {before} -> {during}"
    );
    let ran_on = lock(&hog.ran_on).clone();
    assert_eq!(ran_on.len(), crowd, "every request reached the handler");
    for (id, name) in &ran_on {
        assert_ne!(*id, checks_thread, "a handler ran on the checks' thread");
        assert_eq!(
            name.as_deref(),
            Some(WEB_THREAD),
            "a handler ran off the web's threads"
        );
    }
    app.stop().await;
}

/// Sends `request` until it is answered 429, at most `bound` times; the
/// answers that passed before it, and the 429 itself.
async fn until_limited(
    bound: usize,
    mut request: impl AsyncFnMut() -> Answer,
) -> (Vec<Answer>, Option<Answer>) {
    let mut passed = Vec::new();
    for _ in 0..bound {
        let answer = request().await;
        if answer.status == 429 {
            return (passed, Some(answer));
        }
        passed.push(answer);
    }
    (passed, None)
}

/// A 429 as documented: a whole number of seconds to wait, a JSON error.
fn assert_limited(answer: &Answer, doc: &serde_json::Value, operation: (&str, &str)) {
    let retry_after: u64 = answer
        .header("retry-after")
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After in seconds: {:?}", answer.header("retry-after")));
    assert!(retry_after >= 1, "{retry_after}");
    assert!(
        answer.error().contains("too many requests"),
        "{}",
        answer.body
    );
    let documented = &doc["paths"][operation.0][operation.1]["responses"]["429"];
    assert!(
        documented["headers"]["Retry-After"].is_object(),
        "429 of {operation:?} documented with Retry-After: {documented}"
    );
}

#[tokio::test]
async fn a_burst_of_pushes_or_writes_from_one_client_is_answered_429_with_retry_after() {
    let rest = "monitors:\n  \
        - { name: backup, type: push, interval: 1h, token: one-t0ken }\n  \
        - { name: nightly, type: push, interval: 1h, token: other-t0ken }\n";
    let daemon = Daemon::spawn("admin_token: admin-t0ken", rest).await;
    let doc = daemon.get("/api/v1/openapi.json").await.json();

    // The burst passes; past it (requests faster than 50 a second), 429.
    let (passed, limited) = until_limited(5_000, async || {
        daemon
            .request("POST", "/api/v1/push/backup", Some("one-t0ken"), b"")
            .await
    })
    .await;
    assert!(
        passed.len() >= 500,
        "the burst of 500 passes: {}",
        passed.len()
    );
    assert!(
        passed.iter().all(|a| a.status == 200),
        "every push in the burst is recorded"
    );
    let limited = limited.expect("a flood of pushes is limited");
    assert_limited(&limited, &doc, ("/api/v1/push/{name}", "post"));

    // Another monitor's token from the same client draws on the same
    // bucket: a fresh one would let at least 20 through.
    let (passed, limited) = until_limited(20, async || {
        daemon.get("/api/v1/push/nightly?token=other-t0ken").await
    })
    .await;
    let limited = limited.unwrap_or_else(|| {
        panic!(
            "the same client is limited on another monitor: {} passed",
            passed.len()
        )
    });
    assert_limited(&limited, &doc, ("/api/v1/push/{name}", "get"));

    // Writes have their own, smaller limit.
    let note = br#"{"text": "deploy"}"#;
    let (passed, limited) = until_limited(1_000, async || {
        daemon
            .request("POST", "/api/v1/annotations", Some("admin-t0ken"), note)
            .await
    })
    .await;
    assert!(
        passed.len() >= 20,
        "the burst of 20 passes: {}",
        passed.len()
    );
    assert!(
        passed.iter().all(|a| a.status == 201),
        "every write in the burst is done"
    );
    let limited = limited.expect("a flood of writes is limited");
    assert_limited(&limited, &doc, ("/api/v1/annotations", "post"));
    // Pages are not limited.
    assert_eq!(daemon.get("/api/v1/status").await.status, 200);
    daemon.stop().await;
}
