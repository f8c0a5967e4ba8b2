//! The baseline compiler (Winch, `Compiler::Winch` or `EXTISM_COMPILER=winch`):
//! plugins behave as under Cranelift, limits included; what Winch cannot
//! compile is refused with a clear error.

mod common;
use common::*;
use std::time::{Duration, Instant};

use extism_core::{Compiler, ErrorKind, PluginBuilder, RC_ERROR, RC_TRAP};

fn winch(bytes: Vec<u8>) -> PluginBuilder {
    PluginBuilder::new(bytes).with_compiler(Compiler::Winch)
}

#[test]
fn pdk_plugins_give_the_same_results() {
    let mut both: Vec<_> = [Compiler::Cranelift, Compiler::Winch]
        .into_iter()
        .map(|c| {
            PluginBuilder::new(pdk("count_vowels"))
                .with_compiler(c)
                .build()
                .unwrap()
        })
        .collect();
    let big = "aeiou xyz ".repeat(10_000);
    for input in ["", "hello world", big.as_str()] {
        let outputs: Vec<Vec<u8>> = both
            .iter_mut()
            .map(|p| p.call("count_vowels", input.as_bytes()).unwrap().to_vec())
            .collect();
        assert_eq!(outputs[0], outputs[1]);
    }
    assert_eq!(
        both[1].call("count_vowels", big.as_bytes()).unwrap(),
        br#"{"count":50000}"#
    );
    let mut echo = winch(wat("echo")).build().unwrap();
    let input = vec![7u8; 1 << 20];
    assert_eq!(echo.call("echo", &input).unwrap(), &input[..]);
}

#[test]
fn timeouts_cancel_and_fuel_hold() {
    let manifest = format!(
        r#"{{"wasm": [{{"path": "{}"}}], "timeout_ms": 100}}"#,
        wat_path("limits")
    );
    let mut p = PluginBuilder::new(manifest)
        .with_compiler(Compiler::Winch)
        .build()
        .unwrap();
    let start = Instant::now();
    let r = p.call_with_context("infinite_loop", b"", None);
    assert_eq!((r.rc, r.error.unwrap().message()), (RC_TRAP, "timeout"));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(p.call_with_context("spin", b"", None).rc, 0);

    let mut p = winch(wat("limits")).build().unwrap();
    let handle = p.cancel_handle();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        while !handle.cancel() {
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let r = p.call_with_context("infinite_loop", b"", None);
    canceller.join().unwrap();
    assert_eq!((r.rc, r.error.unwrap().kind()), (RC_TRAP, ErrorKind::Timeout));

    let mut p = winch(wat("limits")).with_fuel_limit(Some(100_000)).build().unwrap();
    let r = p.call_with_context("infinite_loop", b"", None);
    let e = r.error.unwrap();
    assert_eq!(
        (r.rc, e.message(), e.kind()),
        (RC_ERROR, "plugin ran out of fuel", ErrorKind::OutOfFuel)
    );
    assert_eq!(p.call_with_context("spin", b"", None).rc, 0);
}

#[test]
fn what_winch_cannot_compile_is_refused() {
    let tail_call = br#"(module
        (func $f (result i32) (i32.const 0))
        (func (export "run") (result i32) (return_call $f)))"#;
    let e = winch(tail_call.to_vec()).build().err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Compile);
    assert!(e.message().contains("tail"), "{}", e.message());
    // Cranelift compiles it, from the same bytes (the module cache keeps
    // the two compilations apart).
    let mut p = PluginBuilder::new(tail_call.to_vec()).build().unwrap();
    assert_eq!(p.call_with_context("run", b"", None).rc, 0);
}

#[test]
fn compiler_names() {
    assert_eq!(Compiler::from_name("winch").unwrap(), Compiler::Winch);
    assert_eq!(Compiler::from_name("Cranelift").unwrap(), Compiler::Cranelift);
    assert_eq!(Compiler::from_name("").unwrap(), Compiler::Cranelift);
    let e = Compiler::from_name("llvm").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        e.message(),
        r#"unknown compiler "llvm" (EXTISM_COMPILER): expected "cranelift" or "winch""#
    );
}
