//! Compiled modules kept in the process, keyed by engine and the SHA-256 of
//! the wasm bytes, so that a plugin made again from bytes already compiled
//! costs about an instantiation (no compile, no disk-cache look-up). Bounded
//! by what the kept modules weigh: their wasm bytes plus their compiled code;
//! the module used least recently goes first.
//!
//! `EXTISM_MODULE_CACHE_BYTES` sets the bound when the first module is
//! compiled (0 turns the cache off); [`set_module_cache_limit`] changes it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

use crate::disk_cache::DiskCache;
use crate::error::{wasmtime_text, Error, Result};

/// The default bound on what the kept modules weigh (wasm bytes plus
/// compiled code): 256 MiB.
pub const DEFAULT_MODULE_CACHE_LIMIT: usize = 256 * 1024 * 1024;

type Key = (usize, [u8; 32]);

struct Entry {
    module: Module,
    kernel_inlined: bool,
    bytes: usize,
    last_use: u64,
}

struct Cache {
    entries: HashMap<Key, Entry>,
    /// The sum of the entries' weights (`Entry::bytes`), at most `limit`.
    bytes: usize,
    limit: usize,
    clock: u64,
    hits: u64,
    misses: u64,
}

impl Cache {
    fn shrink_to(&mut self, limit: usize) {
        while self.bytes > limit {
            let Some((&key, _)) = self.entries.iter().min_by_key(|(_, e)| e.last_use) else {
                break;
            };
            if let Some(gone) = self.entries.remove(&key) {
                self.bytes -= gone.bytes;
            }
        }
    }
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let limit = std::env::var("EXTISM_MODULE_CACHE_BYTES")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_MODULE_CACHE_LIMIT);
        Mutex::new(Cache {
            entries: HashMap::new(),
            bytes: 0,
            limit,
            clock: 0,
            hits: 0,
            misses: 0,
        })
    })
}

fn lock() -> std::sync::MutexGuard<'static, Cache> {
    cache().lock().unwrap_or_else(|e| e.into_inner())
}

/// Set the bound of the process's module cache, in bytes of wasm plus
/// compiled code (0 turns it off); modules past the new bound are dropped at
/// once. Plugins already made keep their modules.
pub fn set_module_cache_limit(bytes: usize) {
    let mut cache = lock();
    cache.limit = bytes;
    cache.shrink_to(bytes);
}

/// What the module cache holds now and has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleCacheStats {
    /// Modules kept.
    pub modules: usize,
    /// What they weigh: their wasm bytes plus their compiled code.
    pub bytes: usize,
    /// The bound on `bytes`.
    pub limit: usize,
    /// Compilations answered from the cache.
    pub hits: u64,
    /// Compilations that compiled.
    pub misses: u64,
    /// Modules of those misses loaded from the disk cache (disk_cache.rs),
    /// kernel included, in this process.
    pub disk_hits: u64,
    /// Modules compiled and stored in the disk cache, in this process.
    pub disk_misses: u64,
}

/// The module cache's figures, for hosts and tests.
pub fn module_cache_stats() -> ModuleCacheStats {
    let cache = lock();
    ModuleCacheStats {
        modules: cache.entries.len(),
        bytes: cache.bytes,
        limit: cache.limit,
        hits: cache.hits,
        misses: cache.misses,
        disk_hits: crate::disk_cache::counts().0,
        disk_misses: crate::disk_cache::counts().1,
    }
}

/// The module of `wasm` for `engine` (`engine_id` tells the process's engines
/// apart): from the cache, or compiled and kept when it fits the bound. It is
/// compiled with the kernel's leaf functions inlined where they can be
/// ([`crate::inline`]); the flag says whether they were.
pub(crate) fn module(engine: &Engine, engine_id: usize, wasm: &[u8]) -> Result<(Module, bool)> {
    if lock().limit == 0 {
        // Hashed only for the disk cache, when there is one.
        return match DiskCache::configured()? {
            Some(disk) => disk.module(engine, &Sha256::digest(wasm).into(), || compile(engine, wasm)),
            None => compile(engine, wasm),
        };
    }
    let digest: [u8; 32] = Sha256::digest(wasm).into();
    let key = (engine_id, digest);
    {
        let mut cache = lock();
        cache.clock += 1;
        let now = cache.clock;
        if let Some(entry) = cache.entries.get_mut(&key) {
            entry.last_use = now;
            let found = (entry.module.clone(), entry.kernel_inlined);
            cache.hits += 1;
            return Ok(found);
        }
        cache.misses += 1;
    }
    // Compiled outside the lock: other plugins go on meanwhile. Two threads
    // compiling the same bytes at once both compile; the later one's is kept.
    let (module, kernel_inlined) = from_disk_or_compile(engine, &digest, wasm)?;
    let image = module.image_range();
    let weight = wasm.len() + (image.end as usize).saturating_sub(image.start as usize);
    let mut cache = lock();
    if weight <= cache.limit {
        let limit = cache.limit - weight;
        cache.shrink_to(limit);
        cache.clock += 1;
        let entry = Entry {
            module: module.clone(),
            kernel_inlined,
            bytes: weight,
            last_use: cache.clock,
        };
        if let Some(old) = cache.entries.insert(key, entry) {
            cache.bytes -= old.bytes;
        }
        cache.bytes += weight;
    }
    Ok((module, kernel_inlined))
}

/// The module from the disk cache (disk_cache.rs), or compiled (and stored there).
fn from_disk_or_compile(engine: &Engine, digest: &[u8; 32], wasm: &[u8]) -> Result<(Module, bool)> {
    match DiskCache::configured()? {
        Some(disk) => disk.module(engine, digest, || compile(engine, wasm)),
        None => compile(engine, wasm),
    }
}

fn compile(engine: &Engine, wasm: &[u8]) -> Result<(Module, bool)> {
    // Debug info describes the code as written: leave it so under EXTISM_DEBUG.
    if std::env::var_os("EXTISM_DEBUG").is_none() {
        if let Some(inlined) = crate::inline::inline_kernel(wasm) {
            // A rewrite that does not compile was of a module that does not
            // either: its own compile below reports the error in its words.
            if let Ok(module) = Module::new(engine, &inlined) {
                return Ok((module, true));
            }
        }
    }
    let module = Module::new(engine, wasm).map_err(|e| Error::compile(wasmtime_text(&e)))?;
    Ok((module, false))
}
