//! `${VAR}` and `${VAR:-default}` in config strings (`$${` writes a literal `${`).
//! Variables come from a lookup function, so tests never touch the process environment.

use std::collections::BTreeSet;

use serde_json::Value;

use super::secret::is_secret_path;
use super::{Problem, join_index, join_key};

/// Where variables are read from: the process environment, or a test's map.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What interpolating a whole tree found besides the new strings. It holds
/// secrets in the clear, so it has no `Debug`.
#[derive(Default)]
pub(crate) struct Interpolated {
    /// Values read from the environment, with the key path they went into.
    /// They may be secrets, so error messages about that key mask them.
    pub secrets: Vec<(String, String)>,
    /// Key paths whose whole string was one `${...}`. YAML and TOML cannot
    /// type such a value, so it may be re-read as a number or boolean.
    pub whole: BTreeSet<String>,
    /// Key paths whose interpolation failed; later errors there are noise.
    pub failed: BTreeSet<String>,
    /// The values of secret keys (`password`, `token`, ...), as expanded,
    /// with their key path: no error line may show them.
    pub secret_values: Vec<(String, String)>,
    /// Key paths of secret keys whose value is written in the file itself,
    /// wholly or in part, rather than all read from the environment.
    pub literal_secrets: Vec<String>,
}

/// One expanded string; it may hold a secret, so it has no `Debug`.
pub(crate) struct Expansion {
    /// The text with every `${...}` replaced.
    pub text: String,
    /// The values that came from the environment (not from defaults).
    pub from_env: Vec<String>,
    /// The input was exactly one `${...}` and nothing else.
    pub whole: bool,
    /// Some of the text came from the file: written outside `${...}`, or
    /// a `${VAR:-default}`'s default.
    pub from_file: bool,
}

/// Replaces `${...}` in every string value of `tree` (keys are left alone),
/// recording a problem for each string that cannot be expanded.
pub(crate) fn interpolate_tree(
    tree: &mut Value,
    lookup: Lookup<'_>,
    problems: &mut Vec<Problem>,
) -> Interpolated {
    let mut found = Interpolated::default();
    walk(tree, "", lookup, &mut found, problems);
    found
}

// Config trees are shallow (a handful of levels), so recursion is bounded by
// the parser's own nesting limit.
fn walk(
    value: &mut Value,
    path: &str,
    lookup: Lookup<'_>,
    found: &mut Interpolated,
    problems: &mut Vec<Problem>,
) {
    match value {
        Value::String(text) => match expand(text, lookup, is_secret_path(path)) {
            Ok(expansion) => {
                if expansion.whole {
                    found.whole.insert(path.to_owned());
                }
                for secret in expansion.from_env {
                    found.secrets.push((path.to_owned(), secret));
                }
                if is_secret_path(path) && !expansion.text.is_empty() {
                    found
                        .secret_values
                        .push((path.to_owned(), expansion.text.clone()));
                    if expansion.from_file {
                        found.literal_secrets.push(path.to_owned());
                    }
                }
                *text = expansion.text;
            }
            Err(message) => {
                found.failed.insert(path.to_owned());
                problems.push(Problem::new(path, message));
            }
        },
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                walk(item, &join_index(path, index), lookup, found, problems);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                walk(item, &join_key(path, key), lookup, found, problems);
            }
        }
        // A secret written as a number is refused by its type, and that
        // error never quotes it; it is recorded all the same.
        Value::Number(number) if is_secret_path(path) => {
            found
                .secret_values
                .push((path.to_owned(), number.to_string()));
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Expands one string. The error is the message for the string's key path;
/// for the value of a `secret` key it quotes nothing of the text but a
/// variable's name.
pub(crate) fn expand(text: &str, lookup: Lookup<'_>, secret: bool) -> Result<Expansion, String> {
    let mut out = String::with_capacity(text.len());
    let mut from_env = Vec::new();
    let mut expressions = 0;
    let mut from_file = false;
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        from_file |= at > 0;
        let after = &rest[at..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            from_file = true;
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                return Err(r#"unterminated "${" (write "$${" for a literal "${")"#.to_owned());
            };
            let inner = &tail[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if !is_var_name(name) {
                // In a password, "${" is more likely meant literally, and
                // what follows it is part of the password.
                return Err(if secret {
                    r#"invalid variable name in "${...}" (expected letters, digits and _; write "$${" for a literal "${")"#.to_owned()
                } else {
                    format!(
                        "invalid variable name {name:?} in \"${{{inner}}}\" (expected letters, digits and _)"
                    )
                });
            }
            // `:-` follows the shell: an empty variable also takes the default.
            match (lookup(name), default) {
                (Some(value), Some(default)) if value.is_empty() => {
                    out.push_str(default);
                    from_file |= !default.is_empty();
                }
                (Some(value), _) => {
                    out.push_str(&value);
                    if !value.is_empty() {
                        from_env.push(value);
                    }
                }
                (None, Some(default)) => {
                    out.push_str(default);
                    from_file |= !default.is_empty();
                }
                (None, None) => {
                    return Err(format!(
                        "environment variable {name} is not set (use ${{{name}:-default}} for a default)"
                    ));
                }
            }
            expressions += 1;
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            from_file = true;
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    from_file |= !rest.is_empty();
    let whole = expressions == 1 && text.starts_with("${") && text.ends_with('}');
    Ok(Expansion {
        text: out,
        from_env,
        whole,
        from_file,
    })
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.internal".to_owned()),
            "EMPTY" => Some(String::new()),
            "TOKEN" => Some("s3cr3t".to_owned()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<String, String> {
        expand(text, &env, false).map(|e| e.text)
    }

    #[test]
    fn variables_and_defaults_expand() {
        assert_eq!(run("${HOST}:5432").as_deref(), Ok("db.internal:5432"));
        assert_eq!(run("${MISSING:-30s}").as_deref(), Ok("30s"));
        assert_eq!(run("${HOST:-other}").as_deref(), Ok("db.internal"));
        assert_eq!(run("${EMPTY:-fallback}").as_deref(), Ok("fallback"));
        assert_eq!(run("${EMPTY}x").as_deref(), Ok("x"));
        assert_eq!(run("${MISSING:-}").as_deref(), Ok(""));
        assert_eq!(
            run("a ${HOST} b ${TOKEN}").as_deref(),
            Ok("a db.internal b s3cr3t")
        );
    }

    #[test]
    fn dollars_without_a_brace_and_escapes_stay_literal() {
        assert_eq!(
            run("costs $5, $$ and $").as_deref(),
            Ok("costs $5, $$ and $")
        );
        assert_eq!(run("$${HOST}").as_deref(), Ok("${HOST}"));
        assert_eq!(run("a$${B:-x}c").as_deref(), Ok("a${B:-x}c"));
    }

    #[test]
    fn a_value_is_not_expanded_twice() {
        let lookup = |name: &str| (name == "A").then(|| "${B}".to_owned());
        assert_eq!(
            expand("${A}", &lookup, false).map(|e| e.text).as_deref(),
            Ok("${B}")
        );
    }

    #[test]
    fn bad_expressions_name_the_problem() {
        assert_eq!(
            run("${SMTP_PASSWORD}").unwrap_err(),
            "environment variable SMTP_PASSWORD is not set (use ${SMTP_PASSWORD:-default} for a default)"
        );
        assert_eq!(
            run("x ${HOST").unwrap_err(),
            r#"unterminated "${" (write "$${" for a literal "${")"#
        );
        assert_eq!(
            run("${A-b}").unwrap_err(),
            r#"invalid variable name "A-b" in "${A-b}" (expected letters, digits and _)"#
        );
        assert!(run("${}").is_err());
        assert!(run("${1X}").is_err());
    }

    #[test]
    fn a_bad_expression_in_a_secret_is_not_quoted() {
        let mut tree =
            serde_json::json!({"server": {"admin_token": "pa55${w-rd}", "title": "${a-b}"}});
        let mut problems = Vec::new();
        interpolate_tree(&mut tree, &env, &mut problems);
        assert_eq!(
            problems,
            vec![
                Problem::new(
                    "server.admin_token",
                    r#"invalid variable name in "${...}" (expected letters, digits and _; write "$${" for a literal "${")"#
                ),
                Problem::new(
                    "server.title",
                    r#"invalid variable name "a-b" in "${a-b}" (expected letters, digits and _)"#
                ),
            ]
        );
    }

    #[test]
    fn whole_expressions_and_env_values_are_recorded() {
        let e = expand("${TOKEN}", &env, false).unwrap();
        assert!(e.whole);
        assert_eq!(e.from_env, vec!["s3cr3t".to_owned()]);
        let e = expand("${MISSING:-5}", &env, false).unwrap();
        assert!(e.whole);
        assert!(
            e.from_env.is_empty(),
            "defaults come from the file, not the environment"
        );
        assert!(!expand("${HOST}:${TOKEN}", &env, false).unwrap().whole);
        assert!(!expand("x${HOST}", &env, false).unwrap().whole);
    }

    #[test]
    fn text_from_the_file_is_told_from_text_from_the_environment() {
        let from_file = |text: &str| expand(text, &env, false).unwrap().from_file;
        assert!(from_file("hunter2"));
        assert!(from_file("x${TOKEN}"));
        assert!(from_file("${TOKEN}x"));
        assert!(from_file("${MISSING:-change-me}"));
        assert!(from_file("${EMPTY:-change-me}"));
        assert!(from_file("$${TOKEN}"));
        assert!(!from_file("${TOKEN}"));
        assert!(!from_file("${TOKEN:-unused}"));
        assert!(!from_file("${MISSING:-}"));
        assert!(!from_file("${TOKEN}${HOST}"));
    }

    #[test]
    fn literal_secrets_are_found_by_key() {
        let mut tree = serde_json::json!({
            "server": {"admin_token": "hunter2", "title": "plain text"},
            "monitors": [{"token": "${TOKEN}"}, {"token": "${MISSING:-change-me}"}],
            "notifiers": [{"smtp": {"password": "pre-${TOKEN}"}, "secret": "${TOKEN}"}]
        });
        let mut problems = Vec::new();
        let found = interpolate_tree(&mut tree, &env, &mut problems);
        assert_eq!(
            found.literal_secrets,
            [
                "monitors[1].token",
                "notifiers[0].smtp.password",
                "server.admin_token"
            ]
        );
    }

    #[test]
    fn the_tree_walk_tracks_key_paths() {
        let mut tree = serde_json::json!({
            "notifiers": [{"smtp": {"password": "${SMTP_PASSWORD}"}}],
            "monitors": [{"url": "https://x/?token=${TOKEN}", "confirm": 2}]
        });
        let mut problems = Vec::new();
        let found = interpolate_tree(&mut tree, &env, &mut problems);
        assert_eq!(
            problems,
            vec![Problem::new(
                "notifiers[0].smtp.password",
                "environment variable SMTP_PASSWORD is not set (use ${SMTP_PASSWORD:-default} for a default)"
            )]
        );
        assert_eq!(tree["monitors"][0]["url"], "https://x/?token=s3cr3t");
        assert_eq!(
            found.secrets,
            vec![("monitors[0].url".to_owned(), "s3cr3t".to_owned())]
        );
        assert!(found.failed.contains("notifiers[0].smtp.password"));
    }
}
