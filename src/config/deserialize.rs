//! Deserializing one config entry from the generic tree with key paths: every
//! error in the entry, not just serde's first, worded for people.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;

use super::{Problem, is_within};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn render(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(key) => out = super::join_key(&out, key),
            Step::Index(index) => out = super::join_index(&out, *index),
        }
    }
    out
}

/// Deserializes `value`, an entry whose key `rel` the user knows as `at(rel)`.
/// After an error the bad key is removed and the rest tried again, so that
/// every bad key is reported; `value` is left without them. A string that was
/// one whole `${VAR}` is re-read as a number or boolean where one is wanted.
/// Returns the entry only when nothing was wrong.
pub(crate) fn all<T: DeserializeOwned>(
    value: &mut Value,
    at: &dyn Fn(&str) -> String,
    whole: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let mut removed: Vec<String> = Vec::new();
    // Each pass removes or retypes one key; entries have a few dozen at most.
    for _ in 0..64 {
        let err = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(entry) => return removed.is_empty().then_some(entry),
            Err(err) => err,
        };
        let mut steps: Vec<Step> = err
            .path()
            .iter()
            .filter_map(|segment| match segment {
                Segment::Seq { index } => Some(Step::Index(*index)),
                Segment::Map { key } | Segment::Enum { variant: key } => {
                    Some(Step::Key(key.clone()))
                }
                Segment::Unknown => None,
            })
            .collect();
        let raw = err.into_inner().to_string();
        if raw.starts_with("invalid type: string")
            && whole.contains(&at(&render(&steps)))
            && find_mut(value, &steps).is_some_and(retype)
        {
            continue;
        }
        let message = describe(&mut steps, &raw, value);
        let rel = render(&steps);
        // An error about a key already removed (now "missing") or its parent
        // (now empty) is an echo of the first error.
        if removed.iter().any(|gone| is_within(gone, &rel)) {
            return None;
        }
        problems.push(Problem::new(at(&rel), message));
        let keys = steps.iter().rposition(|s| matches!(s, Step::Key(_)));
        let last_key = keys?;
        let path: Vec<Step> = steps[..=last_key].to_vec();
        if !remove(value, &path) {
            return None;
        }
        removed.push(render(&path));
    }
    // Never silent: an entry that still fails is reported even past the cap.
    problems.push(Problem::new(
        at(""),
        "too many problems to list; fix those above and check again",
    ));
    None
}

/// Removes the key at `keys` (map keys from the entry's top); false if absent.
pub(crate) fn remove_keys(value: &mut Value, keys: &[String]) -> bool {
    let steps: Vec<Step> = keys.iter().cloned().map(Step::Key).collect();
    remove(value, &steps)
}

fn remove(value: &mut Value, steps: &[Step]) -> bool {
    let Some((Step::Key(last), parent)) = steps.split_last() else {
        return false;
    };
    match find_mut(value, parent) {
        Some(Value::Object(map)) => map.remove(last).is_some(),
        _ => false,
    }
}

fn find_mut<'v>(value: &'v mut Value, steps: &[Step]) -> Option<&'v mut Value> {
    steps.iter().try_fold(value, |here, step| match step {
        Step::Key(key) => here.get_mut(key.as_str()),
        Step::Index(index) => here.get_mut(*index),
    })
}

fn find<'v>(value: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    steps.iter().try_fold(value, |here, step| match step {
        Step::Key(key) => here.get(key.as_str()),
        Step::Index(index) => here.get(*index),
    })
}

/// `"2"` -> `2`, `"true"` -> `true`; false when the text is neither.
fn retype(slot: &mut Value) -> bool {
    let Value::String(text) = slot else {
        return false;
    };
    let typed = match text.trim() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        t => match (t.parse::<u64>(), t.parse::<i64>(), t.parse::<f64>()) {
            (Ok(n), _, _) => Value::from(n),
            (_, Ok(n), _) => Value::from(n),
            (_, _, Ok(n)) if n.is_finite() => Value::from(n),
            _ => return false,
        },
    };
    *slot = typed;
    true
}

/// Rewords serde's message and, for key errors, extends `steps` to the key.
fn describe(steps: &mut Vec<Step>, raw: &str, value: &Value) -> String {
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        push_key(steps, key);
        return format!("unknown key{}", expected_list(expected));
    }
    if let Some(rest) = raw.strip_prefix("missing field `") {
        push_key(steps, rest.trim_end_matches('`'));
        return "required key is missing".to_owned();
    }
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        // A variant written as a key (`when: {foo: ..}`) is a key error.
        if find(value, steps).is_some_and(Value::is_object) {
            push_key(steps, name);
            return format!("unknown key{}", expected_list(expected));
        }
        return format!("unknown value {name:?}{}", expected_list(expected));
    }
    // `when: consecutive_failures` names a condition without its value.
    if raw.starts_with("invalid type: unit variant, expected ")
        && let Some(Step::Key(name)) = steps.last().cloned()
    {
        steps.pop();
        return format!("expected a mapping such as {{ {name}: ... }}");
    }
    if let Some(rest) = raw.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        return format!("expected {}, found {}", wanted(expected), found_text(found));
    }
    if let Some(rest) = raw.strip_prefix("invalid value: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        if expected == "map with a single key" {
            return "expected exactly one key".to_owned();
        }
        let (found, expected) = (found_text(found), wanted(expected));
        return format!("invalid value {found} (expected {expected})");
    }
    raw.to_owned()
}

fn push_key(steps: &mut Vec<Step>, key: &str) {
    if steps.last() != Some(&Step::Key(key.to_owned())) {
        steps.push(Step::Key(key.to_owned()));
    }
}

/// `, expected one of `a`, `b`` -> ` (expected one of: a, b)`.
fn expected_list(tail: &str) -> String {
    let tail = tail.trim_start_matches(',').trim();
    if let Some(names) = tail.strip_prefix("expected one of ") {
        format!(" (expected one of: {})", names.replace('`', ""))
    } else if let Some(name) = tail.strip_prefix("expected ") {
        format!(" (expected {})", name.replace('`', ""))
    } else {
        String::new()
    }
}

/// serde's name for the wanted type, as a config author would say it.
fn wanted(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "a mapping".to_owned(),
        "a string" | "path string" => "a string".to_owned(),
        other if other.starts_with("struct ") => "a mapping".to_owned(),
        other if other.starts_with("enum ") || other == "string or map" => {
            "a name or a one-key mapping".to_owned()
        }
        other => other.replace('`', ""),
    }
}

/// serde's description of the value found, as the user wrote it.
fn found_text(found: &str) -> String {
    let unquote = |text: &str| text.trim_matches('`').to_owned();
    if let Some(text) = found.strip_prefix("string ") {
        return text.to_owned();
    }
    for prefix in ["integer ", "floating point ", "boolean "] {
        if let Some(text) = found.strip_prefix(prefix) {
            return unquote(text);
        }
    }
    match found {
        "map" => "a mapping".to_owned(),
        "sequence" => "a list".to_owned(),
        "null" | "unit value" => "nothing".to_owned(),
        other => unquote(other),
    }
}
