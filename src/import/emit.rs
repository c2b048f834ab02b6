//! Writes a [`Draft`] as a commented hopwatch YAML config: block mappings,
//! inline lists of scalars, and strings quoted only where YAML needs it.

use std::fmt::Write as _;

use super::model::{Draft, Entry, Section, Value};

/// The config text.
pub(crate) fn yaml(draft: &Draft) -> String {
    let mut out = String::new();
    for line in &draft.header {
        comment(&mut out, 0, line);
    }
    if !draft.server.is_empty() {
        out.push_str("\nserver:\n");
        fields(&mut out, 2, &draft.server);
    }
    for section in Section::ALL {
        let entries = draft.entries(section);
        let skipped: Vec<&String> = draft
            .skipped
            .iter()
            .filter(|(s, _)| *s == section)
            .map(|(_, line)| line)
            .collect();
        if entries.is_empty() && skipped.is_empty() {
            continue;
        }
        out.push('\n');
        // A section with nothing in it is left out: an empty `alerts:` is
        // valid, but a key with only comments under it reads like a mistake.
        if entries.is_empty() {
            comment(&mut out, 0, &format!("{}: none imported", section.key()));
        } else {
            let _ = writeln!(out, "{}:", section.key());
        }
        for (n, entry) in entries.iter().enumerate() {
            if n > 0 && !entry.comments.is_empty() {
                out.push('\n');
            }
            item(&mut out, entry);
        }
        for line in skipped {
            comment(&mut out, 2, line);
        }
    }
    out
}

fn item(out: &mut String, entry: &Entry) {
    for line in &entry.comments {
        comment(out, 2, line);
    }
    let mut first = true;
    for (key, value) in &entry.fields {
        let prefix = if first { "  - " } else { "    " };
        first = false;
        out.push_str(prefix);
        field(out, 4, key, value);
    }
    if first {
        out.push_str("  - {}\n");
    }
}

fn fields(out: &mut String, indent: usize, fields: &[(String, Value)]) {
    for (key, value) in fields {
        out.push_str(&" ".repeat(indent));
        field(out, indent, key, value);
    }
}

/// `key: value` after the indent has been written; a mapping goes on the
/// lines below, two spaces further in.
fn field(out: &mut String, indent: usize, key: &str, value: &Value) {
    out.push_str(&scalar(key));
    match value {
        Value::Map(inner) if !inner.is_empty() && !is_short(value) => {
            out.push_str(":\n");
            fields(out, indent + 2, inner);
        }
        other => {
            out.push_str(": ");
            inline(out, other);
            out.push('\n');
        }
    }
}

/// A mapping of one key whose value fits on the line too
/// (`when: {consecutive_failures: 3}`): written inline, as people write it.
fn is_short(value: &Value) -> bool {
    match value {
        Value::Map(pairs) => pairs.len() == 1 && is_short(&pairs[0].1),
        Value::List(_) => false,
        Value::Str(_) | Value::Plain(_) => true,
    }
}

/// A value on one line: scalars, flow lists, flow mappings.
fn inline(out: &mut String, value: &Value) {
    match value {
        Value::Str(text) => out.push_str(&scalar(text)),
        Value::Plain(token) => out.push_str(token),
        Value::List(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                inline(out, item);
            }
            out.push(']');
        }
        Value::Map(pairs) => {
            out.push('{');
            for (n, (key, item)) in pairs.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                out.push_str(&scalar(key));
                out.push_str(": ");
                inline(out, item);
            }
            out.push('}');
        }
    }
}

/// One comment line; line breaks and control characters in quoted values
/// would end the comment, so they become spaces.
fn comment(out: &mut String, indent: usize, text: &str) {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let _ = writeln!(out, "{}# {}", " ".repeat(indent), clean.trim_end());
}

/// A string as a YAML scalar: plain when it is unmistakably a string in
/// both block and flow context, double-quoted (JSON escapes, which YAML
/// shares) otherwise.
pub(crate) fn scalar(text: &str) -> String {
    if is_plain_safe(text) {
        return text.to_owned();
    }
    let quoted = serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned());
    // JSON leaves DEL and the C1 controls raw; YAML does not allow them.
    quoted
        .chars()
        .map(|c| match c {
            '\u{7f}'..='\u{9f}' => format!("\\u{:04x}", u32::from(c)),
            c => c.to_string(),
        })
        .collect()
}

fn is_plain_safe(text: &str) -> bool {
    let mut chars = text.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/:@+%=?&~$()*".contains(c));
    if !first_ok || !rest_ok || text.ends_with(':') {
        return false;
    }
    // Words and numbers YAML types (true, null, 0x1f, 1e3) stay quoted.
    matches!(
        serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text),
        Ok(serde_yaml_ng::Value::String(read)) if read == text
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_quoted_only_when_yaml_would_misread_them() {
        let cases = [
            ("api", "api"),
            ("https://a.example/x?y=1&z=2", "https://a.example/x?y=1&z=2"),
            ("30s", "30s"),
            ("true", "\"true\""),
            ("null", "\"null\""),
            ("200", "\"200\""),
            ("1e3", "\"1e3\""),
            ("a b", "\"a b\""),
            ("a: b", "\"a: b\""),
            ("#x", "\"#x\""),
            ("[x]", "\"[x]\""),
            ("", "\"\""),
            ("${X}", "\"${X}\""),
            ("tab\there", "\"tab\\there\""),
            ("del\u{7f}", "\"del\\u007f\""),
            ("Ünï", "\"Ünï\""),
        ];
        for (text, want) in cases {
            assert_eq!(scalar(text), want, "{text:?}");
            let read: String = serde_yaml_ng::from_str(&scalar(text)).expect("reads back");
            assert_eq!(read, text);
        }
    }

    #[test]
    fn a_draft_is_written_with_its_comments() {
        let mut monitor = Entry::named("api");
        monitor.note("from endpoints[0]");
        monitor.set("url", Value::Str("http://127.0.0.1:1/".into()));
        monitor.set(
            "expect",
            Value::Map(vec![
                (
                    "status".into(),
                    Value::List(vec![Value::int(200), Value::Str("3xx".into())]),
                ),
                (
                    "json".into(),
                    Value::Map(vec![("$.a[0]".into(), Value::Str("ok".into()))]),
                ),
            ]),
        );
        let mut draft = Draft {
            header: vec!["imported".into()],
            monitors: vec![monitor],
            ..Draft::default()
        };
        draft.skip(Section::Notifiers, "alerting.telegram", "no such notifier");
        let text = yaml(&draft);
        assert_eq!(
            text,
            "# imported\n\nmonitors:\n  # from endpoints[0]\n  - name: api\n    \
             url: http://127.0.0.1:1/\n    expect:\n      status: [200, 3xx]\n      \
             json: {\"$.a[0]\": ok}\n\n# notifiers: none imported\n  \
             # not imported: alerting.telegram — no such notifier\n"
        );
        let tree: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("YAML");
        assert_eq!(tree["monitors"][0]["expect"]["json"]["$.a[0]"], "ok");
    }
}
