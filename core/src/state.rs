//! The state a plugin's wasmtime store carries: everything host functions
//! and the kernel glue need during a call.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::kernel::Kernel;
use crate::limits::{Interrupt, MemoryLimiter};
use crate::log::LogSink;
use crate::manifest::Manifest;

pub(crate) struct PluginState {
    /// The manifest the plugin was made from (built-ins read its limits).
    pub manifest: Arc<Manifest>,
    pub kernel: Option<Arc<Kernel>>,
    pub limiter: MemoryLimiter,
    pub wasi: Option<wasmtime_wasi::p1::WasiP1Ctx>,
    pub config: BTreeMap<String, String>,
    pub vars: BTreeMap<String, Vec<u8>>,
    pub http_status: u16,
    /// `Some` once response headers are enabled for this plugin.
    pub http_headers: Option<BTreeMap<String, String>>,
    pub host_context: Option<Box<dyn Any + Send>>,
    pub interrupt: Arc<Interrupt>,
    /// When the running call must stop (its `timeout_ms`).
    pub deadline: Option<Instant>,
    pub id: uuid::Uuid,
    /// The id as text, made once for log events.
    pub id_text: Arc<str>,
    pub log: Option<LogSink>,
}

impl PluginState {
    /// Set a var from the host, or remove it with `None` or empty bytes (a
    /// var is never empty, as with `var_set`). No size check: the host decides.
    pub fn set_var(&mut self, key: &str, value: Option<&[u8]>) {
        match value {
            Some(v) if !v.is_empty() => {
                self.vars.insert(key.to_string(), v.to_vec());
            }
            _ => {
                self.vars.remove(key);
            }
        }
    }

    pub fn kernel(&self) -> &Kernel {
        self.kernel
            .as_ref()
            .expect("kernel is instantiated before any wasm runs")
    }

    /// The kernel handles, shareable across a call into the kernel (cloning
    /// the Arc is one atomic; cloning the typed functions would be several).
    pub fn kernel_arc(&self) -> Arc<Kernel> {
        self.kernel
            .clone()
            .expect("kernel is instantiated before any wasm runs")
    }

    /// The WASI context; WASI functions are linked only when there is one.
    pub fn wasi_mut(&mut self) -> &mut wasmtime_wasi::p1::WasiP1Ctx {
        self.wasi.as_mut().expect("WASI context exists when WASI is linked")
    }
}
