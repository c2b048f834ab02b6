//! Numbers and times as the pages print them: latencies, uptimes, UTC
//! timestamps and "5 min ago"; plain strings, escaped by the templates.

use std::time::{Duration, SystemTime};

/// A latency: `0.4 ms`, `87 ms`, `1.24 s`.
pub fn ms(value: f64) -> String {
    if !value.is_finite() || value < 0.0 {
        "–".to_owned()
    } else if value < 10.0 {
        format!("{value:.1} ms")
    } else if value < 1_000.0 {
        format!("{value:.0} ms")
    } else {
        format!("{:.2} s", value / 1_000.0)
    }
}

/// An uptime share as a percentage with two decimals, `–` without data.
/// Anything short of all is never rounded up to `100.00%`: one failure in
/// 100,000 checks must not read as perfect.
pub fn pct(share: Option<f64>) -> String {
    match share {
        None => "–".to_owned(),
        Some(share) if share >= 1.0 => "100%".to_owned(),
        Some(share) => format!("{:.2}%", (share * 10_000.0).floor() / 100.0),
    }
}

/// `1 day`, `3 days`.
pub fn count(n: usize, singular: &str) -> String {
    match n {
        1 => format!("1 {singular}"),
        _ => format!("{n} {singular}s"),
    }
}

/// `2026-01-31 12:34 UTC`.
pub fn utc(at: SystemTime) -> String {
    let text = crate::clock::rfc3339_seconds(at);
    format!("{} {} UTC", &text[..10], &text[11..16])
}

/// The RFC 3339 form for `<time datetime>`.
pub fn rfc3339(at: SystemTime) -> String {
    crate::clock::rfc3339_seconds(at)
}

/// The date of a day number since the epoch: `2026-01-31`.
pub fn date(day: i64) -> String {
    crate::clock::date(day)
}

/// A span in the largest fitting unit: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub fn span(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..60 => format!("{secs} s"),
        60..3_600 => format!("{} min", secs / 60),
        3_600..86_400 => match secs % 3_600 / 60 {
            0 => format!("{} h", secs / 3_600),
            min => format!("{} h {min} min", secs / 3_600),
        },
        _ => match secs % 86_400 / 3_600 {
            0 => format!("{} d", secs / 86_400),
            hours => format!("{} d {hours} h", secs / 86_400),
        },
    }
}

/// `5 min ago`; `just now` for a time at or after `now` (clock skew).
pub fn ago(at: SystemTime, now: SystemTime) -> String {
    match now.duration_since(at) {
        Ok(d) if d.as_secs() > 0 => format!("{} ago", span(d)),
        _ => "just now".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(ms(0.42), "0.4 ms");
        assert_eq!(ms(87.4), "87 ms");
        assert_eq!(ms(1_240.0), "1.24 s");
        assert_eq!(pct(None), "–");
        assert_eq!(pct(Some(1.0)), "100%");
        assert_eq!(pct(Some(0.99999)), "99.99%");
        assert_eq!(pct(Some(0.5)), "50.00%");
    }

    #[test]
    fn times_are_utc_and_spans_pick_a_unit() {
        let at = crate::clock::from_unix_ms(1_769_862_896_000);
        assert_eq!(utc(at), "2026-01-31 12:34 UTC");
        assert_eq!(date(20_484), "2026-01-31");
        assert_eq!(span(Duration::from_secs(45)), "45 s");
        assert_eq!(span(Duration::from_secs(3_600 + 300)), "1 h 5 min");
        assert_eq!(span(Duration::from_secs(2 * 86_400)), "2 d");
        assert_eq!(ago(at, at), "just now");
        assert_eq!(ago(at, at + Duration::from_secs(120)), "2 min ago");
    }
}
