//! The config file (contract section 2): schema, loading from YAML or TOML
//! with `${VAR}` interpolation, and validation that reports every error.

pub mod schema;
pub mod values;

pub use schema::*;
