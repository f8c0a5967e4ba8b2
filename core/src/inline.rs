//! The kernel's small leaf functions inlined into plugin modules.
//!
//! Every byte a PDK plugin moves goes through a kernel call (`load_u64`,
//! `store_u64`, `input_load_u64`, ...), and a call into the kernel's
//! instance costs far more than its few instructions: the callee's entry
//! checks (stack limit, epoch), saved registers and the switch of instance.
//! So each call of such a function in a plugin module is replaced by the
//! function's body, which then reads and writes the kernel's memory and
//! globals through imports of them (from [`KERNEL_MODULE`], linked to the
//! plugin's kernel instance). Nothing else changes: the kernel instance
//! stays the one owner of Extism memory, the plugin keeps its imports
//! (so it is described as written) and every other kernel call.
//!
//! A function is inlined only if it is a leaf the rewrite can copy without
//! thought: no locals, calls, branches or returns, only the instructions
//! listed in [`Inlined::of`]. Bounds checks and results are the kernel's own
//! code, so behaviour is the same; only fuel counts differ by the moves of
//! the arguments into locals.

use std::sync::OnceLock;

use wasm_encoder::reencode::{Error as ReencodeError, Reencode};
use wasm_encoder::{EntityType, GlobalType, ImportSection, Instruction, Module, SectionId};
use wasmparser::{ExternalKind, FuncType, FunctionBody, Operator, Parser, Payload, TypeRef, ValType};

use crate::kernel::{ENV_MODULE, KERNEL_WAT};

/// The import module through which a rewritten plugin reaches the kernel
/// instance's memory and globals. Only modules this rewrite made may
/// import from it.
pub const KERNEL_MODULE: &str = "extism:kernel";

type Error = ReencodeError<std::convert::Infallible>;

/// The kernel functions that can be inlined, with what their bodies need.
struct Kernel {
    /// By the name a plugin imports them under.
    functions: Vec<(&'static str, Inlined)>,
    /// The kernel memories and globals the bodies use, as (export name, type).
    memories: Vec<(&'static str, wasmparser::MemoryType)>,
    globals: Vec<(&'static str, wasmparser::GlobalType)>,
}

fn kernel() -> Option<&'static Kernel> {
    static KERNEL: OnceLock<Option<Kernel>> = OnceLock::new();
    KERNEL
        .get_or_init(|| {
            let wasm: &'static [u8] = Box::leak(wat::parse_str(KERNEL_WAT).ok()?.into_boxed_slice());
            Kernel::read(wasm)
        })
        .as_ref()
}

/// `plugin` with the kernel's leaf functions inlined at their call sites,
/// or `None` when there is nothing to inline or it cannot be parsed (then
/// it is compiled as it is, and compiling reports what is wrong with it).
pub(crate) fn inline_kernel(plugin: &[u8]) -> Option<Vec<u8>> {
    let wasm = if plugin.starts_with(b"\0asm") {
        std::borrow::Cow::Borrowed(plugin)
    } else {
        wat::parse_bytes(plugin).ok()?
    };
    let kernel = kernel()?;
    let plan = Plan::new(&wasm, kernel)?;
    let mut rewriter = Rewriter {
        plan: &plan,
        kernel,
        defined_functions: 0,
        imports_written: false,
    };
    let mut module = Module::new();
    rewriter.parse_core_module(&mut module, Parser::new(0), &wasm).ok()?;
    Some(module.finish())
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
struct Inlined {
    params: Vec<ValType>,
    body: Vec<Operator<'static>>,
    /// Kernel memory index → position among the imported kernel memories.
    memory_slots: Vec<(u32, usize)>,
    global_slots: Vec<(u32, usize)>,
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

/// What the rewrite of one plugin module needs to know before it starts.
struct Plan {
    /// Function index (imported functions first) → the inlined kernel
    /// function its calls are replaced with.
    inlined: Vec<Option<usize>>,
    imported_functions: u32,
    imported_memories: u32,
    imported_globals: u32,
    /// Parameter count of each defined function.
    params: Vec<u32>,
}

impl Plan {
    fn new(wasm: &[u8], kernel: &Kernel) -> Option<Plan> {
        let mut types: Vec<Option<FuncType>> = Vec::new();
        let mut plan = Plan {
            inlined: Vec::new(),
            imported_functions: 0,
            imported_memories: 0,
            imported_globals: 0,
            params: Vec::new(),
        };
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.ok()? {
                Payload::Version { encoding, .. } if encoding != wasmparser::Encoding::Module => return None,
                Payload::TypeSection(s) => {
                    for group in s {
                        for sub in group.ok()?.into_types() {
                            types.push(match sub.composite_type.inner {
                                wasmparser::CompositeInnerType::Func(f) => Some(f),
                                _ => None,
                            });
                        }
                    }
                }
                Payload::ImportSection(s) => {
                    for import in s.into_imports() {
                        let import = import.ok()?;
                        if import.module == KERNEL_MODULE {
                            return None;
                        }
                        match import.ty {
                            TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
                                plan.imported_functions += 1;
                                plan.inlined
                                    .push(kernel.inlinable(&import, types.get(ty as usize)?.as_ref()?));
                            }
                            TypeRef::Memory(_) => plan.imported_memories += 1,
                            TypeRef::Global(_) => plan.imported_globals += 1,
                            TypeRef::Table(_) | TypeRef::Tag(_) => {}
                        }
                    }
                }
                Payload::FunctionSection(s) => {
                    for ty in s {
                        let ty = types.get(ty.ok()? as usize)?.as_ref()?;
                        plan.params.push(ty.params().len() as u32);
                        plan.inlined.push(None);
                    }
                }
                _ => {}
            }
        }
        plan.inlined.iter().any(Option::is_some).then_some(plan)
    }
}

impl Kernel {
    /// The inlinable kernel function a plugin import names, if its type is the kernel's.
    fn inlinable(&self, import: &wasmparser::Import<'_>, ty: &FuncType) -> Option<usize> {
        if import.module != ENV_MODULE {
            return None;
        }
        let at = self.functions.iter().position(|(name, _)| *name == import.name)?;
        let body = &self.functions[at].1;
        // A mistyped import is left for linking to refuse.
        (ty.params() == body.params.as_slice() && ty.results().len() <= 1).then_some(at)
    }
}

/// Rewrites one plugin module by [`Plan`]: the kernel's memories and globals
/// imported after the plugin's own imports (so the plugin's defined
/// memories and globals move up), and inlined calls.
struct Rewriter<'a> {
    plan: &'a Plan,
    kernel: &'static Kernel,
    defined_functions: usize,
    imports_written: bool,
}

impl Rewriter<'_> {
    fn kernel_imports(&mut self, imports: &mut ImportSection) -> Result<(), Error> {
        for (name, ty) in &self.kernel.memories {
            imports.import(KERNEL_MODULE, name, EntityType::Memory(self.memory_type(*ty)?));
        }
        for (name, ty) in &self.kernel.globals {
            let ty: GlobalType = self.global_type(*ty)?;
            imports.import(KERNEL_MODULE, name, EntityType::Global(ty));
        }
        self.imports_written = true;
        Ok(())
    }

    fn emit_inlined(&self, function: &mut wasm_encoder::Function, which: usize, scratch: [u32; 3]) {
        let inlined = &self.kernel.functions[which].1;
        let mut next_i64 = 0;
        let locals: Vec<u32> = inlined
            .params
            .iter()
            .map(|ty| match ty {
                ValType::I64 => {
                    next_i64 += 1;
                    scratch[next_i64 - 1]
                }
                _ => scratch[2],
            })
            .collect();
        for local in locals.iter().rev() {
            function.instruction(&Instruction::LocalSet(*local));
        }
        let memory = |m: u32| {
            let at = inlined
                .memory_slots
                .iter()
                .find(|(k, _)| *k == m)
                .map_or(0, |(_, at)| *at);
            self.plan.imported_memories + at as u32
        };
        let memarg = |m: &wasmparser::MemArg| wasm_encoder::MemArg {
            offset: m.offset,
            align: m.align as u32,
            memory_index: memory(m.memory),
        };
        for op in &inlined.body {
            let instruction = match op {
                Operator::LocalGet { local_index } => Instruction::LocalGet(locals[*local_index as usize]),
                Operator::GlobalGet { global_index } => {
                    let at = inlined
                        .global_slots
                        .iter()
                        .find(|(k, _)| k == global_index)
                        .map_or(0, |(_, at)| *at);
                    Instruction::GlobalGet(self.plan.imported_globals + at as u32)
                }
                Operator::I32Load8U { memarg: m } => Instruction::I32Load8U(memarg(m)),
                Operator::I64Load { memarg: m } => Instruction::I64Load(memarg(m)),
                Operator::I32Store8 { memarg: m } => Instruction::I32Store8(memarg(m)),
                Operator::I64Store { memarg: m } => Instruction::I64Store(memarg(m)),
                Operator::If { blockty } => Instruction::If(match blockty {
                    wasmparser::BlockType::Empty => wasm_encoder::BlockType::Empty,
                    wasmparser::BlockType::Type(t) => wasm_encoder::BlockType::Result(match t {
                        ValType::I32 => wasm_encoder::ValType::I32,
                        _ => wasm_encoder::ValType::I64,
                    }),
                    wasmparser::BlockType::FuncType(_) => wasm_encoder::BlockType::Empty,
                }),
                Operator::Else => Instruction::Else,
                Operator::End => Instruction::End,
                Operator::I32Const { value } => Instruction::I32Const(*value),
                Operator::I64Const { value } => Instruction::I64Const(*value),
                Operator::I32And => Instruction::I32And,
                Operator::I32WrapI64 => Instruction::I32WrapI64,
                Operator::I64Add => Instruction::I64Add,
                Operator::I64Sub => Instruction::I64Sub,
                Operator::I64GeU => Instruction::I64GeU,
                Operator::I64LeU => Instruction::I64LeU,
                Operator::I64LtU => Instruction::I64LtU,
                // `Inlined::of` admits nothing else.
                _ => Instruction::Unreachable,
            };
            function.instruction(&instruction);
        }
    }
}

impl Reencode for Rewriter<'_> {
    type Error = std::convert::Infallible;

    fn memory_index(&mut self, memory: u32) -> Result<u32, Error> {
        Ok(if memory < self.plan.imported_memories {
            memory
        } else {
            memory + self.kernel.memories.len() as u32
        })
    }

    fn global_index(&mut self, global: u32) -> Result<u32, Error> {
        Ok(if global < self.plan.imported_globals {
            global
        } else {
            global + self.kernel.globals.len() as u32
        })
    }

    fn parse_import_section(
        &mut self,
        imports: &mut ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), Error> {
        wasm_encoder::reencode::utils::parse_import_section(self, imports, section)?;
        self.kernel_imports(imports)
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), Error> {
        // A module without imports gets an import section of its own.
        let past_imports = !matches!(before, Some(SectionId::Type | SectionId::Import));
        if !self.imports_written && past_imports {
            let mut imports = ImportSection::new();
            self.kernel_imports(&mut imports)?;
            module.section(&imports);
        }
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        body: FunctionBody<'_>,
    ) -> Result<(), Error> {
        let index = self.defined_functions;
        self.defined_functions += 1;
        let mut locals = Vec::new();
        let mut declared = self.plan.params.get(index).copied().unwrap_or(0);
        for pair in body.get_locals_reader()? {
            let (count, ty) = pair?;
            declared = declared.saturating_add(count);
            locals.push((count, self.val_type(ty)?));
        }
        let inlined_at = |op: &Operator<'_>| match op {
            Operator::Call { function_index } => *self.plan.inlined.get(*function_index as usize)?,
            _ => None,
        };
        let mut reader = body.get_operators_reader()?;
        let mut any = false;
        while !reader.eof() {
            any |= inlined_at(&reader.read()?).is_some();
        }
        // No room for three more locals: this function is copied as it is
        // (validation refuses so many locals anyway).
        if declared > u32::MAX - 3 {
            any = false;
        }
        let inlined_at = |op: &Operator<'_>| if any { inlined_at(op) } else { None };
        // Where the inlined bodies' arguments go: two i64 locals and an i32.
        let scratch = [declared, declared + 1, declared + 2];
        if any {
            locals.push((2, wasm_encoder::ValType::I64));
            locals.push((1, wasm_encoder::ValType::I32));
        }
        let mut function = wasm_encoder::Function::new(locals);
        let mut reader = body.get_operators_reader()?;
        while !reader.eof() {
            let op = reader.read()?;
            match inlined_at(&op) {
                Some(which) => self.emit_inlined(&mut function, which, scratch),
                None => {
                    function.instruction(&self.instruction(op)?);
                }
            }
        }
        code.function(&function);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imports(wasm: &[u8]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::ImportSection(s) = payload.unwrap() {
                for import in s.into_imports() {
                    let import = import.unwrap();
                    out.push((import.module.to_string(), import.name.to_string()));
                }
            }
        }
        out
    }

    fn calls(wasm: &[u8]) -> usize {
        let mut count = 0;
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::CodeSectionEntry(body) = payload.unwrap() {
                let mut reader = body.get_operators_reader().unwrap();
                while !reader.eof() {
                    count += matches!(reader.read().unwrap(), Operator::Call { .. }) as usize;
                }
            }
        }
        count
    }

    const PLUGIN: &str = r#"(module
        (import "extism:host/env" "load_u64" (func $load (param i64) (result i64)))
        (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
        (memory 1) (global $g (mut i32) (i32.const 7))
        (func (export "run") (result i32)
          (drop (call $load (call $alloc (i64.const 8))))
          (i32.store (i32.const 0) (global.get $g))
          (i32.const 0)))"#;

    #[test]
    fn leaf_calls_are_inlined_and_the_rest_kept() {
        let wasm = inline_kernel(PLUGIN.as_bytes()).unwrap();
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(&wasm)
            .unwrap();
        // The plugin's imports stay, in their order; the kernel's memory and
        // the globals the inlined bodies read come after them.
        let imports = imports(&wasm);
        assert_eq!(
            imports[..2],
            [
                ("extism:host/env".to_string(), "load_u64".to_string()),
                ("extism:host/env".to_string(), "alloc".to_string()),
            ]
        );
        assert!(imports[2..].iter().all(|(m, _)| m == KERNEL_MODULE));
        assert!(imports[2..].iter().any(|(_, n)| n == "memory"));
        // `alloc` is still called; `load_u64` is not.
        assert_eq!(calls(&wasm), 1);
    }

    #[test]
    fn modules_left_as_they_are() {
        // Nothing to inline.
        assert!(inline_kernel(br#"(module (func (export "run") (result i32) (i32.const 0)))"#).is_none());
        // A mistyped kernel import: linking refuses it, in its own words.
        let mistyped = br#"(module (import "extism:host/env" "load_u64" (func (param i32) (result i64))))"#;
        assert!(inline_kernel(mistyped).is_none());
        // A plugin that imports from the kernel module itself.
        let own = format!(
            r#"(module (import "extism:host/env" "load_u64" (func (param i64) (result i64)))
                (import "{KERNEL_MODULE}" "memory" (memory 1)))"#
        );
        assert!(inline_kernel(own.as_bytes()).is_none());
        // Not wasm at all.
        assert!(inline_kernel(b"\0asm\x01\0\0\0\x01").is_none());
        assert!(inline_kernel(b"(module").is_none());
    }

    #[test]
    fn the_hot_functions_are_inlinable() {
        let kernel = kernel().unwrap();
        let names: Vec<&str> = kernel.functions.iter().map(|(n, _)| *n).collect();
        for name in [
            "load_u8",
            "load_u64",
            "store_u8",
            "store_u64",
            "input_load_u8",
            "input_load_u64",
            "input_length",
            "input_offset",
        ] {
            assert!(names.contains(&name), "{name} is not inlined: {names:?}");
        }
        // The allocator is not a leaf.
        assert!(!names.contains(&"alloc"));
    }
}
