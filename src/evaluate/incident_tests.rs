//! The incident machine driven by hand: results, ticks and acknowledgements
//! with made-up times, the world (latest results, maintenance) held in a
//! map and a closure. Nothing sleeps and nothing reads the wall clock.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Effect, IncidentMachine, World};
use crate::config::schema::{AlertConfig, Condition, Config, MonitorConfig};
use crate::incident::{Incident, IncidentState};
use crate::monitor::regions::RegionLatest;
use crate::monitor::result::Evidence;
use crate::monitor::{Cause, CheckResult, Hop, Responder, Role, Verdict};

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

/// A result of `monitor` at `secs`. Its verdict and request id name the
/// second it was taken, so an incident shows which result it copied.
fn check(monitor: &str, secs: u64, cause: Cause) -> CheckResult {
    let mut result = CheckResult::new(at(secs), cause);
    result.monitor = Some(monitor.to_owned());
    result.verdict = Verdict {
        hop: if cause.is_ok() {
            Hop::None
        } else {
            Hop::Origin
        },
        summary: format!("check at {secs}s"),
    };
    if cause.is_failure() {
        result.evidence = Some(Evidence {
            request_id: Some(format!("req-{secs}")),
            ..Evidence::default()
        });
    }
    result
}

/// The edge's 502 from its own gateway: with the origin failing, the
/// origin explains it (`folds_into_upstream`).
fn gateway_502(secs: u64) -> CheckResult {
    let mut result = check("edge", secs, Cause::Http502);
    result.status = Some(502);
    result.responder = Some(Responder {
        role: Role::Gateway,
        product: Some("nginx".to_owned()),
    });
    result
}

/// `failures` failed checks in a row, on the given monitors.
fn alert(name: &str, monitors: &[&str], failures: u32) -> AlertConfig {
    AlertConfig {
        name: name.to_owned(),
        monitors: monitors.iter().map(|m| (*m).to_owned()).collect(),
        when: Condition::ConsecutiveFailures(failures),
        severity: Default::default(),
        hold: None,
        notify: Vec::new(),
        send_resolved: None,
        repeat: None,
        quorum: None,
    }
}

/// An origin and the edge (gateway) in front of it.
fn config(alerts: Vec<AlertConfig>) -> Config {
    let mut edge = MonitorConfig::named("edge");
    edge.upstream = Some("origin".to_owned());
    Config {
        monitors: vec![MonitorConfig::named("origin"), edge],
        alerts,
        ..Config::default()
    }
}

/// The machine with the world it reads: the latest result of each monitor
/// (what the live state would hold) and one optional maintenance window.
struct Bench {
    config: Config,
    latest: HashMap<String, Arc<CheckResult>>,
    /// Each monitor's latest result per region, for results that name one.
    regions: HashMap<String, Vec<RegionLatest>>,
    /// This monitor is in maintenance before this time.
    maintenance: Option<(&'static str, SystemTime)>,
    machine: IncidentMachine,
}

impl Bench {
    fn new(config: Config) -> Self {
        Self::restarted(config, Vec::new())
    }

    fn restarted(config: Config, open: Vec<Incident>) -> Self {
        Bench {
            machine: IncidentMachine::new(&config, open),
            config,
            latest: HashMap::new(),
            regions: HashMap::new(),
            maintenance: None,
        }
    }

    fn with_world<T>(&mut self, decide: impl FnOnce(&mut IncidentMachine, &World) -> T) -> T {
        let latest = |name: &str| self.latest.get(name).cloned();
        let regions = |name: &str| self.regions.get(name).cloned().unwrap_or_default();
        let window = self.maintenance;
        let in_maintenance = move |name: &str, now: SystemTime| {
            window.is_some_and(|(monitor, until)| monitor == name && now < until)
        };
        let world = World {
            config: &self.config,
            latest: &latest,
            in_maintenance: &in_maintenance,
            regions: &regions,
        };
        decide(&mut self.machine, &world)
    }

    /// A result arriving live, at its own time; the live state has it as
    /// the monitor's latest before the machine runs.
    fn result(&mut self, result: CheckResult) -> Vec<Effect> {
        let monitor = result
            .monitor
            .clone()
            .expect("test results name their monitor");
        let result = Arc::new(result);
        self.latest.insert(monitor.clone(), result.clone());
        if let Some(region) = &result.region {
            let seen = self.regions.entry(monitor.clone()).or_default();
            seen.retain(|r| r.region != *region);
            seen.push(RegionLatest {
                region: region.clone(),
                result: result.clone(),
                alive: true,
            });
        }
        let now = result.at;
        self.with_world(|machine, world| machine.on_result(&monitor, &result, now, world))
    }

    /// Several results; all their effects.
    fn results(&mut self, results: impl IntoIterator<Item = CheckResult>) -> Vec<Effect> {
        results.into_iter().flat_map(|r| self.result(r)).collect()
    }

    fn tick(&mut self, secs: u64) -> Vec<Effect> {
        self.with_world(|machine, world| machine.on_tick(at(secs), world))
    }

    /// Stored results at start, oldest first; as in `alert::manager`, the
    /// latest of each monitor is its last replayed result.
    fn replay(&mut self, results: Vec<CheckResult>) -> Vec<Effect> {
        let results: Vec<(String, Arc<CheckResult>)> = results
            .into_iter()
            .map(|r| (r.monitor.clone().unwrap(), Arc::new(r)))
            .collect();
        for (monitor, result) in &results {
            self.latest.insert(monitor.clone(), result.clone());
        }
        self.with_world(|machine, world| machine.replay(&results, world))
    }
}

/// The one effect, which must be an Open: the incident and its notify flag.
fn opened(effects: Vec<Effect>) -> (Incident, bool) {
    match <[Effect; 1]>::try_from(effects) {
        Ok([Effect::Open { incident, notify }]) => (incident, notify),
        other => panic!("expected one Open, got {other:?}"),
    }
}

/// The one effect, which must be a Resolve.
fn resolved(effects: Vec<Effect>) -> (Incident, bool) {
    match <[Effect; 1]>::try_from(effects) {
        Ok([Effect::Resolve { incident, notify }]) => (incident, notify),
        other => panic!("expected one Resolve, got {other:?}"),
    }
}

/// The one effect, which must be a Repeat: its incident id and round.
fn repeated(effects: Vec<Effect>) -> (String, u32) {
    match <[Effect; 1]>::try_from(effects) {
        Ok([Effect::Repeat { incident, round }]) => (incident.id, round),
        other => panic!("expected one Repeat, got {other:?}"),
    }
}

fn failing(monitor: &str, from: u64, count: u64) -> Vec<CheckResult> {
    let at = |i| from + 10 * i;
    (0..count)
        .map(|i| check(monitor, at(i), Cause::ConnectRefused))
        .collect()
}

fn healthy(monitor: &str, from: u64, count: u64) -> Vec<CheckResult> {
    (0..count)
        .map(|i| check(monitor, from + 10 * i, Cause::Ok))
        .collect()
}

#[test]
fn a_failure_streak_opens_one_incident_and_recovery_resolves_it() {
    let mut bench = Bench::new(config(vec![alert("down", &["origin"], 3)]));
    let mut first = check("origin", 0, Cause::Http503);
    first.status = Some(503);
    first.responder = Some(Responder {
        role: Role::Gateway,
        product: Some("haproxy".to_owned()),
    });
    assert!(bench.result(first).is_empty());
    assert!(bench.result(check("origin", 10, Cause::Timeout)).is_empty());
    let (incident, notify) = opened(bench.result(check("origin", 20, Cause::ConnectRefused)));
    assert!(notify);
    assert_eq!(
        (incident.alert.as_str(), incident.monitor.as_str()),
        ("down", "origin")
    );
    assert_eq!(
        (incident.state, incident.started_at),
        (IncidentState::Open, at(20))
    );
    assert_eq!((incident.value, incident.threshold), (Some(3.0), Some(3.0)));
    assert_eq!(incident.folded_into, None);
    // What broke first is the cause and the evidence; the verdict is the
    // newest, which has seen the most.
    assert_eq!(incident.cause, Cause::Http503);
    let evidence = incident.evidence.as_ref().expect("evidence");
    assert_eq!(evidence.status, Some(503));
    assert_eq!(evidence.request_id.as_deref(), Some("req-0"));
    assert_eq!(
        incident.responder.as_ref().map(|r| r.role),
        Some(Role::Gateway)
    );
    assert_eq!(incident.verdict.summary, "check at 20s");

    assert!(
        bench.results(failing("origin", 30, 20)).is_empty(),
        "opens once"
    );
    assert_eq!(bench.machine.open().count(), 1);
    // One good result amid the outage does not resolve; the second does.
    assert!(bench.result(check("origin", 300, Cause::Ok)).is_empty());
    let (done, notify) = resolved(bench.result(check("origin", 310, Cause::Ok)));
    assert!(notify, "send_resolved defaults to true");
    assert_eq!(done.id, incident.id);
    assert_eq!(
        (done.state, done.resolved_at),
        (IncidentState::Resolved, Some(at(310)))
    );
    assert_eq!(bench.machine.open().count(), 0);
}

#[test]
fn send_resolved_false_resolves_without_notifying() {
    let mut quiet = alert("down", &["origin"], 1);
    quiet.send_resolved = Some(false);
    let mut bench = Bench::new(config(vec![quiet]));
    opened(bench.results(failing("origin", 0, 1)));
    let (_, notify) = resolved(bench.results(healthy("origin", 10, 2)));
    assert!(!notify);
}

/// Origin and edge both covered, two failures in a row.
fn chain_bench() -> Bench {
    Bench::new(config(vec![alert("down", &["origin", "edge"], 2)]))
}

#[test]
fn an_edge_firing_after_its_upstream_folds_into_the_upstream_incident() {
    let mut bench = chain_bench();
    let (origin, notify) = opened(bench.results(failing("origin", 0, 2)));
    assert!(notify);
    assert!(bench.result(gateway_502(12)).is_empty());
    let (edge, notify) = opened(bench.result(gateway_502(22)));
    assert_eq!(edge.monitor, "edge");
    assert_eq!(edge.folded_into.as_deref(), Some(origin.id.as_str()));
    assert!(!notify, "a folded incident does not page");
    let (done, notify) = resolved(bench.results(healthy("edge", 32, 2)));
    assert_eq!(done.id, edge.id);
    assert!(!notify, "nor does its resolution");
}

#[test]
fn an_edge_firing_first_waits_for_its_upstream_incident_and_folds_when_it_opens() {
    let mut bench = chain_bench();
    // The origin fails once: the edge's 502 is explained, but the origin's
    // alert has not fired yet.
    assert!(bench.results(failing("origin", 0, 1)).is_empty());
    assert!(bench.result(gateway_502(2)).is_empty());
    let (edge, notify) = opened(bench.result(gateway_502(4)));
    assert_eq!(edge.folded_into.as_deref(), Some("monitor:origin"));
    assert!(!notify);

    let effects = bench.result(check("origin", 10, Cause::ConnectRefused));
    let [
        Effect::Open {
            incident: origin,
            notify: true,
        },
        Effect::Fold { id, into },
    ] = &effects[..]
    else {
        panic!("expected the origin's Open and the edge's Fold, got {effects:?}");
    };
    assert_eq!(origin.monitor, "origin");
    assert_eq!((id, into), (&edge.id, &origin.id));
    let edge_now = bench.machine.open().find(|i| i.monitor == "edge").unwrap();
    assert_eq!(edge_now.folded_into.as_ref(), Some(&origin.id));
}

#[test]
fn an_upstream_no_alert_covers_cannot_absorb_the_edge() {
    let mut bench = Bench::new(config(vec![alert("edge-down", &["edge"], 2)]));
    // The origin fails (no alert sees it), so the 502 is explained by it.
    assert!(bench.results(failing("origin", 0, 3)).is_empty());
    assert!(bench.result(gateway_502(22)).is_empty());
    let (edge, notify) = opened(bench.result(gateway_502(32)));
    assert_eq!(edge.folded_into, None, "nobody would be told otherwise");
    assert!(notify);
}

#[test]
fn repeats_come_every_period_until_acknowledged() {
    let mut paging = alert("down", &["origin"], 1);
    paging.repeat = Some(Duration::from_secs(600));
    let mut bench = Bench::new(config(vec![paging]));
    let (incident, _) = opened(bench.results(failing("origin", 0, 1)));
    assert!(bench.tick(599).is_empty());
    assert_eq!(repeated(bench.tick(600)), (incident.id.clone(), 1));
    assert!(bench.tick(601).is_empty(), "a repeat counts as sent");
    assert!(bench.tick(1199).is_empty());
    assert_eq!(repeated(bench.tick(1200)), (incident.id.clone(), 2));
    bench.machine.acknowledge(&incident.id);
    for secs in [1800, 2400, 36_000] {
        assert!(bench.tick(secs).is_empty(), "acknowledged, at {secs}s");
    }
}

#[test]
fn folded_incidents_never_repeat() {
    let mut paging = alert("down", &["origin", "edge"], 1);
    paging.repeat = Some(Duration::from_secs(600));
    let mut bench = Bench::new(config(vec![paging]));
    let (origin, _) = opened(bench.results(failing("origin", 0, 1)));
    let (edge, _) = opened(bench.result(gateway_502(0)));
    assert!(edge.folded_into.is_some());
    // Only the root pages again: the edge's page is the origin's.
    assert_eq!(repeated(bench.tick(600)), (origin.id.clone(), 1));
    assert_eq!(repeated(bench.tick(1200)), (origin.id, 2));
}

#[test]
fn maintenance_holds_back_incidents_until_the_window_ends() {
    let mut bench = Bench::new(config(vec![alert("down", &["origin"], 2)]));
    bench.maintenance = Some(("origin", at(300)));
    assert!(bench.results(failing("origin", 0, 30)).is_empty());
    assert!(bench.tick(299).is_empty());
    assert_eq!(bench.machine.open().count(), 0);
    // The failures inside the window do not count toward the streak: the
    // first one after it is one in a row, not thirty-one.
    assert!(
        bench
            .result(check("origin", 300, Cause::ConnectRefused))
            .is_empty()
    );
    let (incident, notify) = opened(bench.result(check("origin", 310, Cause::ConnectRefused)));
    assert!(notify);
    assert_eq!(incident.started_at, at(310));
}

/// An incident open for (down, origin) when hopwatch stopped.
fn stored_incident() -> Incident {
    let mut bench = Bench::new(config(vec![alert("down", &["origin"], 2)]));
    opened(bench.results(failing("origin", 0, 2))).0
}

#[test]
fn replay_does_not_open_a_second_incident_for_one_still_open() {
    let open = stored_incident();
    let mut bench = Bench::restarted(
        config(vec![alert("down", &["origin"], 2)]),
        vec![open.clone()],
    );
    assert!(bench.replay(failing("origin", 1000, 6)).is_empty());
    let ids: Vec<_> = bench.machine.open().map(|i| i.id.clone()).collect();
    assert_eq!(ids, [open.id]);
    // Still the live machine's incident: live failures open nothing either.
    assert!(bench.results(failing("origin", 1100, 3)).is_empty());
}

#[test]
fn replay_counts_only_the_net_change() {
    let alerts = || vec![alert("down", &["origin"], 2)];
    // Fired and recovered while hopwatch was down: nothing to tell.
    let mut bench = Bench::new(config(alerts()));
    let mut gone = failing("origin", 0, 3);
    gone.extend(healthy("origin", 30, 2));
    assert!(bench.replay(gone).is_empty());
    assert_eq!(bench.machine.open().count(), 0);

    // Fired, recovered, fired again: one incident, from the second streak.
    let mut bench = Bench::new(config(alerts()));
    let mut again = failing("origin", 0, 2);
    again.extend(healthy("origin", 20, 2));
    again.extend(failing("origin", 40, 2));
    let (incident, notify) = opened(bench.replay(again));
    assert!(notify);
    assert_eq!(incident.started_at, at(50));
    assert_eq!(
        incident.evidence.and_then(|e| e.request_id).as_deref(),
        Some("req-40")
    );
    assert_eq!(bench.machine.open().count(), 1);
}

#[test]
fn replay_resolves_an_open_incident_that_recovered() {
    let open = stored_incident();
    let mut bench = Bench::restarted(
        config(vec![alert("down", &["origin"], 2)]),
        vec![open.clone()],
    );
    // Only good results: the rule must start out firing (restored from the
    // open incident) for them to resolve it.
    let (done, notify) = resolved(bench.replay(healthy("origin", 1000, 2)));
    assert_eq!(done.id, open.id);
    assert!(notify);
    assert_eq!(done.resolved_at, Some(at(1010)));
    assert_eq!(bench.machine.open().count(), 0);
}

#[test]
fn replay_keeps_an_incident_open_when_the_results_that_opened_it_were_lost() {
    // Opened at 10 s on the second failure; its node died before that
    // failure was stored: the store has healthy results from before and
    // the first failure only.
    let open = stored_incident();
    assert_eq!(open.started_at, at(10));
    let mut bench = Bench::restarted(
        config(vec![alert("down", &["origin"], 2)]),
        vec![open.clone()],
    );
    let mut stored = healthy("origin", 0, 1);
    stored.push(check("origin", 9, Cause::ConnectRefused));
    assert!(
        bench.replay(stored).is_empty(),
        "neither resolved nor reopened"
    );
    // Still failing live: the same incident, no second one.
    assert!(bench.results(failing("origin", 20, 3)).is_empty());
    let ids: Vec<_> = bench.machine.open().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, [open.id.as_str()]);
    // A recovery after it opened resolves it.
    let (done, _) = resolved(bench.results(healthy("origin", 60, 2)));
    assert_eq!(done.id, open.id);
}

#[test]
fn evidence_comes_from_after_the_maintenance_window() {
    let mut bench = Bench::new(config(vec![alert("down", &["origin"], 2)]));
    bench.maintenance = Some(("origin", at(300)));
    assert!(bench.results(failing("origin", 0, 30)).is_empty());
    let (incident, _) = opened(bench.results(failing("origin", 300, 2)));
    // Not "req-0": the evidence of a check the window was meant to hide.
    let request_id = incident.evidence.and_then(|e| e.request_id);
    assert_eq!(request_id.as_deref(), Some("req-300"));
}

#[test]
fn replay_skips_results_inside_maintenance() {
    let mut bench = Bench::new(config(vec![alert("down", &["origin"], 2)]));
    bench.maintenance = Some(("origin", at(300)));
    // Live, these five open nothing; replayed, they open and page.
    let effects = bench.replay(failing("origin", 0, 5));
    assert!(effects.is_empty(), "{effects:?}");
}

#[test]
fn an_edge_waiting_for_an_upstream_that_recovers_is_not_left_silent() {
    let mut bench = chain_bench();
    assert!(bench.results(failing("origin", 0, 1)).is_empty());
    let (edge, _) = opened(bench.results([gateway_502(2), gateway_502(4)]));
    assert_eq!(edge.folded_into.as_deref(), Some("monitor:origin"));
    // The origin is healthy again but the edge keeps answering 502: the
    // gateway is at fault now, yet its incident still waits, unpaged.
    let mut effects = Vec::new();
    for i in 1..30 {
        effects.extend(bench.result(check("origin", 10 * i, Cause::Ok)));
        effects.extend(bench.result(gateway_502(10 * i + 2)));
    }
    let edge_now = bench.machine.open().find(|i| i.monitor == "edge").unwrap();
    assert_eq!(edge_now.folded_into, None);
    // It pages once, as its own root cause.
    let unfolded: Vec<&Incident> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Unfold { incident } => Some(incident),
            _ => None,
        })
        .collect();
    assert_eq!(unfolded.len(), 1, "{effects:?}");
    assert_eq!(unfolded[0].id, edge.id);
}

/// A result of `monitor` from `region`.
fn from(region: &str, monitor: &str, secs: u64, cause: Cause) -> CheckResult {
    let mut result = check(monitor, secs, cause);
    result.region = Some(Arc::from(region));
    result
}

#[test]
fn with_two_regions_one_failing_region_pages_nobody_and_both_page_once() {
    let mut bench = Bench::new(config(vec![alert("down", &["origin"], 2)]));
    // Both regions have reported, so both are live: the quorum is 2 of 2.
    bench.result(from("eu", "origin", 0, Cause::Ok));
    bench.result(from("us", "origin", 1, Cause::Ok));
    let eu_only = bench.results([
        from("eu", "origin", 10, Cause::ConnectRefused),
        from("us", "origin", 11, Cause::Ok),
        from("eu", "origin", 20, Cause::ConnectRefused),
        from("us", "origin", 21, Cause::Ok),
        from("eu", "origin", 30, Cause::ConnectRefused),
    ]);
    assert!(
        eu_only.is_empty(),
        "one region of two is below the quorum: {eu_only:?}"
    );
    let (incident, notify) = opened(bench.results([
        from("us", "origin", 31, Cause::ConnectRefused),
        from("us", "origin", 41, Cause::ConnectRefused),
    ]));
    assert!(notify);
    assert_eq!(incident.regions.failing, ["eu", "us"]);
    assert!(incident.regions.passing.is_empty());
    // One region recovering brings the count below the quorum again.
    let recovered = bench.results([
        from("us", "origin", 50, Cause::Ok),
        from("us", "origin", 60, Cause::Ok),
    ]);
    let (resolved_incident, _) = resolved(recovered);
    assert_eq!(resolved_incident.id, incident.id);
}

#[test]
fn an_alert_quorum_of_one_pages_for_one_region_and_names_the_passing_ones() {
    let mut down = alert("down", &["origin"], 2);
    down.quorum = Some(1);
    let mut bench = Bench::new(config(vec![down]));
    bench.result(from("us", "origin", 0, Cause::Ok));
    bench.result(from("ap", "origin", 1, Cause::Ok));
    let (incident, _) = opened(bench.results([
        from("eu", "origin", 10, Cause::ConnectRefused),
        from("eu", "origin", 20, Cause::ConnectRefused),
    ]));
    assert_eq!(incident.regions.failing, ["eu"]);
    let mut passing = incident.regions.passing.clone();
    passing.sort();
    assert_eq!(passing, ["ap", "us"]);
    // The other regions keep passing: still one incident, never a second.
    let more = bench.results([
        from("us", "origin", 21, Cause::Ok),
        from("eu", "origin", 30, Cause::ConnectRefused),
    ]);
    assert!(more.is_empty(), "{more:?}");
}
