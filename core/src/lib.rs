//! extism-core: the runtime behind the C, Python and Node frontends of this
//! Extism-compatible implementation.
//!
//! A host creates a [`Plugin`] from wasm, WAT or a manifest, calls its exports
//! with bytes in and bytes out, and lets it call back into host
//! [`Function`]s, under the limits of the manifest.
//!
//! ```
//! use extism_core::PluginBuilder;
//!
//! let wat = r#"(module
//!   (import "extism:host/env" "input_length" (func $len (result i64)))
//!   (import "extism:host/env" "input_offset" (func $off (result i64)))
//!   (import "extism:host/env" "output_set" (func $out (param i64 i64)))
//!   (func (export "echo") (result i32)
//!     (call $out (call $off) (call $len))
//!     (i32.const 0)))"#;
//! let mut plugin = PluginBuilder::new(wat).build().unwrap();
//! assert_eq!(plugin.call("echo", b"hello").unwrap(), b"hello");
//! ```

//!
//! # Layers
//!
//! Each module uses only the modules listed before it (`tests/layers.rs`
//! checks this), so the crate reads from the leaves up:
//!
//! - `error`: the error type, return codes, and how a wasm failure maps to both
//! - `sync`: the primitives of the model-checked state machines (std or loom)
//! - `dump`: coredumps and memory dumps of failed calls
//! - `log`: log levels, sinks and the bounded backlog
//! - `http`: the plugin's HTTP requests and the download of `url` modules
//! - `kernel`: the wasm module that owns Extism memory
//! - `manifest`: the manifest's schema and the loading of its modules
//! - `source`: what a plugin is created from (input bytes, a source string)
//! - `overrides`: a host's options over a manifest, and their precedence
//! - `inline`: the kernel's leaf functions inlined into plugin modules
//! - `disk_cache`: compiled modules kept on disk between processes
//! - `engine`: the process's wasmtime engines
//! - `module_cache`: compiled modules kept in the process
//! - `limits`: memory budget, timeouts and cancel
//! - `wasi`: WASI contexts and where their output goes
//! - `state`: what a plugin's store carries during a call
//! - `current_plugin`: the running plugin as host functions see it
//! - `function`: host functions and their values
//! - `pdk`: the built-in host functions of `extism:host/env`
//! - `link`: where each import comes from, and the instantiation order
//! - `compiled`: a compilation shared by many plugins
//! - `plugin`: a plugin instance and its calls
//! - `builder`: the options for creating a plugin
//! - `shared_plugin`: a plugin behind a lock that refuses reentrant calls
//! - `pool`: instances of one compilation handed out one caller at a time

#![deny(missing_docs)]

mod builder;
mod compiled;
mod current_plugin;
mod dump;
mod disk_cache;
mod engine;
mod error;
mod function;
mod http;
mod kernel;
mod limits;
mod link;
pub mod log;
mod inline;
pub mod manifest;
pub mod overrides;
pub mod source;
mod module_cache;
mod pdk;
mod plugin;
mod pool;
mod shared_plugin;
mod state;
mod sync;
mod wasi;

pub use builder::PluginBuilder;
pub use compiled::{CompiledPlugin, ExportDescription, ExternKind, ImportDescription, ModuleDescription};
pub use current_plugin::CurrentPlugin;
pub use engine::{Compiler, COMPILER_ENV};
pub use error::{
    panic_message, Error, ErrorDetail, ErrorKind, Result, COMPILE_ERROR_PREFIX, CREATE_ERROR_PREFIX, ERROR_TEXT_LIMIT,
    RC_ERROR, RC_TRAP,
};
pub use function::{Function, HostCallback, HostValues, Val, ValType, PTR, USER_NAMESPACE};
pub use http::{host_allowed, HttpClient, HttpClientRequest, HttpClientResponse};
pub use kernel::{ENV_MODULE, KERNEL_FUNCTIONS};
pub use limits::CancelHandle;
pub use manifest::{Manifest, Wasm};
pub use module_cache::{module_cache_stats, set_module_cache_limit, ModuleCacheStats, DEFAULT_MODULE_CACHE_LIMIT};
pub use pdk::BUILTIN_FUNCTIONS;
pub use plugin::{CallResult, Plugin};
pub use pool::{Pool, PoolGuard};
pub use shared_plugin::{PluginGuard, SharedPlugin};
pub use wasi::{WasiOutput, WasiStream, WasiWriter};

/// This runtime's version (the C API's `extism_version`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
