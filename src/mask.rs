//! Hides secrets in text shown to people: credentials in URLs and
//! token-like query parameters. Works on the text itself, not on a parsed
//! URL, so a URL that does not parse is masked as well as one that does.

use std::borrow::Cow;

/// Query parameter names whose values are treated as secrets (any case;
/// also as the last part of a name such as `x_api_key` or `auth-token`).
const SECRET_PARAMS: [&str; 12] = [
    "token",
    "access_token",
    "key",
    "apikey",
    "api_key",
    "secret",
    "password",
    "pass",
    "auth",
    "signature",
    "sig",
    "credential",
];

const MASK: &str = "***";

/// Masks `user:password@` and secret-looking query values in one URL.
/// Text that is not a URL comes back unchanged.
pub fn url(text: &str) -> String {
    text_cow(text).into_owned()
}

/// Masks a value that is meant to be one URL (a config value, a command
/// line argument) for an error message about it. Everything before its last
/// `@` may be a credential: a password holding `/`, `?`, `#` or a space
/// ends the authority early when read as text, and such a URL does not
/// parse, so a URL alone loses all of it. Over-masking an `@` in a path
/// costs only detail in a message that is about the URL being wrong.
pub fn lone_url(text: &str) -> String {
    let start = text.find("://").map_or(0, |at| at + 3);
    match text[start..].rfind('@') {
        Some(at) if at > 0 => url(&format!("{}{MASK}{}", &text[..start], &text[start + at..])),
        _ => url(text),
    }
}

/// Masks every URL inside free text (a body excerpt, an error message): a
/// URL runs from its scheme to the next space, quote or bracket.
pub fn text(text: &str) -> String {
    text_cow(text).into_owned()
}

/// [`text`] without a copy when nothing needs masking.
pub fn text_cow(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(found) = rest.find("://") {
        let start = rest[..found]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || "+-.".contains(*c))
            .last()
            .map_or(found, |(i, _)| i);
        // An IPv6 literal's brackets belong to the URL.
        let host = found + 3;
        let from = match rest[host..].strip_prefix('[') {
            Some(v6) => match v6.find(|c| c == ']' || (c != '[' && url_ends(c))) {
                Some(i) if v6[i..].starts_with(']') => host + i + 2,
                // Unclosed: the bracket still starts the authority, whose
                // credentials are masked like any other's.
                _ => host + 1,
            },
            None => host,
        };
        let end = rest[from..].find(url_ends).map_or(rest.len(), |i| from + i);
        out.push_str(&rest[..start]);
        changed |= mask_one(&rest[start..end], found - start, &mut out);
        rest = &rest[end..];
    }
    if !changed {
        return Cow::Borrowed(text);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn url_ends(c: char) -> bool {
    c.is_whitespace() || c.is_control() || "\"'<>()[]{}`\\".contains(c)
}

/// Appends one URL (`scheme_end` is the offset of its `://`) with its
/// secrets masked; tells whether anything was.
fn mask_one(url: &str, scheme_end: usize, out: &mut String) -> bool {
    let authority_start = scheme_end + 3;
    let after = &url[authority_start..];
    let authority_len = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = &after[..authority_len];
    let mut changed = false;
    out.push_str(&url[..authority_start]);
    match authority.rfind('@') {
        Some(at) if at > 0 => {
            out.push_str(MASK);
            out.push_str(&authority[at..]);
            changed = true;
        }
        _ => out.push_str(authority),
    }
    let tail = &after[authority_len..];
    // A URL may carry another in its path or query (`?next=https://...`);
    // those are masked as text of their own.
    let query_at = tail.find('?').filter(|at| !tail[..*at].contains('#'));
    let Some(query_at) = query_at else {
        return push_masked(tail, out) | changed;
    };
    changed |= push_masked(&tail[..=query_at], out);
    let query_and_fragment = &tail[query_at + 1..];
    let query_len = query_and_fragment
        .find('#')
        .unwrap_or(query_and_fragment.len());
    for (i, pair) in query_and_fragment[..query_len].split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, value)) if !value.is_empty() && is_secret_name(&decode_name(name)) => {
                out.push_str(name);
                out.push('=');
                out.push_str(MASK);
                changed = true;
            }
            _ => changed |= push_masked(pair, out),
        }
    }
    push_masked(&query_and_fragment[query_len..], out) | changed
}

/// Appends text that may hold URLs of its own, masked; tells whether
/// anything was.
fn push_masked(part: &str, out: &mut String) -> bool {
    let masked = text_cow(part);
    out.push_str(&masked);
    matches!(masked, Cow::Owned(_))
}

/// A query parameter's name with `%XX` and `+` decoded, so `%74oken` is
/// still a token.
fn decode_name(name: &str) -> Cow<'_, str> {
    if !name.contains(['%', '+']) {
        return Cow::Borrowed(name);
    }
    let spaced = name.replace('+', " ");
    Cow::Owned(
        url::form_urlencoded::parse(format!("{spaced}=").as_bytes())
            .next()
            .map(|(k, _)| k.into_owned())
            .unwrap_or(spaced),
    )
}

/// Whether a parameter or header name looks like it carries a secret.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|p| {
        lower == *p
            || lower
                .strip_suffix(p)
                .is_some_and(|head| head.ends_with(['_', '-']))
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

    #[test]
    fn every_listed_parameter_is_masked_in_any_case() {
        for name in [
            "token",
            "ACCESS_TOKEN",
            "api_key",
            "ApiKey",
            "key",
            "Secret",
            "password",
            "sig",
            "Signature",
            "x-api-key",
            "%74oken",
        ] {
            let masked = url(&format!("https://a.example/?{name}=s3cr3t&page=2"));
            assert_eq!(
                masked,
                format!("https://a.example/?{name}=***&page=2"),
                "{name}"
            );
        }
        assert_eq!(
            url("https://a.example/?monkey=1&keyboard=2"),
            "https://a.example/?monkey=1&keyboard=2"
        );
    }

    #[test]
    fn urls_that_do_not_parse_are_masked_too() {
        assert_eq!(
            url("postgres://admin:hunter2@db:notaport/x"),
            "postgres://***@db:notaport/x"
        );
        assert_eq!(
            url("https://bob:pw@exa mple.com"),
            "https://***@exa mple.com"
        );
        assert_eq!(
            url("http://[::1:bad]/?token=abc"),
            "http://[::1:bad]/?token=***"
        );
    }

    #[test]
    fn a_lone_url_loses_everything_before_its_last_at() {
        assert_eq!(
            lone_url("https://bob:hun/ter2@example.com:99999/"),
            "https://***@example.com:99999/"
        );
        assert_eq!(
            lone_url("https://bob:p w#x@example.com/?token=abc"),
            "https://***@example.com/?token=***"
        );
        assert_eq!(
            lone_url("bob:hunter2@example.com/health"),
            "***@example.com/health"
        );
        assert_eq!(lone_url("htp://x/?t=1"), "htp://x/?t=1");
        assert_eq!(lone_url("not a url"), "not a url");
    }

    #[test]
    fn urls_inside_text_are_masked() {
        assert_eq!(
            text("redirected to (https://a.example/x?token=abc&page=2) twice"),
            "redirected to (https://a.example/x?token=***&page=2) twice"
        );
        assert_eq!(
            text("see http://bob:pw@b.example/ and ftp://c.example"),
            "see http://***@b.example/ and ftp://c.example"
        );
        assert_eq!(
            text(r#"{"next":"https://u:p@c.example/cb?sig=xyz#top"}"#),
            r#"{"next":"https://***@c.example/cb?sig=***#top"}"#
        );
        assert_eq!(text("no link here"), "no link here");
        assert_eq!(text("odd ://x"), "odd ://x");
        assert_eq!(
            text("frag http://a.example/#x?token=1"),
            "frag http://a.example/#x?token=1"
        );
        assert_eq!(
            text("http://a.example/?next=https://u:p@b.example/&page=2"),
            "http://a.example/?next=https://***@b.example/&page=2"
        );
        assert_eq!(
            text("http://a.example/web/https://u:p@b.example/"),
            "http://a.example/web/https://***@b.example/"
        );
        for odd in [
            "x://[E@y/ z ://***@w://[q@r/ ]",
            "\n://[+E@\u{fffd}//-//://[+E@\u{fffd}//-//]//z//]//z:",
        ] {
            assert_eq!(text(&text(odd)), text(odd), "masking twice changes nothing");
            assert!(!text(odd).contains("[+E@"), "{odd:?}");
        }
    }

    #[test]
    fn unchanged_text_is_not_copied() {
        assert!(matches!(
            text_cow("see https://a.example/x?page=2"),
            Cow::Borrowed(_)
        ));
    }
}
