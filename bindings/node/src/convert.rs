//! Values between N-API and Rust: the arguments of the plain N-API functions
//! (strings and inputs read in place, without allocating), wasm values,
//! block addresses, results, and thrown errors. A leaf: it knows nothing of
//! plugins.
//!
//! Everything here is on the hot path of a call or a host round trip, so it
//! talks to N-API directly: no intermediate objects, no per-call allocation
//! for the function name, string input or host arguments.

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use extism_core::{Val, ValType};
use napi::bindgen_prelude::sys;
use napi::Status;

use crate::outcome::panic_text;

pub(crate) fn check(status: sys::napi_status, what: &str) -> Result<(), String> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(format!("{what} failed ({:?})", Status::from(status)))
    }
}

/// An error to throw from a plain N-API function: an `Error` with `message`,
/// and a `code` property when there is one.
pub(crate) struct Thrown {
    pub message: String,
    pub code: Option<&'static CStr>,
}

impl From<String> for Thrown {
    fn from(message: String) -> Self {
        Thrown { message, code: None }
    }
}

/// Runs the body of a plain N-API function: its error (or a panic) becomes a
/// thrown JS Error.
///
/// # Safety
/// `env` must be live.
pub(crate) unsafe fn run<E: Into<Thrown>>(
    env: sys::napi_env,
    f: impl FnOnce() -> Result<sys::napi_value, E>,
) -> sys::napi_value {
    let thrown = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => return value,
        Ok(Err(e)) => e.into(),
        Err(payload) => Thrown::from(panic_text(payload).message),
    };
    let text = CString::new(thrown.message.replace('\0', " ")).unwrap_or_default();
    let code = thrown.code.map_or(ptr::null(), CStr::as_ptr);
    // SAFETY: `env` is live; a NULL return value with a pending exception is
    // how an N-API function throws.
    unsafe { sys::napi_throw_error(env, code, text.as_ptr()) };
    ptr::null_mut()
}

/// Up to `N` arguments (missing ones are `undefined`).
///
/// # Safety
/// `env` and `info` are those of the running N-API callback.
pub(crate) unsafe fn args<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> Result<[sys::napi_value; N], String> {
    let mut argv = [ptr::null_mut(); N];
    let mut argc = N;
    let status = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    if status != sys::Status::napi_ok {
        return Err("cannot read the arguments".into());
    }
    if argc < N {
        let mut undefined = ptr::null_mut();
        unsafe { sys::napi_get_undefined(env, &mut undefined) };
        argv[argc..].fill(undefined);
    }
    Ok(argv)
}

/// # Safety
/// `env` and `value` must be live handles of the current N-API scope.
pub(crate) unsafe fn u32_arg(env: sys::napi_env, value: sys::napi_value) -> Result<u32, String> {
    let mut x = 0u32;
    match unsafe { sys::napi_get_value_uint32(env, value, &mut x) } {
        sys::Status::napi_ok => Ok(x),
        _ => Err("expected a number".into()),
    }
}

/// `None` for `undefined` or `null`, else the u32.
///
/// # Safety
/// As for [`u32_arg`].
pub(crate) unsafe fn optional_u32(env: sys::napi_env, value: sys::napi_value) -> Result<Option<u32>, String> {
    let mut ty = 0;
    unsafe { sys::napi_typeof(env, value, &mut ty) };
    match ty {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(None),
        _ => unsafe { u32_arg(env, value) }.map(Some),
    }
}

/// # Safety
/// `env` must be the live env of the current scope (also for the functions below).
pub(crate) unsafe fn null(env: sys::napi_env) -> Result<sys::napi_value, String> {
    let mut value = ptr::null_mut();
    match unsafe { sys::napi_get_null(env, &mut value) } {
        sys::Status::napi_ok => Ok(value),
        _ => Err("napi_get_null failed".into()),
    }
}

/// # Safety
/// As for [`null`].
pub(crate) unsafe fn undefined(env: sys::napi_env) -> Result<sys::napi_value, String> {
    let mut value = ptr::null_mut();
    match unsafe { sys::napi_get_undefined(env, &mut value) } {
        sys::Status::napi_ok => Ok(value),
        _ => Err("napi_get_undefined failed".into()),
    }
}

/// # Safety
/// As for [`null`].
pub(crate) unsafe fn bigint(env: sys::napi_env, x: u64) -> Result<sys::napi_value, String> {
    let mut value = ptr::null_mut();
    match unsafe { sys::napi_create_bigint_uint64(env, x, &mut value) } {
        sys::Status::napi_ok => Ok(value),
        _ => Err("napi_create_bigint_uint64 failed".into()),
    }
}

/// # Safety
/// As for [`null`].
pub(crate) unsafe fn number(env: sys::napi_env, x: f64) -> Result<sys::napi_value, String> {
    let mut value = ptr::null_mut();
    match unsafe { sys::napi_create_double(env, x, &mut value) } {
        sys::Status::napi_ok => Ok(value),
        _ => Err("napi_create_double failed".into()),
    }
}

/// Names longer than this take a heap allocation; export names rarely do.
const NAME_BUFFER: usize = 256;

/// The UTF-8 of JS string `value`, handed to `f` without allocating when it is short.
///
/// # Safety
/// `env` and `value` must be live handles of the current N-API scope.
pub(crate) unsafe fn with_str<R>(
    env: sys::napi_env,
    value: sys::napi_value,
    f: impl FnOnce(&str) -> R,
) -> Result<R, String> {
    let mut buf = [0u8; NAME_BUFFER];
    let mut len = 0usize;
    // SAFETY: `buf` has NAME_BUFFER bytes; N-API writes at most that many, NUL included.
    check(
        unsafe { sys::napi_get_value_string_utf8(env, value, buf.as_mut_ptr().cast(), NAME_BUFFER, &mut len) },
        "reading a string",
    )?;
    if len + 1 < NAME_BUFFER {
        return Ok(f(std::str::from_utf8(&buf[..len]).map_err(|e| e.to_string())?));
    }
    let mut owned = Vec::new();
    utf8_into(env, value, &mut owned)?;
    Ok(f(std::str::from_utf8(&owned).map_err(|e| e.to_string())?))
}

/// The UTF-8 of JS string `value`, into `out` (reusing its capacity).
///
/// # Safety
/// As for [`with_str`].
pub(crate) unsafe fn utf8_into(env: sys::napi_env, value: sys::napi_value, out: &mut Vec<u8>) -> Result<(), String> {
    let mut len = 0usize;
    // SAFETY: a NULL buffer asks for the length only.
    check(
        unsafe { sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len) },
        "reading a string",
    )?;
    out.clear();
    out.resize(len + 1, 0);
    let mut written = 0usize;
    // SAFETY: `out` has len + 1 bytes, room for the text and its NUL.
    check(
        unsafe { sys::napi_get_value_string_utf8(env, value, out.as_mut_ptr().cast(), len + 1, &mut written) },
        "reading a string",
    )?;
    out.truncate(written);
    Ok(())
}

thread_local! {
    /// The UTF-8 of the last string input, kept so its capacity is reused.
    static STRING_INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The bytes of a call input (a JS string, as UTF-8, or a Uint8Array), handed to `f`.
///
/// # Safety
/// As for [`with_str`]; `f` must not run JS that could detach the array.
pub(crate) unsafe fn with_input<R>(
    env: sys::napi_env,
    value: sys::napi_value,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, String> {
    let mut ty = 0;
    check(unsafe { sys::napi_typeof(env, value, &mut ty) }, "reading the input")?;
    if ty == sys::ValueType::napi_string {
        // Taken out of the cell for the call: a host function may make a
        // synchronous call of its own (on another plugin) meanwhile.
        let mut bytes = STRING_INPUT.with(|c| std::mem::take(&mut *c.borrow_mut()));
        utf8_into(env, value, &mut bytes)?;
        let r = f(&bytes);
        STRING_INPUT.with(|c| *c.borrow_mut() = bytes);
        return Ok(r);
    }
    let mut kind = 0;
    let mut len = 0usize;
    let mut data = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut offset = 0usize;
    // SAFETY: N-API checks that `value` is a typed array and fails otherwise.
    check(
        unsafe { sys::napi_get_typedarray_info(env, value, &mut kind, &mut len, &mut data, &mut buffer, &mut offset) },
        "reading the input (a string or a Uint8Array)",
    )?;
    if kind != sys::TypedarrayType::uint8_array || (data.is_null() && len > 0) {
        return Err("the input must be a string or a Uint8Array".into());
    }
    let bytes: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: a live Uint8Array of `len` bytes; no JS runs while `f` reads it.
        unsafe { std::slice::from_raw_parts(data as *const u8, len) }
    };
    Ok(f(bytes))
}

/// A new JS ArrayBuffer holding a copy of `bytes`.
///
/// # Safety
/// `env` must be the live env of the current scope.
pub(crate) unsafe fn array_buffer(env: sys::napi_env, bytes: &[u8]) -> Result<sys::napi_value, String> {
    let mut data = ptr::null_mut();
    let mut value = ptr::null_mut();
    check(
        unsafe { sys::napi_create_arraybuffer(env, bytes.len(), &mut data, &mut value) },
        "creating an ArrayBuffer",
    )?;
    if !bytes.is_empty() {
        // SAFETY: the new buffer has exactly bytes.len() bytes.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), data as *mut u8, bytes.len()) };
    }
    Ok(value)
}

/// A wasm value as JS sees it: a BigInt for i64, a number otherwise.
///
/// # Safety
/// `env` must be the live env of the current scope.
pub(crate) unsafe fn val_to_js(env: sys::napi_env, value: &Val) -> Result<sys::napi_value, String> {
    let mut out = ptr::null_mut();
    let status = unsafe {
        match *value {
            Val::I32(x) => sys::napi_create_double(env, x as f64, &mut out),
            Val::I64(x) => sys::napi_create_bigint_int64(env, x, &mut out),
            Val::F32(x) => sys::napi_create_double(env, x as f64, &mut out),
            Val::F64(x) => sys::napi_create_double(env, x, &mut out),
        }
    };
    check(status, "converting a host function argument")?;
    Ok(out)
}

/// A host function's result of type `ty`, from the BigInt (i64) or number
/// (the others) that lib/host-calls.js made of it.
///
/// # Safety
/// `env` and `value` must be live handles of the current scope.
pub(crate) unsafe fn val_from_js(env: sys::napi_env, value: sys::napi_value, ty: ValType) -> Result<Val, String> {
    const WHAT: &str = "converting a host function result";
    unsafe {
        if ty == ValType::I64 {
            let mut x = 0i64;
            let mut lossless = false;
            check(
                sys::napi_get_value_bigint_int64(env, value, &mut x, &mut lossless),
                WHAT,
            )?;
            return Ok(Val::I64(x));
        }
        let mut x = 0f64;
        check(sys::napi_get_value_double(env, value, &mut x), WHAT)?;
        Ok(match ty {
            ValType::I32 => Val::I32(x as i64 as i32),
            ValType::F32 => Val::F32(x as f32),
            _ => Val::F64(x),
        })
    }
}

/// A block address or size given by JS (a BigInt or an integer number).
/// Negative or oversized values become `u64::MAX`: no block lives there, and
/// no allocation that large succeeds.
///
/// # Safety
/// As for [`with_str`].
pub(crate) unsafe fn address(env: sys::napi_env, value: sys::napi_value) -> Result<u64, String> {
    let mut ty = 0;
    check(unsafe { sys::napi_typeof(env, value, &mut ty) }, "reading an address")?;
    if ty == sys::ValueType::napi_bigint {
        let mut x = 0u64;
        let mut lossless = false;
        check(
            unsafe { sys::napi_get_value_bigint_uint64(env, value, &mut x, &mut lossless) },
            "reading an address",
        )?;
        return Ok(if lossless { x } else { u64::MAX });
    }
    let mut x = 0f64;
    check(
        unsafe { sys::napi_get_value_double(env, value, &mut x) },
        "an address must be a BigInt or an integer number",
    )?;
    Ok(if x >= 0.0 && x < u64::MAX as f64 {
        x as u64
    } else {
        u64::MAX
    })
}
