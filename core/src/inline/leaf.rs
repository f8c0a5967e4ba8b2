//! The kernel's inlinable leaf functions, read once from `kernel.wat`:
//! their bodies, and the kernel memories and globals those bodies use.

use std::sync::OnceLock;

use wasmparser::{ExternalKind, FuncType, FunctionBody, Operator, Parser, Payload, ValType};

use crate::kernel::{ENV_MODULE, KERNEL_WAT};

/// The kernel functions that can be inlined, with what their bodies need.
pub(super) struct Kernel {
    /// By the name a plugin imports them under.
    pub(super) functions: Vec<(&'static str, Inlined)>,
    /// The kernel memories and globals the bodies use, as (export name, type).
    pub(super) memories: Vec<(&'static str, wasmparser::MemoryType)>,
    pub(super) globals: Vec<(&'static str, wasmparser::GlobalType)>,
}

pub(super) fn kernel() -> Option<&'static Kernel> {
    static KERNEL: OnceLock<Option<Kernel>> = OnceLock::new();
    KERNEL
        .get_or_init(|| {
            let wasm: &'static [u8] = Box::leak(wat::parse_str(KERNEL_WAT).ok()?.into_boxed_slice());
            Kernel::read(wasm)
        })
        .as_ref()
}

impl Kernel {
    fn read(wasm: &'static [u8]) -> Option<Kernel> {
        let mut types: Vec<FuncType> = Vec::new();
        let mut function_types = Vec::new();
        let mut memories = Vec::new();
        let mut globals = Vec::new();
        let mut exports = Vec::new();
        let mut bodies = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.ok()? {
                Payload::TypeSection(s) => {
                    for group in s {
                        for sub in group.ok()?.into_types() {
                            match sub.composite_type.inner {
                                wasmparser::CompositeInnerType::Func(f) => types.push(f),
                                _ => return None,
                            }
                        }
                    }
                }
                Payload::ImportSection(_) => return None,
                Payload::FunctionSection(s) => function_types = s.into_iter().collect::<Result<_, _>>().ok()?,
                Payload::MemorySection(s) => memories = s.into_iter().collect::<Result<_, _>>().ok()?,
                Payload::GlobalSection(s) => {
                    for g in s {
                        globals.push(g.ok()?.ty);
                    }
                }
                Payload::ExportSection(s) => exports = s.into_iter().collect::<Result<_, _>>().ok()?,
                Payload::CodeSectionEntry(body) => bodies.push(body),
                _ => {}
            }
        }
        let export_of = |kind: ExternalKind, index: u32| {
            exports
                .iter()
                .find(|e| e.kind == kind && e.index == index)
                .map(|e| e.name)
        };
        let mut kernel = Kernel {
            functions: Vec::new(),
            memories: Vec::new(),
            globals: Vec::new(),
        };
        for export in exports.iter().filter(|e| e.kind == ExternalKind::Func) {
            let Some(body) = bodies.get(export.index as usize) else {
                continue;
            };
            let Some(ty) = function_types
                .get(export.index as usize)
                .and_then(|t| types.get(*t as usize))
            else {
                continue;
            };
            let mut uses = Uses::default();
            let Some(body) = Inlined::of(ty, body, &mut uses) else {
                continue;
            };
            // Each memory and global the body uses must be exported for the plugin to import.
            let memories: Option<Vec<_>> = uses
                .memories
                .iter()
                .map(|&m| Some((export_of(ExternalKind::Memory, m)?, *memories.get(m as usize)?)))
                .collect();
            let globals: Option<Vec<_>> = uses
                .globals
                .iter()
                .map(|&g| Some((export_of(ExternalKind::Global, g)?, *globals.get(g as usize)?)))
                .collect();
            let (Some(memories), Some(globals)) = (memories, globals) else {
                continue;
            };
            for m in memories {
                if !kernel.memories.iter().any(|(name, _)| *name == m.0) {
                    kernel.memories.push(m);
                }
            }
            for g in globals {
                if !kernel.globals.iter().any(|(name, _)| *name == g.0) {
                    kernel.globals.push(g);
                }
            }
            kernel.functions.push((export.name, body));
        }
        // Bodies name kernel indices; the rewrite maps them to the imports.
        let kernel_memories: Vec<(u32, usize)> = kernel
            .memories
            .iter()
            .enumerate()
            .filter_map(|(at, (name, _))| Some((export_index(&exports, ExternalKind::Memory, name)?, at)))
            .collect();
        let kernel_globals: Vec<(u32, usize)> = kernel
            .globals
            .iter()
            .enumerate()
            .filter_map(|(at, (name, _))| Some((export_index(&exports, ExternalKind::Global, name)?, at)))
            .collect();
        for (_, body) in &mut kernel.functions {
            body.memory_slots = kernel_memories.clone();
            body.global_slots = kernel_globals.clone();
        }
        Some(kernel)
    }
}

fn export_index(exports: &[wasmparser::Export<'_>], kind: ExternalKind, name: &str) -> Option<u32> {
    exports
        .iter()
        .find(|e| e.kind == kind && e.name == name)
        .map(|e| e.index)
}

#[derive(Default)]
struct Uses {
    memories: Vec<u32>,
    globals: Vec<u32>,
}

/// A kernel function's body, ready to be copied to a call site.
pub(super) struct Inlined {
    pub(super) params: Vec<ValType>,
    pub(super) body: Vec<Operator<'static>>,
    /// Kernel memory index → position among the imported kernel memories.
    pub(super) memory_slots: Vec<(u32, usize)>,
    pub(super) global_slots: Vec<(u32, usize)>,
}

impl Inlined {
    fn of(ty: &FuncType, body: &FunctionBody<'static>, uses: &mut Uses) -> Option<Inlined> {
        if body.get_locals_reader().ok()?.get_count() != 0 {
            return None;
        }
        let params = ty.params().to_vec();
        if params.iter().filter(|t| **t == ValType::I64).count() > 2
            || params.iter().filter(|t| **t == ValType::I32).count() > 1
            || params.iter().any(|t| !matches!(t, ValType::I32 | ValType::I64))
        {
            return None;
        }
        let mut reader = body.get_operators_reader().ok()?;
        let mut ops = Vec::new();
        while !reader.eof() {
            let op = reader.read().ok()?;
            let memory = match &op {
                Operator::I32Load8U { memarg }
                | Operator::I64Load { memarg }
                | Operator::I32Store8 { memarg }
                | Operator::I64Store { memarg } => Some(memarg.memory),
                Operator::LocalGet { .. }
                | Operator::If { .. }
                | Operator::Else
                | Operator::End
                | Operator::I32Const { .. }
                | Operator::I64Const { .. }
                | Operator::I32And
                | Operator::I32WrapI64
                | Operator::I64Add
                | Operator::I64Sub
                | Operator::I64GeU
                | Operator::I64LeU
                | Operator::I64LtU => None,
                Operator::GlobalGet { global_index } => {
                    if !uses.globals.contains(global_index) {
                        uses.globals.push(*global_index);
                    }
                    None
                }
                _ => return None,
            };
            if let Some(m) = memory.filter(|m| !uses.memories.contains(m)) {
                uses.memories.push(m);
            }
            ops.push(op);
        }
        // The function's own `end` is not part of the inlined body.
        match ops.pop() {
            Some(Operator::End) => {}
            _ => return None,
        }
        Some(Inlined {
            params,
            body: ops,
            memory_slots: Vec::new(),
            global_slots: Vec::new(),
        })
    }
}

impl Kernel {
    /// The inlinable kernel function a plugin import names, if its type is the kernel's.
    pub(super) fn inlinable(&self, import: &wasmparser::Import<'_>, ty: &FuncType) -> Option<usize> {
        if import.module != ENV_MODULE {
            return None;
        }
        let at = self.functions.iter().position(|(name, _)| *name == import.name)?;
        let body = &self.functions[at].1;
        // A mistyped import is left for linking to refuse.
        (ty.params() == body.params.as_slice() && ty.results().len() <= 1).then_some(at)
    }
}
