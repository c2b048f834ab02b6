//! Integration tests, one binary (faster to link than one per file).

mod cli;
mod config_errors;
mod daemon;
mod helpers;
mod probe_dns;
mod probe_gateways;
mod probe_peers;
mod probe_tls;
