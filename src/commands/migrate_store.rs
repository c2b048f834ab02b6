//! `hopwatch migrate-store --from FILE --to URL`: copies a SQLite store into
//! an empty PostgreSQL (or SQLite) database, one line per table.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::config::location::server_of;
use crate::store::Location;
use crate::store::copy::{self, Copied};

/// What to copy, and where to.
#[derive(Debug, Clone, clap::Args)]
pub struct Request {
    /// The SQLite database to copy from (`storage.path`); it must exist.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// The empty database to copy into: postgres://USER@HOST/DB (the
    /// password may come from $PGPASSWORD), or sqlite://FILE.
    #[arg(long, value_name = "URL")]
    pub to: String,
}

/// Exit 0 when every table was copied; 1 with the reason otherwise (the
/// target's password is never printed).
pub async fn run(request: Request) -> ExitCode {
    let target = match Location::parse(&request.to) {
        Ok(target) => target,
        Err(err) => return fail(&format!("--to: {err}")),
    };
    let started = Instant::now();
    let copied = copy::migrate(&request.from, &target, |table| println!("{}", line(table))).await;
    match copied {
        Ok(copied) => {
            let rows: u64 = copied.iter().map(|table| table.rows).sum();
            println!(
                "copied {rows} rows from {} to {} in {}",
                request.from.display(),
                shown(&target),
                seconds(started.elapsed())
            );
            ExitCode::SUCCESS
        }
        Err(err) if err.left_partial_copy() => fail(&format!(
            "{err}\nthe target holds part of the copy: drop it, create it empty and run migrate-store again"
        )),
        Err(err) => fail(&err.to_string()),
    }
}

/// `checks           100000 rows   2.31 s`
fn line(table: &Copied) -> String {
    format!(
        "{:<16}{:>10} rows  {:>8}",
        table.table,
        table.rows,
        seconds(table.elapsed)
    )
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.2} s", elapsed.as_secs_f64())
}

/// The target for people: a file's path, a server's host and port.
fn shown(target: &Location) -> String {
    match target {
        Location::Sqlite(path) => path.display().to_string(),
        Location::Postgres(url) => server_of(url),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("hopwatch migrate-store: {message}");
    ExitCode::from(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_one_aligned_line() {
        let table = Copied {
            table: "checks",
            rows: 100_000,
            elapsed: Duration::from_millis(2_314),
        };
        assert_eq!(line(&table), "checks              100000 rows    2.31 s");
    }
}
