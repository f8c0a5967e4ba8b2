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
//! listed in `leaf::Inlined::of`. Bounds checks and results are the kernel's own
//! code, so behaviour is the same; only fuel counts differ by the moves of
//! the arguments into locals.

use wasm_encoder::reencode::{Error as ReencodeError, Reencode};
use wasm_encoder::{EntityType, GlobalType, ImportSection, Instruction, Module, SectionId};
use wasmparser::{FuncType, FunctionBody, Operator, Parser, Payload, TypeRef, ValType};

/// The import module through which a rewritten plugin reaches the kernel
/// instance's memory and globals. Only modules this rewrite made may
/// import from it.
pub const KERNEL_MODULE: &str = "extism:kernel";

type Error = ReencodeError<std::convert::Infallible>;

mod leaf;
#[cfg(test)]
mod tests;

use leaf::{kernel, Kernel};

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
