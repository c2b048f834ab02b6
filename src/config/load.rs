//! Reading a config file: YAML or TOML into a generic tree, `${VAR}` expanded,
//! then each section and list entry deserialized apart so one bad entry hides no other.

use std::sync::Arc;

use crate::monitor::trust::TrustStore;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::interpolate::{self, Lookup};
use super::sections::{kind_of, sections};
use super::{ConfigErrors, LoadedConfig, error_lines};

/// The two spellings of the one schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.yaml` or `.yml`.
    Yaml,
    /// `.toml`.
    Toml,
}

impl Format {
    /// The format a file name's extension asks for, if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Some(Self::Yaml),
            "toml" => Some(Self::Toml),
            _ => None,
        }
    }
}

/// The config file to use: `explicit` (`-c`), else `$HOPWATCH_CONFIG`, else
/// `./hopwatch.yaml` if it exists, else `config/hopwatch.yaml`.
pub fn find_config_file(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_owned();
    }
    if let Some(path) = std::env::var_os("HOPWATCH_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let local = PathBuf::from("hopwatch.yaml");
    if local.exists() {
        return local;
    }
    PathBuf::from("config/hopwatch.yaml")
}

/// Reads and checks a config file; the format comes from its extension and
/// `${VAR}` from the process environment.
#[tracing::instrument(level = "debug", skip_all, fields(path = %path.display()))]
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigErrors> {
    let label = path.display().to_string();
    let fail = |message: String| ConfigErrors {
        errors: vec![format!("{label}: {message}")],
    };
    let format = Format::from_path(path).ok_or_else(|| {
        fail("unknown config format (expected a .yaml, .yml or .toml file)".into())
    })?;
    let text = std::fs::read_to_string(path).map_err(|err| fail(format!("cannot read: {err}")))?;
    let mut loaded = parse(&text, format, &label)?;
    loaded.path = path.to_owned();
    loaded.warnings = readable_secrets(path, &label, &loaded.literal_secrets);
    Ok(loaded)
}

/// A warning for each secret written in a file that group or others can
/// read: anyone on the machine could then use the token or the password.
fn readable_secrets(path: &Path, label: &str, literal_secrets: &[String]) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    // The file was just read, so a failure here is a race; nothing to say.
    let Ok(metadata) = std::fs::metadata(path) else {
        return Vec::new();
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Vec::new();
    }
    literal_secrets
        .iter()
        .map(|at| {
            format!(
                "{label}: {at}: warning: this secret is written in a file that group or others \
                 can read (mode {mode:o}): chmod 600 {label}, or set it from the environment with ${{VAR}}"
            )
        })
        .collect()
}

/// Checks config text; `file_label` starts every error line.
pub fn parse(text: &str, format: Format, file_label: &str) -> Result<LoadedConfig, ConfigErrors> {
    parse_with_env(text, format, file_label, &|name| std::env::var(name).ok())
}

/// [`parse`] with `${VAR}` read from `lookup` instead of the process environment.
pub fn parse_with_env(
    text: &str,
    format: Format,
    file_label: &str,
    lookup: Lookup<'_>,
) -> Result<LoadedConfig, ConfigErrors> {
    let mut tree = read_tree(text, format).map_err(|message| {
        let message = super::secret::mask_syntax_error(&one_line(&message), text);
        ConfigErrors {
            errors: vec![format!("{file_label}: {message}")],
        }
    })?;
    let mut problems = Vec::new();
    let found = interpolate::interpolate_tree(&mut tree, lookup, &mut problems);
    let interpolation_problems = problems.len();
    let trust = Arc::new(TrustStore::default());
    let mut draft = sections(tree, &found, &trust, &mut problems);
    super::validate::check(&mut draft, &mut problems);
    if problems.is_empty() {
        let mut config = draft.into_config();
        // Kept as long as the config runs: without the room the growing
        // list left behind (13 MB of it at 50,000 monitors).
        config.monitors.shrink_to_fit();
        Ok(LoadedConfig {
            path: PathBuf::from(file_label),
            config,
            warnings: Vec::new(),
            literal_secrets: found.literal_secrets,
            trust,
        })
    } else {
        Err(error_lines(
            problems,
            file_label,
            &found,
            interpolation_problems,
        ))
    }
}

fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Parses the text into a tree; a syntax error names its line and column.
fn read_tree(text: &str, format: Format) -> Result<Value, String> {
    let tree = match format {
        Format::Yaml => {
            serde_yaml_ng::from_str::<Tree>(text)
                .map_err(|err| {
                    let full = err.to_string();
                    match err.location() {
                        Some(at) => {
                            let place = format!("line {} column {}", at.line(), at.column());
                            let message = full.replacen(&format!(" at {place}"), "", 1);
                            format!("{place}: {message}")
                        }
                        None => full,
                    }
                })?
                .0
        }
        Format::Toml => {
            let Tree(mut tree) = toml::from_str::<Tree>(text).map_err(|err| {
                let at = err.span().map_or(0, |span| span.start);
                let before = text.get(..at).unwrap_or(text);
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("line {line} column {column}: {}", err.message())
            })?;
            untoml(&mut tree);
            tree
        }
    };
    match tree {
        Value::Object(_) => Ok(tree),
        Value::Null => Err("the file is empty (expected at least a monitors list)".to_owned()),
        other => Err(format!(
            "the top level must be a mapping of sections (server, monitors, ...), found {}",
            kind_of(&other)
        )),
    }
}

/// TOML datetimes arrive as a private one-key table; the schema wants the
/// RFC 3339 text, as YAML gives it.
fn untoml(value: &mut Value) {
    const DATETIME: &str = "$__toml_private_datetime";
    match value {
        Value::Object(map) => {
            if map.len() == 1
                && let Some(Value::String(text)) = map.get(DATETIME)
            {
                *value = Value::String(text.clone());
                return;
            }
            map.values_mut().for_each(untoml);
        }
        Value::Array(items) => items.iter_mut().for_each(untoml),
        _ => {}
    }
}

/// A generic tree like `serde_json::Value`, except that a key given twice in
/// one mapping is an error: with "last wins", a second `monitors:` would
/// silently drop every monitor of the first.
struct Tree(Value);

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor).map(Tree)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a config value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    // JSON numbers have no infinity or NaN; such a value reads as absent,
    // which every typed key then refuses by name.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Tree::deserialize(d).map(|t| t.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Tree(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Tree(value) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}
