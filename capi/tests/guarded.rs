//! No export can unwind into C: the body of every `extern "C"` function in
//! capi/src is a call of `guard` or `guard_with` (capi/src/guard.rs), or of
//! another export that is. A new export written without one fails here.

use std::path::Path;

/// (file, name, the first code of the body) of each function defined as
/// `extern "C" fn name(...)`, and the number of `#[no_mangle]` attributes.
fn exports() -> (Vec<(String, String, String)>, usize) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut no_mangle = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        no_mangle += text.matches("#[no_mangle]").count();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let marker = "extern \"C\" fn ";
        let mut rest = text.as_str();
        while let Some(at) = rest.find(marker) {
            rest = &rest[at + marker.len()..];
            // Function pointer types (`extern "C" fn(...)`) have no name.
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if name.is_empty() {
                continue;
            }
            // Parameter and return types hold no braces, so the first one
            // opens the body.
            let body = &rest[rest.find('{').unwrap() + 1..];
            let first: String = body
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("//"))
                .collect::<Vec<_>>()
                .join(" ");
            found.push((file.clone(), name, first.chars().take(80).collect()));
        }
    }
    (found, no_mangle)
}

#[test]
fn every_export_runs_inside_a_guard() {
    let (exports, no_mangle) = exports();
    assert_eq!(
        exports.len(),
        no_mangle,
        "every #[no_mangle] function is found by this scan: {exports:?}"
    );
    assert!(exports.len() >= 35, "{} exports", exports.len());
    let names: Vec<&str> = exports.iter().map(|(_, name, _)| name.as_str()).collect();
    let unguarded: Vec<String> = exports
        .iter()
        .filter(|(_, _, first)| {
            let delegates = names.iter().any(|other| first.starts_with(&format!("{other}(")));
            !(first.starts_with("guard(") || first.starts_with("guard_with(") || delegates)
        })
        .map(|(file, name, first)| format!("{file}: {name} begins with `{first}`"))
        .collect();
    assert!(
        unguarded.is_empty(),
        "exports whose body is not a guard: {unguarded:#?}"
    );
}
