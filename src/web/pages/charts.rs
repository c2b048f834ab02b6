//! The monitor page's charts as inline SVG: hourly p50/p95 latency of the
//! last 48 hours, and the phases of the last checks as stacked bars.

use maud::{Markup, html};

use super::format;
use crate::monitor::{CheckResult, Phases};
use crate::store::HourLatency;

/// Chart size in viewBox units; the SVG scales to its box (CSS width 100%).
const W: f64 = 420.0;
const H: f64 = 180.0;
/// Plot area: room on the left for the y labels, below for the x labels.
const LEFT: f64 = 46.0;
const RIGHT: f64 = 412.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 150.0;

/// The smallest 1, 2 or 5 times a power of ten at or above `value`, so the
/// y axis ends on a round number.
fn nice_ceiling(value: f64) -> f64 {
    if !value.is_finite() || value <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|v| *v >= value)
        .unwrap_or(10.0 * power)
}

/// The y axis: gridlines and labels at 0, half and the top.
fn y_axis(top_ms: f64) -> Markup {
    html! {
        @for share in [0.0, 0.5, 1.0] {
            @let y = BOTTOM - share * (BOTTOM - TOP);
            line.grid x1=(LEFT) x2=(RIGHT) y1=(y) y2=(y) {}
            text x=(LEFT - 4.0) y=(y + 4.0) text-anchor="end" {
                @if share == 0.0 { "0" } @else { (format::ms(share * top_ms)) }
            }
        }
    }
}

/// The text anchor of an x-axis label at `x`: a label is about 60 units wide.
fn anchor(x: f64) -> &'static str {
    if x < LEFT + 30.0 {
        "start"
    } else if x > RIGHT - 30.0 {
        "end"
    } else {
        "middle"
    }
}

/// Hourly latency of the hours `first..=last` (hour numbers since the
/// epoch); hours without data leave a gap in the lines.
pub fn latency(hours: &[HourLatency], first: i64, last: i64) -> Markup {
    if hours.is_empty() {
        return html! { p.empty { "No checks in the last 48 hours." } };
    }
    let ms = |us: i64| us as f64 / 1000.0;
    let top = nice_ceiling(
        hours
            .iter()
            .map(|h| ms(h.p95_us.max(h.p50_us)))
            .fold(0.0, f64::max),
    );
    let span = (last - first).max(1) as f64;
    let x = |hour: i64| LEFT + (hour - first) as f64 / span * (RIGHT - LEFT);
    let y = |value: f64| BOTTOM - (value / top).min(1.0) * (BOTTOM - TOP);
    let path = |pick: fn(&HourLatency) -> i64| {
        let mut d = String::new();
        let mut previous = None;
        for h in hours {
            let verb = if previous == Some(h.hour - 1) {
                'L'
            } else {
                'M'
            };
            d.push_str(&format!("{verb}{:.1} {:.1}", x(h.hour), y(ms(pick(h)))));
            previous = Some(h.hour);
        }
        d
    };
    let label = format!(
        "Latency per hour over the last 48 hours: median {} to {}, 95th percentile up to {}",
        format::ms(
            hours
                .iter()
                .map(|h| ms(h.p50_us))
                .fold(f64::INFINITY, f64::min)
        ),
        format::ms(hours.iter().map(|h| ms(h.p50_us)).fold(0.0, f64::max)),
        format::ms(hours.iter().map(|h| ms(h.p95_us)).fold(0.0, f64::max)),
    );
    html! {
        svg.chart.latency role="img" aria-label=(label) viewBox={ "0 0 " (W) " " (H) } {
            (y_axis(top))
            // A tick and a label every 12 hours, the newest hour last.
            // Labels at 00:00 and 12:00 UTC; one near an edge is anchored
            // to it instead of overflowing.
            @for hour in (first..=last).filter(|h| h % 12 == 0) {
                @let at = x(hour);
                text x=(format!("{at:.1}")) y=(BOTTOM + 16.0) text-anchor=(anchor(at)) {
                    (format::utc(crate::clock::from_unix_ms(hour * 3_600_000))[5..16].replace(' ', "\u{a0}"))
                }
            }
            path.p95 d=(path(|h| h.p95_us)) {}
            path.p50 d=(path(|h| h.p50_us)) {}
            @for h in hours {
                g {
                    title {
                        (format::utc(crate::clock::from_unix_ms(h.hour * 3_600_000)))
                        ": median " (format::ms(ms(h.p50_us))) ", p95 " (format::ms(ms(h.p95_us)))
                    }
                    circle.p95 cx=(format!("{:.1}", x(h.hour))) cy=(format!("{:.1}", y(ms(h.p95_us)))) r="2.5" {}
                    circle.p50 cx=(format!("{:.1}", x(h.hour))) cy=(format!("{:.1}", y(ms(h.p50_us)))) r="2.5" {}
                }
            }
        }
        p.legend {
            span { span.key.k-p50 aria-hidden="true" {} "median (p50), solid" }
            span { span.key.k-p95 aria-hidden="true" {} "95th percentile (p95), dashed" }
        }
    }
}

/// Stacked bars of the phases of `checks` (newest first, as stored), one
/// column per check, oldest on the left; failed checks get a red foot.
pub fn phases(checks: &[CheckResult]) -> Markup {
    if checks.is_empty() {
        return html! { p.empty { "No checks yet." } };
    }
    let top = nice_ceiling(
        checks
            .iter()
            .map(|c| c.phases_ms.values().iter().sum::<f64>())
            .fold(0.0, f64::max),
    );
    let step = (RIGHT - LEFT) / checks.len().max(30) as f64;
    let mut averages = [0.0; 5];
    for check in checks {
        for (sum, value) in averages.iter_mut().zip(check.phases_ms.values()) {
            *sum += value / checks.len() as f64;
        }
    }
    let label = format!(
        "Phases of the last {}: on average {}",
        format::count(checks.len(), "check"),
        Phases::NAMES
            .iter()
            .zip(averages)
            .map(|(name, avg)| format!("{name} {}", format::ms(avg)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    html! {
        svg.chart.phases role="img" aria-label=(label) viewBox={ "0 0 " (W) " " (H) } {
            (y_axis(top))
            text x=(LEFT) y=(BOTTOM + 16.0) { "oldest" }
            text x=(RIGHT) y=(BOTTOM + 16.0) text-anchor="end" { "newest" }
            @for (i, check) in checks.iter().rev().enumerate() {
                @let x = LEFT + i as f64 * step + step * 0.15;
                g {
                    title { (column_title(check)) }
                    @for (segment, (bottom, height)) in stack(&check.phases_ms, top).into_iter().enumerate() {
                        @if height > 0.0 {
                            rect class={ "ph" (segment) } x=(format!("{x:.1}")) width=(format!("{:.1}", step * 0.7))
                                y=(format!("{:.1}", bottom - height)) height=(format!("{height:.1}")) {}
                        }
                    }
                    @if !check.ok {
                        rect.fail x=(format!("{x:.1}")) width=(format!("{:.1}", step * 0.7)) y=(BOTTOM + 2.0) height="4" {}
                    }
                }
            }
        }
        ul.legend {
            @for (i, (name, avg)) in Phases::NAMES.iter().zip(averages).enumerate() {
                li { span class={ "key ph" (i) } aria-hidden="true" {} (name) " " (format::ms(avg)) " avg" }
            }
            li { span.key.k-fail aria-hidden="true" {} "failed check" }
        }
    }
}

/// (bottom, height) in viewBox units of each phase, stacked from the axis up.
fn stack(phases: &Phases, top: f64) -> [(f64, f64); 5] {
    let mut out = [(0.0, 0.0); 5];
    let mut bottom = BOTTOM;
    for (slot, value) in out.iter_mut().zip(phases.values()) {
        let height = value.max(0.0) / top * (BOTTOM - TOP);
        *slot = (bottom, height);
        bottom -= height;
    }
    out
}

/// `2026-01-31 12:34 UTC, ok: 42 ms = dns 1.0 ms + connect ...`.
fn column_title(check: &CheckResult) -> String {
    let parts: Vec<String> = Phases::NAMES
        .iter()
        .zip(check.phases_ms.values())
        .map(|(name, value)| format!("{name} {}", format::ms(value)))
        .collect();
    format!(
        "{}, {}: {} = {}",
        format::utc(check.at),
        check.cause.as_str(),
        format::ms(check.latency_ms),
        parts.join(" + ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.3), 10.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(450.0), 500.0);
    }

    #[test]
    fn gaps_in_the_hours_break_the_line() {
        let hour = |h, p50, p95| HourLatency {
            hour: h,
            p50_us: p50,
            p95_us: p95,
        };
        let svg = latency(
            &[
                hour(10, 1_000, 2_000),
                hour(11, 1_000, 3_000),
                hour(14, 500, 900),
            ],
            10,
            57,
        )
        .into_string();
        let p50 = svg.split("class=\"p50\" d=\"").nth(1).expect("a p50 path");
        let d = &p50[..p50.find('"').expect("end of d")];
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 1, "{d}");
        assert!(svg.contains("95th percentile up to 3.0 ms"), "{svg}");
    }
}
