//! Config and vars (docs/abi.md, Config and vars) with WAT and PDK plugins.

mod common;
use common::*;

use extism_core::PluginBuilder;

#[test]
fn config_from_manifest_and_merges() {
    let manifest = format!(
        r#"{{"wasm": [{{"path": "{}"}}], "config": {{"greeting": "hi", "empty": ""}}}}"#,
        wat_path("vars_config")
    );
    let mut p = PluginBuilder::new(manifest).build().unwrap();
    assert_eq!(p.call("config", b"greeting").unwrap(), b"hi");
    assert_eq!(p.call("config", b"missing").unwrap(), b"");
    assert_eq!(p.call("config", b"empty").unwrap(), b"");
    p.update_config_json(br#"{"greeting": "hello", "new": "x"}"#).unwrap();
    assert_eq!(p.call("config", b"greeting").unwrap(), b"hello");
    p.update_config_json(br#"{"greeting": null}"#).unwrap();
    assert_eq!(p.call("config", b"greeting").unwrap(), b"");
    assert_eq!(p.call("config", b"new").unwrap(), b"x");
    // Bad updates change nothing.
    for bad in [&br#"{"new": 1}"#[..], b"not json"] {
        let e = p.update_config_json(bad).err().unwrap();
        assert_eq!(e.kind(), extism_core::ErrorKind::InvalidArgument);
        assert!(e.message().starts_with("invalid config: "), "{e}");
    }
    assert_eq!(p.call("config", b"new").unwrap(), b"x");
}

#[test]
fn pdk_config() {
    let mut p = PluginBuilder::new(pdk("config")).build().unwrap();
    assert_eq!(p.call("greet", b"world").unwrap(), b"Hello, world!");
    p.update_config([("greeting".to_string(), Some("Hi".to_string()))]);
    assert_eq!(p.call("greet", "wörld".as_bytes()).unwrap(), "Hi, wörld!".as_bytes());
}

#[test]
fn vars_persist_across_calls_and_reset() {
    let mut p = PluginBuilder::new(wat("vars_config")).build().unwrap();
    for n in 1u64..=3 {
        assert_eq!(p.call("counter", b"").unwrap(), n.to_le_bytes());
    }
    p.reset().unwrap();
    assert_eq!(p.call("counter", b"").unwrap(), 4u64.to_le_bytes());
    assert_eq!(p.vars()["count"], 4u64.to_le_bytes());
    p.set_var("count", Some(&41u64.to_le_bytes()));
    assert_eq!(p.call("counter", b"").unwrap(), 42u64.to_le_bytes());
    p.call("set_var", b"value").unwrap();
    p.call("delete_var", b"").unwrap();
    assert_eq!(p.call("get_var", b"").unwrap(), b"");
}

#[test]
fn pdk_vars() {
    let mut p = PluginBuilder::new(pdk("vars")).build().unwrap();
    assert_eq!(p.call("count", b"").unwrap(), b"1");
    assert_eq!(p.call("count", b"").unwrap(), b"2");
    assert_eq!(p.call("count", b"").unwrap(), b"3");
    let mut other = PluginBuilder::new(pdk("vars")).build().unwrap();
    assert_eq!(other.call("count", b"").unwrap(), b"1", "vars are per plugin");
}

#[test]
fn vars_are_cleared_by_a_rebuild_after_start() {
    let wat = r#"(module
      (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
      (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
      (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
      (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
      (func $key (result i64) (local $k i64)
        (local.set $k (call $alloc (i64.const 1)))
        (call $store_u8 (local.get $k) (i32.const 107))
        (local.get $k))
      (func (export "set") (result i32) (call $var_set (call $key) (call $key)) (i32.const 0))
      (func (export "has") (result i32) (i64.ne (call $var_get (call $key)) (i64.const 0)))
      (func (export "_start")))"#;
    let mut p = PluginBuilder::new(wat).build().unwrap();
    assert_eq!(p.call_with_context("set", b"", None).rc, 0);
    assert_eq!(p.call_with_context("has", b"", None).rc, 1);
    assert_eq!(p.call_with_context("_start", b"", None).rc, 0);
    assert_eq!(p.call_with_context("has", b"", None).rc, 0);
}
