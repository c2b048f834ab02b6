//! Value types the config accepts in more than one spelling: humantime
//! durations, percentages (`5%` or `0.05`) and status matchers (`200`, `"2xx"`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Parses a humantime duration, with the error wording of the contract.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?} (expected e.g. 30s, 5m)");
    // humantime reads "5 sec" as 5s; the contract spells durations without
    // a space between number and unit, and a stray space usually means the
    // author wrote something else (prose, a unit typo), so it is refused.
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() && chars.peek().is_some_and(|n| n.is_whitespace()) {
            return Err(bad());
        }
    }
    humantime::parse_duration(text.trim()).map_err(|_| bad())
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as 30s or 5m")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }

    // A bare number is ambiguous (seconds? milliseconds?), so it is refused
    // with the same hint rather than guessed.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "invalid duration {v} (expected e.g. 30s, 5m)"
        )))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        self.visit_u64(v.unsigned_abs())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "invalid duration {v} (expected e.g. 30s, 5m)"
        )))
    }
}

/// `deserialize_with` for a required duration.
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

/// `deserialize_with` for an optional duration (use with `#[serde(default)]`).
pub fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    d.deserialize_any(DurationVisitor).map(Some)
}

/// `serialize_with` for an optional duration (with `skip_serializing_if =
/// "Option::is_none"`: `null` is not a duration). Written in whole
/// milliseconds (`1500ms`), or nanoseconds when finer, so that
/// [`parse_duration`] reads back exactly what was written.
pub fn write_opt_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) if d.subsec_nanos() % 1_000_000 == 0 => {
            s.collect_str(&format_args!("{}ms", d.as_millis()))
        }
        Some(d) => s.collect_str(&format_args!("{}ns", d.as_nanos())),
        None => s.serialize_none(),
    }
}

/// A share between 0 and 1, written `5%` or `0.05`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percent(pub f64);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PercentVisitor;
        impl Visitor<'_> for PercentVisitor {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percentage such as 5% or 0.05")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Percent, E> {
                let bad = || {
                    E::custom(format!(
                        "invalid percentage {v:?} (expected e.g. 5% or 0.05)"
                    ))
                };
                let share = match v.trim().strip_suffix('%') {
                    Some(number) => number.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
                    None => v.trim().parse::<f64>().map_err(|_| bad())?,
                };
                self.visit_f64(share)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Percent, E> {
                if (0.0..=1.0).contains(&v) {
                    Ok(Percent(v))
                } else {
                    Err(E::custom(format!(
                        "percentage {v} out of range (expected 0%..100% or 0..1)"
                    )))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Percent, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Percent, E> {
                self.visit_f64(v as f64)
            }
        }
        d.deserialize_any(PercentVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_take_both_spellings() {
        let p: Percent = serde_json::from_str("\"5%\"").unwrap();
        assert!((p.0 - 0.05).abs() < 1e-9);
        let p: Percent = serde_json::from_str("0.05").unwrap();
        assert!((p.0 - 0.05).abs() < 1e-9);
        assert!(serde_json::from_str::<Percent>("\"150%\"").is_err());
    }

    #[test]
    fn durations_name_the_bad_text() {
        assert_eq!(
            parse_duration("5 sec").unwrap_err(),
            "invalid duration \"5 sec\" (expected e.g. 30s, 5m)"
        );
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    }

    #[test]
    fn written_durations_read_back_exactly() {
        #[derive(Serialize)]
        struct Out(#[serde(serialize_with = "write_opt_duration")] Option<Duration>);
        for d in [
            Duration::from_secs(30),
            Duration::from_millis(1_500),
            Duration::from_nanos(1_000_001),
        ] {
            let text = serde_json::to_value(Out(Some(d))).unwrap();
            let text = text.as_str().expect("a string");
            assert_eq!(parse_duration(text), Ok(d), "{text}");
        }
    }
}
