//! `hopwatch import`: a Gatus config or an Uptime Kuma database or backup
//! turned into a commented hopwatch config that validates.
//!
//! Each importer maps what hopwatch has an equivalent for and writes a
//! `# not imported: what — why` line for the rest. The result is then run
//! through hopwatch's own config loader; an entry it still refuses (a URL
//! hopwatch cannot probe, say) is taken out with the loader's reason, so
//! the output always validates.

mod duration;
mod emit;
mod gatus;
mod kuma;
mod model;
mod status;

use std::collections::BTreeSet;
use std::path::Path;

use crate::config::{self, Format};
use model::{Draft, Section, Value};

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file as given.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not a Gatus config.
    #[error("{path}: not a Gatus config: {reason}")]
    NotGatus {
        /// The file as given.
        path: String,
        /// What was found instead.
        reason: String,
    },
    /// The file is neither an Uptime Kuma database nor its JSON backup.
    #[error("{path}: not an Uptime Kuma database (kuma.db) or JSON backup: {reason}")]
    NotKuma {
        /// The file as given.
        path: String,
        /// What was found instead.
        reason: String,
    },
    /// The database opened but could not be read.
    #[error("{path}: cannot read the Uptime Kuma database: {reason}")]
    Database {
        /// The file as given.
        path: String,
        /// What SQLite said.
        reason: String,
    },
    /// The written config does not validate and no entry is to blame: a
    /// bug in the importer, reported rather than printed.
    #[error("the imported config does not validate: {}", .errors.join("; "))]
    Invalid {
        /// The loader's error lines.
        errors: Vec<String>,
    },
}

/// An imported config.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The hopwatch config, YAML with comments.
    pub yaml: String,
    /// Monitors written.
    pub monitors: usize,
    /// Alerts written.
    pub alerts: usize,
    /// Notifiers written.
    pub notifiers: usize,
    /// `# not imported` lines written.
    pub not_imported: usize,
    /// Environment variables the config reads that are not set here.
    pub unset_variables: Vec<String>,
}

impl Imported {
    /// One line for stderr: what was written and what was left out.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "imported {} monitors, {} alerts, {} notifiers; {} not imported (see the comments)",
            self.monitors, self.alerts, self.notifiers, self.not_imported
        );
        if !self.unset_variables.is_empty() {
            line.push_str(&format!(
                "; set {} before running it",
                self.unset_variables.join(", ")
            ));
        }
        line
    }
}

/// Imports a Gatus config file.
pub fn gatus(path: &Path) -> Result<Imported, ImportError> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
        // Binary input (a database given by mistake) is not YAML at all.
        std::io::ErrorKind::InvalidData => ImportError::NotGatus {
            path: label.clone(),
            reason: "the file is not text".to_owned(),
        },
        _ => ImportError::Read {
            path: label.clone(),
            source,
        },
    })?;
    finish(gatus::import(&text, &label)?)
}

/// Imports an Uptime Kuma `kuma.db` or JSON backup.
pub async fn kuma(path: &Path) -> Result<Imported, ImportError> {
    finish(kuma::import(path).await?)
}

/// The label hopwatch's loader puts in front of each error line.
const LABEL: &str = "import";

/// How many times entries refused by the loader are taken out before
/// giving up; each pass takes out at least one, and refusals are rare.
const REPAIR_PASSES: usize = 16;

/// Validates the draft with hopwatch's loader, taking out what it refuses.
fn finish(mut draft: Draft) -> Result<Imported, ImportError> {
    prune_references(&mut draft);
    for _ in 0..REPAIR_PASSES {
        let yaml = emit::yaml(&draft);
        // No monitor: no config can be valid; the caller says so, and the
        // comments say why.
        if draft.monitors.is_empty() {
            return Ok(imported(&draft, yaml, Vec::new()));
        }
        let errors = match config::parse(&yaml, Format::Yaml, LABEL) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.errors,
        };
        let mut unset = BTreeSet::new();
        let mut refused: Vec<(Section, usize, String)> = Vec::new();
        let mut other = Vec::new();
        for line in errors {
            match read_error(&line) {
                Refusal::Unset(name) => {
                    unset.insert(name);
                }
                Refusal::Entry(section, index, reason) => refused.push((section, index, reason)),
                Refusal::NoMonitors | Refusal::Other => other.push(line),
            }
        }
        if !other.is_empty() {
            return Err(ImportError::Invalid { errors: other });
        }
        if refused.is_empty() {
            return Ok(imported(&draft, yaml, unset.into_iter().collect()));
        }
        remove_refused(&mut draft, refused);
        prune_references(&mut draft);
    }
    Err(ImportError::Invalid {
        errors: vec!["entries kept failing validation".to_owned()],
    })
}

fn imported(draft: &Draft, yaml: String, unset_variables: Vec<String>) -> Imported {
    let not_imported = yaml
        .lines()
        .filter(|l| l.trim_start().starts_with("# not imported:"))
        .count();
    Imported {
        yaml,
        monitors: draft.monitors.len(),
        alerts: draft.alerts.len(),
        notifiers: draft.notifiers.len(),
        not_imported,
        unset_variables,
    }
}

/// What one error line of the loader is about.
#[derive(Debug, PartialEq)]
enum Refusal {
    /// A `${VAR}` that is not set here; it may be where hopwatch runs.
    Unset(String),
    /// An entry of a list section, and the reason relative to it.
    Entry(Section, usize, String),
    /// The config has no monitor.
    NoMonitors,
    /// Anything else.
    Other,
}

/// Reads `import: monitors[2].url: invalid url …`.
fn read_error(line: &str) -> Refusal {
    let Some(rest) = line.strip_prefix(LABEL).and_then(|r| r.strip_prefix(": ")) else {
        return Refusal::Other;
    };
    let Some((path, message)) = rest.split_once(": ") else {
        return Refusal::Other;
    };
    if let Some(name) = message
        .strip_prefix("environment variable ")
        .and_then(|m| m.split_once(" is not set"))
        .map(|(name, _)| name)
    {
        return Refusal::Unset(name.to_owned());
    }
    if path == "monitors" && message.starts_with("at least one monitor") {
        return Refusal::NoMonitors;
    }
    let Some((key, after)) = path.split_once('[') else {
        return Refusal::Other;
    };
    let Some((index, rel)) = after.split_once(']') else {
        return Refusal::Other;
    };
    match (Section::of_key(key), index.parse::<usize>()) {
        (Some(section), Ok(index)) => {
            let rel = rel.trim_start_matches('.');
            let reason = if rel.is_empty() {
                message.to_owned()
            } else {
                format!("{rel}: {message}")
            };
            Refusal::Entry(section, index, reason)
        }
        _ => Refusal::Other,
    }
}

fn remove_refused(draft: &mut Draft, mut refused: Vec<(Section, usize, String)>) {
    // From the back, so earlier indices stay right; one reason per entry.
    refused.sort_by_key(|r| std::cmp::Reverse((r.0, r.1)));
    refused.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    for (section, index, reason) in refused {
        let entries = draft.entries_mut(section);
        if index >= entries.len() {
            continue;
        }
        let entry = entries.remove(index);
        draft.skip(
            section,
            &entry.origin,
            format!("hopwatch refuses it ({reason})"),
        );
    }
}

/// Drops references to monitors and notifiers that are not in the draft,
/// and the alerts and windows left with nothing to watch or tell.
fn prune_references(draft: &mut Draft) {
    let monitors = draft.names(Section::Monitors);
    let groups: BTreeSet<String> = draft
        .monitors
        .iter()
        .filter_map(|m| m.get("group").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let notifiers = draft.names(Section::Notifiers);
    let known_selector = |s: &str| {
        s == "*"
            || s.strip_prefix("group:")
                .map_or(monitors.contains(s), |g| groups.contains(g))
    };
    for section in [Section::Alerts, Section::Maintenance] {
        let mut kept = Vec::new();
        let entries = std::mem::take(draft.entries_mut(section));
        for mut entry in entries {
            if let Some(Value::List(items)) = entry.get_mut("monitors") {
                items.retain(|v| v.as_str().is_some_and(known_selector));
                if items.is_empty() {
                    let what = entry.origin.clone();
                    draft.skip(section, what, "none of its monitors was imported");
                    continue;
                }
            }
            if let Some(Value::List(items)) = entry.get_mut("notify") {
                let before = items.len();
                items.retain(|v| v.as_str().is_some_and(|n| notifiers.contains(n)));
                if items.is_empty() && before > 0 {
                    let what = entry.origin.clone();
                    draft.skip(section, what, "none of its notifiers was imported");
                    continue;
                }
            }
            kept.push(entry);
        }
        *draft.entries_mut(section) = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Entry;

    #[test]
    fn error_lines_name_the_entry_to_take_out() {
        let cases = [
            (
                "import: monitors[2].url: invalid url \"x\"",
                Refusal::Entry(Section::Monitors, 2, "url: invalid url \"x\"".into()),
            ),
            (
                "import: notifiers[0]: expected a mapping",
                Refusal::Entry(Section::Notifiers, 0, "expected a mapping".into()),
            ),
            (
                "import: notifiers[1].url: environment variable SLACK_URL is not set (use ${SLACK_URL:-default} for a default)",
                Refusal::Unset("SLACK_URL".into()),
            ),
            (
                "import: monitors: at least one monitor is required",
                Refusal::NoMonitors,
            ),
            ("import: server.listen: invalid address", Refusal::Other),
            ("import: line 3 column 1: mapping values", Refusal::Other),
        ];
        for (line, want) in cases {
            assert_eq!(read_error(line), want, "{line}");
        }
    }

    #[test]
    fn refused_entries_leave_with_their_references() {
        let mut bad = Entry::named("bad");
        bad.origin = "endpoints[1] \"bad\"".into();
        bad.set("url", Value::Str("http://".into()));
        let mut good = Entry::named("good");
        good.set("url", Value::Str("http://127.0.0.1:9/".into()));
        let mut alert = Entry::named("bad-down");
        alert.origin = "alert of bad".into();
        alert.set("monitors", Value::List(vec![Value::Str("bad".into())]));
        alert.set(
            "when",
            Value::Map(vec![("consecutive_failures".into(), Value::int(3))]),
        );
        let draft = Draft {
            monitors: vec![bad, good],
            alerts: vec![alert],
            ..Draft::default()
        };
        let imported = finish(draft).expect("repaired");
        assert_eq!((imported.monitors, imported.alerts), (1, 0));
        assert!(
            imported.yaml.contains(
                "# not imported: endpoints[1] \"bad\" — hopwatch refuses it (url: invalid url"
            ),
            "{}",
            imported.yaml
        );
        assert!(
            imported
                .yaml
                .contains("# not imported: alert of bad — none of its monitors was imported")
        );
        config::parse(&imported.yaml, Format::Yaml, "t").expect("valid");
    }
}
