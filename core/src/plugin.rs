//! A plugin instance and its calls (docs/abi.md, Calls).

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::{Extern, Func, Instance, Store, Trap, TypedFunc, Val, ValType};

use crate::compiled::{Compiled, CompiledPlugin, ImportSource};
use crate::dump::Dumps;
use crate::error::{bounded_error_text, wasmtime_text, Error, ErrorKind, Result};
use crate::kernel::Kernel;
use crate::limits::{self, CancelHandle, Interrupt, Interrupted, MemoryLimiter, OutOfMemory, TimedSection};
use crate::log::LogSink;
use crate::state::PluginState;

/// The return code of a trap, a timeout and a cancel (EXIT_SIGNALED_SIGABRT).
pub const RC_TRAP: i32 = 134;
/// The return code of runtime and host errors.
pub const RC_ERROR: i32 = -1;

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

/// Map a wasmtime error from running wasm to a return code and an error.
pub(crate) fn call_error_from_wasmtime(err: wasmtime::Error) -> (i32, Error) {
    if err.is::<Interrupted>() || matches!(err.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        return (RC_TRAP, Error::new(ErrorKind::Timeout, "timeout"));
    }
    if matches!(err.downcast_ref::<Trap>(), Some(Trap::OutOfFuel)) {
        return (RC_ERROR, Error::new(ErrorKind::OutOfFuel, "plugin ran out of fuel"));
    }
    if err.is::<OutOfMemory>() {
        return (RC_ERROR, Error::new(ErrorKind::OutOfMemory, "oom"));
    }
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return (exit.0, Error::new(ErrorKind::Exit, format!("exit status {}", exit.0)));
    }
    if let Some(e) = err.downcast_ref::<Error>() {
        return (RC_ERROR, e.clone());
    }
    if let Some(trap) = err.downcast_ref::<Trap>() {
        let mut text = trap.to_string();
        if let Some(bt) = err.downcast_ref::<wasmtime::WasmBacktrace>() {
            if let Some(name) = bt.frames().first().and_then(|f| f.func_name()) {
                text.push_str(&format!(", in function `{name}`"));
            }
        }
        return (RC_TRAP, Error::new(ErrorKind::Trap, text));
    }
    (RC_ERROR, Error::new(ErrorKind::Other, wasmtime_text(&err)))
}

/// Everything a new store is made from and that survives a rebuild.
struct Carried {
    id: uuid::Uuid,
    id_text: Arc<str>,
    config: BTreeMap<String, String>,
    interrupt: Arc<Interrupt>,
    log: Option<LogSink>,
    http_headers: bool,
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

    /// Compile and create a plugin from wasm, WAT or manifest bytes.
    pub fn create(bytes: impl Into<Vec<u8>>, functions: Vec<Function>, wasi: bool) -> Result<Plugin> {
        crate::PluginBuilder::new(bytes)
            .with_functions(functions)
            .with_wasi(wasi)
            .build()
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

    /// Call `name` with `input` and a host context; see `CallResult`.
    pub fn call_with_context(
        &mut self,
        name: &str,
        input: &[u8],
        host_context: Option<Box<dyn Any + Send>>,
    ) -> CallResult {
        self.output = (0, 0);
        self.fuel_consumed = None;
        if let Some(limit) = self.compiled.fuel_limit {
            let _ = self.store.set_fuel(limit);
        }
        if self.rebuild_pending {
            if let Err(e) = self.rebuild() {
                return CallResult::fail(RC_ERROR, e);
            }
        }
        let result = self.run(name, input, host_context);
        self.store.data_mut().host_context = None;
        if name == "_start" {
            self.rebuild_pending = true;
        }
        result
    }

    /// Call `name` with `input`: the output on success, the error otherwise.
    pub fn call(&mut self, name: &str, input: &[u8]) -> Result<&[u8]> {
        self.call_with_context(name, input, None).into_result()?;
        Ok(self.output())
    }

    fn run(&mut self, name: &str, input: &[u8], host_context: Option<Box<dyn Any + Send>>) -> CallResult {
        self.store.data_mut().host_context = host_context;
        // Armed before any wasm runs, so a cancel also stops the input copy.
        let timer = self.arm(self.compiled.manifest.timeout_ms);
        let invoked = self.place_input_and_invoke(name, input);
        self.disarm();
        drop(timer);
        let result = match invoked {
            Ok(result) => result,
            Err(early) => return early,
        };

        if let Some(limit) = self.compiled.fuel_limit {
            let left = self.store.get_fuel().unwrap_or(limit);
            self.fuel_consumed = Some(limit.saturating_sub(left));
            if left == 0 {
                return CallResult::fail(RC_ERROR, Error::new(ErrorKind::OutOfFuel, "plugin ran out of fuel"));
            }
            // Reading the results below runs kernel code; it is not the plugin's.
            let _ = self.store.set_fuel(u64::MAX);
        }

        let record = self.kernel.record(&self.store);
        self.output = (record.output_offset, record.output_length);
        let plugin_error = if record.error == 0 {
            None
        } else {
            self.plugin_error(record.error)
        };
        match result {
            Ok(rc) => CallResult {
                rc,
                error: plugin_error.map(|text| Error::new(ErrorKind::Plugin, text)),
            },
            Err(e) => {
                self.write_dumps(name, &e);
                let (rc, error) = call_error_from_wasmtime(e);
                match (error.kind(), plugin_error) {
                    (ErrorKind::Exit, None) if rc == 0 => CallResult::ok(0),
                    (ErrorKind::Timeout | ErrorKind::OutOfFuel | ErrorKind::OutOfMemory, _) | (_, None) => {
                        CallResult::fail(rc, error)
                    }
                    (ErrorKind::Exit, Some(text)) => CallResult::fail(rc, Error::new(ErrorKind::Plugin, text)),
                    (_, Some(text)) => CallResult::fail(RC_ERROR, Error::new(ErrorKind::Plugin, text)),
                }
            }
        }
    }

    /// Reset Extism memory, place the input, find the export and run it.
    /// `Err` is a finished result (the export never ran).
    fn place_input_and_invoke(&mut self, name: &str, input: &[u8]) -> Result<wasmtime::Result<i32>, CallResult> {
        if self.main.is_none() {
            return Err(CallResult::fail(RC_ERROR, Error::new(ErrorKind::OutOfMemory, "oom")));
        }
        let kernel = &self.kernel;
        match kernel.begin_call.call(&mut self.store, input.len() as i64) {
            Ok(-1) => {
                return Err(CallResult::fail(
                    RC_ERROR,
                    Error::new(ErrorKind::OutOfMemory, "failed to allocate extism memory"),
                ))
            }
            Ok(handle) => {
                if !input.is_empty() {
                    let start = handle as usize;
                    kernel.memory.data_mut(&mut self.store)[start..start + input.len()].copy_from_slice(input);
                }
            }
            Err(e) => {
                let (rc, mut error) = call_error_from_wasmtime(e);
                if error.kind() == ErrorKind::OutOfMemory {
                    error = Error::new(ErrorKind::OutOfMemory, "failed to allocate extism memory");
                }
                return Err(CallResult::fail(rc, error));
            }
        }
        if !self.select_export(name) {
            return Err(CallResult::fail(
                RC_ERROR,
                Error::new(ErrorKind::FunctionNotFound, format!("Function not found: {name}")),
            ));
        }
        let Some((_, export)) = &self.last_export else {
            return Err(CallResult::fail(
                RC_ERROR,
                Error::new(ErrorKind::Other, "export cache is empty"),
            ));
        };
        Ok(match export {
            Export::ReturnsI32(f) => f.call(&mut self.store, ()),
            Export::ReturnsNothing(f) => f.call(&mut self.store, ()).map(|()| 0),
            Export::Other(Some(f)) => call_untyped(&mut self.store, name, *f),
            // Unreachable: a plugin without main fails above.
            Export::Other(None) | Export::Uninstantiated => {
                Err(wasmtime::Error::new(Error::new(ErrorKind::OutOfMemory, "oom")))
            }
        })
    }

    /// The debugging dumps of a failed call, where they are asked for.
    fn write_dumps(&mut self, name: &str, error: &wasmtime::Error) {
        let dumps = &self.compiled.dumps;
        if let Some(path) = &dumps.coredump {
            if let Some(core) = error.downcast_ref::<wasmtime::WasmCoreDump>() {
                let bytes = core.serialize(&mut self.store, name);
                Dumps::write(path, "coredump", &bytes);
            }
        }
        if let Some(path) = &dumps.memdump {
            Dumps::write(path, "memory dump", self.kernel.memory.data(&self.store));
        }
    }

    /// The text of the error the plugin set, if it set one (a live block).
    fn plugin_error(&mut self, handle: u64) -> Option<String> {
        let length = self.kernel.length.call(&mut self.store, handle as i64).ok()? as u64;
        if length == 0 {
            return None;
        }
        let memory = self.kernel.memory.data(&self.store);
        let bytes = memory.get(handle as usize..(handle + length) as usize)?;
        Some(bounded_error_text(bytes))
    }

    /// Start the clock and make the call cancellable.
    fn arm(&mut self, timeout_ms: Option<u64>) -> Option<TimedSection> {
        arm(&mut self.store, timeout_ms)
    }

    fn disarm(&mut self) {
        disarm(&mut self.store);
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

use crate::function::Function;

/// Stop the clock; host-side kernel work after the call must not be hit by
/// the deadline or a late cancel.
fn disarm(store: &mut Store<PluginState>) {
    let state = store.data_mut();
    state.deadline = None;
    state.interrupt.end();
    store.set_epoch_deadline(1);
}

fn arm(store: &mut Store<PluginState>, timeout_ms: Option<u64>) -> Option<TimedSection> {
    let state = store.data_mut();
    state.interrupt.begin();
    let timer = timeout_ms.map(|ms| {
        state.deadline = Some(Instant::now() + Duration::from_millis(ms));
        TimedSection::start()
    });
    store.set_epoch_deadline(1);
    timer
}

/// Call an export whose type is neither `() -> i32` nor `() -> ()`, for the
/// error it gives (docs/abi.md, Callable exports).
fn call_untyped(store: &mut Store<PluginState>, name: &str, func: Func) -> wasmtime::Result<i32> {
    let ty = func.ty(&*store);
    if ty.params().len() != 0 {
        return Err(wasmtime::Error::new(Error::new(
            ErrorKind::FunctionNotFound,
            format!("expected {} arguments, got 0", ty.params().len()),
        )));
    }
    let results = ty.results().len();
    if results > 1 {
        return Err(wasmtime::Error::new(Error::new(
            ErrorKind::FunctionNotFound,
            format!("Function {name} has {results} results, expected 0 or 1"),
        )));
    }
    let mut out = vec![Val::I32(0); results];
    func.call(&mut *store, &[], &mut out)?;
    Err(wasmtime::Error::new(Error::new(
        ErrorKind::FunctionNotFound,
        format!(
            "Function {name} returned a {} instead of an i32",
            ty.results().next().map(|t| t.to_string()).unwrap_or_default()
        ),
    )))
}

/// Create a store and instantiate every module into it (docs/abi.md, Initialization).
fn instantiate(
    compiled: &Arc<Compiled>,
    carried: Carried,
) -> Result<(Store<PluginState>, Arc<Kernel>, Option<Instance>)> {
    let engine = &compiled.shared.engine;
    let wasi = if compiled.wasi {
        Some(crate::wasi::context(&compiled.manifest, &compiled.wasi_output)?)
    } else {
        None
    };
    let state = PluginState {
        compiled: compiled.clone(),
        kernel: None,
        limiter: MemoryLimiter::new(compiled.manifest.max_pages()),
        wasi,
        config: carried.config,
        vars: BTreeMap::new(),
        http_status: 0,
        http_headers: carried.http_headers.then(BTreeMap::new),
        host_context: None,
        interrupt: carried.interrupt,
        deadline: None,
        id: carried.id,
        id_text: carried.id_text,
        log: carried.log,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store.epoch_deadline_callback(limits::on_epoch);
    store.set_epoch_deadline(1);
    if let Some(limit) = compiled.fuel_limit {
        let _ = store.set_fuel(limit);
    }
    let kernel = Arc::new(Kernel::instantiate(&mut store, &compiled.shared.kernel).map_err(instantiate_error)?);
    store.data_mut().kernel = Some(kernel.clone());

    // Instantiation and initializers are covered by the timeout and by fuel
    // (docs/compatibility.md, Runtime), so a start section that loops forever cannot hang creation.
    let timer = arm(&mut store, compiled.manifest.timeout_ms);
    let result = instantiate_modules(compiled, &mut store, &kernel);
    disarm(&mut store);
    drop(timer);
    let main = result?;
    Ok((store, kernel, main))
}

/// An instantiation failure as an `Instantiate` error with the root cause's text.
fn instantiate_error(e: wasmtime::Error) -> Error {
    let (_, error) = call_error_from_wasmtime(e);
    Error::new(ErrorKind::Instantiate, error.message().to_string())
}

/// Main's instance, or `None` when the memory budget refused it (its initial
/// memory, or a start function's growth, is over `memory.max_pages`).
fn instantiate_modules(
    compiled: &Compiled,
    store: &mut Store<PluginState>,
    kernel: &Kernel,
) -> Result<Option<Instance>> {
    let mut instances: Vec<Instance> = Vec::with_capacity(compiled.modules.len());
    // Trampolines of deferred imports, filled once their module exists.
    let mut pending: Vec<Deferred<'_>> = Vec::new();
    for (index, module) in compiled.modules.iter().enumerate() {
        let mut externs: Vec<Extern> = Vec::with_capacity(module.imports.len());
        for source in &module.imports {
            let ext = match source {
                ImportSource::Kernel(export) => kernel.instance.get_module_export(&mut *store, export),
                ImportSource::Linker { module, name } => compiled.linker.get(&mut *store, module, name).ok(),
                ImportSource::Module { index, name } => instances[*index].get_export(&mut *store, name),
                ImportSource::Deferred { index, name, ty } => {
                    let slot = Arc::new(OnceLock::new());
                    let target = &compiled.modules[*index].name;
                    let func = deferred_trampoline(store, ty, slot.clone(), format!("{target}::{name}"));
                    pending.push(Deferred {
                        importer: &module.path,
                        index: *index,
                        name,
                        ty,
                        slot,
                    });
                    Some(Extern::Func(func))
                }
                ImportSource::Unresolved(e) => return Err(e.clone()),
            };
            let Some(ext) = ext else {
                // Only reachable for a name a dependency does not export.
                let (m, n) = describe_missing(module, externs.len());
                return Err(Error::unresolved_import(module.path.clone(), &m, &n));
            };
            externs.push(ext);
        }
        let is_main = index == compiled.main;
        if is_main {
            // The main instance's initial memory is charged to the budget,
            // which is then refilled (docs/abi.md, Memory budget).
            let limiter = &mut store.data_mut().limiter;
            limiter.charging = true;
            limiter.refill();
        }
        let instance = match Instance::new(&mut *store, &module.module, &externs) {
            Ok(instance) => instance,
            Err(e) if is_main && e.is::<OutOfMemory>() => return Ok(None),
            Err(e) => return Err(instantiate_error(e)),
        };
        link_deferred(store, compiled, index, &instance, &mut pending)?;
        if is_main {
            store.data_mut().limiter.refill();
            initialize_main(store, &instance)?;
        } else {
            initialize_reactor(store, &instance)?;
        }
        instances.push(instance);
    }
    Ok(Some(instances[compiled.main]))
}

/// A trampoline waiting for export `name` of module `index`.
struct Deferred<'a> {
    /// The importing module's path from main (for the error when missing).
    importer: &'a [String],
    index: usize,
    name: &'a str,
    ty: &'a wasmtime::FuncType,
    slot: Arc<OnceLock<Func>>,
}

/// A host function of type `ty` that calls the function `slot` will hold: the
/// late end of a cycle of function imports between manifest modules.
fn deferred_trampoline(
    store: &mut Store<PluginState>,
    ty: &wasmtime::FuncType,
    slot: Arc<OnceLock<Func>>,
    target: String,
) -> Func {
    Func::new(&mut *store, ty.clone(), move |mut caller, params, results| {
        let Some(func) = slot.get() else {
            return Err(wasmtime::Error::new(Error::new(
                ErrorKind::Instantiate,
                format!("`{target}` was called before its module was instantiated (circular imports)"),
            )));
        };
        func.call(&mut caller, params, results)
    })
}

/// Fill the trampolines that wait for exports of module `index`, now that
/// `instance` exists; a missing or differently typed export is a link error.
fn link_deferred(
    store: &mut Store<PluginState>,
    compiled: &Compiled,
    index: usize,
    instance: &Instance,
    pending: &mut Vec<Deferred<'_>>,
) -> Result<()> {
    let module = &compiled.modules[index].name;
    for waiting in pending.iter().filter(|d| d.index == index) {
        let name = waiting.name;
        let func = instance
            .get_func(&mut *store, name)
            .ok_or_else(|| Error::unresolved_import(waiting.importer.to_vec(), module, name))?;
        let found = func.ty(&*store);
        if !found.matches(waiting.ty) || !waiting.ty.matches(&found) {
            return Err(Error::new(
                ErrorKind::Instantiate,
                format!("incompatible import type for `{module}::{name}`"),
            ));
        }
        let _ = waiting.slot.set(func);
    }
    pending.retain(|d| d.index != index);
    Ok(())
}

fn describe_missing(module: &crate::compiled::CompiledModule, position: usize) -> (String, String) {
    module
        .module
        .imports()
        .nth(position)
        .map(|i| (i.module().to_string(), i.name().to_string()))
        .unwrap_or_default()
}

/// The export `name` if it has type `() -> ()` (checked without building an error).
fn nullary(store: &mut Store<PluginState>, instance: &Instance, name: &str) -> Option<TypedFunc<(), ()>> {
    let func = instance.get_func(&mut *store, name)?;
    let ty = func.ty(&*store);
    if ty.params().len() != 0 || ty.results().len() != 0 {
        return None;
    }
    func.typed::<(), ()>(&*store).ok()
}

/// A dependency module: `_initialize` once, as wasmtime's reactor linking does.
fn initialize_reactor(store: &mut Store<PluginState>, instance: &Instance) -> Result<()> {
    if let Some(init) = nullary(store, instance, "_initialize") {
        init.call(&mut *store, ())
            .map_err(|e| init_error("failed to initialize wasi runtime", e))?;
    }
    Ok(())
}

/// The initializers of main, in the official order of precedence (docs/abi.md, Initialization).
fn initialize_main(store: &mut Store<PluginState>, instance: &Instance) -> Result<()> {
    if let Some(hs_init) = instance.get_func(&mut *store, "hs_init") {
        if let Some(init) = nullary(store, instance, "_initialize") {
            init.call(&mut *store, ())
                .map_err(|e| init_error("failed to initialize Haskell reactor runtime", e))?;
        }
        let ty = hs_init.ty(&*store);
        let args: Vec<Val> = ty
            .params()
            .map(|t| Val::default_for_ty(&t).unwrap_or(Val::I32(0)))
            .collect();
        let mut results: Vec<Val> = ty
            .results()
            .map(|t| Val::default_for_ty(&t).unwrap_or(Val::I32(0)))
            .collect();
        hs_init
            .call(&mut *store, &args, &mut results)
            .map_err(|e| init_error("failed to initialize Haskell using hs_init", e))?;
        return Ok(());
    }
    if let Some(ctors) = instance.get_func(&mut *store, "__wasm_call_ctors") {
        if let Ok(f) = ctors.typed::<(), ()>(&*store) {
            f.call(&mut *store, ())
                .map_err(|e| init_error("failed to initialize wasi runtime", e))?;
        }
        return Ok(());
    }
    if let Some(init) = nullary(store, instance, "_initialize") {
        init.call(&mut *store, ())
            .map_err(|e| init_error("failed to initialize wasi runtime", e))?;
    }
    Ok(())
}

fn init_error(context: &str, e: wasmtime::Error) -> Error {
    let (_, cause) = call_error_from_wasmtime(e);
    match cause.kind() {
        // Limits keep their exact texts.
        ErrorKind::Timeout | ErrorKind::OutOfFuel | ErrorKind::OutOfMemory => cause,
        _ => Error::new(ErrorKind::Instantiate, format!("{context}: {}", cause.message())),
    }
}

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<Plugin>();
}
