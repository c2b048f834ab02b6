//! The hop at fault for one check, with a line for the person on call.

use super::result::{CheckResult, Hop, Verdict};

/// The verdict of a single check. (Stub.)
pub fn for_check(result: &CheckResult) -> Verdict {
    Verdict { hop: if result.ok { Hop::None } else { Hop::Unknown }, summary: String::new() }
}
