//! One alert condition for one monitor: its config in comparable form, the
//! sliding window it reads, and what it says after each result.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use super::Sample;
use crate::config::schema::Condition;

/// The most results one window keeps. A window that would hold more (a 1s
/// interval under a 4h window) drops its oldest results early, so it reads
/// as "the newest 10,000 results": memory stays bounded per (alert, monitor).
pub const WINDOW_CAP: usize = 10_000;

/// What is counted by a rate condition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateOf {
    /// `error_rate`: any failure.
    Errors,
    /// `status_5xx_rate`: a 5xx answer.
    Status5xx,
}

/// A condition with its defaults filled in and its units converted to the
/// ones transitions report (shares 0..1, milliseconds, days). Unlike the
/// config type it compares, which is how a reload tells an unchanged rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// This many failures in a row.
    Streak(u32),
    /// A share of the results in a window above a threshold.
    Rate {
        of: RateOf,
        above: f64,
        window: Duration,
        min_samples: usize,
    },
    /// A latency percentile in a window above a threshold, in ms.
    Latency {
        percentile: f64,
        above_ms: f64,
        window: Duration,
        min_samples: usize,
    },
    /// Certificate days left below a threshold.
    CertExpiry { below_days: f64 },
}

impl Spec {
    /// Reads the config; out-of-range values were refused by validation
    /// and are clamped here rather than trusted.
    pub fn from_config(condition: &Condition) -> Spec {
        let min = |n: Option<u32>| n.unwrap_or(1).max(1) as usize;
        match condition {
            Condition::ConsecutiveFailures(n) => Spec::Streak((*n).max(1)),
            Condition::ErrorRate(rate) | Condition::Status5xxRate(rate) => Spec::Rate {
                of: match condition {
                    Condition::Status5xxRate(_) => RateOf::Status5xx,
                    _ => RateOf::Errors,
                },
                above: rate.above.0,
                window: rate.window,
                min_samples: min(rate.min_samples),
            },
            Condition::Latency(latency) => Spec::Latency {
                percentile: latency.percentile.unwrap_or(95.0).clamp(1.0, 100.0),
                above_ms: latency.above.as_secs_f64() * 1000.0,
                window: latency.window,
                min_samples: min(latency.min_samples),
            },
            Condition::CertExpiry(cert) => Spec::CertExpiry {
                below_days: cert.below.as_secs_f64() / 86_400.0,
            },
        }
    }

    /// The number a transition reports as its threshold.
    pub fn threshold(&self) -> f64 {
        match self {
            Spec::Streak(n) => f64::from(*n),
            Spec::Rate { above, .. } => *above,
            Spec::Latency { above_ms, .. } => *above_ms,
            Spec::CertExpiry { below_days } => *below_days,
        }
    }
}

/// What a condition says after a result, with its current value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    /// The condition is met.
    Holds(f64),
    /// It is not.
    Clear(f64),
    /// Failures in a row, but fewer than needed: not met, yet no sign
    /// that an outage is over either (see `Pair::after_result`).
    Rising(f64),
    /// Too few results in the window to judge (`min_samples`).
    Unjudged(f64),
}

impl Reading {
    /// The value, whatever the judgement.
    pub fn value(self) -> f64 {
        match self {
            Reading::Holds(v) | Reading::Clear(v) | Reading::Rising(v) | Reading::Unjudged(v) => v,
        }
    }
}

/// Timed values, oldest first, slid by time and capped at [`WINDOW_CAP`].
#[derive(Debug, Clone, Default)]
pub struct Window<T> {
    span: Duration,
    items: VecDeque<(SystemTime, T)>,
}

impl<T: Copy> Window<T> {
    fn new(span: Duration) -> Self {
        Window {
            span,
            items: VecDeque::new(),
        }
    }

    /// Adds a value and returns the ones pushed out by the cap.
    fn push(&mut self, at: SystemTime, value: T) -> Option<T> {
        // Results of one monitor arrive in order; a late one (a re-check
        // finishing after the next run) is placed by time all the same.
        let place = self.items.partition_point(|(t, _)| *t <= at);
        self.items.insert(place, (at, value));
        (self.items.len() > WINDOW_CAP)
            .then(|| self.items.pop_front().map(|(_, v)| v))
            .flatten()
    }

    /// Drops values older than `now - span` and hands each to `gone`.
    fn expire(&mut self, now: SystemTime, mut gone: impl FnMut(T)) {
        let Some(start) = now.checked_sub(self.span) else {
            return;
        };
        while let Some((at, value)) = self.items.front().copied() {
            if at >= start {
                break;
            }
            self.items.pop_front();
            gone(value);
        }
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// The running state of one condition.
#[derive(Debug, Clone)]
pub enum Meter {
    /// Failures in a row so far.
    Streak(u32),
    /// Per result: whether it counts against the rate; and how many do.
    Rate { window: Window<bool>, hits: usize },
    /// Latencies of the results in the window.
    Latency(Window<f64>),
    /// Days left at the last result that had a certificate.
    Cert(Option<f64>),
}

impl Meter {
    /// Empty state for `spec`.
    pub fn new(spec: &Spec) -> Meter {
        match spec {
            Spec::Streak(_) => Meter::Streak(0),
            Spec::Rate { window, .. } => Meter::Rate {
                window: Window::new(*window),
                hits: 0,
            },
            Spec::Latency { window, .. } => Meter::Latency(Window::new(*window)),
            Spec::CertExpiry { .. } => Meter::Cert(None),
        }
    }

    /// Takes in one result. Returns false when the result says nothing to
    /// this condition (an `unknown` result; no certificate seen), so that
    /// it neither starts nor clears anything.
    pub fn record(&mut self, spec: &Spec, sample: &Sample) -> bool {
        if sample.cause == crate::monitor::Cause::Unknown {
            return false;
        }
        match (self, spec) {
            (Meter::Streak(count), _) if sample.cause.is_failure() => {
                *count = count.saturating_add(1)
            }
            (Meter::Streak(count), _) => *count = 0,
            (Meter::Rate { window, hits }, Spec::Rate { of, .. }) => {
                let hit = match of {
                    RateOf::Errors => sample.cause.is_failure(),
                    RateOf::Status5xx => sample.cause.is_5xx(),
                };
                *hits += usize::from(hit);
                if window.push(sample.at, hit) == Some(true) {
                    *hits -= 1;
                }
            }
            (Meter::Latency(window), _) => {
                window.push(sample.at, sample.latency_ms);
            }
            (Meter::Cert(last), _) => match sample.cert_days_left {
                Some(days) => *last = Some(days),
                None => return false,
            },
            // A meter is always built from its own spec.
            (Meter::Rate { .. }, _) => return false,
        }
        true
    }

    /// Lets results older than the window fall out.
    pub fn expire(&mut self, now: SystemTime) {
        match self {
            Meter::Rate { window, hits } => window.expire(now, |hit| *hits -= usize::from(hit)),
            Meter::Latency(window) => window.expire(now, |_| ()),
            Meter::Streak(_) | Meter::Cert(_) => {}
        }
    }

    /// Judges the condition on the current state.
    pub fn read(&self, spec: &Spec) -> Reading {
        let threshold = spec.threshold();
        let (min_samples, percentile) = match spec {
            Spec::Rate { min_samples, .. } => (*min_samples, 0.0),
            Spec::Latency {
                min_samples,
                percentile,
                ..
            } => (*min_samples, *percentile),
            Spec::Streak(_) | Spec::CertExpiry { .. } => (1, 0.0),
        };
        match self {
            Meter::Streak(0) => Reading::Clear(0.0),
            Meter::Streak(count) if f64::from(*count) >= threshold => {
                Reading::Holds(f64::from(*count))
            }
            Meter::Streak(count) => Reading::Rising(f64::from(*count)),
            Meter::Rate { window, hits } => {
                let share = *hits as f64 / window.len().max(1) as f64;
                judge(share, window.len(), min_samples, share > threshold)
            }
            Meter::Latency(window) => {
                let value = nearest_rank(window, percentile);
                judge(value, window.len(), min_samples, value > threshold)
            }
            Meter::Cert(Some(days)) => judge(*days, 1, 1, *days < threshold),
            Meter::Cert(None) => Reading::Unjudged(0.0),
        }
    }
}

fn judge(value: f64, samples: usize, min_samples: usize, above: bool) -> Reading {
    match (samples >= min_samples, above) {
        (false, _) => Reading::Unjudged(value),
        (true, true) => Reading::Holds(value),
        (true, false) => Reading::Clear(value),
    }
}

/// The nearest-rank percentile (the smallest value with at least
/// `percentile`% of values at or below it): exact, and always a latency
/// that was really measured. 0 for an empty window.
fn nearest_rank(window: &Window<f64>, percentile: f64) -> f64 {
    let mut values: Vec<f64> = window.items.iter().map(|(_, v)| *v).collect();
    if values.is_empty() {
        return 0.0;
    }
    let rank = (percentile / 100.0 * values.len() as f64).ceil() as usize;
    let index = rank.clamp(1, values.len()) - 1;
    let (_, value, _) = values.select_nth_unstable_by(index, f64::total_cmp);
    *value
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::config::schema::{CertExpiryCondition, LatencyCondition, RateCondition};
    use crate::config::values::Percent;
    use crate::monitor::Cause;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
    }

    fn sample(secs: u64, cause: Cause, latency_ms: f64) -> Sample {
        Sample {
            at: at(secs),
            cause,
            latency_ms,
            cert_days_left: None,
        }
    }

    /// Feeds samples (each expiring the window at its own time) and reads.
    fn feed(spec: &Spec, samples: &[Sample]) -> (Meter, Reading) {
        let mut meter = Meter::new(spec);
        for s in samples {
            meter.expire(s.at);
            meter.record(spec, s);
        }
        let reading = meter.read(spec);
        (meter, reading)
    }

    fn rate(of: RateOf, above: f64, window: u64, min_samples: usize) -> Spec {
        let window = Duration::from_secs(window);
        Spec::Rate {
            of,
            above,
            window,
            min_samples,
        }
    }

    #[test]
    fn config_is_read_with_defaults_and_units() {
        let window = Duration::from_secs(300);
        let (above, min_samples) = (Percent(0.05), None);
        let rate = RateCondition {
            above,
            window,
            min_samples,
        };
        let spec = Spec::from_config(&Condition::Status5xxRate(rate));
        assert_eq!(spec, self::rate(RateOf::Status5xx, 0.05, 300, 1));
        let (above, min_samples) = (Duration::from_millis(800), Some(0));
        let latency = LatencyCondition {
            percentile: None,
            above,
            window,
            min_samples,
        };
        let spec = Spec::from_config(&Condition::Latency(latency));
        let (percentile, above_ms, min_samples) = (95.0, 800.0, 1);
        assert_eq!(
            spec,
            Spec::Latency {
                percentile,
                above_ms,
                window,
                min_samples
            }
        );
        assert_eq!(spec.threshold(), 800.0);
        let below = Duration::from_secs(14 * 86_400);
        let spec = Spec::from_config(&Condition::CertExpiry(CertExpiryCondition { below }));
        assert_eq!(spec.threshold(), 14.0);
    }

    #[test]
    fn a_rate_excludes_unknown_and_slides_by_time() {
        let spec = rate(RateOf::Errors, 0.4, 60, 1);
        let samples = [
            sample(0, Cause::Http502, 1.0),
            sample(10, Cause::Ok, 1.0),
            sample(20, Cause::Unknown, 1.0),
            sample(30, Cause::Timeout, 1.0),
        ];
        let (mut meter, reading) = feed(&spec, &samples);
        let two_thirds = 2.0 / 3.0;
        assert_eq!(reading, Reading::Holds(two_thirds));
        // At 65s the failure at 0s is out; at 91s the window is empty.
        meter.expire(at(65));
        assert_eq!(meter.read(&spec), Reading::Holds(0.5));
        meter.expire(at(91));
        assert_eq!(meter.read(&spec), Reading::Unjudged(0.0));
    }

    #[test]
    fn a_5xx_rate_counts_only_5xx_answers() {
        let spec = rate(RateOf::Status5xx, 0.3, 300, 4);
        let causes = [Cause::Http503, Cause::Timeout, Cause::Ok, Cause::Http5xx];
        let samples: Vec<_> = causes.iter().map(|c| sample(1, *c, 1.0)).collect();
        assert_eq!(feed(&spec, &samples).1, Reading::Holds(0.5));
        assert_eq!(feed(&spec, &samples[..3]).1, Reading::Unjudged(1.0 / 3.0));
    }

    fn latency_spec(percentile: f64) -> Spec {
        Spec::Latency {
            percentile,
            above_ms: 800.0,
            window: Duration::from_secs(600),
            min_samples: 1,
        }
    }

    #[test]
    fn the_latency_percentile_is_the_nearest_rank() {
        let read = |percentile, samples: &[Sample]| feed(&latency_spec(percentile), samples).1;
        // 18 fast and 2 slow: the 95th percentile (rank 19 of 20) is slow.
        let mut samples: Vec<_> = (0..18).map(|i| sample(i, Cause::Ok, 100.0)).collect();
        samples.push(sample(18, Cause::TooSlow, 1500.0));
        samples.push(sample(19, Cause::Ok, 1200.0));
        assert_eq!(read(95.0, &samples), Reading::Holds(1200.0));
        assert_eq!(read(50.0, &samples), Reading::Clear(100.0));
        // One slow result of 20 stays under p95.
        samples[19] = sample(19, Cause::Ok, 90.0);
        assert_eq!(read(95.0, &samples), Reading::Clear(100.0));
        assert_eq!(read(100.0, &samples), Reading::Holds(1500.0));
    }

    #[test]
    fn a_window_keeps_at_most_the_cap_and_places_late_results() {
        let spec = latency_spec(100.0);
        let mut meter = Meter::new(&spec);
        meter.record(&spec, &sample(0, Cause::Ok, 5000.0));
        for i in 0..WINDOW_CAP as u64 {
            meter.record(&spec, &sample(1 + i / 100, Cause::Ok, 10.0));
        }
        // The oldest (the slow one) was pushed out by the cap.
        assert_eq!(meter.read(&spec), Reading::Clear(10.0));
        let Meter::Latency(window) = &meter else {
            panic!("a latency meter");
        };
        assert_eq!(window.len(), WINDOW_CAP);
        let mut window = Window::new(Duration::from_secs(60));
        for secs in [10, 30, 20] {
            window.push(at(secs), secs);
        }
        let order: Vec<_> = window.items.iter().map(|(_, v)| *v).collect();
        assert_eq!(order, [10, 20, 30]);
    }
}
