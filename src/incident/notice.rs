//! What a page's subscribers are told (contract section 8): the link that
//! confirms their subscription, each update of a status report, and, when
//! `subscriptions.incidents` is on, automatic incidents. The outbox keeps a
//! notice as JSON; the address it goes to is looked up when it is sent, so
//! the outbox never holds one.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{AlertEvent, ReportStatus};

/// One message to one subscriber.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// "Confirm your subscription": the double opt-in.
    Confirm,
    /// A status report was posted or updated.
    Report {
        /// The report's number.
        report: i64,
        /// Its headline.
        title: String,
        /// The status this update set.
        status: ReportStatus,
        /// The update's message (plain text).
        message: String,
        /// When the update was written.
        #[serde(with = "crate::clock::rfc3339")]
        at: SystemTime,
    },
    /// An automatic incident fired or resolved.
    Incident {
        /// The event the alert's own notifiers were given.
        event: Box<AlertEvent>,
    },
}
