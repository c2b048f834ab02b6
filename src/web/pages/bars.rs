//! The 90-day uptime bar: an inline SVG with one rect per day, coloured by
//! the day's worst outcome, each with a tooltip giving the day's numbers.

use maud::{Markup, html};

use super::format;
use crate::store::history::Counts;

/// Width of one day in viewBox units; a bar takes 2 of its 3.
const STEP: usize = 3;
/// Height of the bars in viewBox units (stretched to the CSS height).
const HEIGHT: u32 = 24;

/// How a day went, worst first wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    /// Nothing recorded.
    NoData,
    /// Only unknown results (hopwatch's own network or downtime).
    Unknown,
    /// Every judged check passed.
    Ok,
    /// Some failed, under 1 %.
    Some,
    /// 1 % or more failed.
    Many,
}

impl Day {
    /// The judgement of a day's counts.
    pub fn of(counts: Option<&Counts>) -> Day {
        match counts {
            None => Day::NoData,
            Some(c) if c.total == 0 => Day::NoData,
            Some(c) if c.failed == 0 && c.ok == 0 => Day::Unknown,
            Some(c) if c.failed == 0 => Day::Ok,
            // failed / total < 1 %, in integers.
            Some(c) if u64::from(c.failed) * 100 < u64::from(c.total) => Day::Some,
            Some(_) => Day::Many,
        }
    }

    /// The CSS class; healthy days take the default fill to save bytes on
    /// the most common bar.
    fn class(self) -> Option<&'static str> {
        match self {
            Day::NoData => Some("n"),
            Day::Unknown => Some("u"),
            Day::Ok => None,
            Day::Some => Some("w"),
            Day::Many => Some("r"),
        }
    }
}

/// The bar for `days` (oldest first, as `History::daily_bars` returns them).
pub fn daily(days: &[(i64, Option<Counts>)]) -> Markup {
    let mut sum = Counts::default();
    let (mut judged, mut bad) = (0, 0);
    for (_, counts) in days {
        if let Some(c) = counts.filter(|c| c.total > 0) {
            sum.total += c.total;
            sum.ok += c.ok;
            sum.failed += c.failed;
            judged += 1;
            bad += usize::from(c.failed > 0);
        }
    }
    let label = match judged {
        0 => format!("{} days of uptime: no data yet", days.len()),
        _ => format!(
            "{} days of uptime: {} over {} with data; {bad} with failures",
            days.len(),
            format::pct(sum.uptime()),
            format::count(judged, "day"),
        ),
    };
    let width = days.len() * STEP;
    html! {
        svg.bars role="img" aria-label=(label) viewBox={ "0 0 " (width) " " (HEIGHT) }
            preserveAspectRatio="none" {
            @for (i, (day, counts)) in days.iter().enumerate() {
                rect x=(i * STEP) width="2" height=(HEIGHT) class=[Day::of(counts.as_ref()).class()] {
                    title { (tooltip(*day, counts.as_ref())) }
                }
            }
        }
    }
}

/// `2026-01-31: 2880 checks, 3 failed, 99.89% up`.
fn tooltip(day: i64, counts: Option<&Counts>) -> String {
    match counts.filter(|c| c.total > 0) {
        None => format!("{}: no data", format::date(day)),
        Some(c) => {
            let unknown = if c.unknown > 0 {
                format!(", {} unknown", c.unknown)
            } else {
                String::new()
            };
            format!(
                "{}: {} checks, {} failed{unknown}, {} up",
                format::date(day),
                c.total,
                c.failed,
                format::pct(c.uptime())
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(total: u32, ok: u32, failed: u32) -> Counts {
        Counts {
            total,
            ok,
            failed,
            unknown: total - ok - failed,
        }
    }

    #[test]
    fn a_day_is_judged_by_its_share_of_failures() {
        assert_eq!(Day::of(None), Day::NoData);
        assert_eq!(Day::of(Some(&counts(5, 0, 0))), Day::Unknown);
        assert_eq!(Day::of(Some(&counts(100, 98, 0))), Day::Ok);
        assert_eq!(Day::of(Some(&counts(1000, 991, 9))), Day::Some);
        assert_eq!(Day::of(Some(&counts(100, 99, 1))), Day::Many);
    }

    #[test]
    fn every_day_gets_a_rect_with_a_tooltip() {
        let days = vec![(20_484, None), (20_485, Some(counts(2880, 2877, 3)))];
        let svg = daily(&days).into_string();
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("<title>2026-01-31: no data</title>"), "{svg}");
        assert!(
            svg.contains("2026-02-01: 2880 checks, 3 failed, 99.89% up"),
            "{svg}"
        );
        assert!(
            svg.contains("aria-label=\"2 days of uptime: 99.89% over 1 day with"),
            "{svg}"
        );
    }
}
