//! Compiled plugins shared by many instances and threads.

mod common;
use common::*;
use std::sync::Arc;

use extism_core::{ExternKind, PluginBuilder, SharedPlugin};

#[test]
fn many_plugins_from_one_compilation_are_independent() {
    let compiled = PluginBuilder::new(wat("vars_config")).compile().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let compiled = compiled.clone();
            std::thread::spawn(move || {
                let mut p = compiled.instantiate().unwrap();
                for n in 1u64..=50 {
                    assert_eq!(p.call("counter", b"").unwrap(), n.to_le_bytes());
                }
                p.id()
            })
        })
        .collect();
    let mut ids: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

#[test]
fn one_shared_plugin_serializes_calls_from_threads() {
    let p = Arc::new(SharedPlugin::new(
        PluginBuilder::new(wat("vars_config")).build().unwrap(),
    ));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    p.lock().unwrap().call("counter", b"").unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(p.lock().unwrap().call("counter", b"").unwrap(), 101u64.to_le_bytes());
}

#[test]
fn describe_lists_imports_and_exports() {
    let compiled = PluginBuilder::new(wat("count_vowels")).compile().unwrap();
    let modules = compiled.describe();
    assert_eq!(modules.len(), 1);
    assert_eq!(modules[0].name, "main");
    assert!(modules[0].imports.iter().any(|i| i.module == "extism:host/env"
        && i.name == "alloc"
        && i.kind == ExternKind::Func
        && i.ty == "(func (param i64) (result i64))"));
    let export = modules[0].exports.iter().find(|e| e.name == "count_vowels").unwrap();
    assert_eq!((export.kind, export.kind.js_name()), (ExternKind::Func, "function"));
    // Described as written: the imports the kernel inlining adds are not the plugin's.
    assert!(modules[0].imports.iter().all(|i| i.module == "extism:host/env"));
}

/// Main is the module named `main`, wherever the manifest lists it.
#[test]
fn describe_main_names_the_main_module() {
    let two = format!(
        r#"{{"wasm": [{{"path": "{}", "name": "main"}}, {{"path": "{}", "name": "lib"}}]}}"#,
        wat_path("uses_lib"),
        wat_path("lib")
    );
    let compiled = PluginBuilder::new(two).compile().unwrap();
    assert_eq!(compiled.describe_main().name, "main");
    assert!(compiled.describe_main().exports.iter().any(|e| e.name == "run"));
    // In instantiation order: lib, which main imports from, comes first.
    let order: Vec<String> = compiled.describe().into_iter().map(|m| m.name).collect();
    assert_eq!(order, ["lib", "main"]);
}
