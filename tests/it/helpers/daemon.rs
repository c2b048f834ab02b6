//! `spawn_app()`: the real daemon in this process, on port 0 with its own
//! temp folder and database, stopped cleanly by the test.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hopwatch::app::Application;
use hopwatch::config;
use hopwatch::web::AppState;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::client::http_get;
use super::wait_until_async;

/// The `server:` entry every in-process daemon starts with.
const LISTEN_ANY: &str = "listen: 127.0.0.1:0";
/// A bound on [`TestApp::wait_stored`]: a dozen checks at 1 s, with room.
const STORED_WITHIN: Duration = Duration::from_secs(20);

/// A daemon running in this process on port 0 with its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub config_path: PathBuf,
    pub db_path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    _dir: TempDir,
}

/// A whole config: `server` is the flow entries of `server:` (`listen`
/// among them), `rest` everything after `storage:` (`monitors:`, `alerts:`…).
pub fn config_yaml(server: &str, db: &Path, rest: &str) -> String {
    format!(
        "server: {{ {server} }}\nstorage: {{ path: {} }}\n{rest}",
        db.display()
    )
}

/// The config text for `monitors` (a YAML list body), storing in `db`.
pub fn config_text(monitors: &str, db: &Path) -> String {
    config_yaml(LISTEN_ANY, db, &format!("monitors:\n{monitors}"))
}

/// Starts a daemon with these monitors (YAML list items, indented by two).
pub async fn spawn_app(monitors: &str) -> TestApp {
    spawn_app_with("", monitors).await
}

/// [`spawn_app`] with more `server:` keys, as YAML flow entries
/// (`public_evidence: true`).
pub async fn spawn_app_with(server: &str, monitors: &str) -> TestApp {
    spawn_app_config(server, &format!("monitors:\n{monitors}")).await
}

/// [`spawn_app_with`] given everything after `storage:`, for configs with
/// `alerts:`, `notifiers:` or `maintenance:` besides `monitors:`.
pub async fn spawn_app_config(server: &str, rest: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("data").join("hopwatch.db");
    let server = match server {
        "" => LISTEN_ANY.to_owned(),
        more => format!("{LISTEN_ANY}, {more}"),
    };
    let config_path = write_config(&dir, &config_yaml(&server, &db, rest));
    start(dir, config_path, db, None).await
}

/// [`spawn_app_config`] with `storage:` given as flow entries (`url:
/// postgres://…`) instead of a SQLite file in the test's folder.
pub async fn spawn_app_stored(storage: &str, rest: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!("server: {{ {LISTEN_ANY} }}\nstorage: {{ {storage} }}\n{rest}");
    let config_path = write_config(&dir, &text);
    let no_file = dir.path().join("no-sqlite-file");
    start(dir, config_path, no_file, None).await
}

/// [`spawn_app`] storing in `db_path`, which may outlive the daemon (a
/// restart) or sit on a disk of the test's own.
pub async fn spawn_app_in(dir: TempDir, db_path: PathBuf, monitors: &str) -> TestApp {
    let config_path = write_config(&dir, &config_text(monitors, &db_path));
    start(dir, config_path, db_path, None).await
}

/// [`spawn_app`] serving `routes` beside hopwatch's own, as the demo does.
pub async fn spawn_app_with_routes(monitors: &str, routes: axum::Router) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("data").join("hopwatch.db");
    let config_path = write_config(&dir, &config_text(monitors, &db));
    start(dir, config_path, db, Some(routes)).await
}

fn write_config(dir: &TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("hopwatch.yaml");
    std::fs::write(&path, text).expect("write config");
    path
}

async fn start(
    dir: TempDir,
    config_path: PathBuf,
    db_path: PathBuf,
    routes: Option<axum::Router>,
) -> TestApp {
    let loaded = config::load(&config_path).unwrap_or_else(|e| panic!("test config invalid: {e}"));
    let mut app = Application::build(loaded).await.expect("daemon starts");
    if let Some(routes) = routes {
        app.add_routes(routes);
    }
    let addr = app.local_addr();
    let state = app.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        app.run_until(async {
            let _ = stopped.await;
        })
        .await
        .expect("daemon runs and stops cleanly");
    });
    TestApp {
        addr,
        state,
        config_path,
        db_path,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

impl TestApp {
    /// Stored checks of a monitor.
    pub async fn stored(&self, monitor: &str) -> i64 {
        let Some(id) = self.state.monitor_id(monitor) else {
            return 0;
        };
        self.state
            .store
            .count_checks(Some(id))
            .await
            .expect("count checks")
    }

    /// Waits (bounded, 20 s) until `monitor` has `at_least` stored checks.
    pub async fn wait_stored(&self, monitor: &str, at_least: i64) {
        let what = format!("{monitor} reaches {at_least} stored checks");
        wait_until_async(&what, STORED_WITHIN, async || {
            self.stored(monitor).await >= at_least
        })
        .await;
    }

    /// Asks for a clean stop and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("daemon task");
    }

    /// GET a path; (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, path).await
    }
}
