//! What each CLI command does; `main.rs` only parses arguments.
