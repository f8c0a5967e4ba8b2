//! The kernel: a small wasm module (`kernel.wat`) that owns Extism memory and
//! implements the memory functions of `extism:host/env` (docs/abi.md, Kernel functions).
//!
//! Plugins are linked straight to the kernel instance's exports, so their
//! per-byte calls never leave wasm. The host reaches the same state through
//! the typed functions below, resolved once per instance.

use wasmtime::{AsContextMut, Engine, Instance, Memory, Module, Store, TypedFunc};

use crate::error::{Error, ErrorKind, Result};

/// The import module of the kernel and of the built-in host functions.
pub const ENV_MODULE: &str = "extism:host/env";

/// The kernel source; compiled once per engine.
pub const KERNEL_WAT: &str = include_str!("kernel.wat");

/// The names of docs/abi.md, Kernel functions, that plugins may import from the kernel.
pub const KERNEL_FUNCTIONS: &[&str] = &[
    "alloc",
    "free",
    "length",
    "length_unsafe",
    "load_u8",
    "load_u64",
    "store_u8",
    "store_u64",
    "input_length",
    "input_offset",
    "input_load_u8",
    "input_load_u64",
    "output_set",
    "error_set",
    "error_get",
    "input_set",
    "output_offset",
    "output_length",
    "reset",
    "memory_bytes",
];

pub(crate) fn compile(engine: &Engine) -> Result<Module> {
    Module::new(engine, KERNEL_WAT)
        .map_err(|e| Error::new(ErrorKind::Other, format!("kernel: {}", crate::error::wasmtime_text(&e))))
}

/// One kernel instance, as the host sees it.
#[derive(Clone)]
pub(crate) struct Kernel {
    pub instance: Instance,
    pub memory: Memory,
    pub alloc: TypedFunc<i64, i64>,
    pub free: TypedFunc<i64, ()>,
    pub length: TypedFunc<i64, i64>,
    pub reset: TypedFunc<(), ()>,
    pub begin_call: TypedFunc<i64, i64>,
    pub error_set: TypedFunc<i64, ()>,
    /// The kernel's private memory; its header holds the call results.
    pub meta: Memory,
}

/// What a call left in the kernel: the output range and the error handle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallRecord {
    pub output_offset: u64,
    pub output_length: u64,
    pub error: u64,
}

impl Kernel {
    pub fn instantiate<T: 'static>(store: &mut Store<T>, module: &Module) -> wasmtime::Result<Kernel> {
        let instance = Instance::new(store.as_context_mut(), module, &[])?;
        let memory = instance
            .get_memory(&mut *store, "memory")
            .ok_or_else(|| wasmtime::format_err!("kernel has no memory"))?;
        Ok(Kernel {
            memory,
            alloc: instance.get_typed_func(&mut *store, "alloc")?,
            free: instance.get_typed_func(&mut *store, "free")?,
            length: instance.get_typed_func(&mut *store, "length")?,
            reset: instance.get_typed_func(&mut *store, "reset")?,
            begin_call: instance.get_typed_func(&mut *store, "extism_begin_call")?,
            error_set: instance.get_typed_func(&mut *store, "error_set")?,
            meta: instance
                .get_memory(&mut *store, "extism_meta")
                .ok_or_else(|| wasmtime::format_err!("kernel has no meta memory"))?,
            instance,
        })
    }
}

impl Kernel {
    /// Read the call record from the header of the kernel's private memory.
    pub fn record(&self, store: impl wasmtime::AsContext) -> CallRecord {
        let header = &self.meta.data(&store)[..24];
        let word = |i: usize| u64::from_le_bytes(header[i..i + 8].try_into().unwrap_or_default());
        CallRecord {
            output_offset: word(0),
            output_length: word(8),
            error: word(16),
        }
    }
}
