//! Email against a real SMTP server (aiosmtpd): the delivered message, and
//! how permanent, transient and connection failures are classified.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use hopwatch::alert::{Notifier, format};
use serde_json::{Value, json};

use super::{build, firing};
use crate::helpers::{LOCALHOST, free_port};

/// An aiosmtpd process on loopback, killed on drop.
pub(crate) struct SmtpServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The system Python: it has Debian's aiosmtpd, a pyenv one first on PATH may not.
const PYTHON: &str = "/usr/bin/python3";

/// Transient refusal at RCPT, as a busy or greylisting server answers.
const DEFER_HANDLER: &str = r#"
class Defer:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "451 4.7.1 greylisted, try again later"
"#;

impl SmtpServer {
    /// Starts aiosmtpd with its Mailbox handler (a maildir in a temp dir);
    /// `defer` uses a handler that refuses every recipient with 451 instead.
    pub(crate) async fn start(extra: &[&str], defer: bool) -> SmtpServer {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join("defer_handler.py"), DEFER_HANDLER).expect("handler");
        let maildir = dir.path().join("mail");
        let mut dir = dir;
        for _ in 0..5 {
            let port = free_port();
            let mut command = Command::new(PYTHON);
            command
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("{LOCALHOST}:{port}")])
                .args(extra)
                .env("PYTHONPATH", dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if defer {
                command.args(["-c", "defer_handler.Defer"]);
            } else {
                command
                    .args(["-c", "aiosmtpd.handlers.Mailbox"])
                    .arg(&maildir);
            }
            let child = command.spawn().expect("python3 with aiosmtpd");
            let mut server = SmtpServer { child, port, dir };
            if server.wait_listening().await {
                return server;
            }
            // Lost the port to another test: try another.
            dir = std::mem::replace(&mut server.dir, tempfile::tempdir().expect("a temp dir"));
        }
        panic!("aiosmtpd did not start (is python3-aiosmtpd installed?)");
    }

    /// `true` once the port accepts; `false` if the process exited first.
    async fn wait_listening(&mut self) -> bool {
        for _ in 0..200 {
            if TcpStream::connect((LOCALHOST, self.port)).is_ok() {
                return true;
            }
            if self.child.try_wait().expect("process status").is_some() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not listen within 10 s");
    }

    fn notifier(&self, security: &str) -> Arc<dyn Notifier> {
        build(json!({
            "name": "oncall", "type": "email",
            "smtp": {"host": LOCALHOST, "port": self.port, "security": security},
            "from": "hopwatch <alerts@example.com>",
            "to": ["oncall@example.com", "backup@example.com"],
        }))
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }
}

/// Every message of a maildir, parsed by Python's own email package.
pub(crate) fn read_maildir(maildir: &Path) -> Value {
    const PARSE: &str = r#"
import email, email.policy, json, pathlib, sys
out = []
for path in sorted(pathlib.Path(sys.argv[1]).glob("new/*")):
    m = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    parts = [{"type": p.get_content_type(), "text": p.get_content()}
             for p in m.walk() if not p.is_multipart()]
    out.append({"subject": m["subject"], "delivery": m["x-hopwatch-delivery"],
                "message_id": m["message-id"], "type": m.get_content_type(),
                "rcpt": m["x-rcptto"], "parts": parts})
print(json.dumps(out))
"#;
    let output = Command::new(PYTHON)
        .args(["-c", PARSE])
        .arg(maildir)
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("JSON from the parser")
}

#[tokio::test]
async fn email_arrives_with_subject_both_parts_and_delivery_id() {
    let server = SmtpServer::start(&[], false).await;
    let events = [firing()];
    server
        .notifier("none")
        .send("delivery-9", &events)
        .await
        .expect("delivered");
    let mail = read_maildir(&server.maildir());
    assert_eq!(mail.as_array().map(Vec::len), Some(1), "{mail:#}");
    let mail = &mail[0];
    assert_eq!(
        mail["subject"],
        "[FIRING] shop-5xx: shop-edge http_502 (origin)"
    );
    assert_eq!(mail["delivery"], "delivery-9");
    assert_eq!(mail["message_id"], "<hopwatch.delivery-9@example.com>");
    assert_eq!(mail["type"], "multipart/alternative");
    assert_eq!(mail["rcpt"], "oncall@example.com, backup@example.com");
    let parts = mail["parts"].as_array().expect("parts");
    let types: Vec<&str> = parts.iter().filter_map(|p| p["type"].as_str()).collect();
    assert_eq!(types, ["text/plain", "text/html"]);
    let text = parts[0]["text"].as_str().expect("text");
    let html = parts[1]["text"].as_str().expect("html");
    // The parser may normalise line ends; the facts must survive intact.
    assert_eq!(text.replace("\r\n", "\n"), format::email_text(&events));
    let summary = "origin shop-origin refuses connections; the gateway answers 502";
    assert!(html.contains(summary), "{html}");
    assert!(
        html.contains("&lt;html&gt;502 Bad Gateway&lt;/html&gt;"),
        "{html}"
    );
}

#[tokio::test]
async fn a_full_mailbox_refusal_is_permanent() {
    // A 1 KiB size limit: the message is bigger, the server answers 552.
    let server = SmtpServer::start(&["-s", "1024"], false).await;
    let events = [firing()];
    let err = server
        .notifier("none")
        .send("d-5", &events)
        .await
        .expect_err("too large");
    assert!(!err.retryable, "{err}");
    assert!(err.message.starts_with("SMTP 552"), "{err}");
}

#[tokio::test]
async fn a_transient_refusal_is_retried() {
    let server = SmtpServer::start(&[], true).await;
    let events = [firing()];
    let err = server
        .notifier("none")
        .send("d-6", &events)
        .await
        .expect_err("greylisted");
    assert!(err.retryable, "{err}");
    assert!(err.message.starts_with("SMTP 451"), "{err}");
}

#[tokio::test]
async fn required_starttls_on_a_plain_server_is_permanent() {
    // Sending in clear text instead would defeat `security: starttls`.
    let server = SmtpServer::start(&[], false).await;
    let events = [firing()];
    let err = server
        .notifier("starttls")
        .send("d-7", &events)
        .await
        .expect_err("no STARTTLS offered");
    assert!(!err.retryable, "{err}");
    assert!(err.message.contains("STARTTLS"), "{err}");
    assert_eq!(read_maildir(&server.maildir()), json!([]));
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_retried() {
    let port = free_port();
    let notifier = build(json!({
        "name": "oncall", "type": "email",
        "smtp": {"host": LOCALHOST, "port": port, "security": "none"},
        "from": "alerts@example.com", "to": ["oncall@example.com"],
    }));
    let events = [firing()];
    let err = notifier
        .send("d-8", &events)
        .await
        .expect_err("nothing listens");
    assert!(err.retryable, "{err}");
}
