//! The config loader on arbitrary text, as YAML and as TOML: it returns a
//! config or a list of errors, never panics and never hangs.
#![no_main]

use hopwatch::config::{Format, parse_with_env};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |name: &str| (name == "SET").then(|| "value".to_owned());
    for (format, name) in [(Format::Yaml, "fuzz.yaml"), (Format::Toml, "fuzz.toml")] {
        if let Err(err) = parse_with_env(text, format, name, &env) {
            assert!(!err.errors.is_empty(), "an error without a message");
        }
    }
});
