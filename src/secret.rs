//! Tokens compared without leaking them through timing: both sides are
//! hashed first, so neither the content nor the length of a secret shows.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The SHA-256 of a secret, kept where only comparisons against it are
/// needed (a push monitor's token); `Debug` shows nothing of it. No
/// `PartialEq`: a derived `==` would not run in constant time, so
/// [`SecretDigest::matches`] is the only comparison.
#[derive(Clone)]
pub struct SecretDigest([u8; 32]);

impl SecretDigest {
    /// The digest of `secret`.
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// Whether `given` is the secret. The digests are compared in constant
    /// time and always have 32 bytes, so a wrong guess learns nothing from
    /// how long the answer took, not even the secret's length.
    pub fn matches(&self, given: &str) -> bool {
        Self::of(given).0.ct_eq(&self.0).into()
    }
}

impl std::fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretDigest(..)")
    }
}

/// Whether `given` equals `expected`, compared as digests.
pub fn same(given: &str, expected: &str) -> bool {
    SecretDigest::of(expected).matches(given)
}

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
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

// Compared as digests, so that no caller comparing a given token with `==`
// can leak the configured one through timing, not even its length.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        same(&self.0, &other.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_content_whatever_their_length() {
        assert!(same("s3cret", "s3cret"));
        assert!(!same("s3cret", "s3cre"));
        assert!(!same("s3cre", "s3cret"));
        assert!(!same("", "s3cret"));
        assert!(same("", ""));
        let digest = SecretDigest::of("push-t0ken");
        assert!(digest.matches("push-t0ken"));
        assert!(!digest.matches("push-t0ken "));
        assert_eq!(format!("{digest:?}"), "SecretDigest(..)");
    }
}
