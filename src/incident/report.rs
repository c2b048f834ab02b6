//! Status reports: what a person on call writes during an outage, and the
//! updates that follow it. The store keeps them, the web takes and shows them.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Longest message of a report or an update, in bytes: a paragraph or a
/// few, never a pasted log (contract section 8 refuses a 100 KB one).
pub const MAX_MESSAGE_BYTES: usize = 10_000;
/// Longest title, in bytes: it is a heading on every page it concerns.
pub const MAX_TITLE_BYTES: usize = 200;

/// Where a report stands, as the person writing it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    /// Something is wrong; the cause is not known yet.
    Investigating,
    /// The cause is known; a fix is on its way.
    Identified,
    /// A fix is out; watching that it holds.
    Monitoring,
    /// Over. An update with this status closes the report.
    Resolved,
}

impl ReportStatus {
    /// Every status, in the order a report usually goes through them.
    pub const ALL: [ReportStatus; 4] = [
        ReportStatus::Investigating,
        ReportStatus::Identified,
        ReportStatus::Monitoring,
        ReportStatus::Resolved,
    ];

    /// The word of the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Investigating => "investigating",
            ReportStatus::Identified => "identified",
            ReportStatus::Monitoring => "monitoring",
            ReportStatus::Resolved => "resolved",
        }
    }

    /// The word as a page shows it.
    pub fn label(self) -> &'static str {
        match self {
            ReportStatus::Investigating => "Investigating",
            ReportStatus::Identified => "Identified",
            ReportStatus::Monitoring => "Monitoring",
            ReportStatus::Resolved => "Resolved",
        }
    }

    /// The status named `word`, exactly as [`ReportStatus::as_str`] spells it.
    pub fn parse(word: &str) -> Option<ReportStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }
}

/// One entry of a report's timeline; the first is the report's own message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportUpdate {
    /// When it was written.
    #[serde(with = "crate::clock::rfc3339")]
    pub at: SystemTime,
    /// The status it set.
    pub status: ReportStatus,
    /// Plain text; pages escape it and turn its web addresses into links.
    pub message: String,
}

/// A status report with its timeline: the REPORT object of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Its number, in URLs.
    pub id: i64,
    /// The headline ("Checkout fails for some users").
    pub title: String,
    /// The latest update's status.
    pub status: ReportStatus,
    /// The monitors it concerns; with `pages` both empty, it concerns every page.
    pub monitors: Vec<String>,
    /// The pages (slugs) it concerns.
    pub pages: Vec<String>,
    /// When it was posted.
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: SystemTime,
    /// When an update resolved it; `null` while open.
    #[serde(with = "crate::clock::rfc3339_opt")]
    pub resolved_at: Option<SystemTime>,
    /// Its timeline, oldest first.
    pub updates: Vec<ReportUpdate>,
}

/// Whether a report naming `monitors` and `pages` goes on the page
/// `slug`, which shows the monitors `shows` accepts: a report naming
/// neither goes everywhere, another on the pages it lists and on every
/// page showing a monitor it names.
pub fn concerns(
    monitors: &[String],
    pages: &[String],
    slug: &str,
    shows: impl Fn(&str) -> bool,
) -> bool {
    (monitors.is_empty() && pages.is_empty())
        || pages.iter().any(|p| p == slug)
        || monitors.iter().any(|m| shows(m))
}

impl Report {
    /// Whether no update has resolved it yet.
    pub fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }

    /// Whether it names neither monitors nor pages, and so concerns all.
    pub fn is_general(&self) -> bool {
        self.monitors.is_empty() && self.pages.is_empty()
    }

    /// Whether the page `slug`, which shows the monitors `shows` accepts,
    /// should carry it (see [`concerns`]).
    pub fn concerns(&self, slug: &str, shows: impl Fn(&str) -> bool) -> bool {
        concerns(&self.monitors, &self.pages, slug, shows)
    }

    /// The latest entry of its timeline.
    pub fn latest(&self) -> Option<&ReportUpdate> {
        self.updates.last()
    }

    /// When it last changed: its latest update's time.
    pub fn updated_at(&self) -> SystemTime {
        self.latest().map_or(self.created_at, |u| u.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(monitors: &[&str], pages: &[&str]) -> Report {
        Report {
            id: 1,
            title: "t".into(),
            status: ReportStatus::Investigating,
            monitors: monitors.iter().map(|m| (*m).to_owned()).collect(),
            pages: pages.iter().map(|p| (*p).to_owned()).collect(),
            created_at: SystemTime::UNIX_EPOCH,
            resolved_at: None,
            updates: Vec::new(),
        }
    }

    #[test]
    fn statuses_read_back_as_written_and_nothing_else() {
        for status in ReportStatus::ALL {
            assert_eq!(ReportStatus::parse(status.as_str()), Some(status));
        }
        for bad in ["Resolved", "fixed", "", " investigating"] {
            assert_eq!(ReportStatus::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_report_concerns_its_pages_and_the_pages_of_its_monitors() {
        let shop = |m: &str| m == "web";
        assert!(report(&[], &[]).concerns("shop", shop), "general");
        assert!(report(&["web"], &[]).concerns("shop", shop));
        assert!(!report(&["db"], &[]).concerns("shop", shop));
        assert!(report(&["db"], &["shop"]).concerns("shop", shop));
        assert!(!report(&[], &["ops"]).concerns("shop", shop));
    }
}
