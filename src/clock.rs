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
