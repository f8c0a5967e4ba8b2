//! include/extism.h must be exactly what cbindgen generates from capi/src
//! with capi/cbindgen.toml, and include/extism-ext.h what it generates from
//! capi/src/ext.rs with capi/cbindgen-ext.toml. `UPDATE_HEADER=1` rewrites them.

use std::path::{Path, PathBuf};

fn check(generated: cbindgen::Bindings, header: &Path) {
    let mut text = Vec::new();
    generated.write(&mut text);
    let text = String::from_utf8(text).expect("header is UTF-8");
    if std::env::var_os("UPDATE_HEADER").is_some() {
        std::fs::write(header, &text).expect("writing the header");
        return;
    }
    let checked_in = std::fs::read_to_string(header).unwrap_or_default();
    assert!(
        checked_in == text,
        "{} is out of date; run `make header` (UPDATE_HEADER=1 cargo test -p extism-capi --test header)",
        header.display()
    );
}

fn config(crate_dir: &Path, name: &str) -> cbindgen::Config {
    cbindgen::Config::from_file(crate_dir.join(name)).unwrap_or_else(|e| panic!("capi/{name}: {e}"))
}

#[test]
fn header_is_up_to_date() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let generated = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config(&crate_dir, "cbindgen.toml"))
        .generate()
        .expect("cbindgen generates the header");
    check(generated, &crate_dir.join("../include/extism.h"));
}

#[test]
fn extension_header_is_up_to_date() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let generated = cbindgen::Builder::new()
        .with_src(crate_dir.join("src/ext.rs"))
        .with_config(config(&crate_dir, "cbindgen-ext.toml"))
        .generate()
        .expect("cbindgen generates the extension header");
    check(generated, &crate_dir.join("../include/extism-ext.h"));
}
