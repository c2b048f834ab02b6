//! The `hopwatch` binary as a process, for what only a process shows:
//! signals, a kill mid-write, file modes, a restart on the same database.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use hopwatch::store::Store;

/// Starts `hopwatch run -c config`, logging warnings to the test's stderr.
pub fn start_binary(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["run", "-c"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start hopwatch")
}

/// Sends the signal `name` (`TERM`, `KILL`, `HUP`) to `child`.
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits (bounded, 30 s) for `child` to exit; kills it and panics after.
pub async fn wait_exit(child: &mut Child) -> ExitStatus {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    panic!("hopwatch did not exit");
}

/// The single number `sql` selects from the database at `db`, which a
/// running daemon may be writing.
/// A plain connection pool on the SQLite file `db`, to read it as it is.
pub async fn sqlite_pool(db: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
        .await
        .expect("connect to the SQLite file")
}

pub async fn count_rows(db: &Path, sql: &str) -> i64 {
    let store = Store::open(db).await.expect("open the daemon's database");
    let pool = sqlite_pool(db).await;
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&pool)
        .await
        .expect("query");
    pool.close().await;
    store.close().await;
    count
}
