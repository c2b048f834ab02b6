//! Signed links for subscribers (contract section 8): a confirmation link
//! that expires, an unsubscribe link that does not. A token names what it
//! is for, whom (a subscriber's row id) and until when, and carries an
//! HMAC-SHA256 of those under a key only the store knows; nothing in it is
//! secret, but nobody without the key can make one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Bytes of the MAC kept: 128 bits is far past guessing over HTTP.
const MAC_BYTES: usize = 16;
/// Purpose, subject and expiry, then the MAC.
const TOKEN_BYTES: usize = 1 + 8 + 8 + MAC_BYTES;
/// The expiry of a token that never expires.
const NEVER: u64 = u64::MAX;

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirm a subscription (double opt-in).
    Confirm,
    /// Delete a subscription.
    Unsubscribe,
}

impl Purpose {
    fn byte(self) -> u8 {
        match self {
            Purpose::Confirm => b'c',
            Purpose::Unsubscribe => b'u',
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token, a token for something else, or one not made with the key.
    #[error("this link is not valid")]
    Invalid,
    /// Made with the key, but its time has passed.
    #[error("this link has expired")]
    Expired,
}

/// A token for `purpose` on `subject`, valid until `expires_s` (unix
/// seconds) or, with `None`, for ever.
pub fn sign(key: &[u8], purpose: Purpose, subject: i64, expires_s: Option<u64>) -> String {
    let mut bytes = Vec::with_capacity(TOKEN_BYTES);
    bytes.push(purpose.byte());
    bytes.extend_from_slice(&subject.to_be_bytes());
    bytes.extend_from_slice(&expires_s.unwrap_or(NEVER).to_be_bytes());
    let mac = mac(key, &bytes);
    bytes.extend_from_slice(&mac[..MAC_BYTES]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The subject of `token` if it was made with `key` for `purpose` and has
/// not expired at `now_s`.
pub fn verify(key: &[u8], purpose: Purpose, token: &str, now_s: u64) -> Result<i64, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| TokenError::Invalid)?;
    if bytes.len() != TOKEN_BYTES || bytes[0] != purpose.byte() {
        return Err(TokenError::Invalid);
    }
    let (signed, given) = bytes.split_at(TOKEN_BYTES - MAC_BYTES);
    let expected = mac(key, signed);
    // Constant time: a byte-by-byte compare would tell a guesser how far
    // along it got.
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..MAC_BYTES], given)) {
        return Err(TokenError::Invalid);
    }
    let subject = i64::from_be_bytes(signed[1..9].try_into().map_err(|_| TokenError::Invalid)?);
    let expires = u64::from_be_bytes(signed[9..17].try_into().map_err(|_| TokenError::Invalid)?);
    if now_s > expires {
        return Err(TokenError::Expired);
    }
    Ok(subject)
}

fn mac(key: &[u8], bytes: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(bytes);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a key of 32 bytes, as the store's";

    #[test]
    fn a_token_names_its_subject_until_it_expires() {
        let token = sign(KEY, Purpose::Confirm, 42, Some(1_000));
        assert_eq!(verify(KEY, Purpose::Confirm, &token, 999), Ok(42));
        assert_eq!(verify(KEY, Purpose::Confirm, &token, 1_000), Ok(42));
        assert_eq!(
            verify(KEY, Purpose::Confirm, &token, 1_001),
            Err(TokenError::Expired)
        );
        let forever = sign(KEY, Purpose::Unsubscribe, 7, None);
        assert_eq!(verify(KEY, Purpose::Unsubscribe, &forever, u64::MAX), Ok(7));
    }

    #[test]
    fn forged_altered_or_misused_tokens_are_refused() {
        let token = sign(KEY, Purpose::Confirm, 42, Some(1_000));
        // Another key, another purpose.
        assert_eq!(
            verify(b"another key", Purpose::Confirm, &token, 0),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            verify(KEY, Purpose::Unsubscribe, &token, 0),
            Err(TokenError::Invalid)
        );
        // Each byte changed in turn: the subject, the expiry, the MAC.
        let bytes = URL_SAFE_NO_PAD.decode(&token).expect("base64");
        for i in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 1;
            let altered = URL_SAFE_NO_PAD.encode(altered);
            assert_eq!(
                verify(KEY, Purpose::Confirm, &altered, 0),
                Err(TokenError::Invalid),
                "byte {i}"
            );
        }
        for garbage in [
            "",
            "x",
            "!!!!",
            &token[..token.len() - 2],
            &format!("{token}AA"),
        ] {
            assert_eq!(
                verify(KEY, Purpose::Confirm, garbage, 0),
                Err(TokenError::Invalid),
                "{garbage:?}"
            );
        }
    }
}
