//! `hopwatch import gatus FILE` and `hopwatch import kuma FILE`: another
//! monitor's setup printed as a commented hopwatch config on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::import::{self, ImportError, Imported};

/// Where the setup comes from.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Source {
    /// A Gatus config file (YAML).
    Gatus {
        /// The Gatus config, e.g. config/config.yaml.
        file: PathBuf,
    },
    /// Uptime Kuma's database (kuma.db) or its JSON backup.
    Kuma {
        /// kuma.db (opened read-only) or a backup .json.
        file: PathBuf,
    },
}

/// Prints the config on stdout and a summary on stderr. Exit 0 when it
/// validates; 1 when the file cannot be read or holds no monitor hopwatch
/// can check (the commented config is still printed then, to say why).
pub async fn run(source: Source) -> ExitCode {
    let result = match &source {
        Source::Gatus { file } => import::gatus(file),
        Source::Kuma { file } => import::kuma(file).await,
    };
    match result {
        Ok(imported) => report(&imported),
        Err(err) => fail(&err),
    }
}

fn report(imported: &Imported) -> ExitCode {
    print!("{}", imported.yaml);
    if imported.monitors == 0 {
        eprintln!(
            "hopwatch import: no monitor could be imported (the comments say why), so this config does not validate"
        );
        return ExitCode::from(1);
    }
    eprintln!("hopwatch import: {}", imported.summary());
    ExitCode::SUCCESS
}

fn fail(err: &ImportError) -> ExitCode {
    eprintln!("hopwatch import: {err}");
    ExitCode::from(1)
}
