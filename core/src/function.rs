//! Host functions: the values they take and return, and the callback type each
//! frontend implements (a C function pointer, a Python callable, a JS function).

use std::sync::Arc;

use crate::current_plugin::CurrentPlugin;
use std::mem::MaybeUninit;

use wasmtime::{Linker, ValRaw};

use crate::error::{wasmtime_text, Error, Result};
use crate::kernel::{ENV_MODULE, KERNEL_FUNCTIONS};
use crate::state::PluginState;

/// The default namespace of user host functions.
pub const USER_NAMESPACE: &str = "extism:host/user";

/// A wasm value type, numbered as the C `ExtismValType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValType {
    /// A 32-bit integer.
    I32 = 0,
    /// A 64-bit integer (also the type of Extism memory handles).
    I64 = 1,
    /// A 32-bit float.
    F32 = 2,
    /// A 64-bit float.
    F64 = 3,
    /// A 128-bit vector (not passed to host functions).
    V128 = 4,
    /// A function reference (not passed to host functions).
    FuncRef = 5,
    /// An external reference (not passed to host functions).
    ExternRef = 6,
}

/// An alias of `I64`: a handle into Extism memory.
pub const PTR: ValType = ValType::I64;

impl ValType {
    /// The type with the C enum value `code`.
    pub fn from_code(code: i64) -> Option<ValType> {
        Some(match code {
            0 => ValType::I32,
            1 => ValType::I64,
            2 => ValType::F32,
            3 => ValType::F64,
            4 => ValType::V128,
            5 => ValType::FuncRef,
            6 => ValType::ExternRef,
            _ => return None,
        })
    }

    /// The type's name in the wasm text format (`i32`, `funcref`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        }
    }

    /// The number type `ty`, or None for a vector or reference type.
    pub(crate) fn from_wasmtime(ty: &wasmtime::ValType) -> Option<ValType> {
        Some(match ty {
            wasmtime::ValType::I32 => ValType::I32,
            wasmtime::ValType::I64 => ValType::I64,
            wasmtime::ValType::F32 => ValType::F32,
            wasmtime::ValType::F64 => ValType::F64,
            _ => return None,
        })
    }

    pub(crate) fn to_wasmtime(self) -> Result<wasmtime::ValType> {
        Ok(match self {
            ValType::I32 => wasmtime::ValType::I32,
            ValType::I64 => wasmtime::ValType::I64,
            ValType::F32 => wasmtime::ValType::F32,
            ValType::F64 => wasmtime::ValType::F64,
            other => {
                return Err(Error::invalid(format!(
                    "host functions support only i32, i64, f32 and f64 values, not {other:?}"
                )))
            }
        })
    }
}

/// The values of one host call: inline for the usual few, on the heap beyond,
/// so that a host call costs no allocation (used by the core and the C API).
#[doc(hidden)]
pub enum HostValues<T: Copy> {
    /// Up to eight values in place, and how many are used.
    Inline([T; HOST_VALUES_INLINE], usize),
    /// More values, on the heap.
    Heap(Vec<T>),
}

const HOST_VALUES_INLINE: usize = 8;

impl<T: Copy> HostValues<T> {
    /// `len` copies of `fill`.
    pub fn new(len: usize, fill: T) -> HostValues<T> {
        if len <= HOST_VALUES_INLINE {
            HostValues::Inline([fill; HOST_VALUES_INLINE], len)
        } else {
            HostValues::Heap(vec![fill; len])
        }
    }

    /// The values.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            HostValues::Inline(values, len) => &mut values[..*len],
            HostValues::Heap(values) => values,
        }
    }
}

/// A wasm value passed to or returned from a host function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val {
    /// A 32-bit integer.
    I32(i32),
    /// A 64-bit integer (or an Extism memory handle).
    I64(i64),
    /// A 32-bit float.
    F32(f32),
    /// A 64-bit float.
    F64(f64),
}

impl Val {
    /// The value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
        }
    }

    /// The zero value of `ty` (results are pre-filled with it).
    pub fn zero(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::F32 => Val::F32(0.0),
            ValType::F64 => Val::F64(0.0),
            _ => Val::I64(0),
        }
    }

    /// The value if it is an `I32`.
    pub fn i32(&self) -> Option<i32> {
        if let Val::I32(v) = self {
            Some(*v)
        } else {
            None
        }
    }
    /// The value if it is an `I64`.
    pub fn i64(&self) -> Option<i64> {
        if let Val::I64(v) = self {
            Some(*v)
        } else {
            None
        }
    }
    /// The value if it is an `F32`.
    pub fn f32(&self) -> Option<f32> {
        if let Val::F32(v) = self {
            Some(*v)
        } else {
            None
        }
    }
    /// The value if it is an `F64`.
    pub fn f64(&self) -> Option<f64> {
        if let Val::F64(v) = self {
            Some(*v)
        } else {
            None
        }
    }

    /// A raw wasm value of type `ty`.
    fn from_raw(raw: &ValRaw, ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(raw.get_i32()),
            ValType::F32 => Val::F32(f32::from_bits(raw.get_f32())),
            ValType::F64 => Val::F64(f64::from_bits(raw.get_f64())),
            // Functions with other types are refused at creation.
            _ => Val::I64(raw.get_i64()),
        }
    }

    /// Converted to the declared type `ty` (a mismatched value is reinterpreted
    /// by width, as the C API converts according to the declared type).
    fn to_raw(self, ty: ValType) -> ValRaw {
        let bits: u64 = match self {
            Val::I32(v) => v as u32 as u64,
            Val::I64(v) => v as u64,
            Val::F32(v) => v.to_bits() as u64,
            Val::F64(v) => v.to_bits(),
        };
        match ty {
            ValType::I32 => ValRaw::i32(bits as u32 as i32),
            ValType::F32 => ValRaw::f32(bits as u32),
            ValType::F64 => ValRaw::f64(bits),
            _ => ValRaw::i64(bits as i64),
        }
    }
}

/// The callback behind a host function. An `Err` ends the plugin call with
/// that error; `CurrentPlugin::set_error` reports a plugin error without
/// trapping.
pub type HostCallback = dyn Fn(&mut CurrentPlugin<'_>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static;

/// A host function that plugins import as `namespace::name`.
///
/// Cloning is cheap; the callback (and whatever it owns, such as C user data)
/// is dropped with the last clone, that is when the last plugin or compiled
/// plugin using it is gone.
#[derive(Clone)]
pub struct Function {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) params: Vec<ValType>,
    pub(crate) results: Vec<ValType>,
    /// The types are those of the import it satisfies (`typed_by_import`).
    pub(crate) typed_by_import: bool,
    pub(crate) callback: Arc<HostCallback>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("params", &self.params)
            .field("results", &self.results)
            .finish()
    }
}

impl Function {
    /// A host function in the default namespace `extism:host/user`.
    ///
    /// Fails when a type other than i32, i64, f32 or f64 is used.
    pub fn new<F>(
        name: impl Into<String>,
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
        callback: F,
    ) -> Result<Function>
    where
        F: Fn(&mut CurrentPlugin<'_>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    {
        let f = Function {
            namespace: USER_NAMESPACE.to_string(),
            name: name.into(),
            params: params.into_iter().collect(),
            results: results.into_iter().collect(),
            typed_by_import: false,
            callback: Arc::new(callback),
        };
        for ty in f.params.iter().chain(&f.results) {
            ty.to_wasmtime()?;
        }
        Ok(f)
    }

    /// A host function (in `extism:host/user`) that takes the types of the
    /// import it satisfies: the first `namespace::name` function import of
    /// the plugin's modules. For frontends whose functions declare no types
    /// (the JS SDK). A compilation leaves it out when no module imports it,
    /// and fails when the import uses a type other than i32, i64, f32, f64.
    /// Its results arrive pre-filled with zeros of their types.
    pub fn typed_by_import<F>(name: impl Into<String>, callback: F) -> Function
    where
        F: Fn(&mut CurrentPlugin<'_>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    {
        Function {
            namespace: USER_NAMESPACE.to_string(),
            name: name.into(),
            params: Vec::new(),
            results: Vec::new(),
            typed_by_import: true,
            callback: Arc::new(callback),
        }
    }

    /// This function with the types of `import` (see `typed_by_import`).
    pub(crate) fn with_import_type(&self, import: &wasmtime::FuncType) -> Result<Function> {
        let convert = |types: &mut dyn Iterator<Item = wasmtime::ValType>| -> Result<Vec<ValType>> {
            types
                .map(|t| {
                    ValType::from_wasmtime(&t).ok_or_else(|| {
                        Error::invalid(format!(
                            "host function {}::{}: its import uses `{t}`, which host functions cannot take",
                            self.namespace, self.name
                        ))
                    })
                })
                .collect()
        };
        Ok(Function {
            params: convert(&mut import.params())?,
            results: convert(&mut import.results())?,
            typed_by_import: false,
            ..self.clone()
        })
    }

    /// The same function under another import module name.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Function {
        self.namespace = namespace.into();
        self
    }

    /// Set the import module (`extism:host/user` by default).
    pub fn set_namespace(&mut self, namespace: impl Into<String>) {
        self.namespace = namespace.into();
    }

    /// The import name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The import module.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    /// The parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }
    /// The result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }

    pub(crate) fn func_type(&self, engine: &wasmtime::Engine) -> Result<wasmtime::FuncType> {
        let params = self
            .params
            .iter()
            .map(|t| t.to_wasmtime())
            .collect::<Result<Vec<_>>>()?;
        let results = self
            .results
            .iter()
            .map(|t| t.to_wasmtime())
            .collect::<Result<Vec<_>>>()?;
        Ok(wasmtime::FuncType::new(engine, params, results))
    }

    /// Functions may replace the built-ins of `extism:host/env` but never the
    /// kernel's memory functions, which the runtime itself relies on.
    pub(crate) fn check_namespace(&self) -> Result<()> {
        if self.namespace == ENV_MODULE && KERNEL_FUNCTIONS.contains(&self.name.as_str()) {
            return Err(Error::invalid(format!(
                "host function `{}` cannot replace the Extism kernel function of that name",
                self.name
            )));
        }
        Ok(())
    }
}

/// Define host function `f` with type `ty` in `linker`. A panicking host
/// function ends the call with an error instead of unwinding through wasm.
pub(crate) fn define_host_function(
    linker: &mut Linker<PluginState>,
    f: &Function,
    ty: wasmtime::FuncType,
) -> Result<()> {
    let callback = f.callback.clone();
    let results = f.results.clone();
    let params: Vec<ValType> = ty.params().filter_map(|t| ValType::from_wasmtime(&t)).collect();
    let name = f.name.clone();
    // Raw values, without wasmtime's conversions and checks of `Val`s: the
    // types are the function's own, all numeric (others are refused when a
    // function is created).
    let host_call = move |caller: wasmtime::Caller<'_, PluginState>, values: &mut [MaybeUninit<ValRaw>]| {
        // Values live on the stack for the usual few of them: a host call
        // should not cost two heap allocations.
        let mut inputs = HostValues::new(params.len(), Val::I32(0));
        for ((slot, raw), ty) in inputs.as_mut_slice().iter_mut().zip(values.iter()).zip(&params) {
            // SAFETY: wasmtime initializes the first `params.len()` values
            // with the arguments, of the function's parameter types.
            *slot = Val::from_raw(unsafe { raw.assume_init_ref() }, *ty);
        }
        let mut outputs = HostValues::new(results.len(), Val::I32(0));
        for (slot, ty) in outputs.as_mut_slice().iter_mut().zip(&results) {
            *slot = Val::zero(*ty);
        }
        let mut current = CurrentPlugin::new(caller);
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
        for ((slot, value), ty) in values.iter_mut().zip(outputs.as_mut_slice().iter()).zip(&results) {
            slot.write(value.to_raw(*ty));
        }
        Ok(())
    };
    // SAFETY: `host_call` reads the parameters and writes the results as the
    // values of `ty` that they are (numeric types only, checked above), and
    // `values` holds room for max(params, results) of them.
    unsafe { linker.func_new_unchecked(&f.namespace, &f.name, ty, host_call) }
        .map_err(|e| Error::compile(wasmtime_text(&e)))?;
    Ok(())
}
