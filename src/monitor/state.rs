//! A monitor's state as people see it, and the overall state of many: one
//! rule for the status page, the API, badges and metrics.

use std::fmt;

use super::{Cause, CheckResult};

/// The contract's state of one monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonitorState {
    /// The last check passed.
    Up,
    /// Passing, but slow, expiring or flaky.
    Degraded,
    /// The last check failed.
    Down,
    /// Inside a maintenance window.
    Maintenance,
    /// No result yet, or one that says nothing about the target.
    Unknown,
}

impl MonitorState {
    /// Every state, in the order metrics and counts list them.
    pub const ALL: [MonitorState; 5] = [
        Self::Up,
        Self::Degraded,
        Self::Down,
        Self::Maintenance,
        Self::Unknown,
    ];

    /// The state a result alone gives (maintenance is decided apart).
    pub fn of(result: &CheckResult) -> Self {
        match result.cause {
            Cause::Ok => Self::Up,
            Cause::Unknown => Self::Unknown,
            cause if cause.is_degraded() => Self::Degraded,
            _ if result.flaky == Some(true) => Self::Degraded,
            _ => Self::Down,
        }
    }

    /// The name in the API, metrics and CSS classes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Degraded => "degraded",
            Self::Down => "down",
            Self::Maintenance => "maintenance",
            Self::Unknown => "unknown",
        }
    }

    /// The state named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// Whether the state says something about the target (up, degraded or
    /// down): only those count toward the overall state.
    pub fn is_judged(self) -> bool {
        matches!(self, Self::Up | Self::Degraded | Self::Down)
    }
}

impl fmt::Display for MonitorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a whole page or of everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overall {
    /// Every judged monitor up.
    Operational,
    /// Some monitor down or degraded, short of an outage.
    Degraded,
    /// Half or more of the judged monitors down.
    Outage,
    /// Nothing wrong, and some monitor in maintenance.
    Maintenance,
}

impl Overall {
    /// The word on the status page (and its CSS class).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operational => "operational",
            Self::Degraded => "degraded",
            Self::Outage => "outage",
            Self::Maintenance => "maintenance",
        }
    }

    /// The word in `/api/v1/status`, whose contract knows three states:
    /// maintenance there is operational (the monitors say maintenance).
    pub fn api_word(self) -> &'static str {
        match self {
            Self::Maintenance => Self::Operational.as_str(),
            other => other.as_str(),
        }
    }
}

/// The overall state of `states`: half or more of the judged monitors
/// down is an outage, anything short of all up is degraded, and with none
/// of that a monitor in maintenance says so.
pub fn overall(states: impl IntoIterator<Item = MonitorState>) -> Overall {
    let (mut down, mut degraded, mut judged, mut maintenance) = (0, 0, 0, 0);
    for state in states {
        match state {
            MonitorState::Down => down += 1,
            MonitorState::Degraded => degraded += 1,
            MonitorState::Maintenance => maintenance += 1,
            MonitorState::Up | MonitorState::Unknown => {}
        }
        judged += usize::from(state.is_judged());
    }
    if judged > 0 && down * 2 >= judged {
        Overall::Outage
    } else if down + degraded > 0 {
        Overall::Degraded
    } else if maintenance > 0 {
        Overall::Maintenance
    } else {
        Overall::Operational
    }
}

#[cfg(test)]
mod tests {
    use super::MonitorState::*;
    use super::*;

    #[test]
    fn the_overall_rule() {
        let cases: [(&[MonitorState], Overall); 8] = [
            (&[], Overall::Operational),
            (&[Up, Up, Unknown], Overall::Operational),
            (&[Up, Degraded], Overall::Degraded),
            (&[Up, Up, Down], Overall::Degraded),
            (&[Up, Down], Overall::Outage),
            (&[Up, Maintenance], Overall::Maintenance),
            (&[Down, Maintenance, Up], Overall::Outage),
            (&[Unknown, Unknown], Overall::Operational),
        ];
        for (states, expected) in cases {
            assert_eq!(overall(states.iter().copied()), expected, "{states:?}");
        }
        assert_eq!(Overall::Maintenance.api_word(), "operational");
    }

    #[test]
    fn names_round_trip() {
        for state in MonitorState::ALL {
            assert_eq!(MonitorState::parse(state.as_str()), Some(state));
        }
    }

    #[test]
    fn a_result_gives_its_state() {
        let at = std::time::SystemTime::now();
        let mut result = CheckResult::new(at, Cause::Ok);
        assert_eq!(MonitorState::of(&result), Up);
        result.set_cause(Cause::TooSlow);
        assert_eq!(MonitorState::of(&result), Degraded);
        result.set_cause(Cause::Http502);
        assert_eq!(MonitorState::of(&result), Down);
        result.flaky = Some(true);
        assert_eq!(MonitorState::of(&result), Degraded);
        result.set_cause(Cause::Unknown);
        assert_eq!(MonitorState::of(&result), Unknown);
    }
}
