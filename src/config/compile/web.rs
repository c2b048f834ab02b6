//! Compiling the monitors that speak HTTP: http requests and their
//! expectations, and WebSocket upgrades.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use regex::Regex;
use serde_json_path::JsonPath;
use url::Url;

use super::{DEFAULT_BODY_LIMIT, FieldError, first_line, tls_settings};
use crate::config::schema::MonitorConfig;
use crate::monitor::StatusMatcher;
use crate::monitor::spec::{HttpExpect, HttpSpec, WebsocketSpec};
use crate::monitor::trust::TrustStore;

pub(super) fn build_http(
    m: &MonitorConfig,
    trust: &TrustStore,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<HttpSpec> {
    let before = errors.len();
    let url = url_of(m, ["http", "https"], "an http monitor needs a url", errors);
    let method = match m.method.as_deref() {
        None => Some(Method::GET),
        Some(text) => match Method::from_bytes(text.to_ascii_uppercase().as_bytes()) {
            Ok(method) => Some(method),
            Err(_) => {
                errors.push(FieldError::new(
                    "method",
                    format!("invalid method {text:?}"),
                ));
                None
            }
        },
    };
    let mut headers = request_headers(m, errors);
    let resolve = m
        .resolve
        .as_deref()
        .and_then(|text| match text.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                errors.push(FieldError::new(
                    "resolve",
                    format!("invalid address {text:?} (expected ip:port, e.g. 203.0.113.7:443)"),
                ));
                None
            }
        });
    let expect = build_http_expect(m, errors);
    let tls = tls_settings(m, trust, errors);
    if errors.len() > before {
        return None;
    }
    let mut url = url?;
    basic_auth_from_url(&mut url, &mut headers);
    Some(HttpSpec {
        url,
        method: method?,
        headers,
        body: Bytes::from(m.body.clone().unwrap_or_default()),
        resolve,
        follow_redirects: m.follow_redirects.unwrap_or_default(),
        tls: tls?,
        expect: expect?,
        addresses: m.addresses,
        timeout,
        body_limit: DEFAULT_BODY_LIMIT,
    })
}

/// Credentials in the URL become a Basic `Authorization` header (unless one
/// is configured) and leave the URL, so that they travel with the other
/// headers, only to the monitor's own origin.
fn basic_auth_from_url(url: &mut Url, headers: &mut HeaderMap) {
    use base64::Engine;
    if url.username().is_empty() && url.password().is_none() {
        return;
    }
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8_lossy()
            .into_owned()
    };
    let user = decode(url.username());
    let password = decode(url.password().unwrap_or_default());
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    if let Ok(mut value) = HeaderValue::from_str(&format!("Basic {encoded}")) {
        value.set_sensitive(true);
        headers.entry(http::header::AUTHORIZATION).or_insert(value);
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
}

pub(super) fn build_http_expect(
    m: &MonitorConfig,
    errors: &mut Vec<FieldError>,
) -> Option<HttpExpect> {
    let e = &m.expect;
    let before = errors.len();
    let body_regex = e
        .body_regex
        .as_deref()
        .and_then(|text| match Regex::new(text) {
            Ok(re) => Some(re),
            Err(err) => {
                errors.push(FieldError::new(
                    "expect.body_regex",
                    format!("invalid regex: {}", first_line(&err.to_string())),
                ));
                None
            }
        });
    let mut json = Vec::new();
    for (path, value) in &e.json {
        match JsonPath::parse(path) {
            Ok(compiled) => json.push((path.clone(), compiled, value.clone())),
            Err(err) => errors.push(FieldError::new(
                format!("expect.json.{path}"),
                format!("invalid JSONPath: {err}"),
            )),
        }
    }
    let mut headers = Vec::new();
    for (name, value) in &e.headers {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(header) => headers.push((header, value.clone())),
            Err(_) => errors.push(FieldError::new(
                format!("expect.headers.{name}"),
                "invalid header name",
            )),
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(HttpExpect {
        status: e
            .status
            .clone()
            .unwrap_or_else(|| vec![StatusMatcher::Class(2)]),
        body_contains: e.body_contains.clone(),
        body_regex,
        json,
        headers,
        max_latency: e.max_latency,
        cert_min_days: e.cert_min_days,
    })
}

pub(super) fn build_websocket(
    m: &MonitorConfig,
    trust: &TrustStore,
    timeout: Duration,
    errors: &mut Vec<FieldError>,
) -> Option<WebsocketSpec> {
    let before = errors.len();
    let url = url_of(
        m,
        ["ws", "wss"],
        "a websocket monitor needs a url (ws:// or wss://)",
        errors,
    );
    let mut headers = request_headers(m, errors);
    let tls = tls_settings(m, trust, errors);
    if errors.len() > before {
        return None;
    }
    let mut url = url?;
    basic_auth_from_url(&mut url, &mut headers);
    Some(WebsocketSpec {
        url,
        headers,
        send: m.send.clone(),
        body_contains: m.expect.body_contains.clone(),
        tls: tls?,
        cert_min_days: m.expect.cert_min_days,
        timeout,
        max_latency: m.expect.max_latency,
        body_limit: DEFAULT_BODY_LIMIT,
    })
}

/// The monitor's `url`, parsed, with one of `schemes` and a host; `missing`
/// is the error when there is none. A bad URL is quoted masked.
fn url_of(
    m: &MonitorConfig,
    schemes: [&str; 2],
    missing: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Url> {
    let Some(text) = m.url.as_deref() else {
        errors.push(FieldError::new("url", missing));
        return None;
    };
    let shown = crate::mask::lone_url(text);
    match Url::parse(text) {
        Ok(url) if schemes.contains(&url.scheme()) && url.host_str().is_some() => Some(url),
        Ok(_) => {
            let [a, b] = schemes;
            errors.push(FieldError::new(
                "url",
                format!("invalid url {shown:?} (expected {a}:// or {b}:// with a host)"),
            ));
            None
        }
        Err(err) => {
            errors.push(FieldError::new(
                "url",
                format!("invalid url {shown:?}: {err}"),
            ));
            None
        }
    }
}

/// The monitor's `headers`, each name and value checked.
fn request_headers(m: &MonitorConfig, errors: &mut Vec<FieldError>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in &m.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                headers.insert(name, value);
            }
            (Err(_), _) => errors.push(FieldError::new(
                format!("headers.{name}"),
                "invalid header name",
            )),
            (_, Err(_)) => errors.push(FieldError::new(
                format!("headers.{name}"),
                "invalid header value",
            )),
        }
    }
    headers
}
