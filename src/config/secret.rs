//! Values of secret config keys (`admin_token`, `password`, `secret`,
//! `routing_key`, `token`, `access_key`): hidden from `Debug`, `Display` and error messages.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use subtle::ConstantTimeEq;

/// Config keys whose values are secrets, wherever in the file they appear.
pub const SECRET_KEYS: [&str; 6] = [
    "admin_token",
    "password",
    "secret",
    "routing_key",
    "token",
    "access_key",
];

/// What is shown instead of a secret.
const MASK: &str = "***";

/// A secret string from the config. `Debug` and `Display` print `***`; the
/// value is reached only through [`Secret::expose`], so a `{:?}` of a config
/// or a notifier in a log line cannot leak it.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that must use it: a login, a
    /// signature, a comparison.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

// Constant time, so that no caller comparing a given token with `==` can
// leak the configured one through timing (only its length shows).
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

/// Takes strings only. Every refusal is written here rather than left to
/// serde, whose messages quote the value (`invalid type: integer 12345`).
struct SecretVisitor;

impl SecretVisitor {
    fn refuse<E: de::Error>(found: &str) -> Result<Secret, E> {
        Err(E::custom(format!(
            "expected a string, found {found} (a secret's value is never shown)"
        )))
    }

    /// A scalar that YAML or TOML typed: quoting it makes it the string meant.
    fn refuse_scalar<E: de::Error>(found: &str) -> Result<Secret, E> {
        Err(E::custom(format!(
            "expected a string, found {found} (put it in quotes; a secret's value is never shown)"
        )))
    }
}

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Secret, E> {
        Ok(Secret(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
        Self::refuse_scalar("a boolean")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Secret, E> {
        Self::refuse_scalar("a number")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Secret, E> {
        Self::refuse_scalar("a number")
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Secret, E> {
        Self::refuse_scalar("a number")
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Secret, E> {
        Self::refuse_scalar("a number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
        Self::refuse_scalar("a number")
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Secret, E> {
        Self::refuse("bytes")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Secret, E> {
        Self::refuse("nothing")
    }

    fn visit_none<E: de::Error>(self) -> Result<Secret, E> {
        Self::refuse("nothing")
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Secret, D::Error> {
        d.deserialize_any(SecretVisitor)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
        Self::refuse("a list")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
        Self::refuse("a mapping")
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
        Self::refuse("a tagged value")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(***)");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn equality_compares_the_values() {
        assert_eq!(Secret::new("a"), Secret::from("a"));
        assert_ne!(Secret::new("a"), Secret::new("b"));
        assert_ne!(Secret::new("a"), Secret::new("ab"));
    }

    #[test]
    fn only_strings_deserialize_and_refusals_never_quote_the_value() {
        let ok: Secret = serde_json::from_value(serde_json::json!("s3cr3t")).unwrap();
        assert_eq!(ok.expose(), "s3cr3t");
        for (value, found) in [
            (serde_json::json!(12345), "a number"),
            (serde_json::json!(-12345), "a number"),
            (serde_json::json!(12.345), "a number"),
            (serde_json::json!(true), "a boolean"),
            (serde_json::json!([12345]), "a list"),
            (serde_json::json!({"k": 12345}), "a mapping"),
        ] {
            let err = serde_json::from_value::<Secret>(value)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("expected a string, found {found}")),
                "{err}"
            );
            assert!(!err.contains("12345") && !err.contains("12.345"), "{err}");
        }
    }
}
