//! Tests of the kernel inlining rewrite.

use super::*;
use wasmparser::{Operator, Parser, Payload};

fn imports(wasm: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::ImportSection(s) = payload.unwrap() {
            for import in s.into_imports() {
                let import = import.unwrap();
                out.push((import.module.to_string(), import.name.to_string()));
            }
        }
    }
    out
}

fn calls(wasm: &[u8]) -> usize {
    let mut count = 0;
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::CodeSectionEntry(body) = payload.unwrap() {
            let mut reader = body.get_operators_reader().unwrap();
            while !reader.eof() {
                count += matches!(reader.read().unwrap(), Operator::Call { .. }) as usize;
            }
        }
    }
    count
}

const PLUGIN: &str = r#"(module
    (import "extism:host/env" "load_u64" (func $load (param i64) (result i64)))
    (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
    (memory 1) (global $g (mut i32) (i32.const 7))
    (func (export "run") (result i32)
      (drop (call $load (call $alloc (i64.const 8))))
      (i32.store (i32.const 0) (global.get $g))
      (i32.const 0)))"#;

#[test]
fn leaf_calls_are_inlined_and_the_rest_kept() {
    let wasm = inline_kernel(PLUGIN.as_bytes()).unwrap();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&wasm)
        .unwrap();
    // The plugin's imports stay, in their order; the kernel's memory and
    // the globals the inlined bodies read come after them.
    let imports = imports(&wasm);
    assert_eq!(
        imports[..2],
        [
            ("extism:host/env".to_string(), "load_u64".to_string()),
            ("extism:host/env".to_string(), "alloc".to_string()),
        ]
    );
    assert!(imports[2..].iter().all(|(m, _)| m == KERNEL_MODULE));
    assert!(imports[2..].iter().any(|(_, n)| n == "memory"));
    // `alloc` is still called; `load_u64` is not.
    assert_eq!(calls(&wasm), 1);
}

#[test]
fn modules_left_as_they_are() {
    // Nothing to inline.
    assert!(inline_kernel(br#"(module (func (export "run") (result i32) (i32.const 0)))"#).is_none());
    // A mistyped kernel import: linking refuses it, in its own words.
    let mistyped = br#"(module (import "extism:host/env" "load_u64" (func (param i32) (result i64))))"#;
    assert!(inline_kernel(mistyped).is_none());
    // A plugin that imports from the kernel module itself.
    let own = format!(
        r#"(module (import "extism:host/env" "load_u64" (func (param i64) (result i64)))
            (import "{KERNEL_MODULE}" "memory" (memory 1)))"#
    );
    assert!(inline_kernel(own.as_bytes()).is_none());
    // Not wasm at all.
    assert!(inline_kernel(b"\0asm\x01\0\0\0\x01").is_none());
    assert!(inline_kernel(b"(module").is_none());
}

#[test]
fn the_hot_functions_are_inlinable() {
    let kernel = kernel().unwrap();
    let names: Vec<&str> = kernel.functions.iter().map(|(n, _)| *n).collect();
    for name in [
        "load_u8",
        "load_u64",
        "store_u8",
        "store_u64",
        "input_load_u8",
        "input_load_u64",
        "input_length",
        "input_offset",
    ] {
        assert!(names.contains(&name), "{name} is not inlined: {names:?}");
    }
    // The allocator is not a leaf.
    assert!(!names.contains(&"alloc"));
}
