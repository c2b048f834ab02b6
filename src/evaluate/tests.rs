//! The evaluator driven through long synthetic sequences: time is an
//! argument, so minutes of checks run in microseconds and never sleep.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::config::schema::{CertExpiryCondition, Condition, LatencyCondition, RateCondition};
use crate::config::values::Percent;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn sample(secs: u64, cause: Cause) -> Sample {
    Sample {
        at: at(secs),
        cause,
        latency_ms: 100.0,
        cert_days_left: None,
    }
}

fn monitor(name: &str, group: Option<&str>) -> MonitorConfig {
    let mut monitor = MonitorConfig::named(name);
    monitor.group = group.map(str::to_owned);
    monitor
}

fn monitors() -> Vec<MonitorConfig> {
    vec![
        monitor("shop-edge", Some("Shop")),
        monitor("shop-origin", Some("Shop")),
        monitor("db", None),
    ]
}

fn alert(name: &str, selectors: &[&str], when: Condition, hold: Option<u64>) -> AlertConfig {
    AlertConfig {
        name: name.to_owned(),
        monitors: selectors.iter().map(|s| (*s).to_owned()).collect(),
        when,
        severity: Default::default(),
        hold: hold.map(Duration::from_secs),
        notify: Vec::new(),
        send_resolved: None,
        repeat: None,
        quorum: None,
    }
}

fn error_rate(above: f64, window: u64, min_samples: Option<u32>) -> Condition {
    Condition::ErrorRate(RateCondition {
        above: Percent(above),
        window: Duration::from_secs(window),
        min_samples,
    })
}

fn evaluator(when: Condition, hold: Option<u64>) -> Evaluator {
    Evaluator::new(&[alert("a", &["shop-edge"], when, hold)], &monitors())
}

/// Results of shop-edge every `step` seconds from `start`, with a tick
/// 5 s after each; returns every transition.
fn run(ev: &mut Evaluator, start: u64, step: u64, causes: &[Cause]) -> Vec<Transition> {
    let mut out = Vec::new();
    for (i, cause) in causes.iter().enumerate() {
        let secs = start + step * i as u64;
        out.extend(ev.observe("shop-edge", &sample(secs, *cause), at(secs)));
        out.extend(ev.tick(at(secs + 5)));
    }
    out
}

fn kinds(transitions: &[Transition]) -> Vec<TransitionKind> {
    transitions.iter().map(|t| t.kind).collect()
}

/// fail, ok, fail, ok... `count` results.
fn flapping(count: usize) -> Vec<Cause> {
    let pick = |i: usize| {
        if i.is_multiple_of(2) {
            Cause::Http502
        } else {
            Cause::Ok
        }
    };
    (0..count).map(pick).collect()
}

#[test]
fn a_flapping_origin_never_reaches_three_failures_in_a_row() {
    let mut ev = evaluator(Condition::ConsecutiveFailures(3), None);
    assert!(run(&mut ev, 0, 10, &flapping(360)).is_empty());
    // The same evaluator does fire on a real outage: the test can fail.
    let down = run(&mut ev, 3600, 10, &[Cause::Http502; 3]);
    assert_eq!(kinds(&down), [TransitionKind::Fire]);
    assert_eq!((down[0].value, down[0].threshold), (3.0, 3.0));
    assert_eq!(down[0].at, at(3620));
}

#[test]
fn a_flapping_origin_fires_an_error_rate_once_and_resolves_once() {
    let mut ev = evaluator(error_rate(0.4, 60, None), None);
    let mut causes = flapping(120);
    causes.extend([Cause::Ok; 60]);
    let transitions = run(&mut ev, 0, 10, &causes);
    let expected = [TransitionKind::Fire, TransitionKind::Resolve];
    assert_eq!(kinds(&transitions), expected, "{transitions:?}");
    let (fire, resolve) = (&transitions[0], &transitions[1]);
    assert_eq!(
        (fire.alert.as_str(), fire.monitor.as_str()),
        ("a", "shop-edge")
    );
    assert_eq!((fire.value, fire.threshold), (1.0, 0.4));
    // Healthy from 1200 s: at 1210 the share (2 of 7) is below 40% once,
    // at 1220 twice: resolved on the second clear evaluation.
    assert_eq!(resolve.at, at(1220));
    assert!(resolve.value < 0.4, "{resolve:?}");
    assert!(ev.firing().is_empty());
}

#[test]
fn one_good_result_amid_failures_does_not_resolve() {
    let mut ev = evaluator(Condition::ConsecutiveFailures(2), None);
    use Cause::{Http503 as Bad, Ok as Good};
    let causes = [Bad, Bad, Good, Bad, Bad, Good, Good];
    let transitions = run(&mut ev, 0, 10, &causes);
    let resolved_at: Vec<_> = transitions.iter().map(|t| (t.kind, t.at)).collect();
    let expected = [
        (TransitionKind::Fire, at(10)),
        (TransitionKind::Resolve, at(60)),
    ];
    assert_eq!(resolved_at, expected);
}

#[test]
fn for_delays_the_fire_until_the_condition_held_that_long() {
    let mut ev = evaluator(Condition::ConsecutiveFailures(1), Some(60));
    // True from 0 s; the results at 10..50 s and the ticks do not fire it.
    assert!(run(&mut ev, 0, 10, &[Cause::Timeout; 6]).is_empty());
    assert!(ev.tick(at(59)).is_empty());
    // The tick at 60 s completes it, without a result.
    let fired = ev.tick(at(60));
    assert_eq!(kinds(&fired), [TransitionKind::Fire]);
    assert_eq!(fired[0].at, at(60));
    assert!(ev.tick(at(70)).is_empty(), "fires once");
}

#[test]
fn for_never_fires_when_the_condition_breaks_before() {
    let mut ev = evaluator(Condition::ConsecutiveFailures(1), Some(60));
    let mut causes = vec![Cause::Timeout; 5];
    causes.push(Cause::Ok);
    causes.extend([Cause::Timeout; 6]);
    // Broken at 50 s, true again from 60 s: it may fire at 120 s, not before.
    assert!(run(&mut ev, 0, 10, &causes).is_empty());
    assert!(ev.tick(at(119)).is_empty());
    assert_eq!(kinds(&ev.tick(at(120))), [TransitionKind::Fire]);
}

#[test]
fn min_samples_suppresses_firing_until_enough_results() {
    let mut ev = evaluator(error_rate(0.05, 300, Some(10)), None);
    assert!(run(&mut ev, 0, 10, &[Cause::Http500; 9]).is_empty());
    let fired = run(&mut ev, 90, 10, &[Cause::Http500]);
    assert_eq!(kinds(&fired), [TransitionKind::Fire]);
}

#[test]
fn unknown_results_are_ignored() {
    let mut ev = evaluator(Condition::ConsecutiveFailures(3), None);
    use Cause::{Http502 as Bad, Unknown};
    let transitions = run(&mut ev, 0, 10, &[Bad, Unknown, Bad, Unknown, Unknown, Bad]);
    assert_eq!(kinds(&transitions), [TransitionKind::Fire]);
    // Unknown results neither resolve it.
    assert!(run(&mut ev, 100, 10, &[Unknown; 20]).is_empty());
    assert_eq!(ev.firing().len(), 1);
}

#[test]
fn a_slow_p95_fires_in_milliseconds() {
    let when = Condition::Latency(LatencyCondition {
        percentile: None,
        above: Duration::from_millis(800),
        window: Duration::from_secs(600),
        min_samples: Some(20),
    });
    let mut ev = evaluator(when, None);
    let mut fired = Vec::new();
    for i in 0..20u64 {
        let mut s = sample(i * 15, Cause::Ok);
        s.latency_ms = if i % 10 == 9 { 1300.0 } else { 200.0 };
        fired.extend(ev.observe("shop-edge", &s, s.at));
    }
    assert_eq!(kinds(&fired), [TransitionKind::Fire]);
    assert_eq!((fired[0].value, fired[0].threshold), (1300.0, 800.0));
}

#[test]
fn a_certificate_under_14_days_fires_in_days() {
    let below = Duration::from_secs(14 * 86_400);
    let mut ev = evaluator(Condition::CertExpiry(CertExpiryCondition { below }), None);
    let mut fired = Vec::new();
    for (i, days) in [15.0, 14.2, 13.9].into_iter().enumerate() {
        let mut s = sample(i as u64 * 3600, Cause::Ok);
        s.cert_days_left = Some(days);
        fired.extend(ev.observe("shop-edge", &s, s.at));
    }
    assert_eq!(kinds(&fired), [TransitionKind::Fire]);
    assert_eq!((fired[0].value, fired[0].threshold), (13.9, 14.0));
    // A result without a certificate (refused) says nothing about it: no
    // evaluation, so two of them do not resolve.
    for secs in [20_000, 30_000] {
        let refused = sample(secs, Cause::ConnectRefused);
        assert!(ev.observe("shop-edge", &refused, at(secs)).is_empty());
    }
    let mut renewed = sample(40_000, Cause::Ok);
    renewed.cert_days_left = Some(89.0);
    assert!(ev.observe("shop-edge", &renewed, at(40_000)).is_empty());
    let resolved = ev.observe("shop-edge", &renewed, at(40_001));
    assert_eq!(kinds(&resolved), [TransitionKind::Resolve]);
}

#[test]
fn selectors_expand_groups_and_the_wildcard() {
    let monitors = monitors();
    let group = select_monitors(&["group:Shop".to_owned()], &monitors);
    assert_eq!(group, ["shop-edge", "shop-origin"]);
    let all = select_monitors(&["db".to_owned(), "*".to_owned()], &monitors);
    assert_eq!(all, ["shop-edge", "shop-origin", "db"]);
    assert!(select_monitors(&["group:Nope".to_owned()], &monitors).is_empty());
    let alerts = [
        alert(
            "shop",
            &["group:Shop", "shop-edge"],
            Condition::ConsecutiveFailures(1),
            None,
        ),
        alert("all", &["*"], Condition::ConsecutiveFailures(1), None),
    ];
    let mut ev = Evaluator::new(&alerts, &monitors);
    let fired = ev.observe("shop-origin", &sample(0, Cause::Http502), at(0));
    let names: Vec<_> = fired.iter().map(|t| t.alert.as_str()).collect();
    assert_eq!(names, ["shop", "all"]);
    let fired = ev.observe("db", &sample(0, Cause::ConnectRefused), at(0));
    assert_eq!(fired.len(), 1);
    assert!(
        ev.observe("other", &sample(0, Cause::Http502), at(0))
            .is_empty()
    );
}

#[test]
fn a_restored_incident_does_not_fire_twice_and_still_resolves() {
    let mut ev = evaluator(error_rate(0.5, 300, Some(3)), None);
    ev.restore_firing("a", "shop-edge");
    ev.restore_firing("a", "no-such-monitor");
    let firing = [("a".to_owned(), "shop-edge".to_owned())];
    assert_eq!(ev.firing(), firing);
    // Still failing after the restart: no second Fire, and the empty
    // window (2 results < min_samples) does not resolve it either.
    assert!(run(&mut ev, 0, 10, &[Cause::Http502; 6]).is_empty());
    let transitions = run(&mut ev, 60, 10, &[Cause::Ok; 20]);
    assert_eq!(kinds(&transitions), [TransitionKind::Resolve]);
}

#[test]
fn a_reload_keeps_unchanged_pairs_and_drops_removed_ones() {
    let alerts = [
        alert(
            "down",
            &["shop-edge"],
            Condition::ConsecutiveFailures(1),
            None,
        ),
        alert(
            "gone",
            &["shop-edge"],
            Condition::ConsecutiveFailures(1),
            None,
        ),
        alert(
            "changed",
            &["shop-edge"],
            Condition::ConsecutiveFailures(1),
            None,
        ),
    ];
    let mut ev = Evaluator::new(&alerts, &monitors());
    let fired = ev.observe("shop-edge", &sample(0, Cause::Http502), at(0));
    assert_eq!(fired.len(), 3);
    let reloaded = [
        alert(
            "down",
            &["shop-edge"],
            Condition::ConsecutiveFailures(1),
            Some(30),
        ),
        alert(
            "changed",
            &["shop-edge"],
            Condition::ConsecutiveFailures(2),
            None,
        ),
        alert(
            "new",
            &["shop-origin"],
            Condition::ConsecutiveFailures(1),
            None,
        ),
    ];
    ev.reconfigure(&reloaded, &monitors());
    assert_eq!(ev.firing(), [("down".to_owned(), "shop-edge".to_owned())]);
    // "down" is still firing: no second Fire. "changed" starts afresh,
    // its count too: one more failure is not two in a row yet.
    assert!(
        ev.observe("shop-edge", &sample(10, Cause::Http502), at(10))
            .is_empty()
    );
    let fired = ev.observe("shop-edge", &sample(20, Cause::Http502), at(20));
    let names: Vec<_> = fired.iter().map(|t| (t.alert.as_str(), t.kind)).collect();
    assert_eq!(names, [("changed", TransitionKind::Fire)]);
}

#[test]
fn samples_are_read_from_results() {
    let mut result = CheckResult::new(at(5), Cause::TooSlow);
    result.latency_ms = 912.5;
    let s = Sample::from(&result);
    assert_eq!(
        (s.at, s.cause, s.latency_ms, s.cert_days_left),
        (at(5), Cause::TooSlow, 912.5, None)
    );
}

#[test]
fn a_firing_streak_stays_firing_while_the_target_flaps() {
    let mut ev = evaluator(Condition::ConsecutiveFailures(3), None);
    let fired = run(&mut ev, 0, 10, &[Cause::Http502; 3]);
    assert_eq!(kinds(&fired), [TransitionKind::Fire]);
    assert!(run(&mut ev, 30, 10, &flapping(101)).is_empty());
    let resolved = run(&mut ev, 2000, 10, &[Cause::Ok, Cause::Ok, Cause::Ok]);
    assert_eq!(kinds(&resolved), [TransitionKind::Resolve]);
    assert_eq!((resolved[0].at, resolved[0].value), (at(2010), 0.0));
}
