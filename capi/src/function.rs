//! Host functions: `extism_function_new` and friends.

use std::ffi::{c_char, c_void, CStr};
use std::sync::Mutex;

use extism_core::{Function, ValType};

use crate::current_plugin::ExtismCurrentPlugin;
use crate::guard::{free_tagged, guard, live, Tagged};
use crate::types::{ExtismFunctionType, ExtismSize, ExtismVal, ExtismValType};

/// A host function made by `extism_function_new`. Free it with
/// `extism_function_free`, also after handing it to a plugin constructor
/// (which takes its own reference).
pub struct ExtismFunction {
    tag: u64,
    /// `None` once a plugin constructor took it: from then on the plugin (or,
    /// if creation failed, nobody) owns the callback and its user data.
    function: Mutex<Option<Function>>,
}

/// The C user data; `free_user_data` runs once, when the last owner of the
/// function (the `ExtismFunction` or a plugin holding it) is gone.
struct UserData {
    data: *mut c_void,
    free: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: the pointer is opaque to us; the C caller promises it may be used
// from the threads that call the plugin, as the official library requires.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

impl Tagged for ExtismFunction {
    const TAG: u64 = u64::from_le_bytes(*b"xtsmFunc");
    fn tag(&self) -> u64 {
        self.tag
    }
}

impl UserData {
    // A method, so closures capture the whole (Send) struct, not the raw field.
    fn ptr(&self) -> *mut c_void {
        self.data
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the caller's own destructor, called once with its pointer.
            unsafe { free(self.data) }
        }
    }
}

unsafe fn val_types(ptr: *const ExtismValType, n: ExtismSize) -> Option<Vec<ValType>> {
    if ptr.is_null() || n == 0 {
        return Some(Vec::new());
    }
    // Read the raw ints: a value outside the enum must not become a Rust enum.
    let raw = std::slice::from_raw_parts(ptr as *const i32, n as usize);
    raw.iter().map(|&code| ValType::from_code(code as i64)).collect()
}

/// Create a host function named `name` (UTF-8), with the given parameter and
/// result types (copied; a NULL array or zero count means none), in the
/// namespace `extism:host/user` (see `extism_function_set_namespace`).
///
/// `user_data` is passed to every call of `func`. `free_user_data`, if not
/// NULL, is called once with `user_data` when the function's last owner is
/// gone: at `extism_function_free` if it was never registered, otherwise when
/// every plugin and compiled plugin holding it has been freed.
///
/// Returns NULL when `name` is NULL or not UTF-8, `func` is NULL, or a type is
/// not one of I32, I64, F32 and F64.
#[no_mangle]
pub unsafe extern "C" fn extism_function_new(
    name: *const c_char,
    inputs: *const ExtismValType,
    n_inputs: ExtismSize,
    outputs: *const ExtismValType,
    n_outputs: ExtismSize,
    func: ExtismFunctionType,
    user_data: *mut c_void,
    free_user_data: Option<unsafe extern "C" fn(_: *mut c_void)>,
) -> *mut ExtismFunction {
    guard(std::ptr::null_mut(), || {
        let owned = UserData {
            data: user_data,
            free: free_user_data,
        };
        let (Some(callback), false) = (func, name.is_null()) else {
            return std::ptr::null_mut();
        };
        let Ok(name) = CStr::from_ptr(name).to_str() else {
            return std::ptr::null_mut();
        };
        let (Some(params), Some(results)) = (val_types(inputs, n_inputs), val_types(outputs, n_outputs)) else {
            return std::ptr::null_mut();
        };
        let declared = results.clone();
        let f = Function::new(name, params, results, move |current, args, outs| {
            let zero = ExtismVal::from_core(extism_core::Val::I32(0));
            let mut c_args = extism_core::HostValues::new(args.len(), zero);
            for (slot, value) in c_args.as_mut_slice().iter_mut().zip(args) {
                *slot = ExtismVal::from_core(*value);
            }
            let mut c_outs = extism_core::HostValues::new(outs.len(), zero);
            for (slot, value) in c_outs.as_mut_slice().iter_mut().zip(outs.iter()) {
                *slot = ExtismVal::from_core(*value);
            }
            let (c_args, c_outs) = (c_args.as_mut_slice(), c_outs.as_mut_slice());
            let plugin = current as *mut extism_core::CurrentPlugin<'_> as *mut ExtismCurrentPlugin;
            let args_ptr = if c_args.is_empty() {
                std::ptr::null()
            } else {
                c_args.as_ptr()
            };
            let outs_ptr = if c_outs.is_empty() {
                std::ptr::null_mut()
            } else {
                c_outs.as_mut_ptr()
            };
            callback(
                plugin,
                args_ptr,
                c_args.len() as u64,
                outs_ptr,
                c_outs.len() as u64,
                owned.ptr(),
            );
            for ((slot, value), ty) in outs.iter_mut().zip(c_outs.iter()).zip(&declared) {
                *slot = value.to_core(*ty);
            }
            Ok(())
        });
        match f {
            Ok(function) => Box::into_raw(Box::new(ExtismFunction {
                tag: ExtismFunction::TAG,
                function: Mutex::new(Some(function)),
            })),
            Err(_) => std::ptr::null_mut(),
        }
    })
}

/// Free a function object. Safe (and expected) after it was handed to a
/// plugin constructor. NULL is ignored. Do not call it twice.
#[no_mangle]
pub unsafe extern "C" fn extism_function_free(f: *mut ExtismFunction) {
    guard((), || free_tagged(f, |f| f.tag = 0))
}

/// Set the import module name this function satisfies. Does nothing once the
/// function was handed to a plugin constructor, or for NULL arguments.
/// Non-UTF-8 text is converted lossily.
#[no_mangle]
pub unsafe extern "C" fn extism_function_set_namespace(ptr: *mut ExtismFunction, namespace_: *const c_char) {
    guard((), || {
        let (Some(f), false) = (live(ptr), namespace_.is_null()) else {
            return;
        };
        let namespace = CStr::from_ptr(namespace_).to_string_lossy().into_owned();
        if let Some(f) = f.function.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            f.set_namespace(namespace);
        }
    })
}

/// Take the functions of a constructor call: all are checked first (NULL,
/// already taken), then all are taken, so a failure consumes none.
pub(crate) unsafe fn take_functions(
    functions: *mut *const ExtismFunction,
    n: ExtismSize,
) -> Result<Vec<Function>, &'static str> {
    if functions.is_null() || n == 0 {
        return Ok(Vec::new());
    }
    let list = std::slice::from_raw_parts(functions, n as usize);
    for &f in list {
        let Some(f) = live(f) else {
            return Err("Cannot pass null pointer");
        };
        if f.function.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
            return Err("Function cannot be registered with multiple different Plugins");
        }
    }
    Ok(list
        .iter()
        .filter_map(|&f| (*f).function.lock().unwrap_or_else(|e| e.into_inner()).take())
        .collect())
}
