//! Value types the config accepts in more than one spelling: humantime
//! durations, percentages (`5%` or `0.05`) and status matchers (`200`, `"2xx"`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

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

/// One accepted status: an exact code or a class such as `2xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatcher {
    /// Exactly this code.
    Code(u16),
    /// Any code whose hundreds digit is this (2 for `2xx`).
    Class(u8),
}

impl StatusMatcher {
    /// Whether `status` is accepted.
    pub fn matches(self, status: u16) -> bool {
        match self {
            Self::Code(code) => code == status,
            Self::Class(class) => status / 100 == u16::from(class),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some(digit) = text.strip_suffix("xx").or_else(|| text.strip_suffix("XX")) {
            return match digit.parse::<u8>() {
                Ok(class @ 1..=5) if digit.len() == 1 => Some(Self::Class(class)),
                _ => None,
            };
        }
        match text.parse::<u16>() {
            Ok(code @ 100..=599) => Some(Self::Code(code)),
            _ => None,
        }
    }
}

impl fmt::Display for StatusMatcher {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Self::Code(code) => write!(f, "{code}"),
            Self::Class(class) => write!(f, "{class}xx"),
        }
    }
}

impl<'de> Deserialize<'de> for StatusMatcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StatusVisitor;
        impl Visitor<'_> for StatusVisitor {
            type Value = StatusMatcher;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status code (200) or class (\"2xx\")")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusMatcher, E> {
                StatusMatcher::parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "invalid status {v:?} (expected a code 100-599 or a class such as \"2xx\")"
                    ))
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusMatcher, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusMatcher, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(StatusVisitor)
    }
}

/// `follow_redirects`: `true` follows redirects under the safety rules of
/// the contract (no https -> http, no hop into link-local or from a public
/// into a private address), `false` never, `any` lifts those refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FollowRedirects {
    /// Never follow; a redirect is judged as the answer.
    Never,
    /// Follow up to 10 redirects, refusing unsafe hops. The default.
    #[default]
    Safe,
    /// Follow up to 10 redirects wherever they lead.
    Any,
}

struct FollowRedirectsVisitor;

impl Visitor<'_> for FollowRedirectsVisitor {
    type Value = FollowRedirects;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("true, false or \"any\"")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<FollowRedirects, E> {
        Ok(if v {
            FollowRedirects::Safe
        } else {
            FollowRedirects::Never
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<FollowRedirects, E> {
        match v {
            "any" => Ok(FollowRedirects::Any),
            "true" => Ok(FollowRedirects::Safe),
            "false" => Ok(FollowRedirects::Never),
            other => Err(E::custom(format!(
                "invalid follow_redirects {other:?} (expected true, false or \"any\")"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for FollowRedirects {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FollowRedirectsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_matchers_parse_codes_and_classes() {
        assert_eq!(StatusMatcher::parse("2xx"), Some(StatusMatcher::Class(2)));
        assert_eq!(StatusMatcher::parse("204"), Some(StatusMatcher::Code(204)));
        assert_eq!(StatusMatcher::parse("6xx"), None);
        assert_eq!(StatusMatcher::parse("99"), None);
        assert!(StatusMatcher::Class(5).matches(502));
        assert!(!StatusMatcher::Code(200).matches(201));
    }

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
    fn follow_redirects_takes_a_bool_or_any() {
        let parse = |text: &str| serde_json::from_str::<FollowRedirects>(text);
        assert_eq!(parse("true").unwrap(), FollowRedirects::Safe);
        assert_eq!(parse("false").unwrap(), FollowRedirects::Never);
        assert_eq!(parse("\"any\"").unwrap(), FollowRedirects::Any);
        let err = parse("\"all\"").unwrap_err().to_string();
        assert!(err.contains("expected true, false or \"any\""), "{err}");
    }
}
