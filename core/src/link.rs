//! Linking a compilation's modules: where each import comes from (the
//! kernel, the host, another module or a late-bound trampoline), in which
//! order the modules are instantiated, and the chain of modules from main to
//! each (for error texts).

use std::collections::{HashMap, HashSet};

use wasmtime::{ExternType, Module, ModuleExport};

use crate::engine::Shared;
use crate::error::{Error, Result};
use crate::inline::KERNEL_MODULE;
use crate::kernel::{ENV_MODULE, KERNEL_FUNCTIONS};
use crate::pdk::BUILTIN_FUNCTIONS;

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

/// The type of the first function import `namespace::name` of `modules`.
pub(crate) fn first_func_import(
    modules: &[(String, Module)],
    namespace: &str,
    name: &str,
) -> Option<wasmtime::FuncType> {
    modules.iter().find_map(|(_, module)| {
        module.imports().find_map(|import| match import.ty() {
            ExternType::Func(ty) if import.module() == namespace && import.name() == name => Some(ty),
            _ => None,
        })
    })
}

/// Where an import of a module whose kernel leaf functions were inlined
/// comes from, when it is one the rewrite added (`crate::inline`): the kernel
/// instance's memory and globals. `None` for every other import; a plugin's
/// own imports from the kernel module are refused by [`plan_import`].
pub(crate) fn plan_kernel_import(
    shared: &Shared,
    import: &wasmtime::ImportType<'_>,
    kernel_inlined: bool,
    path: &[String],
) -> Option<ImportSource> {
    if !kernel_inlined || import.module() != KERNEL_MODULE {
        return None;
    }
    Some(match shared.kernel.get_export_index(import.name()) {
        Some(export) => ImportSource::Kernel(export),
        None => ImportSource::Unresolved(Error::unresolved_import(path.to_vec(), import.module(), import.name())),
    })
}

pub(crate) fn plan_import(
    shared: &Shared,
    import: &wasmtime::ImportType<'_>,
    position: &HashMap<&str, usize>,
    user: &HashMap<(String, String), wasmtime::FuncType>,
    host_namespaces: &HashSet<String>,
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
    let host_module = host_namespaces.contains(module);
    ImportSource::Unresolved(Error::unresolved_host_import(path.to_vec(), module, name, host_module))
}

/// For each module main reaches through imports, the shortest chain of
/// modules from main to it.
pub(crate) fn paths_from<'a>(modules: &'a [(String, Module)], main: &'a str) -> HashMap<&'a str, Vec<String>> {
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
pub(crate) fn instantiation_order(modules: &[(String, Module)]) -> Result<Vec<usize>> {
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
pub(crate) fn hard_cycle_error(modules: &[(String, Module)], deps: &[Vec<(usize, bool)>], placed: &[bool]) -> Error {
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

/// A function type as `(func (param ..) (result ..))`.
pub(crate) fn func_type_text(ty: &wasmtime::FuncType) -> String {
    let text = ty.to_string();
    match text.strip_prefix("(type ").and_then(|t| t.strip_suffix(')')) {
        Some(inner) => inner.to_string(),
        None => text,
    }
}

pub(crate) fn describe_type(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => func_type_text(f),
        ExternType::Memory(_) => "memory".into(),
        ExternType::Table(_) => "table".into(),
        ExternType::Global(_) => "global".into(),
        ExternType::Tag(_) => "tag".into(),
    }
}
