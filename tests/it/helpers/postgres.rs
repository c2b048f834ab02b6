//! A real PostgreSQL for the tests: each call gets a fresh, empty database on
//! one server that every test process of a run shares.
//!
//! The server is `HOPWATCH_TEST_DATABASE_URL` when that is set. Otherwise the
//! first process to ask starts a throwaway one (trust auth, nothing synced to
//! disk) in a folder of the temp dir, under a file lock, and records its port
//! there; the processes after it reuse it while it answers and start it again
//! when it does not. The folder is `HOPWATCH_TEST_POSTGRES_DIR` when set (so
//! scripts/test gives each run its own and stops it at the end), else one
//! keyed by the uid and the target dir, whose server a developer's next
//! `cargo nextest run` reuses.

use std::fs::{self, File, TryLockError};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;

use super::{LOCALHOST, POLL, free_port};

/// An existing server to create the databases on, instead of a throwaway one.
const URL_VAR: &str = "HOPWATCH_TEST_DATABASE_URL";
/// The throwaway server's folder, instead of the one keyed by uid and target.
const DIR_VAR: &str = "HOPWATCH_TEST_POSTGRES_DIR";
/// The throwaway server's superuser (trust auth: no password).
const USER: &str = "hopwatch";
const MISSING: &str = "no initdb and pg_ctl (not in `pg_config --bindir`, nor on PATH): \
                       install postgresql (scripts/test does) or set HOPWATCH_TEST_DATABASE_URL";

// Every wait is bounded, so a stuck server fails the test instead of hanging it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CREATE_TIMEOUT: Duration = Duration::from_secs(60);
const INITDB_TIMEOUT: Duration = Duration::from_secs(60);
/// `pg_ctl -t`; the process itself gets 5s more.
const PG_CTL_SECONDS: u64 = 20;
/// Longer than one process's worst case under the lock (an initdb, a stop
/// and three starts), so a waiter never gives up on a holder that is working.
const LOCK_TIMEOUT: Duration = Duration::from_secs(180);

/// A database of its own for one test, dropped (best effort) with this value.
pub struct TestDatabase {
    /// `postgres://user@host:port/name`: for sqlx or a daemon's config.
    pub url: String,
    /// Unique per call.
    pub name: String,
    /// The server's maintenance database, where the drop is issued.
    server: String,
}

impl TestDatabase {
    /// A pool on this database.
    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect(&self.url)
            .await
            .unwrap_or_else(|err| panic!("connect to {}: {err}", shown(&self.url)))
    }
}

impl Drop for TestDatabase {
    /// Drops the database from a thread of its own, as `Drop` cannot await and
    /// the test's runtime may have one thread; bounded, and errors ignored.
    /// A failed test keeps its database, to be looked at.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept the failed test's database: {}", shown(&self.url));
            return;
        }
        let server = self.server.clone();
        let sql = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name);
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let drop = async {
                    let mut admin = PgConnection::connect(&server).await.ok()?;
                    sqlx::query(AssertSqlSafe(sql))
                        .execute(&mut admin)
                        .await
                        .ok()?;
                    admin.close().await.ok()
                };
                tokio::time::timeout(CONNECT_TIMEOUT, drop).await.ok()?
            })
        });
        let _ = dropper.join();
    }
}

/// A fresh, empty database (`CREATE DATABASE` with a unique name) on the
/// shared server; panics with what to do when there is no PostgreSQL.
pub async fn test_database() -> TestDatabase {
    let server = match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => shared_server().await,
    };
    let name = unique_name();
    let create = async {
        let mut admin = PgConnection::connect(&server).await?;
        sqlx::query(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut admin)
            .await?;
        admin.close().await
    };
    match tokio::time::timeout(CREATE_TIMEOUT, create).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => panic!("CREATE DATABASE {name} on {}: {err}", shown(&server)),
        Err(_) => panic!("CREATE DATABASE {name} on {}: timed out", shown(&server)),
    }
    TestDatabase {
        url: with_database(&server, &name),
        name,
        server,
    }
}

/// The URL of the throwaway server's maintenance database, started or found
/// once per process.
async fn shared_server() -> String {
    static SERVER: OnceCell<String> = OnceCell::const_new();
    let url = SERVER.get_or_init(|| async {
        let found = tokio::task::spawn_blocking(|| Server::find().start_or_reuse()).await;
        let port = match found {
            Ok(port) => port,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(err) => panic!("starting PostgreSQL: {err}"),
        };
        format!("postgres://{USER}@{LOCALHOST}:{port}/postgres")
    });
    url.await.clone()
}

/// Unique on this machine and across runs: a kept database never collides.
fn unique_name() -> String {
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    let count = COUNT.fetch_add(1, Ordering::Relaxed);
    format!("hopwatch_test_{}_{count}_{millis}", std::process::id())
}

/// `server` with its database (the path) replaced by `name`.
fn with_database(server: &str, name: &str) -> String {
    let mut url = url::Url::parse(server)
        .unwrap_or_else(|err| panic!("{URL_VAR} is not a URL ({err}): {}", shown(server)));
    url.set_path(&format!("/{name}"));
    url.into()
}

/// `url` without its password, for messages.
fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.into()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// The throwaway server's folder and how to run its programs.
struct Server {
    /// The lock, the port, the logs, the Unix socket, and `data/`.
    dir: PathBuf,
    /// Where `initdb` and `pg_ctl` are.
    bindir: PathBuf,
    /// Who runs them: PostgreSQL refuses to run as root, so root hands them
    /// to `nobody`; anyone else runs them as themselves.
    run_as: Option<(u32, u32)>,
}

impl Server {
    fn find() -> Server {
        let dir = match std::env::var_os(DIR_VAR) {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => std::env::temp_dir().join(format!(
                "hopwatch-postgres-{}-{:016x}",
                rustix::process::getuid().as_raw(),
                fnv1a(env!("CARGO_TARGET_TMPDIR").as_bytes()),
            )),
        };
        Server {
            dir,
            bindir: bindir(),
            run_as: unprivileged(),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The port of a server that answers, the one recorded if it does, else
    /// one started now; one process at a time.
    fn start_or_reuse(&self) -> u16 {
        fs::create_dir_all(&self.dir)
            .unwrap_or_else(|err| panic!("create {}: {err}", self.dir.display()));
        let _lock = lock(&self.dir.join("lock"));
        let recorded = fs::read_to_string(self.dir.join("port")).ok();
        if let Some(port) = recorded.and_then(|port| port.trim().parse().ok())
            && answers(port)
        {
            return port;
        }
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(&self.dir, Some(uid), Some(gid))
                .unwrap_or_else(|err| panic!("chown {}: {err}", self.dir.display()));
        }
        if !self.data().join("PG_VERSION").exists() {
            self.initdb();
        }
        self.clear_dead_server();
        let port = self.start();
        fs::write(self.dir.join("port"), port.to_string()).expect("record the port");
        port
    }

    fn initdb(&self) {
        // What an initdb cut short left would make this one fail.
        let _ = fs::remove_dir_all(self.data());
        let mut initdb = self.command("initdb");
        initdb
            .arg("-D")
            .arg(self.data())
            .args(["-U", USER, "-A", "trust", "--no-sync"])
            .args(["-E", "UTF8", "--locale=C"]);
        if let Err(output) = self.run(initdb, "initdb", INITDB_TIMEOUT) {
            panic!("initdb {} failed:\n{output}", self.data().display());
        }
    }

    /// A server that did not answer may still hold the data dir: stop it.
    /// A pid file whose process is gone, or is not PostgreSQL, is removed
    /// (Linux's /proc tells), lest a reused pid make PostgreSQL refuse.
    fn clear_dead_server(&self) {
        let pid_file = self.data().join("postmaster.pid");
        let Ok(text) = fs::read_to_string(&pid_file) else {
            return;
        };
        let pid = text.lines().next().unwrap_or_default().trim();
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            let mut stop = self.command("pg_ctl");
            stop.arg("-D").arg(self.data());
            stop.args(["stop", "-m", "immediate", "-t", &PG_CTL_SECONDS.to_string()]);
            let _ = self.run(stop, "pg_ctl", pg_ctl_timeout());
        } else {
            let _ = fs::remove_file(&pid_file);
        }
    }

    /// Starts the server on a free port, trying another when a parallel test
    /// took it first.
    fn start(&self) -> u16 {
        let log = self.dir.join("log");
        let mut output = String::new();
        for _ in 0..3 {
            let port = free_port();
            // No fsync (-F) and the rest: the data is thrown away; many tests
            // hold pools at once.
            let options = format!(
                "-k '{}' -h {LOCALHOST} -p {port} -F -c full_page_writes=off \
                 -c synchronous_commit=off -c max_connections=300",
                self.dir.display()
            );
            let mut start = self.command("pg_ctl");
            start.arg("-D").arg(self.data()).args(["-o", &options]);
            start.arg("-l").arg(&log);
            start.args(["start", "-w", "-t", &PG_CTL_SECONDS.to_string()]);
            match self.run(start, "pg_ctl", pg_ctl_timeout()) {
                Ok(()) => return port,
                Err(failed) => output = failed,
            }
            if !output.contains("could not bind") {
                break;
            }
        }
        panic!(
            "PostgreSQL did not start in {}:\n{output}",
            self.dir.display()
        );
    }

    /// `program` from the bindir, as the server's user, in the folder, in a
    /// process group of its own: nextest kills a test's group when it times
    /// out, and the server started from there must outlive that test.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bindir.join(program));
        // std's uid() also drops the supplementary groups (as `setpriv
        // --clear-groups` would), with no tool to find or quote for.
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .process_group(0);
        command
    }

    /// Runs `command` to its end, within `within`. Its output goes to a file,
    /// not a pipe, which the server it starts would hold open; on failure,
    /// that output and the end of the server's log.
    fn run(&self, mut command: Command, program: &str, within: Duration) -> Result<(), String> {
        let out = self.dir.join(format!("{program}.out"));
        let file = File::create(&out).map_err(|err| format!("create {}: {err}", out.display()))?;
        let file2 = file.try_clone().map_err(|err| err.to_string())?;
        let mut child = command
            .stdout(file)
            .stderr(file2)
            .spawn()
            .map_err(|err| format!("cannot run {program}: {err}"))?;
        let deadline = Instant::now() + within;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        if status.is_some_and(|status| status.success()) {
            return Ok(());
        }
        let outcome = status.map_or(format!("timed out after {within:?}"), |s| s.to_string());
        let printed = fs::read_to_string(&out).unwrap_or_default();
        let log = fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!(
            "{program}: {outcome}\n{printed}--- end of the server log\n{}",
            tail.join("\n")
        ))
    }
}

fn pg_ctl_timeout() -> Duration {
    Duration::from_secs(PG_CTL_SECONDS + 5)
}

/// Where `initdb` and `pg_ctl` are: `pg_config --bindir` (Debian keeps them
/// off PATH), else the folder on PATH that has them.
fn bindir() -> PathBuf {
    let pg_config = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let path = std::env::var_os("PATH").unwrap_or_default();
    pg_config
        .into_iter()
        .chain(std::env::split_paths(&path))
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .unwrap_or_else(|| panic!("{MISSING}"))
}

/// `nobody`'s uid and gid when we are root, else `None`.
fn unprivileged() -> Option<(u32, u32)> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    // SAFETY: a NUL-terminated name; the entry is read at once, before
    // another getpw* call could reuse its static buffer.
    let entry = unsafe { libc::getpwnam(c"nobody".as_ptr()) };
    assert!(
        !entry.is_null(),
        "PostgreSQL refuses to run as root, and there is no user `nobody` to run it as"
    );
    // SAFETY: checked non-null above; getpwnam returns a valid passwd.
    Some(unsafe { ((*entry).pw_uid, (*entry).pw_gid) })
}

/// `path` locked exclusively (flock) until the returned file is dropped;
/// panics after [`LOCK_TIMEOUT`].
fn lock(path: &Path) -> File {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap_or_else(|err| panic!("open {}: {err}", path.display()));
    let deadline = Instant::now() + LOCK_TIMEOUT;
    loop {
        match file.try_lock() {
            Ok(()) => return file,
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => std::thread::sleep(POLL),
            Err(err) => panic!("lock {}: {err}", path.display()),
        }
    }
}

/// Whether PostgreSQL answers on `port`: it replies to an SSLRequest with
/// one byte, `S` or `N`, which no other server would.
fn answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    // The length (8), then the SSLRequest code 80877103.
    let ssl_request = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    let mut reply = [0u8];
    stream.write_all(&ssl_request).is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && matches!(reply[0], b'S' | b'N')
}

/// FNV-1a: stable across toolchains, unlike `DefaultHasher`, so the folder
/// stays the same from one build to the next.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Both stores, each fresh, for tests that run against both backends:
/// (name, store, what keeps it alive).
pub async fn both_stores() -> Vec<(&'static str, hopwatch::store::Store, KeepStore)> {
    use hopwatch::store::{Location, Store};
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Store::open(&dir.path().join("s.db")).await.expect("sqlite");
    let database = test_database().await;
    let postgres = Store::open_at(&Location::parse(&database.url).expect("url"))
        .await
        .expect("postgres");
    vec![
        ("sqlite", sqlite, KeepStore::Dir(dir)),
        ("postgres", postgres, KeepStore::Database(database)),
    ]
}

/// What keeps one of [`both_stores`] alive: its folder or its database.
pub enum KeepStore {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Database(#[allow(dead_code)] TestDatabase),
}
