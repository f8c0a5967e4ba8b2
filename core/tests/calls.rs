//! Calls, output, errors and return codes (docs/abi.md, Calls) with WAT and PDK plugins.

mod common;
use common::*;
use extism_core::{ErrorKind, Plugin, PluginBuilder, ERROR_TEXT_LIMIT, RC_ERROR, RC_TRAP};

fn plugin(name: &str) -> Plugin {
    PluginBuilder::new(wat(name)).build().unwrap()
}

#[test]
fn echo_of_many_sizes() {
    let mut p = plugin("echo");
    for size in [0usize, 1, 7, 8, 9, 64, 4096, 65536, 1 << 20, 3 << 20] {
        let input: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        assert_eq!(p.call("echo", &input).unwrap(), &input[..], "size {size}");
    }
}

#[test]
fn empty_call_and_unit_export() {
    let mut p = plugin("echo");
    assert_eq!(p.call("noop", b"").unwrap(), b"");
    assert_eq!(p.call("unit", b"x").unwrap(), b"");
    assert!(p.function_exists("noop"));
    assert!(p.function_exists("unit"));
    assert!(!p.function_exists("with_param"));
    assert!(!p.function_exists("two_results"));
    assert!(!p.function_exists("memory"));
    assert!(!p.function_exists("nope"));
}

#[test]
fn wrong_export_types_fail_cleanly() {
    let mut p = plugin("echo");
    let r = p.call_with_context("with_param", b"", None);
    assert_eq!(r.rc, RC_ERROR);
    let e = r.error.unwrap();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::ExportType, "expected 1 arguments, got 0")
    );
    let r = p.call_with_context("two_results", b"", None);
    assert_eq!(r.rc, RC_ERROR);
    let e = r.error.unwrap();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::ExportType,
            "Function two_results has 2 results, expected 0 or 1"
        )
    );
    // An export that is not a function is not found, as a missing one.
    let e = p.call_with_context("memory", b"", None).error.unwrap();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::FunctionNotFound, "Function not found: memory")
    );
    assert_eq!(p.call("echo", b"still fine").unwrap(), b"still fine");
}

#[test]
fn count_vowels_wat_and_pdk() {
    let mut p = plugin("count_vowels");
    assert_eq!(p.call("count_vowels", b"hello world").unwrap(), br#"{"count":3}"#);
    assert_eq!(p.call("count_vowels", b"").unwrap(), br#"{"count":0}"#);
    let mut as_plugin = PluginBuilder::new(pdk("count_vowels")).build().unwrap();
    assert_eq!(
        as_plugin.call("count_vowels", b"hello world").unwrap(),
        br#"{"count":3}"#
    );
    let big = "aeiou xyz ".repeat(100_000);
    assert_eq!(
        as_plugin.call("count_vowels", big.as_bytes()).unwrap(),
        br#"{"count":500000}"#
    );
}

#[test]
fn unknown_function() {
    let mut p = plugin("echo");
    let r = p.call_with_context("nope", b"", None);
    assert_eq!(r.rc, RC_ERROR);
    let e = r.error.unwrap();
    assert_eq!(e.message(), "Function not found: nope");
    assert_eq!(e.kind(), ErrorKind::FunctionNotFound);
}

#[test]
fn plugin_errors_and_return_codes() {
    let mut p = plugin("errors");
    let r = p.call_with_context("fail", b"", None);
    assert_eq!((r.rc, r.error.unwrap().message()), (1, "this is an error"));
    let r = p.call_with_context("fail_rc0", b"", None);
    assert_eq!((r.rc, r.error.unwrap().message()), (0, "this is an error"));
    let r = p.call_with_context("fail_input", "héllo".as_bytes(), None);
    assert_eq!((r.rc, r.error.unwrap().message()), (2, "héllo"));
    let r = p.call_with_context("return_7", b"", None);
    assert_eq!(r.rc, 7);
    assert!(r.error.is_none());
    assert_eq!(p.call("return_7", b"").unwrap_err().message(), "Error code: 7");
    let r = p.call_with_context("error_non_block", b"", None);
    assert_eq!((r.rc, r.error.is_none()), (0, true));
}

/// A hostile plugin's error text as large as its input: the host keeps at
/// most ERROR_TEXT_LIMIT bytes of it, says how long it was, and the plugin
/// stays usable.
#[test]
fn huge_plugin_error_texts_are_cut() {
    let mut p = plugin("errors");
    let input = vec![b'x'; 3 * ERROR_TEXT_LIMIT];
    let r = p.call_with_context("fail_input", &input, None);
    let e = r.error.unwrap();
    let note = format!("... (error text of {} bytes cut to {ERROR_TEXT_LIMIT})", input.len());
    assert_eq!((r.rc, e.kind()), (2, ErrorKind::Plugin));
    assert!(e.message().ends_with(&note));
    assert_eq!(e.message().len(), ERROR_TEXT_LIMIT + note.len());
    assert!(e.message()[..ERROR_TEXT_LIMIT].bytes().all(|b| b == b'x'));
    let r = p.call_with_context("fail_input", b"short", None);
    assert_eq!((r.rc, r.error.unwrap().message()), (2, "short"));
}

#[test]
fn traps_give_root_cause_and_plugin_stays_usable() {
    let mut p = plugin("errors");
    let r = p.call_with_context("trap", b"", None);
    assert_eq!(r.rc, RC_TRAP);
    let e = r.error.unwrap();
    assert_eq!(e.kind(), ErrorKind::Trap);
    assert!(
        e.message()
            .starts_with("wasm trap: wasm `unreachable` instruction executed"),
        "{e}"
    );
    let r = p.call_with_context("stack_overflow", b"", None);
    assert_eq!(r.rc, RC_TRAP);
    assert!(r.error.unwrap().message().contains("call stack exhausted"));
    let r = p.call_with_context("fail_then_trap", b"", None);
    assert_eq!((r.rc, r.error.unwrap().message()), (RC_ERROR, "this is an error"));
    let r = p.call_with_context("fail", b"", None);
    assert_eq!(r.rc, 1);
    let r = p.call_with_context("return_7", b"", None);
    assert!(r.error.is_none(), "the previous error must not leak into the next call");
}

#[test]
fn pdk_errors() {
    let mut p = PluginBuilder::new(pdk("fail")).build().unwrap();
    let r = p.call_with_context("fail", b"boom", None);
    assert_eq!((r.rc, r.error.unwrap().message()), (1, "something bad happened: boom"));
    let r = p.call_with_context("fail_abort", b"x", None);
    assert_eq!(r.rc, RC_ERROR);
    assert!(r.error.unwrap().message().contains("aborted: x"));
    let r = p.call_with_context("fail", b"again", None);
    assert_eq!(r.error.unwrap().message(), "something bad happened: again");
}

#[test]
fn pdk_echo_and_non_ascii_writes_past_a_block() {
    let mut p = PluginBuilder::new(pdk("echo")).build().unwrap();
    assert_eq!(p.call("echo", b"abc").unwrap(), b"abc");
    // The PDK writes the whole UTF-8 text but reports its UTF-16 length; the
    // out-of-block store must be accepted, not trap.
    assert_eq!(p.call("unicode", b"").unwrap(), "héllo wörld".as_bytes());
    assert_eq!(p.call("unicode_bytes", b"").unwrap(), "héllo wörld ✓".as_bytes());
}

#[test]
fn hostile_offsets_are_harmless() {
    let mut p = plugin("bounds");
    assert_eq!(p.call_with_context("probe", b"abc", None).rc, 0);
    assert_eq!(p.call_with_context("blocks", b"", None).rc, 0);
    assert_eq!(p.call("probe", b"").unwrap(), b"");
}

#[test]
fn range_checks_stop_exactly_at_the_edges() {
    let mut p = plugin("kernel_edges");
    assert_eq!(p.call_with_context("memory", b"", None).rc, 0);
    let words = |out: &[u8]| -> Vec<u64> {
        out.chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let le = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().unwrap());
    // 16 bytes: words at 0, 1 and 8 are in; 9 (len - 7) is out.
    let input: Vec<u8> = (1..=16).collect();
    let out = p.call("input", &input).unwrap().to_vec();
    assert_eq!(words(&out), [le(&input[0..8]), le(&input[1..9]), le(&input[8..16]), 0]);
    // Exactly 8 bytes: only offset 0 (= len - 8); len - 7 = 1 is out.
    let out = p.call("input", &input[..8]).unwrap().to_vec();
    assert_eq!(words(&out), [le(&input[0..8]), 0, le(&input[0..8]), 0]);
    // 7 bytes: no whole word, at any offset (len - 8 wraps around).
    let out = p.call("input", &input[..7]).unwrap().to_vec();
    assert_eq!(words(&out), [0, 0, 0, 0]);
}

#[test]
fn reset_keeps_the_plugin_usable() {
    let mut p = plugin("echo");
    assert_eq!(p.call("echo", b"one").unwrap(), b"one");
    p.reset().unwrap();
    // The output length survives a reset (docs/c-api.md, Plugins); its bytes may be reused.
    assert_eq!(p.output().len(), 3);
    assert_eq!(p.call("echo", b"two").unwrap(), b"two");
}

#[test]
fn ids_are_random_v4_and_stable() {
    let a = plugin("echo");
    let b = plugin("echo");
    assert_ne!(a.id(), b.id());
    assert_eq!(a.id().get_version_num(), 4);
}

#[test]
fn initializers_run_once_per_instance() {
    let mut p = plugin("init");
    assert_eq!(p.call_with_context("count", b"", None).rc, 1);
    assert_eq!(p.call_with_context("count", b"", None).rc, 1);
}

#[test]
fn start_rebuilds_the_instance_on_the_next_call() {
    let mut p = plugin("start_rebuild");
    assert_eq!(p.call_with_context("bump", b"", None).rc, 1);
    assert_eq!(p.call_with_context("bump", b"", None).rc, 2);
    assert_eq!(p.call_with_context("_start", b"", None).rc, 0);
    // Fresh instance: the global starts from 0 again.
    assert_eq!(p.call_with_context("count", b"", None).rc, 0);
}

#[test]
fn multi_module_manifest() {
    let manifest = format!(
        r#"{{"wasm": [{{"path": "{}", "name": "lib"}}, {{"path": "{}"}}]}}"#,
        wat_path("lib"),
        wat_path("uses_lib")
    );
    let mut p = PluginBuilder::new(manifest).build().unwrap();
    assert_eq!(p.call_with_context("run", b"", None).rc, 7);
    // Without the library module, the import cannot be satisfied.
    let e = PluginBuilder::new(wat("uses_lib")).build().err().unwrap();
    assert_eq!(e.message(), "unknown import: `lib::seven` has not been defined");
}

fn manifest_of(modules: &[(&str, Option<&str>)]) -> String {
    use base64::Engine;
    let entries: Vec<String> = modules
        .iter()
        .map(|(wat, name)| {
            let data = base64::engine::general_purpose::STANDARD.encode(wat);
            match name {
                Some(name) => format!(r#"{{"data": "{data}", "name": "{name}"}}"#),
                None => format!(r#"{{"data": "{data}"}}"#),
            }
        })
        .collect();
    format!(r#"{{"wasm": [{}]}}"#, entries.join(", "))
}

#[test]
fn circular_function_imports_between_modules_are_linked() {
    // lhs and rhs import functions from each other, as in the JS SDK's tests.
    let lhs = r#"(module (import "rhs" "add_one" (func $add_one (param i32) (result i32)))
        (func (export "double_plus_one") (param i32) (result i32)
          (call $add_one (i32.mul (local.get 0) (i32.const 2))))
        (func (export "sub_one") (param i32) (result i32) (i32.sub (local.get 0) (i32.const 1))))"#;
    let rhs = r#"(module (import "lhs" "sub_one" (func $sub_one (param i32) (result i32)))
        (func (export "add_one") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
        (func (export "roundtrip") (param i32) (result i32) (call $sub_one (local.get 0))))"#;
    let main = r#"(module
        (import "lhs" "double_plus_one" (func $dpo (param i32) (result i32)))
        (import "rhs" "roundtrip" (func $rt (param i32) (result i32)))
        (func (export "dpo") (result i32) (call $dpo (i32.const 20)))
        (func (export "rt") (result i32) (call $rt (i32.const 10))))"#;
    for modules in [
        [(lhs, Some("lhs")), (rhs, Some("rhs")), (main, None)],
        [(rhs, Some("rhs")), (lhs, Some("lhs")), (main, None)],
        [(main, None), (lhs, Some("lhs")), (rhs, Some("rhs"))],
    ] {
        let mut p = PluginBuilder::new(manifest_of(&modules)).build().unwrap();
        assert_eq!(p.call_with_context("dpo", b"", None).rc, 41);
        assert_eq!(p.call_with_context("rt", b"", None).rc, 9);
    }
    // A module may import its own function export.
    let selfish = r#"(module (import "me" "seven" (func $seven (result i32)))
        (func (export "seven") (result i32) (i32.const 7))
        (func (export "via_import") (result i32) (call $seven)))"#;
    let mut p = PluginBuilder::new(manifest_of(&[(selfish, Some("me")), (
        r#"(module (import "me" "via_import" (func $v (result i32))) (func (export "run") (result i32) (call $v)))"#,
        None,
    )]))
    .build()
    .unwrap();
    assert_eq!(p.call_with_context("run", b"", None).rc, 7);
}

#[test]
fn circular_imports_that_cannot_resolve_are_errors() {
    // A memory cannot be linked late: a cycle through one is an error.
    let a = r#"(module (import "b" "mem" (memory 1)) (func (export "g")))"#;
    let b = r#"(module (import "a" "g" (func)) (import "a" "mem2" (memory 1)) (memory (export "mem") 1))"#;
    let e = PluginBuilder::new(manifest_of(&[(a, Some("a")), (b, Some("b")), ("(module)", None)]))
        .build()
        .err()
        .unwrap();
    assert_eq!(
        e.message(),
        "circular imports between Extism manifest modules: a -> b -> a"
    );
    // A start function that calls into a module not instantiated yet.
    let early = r#"(module (import "late" "f" (func $f)) (func $start (call $f)) (start $start)
        (func (export "g")))"#;
    let late = r#"(module (import "early" "g" (func)) (func (export "f")))"#;
    let e = PluginBuilder::new(manifest_of(&[
        (early, Some("early")),
        (late, Some("late")),
        ("(module)", None),
    ]))
    .build()
    .err()
    .unwrap();
    assert!(
        e.message()
            .contains("`late::f` was called before its module was instantiated (circular imports)"),
        "{e}"
    );
    // A late export that does not exist, or has another type.
    let wants = r#"(module (import "other" "missing" (func)) (func (export "g")))"#;
    let other = r#"(module (import "wants" "g" (func)) (func (export "present")))"#;
    let e = PluginBuilder::new(manifest_of(&[
        (wants, Some("wants")),
        (other, Some("other")),
        ("(module)", None),
    ]))
    .build()
    .err()
    .unwrap();
    assert_eq!(e.message(), "unknown import: `other::missing` has not been defined");
    let typed = r#"(module (import "other" "present" (func (param i32))) (func (export "g")))"#;
    let e = PluginBuilder::new(manifest_of(&[
        (typed, Some("wants")),
        (other, Some("other")),
        ("(module)", None),
    ]))
    .build()
    .err()
    .unwrap();
    assert_eq!(e.message(), "incompatible import type for `other::present`");
}

#[test]
fn bad_input_bytes() {
    for (bytes, text) in [
        (&b"\x01\x02garbage"[..], "Unknown manifest format"),
        (b"\xff\xfe\xfd", "input bytes aren't valid utf-8"),
        (b"{\"wasm\": []}", "No wasm files specified in Extism manifest"),
        (b"{\"wasm\": [{\"data\": \"%%%\"}]}", "Unknown manifest format"),
        (
            b"{\"wasm\": [{\"path\": \"/nonexistent.wasm\"}]}",
            "Unable to load Wasm file \"/nonexistent.wasm\": entity not found",
        ),
    ] {
        let e = PluginBuilder::new(bytes).build().err().unwrap();
        assert_eq!(e.message(), text);
    }
    let e = PluginBuilder::new("(module (func (export \"x\") (result i32)))")
        .build()
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Compile);
    let e = PluginBuilder::new(&b"\0asm\x01\0\0\0\x05"[..]).build().err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Compile);
}

#[test]
fn unknown_imports_name_the_import() {
    let e = PluginBuilder::new(wat("host")).build().err().unwrap();
    assert_eq!(
        e.message(),
        "unknown import: `extism:host/user::hello_world` has not been defined"
    );
    assert_eq!(e.kind(), ErrorKind::UnresolvedImport);
    // The detail names the chain of modules from main to the importer, and
    // the message stays the same (the Node addon words it as the JS SDK).
    let lhs = r#"(module (import "rhs" "add_one" (func)) (func (export "f")))"#;
    let main = r#"(module (import "lhs" "f" (func)) (func (export "run")))"#;
    for (modules, path) in [
        (vec![(lhs, Some("lhs")), (main, None)], vec!["main", "lhs"]),
        (vec![(lhs, Some("lhs")), ("(module)", None)], vec!["lhs"]),
    ] {
        let e = PluginBuilder::new(manifest_of(&modules)).build().err().unwrap();
        assert_eq!(e.message(), "unknown import: `rhs::add_one` has not been defined");
        match e.detail() {
            Some(extism_core::ErrorDetail::UnresolvedImport {
                path: p,
                module,
                name,
                host_module,
            }) => {
                assert!(!host_module);
                assert_eq!(
                    (p.clone(), module.as_str(), name.as_str()),
                    (path.iter().map(|s| s.to_string()).collect(), "rhs", "add_one")
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // A late-linked export that is missing has the same kind.
    let wants = r#"(module (import "other" "missing" (func)) (func (export "g")))"#;
    let other = r#"(module (import "wants" "g" (func)) (func (export "present")))"#;
    let main = r#"(module (import "other" "present" (func)))"#;
    let e = PluginBuilder::new(manifest_of(&[
        (wants, Some("wants")),
        (other, Some("other")),
        (main, None),
    ]))
    .build()
    .err()
    .unwrap();
    assert_eq!(e.kind(), ErrorKind::UnresolvedImport);
    match e.detail() {
        Some(extism_core::ErrorDetail::UnresolvedImport { path, .. }) => assert_eq!(path, &["main", "other", "wants"]),
        other => panic!("{other:?}"),
    }
    let e = PluginBuilder::new(r#"(module (import "extism:host/env" "nope" (func)))"#)
        .build()
        .err()
        .unwrap();
    assert!(
        e.message()
            .starts_with("Invalid function import from extism:host/env: nope"),
        "{e}"
    );
    let e = PluginBuilder::new(r#"(module (import "extism:host/env" "memory" (memory 1)))"#)
        .build()
        .err()
        .unwrap();
    assert_eq!(
        e.message(),
        "linked modules cannot access non-function exports of extism kernel"
    );
    let e = PluginBuilder::new(wat("wasi")).build().err().unwrap();
    assert_eq!(
        e.message(),
        "unknown import: `wasi_snapshot_preview1::fd_write` has not been defined"
    );
}

#[test]
fn a_trap_writes_the_coredump_and_memory_dump_asked_for() {
    let dir = std::env::temp_dir().join(format!("extism-dumps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (core, mem) = (dir.join("trap.core"), dir.join("trap.mem"));
    let mut p = PluginBuilder::new(wat("errors"))
        .with_coredump(&core)
        .with_memdump(&mem)
        .build()
        .unwrap();
    // A successful call and an error set by the plugin write nothing.
    assert_eq!(p.call_with_context("return_7", b"", None).rc, 7);
    assert_eq!(p.call_with_context("fail", b"", None).rc, 1);
    assert!(!core.exists() && !mem.exists());
    let r = p.call_with_context("trap", b"some input", None);
    assert_eq!(r.error.unwrap().kind(), ErrorKind::Trap);
    // A wasm coredump is a wasm module with a "core" custom section.
    let dump = std::fs::read(&core).unwrap();
    assert_eq!(&dump[..4], b"\0asm");
    assert!(dump.windows(4).any(|w| w == b"core"), "no core section");
    // The memory dump is Extism memory, holding this call's input.
    let memory = std::fs::read(&mem).unwrap();
    assert_eq!(memory.len() % 65536, 0);
    assert!(memory.windows(10).any(|w| w == b"some input"));
    // The plugin stays usable, and a plugin without dumps writes none.
    assert_eq!(p.call_with_context("return_7", b"", None).rc, 7);
    std::fs::remove_dir_all(&dir).unwrap();
    let mut plain = PluginBuilder::new(wat("errors")).build().unwrap();
    assert_eq!(
        plain.call_with_context("trap", b"", None).error.unwrap().kind(),
        ErrorKind::Trap
    );
    assert!(!dir.exists());
}
