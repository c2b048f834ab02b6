//! A real SMTP server, aiosmtpd, on loopback: messages land in a maildir
//! that Python's own email package reads back.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{LOCALHOST, free_port};

/// An aiosmtpd process on loopback, killed on drop.
pub struct SmtpServer {
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

/// A maildir that holds each message at DATA until `HOPWATCH_GATE`
/// messages are in flight at once, a `release` file appears beside the
/// maildir, or `HOPWATCH_GATE_HOLD` seconds passed; writes the most it saw in flight into `peak`
/// there, and the recipient and subject of each, in the order their DATA
/// began, into `arrivals`.
const GATE_HANDLER: &str = r#"
import asyncio, os, pathlib
from aiosmtpd.handlers import Mailbox

class Gate(Mailbox):
    in_flight = 0
    peak = 0

    async def handle_DATA(self, server, session, envelope):
        beside = pathlib.Path(self.mail_dir).parent
        message = self.prepare_message(session, envelope)
        with open(beside / "arrivals", "a") as arrivals:
            arrivals.write(f"{envelope.rcpt_tos[0]} {message['subject']}\n")
        Gate.in_flight += 1
        Gate.peak = max(Gate.peak, Gate.in_flight)
        (beside / "peak").write_text(str(Gate.peak))
        for _ in range(int(os.environ["HOPWATCH_GATE_HOLD"]) * 10):
            if Gate.peak >= int(os.environ["HOPWATCH_GATE"]) or (beside / "release").exists():
                break
            await asyncio.sleep(0.1)
        Gate.in_flight -= 1
        return await super().handle_DATA(server, session, envelope)
"#;

/// What the server does with a message.
#[derive(Debug, Clone, Copy)]
enum Handler {
    /// Keeps it in the maildir.
    Mailbox,
    /// Refuses every recipient with 451.
    Defer,
    /// Keeps it, after holding it until this many are in flight (or
    /// released, or held this long).
    Gate(usize, Duration),
}

impl SmtpServer {
    /// Starts aiosmtpd with its Mailbox handler (a maildir in a temp dir);
    /// `defer` uses a handler that refuses every recipient with 451 instead.
    pub async fn start(extra: &[&str], defer: bool) -> SmtpServer {
        Self::start_on(None, extra, defer).await
    }

    /// [`SmtpServer::start`] on `port` when given (a server back where a
    /// daemon expects it), else on a free one.
    pub async fn start_on(port: Option<u16>, extra: &[&str], defer: bool) -> SmtpServer {
        let handler = if defer {
            Handler::Defer
        } else {
            Handler::Mailbox
        };
        Self::start_with(port, extra, handler).await
    }

    /// A maildir server that holds each message until `at_once` are in
    /// flight together, or [`SmtpServer::release`], `hold` at most (a
    /// bound for a sender that never gets there):
    /// [`SmtpServer::peak`] then tells how many a sender had in flight,
    /// [`SmtpServer::arrivals`] in what order.
    pub async fn start_gated(at_once: usize, hold: Duration) -> SmtpServer {
        Self::start_with(None, &[], Handler::Gate(at_once, hold)).await
    }

    /// Lets every message the gate holds, and any later one, through.
    pub fn release(&self) {
        std::fs::write(self.dir.path().join("release"), "").expect("release the gate");
    }

    /// The most messages the gate saw in flight at once.
    pub fn peak(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("peak"))
            .ok()
            .and_then(|peak| peak.trim().parse().ok())
            .unwrap_or(0)
    }

    /// "recipient subject" of each message the gate took, in order.
    pub fn arrivals(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("arrivals"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    async fn start_with(port: Option<u16>, extra: &[&str], handler: Handler) -> SmtpServer {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join("defer_handler.py"), DEFER_HANDLER).expect("handler");
        std::fs::write(dir.path().join("gate_handler.py"), GATE_HANDLER).expect("handler");
        let maildir = dir.path().join("mail");
        let mut dir = dir;
        for _ in 0..5 {
            let port = port.unwrap_or_else(free_port);
            let mut command = Command::new(PYTHON);
            command
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("{LOCALHOST}:{port}")])
                .args(extra)
                .env("PYTHONPATH", dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            match handler {
                Handler::Defer => {
                    command.args(["-c", "defer_handler.Defer"]);
                }
                Handler::Mailbox => {
                    command
                        .args(["-c", "aiosmtpd.handlers.Mailbox"])
                        .arg(&maildir);
                }
                Handler::Gate(at_once, hold) => {
                    command
                        .args(["-c", "gate_handler.Gate"])
                        .arg(&maildir)
                        .env("HOPWATCH_GATE", at_once.to_string())
                        .env("HOPWATCH_GATE_HOLD", hold.as_secs().max(1).to_string());
                }
            }
            let child = command.spawn().expect("python3 with aiosmtpd");
            let mut server = SmtpServer { child, port, dir };
            if server.wait_listening().await {
                return server;
            }
            // Lost the port to another test: try another (or, for a
            // given port, the same one a moment later).
            dir = std::mem::replace(&mut server.dir, tempfile::tempdir().expect("a temp dir"));
            tokio::time::sleep(Duration::from_millis(200)).await;
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

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }
}

/// Every message of a maildir, parsed by Python's own email package.
pub fn read_maildir(maildir: &Path) -> Value {
    const PARSE: &str = r#"
import email, email.policy, json, pathlib, sys
out = []
for path in sorted(pathlib.Path(sys.argv[1]).glob("new/*")):
    m = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    parts = [{"type": p.get_content_type(), "text": p.get_content()}
             for p in m.walk() if not p.is_multipart()]
    out.append({"subject": m["subject"], "delivery": m["x-hopwatch-delivery"],
                "message_id": m["message-id"], "type": m.get_content_type(),
                "rcpt": m["x-rcptto"], "to": m["to"],
                "list_unsubscribe": m["list-unsubscribe"],
                "list_unsubscribe_post": m["list-unsubscribe-post"], "parts": parts})
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

/// An in-process SMTP peer that misbehaves on purpose: it sends `greeting`
/// on connect, then answers every line it receives with `answer` (nothing
/// when empty), and holds the connection open until dropped.
pub struct ScriptedSmtp {
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScriptedSmtp {
    /// `127.0.0.1:PORT`, a monitor's target.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }
}

/// Starts a [`ScriptedSmtp`].
pub async fn spawn_scripted_smtp(greeting: &[u8], answer: &[u8]) -> ScriptedSmtp {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind((LOCALHOST, 0))
        .await
        .expect("bind a scripted SMTP peer");
    let addr = listener.local_addr().expect("its address");
    let (greeting, answer) = (greeting.to_vec(), answer.to_vec());
    let task = super::wire::accept_loop(listener, move |stream| {
        let (greeting, answer) = (greeting.clone(), answer.clone());
        async move {
            let (read, mut write) = stream.into_split();
            if write.write_all(&greeting).await.is_err() {
                return;
            }
            let mut lines = BufReader::new(read).lines();
            // Bounded by the client: it closes, or the test drops the peer.
            while let Ok(Some(_)) = lines.next_line().await {
                if !answer.is_empty() && write.write_all(&answer).await.is_err() {
                    return;
                }
            }
        }
    });
    ScriptedSmtp { addr, task }
}
