//! Each section and list entry of the config tree deserialized on its own,
//! and `defaults` merged into every monitor, keeping track of where keys came from.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::interpolate::Interpolated;
use super::pages::{PageConfig, SubscriptionsConfig};
use super::schema::{
    AgentConfig, AlertConfig, Config, Defaults, MaintenanceConfig, MonitorConfig, NodeConfig,
    NotifierConfig, ServerConfig, StorageConfig,
};
use super::{Problem, is_within, join_index, join_key};
use crate::monitor::trust::TrustStore;

/// How a value's kind is named in messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// The top-level keys, in the order errors are listed.
pub(crate) const SECTIONS: [&str; 11] = [
    "server",
    "storage",
    "node",
    "defaults",
    "monitors",
    "alerts",
    "notifiers",
    "maintenance",
    "agents",
    "pages",
    "subscriptions",
];

/// A monitor that deserialized, with what validation needs to name its keys.
#[derive(Debug)]
pub(crate) struct MonitorEntry {
    /// Its index in the file's `monitors` list.
    pub index: usize,
    /// The monitor, `defaults` merged in.
    pub config: MonitorConfig,
    /// Key paths inside the monitor whose value came from `defaults`.
    pub from_defaults: Vec<Vec<String>>,
}

impl MonitorEntry {
    /// Where the user wrote the key `rel` of this monitor.
    pub fn place(&self, rel: &str) -> String {
        place(self.index, &self.from_defaults, rel)
    }
}

fn place(index: usize, from_defaults: &[Vec<String>], rel: &str) -> String {
    if from_defaults
        .iter()
        .any(|keys| is_within(rel, &keys.join(".")))
    {
        join_key("defaults", rel)
    } else {
        join_key(&join_index("monitors", index), rel)
    }
}

/// The sections that deserialized, each entry with its index in the file,
/// plus the names of every entry (even broken ones) so that references to a
/// broken entry do not add a second, misleading error.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    pub server: Option<ServerConfig>,
    pub storage: Option<StorageConfig>,
    pub node: Option<NodeConfig>,
    pub defaults: Map<String, Value>,
    /// `monitors` is absent or an empty list.
    pub no_monitors: bool,
    pub monitor_names: Vec<(usize, String)>,
    pub groups: BTreeSet<String>,
    pub monitors: Vec<MonitorEntry>,
    pub alerts: Vec<(usize, AlertConfig)>,
    pub notifier_names: Vec<(usize, String)>,
    pub notifiers: Vec<(usize, NotifierConfig)>,
    pub maintenance: Vec<(usize, MaintenanceConfig)>,
    pub agents: Vec<(usize, AgentConfig)>,
    pub pages: Vec<(usize, PageConfig)>,
    pub subscriptions: Option<SubscriptionsConfig>,
}

impl Draft {
    pub(crate) fn into_config(self) -> Config {
        Config {
            server: self.server.unwrap_or_default(),
            storage: self.storage.unwrap_or_default(),
            defaults: Defaults(self.defaults),
            monitors: self.monitors.into_iter().map(|m| m.config).collect(),
            alerts: self.alerts.into_iter().map(|(_, a)| a).collect(),
            notifiers: self.notifiers.into_iter().map(|(_, n)| n).collect(),
            maintenance: self.maintenance.into_iter().map(|(_, m)| m).collect(),
            node: self.node.unwrap_or_default(),
            agents: self.agents.into_iter().map(|(_, a)| a).collect(),
            pages: self.pages.into_iter().map(|(_, p)| p).collect(),
            subscriptions: self.subscriptions,
        }
    }
}

pub(crate) fn sections(
    tree: Value,
    found: &Interpolated,
    trust: &TrustStore,
    problems: &mut Vec<Problem>,
) -> Draft {
    let Value::Object(mut top) = tree else {
        return Draft::default();
    };
    for key in top.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            let expected = SECTIONS.join(", ");
            problems.push(Problem::new(
                key,
                format!("unknown key (expected one of: {expected})"),
            ));
        }
    }
    // An empty section (`alerts:` with nothing under it) is an absent one.
    let mut take = |key: &str| top.remove(key).filter(|v| !v.is_null());
    let whole = &found.whole;
    let mut draft = Draft::default();
    let mappings = [
        ("server", take("server")),
        ("storage", take("storage")),
        ("node", take("node")),
        ("subscriptions", take("subscriptions")),
    ];
    for (key, value) in mappings {
        let Some(mut value) = value else { continue };
        if !value.is_object() {
            problems.push(Problem::new(
                key,
                format!("expected a mapping, found {}", kind_of(&value)),
            ));
            continue;
        }
        let at = |rel: &str| join_key(key, rel);
        match key {
            "server" => draft.server = super::deserialize::all(&mut value, &at, whole, problems),
            "storage" => draft.storage = super::deserialize::all(&mut value, &at, whole, problems),
            "subscriptions" => {
                draft.subscriptions = super::deserialize::all(&mut value, &at, whole, problems)
            }
            _ => draft.node = super::deserialize::all(&mut value, &at, whole, problems),
        }
    }
    if let Some(value) = take("defaults") {
        draft.defaults = clean_defaults(value, whole, problems);
    }
    let monitors = take("monitors");
    // A `monitors` that is not a list is reported as such, not as "none".
    draft.no_monitors = match &monitors {
        Some(Value::Array(items)) => items.is_empty(),
        Some(_) => false,
        None => true,
    };
    let monitors = list(monitors, "monitors", problems);
    for (index, raw) in monitors.into_iter().enumerate() {
        let at = join_index("monitors", index);
        let Value::Object(mut map) = raw else {
            problems.push(Problem::new(
                at,
                format!("expected a mapping, found {}", kind_of(&raw)),
            ));
            continue;
        };
        let from_defaults = merge(&mut map, &draft.defaults, &[]);
        if let Some(Value::String(name)) = map.get("name") {
            draft.monitor_names.push((index, name.clone()));
        }
        if let Some(Value::String(group)) = map.get("group") {
            draft.groups.insert(group.clone());
        }
        if let Some(entry) = monitor(index, map, from_defaults, whole, trust, problems) {
            draft.monitors.push(entry);
        }
    }
    draft.alerts = entries(take("alerts"), "alerts", whole, problems);
    let notifiers = list(take("notifiers"), "notifiers", problems);
    for (index, raw) in notifiers.iter().enumerate() {
        if let Some(name) = raw.get("name").and_then(Value::as_str) {
            draft.notifier_names.push((index, name.to_owned()));
        }
    }
    draft.notifiers = entries(Some(Value::Array(notifiers)), "notifiers", whole, problems);
    draft.maintenance = entries(take("maintenance"), "maintenance", whole, problems);
    draft.agents = entries(take("agents"), "agents", whole, problems);
    draft.pages = entries(take("pages"), "pages", whole, problems);
    draft
}

/// A section that must be a list; anything else is reported and read as empty.
fn list(value: Option<Value>, key: &str, problems: &mut Vec<Problem>) -> Vec<Value> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            problems.push(Problem::new(
                key,
                format!("expected a list, found {}", kind_of(&other)),
            ));
            Vec::new()
        }
    }
}

fn entries<T: DeserializeOwned>(
    value: Option<Value>,
    key: &str,
    whole: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) -> Vec<(usize, T)> {
    let mut out = Vec::new();
    for (index, mut item) in list(value, key, problems).into_iter().enumerate() {
        let base = join_index(key, index);
        if !item.is_object() {
            problems.push(Problem::new(
                base,
                format!("expected a mapping, found {}", kind_of(&item)),
            ));
            continue;
        }
        let at = |rel: &str| join_key(&base, rel);
        if let Some(entry) = super::deserialize::all(&mut item, &at, whole, problems) {
            out.push((index, entry));
        }
    }
    out
}

/// Checks `defaults` as a monitor of its own, so its errors show once and
/// even when no monitor exists, and drops the keys that are wrong so they
/// do not hide the monitors' own errors.
fn clean_defaults(
    value: Value,
    whole: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) -> Map<String, Value> {
    let Value::Object(mut map) = value else {
        problems.push(Problem::new(
            "defaults",
            format!("expected a mapping, found {}", kind_of(&value)),
        ));
        return Map::new();
    };
    if map.remove("name").is_some() {
        problems.push(Problem::new(
            "defaults.name",
            "names are unique, so they have no default",
        ));
    }
    map.insert("name".to_owned(), Value::String("defaults".to_owned()));
    let mut value = Value::Object(map);
    let at = |rel: &str| join_key("defaults", rel);
    let _: Option<MonitorConfig> = super::deserialize::all(&mut value, &at, whole, problems);
    let Value::Object(mut map) = value else {
        return Map::new();
    };
    map.remove("name");
    map
}

/// Fills the keys a monitor does not set from `defaults`, merging maps key
/// by key, and returns the key paths that were filled.
fn merge(
    target: &mut Map<String, Value>,
    defaults: &Map<String, Value>,
    prefix: &[String],
) -> Vec<Vec<String>> {
    let mut filled = Vec::new();
    for (key, default) in defaults {
        let mut keys = prefix.to_vec();
        keys.push(key.clone());
        match (target.get_mut(key), default) {
            (None, _) => {
                target.insert(key.clone(), default.clone());
                filled.push(keys);
            }
            (Some(Value::Object(inner)), Value::Object(default)) => {
                filled.extend(merge(inner, default, &keys));
            }
            (Some(_), _) => {}
        }
    }
    filled
}

/// Deserializes and compiles one monitor. A key from `defaults` that the
/// monitor's type does not use (an http `method` on a tcp monitor) is
/// dropped for this monitor rather than reported: defaults serve every type.
fn monitor(
    index: usize,
    map: Map<String, Value>,
    mut from_defaults: Vec<Vec<String>>,
    whole: &BTreeSet<String>,
    trust: &TrustStore,
    problems: &mut Vec<Problem>,
) -> Option<MonitorEntry> {
    let mut value = Value::Object(map);
    // Each pass drops every foreign default the spec reported; a few passes
    // suffice, and the last one reports whatever is left.
    const PASSES: usize = 4;
    let mut pass = 0;
    loop {
        pass += 1;
        let at = |rel: &str| place(index, &from_defaults, rel);
        let config: MonitorConfig = super::deserialize::all(&mut value, &at, whole, problems)?;
        let errors = super::compile::probe(&config, trust)
            .err()
            .unwrap_or_default();
        let foreign = super::compile::not_used_by(config.kind);
        let unwanted: Vec<Vec<String>> = errors
            .iter()
            .filter(|e| e.message == foreign)
            .filter_map(|e| {
                from_defaults
                    .iter()
                    .find(|keys| is_within(&e.path, &keys.join(".")))
            })
            .cloned()
            .collect();
        if unwanted.is_empty() || pass == PASSES {
            for error in errors {
                problems.push(Problem::new(at(&error.path), error.message));
            }
            return Some(MonitorEntry {
                index,
                config,
                from_defaults,
            });
        }
        for keys in unwanted {
            super::deserialize::remove_keys(&mut value, &keys);
            from_defaults.retain(|filled| !filled.starts_with(&keys));
        }
    }
}
