//! Compiled modules kept on disk between processes (core/src/disk_cache.rs).
//! The cache's configuration is read once per process, so this file holds
//! one test that walks through it in order.

mod common;
use common::*;

use extism_core::{module_cache_stats, set_module_cache_limit, PluginBuilder};

fn echo(bytes: &[u8]) -> Vec<u8> {
    let mut p = PluginBuilder::new(bytes.to_vec()).build().unwrap();
    p.call("echo", b"from disk?").unwrap().to_vec()
}

fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for folder in std::fs::read_dir(dir.join("extism")).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(folder.path()).into_iter().flatten().flatten() {
            out.push(file.path());
        }
    }
    out.sort();
    out
}

#[test]
fn modules_are_loaded_from_disk_and_a_bad_file_is_compiled_again() {
    let dir = std::env::temp_dir().join(format!("extism-disk-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("cache.toml");
    std::fs::write(&config, format!("[cache]\ndirectory = {:?}\n", dir.join("store"))).unwrap();
    // Before any engine exists: the configuration is read once.
    std::env::set_var("EXTISM_CACHE_CONFIG", &config);
    // The process's own cache off, so each plugin goes to the disk.
    set_module_cache_limit(0);
    let store = dir.join("store");

    // First plugin: the kernel and the plugin are compiled and stored; the
    // plugin's file is marked as the kernel-inlining rewrite ("-r").
    let wasm = wat("echo");
    assert_eq!(echo(&wasm), b"from disk?");
    let s = module_cache_stats();
    assert_eq!((s.disk_hits, s.disk_misses), (0, 2));
    let stored = files(&store);
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(
        stored.iter().any(|f| f.to_string_lossy().ends_with("-r.cwasm")),
        "{stored:?}"
    );

    // Again: loaded from disk.
    assert_eq!(echo(&wasm), b"from disk?");
    let s = module_cache_stats();
    assert_eq!((s.disk_hits, s.disk_misses), (1, 2));

    // A damaged file is removed and the module compiled again.
    let plugin_file = stored
        .iter()
        .find(|f| f.to_string_lossy().ends_with("-r.cwasm"))
        .unwrap();
    std::fs::write(plugin_file, b"not a module").unwrap();
    assert_eq!(echo(&wasm), b"from disk?");
    let s = module_cache_stats();
    assert_eq!((s.disk_hits, s.disk_misses), (1, 3));
    assert_ne!(std::fs::read(plugin_file).unwrap(), b"not a module");
    assert_eq!(echo(&wasm), b"from disk?");
    assert_eq!(module_cache_stats().disk_hits, 2);

    std::fs::remove_dir_all(&dir).unwrap();
}
