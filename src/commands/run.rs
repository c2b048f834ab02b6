//! `hopwatch run`: load the config (refusing a bad one before touching
//! anything), start the daemon, stop cleanly on SIGINT or SIGTERM.

use std::path::Path;
use std::process::ExitCode;

use crate::app::Application;
use crate::config;

/// Runs the daemon until a signal; exit 0 after a clean drain, 1 on a bad
/// config or a failure to start.
pub async fn run(explicit: Option<&Path>) -> ExitCode {
    let path = config::find_config_file(explicit);
    let loaded = match config::load(&path) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in &errors.errors {
                eprintln!("{error}");
            }
            return ExitCode::from(1);
        }
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    // Before anything opens a socket: checks and web clients draw on it.
    crate::fdlimit::raise();
    let app = match Application::build(loaded).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("hopwatch: {err}");
            return ExitCode::from(1);
        }
    };
    tracing::info!(listen = %app.local_addr(), "serving");
    match app.run_until(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hopwatch: {err}");
            ExitCode::from(1)
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate =
        signal(SignalKind::terminate()).expect("installing a SIGTERM handler works on Unix");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
