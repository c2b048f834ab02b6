//! Evidence of a failed HTTP check: every response header with secrets
//! masked, the start of the body, and the request id to look up in logs.

use std::collections::BTreeMap;

use http::HeaderMap;

use super::result::Evidence;

/// The body excerpt's limit in bytes (contract: at most 2 KiB).
pub const BODY_EXCERPT_MAX: usize = 2048;

/// A header value is cut here: a peer may send huge headers, and every
/// failed check stores its evidence.
const HEADER_VALUE_MAX: usize = 1024;

/// A request id longer than this is not an id worth quoting in an alert.
const REQUEST_ID_MAX: usize = 200;

const MASK: &str = "***";

/// Credential headers whose names `mask::is_secret_name` would not catch.
const CREDENTIAL_HEADERS: [&str; 4] = [
    "set-cookie",
    "cookie",
    "authorization",
    "proxy-authorization",
];

/// Request id headers, first present wins. Ids the application logs come
/// first, since on call one greps the origin's logs before anything else:
/// `x-request-id` (apps, nginx `$request_id`, envoy, Heroku) and
/// `x-amzn-requestid` (API Gateway, Lambda). The edge ids follow, which
/// only that CDN can look up: CloudFront's `x-amz-cf-id` (what AWS support
/// asks for) and Cloudflare's `cf-ray`. Then correlation and trace ids,
/// which often span many requests of one flow, and last `traceparent`,
/// a composite W3C trace context rather than a plain id.
const REQUEST_ID_HEADERS: [&str; 8] = [
    "x-request-id",
    "x-amzn-requestid",
    "x-amz-cf-id",
    "cf-ray",
    "x-correlation-id",
    "x-trace-id",
    "request-id",
    "traceparent",
];

/// Captures the evidence of a response: all headers (lowercase names,
/// repeated headers joined with ", ", credentials replaced by `***`), the
/// first 2 KiB of the body as text, and the request id.
pub fn capture(headers: &HeaderMap, body: &[u8]) -> Evidence {
    Evidence {
        headers: masked_headers(headers),
        body_excerpt: excerpt(body),
        request_id: request_id(headers),
    }
}

/// The request id of a response, from the first header of
/// [`REQUEST_ID_HEADERS`] that has a non-empty value.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        let value = String::from_utf8_lossy(headers.get(*name)?.as_bytes())
            .trim()
            .to_owned();
        (!value.is_empty()).then(|| cut(value, REQUEST_ID_MAX))
    })
}

fn masked_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .keys()
        .map(|name| {
            let name = name.as_str();
            let value = if CREDENTIAL_HEADERS.contains(&name) || crate::mask::is_secret_name(name) {
                MASK.to_owned()
            } else {
                // A Location or Link may carry a token in its query string:
                // URL values are masked here, once, for every place that
                // shows evidence (pages, API, alerts).
                let values: Vec<_> = headers
                    .get_all(name)
                    .iter()
                    .map(|v| crate::mask::url(&String::from_utf8_lossy(v.as_bytes())))
                    .collect();
                cut(values.join(", "), HEADER_VALUE_MAX)
            };
            (name.to_owned(), value)
        })
        .collect()
}

/// The first [`BODY_EXCERPT_MAX`] bytes as text, never more bytes and
/// never half a character.
fn excerpt(body: &[u8]) -> String {
    let mut end = body.len().min(BODY_EXCERPT_MAX);
    // Back off a character the cut splits, or its head would show as U+FFFD.
    // At most three steps: garbage of continuation bytes still yields text.
    for _ in 0..3 {
        if end == 0 || end == body.len() || !is_continuation(body[end]) {
            break;
        }
        end -= 1;
    }
    // Invalid bytes become U+FFFD, three bytes each, so cut again.
    cut(
        String::from_utf8_lossy(&body[..end]).into_owned(),
        BODY_EXCERPT_MAX,
    )
}

fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cut(mut text: String, max: usize) -> String {
    text.truncate(text.floor_char_boundary(max));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn tokens_in_url_headers_are_masked() {
        let map = headers(&[("Location", "https://example.com/next?token=s3cret&page=2")]);
        let evidence = capture(&map, b"");
        assert_eq!(
            evidence.headers["location"],
            "https://example.com/next?token=***&page=2"
        );
    }

    #[test]
    fn credentials_are_masked_and_the_rest_kept() {
        let map = headers(&[
            ("Set-Cookie", "session=abc123; HttpOnly"),
            ("Set-Cookie", "csrf=def456"),
            ("Authorization", "Bearer eyJhbGciOi"),
            ("Proxy-Authorization", "Basic Ym9iOmh1bnRlcjI="),
            ("Cookie", "session=abc123"),
            ("X-Api-Key", "k-123"),
            ("X-Upstream-Token", "t-456"),
            ("Content-Type", "text/html"),
            ("Via", "1.1 varnish"),
            ("Via", "1.1 abc.cloudfront.net (CloudFront)"),
        ]);
        let evidence = capture(&map, b"");
        for name in [
            "set-cookie",
            "authorization",
            "proxy-authorization",
            "cookie",
            "x-api-key",
            "x-upstream-token",
        ] {
            assert_eq!(evidence.headers[name], "***", "{name}");
        }
        assert_eq!(evidence.headers["content-type"], "text/html");
        assert_eq!(
            evidence.headers["via"],
            "1.1 varnish, 1.1 abc.cloudfront.net (CloudFront)"
        );
        assert_eq!(evidence.headers.len(), 8);
        let all = format!("{:?}", evidence.headers);
        for secret in [
            "abc123",
            "def456",
            "eyJhbGciOi",
            "Ym9iOmh1bnRlcjI",
            "k-123",
            "t-456",
        ] {
            assert!(!all.contains(secret), "{secret} leaked");
        }
    }

    #[test]
    fn huge_header_values_are_cut() {
        let map = headers(&[("x-debug", &"é".repeat(HEADER_VALUE_MAX))]);
        let value = &capture(&map, b"").headers["x-debug"];
        assert_eq!(value.len(), HEADER_VALUE_MAX);
        assert!(value.chars().all(|c| c == 'é'));
    }

    #[test]
    fn the_excerpt_stops_at_2_kib_on_a_character_boundary() {
        // "é" is two bytes and would straddle the limit.
        let mut body = "a".repeat(BODY_EXCERPT_MAX - 1).into_bytes();
        body.extend_from_slice("é and more".as_bytes());
        assert_eq!(excerpt(&body), "a".repeat(BODY_EXCERPT_MAX - 1));
        // Three bytes of a four-byte emoji would fit as one U+FFFD; the
        // half character is dropped instead.
        let emoji = format!("{}😀", "a".repeat(BODY_EXCERPT_MAX - 3));
        assert_eq!(excerpt(emoji.as_bytes()), "a".repeat(BODY_EXCERPT_MAX - 3));
        // Three-byte characters: 682 whole ones fit.
        let euros = "€".repeat(1000);
        let cut_euros = excerpt(euros.as_bytes());
        assert_eq!(cut_euros, "€".repeat(682));
        // Invalid bytes grow when replaced; the result still fits.
        let garbage = excerpt(&[0xFF; 3000]);
        assert!(garbage.len() <= BODY_EXCERPT_MAX && garbage.chars().all(|c| c == '\u{FFFD}'));
        assert_eq!(garbage.chars().count(), 682);
        // Continuation bytes only: nothing to back off to, still text.
        assert!(!excerpt(&[0x80; 3000]).is_empty());
        assert_eq!(excerpt("short ünïcode".as_bytes()), "short ünïcode");
        assert_eq!(excerpt(b""), "");
    }

    #[test]
    fn request_id_follows_the_documented_precedence() {
        let map = headers(&[
            ("cf-ray", "8f1c-FRA"),
            ("traceparent", "00-4bf9-00f0-01"),
            ("x-request-id", "req-42"),
        ]);
        assert_eq!(request_id(&map).as_deref(), Some("req-42"));
        let map = headers(&[("traceparent", "00-4bf9-00f0-01"), ("cf-ray", "8f1c-FRA")]);
        assert_eq!(request_id(&map).as_deref(), Some("8f1c-FRA"));
        let map = headers(&[
            ("x-amz-cf-id", "cf-id=="),
            ("x-amzn-requestid", "a1b2"),
            ("cf-ray", "8f1c-FRA"),
        ]);
        assert_eq!(request_id(&map).as_deref(), Some("a1b2"));
        // An empty value does not hide the next header.
        let map = headers(&[("x-request-id", "  "), ("x-correlation-id", "corr-7")]);
        assert_eq!(request_id(&map).as_deref(), Some("corr-7"));
        assert_eq!(capture(&map, b"").request_id.as_deref(), Some("corr-7"));
        assert_eq!(request_id(&headers(&[("content-type", "text/html")])), None);
    }
}
