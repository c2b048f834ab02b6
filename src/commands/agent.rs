//! `hopwatch agent --server URL --name NAME --token TOKEN`: checks the
//! monitors of the agent's region for a server; exit 0 on SIGINT or
//! SIGTERM, 1 when the server refuses the token, 2 for a `--server` that
//! cannot be used.

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::agent::{self, AgentError, Options};

/// The arguments of `hopwatch agent`.
#[derive(Debug, clap::Args)]
pub struct Request {
    /// The hopwatch server: https://status.example.com (plain http only
    /// to a loopback address).
    #[arg(long, value_name = "URL")]
    server: String,
    /// This agent's name, as in the server's `agents:`.
    #[arg(long)]
    name: String,
    /// Its token. Better given as HOPWATCH_AGENT_TOKEN, which `ps` does not show.
    #[arg(long, env = "HOPWATCH_AGENT_TOKEN", hide_env_values = true)]
    token: String,
}

/// Runs the agent until a signal.
pub async fn run(request: Request) -> ExitCode {
    // Before any check opens a socket, as `run` does.
    crate::fdlimit::raise();
    let stop = CancellationToken::new();
    let signalled = stop.clone();
    tokio::spawn(async move {
        super::run::shutdown_signal().await;
        signalled.cancel();
    });
    let options = Options {
        server: request.server,
        name: request.name,
        token: request.token.into(),
    };
    match agent::run(options, stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err @ AgentError::Setup(_)) => {
            eprintln!("hopwatch agent: {err}");
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("hopwatch agent: {err}");
            ExitCode::from(1)
        }
    }
}
