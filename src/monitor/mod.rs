//! The monitor model every stage after the config reads: a monitor compiled
//! and validated (non-optional interval and timeout, a probe spec), the
//! result of one check with its cause and verdict, and the state it gives.
//! It depends on nothing later in the flow; config produces it.

pub mod cause;
pub mod regions;
pub mod result;
pub mod spec;
pub mod state;
pub mod trust;
pub mod values;

pub use cause::Cause;
pub use result::{CheckResult, Hop, Phases, Responder, Role, RttStats, Verdict};
pub use spec::ProbeSpec;
pub use state::{MonitorState, Overall, overall};
pub use values::{AddressMode, FollowRedirects, MonitorKind, RecordKind, StatusMatcher};

use std::sync::Arc;
use std::time::Duration;

use crate::secret::Secret;

/// A monitor ready to run: what the schedule, the probes, push and the
/// pipeline need, with every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    /// Its store id (assigned when the monitor's row is found or made).
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Status page group.
    pub group: Option<String>,
    /// Probe type.
    pub kind: MonitorKind,
    /// How often it runs.
    pub interval: Duration,
    /// How long one check may take.
    pub timeout: Duration,
    /// Re-checks after a failure.
    pub confirm: u32,
    /// push: extra time after `interval` before a missing push is down.
    pub grace: Duration,
    /// push: the token a heartbeat must carry.
    pub token: Secret,
    /// The monitor that checks this hop's upstream directly.
    pub upstream: Option<String>,
    /// Another monitor names this one as its `upstream`: it is an origin.
    pub is_upstream: bool,
    /// The regions that check it; `None`: every region with a live checker.
    pub regions: Option<Vec<Arc<str>>>,
    /// Failing regions that make it down; `None`: a majority of the live ones.
    pub quorum: Option<u32>,
    /// The host it reaches, for messages ("the path between eu-west and
    /// shop.example.com").
    pub host: String,
    /// The compiled probe.
    pub spec: ProbeSpec,
}
