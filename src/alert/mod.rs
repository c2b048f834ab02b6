//! Telling people: notifiers (email and webhook formats) behind one trait,
//! each message built by a pure function, delivered through a durable outbox.

pub mod event;

pub use event::{AlertEvent, AlertEvidence, Annotation, EventKind, MonitorRef};

use std::future::Future;
use std::pin::Pin;

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
}
