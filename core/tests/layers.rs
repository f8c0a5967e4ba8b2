//! The crate's layering (src/lib.rs, Layers): every module uses only modules
//! listed before it, and names them (no `crate::Type` through the root's
//! re-exports, which would hide where a type lives).

use std::path::Path;

/// The module order, as the "Layers" list of src/lib.rs gives it.
fn layers(lib: &str) -> Vec<String> {
    let section = lib
        .split("//! # Layers")
        .nth(1)
        .expect("src/lib.rs has a Layers section");
    section
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with("//!"))
        .filter_map(|line| line.strip_prefix("//! - `"))
        .map(|rest| rest.split('`').next().unwrap().to_string())
        .collect()
}

/// The modules `text` refers to as `crate::name`, and any `crate::Upper` use.
fn references(text: &str) -> (Vec<String>, Vec<String>) {
    let mut modules = Vec::new();
    let mut through_root = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        if text[..at].ends_with(char::is_alphanumeric) || text[..at].ends_with('_') {
            continue; // `extism_core::`, `some_crate::`
        }
        let name: String = text[at + 7..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let line = text[..at].rsplit('\n').next().unwrap_or("");
        if line.trim_start().starts_with("//") {
            continue; // doc links
        }
        match name.chars().next() {
            Some(c) if c.is_uppercase() => through_root.push(name),
            Some(_) => modules.push(name),
            None => {} // `crate::{...}` groups are not used here
        }
    }
    (modules, through_root)
}

#[test]
fn modules_use_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let order = layers(&lib);
    assert!(order.len() > 10, "{order:?}");
    let rank = |name: &str| order.iter().position(|m| m == name);

    // Every module of lib.rs is in the list, and nothing else.
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("mod ").or_else(|| l.strip_prefix("pub mod ")))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    let mut sorted_declared = declared.clone();
    sorted_declared.sort();
    let mut sorted_order: Vec<&str> = order.iter().map(String::as_str).collect();
    sorted_order.sort();
    assert_eq!(
        sorted_declared, sorted_order,
        "src/lib.rs: the Layers list and the modules differ"
    );

    let mut problems = Vec::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            for sub in std::fs::read_dir(&path).unwrap() {
                files.push(sub.unwrap().path());
            }
        } else {
            files.push(path);
        }
    }
    for path in files {
        if path.extension().is_none_or(|e| e != "rs") || path.ends_with("lib.rs") {
            continue;
        }
        let relative = path.strip_prefix(&src).unwrap();
        let module = relative
            .iter()
            .next()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let Some(own) = rank(&module) else {
            problems.push(format!("{}: not in the Layers list", relative.display()));
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let (used, through_root) = references(&text);
        for name in used {
            match rank(&name) {
                Some(r) if r <= own => {}
                Some(_) => problems.push(format!("{}: uses `{name}`, a higher layer", relative.display())),
                None => problems.push(format!("{}: uses unknown module `{name}`", relative.display())),
            }
        }
        for name in through_root {
            problems.push(format!(
                "{}: `crate::{name}` names no module (say which one holds it)",
                relative.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_references() {
    let (modules, root) = references(
        "use crate::plugin::Plugin;\n// crate::pool in a comment\nlet x = crate::Val::I32(0); extism_core::x;",
    );
    assert_eq!(modules, vec!["plugin"]);
    assert_eq!(root, vec!["Val"]);
}
