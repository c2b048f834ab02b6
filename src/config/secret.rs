//! Values of secret config keys (`admin_token`, `password`, `secret`,
//! `routing_key`, `token`, `access_key`): hidden from `Debug`, `Display`,
//! error messages and serialization (but for an agent's own monitors).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

pub use crate::secret::Secret;

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
pub(crate) const MASK: &str = "***";

/// Whether the last key of a key path (`notifiers[0].smtp.password`) holds
/// a secret. Exactly these keys: [`crate::mask::is_secret_name`] is for
/// query parameters and headers, and would also take `tokens` or `key`.
pub fn is_secret_path(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    let last = last.split('[').next().unwrap_or(last);
    SECRET_KEYS.contains(&last)
}

/// `text` with every standing occurrence of `value` replaced by `***`. An
/// occurrence glued to letters or digits on a side where the value itself
/// has one is part of another word and stays.
pub(crate) fn mask_value(text: &str, value: &str) -> String {
    if value.is_empty() || !text.contains(value) {
        return text.to_owned();
    }
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let (first, last) = (value.chars().next(), value.chars().next_back());
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(value) {
        let before = rest[..at]
            .chars()
            .next_back()
            .or_else(|| out.chars().next_back());
        let after = rest[at + value.len()..].chars().next();
        let glued = (word(first) && word(before)) || (word(last) && word(after));
        out.push_str(&rest[..at]);
        out.push_str(if glued { value } else { MASK });
        rest = &rest[at + value.len()..];
    }
    out.push_str(rest);
    out
}

/// The values written after a secret key in config text, read from the
/// text itself: a file that does not parse has no tree to read them from,
/// and its syntax error may quote them (`invalid value: string "..."`).
/// Reads `key: value` and `key = value`, quoted or not, in block and flow
/// style; a value over several lines is not found, nor quoted by parsers.
pub(crate) fn values_in_text(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        for key in SECRET_KEYS {
            let mut from = 0;
            while let Some(at) = line[from..].find(key) {
                let start = from + at;
                from = start + key.len();
                // `token` inside `admin_token` or `tokens` is another key.
                let before = line[..start].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = line[from..].trim_start_matches(['"', '\'']).trim_start();
                if let Some(value) = rest.strip_prefix([':', '=']).and_then(scalar) {
                    found.push(value);
                }
            }
        }
    }
    found
}

/// The scalar at the start of `text` (after `key:`), without quotes, a
/// YAML tag (`!!int`) or an anchor (`&a`).
fn scalar(text: &str) -> Option<String> {
    let mut text = text.trim_start();
    // Each pass drops one tag or anchor; a value has at most one of each.
    for _ in 0..2 {
        if text.starts_with(['!', '&']) {
            let end = text.find(char::is_whitespace).unwrap_or(text.len());
            text = text[end..].trim_start();
        }
    }
    let value = match text.chars().next()? {
        quote @ ('"' | '\'') => {
            let inner = &text[1..];
            let mut end = inner.len();
            let mut escaped = false;
            for (i, c) in inner.char_indices() {
                if c == quote && !(quote == '"' && escaped) {
                    end = i;
                    break;
                }
                escaped = quote == '"' && c == '\\' && !escaped;
            }
            &inner[..end]
        }
        '|' | '>' => return None,
        _ => {
            let end = text.find([',', '}', ']', '#']).unwrap_or(text.len());
            text[..end].trim()
        }
    };
    (!value.is_empty()).then(|| value.to_owned())
}

/// A syntax error's message with the values of secret keys written in
/// `text` masked, and credentials in any URL it quotes.
pub(crate) fn mask_syntax_error(message: &str, text: &str) -> String {
    let mut message = message.to_owned();
    for value in values_in_text(text) {
        message = mask_value(&message, &value);
    }
    crate::mask::text(&message)
}

thread_local! {
    /// Set while [`revealing`] runs on this thread.
    static REVEALING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `write` with every [`Secret`] it serializes written as its value,
/// not `***`. For the one answer that must carry them: an agent's own
/// monitors, to the agent holding their token. A flag for the length of a
/// call, on this thread only, because serde passes no context down to a
/// field: the alternative, a serializer that exposes always, would make
/// every later `Serialize` of a config a leak waiting to happen.
pub fn revealing<T>(write: impl FnOnce() -> T) -> T {
    /// Puts the flag back however `write` ends, a panic included.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            REVEALING.with(|flag| flag.set(self.0));
        }
    }
    let _restore = Restore(REVEALING.with(|flag| flag.replace(true)));
    write()
}

/// `***`, except inside [`revealing`].
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if REVEALING.with(Cell::get) {
            s.serialize_str(self.expose())
        } else {
            s.serialize_str(MASK)
        }
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
        Ok(Secret::new(v))
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
    fn serialized_secrets_are_masked_but_inside_revealing() {
        let secret = Secret::new("hunter2");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"***\"");
        let revealed = revealing(|| serde_json::to_string(&secret).unwrap());
        assert_eq!(revealed, "\"hunter2\"");
        // Only for the length of the call.
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"***\"");
        revealing(|| revealing(|| ()));
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"***\"");
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

    #[test]
    fn values_are_masked_where_they_stand_alone() {
        assert_eq!(
            mask_value("found \"hunter2\" here", "hunter2"),
            "found \"***\" here"
        );
        assert_eq!(mask_value("hunter2, hunter2", "hunter2"), "***, ***");
        assert_eq!(mask_value("expected a value", "a"), "expected *** value");
        assert_eq!(mask_value("ab1234cd", "1234"), "ab1234cd");
        assert_eq!(mask_value("x-pw-", "-pw-"), "x***");
        assert_eq!(mask_value("nothing", ""), "nothing");
    }

    #[test]
    fn values_are_read_after_secret_keys_in_any_spelling() {
        let text = "server: { admin_token: !!int hunter1, title: x }\n\
                    password: \"hun\\\"ter2\"   # comment\n\
                    - { token: 'hunter3' }\n\
                    routing_key = \"hunter4\"\n\
                    \"secret\" : hunter5 # comment\n\
                    tokens: not-this, my_token: nor-this, password: |\n\
                    access_key:\n";
        assert_eq!(
            values_in_text(text),
            ["hunter1", "hun\\\"ter2", "hunter3", "hunter4", "hunter5"]
        );
    }

    #[test]
    fn secret_keys_are_found_at_the_end_of_a_path() {
        assert!(is_secret_path("server.admin_token"));
        assert!(is_secret_path("notifiers[0].smtp.password"));
        assert!(is_secret_path("monitors[3].token"));
        assert!(is_secret_path("token"));
        assert!(!is_secret_path("notifiers[0].secret.x"));
        assert!(!is_secret_path("monitors[0].url"));
        assert!(!is_secret_path("tokens"));
    }
}
