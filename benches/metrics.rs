//! How long `/metrics` takes to render with 10,000 monitors, each with the
//! series real checks leave behind. `cargo bench --bench metrics`.

use std::time::{Duration, Instant, SystemTime};

use hopwatch::metrics::Metrics;
use hopwatch::monitor::result::CertFacts;
use hopwatch::monitor::{Cause, CheckResult, MonitorState, Phases};

const MONITORS: usize = 10_000;
const ROUNDS: usize = 10;

/// A result like an https check's: status, phases, a certificate.
fn result(cause: Cause, status: u16, latency_ms: f64) -> CheckResult {
    let mut result = CheckResult::new(SystemTime::now(), cause);
    result.status = Some(status);
    result.latency_ms = latency_ms;
    result.phases_ms = Phases {
        dns: 1.0,
        connect: 2.0,
        tls: 5.0,
        ttfb: latency_ms - 9.0,
        transfer: 1.0,
    };
    result.tls = Some(CertFacts {
        not_after: 1_900_000_000,
        days_left: 60.0,
        issuer: "CN=bench CA".to_owned(),
        subject: "CN=bench".to_owned(),
        sans: vec!["bench.example".to_owned()],
    });
    result
}

fn main() {
    let metrics = Metrics::new();
    let samples = [
        (result(Cause::Ok, 200, 12.0), MonitorState::Up),
        (result(Cause::Ok, 200, 30.0), MonitorState::Up),
        (result(Cause::Http502, 502, 250.0), MonitorState::Down),
    ];
    for i in 0..MONITORS {
        let name = format!("monitor-{i:05}");
        let group = format!("group-{}", i % 50);
        for (sample, state) in &samples {
            metrics
                .per_monitor
                .observe(&name, &group, "http", sample, *state);
            metrics.scheduler_lateness.observe(0.001);
        }
    }
    let first = metrics.render();
    let series = first.lines().filter(|l| !l.starts_with('#')).count();
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            let body = metrics.render();
            let took = start.elapsed();
            assert_eq!(body.len(), first.len(), "the same metrics render the same");
            took
        })
        .collect();
    times.sort();
    println!(
        "{MONITORS} monitors, {series} series, {} KiB: render median {:?}, min {:?}, max {:?}",
        first.len() / 1024,
        times[ROUNDS / 2],
        times[0],
        times[ROUNDS - 1]
    );
}
