//! Time as hopwatch stores and shows it: milliseconds since the epoch, hour
//! and day numbers for rollups, and RFC 3339 text for people and the API.
//! The one home of these conversions, so every surface agrees.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The time `ms` after the Unix epoch.
pub fn from_unix_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// Hour number since the epoch.
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(3_600_000)
}

/// Day number since the epoch (UTC).
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

/// RFC 3339 with milliseconds, as every time in the API and in alerts.
pub fn rfc3339_millis(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// RFC 3339 to the second, for pages and feeds.
pub fn rfc3339_seconds(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Parses RFC 3339 with or without fractions and zone (UTC assumed).
pub fn parse_rfc3339(text: &str) -> Result<SystemTime, humantime::TimestampError> {
    humantime::parse_rfc3339_weak(text)
}

/// The date of a day number since the epoch: `2026-01-31`.
pub fn date(day: i64) -> String {
    let mut text = rfc3339_seconds(from_unix_ms(day.saturating_mul(86_400_000)));
    text.truncate(10);
    text
}

/// The day number of a civil date (proleptic Gregorian, UTC), after
/// Howard Hinnant's `days_from_civil`.
pub fn day_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The year and month (1-12) of a day number.
pub fn year_month(day: i64) -> (i64, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month)
}

/// The first day number of the month after `(year, month)`.
pub fn next_month(year: i64, month: u32) -> i64 {
    if month == 12 {
        day_from_civil(year + 1, 1, 1)
    } else {
        day_from_civil(year, month + 1, 1)
    }
}

/// The day number of a date written `YYYY-MM-DD`; `None` when it is not
/// one (a wrong shape, month 13, February 30).
pub fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let (year, month) = parse_month(&text[..7])?;
    let day: u32 = digits(&text[8..])?;
    let number = day_from_civil(year, month, day);
    (day >= 1 && number < next_month(year, month)).then_some(number)
}

/// The year and month of `YYYY-MM`.
pub fn parse_month(text: &str) -> Option<(i64, u32)> {
    let bytes = text.as_bytes();
    if bytes.len() != 7 || bytes[4] != b'-' {
        return None;
    }
    let year: u32 = digits(&text[..4])?;
    let month: u32 = digits(&text[5..])?;
    (1..=12)
        .contains(&month)
        .then_some((i64::from(year), month))
}

/// A span of time as a page says it, in UTC: `2026-12-01 02:00-03:00 UTC`
/// within one day, `2026-12-01 23:30 - 2026-12-02 01:30 UTC` across
/// midnight. Seconds show only when either end has them (a window of a few
/// seconds would otherwise read as empty).
pub fn utc_span(start: SystemTime, end: SystemTime) -> String {
    let precise = has_seconds(start) || has_seconds(end);
    let (from, to) = (utc_parts(start, precise), utc_parts(end, precise));
    if from.0 == to.0 {
        format!("{} {}-{} UTC", from.0, from.1, to.1)
    } else {
        format!("{} {} - {} {} UTC", from.0, from.1, to.0, to.1)
    }
}

/// When a span ends, seen from `now`: `03:00 UTC` on the same day, else
/// with its date.
pub fn utc_until(end: SystemTime, now: SystemTime) -> String {
    let precise = has_seconds(end);
    let (day, clock) = utc_parts(end, precise);
    if utc_parts(now, false).0 == day {
        format!("{clock} UTC")
    } else {
        format!("{day} {clock} UTC")
    }
}

fn has_seconds(at: SystemTime) -> bool {
    unix_ms(at).rem_euclid(60_000) >= 1_000
}

/// (`2026-12-01`, `02:00` or `02:00:05`).
fn utc_parts(at: SystemTime, seconds: bool) -> (String, String) {
    let text = rfc3339_seconds(at);
    let clock = if seconds {
        &text[11..19]
    } else {
        &text[11..16]
    };
    (text[..10].to_owned(), clock.to_owned())
}

/// A length of time in its two largest units: `0s`, `45s`, `12m 30s`,
/// `3h 05m`, `2d 04h` (for estimates, where more would be false precision).
pub fn short_duration(seconds: u64) -> String {
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, _) => format!("{minutes}m {secs:02}s"),
        (0, _, _) => format!("{hours}h {minutes:02}m"),
        _ => format!("{days}d {hours:02}h"),
    }
}

fn digits(text: &str) -> Option<u32> {
    text.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| text.parse().ok())
        .flatten()
}

/// `#[serde(with = "crate::clock::rfc3339")]`: a time as RFC 3339 with
/// milliseconds.
pub mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes a time.
    pub fn serialize<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_millis(*at))
    }

    /// Deserializes a time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// [`rfc3339`] for an optional time (`null` when absent).
pub mod rfc3339_opt {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes an optional time.
    pub fn serialize<S: Serializer>(at: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.collect_str(&humantime::format_rfc3339_millis(*at)),
            None => s.serialize_none(),
        }
    }

    /// Deserializes an optional time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| super::parse_rfc3339(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_in_utc_with_the_date_once() {
        let at = |text| parse_rfc3339(text).unwrap();
        let span = utc_span(at("2026-12-01T02:00:00Z"), at("2026-12-01T03:00:00Z"));
        assert_eq!(span, "2026-12-01 02:00-03:00 UTC");
        let late = utc_span(at("2026-12-01T23:30:00Z"), at("2026-12-02T01:30:00Z"));
        assert_eq!(late, "2026-12-01 23:30 - 2026-12-02 01:30 UTC");
        let short = utc_span(at("2026-12-01T02:00:05Z"), at("2026-12-01T02:00:09Z"));
        assert_eq!(short, "2026-12-01 02:00:05-02:00:09 UTC");
        let end = at("2026-12-02T03:00:00Z");
        assert_eq!(utc_until(end, at("2026-12-02T02:10:00Z")), "03:00 UTC");
        assert_eq!(
            utc_until(end, at("2026-12-01T23:10:00Z")),
            "2026-12-02 03:00 UTC"
        );
    }

    #[test]
    fn dates_round_trip_through_day_numbers() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        let day = parse_date("2024-02-29").expect("leap day");
        assert_eq!(date(day), "2024-02-29");
        assert_eq!(year_month(day), (2024, 2));
        assert_eq!(
            next_month(2024, 12),
            parse_date("2025-01-01").expect("date")
        );
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-1-01",
            "2026-01-00",
            "yesterday",
            "+026-01-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(parse_month("2026-11"), Some((2026, 11)));
        assert_eq!(parse_month("2026-00"), None);
    }

    #[test]
    fn conversions_agree() {
        let at = UNIX_EPOCH + Duration::from_millis(1_764_590_400_123);
        assert_eq!(unix_ms(at), 1_764_590_400_123);
        assert_eq!(from_unix_ms(unix_ms(at)), at);
        assert_eq!(rfc3339_millis(at), "2025-12-01T12:00:00.123Z");
        assert_eq!(rfc3339_seconds(at), "2025-12-01T12:00:00Z");
        assert_eq!(date(day_of(unix_ms(at))), "2025-12-01");
        assert_eq!(parse_rfc3339("2025-12-01T12:00:00.123Z").ok(), Some(at));
        assert_eq!(hour_of(-1), -1, "times before the epoch round down");
    }
}
