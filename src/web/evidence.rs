//! Who sees evidence (contract section 10): response headers and body
//! excerpts go to the admin token, or to everyone under
//! `server.public_evidence: true`; other readers get the rest of it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::AppState;
use super::api::auth::{Bearer, bearer};
use crate::config::ServerConfig;
use crate::incident::Incident;
use crate::monitor::CheckResult;

/// How much of the evidence one answer shows. Every public renderer
/// (pages, feed, API) passes what it shows through [`EvidenceView::check`]
/// or [`EvidenceView::incident`]; alerts do not, and carry it whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceView {
    /// Headers and body excerpt included.
    Whole,
    /// Cause, status, responder, verdict and request id; the `evidence`
    /// object stays, without `headers` and `body_excerpt` (contract
    /// section 10).
    Public,
}

impl EvidenceView {
    /// What a visitor without the admin token sees.
    pub fn visitor(server: &ServerConfig) -> EvidenceView {
        if server.public_evidence {
            EvidenceView::Whole
        } else {
            EvidenceView::Public
        }
    }

    /// `result` as this reader may see it.
    pub fn check(self, mut result: CheckResult) -> CheckResult {
        if self == EvidenceView::Public {
            result.evidence = result.evidence.as_ref().map(|e| e.public());
        }
        result
    }

    /// `incident` as this reader may see it.
    pub fn incident(self, mut incident: Incident) -> Incident {
        if self == EvidenceView::Public {
            incident.evidence = incident.evidence.as_ref().map(|e| e.public());
        }
        incident
    }
}

/// For API reads: the admin token shows the whole evidence. Any other
/// request, a wrong token included, reads as a visitor: the data is public
/// apart from the evidence, so a read is never refused.
impl FromRequestParts<AppState> for EvidenceView {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(match bearer(parts, state) {
            Bearer::Admin => EvidenceView::Whole,
            Bearer::Disabled | Bearer::Missing | Bearer::Wrong => {
                EvidenceView::visitor(&state.config().config.server)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::monitor::Cause;
    use crate::monitor::result::Evidence;

    fn failed() -> CheckResult {
        let mut result = CheckResult::new(UNIX_EPOCH, Cause::Http502);
        result.status = Some(502);
        result.evidence = Some(Evidence {
            body_excerpt: "<h1>502</h1>".into(),
            request_id: Some("req-7".into()),
            ..Evidence::default()
        });
        result
    }

    #[test]
    fn visitors_see_the_whole_evidence_only_when_it_is_public() {
        let mut server = ServerConfig::default();
        assert_eq!(EvidenceView::visitor(&server), EvidenceView::Public);
        server.public_evidence = true;
        assert_eq!(EvidenceView::visitor(&server), EvidenceView::Whole);
    }

    #[test]
    fn the_public_view_keeps_status_and_request_id() {
        let shown = EvidenceView::Public.check(failed());
        let json = serde_json::to_value(&shown).unwrap();
        assert_eq!(json["status"], 502);
        assert_eq!(json["evidence"], serde_json::json!({"request_id": "req-7"}));
        let whole = serde_json::to_value(EvidenceView::Whole.check(failed())).unwrap();
        assert_eq!(whole["evidence"]["body_excerpt"], "<h1>502</h1>");
    }
}
