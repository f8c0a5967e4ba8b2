//! The kernel's block reuse policy (docs/abi.md, Memory) against the habits of
//! real PDKs: a second free of a key the host already freed, frees after
//! `var_set`, reading a value after freeing its key, and free loops that must
//! stay within a small memory budget.

mod common;
use common::*;

use extism_core::PluginBuilder;

fn habits(extra: &str) -> Vec<u8> {
    format!(r#"{{"wasm": [{{"path": "{}"}}]{extra}}}"#, wat_path("alloc_habits")).into_bytes()
}

#[test]
fn a_second_free_of_a_config_key_keeps_the_value() {
    // The Haskell PDK's greeting: the official runtime answers "Howdy, John".
    let mut p = PluginBuilder::new(habits(r#", "config": {"greeting": "Howdy"}"#))
        .build()
        .unwrap();
    assert_eq!(p.call("greet", b"John").unwrap(), b"Howdy, John");
    // Again on the same instance, and with a value longer than the key.
    assert_eq!(p.call("greet", b"John").unwrap(), b"Howdy, John");
    p.update_config([("greeting".to_string(), Some("Good evening".to_string()))]);
    assert_eq!(p.call("greet", b"Ann").unwrap(), b"Good evening, Ann");
}

#[test]
fn a_freed_key_is_not_reused_while_the_bump_region_has_room() {
    let mut p = PluginBuilder::new(habits(r#", "config": {"greeting": "Howdy"}"#))
        .build()
        .unwrap();
    // The plugin frees the key and fills a new key-sized block before
    // reading the value: the value must be untouched.
    assert_eq!(p.call("read_after_key_free", b"").unwrap(), b"Howdy");
    // The same policy for the plugin's own blocks.
    assert_eq!(p.call("fresh_after_free", b"").unwrap(), b"ok");
}

#[test]
fn frees_after_var_set_and_var_get_keep_the_value() {
    let mut p = PluginBuilder::new(habits("")).build().unwrap();
    let value = b"a value that outlives the frees of its key";
    assert_eq!(p.call("var_roundtrip", value).unwrap(), value);
    assert_eq!(p.vars()["name"], value);
}

#[test]
fn alloc_free_loops_stay_within_a_small_budget() {
    // 16 pages for every memory's growth; the loops move about 32 MiB
    // (growing sizes) and 400 MiB (one size) through alloc and free.
    let mut p = PluginBuilder::new(habits(r#", "memory": {"max_pages": 16}"#))
        .build()
        .unwrap();
    assert_eq!(p.call("churn", b"").unwrap(), b"ok");
    assert_eq!(p.call("same_size_churn", b"").unwrap(), b"ok");
    assert_eq!(p.call("churn", b"").unwrap(), b"ok");
}
