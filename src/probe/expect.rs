//! Expectations on a complete answer: body, JSON, headers, certificate days
//! and latency. Each returns the problem in words, or `None` when met.

use std::time::Duration;

use http::HeaderMap;

use crate::monitor::result::CertFacts;
use crate::monitor::spec::HttpExpect;

/// Body, JSON and header expectations of an HTTP answer.
pub fn http(
    expect: &HttpExpect,
    headers: &HeaderMap,
    body: &[u8],
    truncated: bool,
) -> Option<String> {
    for (name, wanted) in &expect.headers {
        let got = headers.get(name).and_then(|v| v.to_str().ok());
        if got != Some(wanted.as_str()) {
            return Some(match got {
                Some(got) => format!("header {name} is {got:?}, expected {wanted:?}"),
                None => format!("header {name} is missing, expected {wanted:?}"),
            });
        }
    }
    if !expect.reads_body() {
        return None;
    }
    let note = if truncated {
        " (only the first 1 MiB was read)"
    } else {
        ""
    };
    let text = String::from_utf8_lossy(body);
    if let Some(needle) = &expect.body_contains
        && !text.contains(needle.as_str())
    {
        return Some(format!("body does not contain {needle:?}{note}"));
    }
    if let Some(regex) = &expect.body_regex
        && !regex.is_match(&text)
    {
        return Some(format!("body does not match /{}/{note}", regex.as_str()));
    }
    if expect.json.is_empty() {
        return None;
    }
    let document: serde_json::Value = match serde_json::from_slice(body) {
        Ok(document) => document,
        Err(err) => return Some(format!("body is not JSON ({err}){note}")),
    };
    for (path, compiled, wanted) in &expect.json {
        let found = compiled.query(&document).all();
        match found.first() {
            Some(got) if json_equal(got, wanted) => {}
            Some(got) => return Some(format!("{path} is {got}, expected {wanted}")),
            None => return Some(format!("{path} matches nothing, expected {wanted}")),
        }
    }
    None
}

/// A config value `"200"` should match a JSON number 200 and vice versa,
/// since YAML authors rarely think about quoting.
fn json_equal(got: &serde_json::Value, wanted: &serde_json::Value) -> bool {
    if got == wanted {
        return true;
    }
    match (got, wanted) {
        (serde_json::Value::String(g), w) if !w.is_string() => g.as_str() == w.to_string().as_str(),
        (g, serde_json::Value::String(w)) if !g.is_string() => g.to_string().as_str() == w.as_str(),
        _ => false,
    }
}

/// `cert_min_days`: fewer days left than required.
pub fn cert_days(min_days: Option<u32>, cert: Option<&CertFacts>) -> Option<String> {
    let (min_days, cert) = (min_days?, cert?);
    (cert.days_left < f64::from(min_days)).then(|| {
        format!(
            "certificate expires in {:.1} days (expected at least {min_days})",
            cert.days_left
        )
    })
}

/// `max_latency`: slower than allowed.
pub fn latency(max: Option<Duration>, took: Duration) -> Option<String> {
    let max = max?;
    (took > max).then(|| {
        format!(
            "took {} ms, more than max_latency {} ms",
            took.as_millis(),
            max.as_millis()
        )
    })
}
