//! A plugin instance (docs/abi.md, Calls): its public API here, the call
//! pipeline in `call`, and creating its store and instances in `instantiate`.

mod call;
mod instantiate;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use wasmtime::{Func, Instance, Store, TypedFunc, ValType};

use crate::compiled::{Compiled, CompiledPlugin};
use crate::error::{call_error_from_wasmtime, Error, ErrorKind, Result};
use crate::kernel::Kernel;
use crate::limits::{CancelHandle, Interrupt};
use crate::log::LogSink;
use crate::state::PluginState;

use instantiate::{instantiate, Carried};

/// The outcome of one call: the return code and, when the call failed, the
/// error. A non-zero `rc` with no error is the plugin's own return value.
#[derive(Debug)]
pub struct CallResult {
    /// The return code (`RC_TRAP` for a trap, timeout or cancel; `RC_ERROR`
    /// for other runtime errors; else the export's own).
    pub rc: i32,
    /// Why the call failed, if it did.
    pub error: Option<Error>,
}

impl CallResult {
    fn ok(rc: i32) -> CallResult {
        CallResult { rc, error: None }
    }

    fn fail(rc: i32, error: Error) -> CallResult {
        CallResult { rc, error: Some(error) }
    }

    /// The result as the SDKs report it: an error when there is error text,
    /// `Error code: N` for a bare non-zero return code.
    pub fn into_result(self) -> Result<()> {
        match (self.error, self.rc) {
            (Some(e), _) => Err(e),
            (None, 0) => Ok(()),
            (None, rc) => Err(Error::new(ErrorKind::Plugin, format!("Error code: {rc}"))),
        }
    }
}

/// An export of main, resolved once and cached by name.
#[derive(Clone)]
enum Export {
    ReturnsI32(TypedFunc<(), i32>),
    ReturnsNothing(TypedFunc<(), ()>),
    /// Any other type: calling it reports why it cannot be called.
    Other(Option<Func>),
    /// A callable export of a main that could not be instantiated.
    Uninstantiated,
}

/// A plugin: its own store, Extism memory, vars, config and id. `Send`; use it
/// from one thread at a time (see `SharedPlugin` for a lock with reentrancy
/// detection).
pub struct Plugin {
    compiled: Arc<Compiled>,
    store: Store<PluginState>,
    /// The kernel's host-side handles, kept beside the store (not inside it)
    /// so calls borrow them without cloning.
    kernel: Arc<Kernel>,
    /// `None` when the memory budget refused main's instantiation: the plugin
    /// exists and every call fails with `oom`, as in the official runtime.
    main: Option<Instance>,
    exports: HashMap<Box<str>, Export>,
    /// The export called last: hosts usually call one function repeatedly.
    last_export: Option<(Box<str>, Export)>,
    /// Set after `_start` was called: the next call starts from a new store.
    rebuild_pending: bool,
    output: (u64, u64),
    /// Fuel the last call used (with a fuel limit).
    fuel_consumed: Option<u64>,
}

impl CompiledPlugin {
    /// Create a plugin with its own store, memory, vars and id.
    pub fn instantiate(&self) -> Result<Plugin> {
        Plugin::new(self, None)
    }

    /// The same, with a per-plugin log sink.
    pub fn instantiate_with_log(&self, log: Option<LogSink>) -> Result<Plugin> {
        Plugin::new(self, log)
    }
}

impl Plugin {
    pub(crate) fn new(compiled: &CompiledPlugin, log: Option<LogSink>) -> Result<Plugin> {
        let inner = compiled.inner.clone();
        let id = uuid::Uuid::new_v4();
        let carried = Carried {
            id,
            id_text: id.to_string().into(),
            config: inner.manifest.config.clone(),
            interrupt: Interrupt::new(inner.shared.engine.clone()),
            log,
            http_headers: false,
        };
        let (store, kernel, main) = instantiate(&inner, carried)?;
        Ok(Plugin {
            compiled: inner,
            store,
            kernel,
            main,
            exports: HashMap::new(),
            last_export: None,
            rebuild_pending: false,
            output: (0, 0),
            fuel_consumed: None,
        })
    }

    /// The plugin's id, a random UUID v4 that stays the same for its life.
    pub fn id(&self) -> uuid::Uuid {
        self.store.data().id
    }

    /// A handle that cancels the call running on this plugin, from any thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle {
            interrupt: self.store.data().interrupt.clone(),
        }
    }

    /// Record HTTP response headers from now on (cannot be switched off).
    pub fn allow_http_response_headers(&mut self) {
        let headers = &mut self.store.data_mut().http_headers;
        if headers.is_none() {
            *headers = Some(BTreeMap::new());
        }
    }

    /// Whether main exports `name` as `() -> i32` or `() -> ()`.
    pub fn function_exists(&mut self, name: &str) -> bool {
        matches!(
            self.export(name),
            Some(Export::ReturnsI32(_)) | Some(Export::ReturnsNothing(_)) | Some(Export::Uninstantiated)
        )
    }

    /// Merge a JSON object of `string → string | null` into the config (`null`
    /// removes a key). Anything else changes nothing and fails.
    pub fn update_config_json(&mut self, json: &[u8]) -> Result<()> {
        let parsed: BTreeMap<String, Option<String>> =
            serde_json::from_slice(json).map_err(|e| Error::invalid(format!("invalid config: {e}")))?;
        self.update_config(parsed);
        Ok(())
    }

    /// Merge config values (`None` removes the key).
    pub fn update_config(&mut self, values: impl IntoIterator<Item = (String, Option<String>)>) {
        let config = &mut self.store.data_mut().config;
        for (key, value) in values {
            match value {
                Some(v) => {
                    config.insert(key, v);
                }
                None => {
                    config.remove(&key);
                }
            }
        }
    }

    /// The plugin's config.
    pub fn config(&self) -> &BTreeMap<String, String> {
        &self.store.data().config
    }

    /// The vars of this plugin.
    pub fn vars(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.store.data().vars
    }

    /// Set (or with `None` or empty bytes remove) a var from the host.
    pub fn set_var(&mut self, key: &str, value: Option<&[u8]>) {
        self.store.data_mut().set_var(key, value);
    }

    fn export(&mut self, name: &str) -> Option<Export> {
        if self.select_export(name) {
            self.last_export.as_ref().map(|(_, e)| e.clone())
        } else {
            None
        }
    }

    /// Make `name` the cached last export; false if main has no such export.
    fn select_export(&mut self, name: &str) -> bool {
        if matches!(&self.last_export, Some((last, _)) if **last == *name) {
            return true;
        }
        match self.lookup_export(name) {
            Some(export) => {
                self.last_export = Some((name.into(), export));
                true
            }
            None => false,
        }
    }

    fn lookup_export(&mut self, name: &str) -> Option<Export> {
        if let Some(e) = self.exports.get(name) {
            return Some(e.clone());
        }
        let Some(main) = self.main else {
            return self.lookup_uninstantiated_export(name);
        };
        let func = main.get_func(&mut self.store, name)?;
        // Types are checked by hand first: a failed `typed` builds an error
        // (and a backtrace), which no successful path may do.
        let ty = func.ty(&self.store);
        let results: Vec<ValType> = ty.results().collect();
        let export = match (ty.params().len(), results.as_slice()) {
            (0, [ValType::I32]) => func
                .typed::<(), i32>(&self.store)
                .map(Export::ReturnsI32)
                .unwrap_or(Export::Other(Some(func))),
            (0, []) => func
                .typed::<(), ()>(&self.store)
                .map(Export::ReturnsNothing)
                .unwrap_or(Export::Other(Some(func))),
            _ => Export::Other(Some(func)),
        };
        self.exports.insert(name.into(), export.clone());
        Some(export)
    }

    /// An export of main's module when main could not be instantiated: only
    /// its type is known, so `function_exists` still answers.
    fn lookup_uninstantiated_export(&self, name: &str) -> Option<Export> {
        let module = &self.compiled.modules[self.compiled.main].module;
        let wasmtime::ExternType::Func(ty) = module.get_export(name)? else {
            return None;
        };
        let results: Vec<ValType> = ty.results().collect();
        let export = match (ty.params().len(), results.as_slice()) {
            (0, [ValType::I32] | []) => Export::Uninstantiated,
            _ => Export::Other(None),
        };
        Some(export)
    }

    /// The output of the last call (empty when none was set). Valid until the
    /// next call or reset.
    pub fn output(&self) -> &[u8] {
        let (offset, length) = self.output;
        let memory = self.kernel.memory.data(&self.store);
        let start = offset as usize;
        memory
            .get(start..start.saturating_add(length as usize))
            .unwrap_or_default()
    }

    /// The address of the last call's output in Extism memory (for the C API,
    /// whose caller reads it in place).
    pub fn output_ptr(&self) -> *const u8 {
        self.kernel
            .memory
            .data_ptr(&self.store)
            .wrapping_add(self.output.0 as usize)
    }

    /// The fuel the last call used, from placing its input to its return;
    /// `None` without a fuel limit, or before the first call.
    pub fn fuel_consumed(&self) -> Option<u64> {
        self.fuel_consumed
    }

    /// Free every block of Extism memory (vars, config and the plugin's own
    /// memory are kept).
    /// The output range is kept (docs/c-api.md, Plugins: the length survives a reset),
    /// though its bytes may be reused by the next allocation.
    pub fn reset(&mut self) -> Result<()> {
        if let Some(limit) = self.compiled.fuel_limit {
            let _ = self.store.set_fuel(limit);
        }
        self.kernel
            .reset
            .call(&mut self.store, ())
            .map_err(|e| call_error_from_wasmtime(e).1)
    }

    /// Discard the store and start over (after `_start`, docs/abi.md, `_start` and rebuilds): new
    /// Extism memory, vars cleared, initializers run again.
    fn rebuild(&mut self) -> Result<()> {
        let state = self.store.data_mut();
        let carried = Carried {
            id: state.id,
            id_text: state.id_text.clone(),
            config: std::mem::take(&mut state.config),
            interrupt: state.interrupt.clone(),
            log: state.log.clone(),
            http_headers: state.http_headers.is_some(),
        };
        let (store, kernel, main) = instantiate(&self.compiled, carried)?;
        self.store = store;
        self.kernel = kernel;
        self.main = main;
        self.exports.clear();
        self.last_export = None;
        self.rebuild_pending = false;
        if let Some(limit) = self.compiled.fuel_limit {
            let _ = self.store.set_fuel(limit);
        }
        Ok(())
    }
}
#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<Plugin>();
}
