//! One card per root cause: an incident folded into another (an edge
//! failing because its upstream fails) is named on its root's card instead
//! of showing as a card of its own.

use std::collections::HashMap;

use crate::incident::{Incident, IncidentState};

/// How many folds are followed to a root: folds point at a root already
/// (`evaluate::incidents` folds into the upstream's root), so more than one
/// step only happens after an unfold, and a cycle must not loop a page.
const MAX_STEPS: usize = 4;

/// A card: the root incident and the incidents folded into it.
#[derive(Debug)]
pub struct Card<'a> {
    /// The incident the card is about: the root cause.
    pub incident: &'a Incident,
    /// Incidents folded into it, oldest first; their monitors are the
    /// hops it affects.
    pub folded: Vec<&'a Incident>,
}

/// The cards of `list` (one of the page's lists, newest first), given
/// `all` the incidents the page shows. An incident whose root is among
/// `all` joins the root's card and gets none of its own, unless it is
/// still open while its root resolved: an open failure never hides under
/// a resolved card. Folds into a `monitor:NAME` marker (the upstream's
/// incident has not opened yet) or into an incident the page does not
/// show keep their own card.
pub fn cards<'a>(list: &'a [Incident], all: &[&'a Incident]) -> Vec<Card<'a>> {
    let by_id: HashMap<&str, &Incident> = all.iter().map(|i| (i.id.as_str(), *i)).collect();
    let mut folded: HashMap<&str, Vec<&Incident>> = HashMap::new();
    for incident in all {
        if let Some(root) = root_of(incident, &by_id) {
            folded.entry(root.id.as_str()).or_default().push(incident);
        }
    }
    list.iter()
        .filter(|incident| root_of(incident, &by_id).is_none())
        .map(|incident| {
            let mut folded = folded.remove(incident.id.as_str()).unwrap_or_default();
            folded.sort_by_key(|i| i.started_at);
            Card { incident, folded }
        })
        .collect()
}

/// The shown incident `incident` is folded into, following folds, when it
/// may stand for it (see [`cards`]).
fn root_of<'a>(incident: &Incident, by_id: &HashMap<&str, &'a Incident>) -> Option<&'a Incident> {
    let mut root = None;
    let mut next = incident.folded_into.as_deref();
    for _ in 0..MAX_STEPS {
        let Some(found) = next.and_then(|id| by_id.get(id)) else {
            break;
        };
        if found.id == incident.id {
            return None;
        }
        root = Some(*found);
        next = found.folded_into.as_deref();
    }
    root.filter(|root| {
        incident.state == IncidentState::Resolved || root.state == IncidentState::Open
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::incident::Severity;
    use crate::monitor::{Cause, Hop, Verdict};

    fn incident(id: &str, monitor: &str, into: Option<&str>, state: IncidentState) -> Incident {
        Incident {
            id: id.into(),
            alert: "down".into(),
            monitor: monitor.into(),
            severity: Severity::Critical,
            state,
            cause: Cause::Http502,
            verdict: Verdict {
                hop: Hop::Origin,
                summary: String::new(),
            },
            responder: None,
            evidence: None,
            value: None,
            threshold: None,
            started_at: UNIX_EPOCH + Duration::from_secs(id.len() as u64),
            resolved_at: None,
            acknowledged: false,
            folded_into: into.map(Into::into),
            annotations: Vec::new(),
            notified_at: None,
            regions: Default::default(),
        }
    }

    fn ids(cards: &[Card]) -> Vec<(String, Vec<String>)> {
        cards
            .iter()
            .map(|c| {
                let folded = c.folded.iter().map(|i| i.monitor.clone()).collect();
                (c.incident.monitor.clone(), folded)
            })
            .collect()
    }

    #[test]
    fn folded_incidents_join_their_roots_card() {
        use IncidentState::{Open, Resolved};
        let open = [
            incident("o", "origin", None, Open),
            incident("e1", "edge", Some("o"), Open),
            incident("e22", "cdn", Some("e1"), Open),
            incident("w", "waiting", Some("monitor:db"), Open),
            incident("g", "gone", Some("r"), Open),
            incident("u", "unknown", Some("elsewhere"), Open),
        ];
        let resolved = [
            incident("r", "old-origin", None, Resolved),
            incident("re", "old-edge", Some("r"), Resolved),
            incident("oe", "early-edge", Some("o"), Resolved),
        ];
        let all: Vec<&Incident> = open.iter().chain(&resolved).collect();
        assert_eq!(
            ids(&cards(&open, &all)),
            [
                (
                    "origin".into(),
                    vec!["edge".into(), "early-edge".into(), "cdn".into()]
                ),
                ("waiting".into(), vec![]),
                ("gone".into(), vec![]),
                ("unknown".into(), vec![]),
            ]
        );
        assert_eq!(
            ids(&cards(&resolved, &all)),
            [("old-origin".into(), vec!["old-edge".into()])]
        );
    }

    #[test]
    fn a_cycle_of_folds_ends() {
        let open = [
            incident("a", "a", Some("b"), IncidentState::Open),
            incident("b", "b", Some("a"), IncidentState::Open),
        ];
        let all: Vec<&Incident> = open.iter().collect();
        assert_eq!(cards(&open, &all).len(), 2, "neither hides the other");
    }
}
