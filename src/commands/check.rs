//! `hopwatch check URL`: one probe now, printed as a phase breakdown and a
//! verdict (like `curl -w` plus a diagnosis), or as the CHECK JSON object.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use crate::config::MonitorConfig;
use crate::config::compile;
use crate::monitor::trust::TrustStore;
use crate::monitor::{CheckResult, ProbeSpec};
use crate::probe;

/// What the command line asked for.
#[derive(Debug, Clone, clap::Args)]
pub struct Request {
    /// http:// or https:// URL.
    pub url: String,
    /// Connect to this ip:port, keeping Host and SNI from the URL.
    #[arg(long, value_name = "ADDR")]
    pub resolve: Option<String>,
    /// Give up after this long.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Request method.
    #[arg(
        short = 'X',
        long = "request",
        default_value = "GET",
        value_name = "METHOD"
    )]
    pub method: String,
    /// Extra request header, 'Name: value'; repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Skip certificate verification.
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Print the check result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the probe; exit 0 healthy, 1 failed, 2 bad arguments.
pub async fn run(request: Request) -> ExitCode {
    let spec = match build_spec(&request) {
        Ok(spec) => spec,
        Err(errors) => {
            for error in errors {
                eprintln!("hopwatch check: {error}");
            }
            return ExitCode::from(2);
        }
    };
    let result = probe::run(&spec).await;
    if request.json {
        match serde_json::to_string_pretty(&result) {
            Ok(json) => println!("{json}"),
            Err(err) => {
                eprintln!("hopwatch check: cannot print the result: {err}");
                return ExitCode::from(1);
            }
        }
    } else {
        print!("{}", render(&request, &result));
    }
    if result.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The monitor `check` probes: the same path a config file goes through,
/// so `check` and the daemon can never disagree about a URL.
fn build_spec(request: &Request) -> Result<ProbeSpec, Vec<String>> {
    let mut headers = BTreeMap::new();
    let mut errors = Vec::new();
    for header in &request.headers {
        match header.split_once(':') {
            Some((name, value)) => {
                headers.insert(name.trim().to_owned(), value.trim().to_owned());
            }
            None => errors.push(format!("-H {header:?}: expected 'Name: value'")),
        }
    }
    let monitor = MonitorConfig {
        url: Some(request.url.clone()),
        method: Some(request.method.clone()),
        headers,
        resolve: request.resolve.clone(),
        insecure: request.insecure,
        timeout: Some(request.timeout),
        interval: Some(request.timeout),
        ..MonitorConfig::named("check")
    };
    match compile::probe(&monitor, &TrustStore::default()) {
        Ok(spec) if errors.is_empty() => Ok(spec),
        Ok(_) => Err(errors),
        Err(field_errors) => {
            errors.extend(field_errors.into_iter().map(|e| {
                let flag = match e.path.as_str() {
                    "url" => "URL".to_owned(),
                    "method" => "-X".to_owned(),
                    path if path.starts_with("headers") => "-H".to_owned(),
                    other => format!("--{other}"),
                };
                format!("{flag}: {}", e.message)
            }));
            Err(errors)
        }
    }
}

/// The human-readable report.
fn render(request: &Request, result: &CheckResult) -> String {
    let mut out = String::new();
    let target = result
        .remote_addr
        .map(|a| format!(" -> {a}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} {}{target}\n",
        request.method.to_ascii_uppercase(),
        crate::mask::url(&request.url)
    );
    let total = result.latency_ms.max(0.001);
    for (name, value) in probe::Phases::NAMES.iter().zip(result.phases_ms.values()) {
        let width = ((value / total) * 30.0).round() as usize;
        let _ = writeln!(
            out,
            "  {name:<9} {value:>9.1} ms  {}",
            "#".repeat(width.min(30))
        );
    }
    let _ = writeln!(out, "  {:<9} {:>9.1} ms\n", "total", result.latency_ms);
    if let Some(status) = result.status {
        let reason = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let _ = writeln!(out, "status     {status} {reason}");
    }
    if let Some(responder) = &result.responder {
        let product = responder
            .product
            .as_deref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        let _ = writeln!(out, "responder  {}{product}", responder.role.as_str());
    }
    if let Some(cert) = &result.tls {
        let _ = writeln!(
            out,
            "cert       {} days left, issuer {}",
            cert.days_left.floor(),
            cert.issuer
        );
    }
    let _ = writeln!(out, "cause      {}", result.cause);
    if let Some(error) = &result.error {
        let _ = writeln!(out, "error      {error}");
    }
    let _ = writeln!(
        out,
        "verdict    {}: {}",
        result.verdict.hop.as_str(),
        result.verdict.summary
    );
    if let Some(evidence) = &result.evidence
        && let Some(id) = &evidence.request_id
    {
        let _ = writeln!(out, "request id {id}");
    }
    out
}
