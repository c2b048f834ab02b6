//! One monitor seen from several regions: which regions fail, whether
//! enough of them agree (the quorum), and the verdict to show. A failure
//! seen from fewer regions than the quorum is the path between those
//! regions and the target (hop `network`), and the monitor is `degraded`.

use std::sync::Arc;

use super::{CheckResult, Hop, MonitorState, Verdict};

/// How many failing regions make a monitor down: the configured quorum, or
/// a majority of the live regions (1 of 1, 2 of 2, 2 of 3, 3 of 4).
pub fn quorum(configured: Option<u32>, live: usize) -> usize {
    match configured {
        Some(q) => q as usize,
        None => live / 2 + 1,
    }
    .max(1)
}

/// One region's latest result.
#[derive(Debug, Clone)]
pub struct RegionLatest {
    /// The region.
    pub region: Arc<str>,
    /// Its latest result, with its own single-check verdict.
    pub result: Arc<CheckResult>,
    /// A checker of that region is alive: a dead region counts neither way.
    pub alive: bool,
}

/// What the regions say together.
#[derive(Debug, Clone)]
pub struct Combined {
    /// The monitor's state.
    pub state: MonitorState,
    /// The result to show for the monitor: a failing region's when any
    /// fails (its verdict made regional below the quorum), else the newest.
    pub headline: Arc<CheckResult>,
    /// Live regions whose latest result fails.
    pub failing: Vec<Arc<str>>,
    /// Live regions whose latest result passes.
    pub passing: Vec<Arc<str>>,
    /// Failing regions needed for `down`.
    pub quorum: usize,
}

/// Combines the regions' latest results (at least one) for a monitor that
/// reaches `host`.
pub fn combine(regions: &[RegionLatest], configured: Option<u32>, host: &str) -> Option<Combined> {
    // One region, the common case: its result is the monitor's.
    if let [only] = regions {
        let state = MonitorState::of(&only.result);
        let (failing, passing) = match state {
            MonitorState::Down => (vec![only.region.clone()], Vec::new()),
            MonitorState::Unknown => (Vec::new(), Vec::new()),
            _ => (Vec::new(), vec![only.region.clone()]),
        };
        return Some(Combined {
            state,
            headline: only.result.clone(),
            failing,
            passing,
            quorum: 1,
        });
    }
    // With no live region at all, the stale results still say something.
    let any_alive = regions.iter().any(|r| r.alive);
    let counted: Vec<&RegionLatest> = regions.iter().filter(|r| r.alive || !any_alive).collect();
    let mut failing = Vec::new();
    let mut passing = Vec::new();
    let mut failing_newest: Option<&Arc<CheckResult>> = None;
    let mut newest: Option<&Arc<CheckResult>> = None;
    let mut degraded = false;
    for r in &counted {
        match MonitorState::of(&r.result) {
            MonitorState::Down => {
                failing.push(r.region.clone());
                if failing_newest.is_none_or(|f| f.at < r.result.at) {
                    failing_newest = Some(&r.result);
                }
            }
            state @ (MonitorState::Up | MonitorState::Degraded) => {
                degraded |= state == MonitorState::Degraded;
                passing.push(r.region.clone());
            }
            MonitorState::Maintenance | MonitorState::Unknown => {}
        }
        if newest.is_none_or(|n| n.at < r.result.at) {
            newest = Some(&r.result);
        }
    }
    let needed = quorum(configured, counted.len());
    let (state, headline) = match failing_newest {
        Some(failed) if failing.len() >= needed => {
            let mut shown = (**failed).clone();
            if counted.len() > 1 {
                shown.verdict.summary = format!(
                    "{} ({} of {} regions agree)",
                    shown.verdict.summary,
                    failing.len(),
                    counted.len()
                );
            }
            (MonitorState::Down, Arc::new(shown))
        }
        Some(failed) => {
            let mut shown = (**failed).clone();
            shown.verdict = regional_verdict(&failing, &passing, host);
            (MonitorState::Degraded, Arc::new(shown))
        }
        None => {
            let latest = newest
                .or_else(|| regions.first().map(|r| &r.result))?
                .clone();
            let state = if degraded {
                MonitorState::Degraded
            } else {
                MonitorState::of(&latest)
            };
            (state, latest)
        }
    };
    Some(Combined {
        state,
        headline,
        failing,
        passing,
        quorum: needed,
    })
}

/// The verdict of a failure seen from fewer regions than the quorum.
pub fn regional_verdict(failing: &[Arc<str>], passing: &[Arc<str>], host: &str) -> Verdict {
    let list = |regions: &[Arc<str>]| regions.iter().map(|r| &**r).collect::<Vec<_>>().join(", ");
    let from = list(failing);
    let summary = if passing.is_empty() {
        format!("fails only from {from}: the path between {from} and {host}")
    } else {
        let verb = if passing.len() == 1 { "sees" } else { "see" };
        format!(
            "fails only from {from} ({} {verb} it up): the path between {from} and {host}",
            list(passing)
        )
    };
    Verdict {
        hop: Hop::Network,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::monitor::Cause;

    fn region(name: &str, cause: Cause, secs: u64, alive: bool) -> RegionLatest {
        let mut result =
            CheckResult::new(SystemTime::UNIX_EPOCH + Duration::from_secs(secs), cause);
        result.verdict = Verdict {
            hop: if cause.is_ok() {
                Hop::None
            } else {
                Hop::Origin
            },
            summary: format!("{name} saw {cause}"),
        };
        RegionLatest {
            region: Arc::from(name),
            result: Arc::new(result),
            alive,
        }
    }

    #[test]
    fn the_default_quorum_is_a_majority_of_live_regions() {
        let table = [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3)];
        for (live, expected) in table {
            assert_eq!(quorum(None, live), expected, "{live} live regions");
        }
        assert_eq!(quorum(Some(1), 3), 1);
        assert_eq!(quorum(None, 0), 1);
    }

    #[test]
    fn one_region_is_the_result_itself() {
        let only = region("default", Cause::ConnectRefused, 5, true);
        let combined = combine(std::slice::from_ref(&only), None, "shop").expect("one");
        assert!(Arc::ptr_eq(&combined.headline, &only.result));
        assert_eq!(combined.state, MonitorState::Down);
    }

    #[test]
    fn a_failure_from_fewer_regions_than_the_quorum_is_that_regions_path() {
        let regions = [
            region("eu-west", Cause::ConnectTimeout, 10, true),
            region("us-east", Cause::Ok, 11, true),
            region("ap-south", Cause::Ok, 9, true),
        ];
        let combined = combine(&regions, None, "shop.example.com").expect("view");
        assert_eq!(combined.state, MonitorState::Degraded);
        assert_eq!(combined.quorum, 2);
        assert_eq!(combined.headline.verdict.hop, Hop::Network);
        assert_eq!(
            combined.headline.verdict.summary,
            "fails only from eu-west (us-east, ap-south see it up): the path between eu-west and shop.example.com"
        );
        // The stored result keeps its own verdict.
        assert_eq!(regions[0].result.verdict.hop, Hop::Origin);
    }

    #[test]
    fn the_quorum_failing_keeps_the_usual_verdict_and_says_how_many_agree() {
        let regions = [
            region("eu-west", Cause::ConnectRefused, 10, true),
            region("us-east", Cause::ConnectRefused, 12, true),
            region("ap-south", Cause::Ok, 11, true),
        ];
        let combined = combine(&regions, None, "shop").expect("view");
        assert_eq!(combined.state, MonitorState::Down);
        assert_eq!(combined.headline.verdict.hop, Hop::Origin);
        assert_eq!(
            combined.headline.verdict.summary,
            "us-east saw connect_refused (2 of 3 regions agree)"
        );
        assert_eq!(combined.failing.len(), 2);
        // A configured quorum of 3 makes the same results only degraded.
        let strict = combine(&regions, Some(3), "shop").expect("view");
        assert_eq!(strict.state, MonitorState::Degraded);
    }

    #[test]
    fn a_dead_region_counts_neither_way() {
        let regions = [
            region("eu-west", Cause::ConnectRefused, 10, true),
            region("us-east", Cause::Ok, 3, false),
        ];
        let combined = combine(&regions, None, "shop").expect("view");
        assert_eq!(
            combined.state,
            MonitorState::Down,
            "1 of 1 live regions fails"
        );
        assert!(combined.passing.is_empty());
        let healthy = [
            region("eu-west", Cause::Ok, 10, true),
            region("us-east", Cause::TlsExpiring, 11, true),
        ];
        assert_eq!(
            combine(&healthy, None, "shop").expect("view").state,
            MonitorState::Degraded
        );
    }
}
