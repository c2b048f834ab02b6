//! What an importer builds before it is written out: config entries as
//! ordered key/value trees with the comments that explain them.

use std::collections::BTreeSet;

/// A value in the written config. Strings are already in hopwatch's
/// `${VAR}` syntax: each importer decides what of its source is a
/// variable and what is literal text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// Text, quoted when YAML would read it as something else.
    Str(String),
    /// A token written as is: a number, a boolean, a duration.
    Plain(String),
    /// A list, written inline when it holds only scalars.
    List(Vec<Value>),
    /// A nested mapping, in insertion order.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// Text from a source with no variables of its own: a `${` in it is
    /// written `$${`, so hopwatch does not read it as one.
    pub fn literal(text: &str) -> Value {
        Value::Str(escape_literal(text))
    }

    /// A whole number.
    pub fn int(n: impl Into<i64>) -> Value {
        Value::Plain(n.into().to_string())
    }

    /// `true` or `false`.
    pub fn bool(b: bool) -> Value {
        Value::Plain(b.to_string())
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// `${` becomes `$${`, hopwatch's spelling of a literal `${`.
pub(crate) fn escape_literal(text: &str) -> String {
    text.replace("${", "$${")
}

/// One entry of a list section (a monitor, an alert, a notifier, a
/// maintenance window), with the comments written above it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Entry {
    /// Where in the source the entry comes from (`endpoints[3] "api"`),
    /// named when hopwatch refuses the entry after all.
    pub origin: String,
    /// Lines written above the entry, without the `# `.
    pub comments: Vec<String>,
    /// Keys in the order they are written.
    pub fields: Vec<(String, Value)>,
}

impl Entry {
    /// An entry whose first key is `name`.
    pub fn named(name: &str) -> Entry {
        Entry {
            origin: format!("{name:?}"),
            comments: Vec::new(),
            fields: vec![("name".to_owned(), Value::Str(name.to_owned()))],
        }
    }

    /// Appends a key.
    pub fn set(&mut self, key: &str, value: Value) {
        self.fields.push((key.to_owned(), value));
    }

    /// Appends a comment line.
    pub fn note(&mut self, line: impl Into<String>) {
        self.comments.push(line.into());
    }

    /// A `# not imported: what — why` line above the entry.
    pub fn not_imported(&mut self, what: impl AsRef<str>, why: impl AsRef<str>) {
        self.comments.push(not_imported(what, why));
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of a key, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.fields
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The entry's `name`, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.get("name").and_then(Value::as_str)
    }
}

/// The text of a `# not imported: …` comment.
pub(crate) fn not_imported(what: impl AsRef<str>, why: impl AsRef<str>) -> String {
    format!("not imported: {} — {}", what.as_ref(), why.as_ref())
}

/// The sections of the written config that hold lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Section {
    Monitors,
    Alerts,
    Notifiers,
    Maintenance,
}

impl Section {
    /// All of them, in the order they are written.
    pub const ALL: [Section; 4] = [
        Section::Monitors,
        Section::Alerts,
        Section::Notifiers,
        Section::Maintenance,
    ];

    /// The config key.
    pub fn key(self) -> &'static str {
        match self {
            Section::Monitors => "monitors",
            Section::Alerts => "alerts",
            Section::Notifiers => "notifiers",
            Section::Maintenance => "maintenance",
        }
    }

    /// The section a config key path starts with.
    pub fn of_key(key: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// A whole imported config, before it is written.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    /// Comment lines at the top of the file.
    pub header: Vec<String>,
    /// Keys of `server:`.
    pub server: Vec<(String, Value)>,
    pub monitors: Vec<Entry>,
    pub alerts: Vec<Entry>,
    pub notifiers: Vec<Entry>,
    pub maintenance: Vec<Entry>,
    /// `# not imported` lines (and other notes) written at the end of each
    /// section, for what has no entry of its own.
    pub skipped: Vec<(Section, String)>,
}

impl Draft {
    /// The entries of a section.
    pub fn entries(&self, section: Section) -> &Vec<Entry> {
        match section {
            Section::Monitors => &self.monitors,
            Section::Alerts => &self.alerts,
            Section::Notifiers => &self.notifiers,
            Section::Maintenance => &self.maintenance,
        }
    }

    /// The entries of a section, to change them.
    pub fn entries_mut(&mut self, section: Section) -> &mut Vec<Entry> {
        match section {
            Section::Monitors => &mut self.monitors,
            Section::Alerts => &mut self.alerts,
            Section::Notifiers => &mut self.notifiers,
            Section::Maintenance => &mut self.maintenance,
        }
    }

    /// Records something that was not imported, at the end of `section`.
    pub fn skip(&mut self, section: Section, what: impl AsRef<str>, why: impl AsRef<str>) {
        self.skipped.push((section, not_imported(what, why)));
    }

    /// The names of the entries of a section.
    pub fn names(&self, section: Section) -> BTreeSet<String> {
        self.entries(section)
            .iter()
            .filter_map(|e| e.name().map(str::to_owned))
            .collect()
    }
}

/// Hands out names that hopwatch accepts (`[a-z0-9._-]`, unique in their
/// section), remembering the ones taken.
#[derive(Debug, Default)]
pub(crate) struct Names {
    taken: BTreeSet<String>,
}

/// A name handed out by [`Names`], and what became of the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claimed {
    /// The name to write.
    pub name: String,
    /// A comment line when the name is not the original one.
    pub note: Option<String>,
}

impl Names {
    /// A valid, unused name for `original`; `qualifier` (a group) is tried
    /// in front of it before a number is put after it.
    pub fn claim(&mut self, original: &str, qualifier: Option<&str>) -> Claimed {
        let base = sanitize(original);
        let mut candidates = vec![base.clone()];
        if let Some(qualifier) = qualifier.map(sanitize).filter(|q| q != "unnamed") {
            candidates.push(format!("{qualifier}-{base}"));
        }
        let free = candidates.into_iter().find(|c| !self.taken.contains(c));
        // Numbers after the name: one more than there are names makes a
        // free one certain, so the search is bounded.
        let name = free.unwrap_or_else(|| {
            (2..=self.taken.len() + 2)
                .map(|n| format!("{base}-{n}"))
                .find(|c| !self.taken.contains(c))
                .unwrap_or_else(|| format!("{base}-{}", self.taken.len() + 2))
        });
        self.taken.insert(name.clone());
        // A name that only changed case needs no comment: the title shows it.
        let note = if name == original.to_lowercase() {
            None
        } else if name == base {
            Some(format!(
                "name {original:?} is written {name} (hopwatch names use a-z, 0-9, '.', '_' and '-')"
            ))
        } else {
            Some(format!(
                "name {original:?} is {name} here: {base} was taken"
            ))
        };
        Claimed { name, note }
    }
}

/// Lower case; every run of other characters becomes one `-`; never empty.
pub(crate) fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches(['-', '.']);
    if trimmed.is_empty() {
        "unnamed".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized_and_deduplicated() {
        let mut names = Names::default();
        let cases = [
            ("api", None, "api", false),
            ("Front Page!", None, "front-page", true),
            ("api", Some("Core"), "core-api", true),
            ("api", Some("Core"), "api-2", true),
            ("", None, "unnamed", true),
            ("Ünïcode ✓", None, "n-code", true),
            ("db.primary_1", None, "db.primary_1", false),
            ("Keyword", None, "keyword", false),
        ];
        for (original, group, want, noted) in cases {
            let claimed = names.claim(original, group);
            assert_eq!(claimed.name, want, "{original:?}");
            assert_eq!(claimed.note.is_some(), noted, "{original:?}: {claimed:?}");
        }
    }

    #[test]
    fn literals_escape_variable_syntax() {
        assert_eq!(
            Value::literal("a ${B} c $D"),
            Value::Str("a $${B} c $D".into())
        );
    }
}
