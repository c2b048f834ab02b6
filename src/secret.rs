//! Tokens compared without leaking them through timing: both sides are
//! hashed first, so neither the content nor the length of a secret shows.

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
