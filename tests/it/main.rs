//! Integration tests, one binary (faster to link than one per file).

mod alerting;
mod api;
mod architecture;
mod cli;
mod config_errors;
mod crowd;
mod daemon;
mod demo;
mod helpers;
mod hostile_clients;
mod hostile_targets;
mod import;
mod notify;
mod pages;
mod probe_dns;
mod probe_domain;
mod probe_gateways;
mod probe_grpc;
mod probe_icmp;
mod probe_peers;
mod probe_redirects;
mod probe_smtp;
mod probe_tls;
mod probe_websocket;
mod web_cache;
