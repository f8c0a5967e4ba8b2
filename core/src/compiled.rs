//! Compiling a plugin: classify and load the input, compile every module once,
//! and work out where each import comes from. A `CompiledPlugin` is shared by
//! any number of `Plugin`s (each with its own store and memory).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use wasmtime::{ExternType, Linker, Module};

use crate::dump::Dumps;
use crate::engine::{self, Compiler, EngineKind, Shared};
use crate::error::{Error, Result};
use crate::function::{define_host_function, Function, ValType};
use crate::inline::KERNEL_MODULE;
use crate::link::{
    describe_type, first_func_import, instantiation_order, paths_from, plan_import, plan_kernel_import, ImportSource,
};
use crate::manifest::{LoadOptions, Manifest, MAIN};
use crate::state::PluginState;
use crate::wasi::WasiOutput;

pub(crate) struct CompiledModule {
    pub name: String,
    /// The modules from main down to this one (`["main", "lhs"]`), or this
    /// one alone when main does not depend on it: for import errors.
    pub path: Vec<String>,
    pub module: Module,
    pub imports: Vec<ImportSource>,
    /// The kernel's leaf functions are inlined in it ([`crate::inline`]):
    /// its imports from the kernel module are the rewrite's, not the plugin's.
    pub kernel_inlined: bool,
}

/// Everything that plugins made from one compilation share.
pub(crate) struct Compiled {
    pub shared: &'static Shared,
    pub manifest: Arc<Manifest>,
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

impl CompiledPlugin {
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

    /// The module names and the imports and exports of each, for tools such
    /// as `extism info`, in instantiation order.
    pub fn describe(&self) -> Vec<ModuleDescription> {
        self.inner.modules.iter().map(describe_module).collect()
    }

    /// The imports and exports of the main module: the one named `main`, or
    /// the last one instantiated when none is (docs/manifest.md).
    pub fn describe_main(&self) -> ModuleDescription {
        describe_module(&self.inner.modules[self.inner.main])
    }
}

fn describe_module(m: &CompiledModule) -> ModuleDescription {
    ModuleDescription {
        name: m.name.clone(),
        imports: m
            .module
            .imports()
            // The rewrite's imports are not the plugin's (`crate::inline`).
            .filter(|i| !(m.kernel_inlined && i.module() == KERNEL_MODULE))
            .map(|i| ImportDescription {
                module: i.module().to_string(),
                name: i.name().to_string(),
                kind: ExternKind::of(&i.ty()),
                ty: describe_type(&i.ty()),
            })
            .collect(),
        exports: m
            .module
            .exports()
            .map(|e| ExportDescription {
                name: e.name().to_string(),
                kind: ExternKind::of(&e.ty()),
                ty: describe_type(&e.ty()),
            })
            .collect(),
    }
}

/// What `CompiledPlugin::describe` returns for one module.
#[derive(Debug, Clone)]
pub struct ModuleDescription {
    /// The module's link name (`main` for the main module).
    pub name: String,
    /// Its imports.
    pub imports: Vec<ImportDescription>,
    /// Its exports.
    pub exports: Vec<ExportDescription>,
}

/// One import of a module.
#[derive(Debug, Clone)]
pub struct ImportDescription {
    /// The module it is imported from.
    pub module: String,
    /// Its name in that module.
    pub name: String,
    /// What it is.
    pub kind: ExternKind,
    /// Its type as text: `(func (param i64) (result i64))`, `memory`, ...
    pub ty: String,
}

/// One export of a module.
#[derive(Debug, Clone)]
pub struct ExportDescription {
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: ExternKind,
    /// Its type as text, as for imports.
    pub ty: String,
}

/// What an import or export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternKind {
    /// A function.
    Func,
    /// A linear memory.
    Memory,
    /// A table.
    Table,
    /// A global.
    Global,
    /// An exception tag.
    Tag,
}

impl ExternKind {
    fn of(ty: &ExternType) -> ExternKind {
        match ty {
            ExternType::Func(_) => ExternKind::Func,
            ExternType::Memory(_) => ExternKind::Memory,
            ExternType::Table(_) => ExternKind::Table,
            ExternType::Global(_) => ExternKind::Global,
            ExternType::Tag(_) => ExternKind::Tag,
        }
    }

    /// The kind as the WebAssembly JS API names it (`WebAssembly.Module.exports`):
    /// `function`, `memory`, `table`, `global`, `tag`.
    pub fn js_name(self) -> &'static str {
        match self {
            ExternKind::Func => "function",
            ExternKind::Memory => "memory",
            ExternKind::Table => "table",
            ExternKind::Global => "global",
            ExternKind::Tag => "tag",
        }
    }
}

/// How a compilation is made, besides its manifest and host functions.
pub(crate) struct CompileOptions {
    pub wasi: bool,
    pub wasi_output: WasiOutput,
    pub fuel_limit: Option<u64>,
    pub load: LoadOptions,
    pub dumps: Dumps,
    pub compiler: Compiler,
}

pub(crate) fn compile(manifest: Manifest, functions: Vec<Function>, options: CompileOptions) -> Result<Compiled> {
    let CompileOptions {
        wasi,
        wasi_output,
        fuel_limit,
        load,
        dumps,
        compiler,
    } = options;
    let kind = EngineKind {
        fuel: fuel_limit.is_some(),
        coredump: dumps.coredump.is_some(),
        compiler,
    };
    let shared = engine::shared(kind)?;
    let engine = &shared.engine;
    let sources = manifest.load_modules(load)?;

    let mut linker: Linker<PluginState> = Linker::new(engine);
    linker.allow_shadowing(true);
    crate::pdk::add_to_linker(&mut linker)?;
    if wasi {
        crate::wasi::add_to_linker(&mut linker, PluginState::wasi_mut)?;
    }
    let mut compiled: Vec<(String, Module)> = Vec::with_capacity(sources.len());
    let mut kernel_inlined = Vec::with_capacity(sources.len());
    for source in sources {
        let (module, inlined) = crate::module_cache::module(engine, kind.index(), &source.bytes)?;
        compiled.push((source.name, module));
        kernel_inlined.push(inlined);
    }

    // Later definitions of the same (namespace, name) win (docs/abi.md, User host functions).
    // Functions typed by their import take its type now; one that nothing
    // imports is left out.
    let mut user: HashMap<(String, String), wasmtime::FuncType> = HashMap::new();
    // Every namespace the host gave functions for, imported or not: for the
    // error of an import the host's namespace does not hold.
    let host_namespaces: HashSet<String> = functions.iter().map(|f| f.namespace.clone()).collect();
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
            .map(|import| {
                match plan_kernel_import(shared, &import, kernel_inlined[i], &path)
                    .unwrap_or_else(|| plan_import(shared, &import, &position, &user, &host_namespaces, wasi, &path))
                {
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
                }
            })
            .collect();
        modules.push(CompiledModule {
            name: name.clone(),
            path,
            module: module.clone(),
            imports,
            kernel_inlined: kernel_inlined[i],
        });
    }
    let main = modules.iter().position(|m| m.name == MAIN).unwrap_or(modules.len() - 1);
    Ok(Compiled {
        shared,
        manifest: Arc::new(manifest),
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
