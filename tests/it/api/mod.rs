//! The HTTP surface for people's tools: the JSON API and its OpenAPI
//! document, badges, the Atom feed, /metrics under promtool, the dashboards.

mod documents;
mod json;
mod machine;
mod openapi;
mod paging;
mod reports;

use std::time::Duration;

use axum::body::Bytes;

use crate::helpers::{Origin, Peer, TestApp, send, spawn_app_config, spawn_status, wait_until};

/// The admin token of [`Fixture`]'s daemon.
pub const TOKEN: &str = "t0ken-for-tests";
/// The push monitor `backup`'s token.
pub const PUSH_TOKEN: &str = "push-t0ken";
/// A secret in a URL that must never appear in an answer.
pub const URL_SECRET: &str = "sekrit-in-url";
/// The title of the failing monitor: every page and document must escape it.
pub const EVIL_TITLE: &str = "<script>alert(1)</script>";

/// A daemon in this process, built from a whole config file.
pub struct Daemon {
    app: TestApp,
}

impl std::ops::Deref for Daemon {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// An answer: status, lower-case headers, body.
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The body as JSON, or a panic that shows it.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }

    /// The `error` of a JSON error body.
    pub fn error(&self) -> String {
        let json = self.json();
        json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error text: {json}"))
            .to_owned()
    }
}

impl Daemon {
    /// Starts a daemon; `server` and `rest` are the YAML of the `server:`
    /// keys besides `listen`, and of everything after `storage:`.
    pub async fn spawn(server: &str, rest: &str) -> Daemon {
        Daemon {
            app: spawn_app_config(server, rest).await,
        }
    }

    /// Sends one request; `token` becomes a bearer Authorization header.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> Answer {
        let mut request = http::Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let (parts, body) = send(self.addr, request, Bytes::copy_from_slice(body))
            .await
            .into_parts();
        Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.request("GET", path, None, b"").await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &str) -> Answer {
        self.request("POST", path, token, body.as_bytes()).await
    }

    /// Polls until the incident list has one for each of `monitors` in
    /// `state`; returns the list.
    pub async fn wait_incidents(&self, state: &str, monitors: &[&str]) -> Vec<serde_json::Value> {
        for _ in 0..200 {
            let list = self
                .get(&format!("/api/v1/incidents?state={state}"))
                .await
                .json();
            let list = list.as_array().cloned().unwrap_or_default();
            if monitors
                .iter()
                .all(|m| list.iter().any(|i| i["monitor"] == *m))
            {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no {state} incidents for all of {monitors:?}");
    }

    pub async fn stop(self) {
        self.app.stop().await;
    }
}

/// A daemon with an open 502 incident (`shop-edge`, titled [`EVIL_TITLE`]),
/// an open incident whose evidence has a URL with a token (`redirector`), a
/// resolved incident (`flappy`), a healthy monitor (`web`) and a push
/// monitor (`backup`).
pub struct Fixture {
    pub daemon: Daemon,
    _peers: (Peer, Peer, Origin, Origin),
}

impl Fixture {
    pub async fn start() -> Fixture {
        let bad_gateway = spawn_status(502, &[], "<html>502 Bad Gateway</html>").await;
        let location = format!("http://127.0.0.1:1/next?token={URL_SECRET}");
        let redirect = spawn_status(302, &[("Location", location.as_str())], "").await;
        let flappy = Origin::spawn().await;
        flappy.stop().await;
        let web = Origin::spawn().await;
        let monitor = |name: &str, url: &str, extra: &str| {
            format!("  - {{ name: {name}, url: '{url}', interval: 1s, timeout: 1s{extra} }}\n")
        };
        let rest = [
            "monitors:\n".to_owned(),
            monitor(
                "shop-edge",
                &bad_gateway.url("/health"),
                &format!(", group: Shop, title: '{EVIL_TITLE}'"),
            ),
            monitor("redirector", &redirect.url("/"), ", follow_redirects: false"),
            monitor("flappy", &flappy.url("/"), ""),
            monitor("web", &web.url("/"), ""),
            format!("  - {{ name: backup, type: push, interval: 1h, token: {PUSH_TOKEN} }}\n"),
            "alerts:\n  - { name: down, monitors: ['*'], when: { consecutive_failures: 1 }, notify: [hook] }\n"
                .to_owned(),
            "notifiers:\n  - { name: hook, type: webhook, url: 'http://127.0.0.1:1/' }\n".to_owned(),
        ]
        .concat();
        let server = format!(
            "admin_token: {TOKEN}, public_url: 'https://status.example.com/', title: 'Shop & Co'"
        );
        let daemon = Daemon::spawn(&server, &rest).await;
        daemon.wait_incidents("open", &["flappy"]).await;
        flappy.start().await;
        daemon.wait_incidents("resolved", &["flappy"]).await;
        daemon
            .wait_incidents("open", &["shop-edge", "redirector"])
            .await;
        wait_until("web was checked", || {
            daemon.state.live.latest("web").is_some_and(|r| r.ok)
        })
        .await;
        Fixture {
            daemon,
            _peers: (bad_gateway, redirect, flappy, web),
        }
    }

    /// The id of `monitor`'s incident in `state`.
    pub async fn incident_id(&self, monitor: &str, state: &str) -> String {
        let list = self.daemon.wait_incidents(state, &[monitor]).await;
        let incident = list
            .iter()
            .find(|i| i["monitor"] == monitor)
            .expect("an incident");
        incident["id"].as_str().expect("an id").to_owned()
    }
}
