//! hopwatch: a synthetic uptime monitor that says which hop broke.
//! Data flows config -> probe -> (scheduler, store, evaluate, alert) -> web.

pub mod commands; // what each CLI command does
pub mod config; // the config file: schema, loading, validation
pub mod mask; // hiding secrets in text shown to people
pub mod probe; // one check of one target, its cause and verdict
