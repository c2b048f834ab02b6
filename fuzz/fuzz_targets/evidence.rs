//! The evidence path on arbitrary response headers and bodies: capture is
//! bounded as the contract says, masks what it must, and never panics.
#![no_main]

use hopwatch::probe::{evidence, fingerprint};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the status, the rest splits at the first empty
    // line into header lines ("name: value") and a body.
    let Some((&status, rest)) = data.split_first() else {
        return;
    };
    let status = 100 + u16::from(status) * 2;
    let split = rest
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(rest.len());
    let (head, body) = rest.split_at(split);
    let mut headers = HeaderMap::new();
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let captured = evidence::capture(&headers, body);
    check_bounds(&captured);
    // Whatever comes before it, a URL's credentials never survive capture.
    if body.len() < 1024 {
        let mut planted = body.to_vec();
        planted.extend_from_slice(b" https://bob:Planted1@h.example/?token=Planted2 ");
        let excerpt = evidence::capture(&headers, &planted).body_excerpt;
        assert!(!excerpt.contains("Planted"), "{excerpt}");
    }
    let _ = fingerprint::identify(status, &headers, body);
    let text = String::from_utf8_lossy(body);
    let masked = hopwatch::mask::text(&text);
    assert_eq!(
        hopwatch::mask::text(&masked),
        masked,
        "masking is idempotent"
    );
});

fn check_bounds(captured: &hopwatch::monitor::result::Evidence) {
    assert!(captured.body_excerpt.len() <= evidence::BODY_EXCERPT_MAX);
    assert!(captured.headers.len() <= evidence::HEADERS_MAX);
    let mut total = 0;
    for (name, value) in &captured.headers {
        assert!(name.len() <= evidence::HEADER_NAME_MAX, "{name}");
        assert!(value.len() <= evidence::HEADER_VALUE_MAX, "{value}");
        total += name.len() + value.len();
    }
    assert!(total <= evidence::HEADER_BYTES_MAX);
}
