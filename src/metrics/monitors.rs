//! The per-monitor series of contract section 6, kept as one compact record
//! per monitor and written straight to the text exposition format.
//!
//! Why not the prometheus crate's vectors: each labelled child there carries
//! its own label pairs, descriptor strings and (for histograms) shards, about
//! 4.6 KB per monitor measured with massif — 46 MB at 10,000 monitors, and
//! eight hashed label lookups per check. A record here is a few hundred
//! bytes and one map lookup per check; the output is the same format, and
//! `promtool check metrics` checks it in the test suite.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use crate::monitor::{Cause, CheckResult, MonitorState, Phases};

/// Upper bounds of `hopwatch_check_duration_seconds` buckets.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default, Clone)]
struct Series {
    group: String,
    kind: &'static str,
    /// Last check passed; `None` until a counted (not unknown) result.
    up: Option<bool>,
    state: usize,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
    phases: [f64; 5],
    /// Checks by cause code, in code order; causes never seen are absent
    /// here and from the output. A monitor sees few of the 28 causes, so
    /// these pairs take less than the array of every cause did.
    causes: Vec<(u8, u64)>,
    /// Responses by status code, few per monitor.
    codes: Vec<(u16, u64)>,
    cert_expiry: Option<f64>,
}

/// Every monitor's series.
#[derive(Debug, Default)]
pub struct MonitorMetrics {
    /// By monitor name; the name is shared with the copy a render takes.
    series: Mutex<HashMap<Arc<str>, Series>>,
}

/// A render is handed out in pieces of about this many bytes, so that the
/// text of 50,000 monitors (98 MB) is never held whole.
pub const RENDER_PIECE: usize = 256 * 1024;

/// Monitors whose records a render copies under the lock at a time.
const RENDER_BATCH: usize = 1_000;

impl MonitorMetrics {
    /// Records one result of `monitor`, whose state is now `state`.
    pub fn observe(
        &self,
        monitor: &str,
        group: &str,
        kind: &'static str,
        result: &CheckResult,
        state: MonitorState,
    ) {
        let Ok(mut all) = self.series.lock() else {
            return;
        };
        if !all.contains_key(monitor) {
            all.insert(Arc::from(monitor), Series::default());
        }
        let Some(series) = all.get_mut(monitor) else {
            return;
        };
        if series.group != group {
            series.group = group.to_owned();
        }
        series.kind = kind;
        if result.cause != Cause::Unknown {
            series.up = Some(result.ok);
        }
        series.state = MonitorState::ALL
            .iter()
            .position(|s| *s == state)
            .unwrap_or(MonitorState::ALL.len() - 1);
        let seconds = result.latency_ms / 1000.0;
        if let Some(bucket) = BUCKETS.iter().position(|b| seconds <= *b) {
            series.buckets[bucket] += 1;
        }
        series.count += 1;
        series.sum += seconds;
        series.phases = result.phases_ms.values().map(|ms| ms / 1000.0);
        let code = result.cause.code();
        match series.causes.binary_search_by_key(&code, |(c, _)| *c) {
            Ok(at) => series.causes[at].1 += 1,
            Err(at) => {
                // Most monitors only ever see one cause and one status:
                // room for one, not the four a first push makes.
                series.causes.reserve_exact(1);
                series.causes.insert(at, (code, 1));
            }
        }
        if let Some(status) = result.status {
            match series.codes.iter_mut().find(|(code, _)| *code == status) {
                Some((_, count)) => *count += 1,
                None => {
                    series.codes.reserve_exact(1);
                    series.codes.push((status, 1));
                }
            }
        }
        if let Some(cert) = &result.tls {
            series.cert_expiry = Some(cert.not_after as f64);
        }
    }

    /// Drops a removed monitor's series.
    pub fn forget(&self, monitor: &str) {
        if let Ok(mut all) = self.series.lock() {
            all.remove(monitor);
        }
    }

    /// Appends every family in the text exposition format.
    pub fn render(&self, out: &mut String) {
        self.render_pieces(out, &mut |_| true);
    }

    /// Writes every family in the text exposition format to `out`, handing
    /// it to `piece` whenever it holds [`RENDER_PIECE`] bytes (`piece`
    /// takes what it wants and clears `out`) and stopping early when
    /// `piece` says false. The last part is left in `out`.
    pub fn render_pieces(&self, out: &mut String, piece: &mut dyn FnMut(&mut String) -> bool) {
        // Copied out a batch at a time, then written without the lock:
        // every check takes it in `observe` on the checks' thread, and
        // copying a batch is far quicker than formatting it. A batch, not
        // all: 50,000 monitors' records are some 15 MB. Each family is a
        // pass over every monitor, so its values are taken as it is written
        // (as Prometheus' own clients gather collector by collector), a
        // histogram's buckets, sum and count from one copy.
        let mut names: Vec<Arc<str>> = match self.series.lock() {
            Ok(all) => all.keys().cloned().collect(),
            Err(_) => return,
        };
        names.sort_unstable();
        let mut going = true;
        let mut batch: Vec<Option<Series>> = Vec::with_capacity(RENDER_BATCH);
        let mut each = |out: &mut String, write: &dyn Fn(&mut String, &str, &Series)| {
            for names in names.chunks(RENDER_BATCH) {
                batch.clear();
                match self.series.lock() {
                    Ok(all) => batch.extend(names.iter().map(|name| all.get(name).cloned())),
                    Err(_) => return,
                }
                for (name, series) in names.iter().zip(&batch) {
                    if !going {
                        return;
                    }
                    // A monitor removed since the names were taken is left out.
                    let Some(series) = series else { continue };
                    write(out, name, series);
                    if out.len() >= RENDER_PIECE {
                        going = piece(out);
                    }
                }
            }
        };
        family(
            out,
            "hopwatch_monitor_up",
            "gauge",
            "1 when the monitor's last check passed, 0 when it failed",
        );
        each(out, &|out, name, s| {
            if let Some(up) = s.up {
                let _ = writeln!(
                    out,
                    "hopwatch_monitor_up{{group=\"{}\",monitor=\"{}\",type=\"{}\"}} {}",
                    escape(&s.group),
                    escape(name),
                    s.kind,
                    u8::from(up)
                );
            }
        });
        family(
            out,
            "hopwatch_monitor_state",
            "gauge",
            "1 for the monitor's current state",
        );
        each(out, &|out, name, s| {
            for (index, state) in MonitorState::ALL.iter().enumerate() {
                let value = u8::from(index == s.state);
                let _ = writeln!(
                    out,
                    "hopwatch_monitor_state{{monitor=\"{}\",state=\"{state}\"}} {value}",
                    escape(name)
                );
            }
        });
        family(
            out,
            "hopwatch_check_duration_seconds",
            "histogram",
            "Duration of whole checks",
        );
        each(out, &|out, name, s| {
            let name = escape(name);
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(s.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "hopwatch_check_duration_seconds_bucket{{monitor=\"{name}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "hopwatch_check_duration_seconds_bucket{{monitor=\"{name}\",le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "hopwatch_check_duration_seconds_sum{{monitor=\"{name}\"}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "hopwatch_check_duration_seconds_count{{monitor=\"{name}\"}} {}",
                s.count
            );
        });
        family(
            out,
            "hopwatch_check_phase_seconds",
            "gauge",
            "Time spent in each phase of the last check",
        );
        each(out, &|out, name, s| {
            for (phase, value) in Phases::NAMES.iter().zip(s.phases) {
                let _ = writeln!(
                    out,
                    "hopwatch_check_phase_seconds{{monitor=\"{}\",phase=\"{phase}\"}} {value}",
                    escape(name)
                );
            }
        });
        family(
            out,
            "hopwatch_checks_total",
            "counter",
            "Checks run, by cause",
        );
        each(out, &|out, name, s| {
            let causes =
                (s.causes.iter()).filter_map(|(code, n)| Some((Cause::from_code(*code)?, n)));
            for (cause, count) in causes {
                let _ = writeln!(
                    out,
                    "hopwatch_checks_total{{cause=\"{cause}\",monitor=\"{}\"}} {count}",
                    escape(name)
                );
            }
        });
        family(
            out,
            "hopwatch_http_responses_total",
            "counter",
            "HTTP responses received, by status code",
        );
        each(out, &|out, name, s| {
            for (code, count) in &s.codes {
                let _ = writeln!(
                    out,
                    "hopwatch_http_responses_total{{code=\"{code}\",monitor=\"{}\"}} {count}",
                    escape(name)
                );
            }
        });
        family(
            out,
            "hopwatch_tls_cert_expiry_timestamp_seconds",
            "gauge",
            "Expiry of the certificate seen by the last check, Unix seconds",
        );
        each(out, &|out, name, s| {
            if let Some(expiry) = s.cert_expiry {
                let _ = writeln!(
                    out,
                    "hopwatch_tls_cert_expiry_timestamp_seconds{{monitor=\"{}\"}} {expiry}",
                    escape(name)
                );
            }
        });
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Label value escaping of the text format: backslash, quote, newline.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains(['\\', '"', '\n']) {
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .into()
    } else {
        value.into()
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    #[test]
    fn renders_each_family_with_escaped_labels() {
        let metrics = MonitorMetrics::default();
        let mut result = CheckResult::new(SystemTime::now(), Cause::Http502);
        result.status = Some(502);
        result.latency_ms = 30.0;
        metrics.observe("edge", "Shop \"main\"", "http", &result, MonitorState::Down);
        let mut out = String::new();
        metrics.render(&mut out);
        assert!(
            out.contains(
                "hopwatch_monitor_up{group=\"Shop \\\"main\\\"\",monitor=\"edge\",type=\"http\"} 0"
            ),
            "{out}"
        );
        assert!(out.contains("hopwatch_monitor_state{monitor=\"edge\",state=\"down\"} 1"));
        assert!(out.contains("hopwatch_checks_total{cause=\"http_502\",monitor=\"edge\"} 1"));
        assert!(out.contains("hopwatch_http_responses_total{code=\"502\",monitor=\"edge\"} 1"));
        assert!(
            out.contains("hopwatch_check_duration_seconds_bucket{monitor=\"edge\",le=\"0.05\"} 1")
        );
        assert!(
            out.contains("hopwatch_check_duration_seconds_bucket{monitor=\"edge\",le=\"0.025\"} 0")
        );
        metrics.forget("edge");
        let mut out = String::new();
        metrics.render(&mut out);
        assert!(!out.contains("monitor=\"edge\""));
    }

    #[test]
    fn pieces_join_into_the_whole_text_and_stop_when_told() {
        let metrics = MonitorMetrics::default();
        for i in 0..2_000 {
            let mut result = CheckResult::new(SystemTime::now(), Cause::Ok);
            result.status = Some(200);
            metrics.observe(&format!("m{i:04}"), "g", "http", &result, MonitorState::Up);
        }
        let mut whole = String::new();
        metrics.render(&mut whole);
        let (mut joined, mut pieces, mut out) = (String::new(), 0, String::new());
        metrics.render_pieces(&mut out, &mut |piece| {
            assert!(piece.len() >= RENDER_PIECE);
            joined.push_str(piece);
            piece.clear();
            pieces += 1;
            true
        });
        joined.push_str(&out);
        assert_eq!(joined, whole);
        assert!(pieces > 1, "{pieces} pieces of {} bytes", whole.len());
        let (mut calls, mut out) = (0, String::new());
        metrics.render_pieces(&mut out, &mut |piece| {
            calls += 1;
            piece.clear();
            false
        });
        assert_eq!(calls, 1, "a receiver gone stops the render");
    }
}
