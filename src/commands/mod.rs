//! What each CLI command does; `main.rs` only parses arguments.

pub mod agent;
pub mod check;
pub mod import;
pub mod migrate_store;
pub mod report;
pub mod run;
pub mod validate;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Sets up tracing: `RUST_LOG` wins, else info for hopwatch, warn elsewhere.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,hopwatch=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// `hopwatch demo`: exit 0 on Ctrl-C, 1 when it cannot start.
pub async fn demo(listen: String) -> std::process::ExitCode {
    crate::fdlimit::raise();
    let options = crate::demo::DemoOptions {
        listen,
        ..Default::default()
    };
    match crate::demo::run(options, run::shutdown_signal(), |_| {}).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hopwatch demo: {err}");
            std::process::ExitCode::from(1)
        }
    }
}
