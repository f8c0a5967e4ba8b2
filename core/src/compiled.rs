//! Compiling a plugin: classify and load the input, compile every module once,
//! and work out where each import comes from. A `CompiledPlugin` is shared by
//! any number of `Plugin`s (each with its own store and memory).

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::{ExternType, Linker, Module, ModuleExport};

use crate::dump::Dumps;
use crate::engine::{self, EngineKind, Shared};
use crate::error::{wasmtime_text, Error, Result};
use crate::function::{Function, ValType};
use crate::kernel::{ENV_MODULE, KERNEL_FUNCTIONS};
use crate::log::LogSink;
use crate::manifest::{classify, LoadOptions, Manifest, Source, Wasm, MAIN};
use crate::pdk::BUILTIN_FUNCTIONS;
use crate::plugin::Plugin;
use crate::state::PluginState;
use crate::wasi::WasiOutput;

/// Where one import of a module is satisfied from.
pub(crate) enum ImportSource {
    /// An export of the kernel instance (wasm to wasm).
    Kernel(ModuleExport),
    /// A host function or WASI function defined in the linker.
    Linker { module: String, name: String },
    /// An export of another module of the manifest (index into `modules`).
    Module { index: usize, name: String },
    /// A function export of a module instantiated later (a cycle of
    /// function imports): a trampoline that calls it once it exists.
    Deferred {
        index: usize,
        name: String,
        ty: wasmtime::FuncType,
    },
    /// The import cannot be satisfied; instantiation fails with this error.
    Unresolved(Error),
}

pub(crate) struct CompiledModule {
    pub name: String,
    /// The modules from main down to this one (`["main", "lhs"]`), or this
    /// one alone when main does not depend on it: for import errors.
    pub path: Vec<String>,
    pub module: Module,
    pub imports: Vec<ImportSource>,
}

/// Everything that plugins made from one compilation share.
pub(crate) struct Compiled {
    pub shared: &'static Shared,
    pub manifest: Manifest,
    /// In instantiation order: every module comes after those it imports from.
    pub modules: Vec<CompiledModule>,
    pub main: usize,
    pub linker: Linker<PluginState>,
    pub wasi: bool,
    /// Resolved: never `FromEnvironment`.
    pub wasi_output: WasiOutput,
    pub fuel_limit: Option<u64>,
    /// Where a failed call's coredump and memory dump go.
    pub dumps: Dumps,
    /// The host functions as defined (with their types): kept so they (and
    /// their user data) live as long as this.
    pub functions: Vec<Function>,
}

/// A compiled plugin: create many `Plugin`s from it cheaply, from any thread.
/// `Send + Sync`; cloning shares the compilation.
#[derive(Clone)]
pub struct CompiledPlugin {
    pub(crate) inner: Arc<Compiled>,
}

/// Options for creating a plugin. Every frontend sets them through these
/// methods, so they mean the same everywhere.
#[derive(Clone)]
pub struct PluginBuilder {
    source: BuilderSource,
    wasi: bool,
    wasi_output: WasiOutput,
    functions: Vec<Function>,
    fuel_limit: Option<u64>,
    load: LoadOptions,
    log: Option<LogSink>,
    http_response_headers: bool,
    coredump: Option<std::path::PathBuf>,
    memdump: Option<std::path::PathBuf>,
}

#[derive(Clone)]
enum BuilderSource {
    Bytes(Vec<u8>),
    Manifest(Box<Manifest>),
}

impl PluginBuilder {
    /// From wasm bytes, WAT text or manifest text (JSON or TOML), classified
    /// as docs/manifest.md, Input classification, says.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self::with_source(BuilderSource::Bytes(bytes.into()))
    }

    /// From a manifest value.
    pub fn from_manifest(manifest: Manifest) -> Self {
        Self::with_source(BuilderSource::Manifest(Box::new(manifest)))
    }

    fn with_source(source: BuilderSource) -> Self {
        PluginBuilder {
            source,
            wasi: false,
            wasi_output: WasiOutput::FromEnvironment,
            functions: Vec::new(),
            fuel_limit: None,
            load: LoadOptions::default(),
            log: None,
            http_response_headers: false,
            coredump: None,
            memdump: None,
        }
    }

    /// Provide WASI preview 1 (and the legacy `wasi_unstable`).
    pub fn with_wasi(mut self, wasi: bool) -> Self {
        self.wasi = wasi;
        self
    }

    /// Where the plugin's WASI stdout and stderr go (with WASI on).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use extism_core::{PluginBuilder, WasiOutput};
    ///
    /// let wat = r#"(module
    ///   (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
    ///   (memory (export "memory") 1)
    ///   (data (i32.const 0) "hi\n")
    ///   (func (export "run") (result i32)
    ///     (i32.store (i32.const 8) (i32.const 0))
    ///     (i32.store (i32.const 12) (i32.const 3))
    ///     (drop (call $w (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 16)))
    ///     (i32.const 0)))"#;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let mut plugin = PluginBuilder::new(wat)
    ///     .with_wasi(true)
    ///     .with_wasi_output(WasiOutput::Writer(Arc::new(move |_, bytes: &[u8]| {
    ///         sink.lock().unwrap().extend_from_slice(bytes)
    ///     })))
    ///     .build()
    ///     .unwrap();
    /// plugin.call("run", b"").unwrap();
    /// assert_eq!(*seen.lock().unwrap(), b"hi\n");
    /// ```
    pub fn with_wasi_output(mut self, output: WasiOutput) -> Self {
        self.wasi_output = output;
        self
    }

    /// A host function plugins may import (later ones of the same name win).
    pub fn with_function(mut self, f: Function) -> Self {
        self.functions.push(f);
        self
    }

    /// Several host functions, as `with_function` each.
    pub fn with_functions(mut self, fs: impl IntoIterator<Item = Function>) -> Self {
        self.functions.extend(fs);
        self
    }

    /// A fuel budget, refilled at the start of every call.
    pub fn with_fuel_limit(mut self, limit: Option<u64>) -> Self {
        self.fuel_limit = limit;
        self
    }

    /// Accept `{"ptr", "len"}` wasm data (only for callers whose memory that is).
    pub fn allow_raw_pointers(mut self, allow: bool) -> Self {
        self.load.allow_raw_pointers = allow;
        self
    }

    /// Send this plugin's log messages to `sink` instead of the global logger.
    pub fn with_log_sink(mut self, sink: Option<LogSink>) -> Self {
        self.log = sink;
        self
    }

    /// Record HTTP response headers for `http_headers` from the start.
    pub fn with_http_response_headers(mut self, enabled: bool) -> Self {
        self.http_response_headers = enabled;
        self
    }

    /// When a call traps, write a wasm coredump of it to `path` (as
    /// `EXTISM_COREDUMP` does, which applies when this is not set).
    pub fn with_coredump(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.coredump = Some(path.into());
        self
    }

    /// When a call fails, write Extism memory's bytes to `path` (as
    /// `EXTISM_MEMDUMP` does, which applies when this is not set).
    pub fn with_memdump(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.memdump = Some(path.into());
        self
    }

    /// Compile without creating an instance.
    pub fn compile(self) -> Result<CompiledPlugin> {
        let manifest = match self.source {
            BuilderSource::Manifest(m) => *m,
            BuilderSource::Bytes(bytes) => match classify(&bytes)? {
                Source::Manifest(m) => *m,
                Source::Module(bytes) => Manifest::new(Wasm::data(bytes)),
            },
        };
        let inner = compile(
            manifest,
            self.wasi,
            self.wasi_output.resolve(),
            self.functions,
            self.fuel_limit,
            self.load,
            Dumps::resolve(self.coredump, self.memdump),
        )?;
        Ok(CompiledPlugin { inner: Arc::new(inner) })
    }

    /// Compile and create the plugin (instantiated now, so link errors and
    /// initializer failures are reported here).
    pub fn build(self) -> Result<Plugin> {
        let log = self.log.clone();
        let headers = self.http_response_headers;
        let compiled = self.compile()?;
        let mut plugin = Plugin::new(&compiled, log)?;
        if headers {
            plugin.allow_http_response_headers();
        }
        Ok(plugin)
    }
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

    /// The manifest it was compiled from.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// The fuel budget of each call, if any.
    pub fn fuel_limit(&self) -> Option<u64> {
        self.inner.fuel_limit
    }

    /// Whether its plugins get WASI.
    pub fn wasi(&self) -> bool {
        self.inner.wasi
    }

    /// The parameter and result types of host function `namespace::name` in
    /// this compilation (for `Function::typed_by_import`, those of its
    /// import); None when it is not defined here.
    pub fn host_function_type(&self, namespace: &str, name: &str) -> Option<(&[ValType], &[ValType])> {
        self.inner
            .functions
            .iter()
            .rev()
            .find(|f| f.namespace == namespace && f.name == name)
            .map(|f| (f.params.as_slice(), f.results.as_slice()))
    }

    /// The module names and the imports and exports of each, as
    /// `(module, name, type)` text, for tools such as `extism info`.
    pub fn describe(&self) -> Vec<ModuleDescription> {
        self.inner
            .modules
            .iter()
            .map(|m| ModuleDescription {
                name: m.name.clone(),
                imports: m
                    .module
                    .imports()
                    .map(|i| (i.module().to_string(), i.name().to_string(), describe_type(&i.ty())))
                    .collect(),
                exports: m
                    .module
                    .exports()
                    .map(|e| (e.name().to_string(), describe_type(&e.ty())))
                    .collect(),
            })
            .collect()
    }
}

/// What `CompiledPlugin::describe` returns for one module.
#[derive(Debug, Clone)]
pub struct ModuleDescription {
    /// The module's link name (`main` for the main module).
    pub name: String,
    /// Its imports as (module, name, type text).
    pub imports: Vec<(String, String, String)>,
    /// Its exports as (name, type text).
    pub exports: Vec<(String, String)>,
}

/// A function type as `(func (param ..) (result ..))`.
pub(crate) fn func_type_text(ty: &wasmtime::FuncType) -> String {
    let text = ty.to_string();
    match text.strip_prefix("(type ").and_then(|t| t.strip_suffix(')')) {
        Some(inner) => inner.to_string(),
        None => text,
    }
}

fn describe_type(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => func_type_text(f),
        ExternType::Memory(_) => "memory".into(),
        ExternType::Table(_) => "table".into(),
        ExternType::Global(_) => "global".into(),
        ExternType::Tag(_) => "tag".into(),
    }
}

fn compile(
    manifest: Manifest,
    wasi: bool,
    wasi_output: WasiOutput,
    functions: Vec<Function>,
    fuel_limit: Option<u64>,
    load: LoadOptions,
    dumps: Dumps,
) -> Result<Compiled> {
    let kind = EngineKind {
        fuel: fuel_limit.is_some(),
        coredump: dumps.coredump.is_some(),
    };
    let shared = engine::shared(kind)?;
    let engine = &shared.engine;
    let sources = manifest.load_modules(load)?;

    let mut linker: Linker<PluginState> = Linker::new(engine);
    linker.allow_shadowing(true);
    crate::pdk::add_to_linker(&mut linker)?;
    if wasi {
        crate::wasi::add_to_linker(&mut linker)?;
    }
    let mut compiled: Vec<(String, Module)> = Vec::with_capacity(sources.len());
    for source in sources {
        let module = crate::module_cache::module(engine, kind.index(), &source.bytes)?;
        compiled.push((source.name, module));
    }

    // Later definitions of the same (namespace, name) win (docs/abi.md, User host functions).
    // Functions typed by their import take its type now; one that nothing
    // imports is left out.
    let mut user: HashMap<(String, String), wasmtime::FuncType> = HashMap::new();
    let mut defined = Vec::with_capacity(functions.len());
    for f in functions {
        f.check_namespace()?;
        let (f, ty) = if f.typed_by_import {
            let Some(import) = first_func_import(&compiled, &f.namespace, &f.name) else {
                continue;
            };
            (f.with_import_type(&import)?, import)
        } else {
            let ty = f.func_type(engine)?;
            (f, ty)
        };
        define_host_function(&mut linker, &f, ty.clone())?;
        user.insert((f.namespace.clone(), f.name.clone()), ty);
        defined.push(f);
    }
    let order = instantiation_order(&compiled)?;
    let position: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(pos, &i)| (compiled[i].0.as_str(), pos))
        .collect();

    let main_name = match compiled.iter().find(|(n, _)| n == MAIN) {
        Some((n, _)) => n.clone(),
        None => compiled[*order.last().unwrap_or(&0)].0.clone(),
    };
    let paths = paths_from(&compiled, &main_name);

    let mut modules = Vec::with_capacity(compiled.len());
    for (me, &i) in order.iter().enumerate() {
        let (name, module) = &compiled[i];
        let path = paths.get(name.as_str()).cloned().unwrap_or_else(|| vec![name.clone()]);
        let imports = module
            .imports()
            .map(
                |import| match plan_import(shared, &import, &position, &user, wasi, &path) {
                    // From this module itself or one instantiated later.
                    ImportSource::Module { index, name } if index >= me => match import.ty() {
                        ExternType::Func(ty) => ImportSource::Deferred { index, name, ty },
                        // The order puts a later module first for any other
                        // kind, so this is a module importing from itself.
                        other => ImportSource::Unresolved(Error::compile(format!(
                            "module `{}` cannot import its own {} `{name}`",
                            import.module(),
                            describe_type(&other)
                        ))),
                    },
                    source => source,
                },
            )
            .collect();
        modules.push(CompiledModule {
            name: name.clone(),
            path,
            module: module.clone(),
            imports,
        });
    }
    let main = modules.iter().position(|m| m.name == MAIN).unwrap_or(modules.len() - 1);
    Ok(Compiled {
        shared,
        manifest,
        modules,
        main,
        linker,
        wasi,
        wasi_output,
        fuel_limit,
        dumps,
        functions: defined,
    })
}

/// The type of the first function import `namespace::name` of `modules`.
fn first_func_import(modules: &[(String, Module)], namespace: &str, name: &str) -> Option<wasmtime::FuncType> {
    modules.iter().find_map(|(_, module)| {
        module.imports().find_map(|import| match import.ty() {
            ExternType::Func(ty) if import.module() == namespace && import.name() == name => Some(ty),
            _ => None,
        })
    })
}

fn define_host_function(linker: &mut Linker<PluginState>, f: &Function, ty: wasmtime::FuncType) -> Result<()> {
    let callback = f.callback.clone();
    let results = f.results.clone();
    let name = f.name.clone();
    linker
        .func_new(&f.namespace, &f.name, ty, move |caller, args, outs| {
            // Values live on the stack for the usual few of them: a host call
            // should not cost two heap allocations.
            let mut inputs = crate::HostValues::new(args.len(), crate::Val::I32(0));
            for (slot, arg) in inputs.as_mut_slice().iter_mut().zip(args) {
                *slot = crate::Val::from_wasmtime(arg);
            }
            let mut outputs = crate::HostValues::new(results.len(), crate::Val::I32(0));
            for (slot, ty) in outputs.as_mut_slice().iter_mut().zip(&results) {
                *slot = crate::Val::zero(*ty);
            }
            let mut current = crate::CurrentPlugin::new(caller);
            // A panicking host function ends the call with an error instead of
            // unwinding through wasm into the embedder (or across an FFI boundary).
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                callback(&mut current, inputs.as_mut_slice(), outputs.as_mut_slice())
            }));
            match outcome {
                Ok(result) => result.map_err(wasmtime::Error::new)?,
                Err(panic) => {
                    return Err(wasmtime::Error::new(Error::host(format!(
                        "host function {name} panicked: {}",
                        crate::error::panic_message(&*panic)
                    ))));
                }
            }
            for ((slot, value), ty) in outs.iter_mut().zip(outputs.as_mut_slice().iter()).zip(&results) {
                *slot = value.to_wasmtime(*ty);
            }
            Ok(())
        })
        .map_err(|e| Error::compile(wasmtime_text(&e)))?;
    Ok(())
}

fn plan_import(
    shared: &Shared,
    import: &wasmtime::ImportType<'_>,
    position: &HashMap<&str, usize>,
    user: &HashMap<(String, String), wasmtime::FuncType>,
    wasi: bool,
    path: &[String],
) -> ImportSource {
    let (module, name) = (import.module(), import.name());
    let key = (module.to_string(), name.to_string());
    let ty = import.ty();
    let linker_source = || ImportSource::Linker {
        module: module.to_string(),
        name: name.to_string(),
    };
    if let Some(provided) = user.get(&key) {
        if let ExternType::Func(expected) = &ty {
            if !provided.matches(expected) || !expected.matches(provided) {
                return ImportSource::Unresolved(Error::compile(format!(
                    "types incompatible: expected type `{}`, found type `{}`",
                    func_type_text(expected),
                    func_type_text(provided)
                )));
            }
        }
        if !(module == ENV_MODULE && KERNEL_FUNCTIONS.contains(&name)) {
            return linker_source();
        }
    }
    if module == ENV_MODULE {
        let ExternType::Func(_) = &ty else {
            return ImportSource::Unresolved(Error::compile(
                "linked modules cannot access non-function exports of extism kernel",
            ));
        };
        if KERNEL_FUNCTIONS.contains(&name) {
            if let Some(export) = shared.kernel.get_export_index(name) {
                return ImportSource::Kernel(export);
            }
        }
        if BUILTIN_FUNCTIONS.contains(&name) {
            return linker_source();
        }
        return ImportSource::Unresolved(Error::compile(format!(
            "Invalid function import from {ENV_MODULE}: {name} (type {})\n\nNote: This may indicate that the \
             PDK that was used to build this plugin has additional features that are not supported by this \
             runtime; update the runtime or use an older PDK.",
            describe_type(&ty)
        )));
    }
    if let Some(&index) = position.get(module) {
        return ImportSource::Module {
            index,
            name: name.to_string(),
        };
    }
    if wasi && (module == "wasi_snapshot_preview1" || module == "wasi_unstable") {
        return linker_source();
    }
    ImportSource::Unresolved(Error::unresolved_import(path.to_vec(), module, name))
}

/// For each module main reaches through imports, the shortest chain of
/// modules from main to it.
fn paths_from<'a>(modules: &'a [(String, Module)], main: &'a str) -> HashMap<&'a str, Vec<String>> {
    let mut paths: HashMap<&str, Vec<String>> = HashMap::new();
    paths.insert(main, vec![main.to_string()]);
    let mut queue = std::collections::VecDeque::from([main]);
    while let Some(at) = queue.pop_front() {
        let Some((_, module)) = modules.iter().find(|(n, _)| n == at) else {
            continue;
        };
        for import in module.imports() {
            let Some((next, _)) = modules.iter().find(|(n, _)| n == import.module()) else {
                continue;
            };
            if !paths.contains_key(next.as_str()) {
                let mut path = paths[at].clone();
                path.push(next.clone());
                paths.insert(next.as_str(), path);
                queue.push_back(next.as_str());
            }
        }
    }
    paths
}

/// The order to instantiate the modules in: every module after those it
/// imports memories, tables, globals or tags from, and, where a cycle leaves
/// no other way, before a module it imports only functions from (those
/// imports are then linked late, see `ImportSource::Deferred`). Among the
/// modules that may come next, one whose function imports are all satisfied
/// is preferred, then the first in manifest order. A cycle through a
/// non-function import can never be resolved and is an error.
fn instantiation_order(modules: &[(String, Module)]) -> Result<Vec<usize>> {
    let index: HashMap<&str, usize> = modules.iter().enumerate().map(|(i, (n, _))| (n.as_str(), i)).collect();
    // For each module: the modules it imports from, and whether any such
    // import is not a function (a "hard" dependency).
    let deps: Vec<Vec<(usize, bool)>> = modules
        .iter()
        .enumerate()
        .map(|(me, (_, m))| {
            let mut d: Vec<(usize, bool)> = Vec::new();
            for import in m.imports() {
                let Some(&from) = index.get(import.module()) else {
                    continue;
                };
                if from == me {
                    continue;
                }
                let hard = !matches!(import.ty(), ExternType::Func(_));
                match d.iter_mut().find(|(i, _)| *i == from) {
                    Some(entry) => entry.1 |= hard,
                    None => d.push((from, hard)),
                }
            }
            d
        })
        .collect();
    let mut placed = vec![false; modules.len()];
    let mut order = Vec::with_capacity(modules.len());
    while order.len() < modules.len() {
        let ready =
            |i: usize, soft_too: bool| !placed[i] && deps[i].iter().all(|&(d, hard)| placed[d] || !(hard || soft_too));
        let next = (0..modules.len())
            .find(|&i| ready(i, true))
            .or_else(|| (0..modules.len()).find(|&i| ready(i, false)));
        match next {
            Some(i) => {
                placed[i] = true;
                order.push(i);
            }
            None => return Err(hard_cycle_error(modules, &deps, &placed)),
        }
    }
    Ok(order)
}

/// The error for a cycle of non-function imports among the unplaced modules,
/// naming it: `a -> b -> a`.
fn hard_cycle_error(modules: &[(String, Module)], deps: &[Vec<(usize, bool)>], placed: &[bool]) -> Error {
    // Every unplaced module has an unplaced hard dependency: follow them
    // until one repeats.
    let mut path: Vec<usize> = Vec::new();
    let mut at = (0..modules.len()).find(|&i| !placed[i]).unwrap_or(0);
    while !path.contains(&at) {
        path.push(at);
        match deps[at].iter().find(|&&(d, hard)| hard && !placed[d]) {
            Some(&(d, _)) => at = d,
            None => break,
        }
    }
    let start = path.iter().position(|&p| p == at).unwrap_or(0);
    let mut names: Vec<&str> = path[start..].iter().map(|&p| modules[p].0.as_str()).collect();
    names.push(&modules[at].0);
    Error::compile(format!(
        "circular imports between Extism manifest modules: {}",
        names.join(" -> ")
    ))
}
