//! Hides secrets in text shown to people: credentials in URLs and
//! token-like query parameters. Used by config errors, pages, API and alerts.

use url::Url;

/// Query parameter names whose values are treated as secrets.
const SECRET_PARAMS: [&str; 10] = [
    "token",
    "key",
    "apikey",
    "api_key",
    "secret",
    "password",
    "pass",
    "auth",
    "signature",
    "sig",
];

/// Masks `user:password@` and secret-looking query values in a URL; text
/// that is not a URL is returned unchanged.
pub fn url(text: &str) -> String {
    let Ok(mut parsed) = Url::parse(text) else {
        return text.to_owned();
    };
    let mut changed = false;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        let _ = parsed.set_username("***");
        let _ = parsed.set_password(None);
        changed = true;
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret = is_secret_name(&k);
                changed |= secret;
                (
                    k.into_owned(),
                    if secret {
                        "***".to_owned()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        if changed {
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    if changed {
        parsed.to_string()
    } else {
        text.to_owned()
    }
}

/// Whether a parameter or header name looks like it carries a secret.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|p| {
        lower == *p || lower.ends_with(&format!("_{p}")) || lower.ends_with(&format!("-{p}"))
    }) || lower.contains("token")
        || lower.contains("secret")
        || lower.contains("password")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_tokens_are_masked() {
        assert_eq!(
            url("https://bob:hunter2@example.com/x?token=abc&page=2"),
            "https://***@example.com/x?token=***&page=2"
        );
        assert_eq!(
            url("http://example.com/health"),
            "http://example.com/health"
        );
        assert_eq!(url("not a url"), "not a url");
    }
}
