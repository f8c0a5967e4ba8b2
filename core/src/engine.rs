//! The process-wide wasmtime engines. Fuel metering and coredumps on trap are
//! engine settings, so there is one engine per combination in use; all plugins
//! share them (and their compiled kernel), which keeps compilation and
//! instantiation cheap.

use std::sync::OnceLock;

use wasmtime::{Config, Engine, Module};

use sha2::{Digest, Sha256};

use crate::disk_cache::DiskCache;
use crate::error::{Error, ErrorKind, Result};

pub(crate) struct Shared {
    pub engine: Engine,
    pub kernel: Module,
}

/// Which code generator compiles a plugin's wasm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compiler {
    /// Cranelift: optimised code. The default.
    #[default]
    Cranelift,
    /// Winch, wasmtime's baseline compiler: compiles several times faster
    /// and runs slower, for hosts that value start-up over peak speed.
    /// Modules that use GC, typed function references or tail calls are
    /// refused, as Winch cannot compile them.
    Winch,
}

/// The variable that picks the default [`Compiler`]: `winch` or `cranelift`.
pub const COMPILER_ENV: &str = "EXTISM_COMPILER";

impl Compiler {
    /// The compiler [`COMPILER_ENV`] names, or Cranelift when it is unset.
    pub fn from_environment() -> Result<Compiler> {
        match std::env::var(COMPILER_ENV) {
            Err(_) => Ok(Compiler::Cranelift),
            Ok(name) => Compiler::from_name(&name),
        }
    }

    /// `cranelift` or `winch` (any case).
    pub fn from_name(name: &str) -> Result<Compiler> {
        match name.to_ascii_lowercase().as_str() {
            "" | "cranelift" => Ok(Compiler::Cranelift),
            "winch" => Ok(Compiler::Winch),
            _ => Err(Error::invalid(format!(
                "unknown compiler \"{name}\" ({COMPILER_ENV}): expected \"cranelift\" or \"winch\""
            ))),
        }
    }
}

/// What an engine is made for; each combination has its own engine.
#[derive(Clone, Copy)]
pub(crate) struct EngineKind {
    pub fuel: bool,
    pub coredump: bool,
    pub compiler: Compiler,
}

impl EngineKind {
    /// Tells the process's engines apart (the module cache's key has it).
    pub(crate) fn index(self) -> usize {
        self.fuel as usize | (self.coredump as usize) << 1 | ((self.compiler == Compiler::Winch) as usize) << 2
    }
}

static ENGINES: [OnceLock<Result<Shared>>; 8] = [const { OnceLock::new() }; 8];

fn config(kind: EngineKind) -> Result<Config> {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .consume_fuel(kind.fuel)
        .coredump_on_trap(kind.coredump)
        .wasm_tail_call(true)
        .wasm_function_references(true)
        .wasm_gc(true)
        .wasm_multi_memory(true);
    if kind.compiler == Compiler::Winch {
        config
            .strategy(wasmtime::Strategy::Winch)
            .wasm_tail_call(false)
            .wasm_gc(false)
            .wasm_function_references(false);
    }
    // Winch cannot emit native debug info.
    if std::env::var_os("EXTISM_DEBUG").is_some() && kind.compiler == Compiler::Cranelift {
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
    // Compiled modules are cached on disk by disk_cache.rs (EXTISM_CACHE_CONFIG
    // is read there), not by wasmtime's cache.
    Ok(config)
}

fn make(kind: EngineKind) -> Result<Shared> {
    let engine =
        Engine::new(&config(kind)?).map_err(|e| Error::new(ErrorKind::Compile, crate::error::wasmtime_text(&e)))?;
    let kernel = match DiskCache::configured()? {
        Some(disk) => {
            let key: [u8; 32] = Sha256::digest(crate::kernel::KERNEL_WAT).into();
            disk.module(&engine, &key, || Ok((crate::kernel::compile(&engine)?, false)))?
                .0
        }
        None => crate::kernel::compile(&engine)?,
    };
    Ok(Shared { engine, kernel })
}

/// The shared engine of `kind`.
pub(crate) fn shared(kind: EngineKind) -> Result<&'static Shared> {
    ENGINES[kind.index()]
        .get_or_init(|| make(kind))
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg_attr(feature = "loom", allow(dead_code))]
pub(crate) fn increment_all_epochs() {
    for cell in &ENGINES {
        if let Some(Ok(shared)) = cell.get() {
            shared.engine.increment_epoch();
        }
    }
}
