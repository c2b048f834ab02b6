//! `hopwatch validate`: parse and check a config, print every error.

use std::path::Path;
use std::process::ExitCode;

/// Exit 0 and a summary when valid; exit 1 and every error, one a line.
pub fn run(explicit: Option<&Path>) -> ExitCode {
    let _ = explicit;
    ExitCode::from(1)
}
