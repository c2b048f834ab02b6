//! Notifiers against real receivers: an axum webhook endpoint that records
//! what it gets and answers as told, and aiosmtpd as the SMTP server.

pub(crate) mod email;
pub(crate) mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use hopwatch::alert::{Notifier, build_notifiers};
use hopwatch::config::NotifierConfig;
use hopwatch::incident::{AlertEvent, AlertEvidence, Annotation, EventKind, MonitorRef, Severity};
use hopwatch::probe::{Cause, Hop, Responder, Role, Verdict};
use serde_json::Value;

/// The contract's example incident.
pub fn firing() -> AlertEvent {
    let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
    AlertEvent {
        kind: EventKind::Firing,
        incident_id: "inc-42".into(),
        alert: "shop-5xx".into(),
        severity: Severity::Critical,
        monitor: MonitorRef {
            name: "shop-edge".into(),
            group: Some("Shop".into()),
            url: Some("https://shop.example.com/health".into()),
        },
        cause: Cause::Http502,
        responder: Some(Responder {
            role: Role::Gateway,
            product: Some("nginx".into()),
        }),
        verdict: Verdict {
            hop: Hop::Origin,
            summary: "origin shop-origin refuses connections; the gateway answers 502".into(),
        },
        value: Some(0.12),
        threshold: Some(0.05),
        started_at: at(1_767_323_045_678),
        resolved_at: None,
        evidence: Some(AlertEvidence {
            status: Some(502),
            headers: BTreeMap::from([("server".into(), "nginx".into())]),
            body_excerpt: "<html>502 Bad Gateway</html>".into(),
            request_id: Some("req-7".into()),
            ..AlertEvidence::default()
        }),
        annotations: vec![Annotation {
            at: at(1_767_322_445_678),
            text: "deploy v1.4.2".into(),
        }],
        runbook: Some("https://wiki.example.com/shop-502".into()),
        url: Some("https://status.example.com/incidents/inc-42".into()),
        regions: Default::default(),
    }
}

pub fn resolved() -> AlertEvent {
    AlertEvent {
        kind: EventKind::Resolved,
        resolved_at: Some(UNIX_EPOCH + Duration::from_millis(1_767_323_645_678)),
        ..firing()
    }
}

fn notifier_config(json: Value) -> NotifierConfig {
    serde_json::from_value(json).expect("a notifier config")
}

/// Builds one notifier through the same factory the daemon uses.
pub fn build(json: Value) -> Arc<dyn Notifier> {
    let mut built = build_notifiers(&[notifier_config(json)]).expect("a valid notifier");
    built.pop().expect("one notifier")
}
