//! hopwatch: a synthetic uptime monitor that says which hop broke.
//!
//! Data flows config -> monitor -> schedule -> probe -> pipeline -> store ->
//! evaluate -> alert, and out through web; app wires the parts. Modules are
//! declared layer by layer, and each uses only modules declared above it
//! (ARCHITECTURE.md says why; `tests/it/architecture.rs` keeps it so). The
//! pipeline hands a result to the store, the rules and alerting, so it
//! comes after them. One module per paragraph, so formatting keeps the order.

// ---- Foundations: small, self-contained, used anywhere.

/// Time as stored and shown: epoch ms, hours, days, RFC 3339.
pub mod clock;

/// Escaping text for HTML, XML and log lines.
pub mod escape;

/// The open-file limit: raised at start, shared out.
pub mod fdlimit;

/// Hiding secrets in text shown to people.
pub mod mask;

/// Secrets that never print, compared without timing leaks.
pub mod secret;

/// FNV-1a: the same hash in every process.
pub mod stable_hash;

/// Signed, expiring links: subscribers' confirm and unsubscribe tokens.
pub mod token;

// ---- The models every later stage reads.

/// A compiled monitor, one check's result, cause and state.
pub mod monitor;

/// Incidents and the events notifiers are given.
pub mod incident;

// ---- Reading the file.

/// The config file: schema, loading, validation, compiling.
pub mod config;

// ---- Running checks.

/// The Prometheus registry and every metric.
pub mod metrics;

/// When each monitor runs; bounded concurrency.
pub mod schedule;

/// One check of one target, its cause and verdict.
pub mod probe;

/// Push monitors: the heartbeat inboxes.
pub mod push;

// ---- Keeping and judging results.

/// SQLite: raw checks, rollups, incidents, outbox; the batch writer.
pub mod store;

/// The pure decisions: rules, maintenance, verdicts, incidents.
pub mod evaluate;

/// The one live state: config, monitors, ids, windows, latest results.
pub mod live;

/// Incidents persisted, notifiers, the durable outbox.
pub mod alert;

/// Where each result goes: verdict, metrics, live state, writer, alerts.
pub mod pipeline;

/// Several nodes on PostgreSQL: membership, work split, the leader's lease.
pub mod cluster;

// ---- Out to people, and the wiring.

/// HTTP: status pages, JSON API, push, metrics, health.
pub mod web;

/// Builds and wires the daemon, runs it, shuts it down.
pub mod app;

/// `hopwatch demo`: built-in targets that break on a script.
pub mod demo;

/// `hopwatch import`: Gatus and Uptime Kuma setups as a hopwatch config.
pub mod import;

/// `hopwatch agent`: checks a region's monitors for a server, no database.
pub mod agent;

/// What each CLI command does.
pub mod commands;
