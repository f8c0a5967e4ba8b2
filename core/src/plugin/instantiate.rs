//! Creating a plugin's store: the kernel first, then every module of the
//! manifest in link order (late-bound trampolines for cycles of function
//! imports), then the initializers (docs/abi.md, Initialization).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use wasmtime::{Extern, Func, Instance, Store, TypedFunc, Val};

use crate::compiled::{Compiled, CompiledModule};
use crate::error::{call_error_from_wasmtime, Error, ErrorKind, OutOfMemory, Result};
use crate::kernel::Kernel;
use crate::limits::{self, Interrupt, MemoryLimiter};
use crate::link::ImportSource;
use crate::log::LogSink;
use crate::state::PluginState;

use super::call::{arm, disarm};

/// Everything a new store is made from and that survives a rebuild.
pub(super) struct Carried {
    pub(super) id: uuid::Uuid,
    pub(super) id_text: Arc<str>,
    pub(super) config: BTreeMap<String, String>,
    pub(super) interrupt: Arc<Interrupt>,
    pub(super) log: Option<LogSink>,
    pub(super) http_headers: bool,
}

/// Create a store and instantiate every module into it (docs/abi.md, Initialization).
pub(super) fn instantiate(
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
        manifest: compiled.manifest.clone(),
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
    store.epoch_deadline_callback(|ctx| limits::on_epoch(ctx.data().deadline, &ctx.data().interrupt));
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

fn describe_missing(module: &CompiledModule, position: usize) -> (String, String) {
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
