//! Helpers shared by the integration tests: fixture paths and loaders.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A hand-written WAT fixture (tests/fixtures/wat/NAME.wat) as text.
pub fn wat(name: &str) -> Vec<u8> {
    let path = repo().join("tests/fixtures/wat").join(format!("{name}.wat"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn wat_path(name: &str) -> String {
    repo()
        .join("tests/fixtures/wat")
        .join(format!("{name}.wat"))
        .display()
        .to_string()
}

/// An AssemblyScript PDK plugin built by tests/fixtures/pdk/build.sh.
pub fn pdk(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("EXTISM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/fixtures"));
    let path = dir.join(format!("as_{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (build the PDK fixtures: tests/fixtures/pdk/build.sh)",
            path.display()
        )
    })
}
