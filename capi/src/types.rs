//! The value types of the header.

use std::ffi::c_void;

use extism_core::{Val, ValType};

use crate::current_plugin::ExtismCurrentPlugin;

/// A wasm value type. Host functions can use I32, I64, F32 and F64;
/// extism_function_new refuses the others.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtismValType {
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer (also an Extism memory handle).
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// A 128-bit vector (not supported in host functions).
    V128,
    /// A function reference (not supported in host functions).
    FuncRef,
    /// An external reference (not supported in host functions).
    ExternRef,
}

/// An offset into Extism memory; 0 is null.
pub type ExtismMemoryHandle = u64;

/// A size in bytes or a count.
pub type ExtismSize = u64;

/// The value of an `ExtismVal`; the member to use is given by its type.
#[repr(C)]
#[derive(Clone, Copy)]
pub union ExtismValUnion {
    pub i32: i32,
    pub i64: i64,
    pub f32: f32,
    pub f64: f64,
}

/// A typed value passed to or returned from a host function.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExtismVal {
    pub t: ExtismValType,
    pub v: ExtismValUnion,
}

/// A host function. `inputs` holds `n_inputs` arguments (NULL when there are
/// none); write results into `outputs` (pre-filled with zero values of the
/// declared types; keep each `t` as it is). `plugin` is valid only during the
/// call; use it only with the `extism_current_plugin_*` functions. `data` is
/// the `user_data` given to `extism_function_new`.
pub type ExtismFunctionType = Option<
    unsafe extern "C" fn(
        plugin: *mut ExtismCurrentPlugin,
        inputs: *const ExtismVal,
        n_inputs: ExtismSize,
        outputs: *mut ExtismVal,
        n_outputs: ExtismSize,
        data: *mut c_void,
    ),
>;

/// Receives one buffered log line: `data` is NUL-terminated UTF-8 that ends
/// with a newline, `size` its length without the NUL. Valid only during the call.
pub type ExtismLogDrainFunctionType = Option<unsafe extern "C" fn(data: *const std::ffi::c_char, size: ExtismSize)>;

impl ExtismVal {
    pub(crate) fn from_core(v: Val) -> ExtismVal {
        match v {
            Val::I32(x) => ExtismVal {
                t: ExtismValType::I32,
                v: ExtismValUnion { i64: x as u32 as i64 },
            },
            Val::I64(x) => ExtismVal {
                t: ExtismValType::I64,
                v: ExtismValUnion { i64: x },
            },
            Val::F32(x) => ExtismVal {
                t: ExtismValType::F32,
                v: ExtismValUnion {
                    i64: x.to_bits() as i64,
                },
            },
            Val::F64(x) => ExtismVal {
                t: ExtismValType::F64,
                v: ExtismValUnion { f64: x },
            },
        }
    }

    /// The value read as the declared type `t` (what the caller wrote to `t`
    /// is ignored, as documented).
    pub(crate) fn to_core(self, t: ValType) -> Val {
        // SAFETY: every member is plain data of at most 8 bytes, and the union
        // was fully initialised (as i64) before the callback ran.
        unsafe {
            match t {
                ValType::I32 => Val::I32(self.v.i32),
                ValType::F32 => Val::F32(self.v.f32),
                ValType::F64 => Val::F64(self.v.f64),
                _ => Val::I64(self.v.i64),
            }
        }
    }
}
