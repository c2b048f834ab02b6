//! `hopwatch validate`: parse and check a config, print every error.

use std::path::Path;
use std::process::ExitCode;

use crate::config;

/// Exit 0 and a summary when valid (warnings, if any, on stderr); exit 1
/// and every error, one a line.
pub fn run(explicit: Option<&Path>) -> ExitCode {
    let path = config::find_config_file(explicit);
    match config::load(&path) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("{warning}");
            }
            println!("{}", loaded.summary());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in &errors.errors {
                eprintln!("{error}");
            }
            ExitCode::from(1)
        }
    }
}
