//! Scheduled maintenance as people are told of it: which occurrence of each
//! window the pages show at a time, and which starts and ends are due to be
//! announced. Pure: the time is an argument.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::maintenance::{Maintenance, Window};
use crate::config::MonitorConfig;

/// How long before it starts a window shows on the pages.
pub const NOTICE: Duration = Duration::from_secs(7 * 86_400);

/// How late a start or an end may still be announced. A daemon that was
/// down at that moment (or started after it) stays silent past this: a
/// restart two hours into a window must not say "it starts now". Sending
/// twice is prevented elsewhere (the delivery id); this only bounds lateness.
pub const ANNOUNCE_GRACE: Duration = Duration::from_secs(5 * 60);

/// One occurrence of a maintenance window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// `maintenance-<hash of the entry>-<start, unix seconds>`: the same in
    /// every process, so it names the occurrence in the feed and in
    /// delivery ids.
    pub id: String,
    /// When it starts.
    pub start: SystemTime,
    /// When it ends.
    pub end: SystemTime,
    /// The monitors it covers, by name.
    pub monitors: Vec<String>,
    /// The entry's selectors as written (names, `group:NAME`, `*`).
    pub selectors: Vec<String>,
    /// The notifiers its announcements go through; empty unless `announce`.
    pub notify: Vec<String>,
}

impl Occurrence {
    /// Whether it runs at `now`.
    pub fn in_progress(&self, now: SystemTime) -> bool {
        self.start <= now && now < self.end
    }

    /// What it covers, by title, as far as `shows` lets a reader see:
    /// `group:Shop` is `Shop` (when one of its monitors is seen), a name is
    /// that monitor's title, `*` is `all monitors`. Empty when the reader
    /// sees none of its monitors: then the window is not theirs to see.
    pub fn covers(&self, monitors: &[MonitorConfig], shows: &dyn Fn(&str) -> bool) -> Vec<String> {
        let covered = |m: &&MonitorConfig| self.monitors.contains(&m.name) && shows(&m.name);
        let mut out: Vec<String> = Vec::new();
        for selector in &self.selectors {
            let label = if selector == "*" {
                monitors
                    .iter()
                    .any(|m| covered(&m))
                    .then(|| "all monitors".to_owned())
            } else if let Some(group) = selector.strip_prefix("group:") {
                monitors
                    .iter()
                    .filter(covered)
                    .any(|m| m.group.as_deref() == Some(group))
                    .then(|| group.to_owned())
            } else {
                monitors
                    .iter()
                    .filter(covered)
                    .find(|m| m.name == *selector)
                    .map(|m| m.title.clone().unwrap_or_else(|| m.name.clone()))
            };
            if let Some(label) = label.filter(|l| !out.contains(l)) {
                out.push(label);
            }
        }
        out
    }

    /// `Scheduled: 2026-12-01 02:00-03:00 UTC` before it starts,
    /// `Maintenance in progress until 03:00 UTC` while it runs.
    pub fn headline(&self, now: SystemTime) -> String {
        if self.in_progress(now) {
            let until = crate::clock::utc_until(self.end, now);
            format!("Maintenance in progress until {until}")
        } else {
            format!(
                "Scheduled: {}",
                crate::clock::utc_span(self.start, self.end)
            )
        }
    }
}

/// The two moments of a window that are announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// It started.
    Started,
    /// It ended.
    Ended,
}

impl Phase {
    /// `started` / `ended`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Started => "started",
            Phase::Ended => "ended",
        }
    }
}

impl Window {
    fn occurrence(&self, start: SystemTime) -> Option<Occurrence> {
        let secs = start.duration_since(UNIX_EPOCH).ok()?.as_secs();
        Some(Occurrence {
            id: format!("maintenance-{:016x}-{secs}", self.key),
            start,
            end: start.checked_add(self.duration)?,
            monitors: self.monitors.clone(),
            selectors: self.selectors.clone(),
            notify: if self.announce {
                self.notify.clone()
            } else {
                Vec::new()
            },
        })
    }
}

impl Maintenance {
    /// What the pages show at `now`, soonest first: of each window, the
    /// occurrence that runs, else the next one if it starts within
    /// [`NOTICE`]. A window that is over shows nothing; a recurring one
    /// shows only its next occurrence.
    pub fn shown(&self, now: SystemTime) -> Vec<Occurrence> {
        let mut shown: Vec<Occurrence> = self
            .windows
            .iter()
            .filter_map(|window| {
                let running = window
                    .last_start(now)
                    .filter(|start| start.checked_add(window.duration).is_some_and(|e| now < e));
                let upcoming = || {
                    window
                        .next_start(now)
                        .filter(|start| now.checked_add(NOTICE).is_some_and(|n| *start <= n))
                };
                window.occurrence(running.or_else(upcoming)?)
            })
            .collect();
        shown.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        shown
    }

    /// The announcements due at `now`: each announced window's latest start
    /// and latest end, when they happened within [`ANNOUNCE_GRACE`] of
    /// `now`. A caller sends each (occurrence, phase) once; asking again
    /// while it is due gives it again.
    pub fn announcements(&self, now: SystemTime) -> Vec<(Occurrence, Phase)> {
        let recent = |at: SystemTime| {
            now.duration_since(at)
                .is_ok_and(|late| late <= ANNOUNCE_GRACE)
        };
        let mut due = Vec::new();
        for window in self
            .windows
            .iter()
            .filter(|w| w.announce && !w.notify.is_empty())
        {
            if let Some(start) = window.last_start(now).filter(|s| recent(*s))
                && let Some(occurrence) = window.occurrence(start)
            {
                due.push((occurrence, Phase::Started));
            }
            // The latest occurrence that has ended started a duration
            // before its end, so at or before `now - duration`.
            let ended = now
                .checked_sub(window.duration)
                .and_then(|at| window.last_start(at));
            if let Some(occurrence) = ended.and_then(|start| window.occurrence(start))
                && recent(occurrence.end)
            {
                due.push((occurrence, Phase::Ended));
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::super::maintenance::tests::{monitors, window};
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    fn build(windows: &[crate::config::schema::MaintenanceConfig]) -> Maintenance {
        Maintenance::new(windows, &monitors()).unwrap()
    }

    fn headlines(m: &Maintenance, now: &str) -> Vec<String> {
        let now = at(now);
        m.shown(now).iter().map(|o| o.headline(now)).collect()
    }

    #[test]
    fn a_one_off_window_shows_from_seven_days_ahead_until_it_ends() {
        let m = build(&[window(
            &["group:Shop"],
            Some("2026-12-01T02:00:00Z"),
            None,
            3600,
        )]);
        assert!(headlines(&m, "2026-11-24T01:59:59Z").is_empty());
        let ahead = ["Scheduled: 2026-12-01 02:00-03:00 UTC"];
        assert_eq!(headlines(&m, "2026-11-24T02:00:00Z"), ahead);
        assert_eq!(headlines(&m, "2026-12-01T01:59:59Z"), ahead);
        let during = ["Maintenance in progress until 03:00 UTC"];
        assert_eq!(headlines(&m, "2026-12-01T02:00:00Z"), during);
        assert_eq!(headlines(&m, "2026-12-01T02:59:59Z"), during);
        assert!(headlines(&m, "2026-12-01T03:00:00Z").is_empty());
    }

    #[test]
    fn a_recurring_window_shows_its_running_or_next_occurrence_only() {
        let m = build(&[window(&["db"], None, Some("0 2 * * *"), 3600)]);
        assert_eq!(
            headlines(&m, "2026-03-10T12:00:00Z"),
            ["Scheduled: 2026-03-11 02:00-03:00 UTC"]
        );
        assert_eq!(
            headlines(&m, "2026-03-11T02:30:00Z"),
            ["Maintenance in progress until 03:00 UTC"]
        );
        let one = &m.shown(at("2026-03-11T02:30:00Z"))[0];
        let two = &m.shown(at("2026-03-11T02:45:00Z"))[0];
        assert_eq!(one.id, two.id, "one occurrence, one id");
        let next = &m.shown(at("2026-03-11T03:00:00Z"))[0];
        assert_ne!(one.id, next.id);
        assert_eq!(next.start, at("2026-03-12T02:00:00Z"));
    }

    #[test]
    fn covers_names_groups_and_titles_the_reader_may_see() {
        let mut config = monitors();
        config[2].title = Some("Database <main>".to_owned());
        let entries = [
            window(
                &["group:Shop", "db"],
                Some("2026-12-01T02:00:00Z"),
                None,
                60,
            ),
            window(&["db"], Some("2026-12-02T02:00:00Z"), None, 60),
        ];
        let m = Maintenance::new(&entries, &config).unwrap();
        let shown = m.shown(at("2026-11-30T00:00:00Z"));
        let everyone = |_: &str| true;
        assert_eq!(
            shown[0].covers(&config, &everyone),
            ["Shop", "Database <main>"]
        );
        let shop_only = |name: &str| name.starts_with("shop-");
        assert_eq!(shown[0].covers(&config, &shop_only), ["Shop"]);
        assert!(shown[1].covers(&config, &shop_only).is_empty());
    }

    #[test]
    fn starts_and_ends_are_due_within_the_grace_only() {
        let mut announced = window(&["db"], Some("2026-12-01T02:00:00Z"), None, 3600);
        announced.announce = true;
        announced.notify = vec!["ops".to_owned()];
        let quiet = window(&["db"], Some("2026-12-01T02:00:00Z"), None, 3600);
        let m = build(&[announced, quiet]);
        let due = |now: &str| -> Vec<Phase> {
            m.announcements(at(now)).iter().map(|(_, p)| *p).collect()
        };
        assert!(due("2026-12-01T01:59:59Z").is_empty());
        assert_eq!(due("2026-12-01T02:00:00Z"), [Phase::Started]);
        assert_eq!(due("2026-12-01T02:05:00Z"), [Phase::Started]);
        assert!(
            due("2026-12-01T02:05:01Z").is_empty(),
            "too late for a start"
        );
        assert!(due("2026-12-01T02:59:59Z").is_empty());
        assert_eq!(due("2026-12-01T03:00:00Z"), [Phase::Ended]);
        assert!(due("2026-12-01T03:05:01Z").is_empty());
        let (occurrence, _) = &m.announcements(at("2026-12-01T02:01:00Z"))[0];
        assert_eq!(occurrence.notify, ["ops"]);
        let (ended, _) = &m.announcements(at("2026-12-01T03:01:00Z"))[0];
        assert_eq!(occurrence.id, ended.id, "start and end name one occurrence");
    }

    #[test]
    fn a_recurring_window_announces_each_occurrence() {
        let mut nightly = window(&["db"], None, Some("0 2 * * *"), 3600);
        nightly.announce = true;
        nightly.notify = vec!["ops".to_owned()];
        let m = build(&[nightly]);
        let first = m.announcements(at("2026-03-10T02:00:30Z"));
        let second = m.announcements(at("2026-03-11T02:00:30Z"));
        assert_eq!(first.len(), 1);
        assert_ne!(first[0].0.id, second[0].0.id);
        let end = m.announcements(at("2026-03-11T03:01:00Z"));
        assert_eq!(end[0].1, Phase::Ended);
        assert_eq!(end[0].0.id, second[0].0.id);
    }
}
