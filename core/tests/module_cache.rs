//! The process's cache of compiled modules (core/src/module_cache.rs). It is
//! process-wide, so this file holds one test that walks through it in order.

mod common;
use common::*;

use extism_core::{module_cache_stats, set_module_cache_limit, PluginBuilder, DEFAULT_MODULE_CACHE_LIMIT};

fn echo(bytes: &[u8], fuel: Option<u64>) -> Vec<u8> {
    let mut p = PluginBuilder::new(bytes.to_vec())
        .with_fuel_limit(fuel)
        .build()
        .unwrap();
    p.call("echo", b"cached?").unwrap().to_vec()
}

#[test]
fn modules_are_compiled_once_per_engine_and_bounded() {
    let start = module_cache_stats();
    assert_eq!(start.limit, DEFAULT_MODULE_CACHE_LIMIT);
    assert_eq!((start.modules, start.bytes, start.hits, start.misses), (0, 0, 0, 0));

    // The same bytes twice: compiled once, and both plugins work. A module
    // weighs its wasm bytes plus its compiled code.
    let a = wat("echo");
    assert_eq!(echo(&a, None), b"cached?");
    assert_eq!(echo(&a, None), b"cached?");
    let s = module_cache_stats();
    assert_eq!((s.modules, s.hits, s.misses), (1, 1, 1));
    let weight_a = s.bytes;
    assert!(weight_a > a.len(), "{weight_a} bytes for {} bytes of WAT", a.len());

    // Fuel metering is another engine, so another module.
    assert_eq!(echo(&a, Some(1_000_000)), b"cached?");
    let s = module_cache_stats();
    assert_eq!((s.modules, s.hits, s.misses), (2, 1, 2));
    let weight_a_fuel = s.bytes - weight_a;

    // Other bytes (one more byte of white space) are another module.
    let mut b = a.clone();
    b.push(b'\n');
    assert_eq!(echo(&b, None), b"cached?");
    let s = module_cache_stats();
    assert_eq!((s.modules, s.misses), (3, 3));
    let weight_b = s.bytes - weight_a - weight_a_fuel;

    // A bound that holds the two used last drops the one used least recently.
    set_module_cache_limit(weight_a_fuel + weight_b);
    let s = module_cache_stats();
    assert_eq!((s.modules, s.bytes), (2, weight_a_fuel + weight_b));
    // `b` and the fuel engine's `a` are kept; the plain `a` is compiled again,
    // and makes room by dropping the module used least recently (`b`).
    assert_eq!(echo(&b, None), b"cached?");
    assert_eq!(echo(&a, Some(1_000_000)), b"cached?");
    assert_eq!(module_cache_stats().hits, 3);
    assert_eq!(echo(&a, None), b"cached?");
    let s = module_cache_stats();
    assert_eq!((s.hits, s.misses, s.modules), (3, 4, 2));
    assert!(s.bytes <= s.limit);
    assert_eq!(echo(&a, Some(1_000_000)), b"cached?");
    assert_eq!(module_cache_stats().hits, 4, "the fuel engine's module stayed");

    // Bytes that do not compile are not kept (a miss), and fail as before.
    let e = PluginBuilder::new(b"(module (func (export \"x\") (result i32)))".to_vec())
        .build()
        .err()
        .unwrap();
    assert_eq!(e.kind(), extism_core::ErrorKind::Compile, "{e}");
    let s = module_cache_stats();
    assert_eq!((s.modules, s.misses), (2, 5));

    // 0 turns the cache off: nothing is kept, nothing is counted.
    set_module_cache_limit(0);
    assert_eq!(echo(&a, None), b"cached?");
    let s = module_cache_stats();
    assert_eq!((s.modules, s.bytes, s.hits, s.misses), (0, 0, 4, 5));
}
