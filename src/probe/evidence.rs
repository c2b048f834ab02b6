//! Evidence of a failed HTTP check: response headers and the start of the
//! body, bounded and with secrets masked here, once, for every place that
//! shows it (pages, API, feed, alerts), and the request id to look up in logs.

use std::collections::BTreeMap;

use http::HeaderMap;

use crate::monitor::result::Evidence;

/// The body excerpt's limit in bytes (contract: at most 2 KiB).
pub const BODY_EXCERPT_MAX: usize = 2048;

/// Headers kept; the rest are counted in `headers_dropped`. A target
/// chooses what it sends, and every failed check stores its evidence, so
/// each part of it has a bound (contract section 10).
pub const HEADERS_MAX: usize = 64;

/// A header name is cut here.
pub const HEADER_NAME_MAX: usize = 256;

/// A header value is cut here.
pub const HEADER_VALUE_MAX: usize = 1024;

/// Names and values of the kept headers together stay within this.
pub const HEADER_BYTES_MAX: usize = 8 * 1024;

/// The part of the body the masker reads: a URL that starts inside the
/// excerpt and runs past its end is masked whole before the cut, so the
/// cut cannot leave `https://bob:hunter2` without the `@` that marks it.
const BODY_MASK_WINDOW: usize = 32 * BODY_EXCERPT_MAX;

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

/// Captures the evidence of a response: headers in the order they came
/// (lowercase names, repeated headers joined with ", ", credentials
/// replaced by `***`, URLs masked) within the bounds above, the first
/// 2 KiB of the body as text with its URLs masked, and the request id.
pub fn capture(headers: &HeaderMap, body: &[u8]) -> Evidence {
    let (headers_kept, headers_dropped) = bounded_headers(headers);
    Evidence {
        headers: headers_kept,
        headers_dropped,
        body_excerpt: excerpt(body),
        request_id: request_id(headers),
        ..Evidence::default()
    }
}

/// The request id of a response, from the first header of
/// [`REQUEST_ID_HEADERS`] that has a non-empty value, URLs masked.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        let value = String::from_utf8_lossy(headers.get(*name)?.as_bytes());
        let value = crate::mask::text(value.trim());
        (!value.is_empty()).then(|| cut(value, REQUEST_ID_MAX))
    })
}

/// The headers kept and how many were dropped: at most [`HEADERS_MAX`],
/// and a header that would take names and values past
/// [`HEADER_BYTES_MAX`] is dropped while smaller ones after it may still
/// fit (a `server` or `via` header says more than the tenth huge one).
fn bounded_headers(headers: &HeaderMap) -> (BTreeMap<String, String>, usize) {
    let mut kept = BTreeMap::new();
    let mut dropped = 0;
    let mut budget = HEADER_BYTES_MAX;
    for name in headers.keys() {
        let full_name = name.as_str();
        let short_name = cut(full_name.to_owned(), HEADER_NAME_MAX);
        // Two long names alike in their first 256 bytes would share a key.
        if kept.len() == HEADERS_MAX || kept.contains_key(&short_name) {
            dropped += 1;
            continue;
        }
        let value = header_value(headers, full_name);
        let size = short_name.len() + value.len();
        if size > budget {
            dropped += 1;
            continue;
        }
        budget -= size;
        kept.insert(short_name, value);
    }
    (kept, dropped)
}

/// All values of one header, masked and joined with ", ", cut to
/// [`HEADER_VALUE_MAX`]; `***` for a credential header.
fn header_value(headers: &HeaderMap, name: &str) -> String {
    if CREDENTIAL_HEADERS.contains(&name) || crate::mask::is_secret_name(name) {
        return MASK.to_owned();
    }
    let mut joined = String::new();
    for value in headers.get_all(name) {
        if joined.len() > HEADER_VALUE_MAX {
            break;
        }
        if !joined.is_empty() {
            joined.push_str(", ");
        }
        // A Location or Link may carry a token in its query string; each
        // value is masked whole, before any cut.
        joined.push_str(&crate::mask::text(&String::from_utf8_lossy(
            value.as_bytes(),
        )));
    }
    cut(joined, HEADER_VALUE_MAX)
}

/// The first [`BODY_EXCERPT_MAX`] bytes as text with URLs masked, never
/// more bytes and never half a character.
fn excerpt(body: &[u8]) -> String {
    let mut end = body.len().min(BODY_MASK_WINDOW);
    // Back off a character the window splits, or its head would show as
    // U+FFFD. At most three steps: garbage of continuation bytes still
    // yields text.
    for _ in 0..3 {
        if end == 0 || end == body.len() || !is_continuation(body[end]) {
            break;
        }
        end -= 1;
    }
    let text = String::from_utf8_lossy(&body[..end]);
    // Masking may shorten the text and U+FFFD (three bytes for each bad
    // byte) lengthen it, so the cut comes last.
    cut(crate::mask::text(&text), BODY_EXCERPT_MAX)
}

fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

/// Evidence that did not come from this process's own capture (an agent's
/// results) held to the same bounds as captured evidence.
pub fn bound(evidence: &mut Evidence) {
    let headers = std::mem::take(&mut evidence.headers);
    let total = headers.len();
    for (name, value) in headers.into_iter().take(HEADERS_MAX) {
        let name = cut(name, HEADER_NAME_MAX);
        evidence.headers.insert(name, cut(value, HEADER_VALUE_MAX));
    }
    evidence.headers_dropped += total - evidence.headers.len();
    evidence.body_excerpt = cut(std::mem::take(&mut evidence.body_excerpt), BODY_EXCERPT_MAX);
    evidence.request_id = evidence.request_id.take().map(|id| cut(id, REQUEST_ID_MAX));
}

/// `text` cut to at most `max` bytes on a character boundary.
pub(crate) fn cut(mut text: String, max: usize) -> String {
    text.truncate(text.floor_char_boundary(max));
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn evidence_from_elsewhere_is_held_to_the_capture_bounds() {
        let mut found = Evidence {
            body_excerpt: "é".repeat(BODY_EXCERPT_MAX),
            request_id: Some("r".repeat(10_000)),
            ..Evidence::default()
        };
        for n in 0..HEADERS_MAX + 10 {
            found
                .headers
                .insert(format!("x-{n:03}"), "v".repeat(HEADER_VALUE_MAX * 4));
        }
        bound(&mut found);
        assert!(found.body_excerpt.len() <= BODY_EXCERPT_MAX);
        assert_eq!(found.headers.len(), HEADERS_MAX);
        assert_eq!(found.headers_dropped, 10);
        assert!(found.headers.values().all(|v| v.len() == HEADER_VALUE_MAX));
        assert_eq!(found.request_id.map(|id| id.len()), Some(REQUEST_ID_MAX));
    }

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
    fn at_most_64_headers_are_kept_and_the_rest_counted() {
        let names: Vec<String> = (0..100).map(|i| format!("x-h{i:03}")).collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        let evidence = capture(&headers(&pairs), b"");
        assert_eq!(evidence.headers.len(), HEADERS_MAX);
        assert_eq!(evidence.headers_dropped, 100 - HEADERS_MAX);
        // The first ones in the answer are the ones kept.
        assert!(evidence.headers.contains_key("x-h000") && evidence.headers.contains_key("x-h063"));
        assert!(!evidence.headers.contains_key("x-h064"));
    }

    #[test]
    fn long_names_are_cut_and_names_alike_in_their_cut_are_kept_once() {
        let long = "n".repeat(1000);
        let (a, b) = (format!("x-{long}-a"), format!("x-{long}-b"));
        let evidence = capture(&headers(&[(&a, "first"), (&b, "second")]), b"");
        let expected = &a[..HEADER_NAME_MAX];
        assert_eq!(evidence.headers.len(), 1, "{:?}", evidence.headers.keys());
        assert_eq!(evidence.headers[expected], "first");
        assert_eq!(evidence.headers_dropped, 1);
    }

    #[test]
    fn names_and_values_stay_within_8_kib_and_small_headers_still_fit() {
        let big: Vec<(String, String)> = (0..20)
            .map(|i| (format!("x-big-{i:02}"), "v".repeat(HEADER_VALUE_MAX)))
            .collect();
        let mut pairs: Vec<(&str, &str)> =
            big.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        pairs.push(("server", "nginx"));
        let evidence = capture(&headers(&pairs), b"");
        let total: usize = evidence
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum();
        assert!(total <= HEADER_BYTES_MAX, "{total}");
        // Seven 1,033-byte headers fit in 8,192; the rest do not.
        assert_eq!(evidence.headers.len(), 8, "{:?}", evidence.headers.keys());
        assert_eq!(evidence.headers_dropped, 13);
        assert_eq!(evidence.headers["server"], "nginx");
    }

    #[test]
    fn urls_in_link_headers_request_ids_and_the_body_are_masked() {
        let secret = "https://bob:hunter2@x.example/cb?token=abc&api_key=k3y&page=2";
        let masked = "https://***@x.example/cb?token=***&api_key=***&page=2";
        let link = format!("<{secret}>; rel=\"next\"");
        let map = headers(&[
            ("Link", link.as_str()),
            ("Location", secret),
            ("X-Request-Id", "req-9 https://x.example/?sig=s1g"),
        ]);
        let body = format!("<p>go to {secret} now</p>");
        let evidence = capture(&map, body.as_bytes());
        assert_eq!(
            evidence.headers["link"],
            format!("<{masked}>; rel=\"next\"")
        );
        assert_eq!(evidence.headers["location"], masked);
        assert_eq!(evidence.body_excerpt, format!("<p>go to {masked} now</p>"));
        assert_eq!(
            evidence.request_id.as_deref(),
            Some("req-9 https://x.example/?sig=***")
        );
    }

    #[test]
    fn a_url_the_excerpt_cuts_is_masked_before_the_cut() {
        // The excerpt ends inside the password; the '@' that marks it as
        // one lies beyond the cut, and the masker still sees it.
        let head = "a".repeat(BODY_EXCERPT_MAX - 20);
        let body = format!("{head} https://bob:hunter2hunter2hunter2@x.example/");
        let excerpt = capture(&headers(&[]), body.as_bytes()).body_excerpt;
        assert!(excerpt.len() <= BODY_EXCERPT_MAX);
        assert!(!excerpt.contains("hunter") && !excerpt.contains("bob"));
        assert!(excerpt.contains(" https://***@x.ex"), "{excerpt}");
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
