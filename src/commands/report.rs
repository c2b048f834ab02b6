//! `hopwatch report --month YYYY-MM [-c FILE]`: the month's SLA table of
//! every monitor of the config, read from the store the config names.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::clock::{parse_month, short_duration};
use crate::config;
use crate::store::uptime::MonthLine;
use crate::store::{Location, Store};

/// Which month, from which config.
#[derive(Debug, Clone, clap::Args)]
pub struct Request {
    /// The month, `YYYY-MM` (UTC).
    #[arg(long, value_name = "YYYY-MM")]
    pub month: String,
    /// Config file (default: $HOPWATCH_CONFIG, ./hopwatch.yaml, config/hopwatch.yaml).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
}

/// Exit 0 with the table; 1 with the reason for a bad month, a bad config
/// or a store that cannot be read.
pub async fn run(request: Request) -> ExitCode {
    let Some((year, month)) = parse_month(&request.month) else {
        return fail(&format!(
            "--month: expected a month such as 2026-11, got {:?}",
            request.month
        ));
    };
    let path = config::find_config_file(request.config.as_deref());
    let loaded = match config::load(&path) {
        Ok(loaded) => loaded,
        Err(errors) => return fail(&errors.errors.join("\n")),
    };
    let location = match loaded.config.storage.location() {
        Ok(location) => location,
        Err(err) => return fail(&format!("storage.url: {err}")),
    };
    // A report reads; it must not leave an empty database where none was.
    if let Location::Sqlite(file) = &location
        && !file.is_file()
    {
        return fail(&format!(
            "cannot read the store: no database at {}",
            file.display()
        ));
    }
    let store = match Store::open_at(&location).await {
        Ok(store) => store,
        Err(err) => return fail(&format!("cannot read the store: {err}")),
    };
    let monitors: Vec<&config::MonitorConfig> = loaded.config.monitors.iter().collect();
    let lines = match store.month_report(&monitors, (year, month)).await {
        Ok(lines) => lines,
        Err(err) => {
            store.close().await;
            return fail(&format!("cannot read the store: {err}"));
        }
    };
    store.close().await;
    print!("{}", table(&request.month, &lines));
    ExitCode::SUCCESS
}

/// The table: a title, a header and one aligned line per monitor.
fn table(month: &str, lines: &[MonthLine]) -> String {
    let width = lines
        .iter()
        .map(|line| line.monitor.len())
        .chain(["monitor".len()])
        .max()
        .unwrap_or(0);
    let mut out = format!("SLA report {month} (UTC; degraded counts as up)\n");
    out.push_str(&format!(
        "{:<width$}  {:>9}  {:>11}  {:>11}  {:>9}  {:>10}\n",
        "monitor", "uptime %", "downtime", "degraded", "incidents", "p95"
    ));
    for line in lines {
        let row = &line.row;
        out.push_str(&format!(
            "{:<width$}  {:>9}  {:>11}  {:>11}  {:>9}  {:>10}\n",
            line.monitor,
            row.uptime
                .map_or_else(|| "-".to_owned(), |u| format!("{:.3}", u * 100.0)),
            short_duration(row.downtime_s),
            short_duration(row.degraded_s),
            line.incidents,
            row.p95_ms
                .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1} ms")),
        ));
    }
    out
}

fn fail(message: &str) -> ExitCode {
    eprintln!("hopwatch report: {message}");
    ExitCode::from(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::uptime::UptimeRow;

    #[test]
    fn durations_keep_two_units() {
        assert_eq!(short_duration(0), "0s");
        assert_eq!(short_duration(750), "12m 30s");
        assert_eq!(short_duration(3 * 3600 + 300), "3h 05m");
        assert_eq!(short_duration(2 * 86_400 + 4 * 3600 + 59), "2d 04h");
    }

    #[test]
    fn a_monitor_is_one_aligned_line() {
        let row = UptimeRow {
            from: "2026-11-01".to_owned(),
            to: "2026-11-30".to_owned(),
            uptime: Some(0.99955),
            checks: 43_200,
            failed: 19,
            unknown: 0,
            downtime_s: 1_140,
            degraded_s: 600,
            p95_ms: Some(123.44),
        };
        let lines = [MonthLine {
            monitor: "web".to_owned(),
            row,
            incidents: 2,
        }];
        let text = table("2026-11", &lines);
        let mut rows = text.lines().skip(1);
        assert_eq!(
            rows.next(),
            Some("monitor   uptime %     downtime     degraded  incidents         p95")
        );
        assert_eq!(
            rows.next(),
            Some("web         99.955      19m 00s      10m 00s          2    123.4 ms")
        );
    }
}
