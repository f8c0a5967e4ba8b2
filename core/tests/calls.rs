//! Calls, output, errors and return codes (docs/abi.md, Calls) with WAT and PDK plugins.

mod common;
use common::*;
use extism_core::{ErrorKind, Plugin, PluginBuilder, RC_ERROR, RC_TRAP};

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
    assert_eq!(r.error.unwrap().message(), "expected 1 arguments, got 0");
    let r = p.call_with_context("two_results", b"", None);
    assert_eq!(r.rc, RC_ERROR);
    assert_eq!(
        r.error.unwrap().message(),
        "Function two_results has 2 results, expected 0 or 1"
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

#[test]
fn circular_module_imports_are_an_error() {
    let a = r#"(module (import "b" "f" (func)) (func (export "g")))"#;
    let b = r#"(module (import "a" "g" (func)) (func (export "f")))"#;
    use base64::Engine;
    let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let manifest = format!(
        r#"{{"wasm": [{{"data": "{}", "name": "a"}}, {{"data": "{}", "name": "b"}}, {{"data": "{}"}}]}}"#,
        enc(a),
        enc(b),
        enc("(module)")
    );
    let e = PluginBuilder::new(manifest).build().err().unwrap();
    assert!(
        e.message()
            .starts_with("circular imports between Extism manifest modules"),
        "{e}"
    );
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
