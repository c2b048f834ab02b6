//! Go durations (`30s`, `1h30m`, `1.5h`), as Gatus writes them, read and
//! written back in a spelling hopwatch's humantime parser takes.

use std::time::Duration;

use super::model::Value;

/// Parses a Go duration: a sequence of decimal numbers with units `ns`,
/// `us`, `µs`, `ms`, `s`, `m`, `h`; `0` alone is zero. No sign.
pub(crate) fn go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    // Each pass reads one number and unit, so the loop ends with the text.
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * nanos_per;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return None;
    }
    Some(Duration::from_nanos(total.round() as u64))
}

/// A Go duration as a config value: the source's own text when hopwatch
/// reads it the same, else whole seconds or milliseconds.
pub(crate) fn duration_value(text: &str) -> Option<Value> {
    let parsed = go_duration(text)?;
    let text = text.trim();
    if crate::config::values::parse_duration(text).ok() == Some(parsed) {
        return Some(Value::Plain(text.to_owned()));
    }
    Some(Value::Plain(spell(parsed)))
}

/// `90s`, `1500ms`: an exact spelling in one unit, the largest that fits.
pub(crate) fn spell(d: Duration) -> String {
    let nanos = d.subsec_nanos();
    if nanos == 0 {
        format!("{}s", d.as_secs())
    } else if nanos.is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else if nanos.is_multiple_of(1_000) {
        format!("{}us", d.as_micros())
    } else {
        format!("{}ns", d.as_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_read_as_go_reads_them() {
        let cases = [
            ("30s", Some(30_000)),
            ("1h30m", Some(5_400_000)),
            ("1.5h", Some(5_400_000)),
            ("300ms", Some(300)),
            ("0", Some(0)),
            ("48h", Some(172_800_000)),
            ("5 m", None),
            ("", None),
            ("10", None),
            ("-1s", None),
            ("1d", None),
        ];
        for (text, want) in cases {
            let got = go_duration(text).map(|d| d.as_millis() as u64);
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn durations_keep_their_spelling_when_hopwatch_reads_it_alike() {
        assert_eq!(duration_value("30s"), Some(Value::Plain("30s".into())));
        assert_eq!(duration_value("1h30m"), Some(Value::Plain("1h30m".into())));
        assert_eq!(duration_value("1.5h"), Some(Value::Plain("1.5h".into())));
        assert_eq!(duration_value("90μs"), Some(Value::Plain("90us".into())));
        assert_eq!(duration_value("1m 30s"), None);
        assert_eq!(spell(Duration::from_millis(1500)), "1500ms");
        assert_eq!(duration_value("soon"), None);
    }
}
