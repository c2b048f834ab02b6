//! The one-way architecture, checked: every top-level module uses only
//! modules declared before it in `src/lib.rs`, and ARCHITECTURE.md's code
//! map walks the modules in that same order.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The top-level modules in the order `src/lib.rs` declares them.
fn declared() -> Vec<String> {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).expect("src/lib.rs");
    lib.lines()
        .filter_map(|line| line.strip_prefix("pub mod ")?.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

/// Every `.rs` file of a top-level module.
fn files_of(module: &str) -> Vec<PathBuf> {
    let src = root().join("src");
    let mut files = Vec::new();
    let single = src.join(format!("{module}.rs"));
    if single.exists() {
        files.push(single);
    }
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// The top-level modules a file names through `crate::`, including inside
/// `crate::{a, b::c}` groups.
fn named_in(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).expect("source file");
    let mut named = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                named.insert(first_segment(item.trim()));
            }
        } else {
            named.insert(first_segment(rest));
        }
    }
    named.retain(|m| !m.is_empty());
    named
}

fn first_segment(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[test]
fn no_module_uses_one_declared_after_it() {
    let order = declared();
    assert!(
        order.len() > 10,
        "src/lib.rs declares the modules: {order:?}"
    );
    let mut wrong = Vec::new();
    for (position, module) in order.iter().enumerate() {
        let files = files_of(module);
        assert!(!files.is_empty(), "no source for module {module}");
        for file in files {
            for used in named_in(&file) {
                match order.iter().position(|m| *m == used) {
                    Some(at) if at > position => wrong.push(format!(
                        "{} uses {used}, declared after {module}",
                        file.strip_prefix(root()).unwrap_or(&file).display()
                    )),
                    _ => {}
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the flow goes one way; move the shared type earlier instead:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_code_map_follows_the_declaration_order() {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    // Each module has a heading "### `name`" in the code map.
    let mapped: Vec<String> = doc
        .lines()
        .filter_map(|line| line.strip_prefix("### `")?.strip_suffix('`'))
        .map(str::to_owned)
        .collect();
    assert_eq!(mapped, declared(), "ARCHITECTURE.md's code map");
}

#[test]
fn the_scanner_sees_grouped_and_nested_paths() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("x.rs");
    std::fs::write(
        &file,
        "use crate::{alpha, beta::Gamma};\nfn f() { crate::delta::go(); }\n",
    )
    .expect("write");
    let names: Vec<String> = named_in(&file).into_iter().collect();
    assert_eq!(names, ["alpha", "beta", "delta"]);
}
