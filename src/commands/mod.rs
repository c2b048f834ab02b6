//! What each CLI command does; `main.rs` only parses arguments.

pub mod check;
pub mod validate;
