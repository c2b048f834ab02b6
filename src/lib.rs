//! hopwatch: a synthetic uptime monitor that says which hop broke.
//! Data flows config -> schedule -> probe -> pipeline -> store, and out through web.

pub mod alert; // notifiers and the durable outbox
pub mod app; // builds and wires the daemon, runs it, shuts it down
pub mod commands; // what each CLI command does
pub mod config; // the config file: schema, loading, validation
pub mod demo; // `hopwatch demo`: built-in targets that break on a script
pub mod escape; // escaping text for HTML, XML and log lines
pub mod evaluate; // rules, maintenance and chain verdicts: the pure decisions
pub mod fdlimit; // the open-file limit: raised at start, shared out
pub mod import; // `hopwatch import`: Gatus and Uptime Kuma setups as hopwatch configs
pub mod mask; // hiding secrets in text shown to people
pub mod metrics; // the Prometheus registry and every metric
pub mod pipeline; // where each result goes: metrics, logs, live state, writer
pub mod probe; // one check of one target, its cause and verdict
pub mod push; // push monitors: heartbeats in, missed ones down
pub mod schedule; // when each monitor runs; bounded concurrency
pub mod secret; // comparing tokens without timing leaks
pub mod store; // SQLite: raw checks, rollups, runs; the batch writer
pub mod web; // HTTP: health, metrics, push, JSON API
