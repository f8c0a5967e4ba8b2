//! Rough per-call timings of the core (not a benchmark harness; see issue 6).
use std::time::Instant;

use extism_core::{Function, PluginBuilder, Val, ValType};

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/wat/");
    let echo = std::fs::read(format!("{root}echo.wat")).unwrap();
    let mut p = PluginBuilder::new(echo.clone()).build().unwrap();
    let n = 200_000;
    for _ in 0..1000 {
        p.call("noop", b"").unwrap();
    }
    let t = Instant::now();
    for _ in 0..n {
        p.call("noop", b"").unwrap();
    }
    println!("empty call: {:.0} ns", t.elapsed().as_nanos() as f64 / n as f64);
    let small = [7u8; 64];
    let t = Instant::now();
    for _ in 0..n {
        p.call("echo", &small).unwrap();
    }
    println!("echo 64 B: {:.0} ns", t.elapsed().as_nanos() as f64 / n as f64);
    let big = vec![7u8; 1 << 20];
    let t = Instant::now();
    for _ in 0..200 {
        p.call("echo", &big).unwrap();
    }
    println!("echo 1 MiB: {:.0} us", t.elapsed().as_micros() as f64 / 200.0);
    let host = std::fs::read(format!("{root}host.wat")).unwrap();
    let f = Function::new("hello_world", [ValType::I64], [ValType::I64], |_, args, outs| {
        outs[0] = args[0];
        Ok(())
    })
    .unwrap();
    let mut h = PluginBuilder::new(host).with_function(f).build().unwrap();
    let t = Instant::now();
    for _ in 0..n {
        h.call("call_host", b"").unwrap();
    }
    println!(
        "host round trip (call_host, empty input): {:.0} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
    let compiled = PluginBuilder::new(echo).compile().unwrap();
    let t = Instant::now();
    for _ in 0..2000 {
        let mut p = compiled.instantiate().unwrap();
        p.call("noop", b"").unwrap();
    }
    println!(
        "create from compiled + first call: {:.1} us",
        t.elapsed().as_micros() as f64 / 2000.0
    );
    let _ = Val::I32(0);
}
