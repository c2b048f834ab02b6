//! Gatus's environment variables (`$VAR`, `${VAR}`, `$$` for a `$`) in
//! hopwatch's spelling (`${VAR}`, `$${` for a literal `${`).

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::super::model::escape_literal;

/// Rewrites every string of the tree, collecting the variables named.
pub(crate) fn rewrite_tree(tree: &mut Json, vars: &mut BTreeSet<String>) {
    match tree {
        Json::String(text) => *text = rewrite(text, vars),
        Json::Array(items) => items.iter_mut().for_each(|i| rewrite_tree(i, vars)),
        Json::Object(map) => map.values_mut().for_each(|v| rewrite_tree(v, vars)),
        Json::Null | Json::Bool(_) | Json::Number(_) => {}
    }
}

/// One string. Gatus expands variables in the whole file before reading
/// it; hopwatch expands them in string values, which is where they matter.
pub(crate) fn rewrite(text: &str, vars: &mut BTreeSet<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut literal = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        literal.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let braced = after
            .strip_prefix('{')
            .and_then(|inner| inner.find('}').map(|end| &inner[..end]))
            .filter(|name| is_name(name));
        if let Some(tail) = after.strip_prefix('$') {
            literal.push('$');
            rest = tail;
        } else if let Some(name) = braced {
            variable(&mut out, &mut literal, name, vars);
            rest = &after[name.len() + 2..];
        } else if name_len > 0 && is_name(&after[..name_len]) {
            variable(&mut out, &mut literal, &after[..name_len], vars);
            rest = &after[name_len..];
        } else {
            literal.push('$');
            rest = after;
        }
    }
    literal.push_str(rest);
    out.push_str(&escape_literal(&literal));
    out
}

fn variable(out: &mut String, literal: &mut String, name: &str, vars: &mut BTreeSet<String>) {
    out.push_str(&escape_literal(literal));
    literal.clear();
    out.push_str(&format!("${{{name}}}"));
    vars.insert(name.to_owned());
}

fn is_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gatus_variables_are_written_the_hopwatch_way() {
        let cases = [
            ("plain", "plain", vec![]),
            ("${HOST}/health", "${HOST}/health", vec!["HOST"]),
            ("$HOST:$PORT", "${HOST}:${PORT}", vec!["HOST", "PORT"]),
            ("costs $$5", "costs $5", vec![]),
            ("$${NOT_A_VAR}", "$${NOT_A_VAR}", vec![]),
            ("50$ and $", "50$ and $", vec![]),
            ("${bad-name}", "$${bad-name}", vec![]),
        ];
        for (text, want, names) in cases {
            let mut vars = BTreeSet::new();
            assert_eq!(rewrite(text, &mut vars), want, "{text:?}");
            let names: BTreeSet<String> = names.into_iter().map(str::to_owned).collect();
            assert_eq!(vars, names, "{text:?}");
        }
    }
}
