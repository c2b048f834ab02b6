//! The webhook notifier: POSTs a JSON body (hopwatch's own, Slack, Discord
//! or PagerDuty) with a delivery id and an optional HMAC signature.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use sha2::Sha256;
use tracing::Instrument;

use super::{DeliveryError, Notifier, SendFuture, format};
use crate::config::{Secret, WebhookFormat};
use crate::incident::AlertEvent;
use crate::monitor::trust::{TlsSetupError, TrustStore};

/// Default limit for connecting, and for a whole request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Header carrying the delivery id, the same on every retry.
pub const DELIVERY_HEADER: &str = "x-hopwatch-delivery";
/// Header carrying `sha256=<hex HMAC-SHA256 of the body>` when a secret is set.
pub const SIGNATURE_HEADER: &str = "x-hopwatch-signature";
/// How much of a refusing receiver's answer is quoted in the error.
const EXCERPT_MAX: usize = 200;

/// Why a webhook notifier could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookSetupError {
    /// The system trust store could not be read.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// `format: pagerduty` without a `routing_key`.
    #[error("format pagerduty needs a routing_key")]
    MissingRoutingKey,
}

/// POSTs alert events to one URL in one format.
pub struct WebhookNotifier {
    name: String,
    url: String,
    format: WebhookFormat,
    secret: Option<Secret>,
    routing_key: Option<Secret>,
    timeout: Duration,
    /// One client per notifier: connections are reused across deliveries.
    client: reqwest::Client,
}

// By hand: the URL (Slack and Discord put their token in its path) must
// not reach logs; the host is enough. Secrets print as `***` themselves.
impl fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("name", &self.name)
            .field("host", &host(&self.url))
            .field("format", &self.format)
            .field("secret", &self.secret)
            .field("routing_key", &self.routing_key)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    /// A notifier POSTing to `url` in `format`, with [`DEFAULT_TIMEOUT`].
    /// `secret` signs every body; `routing_key` is PagerDuty's and needed
    /// for that format. HTTPS uses the system trust store (ring provider).
    pub fn new(
        name: impl Into<String>,
        url: impl Into<String>,
        format: WebhookFormat,
        secret: Option<Secret>,
        routing_key: Option<Secret>,
    ) -> Result<Self, WebhookSetupError> {
        if format == WebhookFormat::Pagerduty && routing_key.is_none() {
            return Err(WebhookSetupError::MissingRoutingKey);
        }
        let tls = TrustStore::default().settings(false, None)?.client_config();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls).clone())
            .connect_timeout(DEFAULT_TIMEOUT)
            // A redirect of a POST is a misconfigured URL, and following it
            // could hand the signed body to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(WebhookSetupError::Client)?;
        Ok(Self {
            name: name.into(),
            url: url.into(),
            format,
            secret,
            routing_key,
            timeout: DEFAULT_TIMEOUT,
            client,
        })
    }

    /// Limits each request (connect, send, answer) to `timeout` instead.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The request bodies for `events`: one, except for PagerDuty, which
    /// takes one event per request.
    pub fn bodies(&self, events: &[AlertEvent]) -> Vec<Vec<u8>> {
        match self.format {
            WebhookFormat::Json => vec![format::json_body(events)],
            WebhookFormat::Slack => vec![format::slack_body(events)],
            WebhookFormat::Discord => vec![format::discord_body(events)],
            WebhookFormat::Pagerduty => {
                let key = self.routing_key.as_ref().map_or("", Secret::expose);
                format::pagerduty_bodies(events, key)
            }
        }
    }

    /// POSTs one body and classifies the outcome.
    async fn post(&self, delivery_id: &str, body: Vec<u8>) -> Result<(), DeliveryError> {
        let mut request = self
            .client
            .post(&self.url)
            .timeout(self.timeout)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, concat!("hopwatch/", env!("CARGO_PKG_VERSION")))
            .header(DELIVERY_HEADER, delivery_id);
        if let Some(secret) = &self.secret {
            request = request.header(SIGNATURE_HEADER, signature(secret.expose(), &body));
        }
        let mut response = request.body(body).send().await.map_err(transport_error)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(" (Retry-After: {v})"))
            .unwrap_or_default();
        let excerpt = read_excerpt(&mut response).await;
        let message = format!("HTTP {status}{retry_after}: {excerpt}");
        let code = status.as_u16();
        if code == 408 || code == 429 || status.is_server_error() {
            Err(DeliveryError::retry(message))
        } else {
            Err(DeliveryError::permanent(message))
        }
    }
}

/// The URL's host, the one part of it that is never a secret.
fn host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// `sha256=<hex HMAC-SHA256 of body keyed with secret>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A transport failure: never the URL (it may hold a token), always retried
/// except for a request hopwatch itself could not build.
fn transport_error(err: reqwest::Error) -> DeliveryError {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let permanent = err.is_builder();
    let err = err.without_url();
    // reqwest's own message is generic ("error sending request"); the
    // causes below it say what happened (refused, reset, certificate).
    let mut message = format!("{kind}: {err}");
    let mut source = std::error::Error::source(&err);
    for _ in 0..8 {
        let Some(cause) = source else { break };
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if permanent {
        DeliveryError::permanent(message)
    } else {
        DeliveryError::retry(message)
    }
}

/// The start of a refusing receiver's answer, as one line of text; reading
/// stops after a few hundred bytes so a huge error page costs nothing.
async fn read_excerpt(response: &mut reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_MAX * 4 {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(EXCERPT_MAX) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None if line.is_empty() => "(empty body)".to_owned(),
        None => line,
    }
}

impl Notifier for WebhookNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, delivery_id: &'a str, events: &'a [AlertEvent]) -> SendFuture<'a> {
        let span = tracing::info_span!("webhook", notifier = %self.name, delivery = %delivery_id);
        Box::pin(
            async move {
                // PagerDuty bodies go one by one; a failure stops the rest and the
                // whole delivery is retried (PagerDuty folds repeated dedup keys).
                for body in self.bodies(events) {
                    self.post(delivery_id, body).await?;
                }
                Ok(())
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hex_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn pagerduty_needs_a_routing_key() {
        let built = WebhookNotifier::new(
            "pd",
            "https://x.example",
            WebhookFormat::Pagerduty,
            None,
            None,
        );
        assert!(matches!(built, Err(WebhookSetupError::MissingRoutingKey)));
    }

    #[test]
    fn debug_hides_url_tokens_and_secrets() {
        let notifier = WebhookNotifier::new(
            "hook",
            "https://hooks.example.com/services/abc123?token=abc123",
            WebhookFormat::Json,
            Some("s3cr3t".into()),
            None,
        )
        .expect("a valid notifier");
        let shown = format!("{notifier:?}");
        assert!(
            !shown.contains("abc123") && !shown.contains("s3cr3t"),
            "{shown}"
        );
        assert!(shown.contains("\"hook\""), "{shown}");
    }
}
