//! The agent's side of the wire: the server's two endpoints over HTTPS
//! (plain HTTP only to a loopback address), every answer classified as
//! what the agent does next.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use url::Url;

use super::buffer::Batch;
use crate::clock::unix_ms;
use crate::config::agents::{AgentMonitors, SENT_AT_HEADER};
use crate::monitor::trust::TrustStore;
use crate::secret::Secret;

/// Connecting to the server, at most: a server that is away is found out
/// quickly, and the agent goes back to checking.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One whole request, at most.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest monitor list read: thousands of monitors fit many times over.
const MAX_MONITORS_BODY: usize = 64 * 1024 * 1024;
/// Largest error answer read, and the most of it quoted in a log line.
const MAX_ERROR_BODY: usize = 16 * 1024;
const MAX_ERROR_QUOTE: usize = 300;

/// Why the agent cannot talk to the server at `url`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// `--server` is not a URL the agent may send its token to.
    #[error("--server {url}: {reason}")]
    Url {
        /// The URL, credentials masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built (the TLS setup).
    #[error("cannot set up HTTPS: {0}")]
    Client(String),
}

/// What the server's answer means for the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 401: the token is not an agent's. The agent stops.
    TokenRefused,
    /// 400 or 413: the server will never take this batch. It is dropped,
    /// so that one bad result cannot hold up every later one.
    Refused {
        /// The status.
        status: u16,
        /// The server's `error`, quoted for a log line.
        message: String,
    },
    /// Not reachable, too slow, 5xx, 429, or anything unexpected: try
    /// again later, results kept.
    Unavailable(String),
}

/// The monitors' answer.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the version the agent has is current.
    Unchanged,
    /// The monitors, and the `ETag` to send next time.
    Changed {
        /// What the server sent.
        monitors: AgentMonitors,
        /// Its version, as the server quoted it.
        etag: String,
    },
}

/// The server an agent reports to.
pub struct Server {
    client: reqwest::Client,
    monitors_url: Url,
    results_url: Url,
    token: Secret,
}

impl Server {
    /// A client for the server at `base` (`https://status.example.com`, or
    /// with a path prefix), sending `token`.
    pub fn new(base: &str, token: Secret) -> Result<Self, SetupError> {
        let base = endpoint_base(base)?;
        let join = |path: &str| {
            base.join(path).map_err(|err| SetupError::Url {
                url: crate::mask::text(base.as_str()),
                reason: err.to_string(),
            })
        };
        let tls = TrustStore::default()
            .settings(false, None)
            .map_err(|err| SetupError::Client(err.to_string()))?
            .client_config();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls).clone())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // A redirect would take the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hopwatch-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| SetupError::Client(describe(&err)))?;
        Ok(Self {
            client,
            monitors_url: join("api/v1/agent/monitors")?,
            results_url: join("api/v1/agent/results")?,
            token,
        })
    }

    /// The monitors, unless the server's version is `etag` already.
    pub async fn monitors(&self, etag: Option<&str>) -> Result<Fetched, Failure> {
        let mut request = self
            .client
            .get(self.monitors_url.clone())
            .bearer_auth(self.token.expose());
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let mut response = request.send().await.map_err(unreachable)?;
        match response.status() {
            StatusCode::NOT_MODIFIED => Ok(Fetched::Unchanged),
            StatusCode::OK => {
                let etag = response
                    .headers()
                    .get(ETAG)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body = read_bounded(&mut response, MAX_MONITORS_BODY).await?;
                let monitors = serde_json::from_slice(&body).map_err(|err| {
                    Failure::Unavailable(format!("the server's monitors do not read: {err}"))
                })?;
                Ok(Fetched::Changed { monitors, etag })
            }
            _ => Err(failure(response).await),
        }
    }

    /// Sends one batch of results.
    pub async fn send(&self, batch: &Batch) -> Result<(), Failure> {
        let mut response = self
            .client
            .post(self.results_url.clone())
            .bearer_auth(self.token.expose())
            .header(CONTENT_TYPE, "application/json")
            .header(SENT_AT_HEADER, unix_ms(SystemTime::now()))
            .body(batch.body())
            .send()
            .await
            .map_err(unreachable)?;
        if response.status().is_success() {
            // Read to the end, so the connection is kept for the next one.
            let _ = read_bounded(&mut response, MAX_ERROR_BODY).await;
            return Ok(());
        }
        Err(failure(response).await)
    }
}

/// The URL endpoints are joined to: `https://` anywhere, `http://` only to
/// a loopback address (the token would cross the network in clear); its
/// path ends with `/`, so that a prefix (`/hopwatch`) is kept.
fn endpoint_base(text: &str) -> Result<Url, SetupError> {
    let refuse = |reason: &str| SetupError::Url {
        url: crate::mask::text(text),
        reason: reason.to_owned(),
    };
    let mut url = Url::parse(text).map_err(|err| refuse(&err.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(refuse(
                "plain http only to a loopback address (the token would cross the network in clear); use https://",
            ));
        }
        _ => return Err(refuse("expected an https:// URL")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(refuse("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("expected no query or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).to_canonical().is_loopback(),
        None => false,
    }
}

/// A request that got no answer.
fn unreachable(err: reqwest::Error) -> Failure {
    Failure::Unavailable(describe(&err))
}

/// An answer other than the one hoped for, classified.
async fn failure(mut response: reqwest::Response) -> Failure {
    let status = response.status();
    let body = read_bounded(&mut response, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let message = error_message(status, &body);
    match status {
        StatusCode::UNAUTHORIZED => Failure::TokenRefused,
        StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => Failure::Refused {
            status: status.as_u16(),
            message,
        },
        _ => Failure::Unavailable(message),
    }
}

/// `HTTP 400: results[3].monitor: ...`: the status and the server's
/// `error`, cut short, one line with control characters escaped.
fn error_message(status: StatusCode, body: &[u8]) -> String {
    let said = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let said: String = said.trim().chars().take(MAX_ERROR_QUOTE).collect();
    let said = crate::escape::log_field(&said);
    if said.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {said}", status.as_u16())
    }
}

/// The body, refused past `limit` bytes.
async fn read_bounded(response: &mut reqwest::Response, limit: usize) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > limit {
            return Err(Failure::Unavailable(format!(
                "the server's answer is larger than {} KiB",
                limit / 1024
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An error with its causes (reqwest's own message is only "error sending
/// request"), credentials in any URL masked.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    crate::mask::text(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_over_https_or_to_loopback_only() {
        for good in [
            "https://status.example.com",
            "https://status.example.com/hopwatch",
            "http://127.0.0.1:8080",
            "http://127.9.9.9:8080/",
            "http://[::1]:8080",
            "http://localhost:8080",
        ] {
            let base = endpoint_base(good).unwrap_or_else(|err| panic!("{good}: {err}"));
            assert!(base.path().ends_with('/'), "{base}");
        }
        for bad in [
            "http://status.example.com",
            "http://10.0.0.1:8080",
            "ftp://status.example.com",
            "status.example.com",
            "https://status.example.com/?x=1",
        ] {
            assert!(endpoint_base(bad).is_err(), "{bad}");
        }
        let prefixed = endpoint_base("https://a.example/hopwatch").unwrap();
        assert_eq!(
            prefixed.join("api/v1/agent/monitors").unwrap().as_str(),
            "https://a.example/hopwatch/api/v1/agent/monitors"
        );
    }

    #[test]
    fn error_answers_are_quoted_short_on_one_line() {
        let body = br#"{"error": "results[0].monitor: no monitor named \"x\"\nsecond line"}"#;
        let message = error_message(StatusCode::BAD_REQUEST, body);
        assert!(
            message.starts_with("HTTP 400: results[0].monitor: no monitor named \"x\""),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
        let long = vec![b'a'; 10_000];
        assert!(error_message(StatusCode::BAD_GATEWAY, &long).len() < 400);
        assert_eq!(error_message(StatusCode::BAD_GATEWAY, b""), "HTTP 502");
    }
}
