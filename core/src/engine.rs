//! The process-wide wasmtime engines. Fuel metering is an engine setting, so
//! there is one engine without it and one with it; all plugins share them (and
//! their compiled kernel), which keeps compilation and instantiation cheap.

use std::sync::OnceLock;

use wasmtime::{Config, Engine, Module};

use crate::error::{Error, ErrorKind, Result};

pub(crate) struct Shared {
    pub engine: Engine,
    pub kernel: Module,
}

static PLAIN: OnceLock<Result<Shared>> = OnceLock::new();
static FUELED: OnceLock<Result<Shared>> = OnceLock::new();

fn config(fuel: bool) -> Result<Config> {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .consume_fuel(fuel)
        .wasm_tail_call(true)
        .wasm_function_references(true)
        .wasm_gc(true)
        .wasm_multi_memory(true);
    if std::env::var_os("EXTISM_DEBUG").is_some() {
        config.debug_info(true);
    }
    // As in the official runtime: name the JIT code for a profiler.
    match std::env::var("EXTISM_PROFILE").as_deref() {
        Ok("perf") => {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        Ok("jitdump") => {
            config.profiler(wasmtime::ProfilingStrategy::JitDump);
        }
        Ok("vtune") => {
            config.profiler(wasmtime::ProfilingStrategy::VTune);
        }
        _ => {}
    }
    // EXTISM_CACHE_CONFIG: unset → wasmtime's default cache settings;
    // empty → no compile cache; a path → that cache config file.
    match std::env::var_os("EXTISM_CACHE_CONFIG") {
        None => {
            // A missing or unreadable default config only means no cache.
            if let Ok(cache) = wasmtime::Cache::from_file(None) {
                config.cache(Some(cache));
            }
        }
        Some(path) if path.is_empty() => {}
        Some(path) => {
            let cache = wasmtime::Cache::from_file(Some(std::path::Path::new(&path))).map_err(|e| {
                Error::new(
                    ErrorKind::Compile,
                    format!("cache config: {}", crate::error::wasmtime_text(&e)),
                )
            })?;
            config.cache(Some(cache));
        }
    }
    Ok(config)
}

fn make(fuel: bool) -> Result<Shared> {
    let engine =
        Engine::new(&config(fuel)?).map_err(|e| Error::new(ErrorKind::Compile, crate::error::wasmtime_text(&e)))?;
    let kernel = crate::kernel::compile(&engine)?;
    Ok(Shared { engine, kernel })
}

/// The shared engine (with fuel metering when `fuel` is true).
pub(crate) fn shared(fuel: bool) -> Result<&'static Shared> {
    let cell = if fuel { &FUELED } else { &PLAIN };
    cell.get_or_init(|| make(fuel)).as_ref().map_err(Clone::clone)
}

pub(crate) fn increment_all_epochs() {
    for cell in [&PLAIN, &FUELED] {
        if let Some(Ok(shared)) = cell.get() {
            shared.engine.increment_epoch();
        }
    }
}
