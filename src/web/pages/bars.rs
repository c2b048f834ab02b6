//! The 90-day uptime bar: an inline SVG with one bar per day, coloured by
//! the day's worst outcome, and tooltips on transparent areas over the bars.
//!
//! A row of the status page must stay near 2 KB with full history, so the
//! bars are one `<path>` per colour (a short vertical stroke per day) and
//! the tooltips cover runs: healthy or empty days in a row share one
//! `<title>`; only a day with failures gets one of its own.

use std::fmt::Write as _;

use maud::{Markup, html};

use super::format;
use crate::store::history::Counts;

/// Width of one day in viewBox units; a bar takes 2 of its 3.
const STEP: usize = 3;
/// Width of a bar in viewBox units; the stroke width in `style.css`.
const BAR: usize = 2;
/// Height of the bars in viewBox units (stretched to the CSS height); one
/// digit keeps the path data short.
const HEIGHT: usize = 9;

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

    /// The CSS class; healthy days take the default colour to save bytes on
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

    /// Whether days like this one in a row share a tooltip: they do unless
    /// something failed, as each failing day's numbers matter on their own.
    fn merges(self) -> bool {
        matches!(self, Day::NoData | Day::Unknown | Day::Ok)
    }
}

/// The bar for `days` (oldest first, as `History::daily_bars` returns them).
pub fn daily(days: &[(i64, Option<Counts>)]) -> Markup {
    let width = days.len() * STEP;
    html! {
        svg.bars role="img" aria-label=(label(days)) viewBox={ "0 0 " (width) " " (HEIGHT) }
            preserveAspectRatio="none" {
            @for (day, d) in paths(days) {
                path class=[day.class()] d=(d) {}
            }
            @for (start, len, text) in tooltips(days) {
                rect x=(start * STEP) width=(len * STEP) height=(HEIGHT) { title { (text) } }
            }
        }
    }
}

/// `90 days of uptime: 99.95% over 90 days with data; 3 days with failures`.
fn label(days: &[(i64, Option<Counts>)]) -> String {
    let judged: Vec<&Counts> = days
        .iter()
        .filter_map(|(_, c)| c.as_ref().filter(|c| c.total > 0))
        .collect();
    let bad = judged.iter().filter(|c| c.failed > 0).count();
    match judged.len() {
        0 => format!("{} days of uptime: no data yet", days.len()),
        n => format!(
            "{} days of uptime: {} over {} with data; {} with failures",
            days.len(),
            format::pct(sum(judged.into_iter()).uptime()),
            format::count(n, "day"),
            format::count(bad, "day"),
        ),
    }
}

/// The path data of each colour: per day a move to the top of its bar and
/// a vertical line down, stroked `BAR` wide (a stroke takes half the bytes
/// of a filled rectangle). Moves are relative, so most read `m3-9v9`.
fn paths(days: &[(i64, Option<Counts>)]) -> Vec<(Day, String)> {
    // (colour, path data, x of its last bar)
    let mut paths: Vec<(Day, String, Option<usize>)> = Vec::new();
    for (i, (_, counts)) in days.iter().enumerate() {
        let day = Day::of(counts.as_ref());
        let x = i * STEP + BAR / 2;
        let at = match paths.iter().position(|(d, ..)| *d == day) {
            Some(at) => at,
            None => {
                paths.push((day, String::new(), None));
                paths.len() - 1
            }
        };
        let (_, d, last) = &mut paths[at];
        // A first `m` in path data is absolute; after `v` the pen is at the
        // bottom of the previous bar.
        let _ = match *last {
            None => write!(d, "m{x} 0v{HEIGHT}"),
            Some(last) => write!(d, "m{}-{HEIGHT}v{HEIGHT}", x - last),
        };
        *last = Some(x);
    }
    paths.into_iter().map(|(day, d, _)| (day, d)).collect()
}

/// The hover areas: (first day's index, days, text). A run of days of one
/// colour without failures is one area; a day with failures is its own.
fn tooltips(days: &[(i64, Option<Counts>)]) -> Vec<(usize, usize, String)> {
    let mut start = 0;
    days.chunk_by(|(_, a), (_, b)| {
        let day = Day::of(a.as_ref());
        day.merges() && day == Day::of(b.as_ref())
    })
    .map(|run| {
        let area = (start, run.len(), tooltip(run));
        start += run.len();
        area
    })
    .collect()
}

/// A run's tooltip: `Aug 27 – Nov 25: all 129,600 checks passed`, or a
/// failing day's: `Sep 3: 1,440 checks, 4 failed, 99.72% up`.
fn tooltip(run: &[(i64, Option<Counts>)]) -> String {
    let (Some((first, counts)), Some((last, _))) = (run.first(), run.last()) else {
        return String::new();
    };
    let dates = if first == last {
        short_date(*first)
    } else {
        format!("{} – {}", short_date(*first), short_date(*last))
    };
    let c = sum(run.iter().filter_map(|(_, c)| c.as_ref()));
    let unknown = match c.unknown {
        0 => String::new(),
        n => format!(", {} unknown", thousands(n)),
    };
    let numbers = match Day::of(counts.as_ref()) {
        Day::NoData => "no data".to_owned(),
        Day::Unknown => format!("all {} checks unknown", thousands(c.total)),
        Day::Ok if c.unknown == 0 => format!("all {} checks passed", thousands(c.total)),
        Day::Ok => format!(
            "{} checks, none failed{unknown}, {} up",
            thousands(c.total),
            format::pct(c.uptime())
        ),
        Day::Some | Day::Many => format!(
            "{} checks, {} failed{unknown}, {} up",
            thousands(c.total),
            thousands(c.failed),
            format::pct(c.uptime())
        ),
    };
    format!("{dates}: {numbers}")
}

/// The counts of several days together.
fn sum<'a>(days: impl Iterator<Item = &'a Counts>) -> Counts {
    days.fold(Counts::default(), |sum, c| Counts {
        total: sum.total.saturating_add(c.total),
        ok: sum.ok.saturating_add(c.ok),
        failed: sum.failed.saturating_add(c.failed),
        unknown: sum.unknown.saturating_add(c.unknown),
    })
}

/// `Aug 27`: the tooltips cover at most 90 days, so the year would only
/// add bytes; the summary and the axis say where the bar ends.
fn short_date(day: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let iso = format::date(day);
    let month = iso.get(5..7).and_then(|m| m.parse::<usize>().ok());
    let date = iso.get(8..10).and_then(|d| d.parse::<u8>().ok());
    match (month.and_then(|m| MONTHS.get(m.wrapping_sub(1))), date) {
        (Some(month), Some(date)) => format!("{month} {date}"),
        _ => iso,
    }
}

/// `12,960`.
fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
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
    fn numbers_and_dates_read_short() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_440), "1,440");
        assert_eq!(thousands(129_600), "129,600");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(short_date(20_484), "Jan 31");
        assert_eq!(short_date(20_485), "Feb 1");
    }

    /// 2026-01-31 on: 2 empty days, 3 healthy, 1 with a few failures, 1
    /// healthy with unknowns, 1 with many failures, 2 healthy.
    fn ten_days() -> Vec<(i64, Option<Counts>)> {
        let day = [
            None,
            None,
            Some(counts(1440, 1440, 0)),
            Some(counts(1440, 1440, 0)),
            Some(counts(1440, 1440, 0)),
            Some(counts(2880, 2877, 3)),
            Some(counts(1440, 1430, 0)),
            Some(counts(1440, 1350, 90)),
            Some(counts(1440, 1440, 0)),
            Some(counts(1440, 1440, 0)),
        ];
        day.into_iter()
            .enumerate()
            .map(|(i, c)| (20_484 + i as i64, c))
            .collect()
    }

    #[test]
    fn each_colour_is_one_path_with_a_bar_per_day() {
        let paths = paths(&ten_days());
        let d = |day| &paths.iter().find(|(d, _)| *d == day).expect("a path").1;
        assert_eq!(paths.len(), 4);
        assert_eq!(d(Day::NoData), "m1 0v9m3-9v9");
        assert_eq!(d(Day::Ok), "m7 0v9m3-9v9m3-9v9m6-9v9m6-9v9m3-9v9");
        assert_eq!(d(Day::Some), "m16 0v9");
        assert_eq!(d(Day::Many), "m22 0v9");
        let bars: usize = paths.iter().map(|(_, d)| d.matches('m').count()).sum();
        assert_eq!(bars, 10);
    }

    #[test]
    fn healthy_runs_share_a_tooltip_and_failing_days_have_their_own() {
        let tips = tooltips(&ten_days());
        let expected = [
            (0, 2, "Jan 31 – Feb 1: no data"),
            (2, 3, "Feb 2 – Feb 4: all 4,320 checks passed"),
            (5, 1, "Feb 5: 2,880 checks, 3 failed, 99.89% up"),
            (
                6,
                1,
                "Feb 6: 1,440 checks, none failed, 10 unknown, 99.30% up",
            ),
            (7, 1, "Feb 7: 1,440 checks, 90 failed, 93.75% up"),
            (8, 2, "Feb 8 – Feb 9: all 2,880 checks passed"),
        ];
        let tips: Vec<_> = tips.iter().map(|(s, l, t)| (*s, *l, t.as_str())).collect();
        assert_eq!(tips, expected);
    }

    #[test]
    fn the_svg_has_a_summary_paths_and_titled_areas() {
        let svg = daily(&ten_days()).into_string();
        assert!(
            svg.starts_with(
                "<svg class=\"bars\" role=\"img\" aria-label=\"10 days of uptime: \
                 99.20% over 8 days with data; 2 days with failures\" viewBox=\"0 0 30 9\""
            ),
            "{svg}"
        );
        assert_eq!(svg.matches("<path ").count(), 4, "{svg}");
        assert_eq!(svg.matches("<rect ").count(), 6, "{svg}");
        assert_eq!(svg.matches("<title>").count(), 6, "{svg}");
        assert!(
            svg.contains("<rect x=\"6\" width=\"9\" height=\"9\"><title>Feb 2 – Feb 4: all"),
            "{svg}"
        );
    }

    #[test]
    fn a_healthy_quarter_costs_under_a_kilobyte_and_a_half() {
        let mut days: Vec<_> = (0..90)
            .map(|i| (20_400 + i, Some(counts(1440, 1440, 0))))
            .collect();
        days[30].1 = Some(counts(1440, 1436, 4));
        days[61].1 = Some(counts(1440, 1300, 140));
        let svg = daily(&days).into_string();
        assert!(svg.len() < 1_500, "{} bytes: {svg}", svg.len());
    }
}
