//! Compiled plugins shared by many instances and threads.

mod common;
use common::*;
use std::sync::Arc;

use extism_core::{PluginBuilder, SharedPlugin};

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
    assert!(modules[0]
        .imports
        .iter()
        .any(|(m, n, t)| m == "extism:host/env" && n == "alloc" && t == "(func (param i64) (result i64))"));
    assert!(modules[0].exports.iter().any(|(n, _)| n == "count_vowels"));
}
