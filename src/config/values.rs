//! Value types the config accepts in more than one spelling: humantime
//! durations, percentages (`5%` or `0.05`), status matchers (`200`, `"2xx"`)
//! and `storage.keep_healthy` (`5m`, `0`, `off` or `{ after: 48h, every: 5m }`).

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

/// `storage.keep_healthy`: which healthy checks stay once they are old.
/// Every check that is not healthy (a cause other than `ok`, degraded
/// included, or a flag such as flaky) stays, and so do the checks just
/// before and after it; of the rest, older than `after`, the first of each
/// monitor in each `every` (counted from the epoch) stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepHealthy {
    /// Healthy checks older than this are thinned. Default 48h.
    pub after: Duration,
    /// One healthy check per monitor is kept in each span this long.
    /// Default 5m.
    pub every: Duration,
}

impl Default for KeepHealthy {
    fn default() -> Self {
        Self {
            after: Duration::from_secs(48 * 3_600),
            every: Duration::from_secs(300),
        }
    }
}

/// The mapping form of [`KeepHealthy`], each key defaulted on its own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeepHealthyKeys {
    #[serde(default = "default_keep_after", deserialize_with = "duration")]
    after: Duration,
    #[serde(default = "default_keep_every", deserialize_with = "duration")]
    every: Duration,
}

fn default_keep_after() -> Duration {
    KeepHealthy::default().after
}

fn default_keep_every() -> Duration {
    KeepHealthy::default().every
}

struct KeepHealthyVisitor;

/// What `storage.keep_healthy` takes, for its error messages.
const KEEP_HEALTHY_FORMS: &str =
    "a duration such as 5m, 0 or off to keep every check, or { after: 48h, every: 5m }";

impl<'de> Visitor<'de> for KeepHealthyVisitor {
    type Value = Option<KeepHealthy>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(KEEP_HEALTHY_FORMS)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.then(KeepHealthy::default))
    }

    /// The contract's form: the span one healthy check is kept per
    /// (`5m`); `0` or `off` keeps every check.
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if matches!(v.trim(), "off" | "false") {
            return Ok(None);
        }
        let every = parse_duration(v).map_err(|_| {
            E::custom(format!(
                "invalid value {v:?} (expected {KEEP_HEALTHY_FORMS})"
            ))
        })?;
        Ok((!every.is_zero()).then(|| KeepHealthy {
            every,
            ..KeepHealthy::default()
        }))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match v {
            0 => Ok(None),
            _ => Err(E::custom(format!(
                "invalid value {v} (expected {KEEP_HEALTHY_FORMS})"
            ))),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!(
                "invalid value {v} (expected {KEEP_HEALTHY_FORMS})"
            ))),
        }
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        // Through the same `MapAccess`, so an error inside keeps its key path.
        let keys = KeepHealthyKeys::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Some(KeepHealthy {
            after: keys.after,
            every: keys.every,
        }))
    }
}

/// `deserialize_with` for `storage.keep_healthy`: `None` is off.
pub fn keep_healthy<'de, D: Deserializer<'de>>(d: D) -> Result<Option<KeepHealthy>, D::Error> {
    d.deserialize_any(KeepHealthyVisitor)
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
    fn keep_healthy_takes_the_contracts_duration_zero_off_or_a_mapping() {
        #[derive(Deserialize)]
        struct In(#[serde(deserialize_with = "keep_healthy")] Option<KeepHealthy>);
        let parse = |text: &str| serde_json::from_str::<In>(text).map(|In(keep)| keep);
        let default = KeepHealthy::default();
        assert_eq!(default.after, Duration::from_secs(172_800));
        assert_eq!(default.every, Duration::from_secs(300));
        assert_eq!(parse("false").unwrap(), None);
        assert_eq!(parse("\"off\"").unwrap(), None);
        assert_eq!(parse("0").unwrap(), None, "the contract's 0");
        assert_eq!(parse("\"0s\"").unwrap(), None);
        assert_eq!(parse("true").unwrap(), Some(default));
        assert_eq!(parse("{}").unwrap(), Some(default));
        assert_eq!(
            parse("\"5m\"").unwrap(),
            Some(default),
            "the contract's form"
        );
        let hourly = parse("\"1h\"").unwrap().expect("on");
        assert_eq!(hourly.every, Duration::from_secs(3_600));
        assert_eq!(hourly.after, default.after);
        let mapped = parse(r#"{"every": "1h"}"#).unwrap().expect("on");
        assert_eq!(mapped, hourly);
        assert!(parse("\"sometimes\"").is_err());
        assert!(parse("300").is_err(), "a bare number has no unit");
        assert!(parse(r#"{"every": "5 m"}"#).is_err());
        assert!(parse(r#"{"keep": "5m"}"#).is_err());
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
