//! CPU cost of one HTTP check on loopback: the probe runs on this thread's
//! single-threaded runtime, the target on another thread, and only this
//! thread's CPU time (from /proc/thread-self/stat) is counted.
//! `cargo bench --bench check`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Instant;

use hopwatch::config::MonitorConfig;
use hopwatch::config::compile;
use hopwatch::monitor::trust::TrustStore;
use hopwatch::probe::Prober;

const CHECKS: u32 = 20_000;

/// (user, system) CPU milliseconds of this thread.
fn thread_cpu_ms() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("read thread stat");
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<f64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    // utime and stime, in USER_HZ (100 per second on Linux).
    (fields[11] * 10.0, fields[12] * 10.0)
}

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}");
        }
    });
    let mut monitor = MonitorConfig::named("bench");
    monitor.url = Some(format!("http://{addr}/health"));
    let spec = compile::probe(&monitor, &TrustStore::default()).expect("spec");
    let prober = Prober::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for _ in 0..500 {
            let _ = prober.check(&spec).await;
        }
        let cpu0 = thread_cpu_ms();
        let wall = Instant::now();
        let mut failures = 0;
        for _ in 0..CHECKS {
            if !prober.check(&spec).await.ok {
                failures += 1;
            }
        }
        let cpu1 = thread_cpu_ms();
        let (user, system) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
        let per = |ms: f64| ms * 1000.0 / f64::from(CHECKS);
        println!(
            "{CHECKS} http checks on loopback: {:.1} µs CPU per check ({:.1} user + {:.1} kernel; probe thread only), {:.0} checks/s on one thread, {failures} failed",
            per(user + system),
            per(user),
            per(system),
            f64::from(CHECKS) / wall.elapsed().as_secs_f64()
        );
    });
}
