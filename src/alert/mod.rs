//! Telling people: notifiers (email and webhook formats) behind one trait,
//! each message built by a pure function, delivered through a durable outbox.

pub mod email;
pub mod format;
pub mod manager;
mod messages;
pub mod outbox;
pub mod subscribers;
pub mod webhook;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::{NotifierConfig, NotifierKind};
use crate::incident::AlertEvent;

/// Why a delivery did not go through.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{message}")]
pub struct DeliveryError {
    /// Worth trying again later (timeouts, 5xx, 408, 429, refused
    /// connections); `false` for answers that will not change (other 4xx).
    pub retryable: bool,
    /// What happened.
    pub message: String,
}

impl DeliveryError {
    /// A failure that may pass on a later try.
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            retryable: true,
            message: message.into(),
        }
    }

    /// A failure that will not pass by retrying.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            retryable: false,
            message: message.into(),
        }
    }
}

/// A boxed future, so notifiers can live behind `Arc<dyn Notifier>`.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

/// Something that delivers alert events: an SMTP server, a webhook.
pub trait Notifier: Send + Sync {
    /// The notifier's name from the config.
    fn name(&self) -> &str;

    /// Delivers `events` (one, or several grouped during an alert storm)
    /// under `delivery_id`, which stays the same on every retry so the
    /// receiver can drop duplicates.
    fn send<'a>(&'a self, delivery_id: &'a str, events: &'a [AlertEvent]) -> SendFuture<'a>;

    /// Delivers `mail` to one subscriber of a page. Only email can; any
    /// other notifier refuses for good (validation keeps it from being
    /// asked).
    fn send_personal<'a>(&'a self, delivery_id: &'a str, mail: &'a PersonalMail) -> SendFuture<'a> {
        let _ = (delivery_id, mail);
        Box::pin(async {
            Err(DeliveryError::permanent(
                "only an email notifier can mail subscribers",
            ))
        })
    }
}

/// A mail to one person (a page's subscriber) rather than to a
/// notifier's own recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalMail {
    /// The subscriber's address.
    pub to: String,
    /// Subject and parts.
    pub content: format::NoticeMail,
    /// The one-click unsubscribe address, for `List-Unsubscribe`.
    pub unsubscribe: String,
}

/// Why the notifiers of a config could not be built; each names its notifier.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifierError {
    /// A key the notifier needs is missing (validation should have said so).
    #[error("notifier {name}: missing {key}")]
    Missing {
        /// The notifier's name.
        name: String,
        /// The missing key.
        key: &'static str,
    },
    /// A webhook notifier could not be set up.
    #[error("notifier {name}: {source}")]
    Webhook {
        /// The notifier's name.
        name: String,
        /// Why.
        source: webhook::WebhookSetupError,
    },
    /// An email notifier could not be set up.
    #[error("notifier {name}: {source}")]
    Email {
        /// The notifier's name.
        name: String,
        /// Why.
        source: email::EmailSetupError,
    },
}

/// One notifier per entry of `notifiers:`, in config order.
pub fn build_notifiers(
    configs: &[NotifierConfig],
) -> Result<Vec<Arc<dyn Notifier>>, NotifierError> {
    configs.iter().map(build_notifier).collect()
}

fn build_notifier(config: &NotifierConfig) -> Result<Arc<dyn Notifier>, NotifierError> {
    let name = config.name.clone();
    let missing = |key| NotifierError::Missing {
        name: config.name.clone(),
        key,
    };
    match config.kind {
        NotifierKind::Webhook => {
            let url = config.url.as_deref().ok_or_else(|| missing("url"))?;
            let notifier = webhook::WebhookNotifier::new(
                name.clone(),
                url,
                config.format.unwrap_or_default(),
                config.secret.clone(),
                config.routing_key.clone(),
            )
            .map_err(|source| NotifierError::Webhook { name, source })?;
            Ok(Arc::new(notifier))
        }
        NotifierKind::Email => {
            let smtp = config.smtp.as_ref().ok_or_else(|| missing("smtp"))?;
            let from = config.from.as_deref().ok_or_else(|| missing("from"))?;
            let notifier = email::EmailNotifier::new(name.clone(), smtp, from, &config.to)
                .map_err(|source| NotifierError::Email { name, source })?;
            Ok(Arc::new(notifier))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> NotifierConfig {
        serde_json::from_value(json).expect("a notifier config")
    }

    #[test]
    fn builds_every_notifier_in_order() {
        let configs = [
            config(
                serde_json::json!({"name": "hook", "type": "webhook", "url": "https://h.example/x"}),
            ),
            config(serde_json::json!({
                "name": "mail", "type": "email", "smtp": {"host": "127.0.0.1", "security": "none"},
                "from": "hopwatch <a@example.com>", "to": ["b@example.com"],
            })),
            config(serde_json::json!({
                "name": "pd", "type": "webhook", "url": "https://events.example/v2/enqueue",
                "format": "pagerduty", "routing_key": "k",
            })),
        ];
        let built = build_notifiers(&configs).expect("valid notifiers");
        let names: Vec<&str> = built.iter().map(|n| n.name()).collect();
        assert_eq!(names, ["hook", "mail", "pd"]);
    }

    #[test]
    fn a_failure_names_the_notifier() {
        let broken = [
            config(
                serde_json::json!({"name": "pd", "type": "webhook", "url": "https://x.example", "format": "pagerduty"}),
            ),
            config(serde_json::json!({
                "name": "mail", "type": "email", "smtp": {"host": "127.0.0.1"},
                "from": "nobody", "to": ["b@example.com"],
            })),
            config(serde_json::json!({"name": "bare", "type": "webhook"})),
        ];
        let messages: Vec<String> = broken
            .iter()
            .map(|c| match build_notifiers(std::slice::from_ref(c)) {
                Ok(_) => panic!("{} should not build", c.name),
                Err(err) => err.to_string(),
            })
            .collect();
        assert_eq!(
            messages[0],
            "notifier pd: format pagerduty needs a routing_key"
        );
        assert!(
            messages[1].starts_with("notifier mail: invalid address \"nobody\""),
            "{}",
            messages[1]
        );
        assert_eq!(messages[2], "notifier bare: missing url");
    }
}
