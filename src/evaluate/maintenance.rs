//! Maintenance windows, one-off or recurring (cron, UTC): while one covers a
//! monitor its alerts stay quiet and the status page shows "maintenance".

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use super::select_monitors;
use crate::config::schema::{MaintenanceConfig, MonitorConfig};

/// A `maintenance:` entry hopwatch cannot schedule. The config validator
/// reports these first; this is the same check where the windows are built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaintenanceError {
    /// `start` is not an RFC 3339 time.
    #[error(
        "maintenance[{index}].start: invalid time {text:?} (expected RFC 3339, e.g. \
         2026-12-01T02:00:00Z)"
    )]
    Start {
        /// The entry's 0-based position.
        index: usize,
        /// What was written.
        text: String,
    },
    /// `cron` is not a 5-field cron expression.
    #[error("maintenance[{index}].cron: invalid cron {text:?} ({reason})")]
    Cron {
        /// The entry's 0-based position.
        index: usize,
        /// What was written.
        text: String,
        /// What the parser said.
        reason: String,
    },
    /// Neither or both of `start` and `cron` are set.
    #[error("maintenance[{index}]: set either start (one-off) or cron (recurring)")]
    Schedule {
        /// The entry's 0-based position.
        index: usize,
    },
}

/// Parses a recurring window's schedule: 5 fields (minute hour day month
/// weekday), Vixie-cron rules (day-of-month OR weekday), read in UTC.
/// `@daily`-style nicknames are accepted too. The error is the parser's.
pub fn parse_cron(expression: &str) -> Result<Cron, String> {
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    parser.parse(expression).map_err(|e| e.to_string())
}

#[derive(Debug, Clone)]
pub(super) enum Schedule {
    Once(SystemTime),
    // Boxed: a parsed pattern is large next to a time.
    Every(Box<Cron>),
}

#[derive(Debug, Clone)]
pub(super) struct Window {
    pub(super) monitors: Vec<String>,
    /// The entry's selectors as written, for saying what it covers.
    pub(super) selectors: Vec<String>,
    pub(super) schedule: Schedule,
    pub(super) duration: Duration,
    pub(super) announce: bool,
    pub(super) notify: Vec<String>,
    /// A hash of what the entry schedules (selectors, start or cron,
    /// duration): with a start time it names one occurrence in every
    /// process, and a reload that leaves the entry alone keeps it.
    pub(super) key: u64,
}

impl Window {
    /// The end of the occurrence covering `now`, if one does.
    fn covering(&self, now: SystemTime) -> Option<SystemTime> {
        // The latest start at or before now ends last, so it alone
        // decides, even when occurrences overlap.
        let start = self.last_start(now)?;
        let end = start.checked_add(self.duration)?;
        (now < end).then_some(end)
    }

    /// The latest start at or before `at`.
    pub(super) fn last_start(&self, at: SystemTime) -> Option<SystemTime> {
        match &self.schedule {
            Schedule::Once(start) => (*start <= at).then_some(*start),
            Schedule::Every(cron) => {
                let last = cron.find_previous_occurrence(&utc(at)?, true).ok()?;
                from_utc(last)
            }
        }
    }

    /// The first start after `at`.
    pub(super) fn next_start(&self, at: SystemTime) -> Option<SystemTime> {
        match &self.schedule {
            Schedule::Once(start) => (*start > at).then_some(*start),
            Schedule::Every(cron) => {
                let next = cron.find_next_occurrence(&utc(at)?, false).ok()?;
                from_utc(next)
            }
        }
    }
}

fn utc(at: SystemTime) -> Option<DateTime<Utc>> {
    let since_epoch = at.duration_since(UNIX_EPOCH).ok()?;
    let secs = i64::try_from(since_epoch.as_secs()).ok()?;
    DateTime::<Utc>::from_timestamp(secs, since_epoch.subsec_nanos())
}

fn from_utc(at: DateTime<Utc>) -> Option<SystemTime> {
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(at.timestamp()).ok()?))
}

/// The hash that names a window's occurrences.
fn key_of(window: &MaintenanceConfig) -> u64 {
    let mut text = window.monitors.join("\n");
    for part in [&window.start, &window.cron] {
        text.push('\u{1f}');
        text.push_str(part.as_deref().unwrap_or(""));
    }
    text.push_str(&format!("\u{1f}{}", window.duration.as_millis()));
    crate::stable_hash::fnv1a(text.bytes())
}

/// Every maintenance window, with its selectors expanded. Pure: the time
/// is an argument.
#[derive(Debug, Clone, Default)]
pub struct Maintenance {
    pub(super) windows: Vec<Window>,
}

impl Maintenance {
    /// Builds the windows of `maintenance:` against the monitors (selectors
    /// as for alerts: names, `group:NAME`, `*`).
    pub fn new(
        windows: &[MaintenanceConfig],
        monitors: &[MonitorConfig],
    ) -> Result<Maintenance, MaintenanceError> {
        let mut built = Vec::with_capacity(windows.len());
        for (index, window) in windows.iter().enumerate() {
            let schedule = match (&window.start, &window.cron) {
                (Some(start), None) => match crate::clock::parse_rfc3339(start) {
                    Ok(at) => Schedule::Once(at),
                    Err(_) => {
                        let text = start.clone();
                        return Err(MaintenanceError::Start { index, text });
                    }
                },
                (None, Some(cron)) => match parse_cron(cron) {
                    Ok(pattern) => Schedule::Every(Box::new(pattern)),
                    Err(reason) => {
                        let text = cron.clone();
                        return Err(MaintenanceError::Cron {
                            index,
                            text,
                            reason,
                        });
                    }
                },
                _ => return Err(MaintenanceError::Schedule { index }),
            };
            built.push(Window {
                monitors: select_monitors(&window.monitors, monitors),
                selectors: window.monitors.clone(),
                schedule,
                duration: window.duration,
                announce: window.announce,
                notify: window.notify.clone(),
                key: key_of(window),
            });
        }
        Ok(Maintenance { windows: built })
    }

    /// Whether a window covers `monitor` at `now`.
    pub fn active(&self, monitor: &str, now: SystemTime) -> bool {
        self.active_until(monitor, now).is_some()
    }

    /// When the maintenance covering `monitor` at `now` ends (the latest
    /// end among overlapping windows), or `None` outside maintenance.
    pub fn active_until(&self, monitor: &str, now: SystemTime) -> Option<SystemTime> {
        let covering = self
            .windows
            .iter()
            .filter(|w| w.monitors.iter().any(|m| m == monitor));
        covering.filter_map(|w| w.covering(now)).max()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    pub(in crate::evaluate) fn window(
        selectors: &[&str],
        start: Option<&str>,
        cron: Option<&str>,
        secs: u64,
    ) -> MaintenanceConfig {
        MaintenanceConfig {
            monitors: selectors.iter().map(|s| (*s).to_owned()).collect(),
            start: start.map(str::to_owned),
            cron: cron.map(str::to_owned),
            duration: Duration::from_secs(secs),
            announce: false,
            notify: Vec::new(),
        }
    }

    pub(in crate::evaluate) fn monitors() -> Vec<MonitorConfig> {
        let mut edge = MonitorConfig::named("shop-edge");
        edge.group = Some("Shop".to_owned());
        let mut origin = MonitorConfig::named("shop-origin");
        origin.group = Some("Shop".to_owned());
        vec![edge, origin, MonitorConfig::named("db")]
    }

    fn build(windows: &[MaintenanceConfig]) -> Maintenance {
        Maintenance::new(windows, &monitors()).unwrap()
    }

    #[test]
    fn a_one_off_window_covers_its_group_from_start_to_end() {
        let one_off = window(&["group:Shop"], Some("2026-12-01T02:00:00Z"), None, 3600);
        let m = build(&[one_off]);
        let cases = [
            ("shop-edge", "2026-12-01T01:59:59Z", false),
            ("shop-edge", "2026-12-01T02:00:00Z", true),
            ("shop-origin", "2026-12-01T02:59:59Z", true),
            ("shop-edge", "2026-12-01T03:00:00Z", false),
            ("db", "2026-12-01T02:30:00Z", false),
            ("unknown", "2026-12-01T02:30:00Z", false),
        ];
        for (monitor, time, expected) in cases {
            assert_eq!(m.active(monitor, at(time)), expected, "{monitor} at {time}");
        }
        let end = m.active_until("shop-edge", at("2026-12-01T02:30:00Z"));
        assert_eq!(end, Some(at("2026-12-01T03:00:00Z")));
    }

    #[test]
    fn a_nightly_cron_window_recurs_in_utc() {
        let nightly = window(&["db"], None, Some("0 2 * * *"), 3600);
        let m = build(&[nightly]);
        let cases = [
            ("2026-03-10T02:30:00Z", true),
            ("2026-03-10T03:30:00Z", false),
            ("2026-03-10T01:59:00Z", false),
            ("2026-03-11T02:00:00Z", true),
            ("2026-03-11T02:59:59Z", true),
        ];
        for (time, expected) in cases {
            assert_eq!(m.active("db", at(time)), expected, "{time}");
        }
        assert!(!m.active("shop-edge", at("2026-03-10T02:30:00Z")));
    }

    #[test]
    fn a_recurring_window_may_cross_midnight_and_name_weekdays() {
        let late = window(&["*"], None, Some("30 23 * * *"), 2 * 3600);
        let sundays = window(&["shop-edge"], None, Some("0 6 * * SUN"), 3600);
        let m = build(&[late, sundays]);
        assert!(m.active("shop-origin", at("2026-03-11T01:15:00Z")));
        assert!(!m.active("shop-origin", at("2026-03-11T01:31:00Z")));
        // 2026-03-15 is a Sunday, 2026-03-16 a Monday.
        assert!(m.active("shop-edge", at("2026-03-15T06:10:00Z")));
        assert!(!m.active("shop-edge", at("2026-03-16T06:10:00Z")));
    }

    #[test]
    fn overlapping_windows_end_with_the_last_one() {
        let early = window(&["db"], Some("2026-12-01T02:00:00Z"), None, 3600);
        let long = window(&["db"], Some("2026-12-01T02:30:00Z"), None, 7200);
        let m = build(&[early, long]);
        let end = m.active_until("db", at("2026-12-01T02:45:00Z"));
        assert_eq!(end, Some(at("2026-12-01T04:30:00Z")));
    }

    #[test]
    fn bad_schedules_are_named_by_position() {
        let bad = [
            window(&["db"], Some("tomorrow"), None, 60),
            window(&["db"], None, Some("0 0 2 * * *"), 60),
            window(&["db"], None, Some("61 * * * *"), 60),
            window(&["db"], None, None, 60),
        ];
        let expected = [
            "maintenance[1].start: invalid time \"tomorrow\"",
            "maintenance[1].cron: invalid cron \"0 0 2 * * *\"",
            "maintenance[1].cron: invalid cron \"61 * * * *\"",
            "maintenance[1]: set either start",
        ];
        let good = window(&["db"], None, Some("*/15 * * * *"), 60);
        for (window, expected) in bad.into_iter().zip(expected) {
            let error = Maintenance::new(&[good.clone(), window], &monitors()).unwrap_err();
            let message = error.to_string();
            assert!(message.starts_with(expected), "{message}");
        }
        assert!(parse_cron("0 2 * * 1-5").is_ok());
    }
}
