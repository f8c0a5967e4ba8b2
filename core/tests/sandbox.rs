//! The sandbox: a plugin reaches no file, directory, host or environment
//! variable it was not given (docs/abi.md, WASI and HTTP; docs/compatibility.md).

mod common;
use common::*;
use std::path::PathBuf;

use extism_core::{Plugin, PluginBuilder};

struct Tree {
    root: PathBuf,
}

impl Tree {
    /// root/inside/data.txt, root/outside.txt, and symlinks from inside to
    /// outside (relative and absolute).
    fn new(tag: &str) -> Tree {
        let root = std::env::temp_dir().join(format!("extism-sandbox-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("inside/sub")).unwrap();
        std::fs::write(root.join("inside/data.txt"), "inside data").unwrap();
        std::fs::write(root.join("outside.txt"), "outside secret").unwrap();
        std::os::unix::fs::symlink("../outside.txt", root.join("inside/rel-link")).unwrap();
        std::os::unix::fs::symlink(root.join("outside.txt"), root.join("inside/abs-link")).unwrap();
        std::os::unix::fs::symlink("../data.txt", root.join("inside/sub/ok-link")).unwrap();
        Tree { root }
    }

    fn inside(&self) -> String {
        self.root.join("inside").display().to_string()
    }

    fn plugin(&self, host_path: &str) -> Plugin {
        let manifest = format!(
            r#"{{"wasm": [{{"path": "{}"}}], "allowed_paths": {{"{host_path}": "/data"}}}}"#,
            wat_path("wasi_fs")
        );
        PluginBuilder::new(manifest).with_wasi(true).build().unwrap()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn text(p: &mut Plugin, function: &str, input: &str) -> String {
    String::from_utf8(p.call(function, input.as_bytes()).unwrap().to_vec()).unwrap()
}

#[test]
fn paths_cannot_escape_a_preopened_directory() {
    let tree = Tree::new("escape");
    let mut p = tree.plugin(&tree.inside());
    assert_eq!(text(&mut p, "read_file", "data.txt"), "inside data");
    assert_eq!(
        text(&mut p, "read_file", "sub/ok-link"),
        "inside data",
        "links inside stay usable"
    );
    for escape in [
        "../outside.txt",
        "sub/../../outside.txt",
        "/etc/passwd",
        "rel-link",
        "abs-link",
        "../inside/../../outside.txt",
    ] {
        let out = text(&mut p, "read_file", escape);
        assert!(out.starts_with('E'), "{escape} was readable: {out}");
    }
    for escape in ["../escaped.txt", "/tmp/escaped.txt", "rel-link"] {
        let out = text(&mut p, "write_file", escape);
        assert!(out.starts_with('E'), "{escape} was writable: {out}");
    }
    assert_eq!(
        std::fs::read_to_string(tree.root.join("outside.txt")).unwrap(),
        "outside secret"
    );
    assert!(!tree.root.join("escaped.txt").exists());
    assert_eq!(text(&mut p, "write_file", "new.txt"), "ok");
    assert_eq!(
        std::fs::read_to_string(tree.root.join("inside/new.txt")).unwrap(),
        "written"
    );
}

#[test]
fn read_only_paths_refuse_writes() {
    let tree = Tree::new("ro");
    let mut p = tree.plugin(&format!("ro:{}", tree.inside()));
    assert_eq!(text(&mut p, "read_file", "data.txt"), "inside data");
    for target in ["new.txt", "data.txt"] {
        let out = text(&mut p, "write_file", target);
        assert!(out.starts_with('E'), "{target} was writable through ro: {out}");
    }
    assert!(!tree.root.join("inside/new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(tree.root.join("inside/data.txt")).unwrap(),
        "inside data"
    );
}

#[test]
fn nothing_is_reachable_without_allowed_paths_and_no_environment_leaks() {
    std::env::set_var("EXTISM_SANDBOX_SECRET", "1");
    let mut p = PluginBuilder::new(wat("wasi_fs")).with_wasi(true).build().unwrap();
    assert!(text(&mut p, "read_file", "data.txt").starts_with('E'));
    assert!(text(&mut p, "read_file", "/etc/passwd").starts_with('E'));
    assert_eq!(text(&mut p, "env_count", ""), "0");
    assert_eq!(text(&mut p, "arg_count", ""), "0");
    // allowed_paths means nothing without WASI: the plugin cannot even import it.
    let tree = Tree::new("nowasi");
    let manifest = format!(
        r#"{{"wasm": [{{"path": "{}"}}], "allowed_paths": {{"{}": "/data"}}}}"#,
        wat_path("wasi_fs"),
        tree.inside()
    );
    let e = PluginBuilder::new(manifest).build().err().unwrap();
    assert_eq!(e.kind(), extism_core::ErrorKind::UnresolvedImport, "{e}");
    assert!(e.message().contains("wasi_snapshot_preview1::"), "{e}");
}

/// The kernel's memory and globals are imported only by the rewrite that
/// inlines its leaf functions: a plugin that imports them itself is refused,
/// so its private bookkeeping memory stays out of reach.
#[test]
fn plugins_cannot_import_the_kernel_module() {
    for (what, ty) in [
        ("extism_meta", "(memory 1)"),
        ("memory", "(memory 1)"),
        ("size_global", "(global (mut i64))"),
    ] {
        let wat = format!(
            r#"(module
                (import "extism:host/env" "load_u64" (func (param i64) (result i64)))
                (import "extism:kernel" "{what}" {ty})
                (func (export "run") (result i32) (i32.const 0)))"#
        );
        let e = PluginBuilder::new(wat).build().err().unwrap();
        assert_eq!(
            e.kind(),
            extism_core::ErrorKind::UnresolvedImport,
            "{what}: {}",
            e.message()
        );
    }
}
