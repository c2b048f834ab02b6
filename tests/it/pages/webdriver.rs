//! Just enough of the W3C WebDriver protocol to drive headless Chromium
//! through chromedriver: sessions, navigation, scripts, screenshots, logs.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::{ClientError, free_port, require, try_send};

/// The longest one WebDriver command may take (a page load included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A chromedriver process on its own port; killed on drop.
pub struct Driver {
    addr: SocketAddr,
    child: Child,
}

impl Driver {
    /// Starts chromedriver and waits until it reports ready.
    pub async fn start() -> Driver {
        let binary = require("chromedriver");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
        };
        for _ in 0..100 {
            if let Ok(status) = call(driver.addr, "GET", "/status", None).await
                && status["value"]["ready"] == true
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not become ready on port {port}");
    }

    /// A headless Chromium session with its own profile, logging the
    /// browser console, with a window of `width` x `height`.
    pub async fn session(&self, width: u32, height: u32) -> Session {
        let profile = tempfile::tempdir().expect("a profile folder");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--window-size={width},{height}"),
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        }}});
        let answer = command(self.addr, "POST", "/session", Some(capabilities)).await;
        let value = &answer["value"];
        Session {
            addr: self.addr,
            id: value["sessionId"]
                .as_str()
                .unwrap_or_else(|| panic!("no session id in {answer}"))
                .to_owned(),
            browser_pid: value["capabilities"]["goog:processID"].as_u64(),
            _profile: profile,
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser; closed on drop.
pub struct Session {
    addr: SocketAddr,
    id: String,
    /// Chromium's own process, ended by hand if closing the session fails.
    browser_pid: Option<u64>,
    _profile: TempDir,
}

impl Session {
    async fn run(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.id);
        command(self.addr, method, &path, body).await["value"].take()
    }

    /// Loads `url` and waits for the document to load.
    pub async fn goto(&self, url: &str) {
        self.run("POST", "/url", Some(json!({ "url": url }))).await;
    }

    /// Runs `script` (a function body) in the page; its return value.
    pub async fn eval(&self, script: &str) -> Value {
        self.run(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Resizes the window.
    pub async fn resize(&self, width: u32, height: u32) {
        let rect = json!({ "width": width, "height": height });
        self.run("POST", "/window/rect", Some(rect)).await;
    }

    /// Makes the page see a `width` x `height` viewport as a phone would:
    /// desktop windows cannot shrink below 500 px, phones are narrower.
    pub async fn emulate_phone(&self, width: u32, height: u32) {
        let metrics = json!({ "cmd": "Emulation.setDeviceMetricsOverride", "params": {
            "width": width, "height": height, "deviceScaleFactor": 2, "mobile": true,
        }});
        self.run("POST", "/goog/cdp/execute", Some(metrics)).await;
    }

    /// Makes `prefers-color-scheme` match `scheme` (`light` or `dark`).
    pub async fn color_scheme(&self, scheme: &str) {
        let media = json!({ "cmd": "Emulation.setEmulatedMedia", "params": {
            "features": [{ "name": "prefers-color-scheme", "value": scheme }],
        }});
        self.run("POST", "/goog/cdp/execute", Some(media)).await;
    }

    /// Back to the window's own size.
    pub async fn stop_emulation(&self) {
        let clear = json!({ "cmd": "Emulation.clearDeviceMetricsOverride", "params": {} });
        self.run("POST", "/goog/cdp/execute", Some(clear)).await;
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.run("GET", "/screenshot", None).await;
        base64_decode(encoded.as_str().expect("a base64 screenshot"))
    }

    /// Browser console entries since the last call (chromedriver's
    /// logging extension): `[{"level", "message", ...}]`.
    pub async fn console(&self) -> Vec<Value> {
        let entries = self
            .run("POST", "/se/log", Some(json!({ "type": "browser" })))
            .await;
        entries
            .as_array()
            .unwrap_or_else(|| panic!("no log entries in {entries}"))
            .clone()
    }
}

impl Drop for Session {
    /// Closing the session ends Chromium; blocking is fine here, it needs
    /// nothing from the test's runtime. Should that fail, the browser is
    /// killed by its process id so no Chromium outlives the test.
    fn drop(&mut self) {
        if !self.delete()
            && let Some(pid) = self.browser_pid
        {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Session {
    /// `DELETE /session/{id}` over a blocking socket; whether it was answered.
    fn delete(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) =
            std::net::TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
        else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.id, self.addr
        );
        // The status line is all that matters; chromedriver may keep the
        // connection open, so read what comes and stop at the first line.
        let mut answer = [0u8; 12];
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && answer.starts_with(b"HTTP/1.1 200")
    }
}

/// One WebDriver command; a WebDriver error fails the test with its message.
async fn command(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Value {
    let answer = tokio::time::timeout(COMMAND_TIMEOUT, call(addr, method, path, body))
        .await
        .unwrap_or_else(|_| panic!("WebDriver {method} {path} took over {COMMAND_TIMEOUT:?}"))
        .unwrap_or_else(|err| panic!("WebDriver {method} {path}: {err}"));
    if let Some(error) = answer["value"]["error"].as_str() {
        panic!(
            "WebDriver {method} {path}: {error}: {}",
            answer["value"]["message"]
        );
    }
    answer
}

/// The HTTP exchange under a command, on a fresh connection.
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, ClientError> {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json; charset=utf-8");
    let response = try_send(addr, request, body).await?;
    Ok(serde_json::from_slice(response.body())?)
}

/// Standard base64 (with padding), as WebDriver sends screenshots.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {:?}", c as char),
    };
    let clean: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for quad in clean.chunks(4) {
        let digits: Vec<u8> = quad
            .iter()
            .take_while(|c| **c != b'=')
            .map(|c| value(*c))
            .collect();
        let bits = digits
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, d)| acc | u32::from(*d) << (18 - 6 * i));
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..digits.len().max(1)]);
    }
    out
}

#[test]
fn base64_round_trips_the_rfc_examples() {
    assert_eq!(base64_decode("Zm9vYmFy"), b"foobar");
    assert_eq!(base64_decode("Zm9vYg=="), b"foob");
    assert_eq!(base64_decode("Zm9vYmE="), b"fooba");
}
