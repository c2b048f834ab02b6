//! The config file (contract section 2): schema, loading from YAML or TOML
//! with `${VAR}` interpolation, and validation that reports every error.

pub mod agents;
pub mod compile;
pub mod location;
pub mod pages;
pub mod schema;
pub mod values;

mod deserialize;
mod interpolate;
mod load;
mod regions;
mod secret;
mod sections;
mod select;
mod validate;

pub use interpolate::Lookup;
pub use load::{Format, find_config_file, load, parse, parse_with_env};
pub use location::Location;
pub use pages::{PAGE_PREFIX, PageConfig};
pub use regions::NodeIdentity;
pub use schema::*;
pub use secret::{SECRET_KEYS, Secret, revealing};
pub use select::select_monitors;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::monitor::trust::TrustStore;

/// A loaded, valid config.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The file as the user named it (or the label given to [`parse`]).
    pub path: PathBuf,
    /// The config. Every monitor already has `defaults` merged in and its
    /// `interval` and `timeout` filled, so readers never apply defaults again.
    pub config: Config,
    /// Lines to show the operator that do not stop the config from loading
    /// (`<file>: <key path>: warning: ...`); [`load`] fills them.
    pub warnings: Vec<String>,
    /// Key paths of secrets written in the file itself, not only `${VAR}`.
    pub(crate) literal_secrets: Vec<String>,
    /// The TLS trust its monitors were compiled with, kept to compile them
    /// again without reading the system store again.
    pub trust: Arc<TrustStore>,
}

impl LoadedConfig {
    /// The line `hopwatch validate` prints: `ok: N monitors, M alerts, K notifiers`.
    pub fn summary(&self) -> String {
        format!(
            "ok: {} monitors, {} alerts, {} notifiers",
            self.config.monitors.len(),
            self.config.alerts.len(),
            self.config.notifiers.len()
        )
    }
}

/// Every problem found in a config file, each already one line:
/// `<file>: <key path>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The lines, in the order the file was read.
    pub errors: Vec<String>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.errors.join("\n"))
    }
}

/// A problem at a key path, before the file label is put in front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// `monitors[2].interval`; empty for the file as a whole.
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// `parent.key`, or `key` at the top, or `parent` for the empty key.
pub(crate) fn join_key(parent: &str, key: &str) -> String {
    match (parent, key) {
        ("", key) => key.to_owned(),
        (parent, "") => parent.to_owned(),
        (parent, key) => format!("{parent}.{key}"),
    }
}

/// `parent[index]`.
pub(crate) fn join_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Whether `path` is `ancestor` or lies below it.
pub(crate) fn is_within(path: &str, ancestor: &str) -> bool {
    ancestor.is_empty()
        || path == ancestor
        || path
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// Turns problems into error lines: drops repeats and the echoes of a failed
/// `${...}`, masks values that came from the environment, which may be
/// secrets, in messages about the keys that hold them, the values of secret
/// keys, and credentials in any URL a message quotes.
pub(crate) fn error_lines(
    problems: Vec<Problem>,
    label: &str,
    found: &interpolate::Interpolated,
    interpolation_problems: usize,
) -> ConfigErrors {
    let mut kept: Vec<Problem> = Vec::with_capacity(problems.len());
    for (n, problem) in problems.into_iter().enumerate() {
        let echo = n >= interpolation_problems
            && found
                .failed
                .iter()
                .any(|failed| is_within(&problem.path, failed));
        if !echo {
            kept.push(problem);
        }
    }
    // In file order by section and entry; within an entry, as found.
    kept.sort_by_key(|problem| file_order(&problem.path));
    let mut errors: Vec<String> = Vec::with_capacity(kept.len());
    for problem in kept {
        let mut message = problem.message;
        for (path, secret) in &found.secrets {
            if is_within(path, &problem.path) {
                message = message.replace(secret.as_str(), secret::MASK);
            }
        }
        // Secret keys' values are refused without being quoted; this is
        // the net under that. A short value is masked only in lines about
        // its own key: everywhere, "on" or "a" would eat ordinary words.
        for (path, value) in &found.secret_values {
            if value.chars().count() >= 4 || is_within(path, &problem.path) {
                message = secret::mask_value(&message, value);
            }
        }
        let message = crate::mask::text(&message);
        let line = match problem.path.as_str() {
            "" => format!("{label}: {message}"),
            path => format!("{label}: {path}: {message}"),
        };
        // One error, one line, whatever a parser or a key put in it.
        let line = line.replace(['\r', '\n'], " ");
        if !errors.contains(&line) {
            errors.push(line);
        }
    }
    ConfigErrors { errors }
}

/// Where a key path sorts: whole-file and unknown top-level keys first, then
/// the sections in schema order, each list by index.
fn file_order(path: &str) -> (usize, usize) {
    let end = path.find(['.', '[']).unwrap_or(path.len());
    let (section, rest) = path.split_at(end);
    let rank = sections::SECTIONS
        .iter()
        .position(|known| *known == section)
        .map_or(0, |at| at + 1);
    let index = rest
        .strip_prefix('[')
        .and_then(|rest| rest.split(']').next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0);
    (rank, index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_nest_and_contain() {
        assert_eq!(join_index(&join_key("", "monitors"), 2), "monitors[2]");
        assert_eq!(join_key("monitors[2]", "interval"), "monitors[2].interval");
        assert_eq!(join_key("storage", ""), "storage");
        assert!(is_within("monitors[2].url", "monitors[2]"));
        assert!(is_within("monitors[2]", "monitors[2]"));
        assert!(is_within("anything", ""));
        assert!(!is_within("monitors[20].url", "monitors[2]"));
        assert!(!is_within("monitors", "monitors[2]"));
    }

    #[test]
    fn problems_sort_by_section_then_entry() {
        let mut paths = vec![
            "alerts[0].when",
            "monitors[10].url",
            "monitors[2]",
            "",
            "server.listen",
            "monitor",
        ];
        paths.sort_by_key(|p| file_order(p));
        assert_eq!(
            paths,
            vec![
                "",
                "monitor",
                "server.listen",
                "monitors[2]",
                "monitors[10].url",
                "alerts[0].when"
            ]
        );
    }

    #[test]
    fn debug_of_a_loaded_config_shows_no_secret() {
        let text = "server: { admin_token: adm1n-t0ken }\n\
            defaults: { token: d3fault-t0ken }\n\
            monitors:\n\
            \x20 - { name: a, url: http://127.0.0.1:1/ }\n\
            \x20 - { name: b, type: push, token: pu5h-t0ken }\n\
            notifiers:\n\
            \x20 - { name: hook, type: webhook, url: http://127.0.0.1:2/, secret: h00k-s3cret }\n\
            \x20 - { name: pd, type: webhook, url: http://127.0.0.1:3/, format: pagerduty, routing_key: r0ut1ng-k3y }\n\
            \x20 - name: mail\n\
            \x20   type: email\n\
            \x20   smtp: { host: 127.0.0.1, username: u, password: \"${SMTP_PASSWORD}\" }\n\
            \x20   from: a@example.com\n\
            \x20   to: [b@example.com]\n\
            pages:\n\
            \x20 - { slug: ops, monitors: [a], private: true, access_key: acc3ss-k3y }\n";
        let env = |name: &str| (name == "SMTP_PASSWORD").then(|| "sm7p-pa55".to_owned());
        let loaded = parse_with_env(text, Format::Yaml, "f.yaml", &env).expect("valid");
        let shown = format!("{loaded:?}");
        for secret in [
            "adm1n-t0ken",
            "d3fault-t0ken",
            "pu5h-t0ken",
            "h00k-s3cret",
            "r0ut1ng-k3y",
            "sm7p-pa55",
            "acc3ss-k3y",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let smtp = loaded.config.notifiers[2].smtp.as_ref().expect("smtp");
        assert_eq!(
            smtp.password.as_ref().map(Secret::expose),
            Some("sm7p-pa55")
        );
    }

    #[test]
    fn env_values_are_masked_only_under_their_key() {
        let found = interpolate::Interpolated {
            secrets: vec![("monitors[0].url".to_owned(), "hunter2".to_owned())],
            ..Default::default()
        };
        let problems = vec![
            Problem::new("monitors[0].url", "bad \"x://hunter2\""),
            Problem::new("monitors[0]", "hunter2 here too"),
            Problem::new("monitors[1].url", "hunter2 is not this key's"),
            Problem::new("monitors[0]", "hunter2 here too"),
        ];
        let lines = error_lines(problems, "f.yaml", &found, 0).errors;
        assert_eq!(
            lines,
            vec![
                "f.yaml: monitors[0].url: bad \"x://***\"",
                "f.yaml: monitors[0]: *** here too",
                "f.yaml: monitors[1].url: hunter2 is not this key's",
            ]
        );
    }
}
