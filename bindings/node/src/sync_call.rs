//! The hot methods as plain N-API functions: `callSync` and the `CallContext`
//! methods of host functions that run for a synchronous call.
//!
//! napi-rs's glue for class methods tracks the borrow of `this` in a scope per
//! call (a lock, a hash map, an allocation), which cost about as much as a
//! whole empty call. These functions take the plugin as an External handle
//! (`NativePlugin.handle()`) instead, and do only the conversions they need.

use std::ffi::{c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::{sys, ToNapiValue};

use crate::direct::{self, DirectHost};
use crate::plugin::{panic_text, Inner, JsOutcome, Outcome};

/// The type tag of a handle made by [`handle`]: a foreign External (or any
/// other value) is refused before its data is touched.
const HANDLE_TAG: sys::napi_type_tag = sys::napi_type_tag {
    lower: 0x6578_7469_736d_2d72, // "extism-r"
    upper: 0x706c_7567_696e_2d31, // "plugin-1"
};

struct Handle {
    inner: Arc<Inner>,
}

/// A JS External owning a reference to `inner`, for the functions below.
pub(crate) fn handle(env: sys::napi_env, inner: Arc<Inner>) -> napi::Result<sys::napi_value> {
    unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
        // SAFETY: `data` is the Box made below, finalized once.
        drop(unsafe { Box::from_raw(data as *mut Handle) });
    }
    let data = Box::into_raw(Box::new(Handle { inner }));
    let mut value = ptr::null_mut();
    // SAFETY: `env` is live; on success the finalizer owns `data`.
    let status = unsafe { sys::napi_create_external(env, data.cast(), Some(finalize), ptr::null_mut(), &mut value) };
    if status != sys::Status::napi_ok {
        // SAFETY: not handed to JS.
        drop(unsafe { Box::from_raw(data) });
        return Err(napi::Error::from_reason("cannot create the plugin handle"));
    }
    // SAFETY: a live value of this scope; once tagged, its finalizer still owns `data`.
    if unsafe { sys::napi_type_tag_object(env, value, &HANDLE_TAG) } != sys::Status::napi_ok {
        return Err(napi::Error::from_reason("cannot tag the plugin handle"));
    }
    Ok(value)
}

type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

const FUNCTIONS: &[(&str, Callback)] = &[
    ("callSync", call_sync),
    ("hostRead", host_read),
    ("hostStore", host_store),
    ("hostAlloc", host_alloc),
    ("hostLength", host_length),
    ("hostTimeRemaining", host_time_remaining),
    ("hostGetVariable", host_get_variable),
    ("hostSetVariable", host_set_variable),
    ("hostDeleteVariable", host_delete_variable),
    ("hostSetError", host_set_error),
];

/// An object holding the functions above, by name.
///
/// # Safety
/// `env` must be live.
pub(crate) unsafe fn functions(env: sys::napi_env) -> napi::Result<sys::napi_value> {
    let failed = |what: &str| napi::Error::from_reason(format!("cannot create the fast functions: {what}"));
    let mut object = ptr::null_mut();
    if unsafe { sys::napi_create_object(env, &mut object) } != sys::Status::napi_ok {
        return Err(failed("object"));
    }
    for (name, callback) in FUNCTIONS {
        let mut f = ptr::null_mut();
        let cname = CString::new(*name).map_err(|_| failed(name))?;
        // SAFETY: `cname` outlives both calls; `callback` is a static function.
        unsafe {
            if sys::napi_create_function(
                env,
                cname.as_ptr(),
                name.len() as isize,
                Some(*callback),
                ptr::null_mut(),
                &mut f,
            ) != sys::Status::napi_ok
                || sys::napi_set_named_property(env, object, cname.as_ptr(), f) != sys::Status::napi_ok
            {
                return Err(failed(name));
            }
        }
    }
    Ok(object)
}

/// Up to `N` arguments (missing ones are `undefined`).
unsafe fn args<const N: usize>(
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

/// The plugin behind a handle made by [`handle`].
unsafe fn inner<'a>(env: sys::napi_env, value: sys::napi_value) -> Result<&'a Inner, String> {
    let mut ty = 0;
    let mut tagged = false;
    let mut data = ptr::null_mut();
    // SAFETY: N-API checks the type and the tag; our tagged Externals point
    // to a live `Handle` for as long as JS holds them (this call's argument does).
    unsafe {
        if sys::napi_typeof(env, value, &mut ty) != sys::Status::napi_ok
            || ty != sys::ValueType::napi_external
            || sys::napi_check_object_type_tag(env, value, &HANDLE_TAG, &mut tagged) != sys::Status::napi_ok
            || !tagged
            || sys::napi_get_value_external(env, value, &mut data) != sys::Status::napi_ok
            || data.is_null()
        {
            return Err("not a plugin handle".into());
        }
        Ok(&(*(data as *const Handle)).inner)
    }
}

unsafe fn u32_arg(env: sys::napi_env, value: sys::napi_value) -> Result<u32, String> {
    let mut x = 0u32;
    match unsafe { sys::napi_get_value_uint32(env, value, &mut x) } {
        sys::Status::napi_ok => Ok(x),
        _ => Err("expected a number".into()),
    }
}

unsafe fn null(env: sys::napi_env) -> Result<sys::napi_value, String> {
    let mut value = ptr::null_mut();
    match unsafe { sys::napi_get_null(env, &mut value) } {
        sys::Status::napi_ok => Ok(value),
        _ => Err("napi_get_null failed".into()),
    }
}

unsafe fn undefined(env: sys::napi_env) -> Result<sys::napi_value, String> {
    let mut value = ptr::null_mut();
    match unsafe { sys::napi_get_undefined(env, &mut value) } {
        sys::Status::napi_ok => Ok(value),
        _ => Err("napi_get_undefined failed".into()),
    }
}

unsafe fn bigint(env: sys::napi_env, x: u64) -> Result<sys::napi_value, String> {
    let mut value = ptr::null_mut();
    match unsafe { sys::napi_create_bigint_uint64(env, x, &mut value) } {
        sys::Status::napi_ok => Ok(value),
        _ => Err("napi_create_bigint_uint64 failed".into()),
    }
}

/// Runs `f`; its error (or a panic) becomes a thrown JS Error.
unsafe fn run(env: sys::napi_env, f: impl FnOnce() -> Result<sys::napi_value, String>) -> sys::napi_value {
    let message = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => return value,
        Ok(Err(message)) => message,
        Err(payload) => panic_text(payload).message,
    };
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    // SAFETY: `env` is live; a NULL return value with a pending exception is
    // how an N-API function throws.
    unsafe { sys::napi_throw_error(env, ptr::null(), text.as_ptr()) };
    ptr::null_mut()
}

/// `callSync(handle, name, input, hostContextId)`: null when the plugin set
/// no output, else an ArrayBuffer with a copy of it; on failure the outcome
/// (`ok: false`, kind, message, rc) for lib/errors.js. `name` (a string) and
/// `input` (a string or a Uint8Array) are read in place.
unsafe extern "C" fn call_sync(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        run(env, || {
            let [handle, name, input, host_context] = args::<4>(env, info)?;
            let inner = inner(env, handle)?;
            let mut ty = 0;
            sys::napi_typeof(env, host_context, &mut ty);
            let host_context = match ty {
                sys::ValueType::napi_undefined | sys::ValueType::napi_null => None,
                _ => Some(u32_arg(env, host_context)?),
            };
            let _scope = crate::bridge::SyncScope::enter_raw(env);
            let outcome = direct::with_str(env, name, |name| {
                direct::with_input(env, input, |bytes| {
                    inner.call(name, bytes, host_context, |output| {
                        if output.is_empty() {
                            null(env)
                        } else {
                            direct::array_buffer(env, output)
                        }
                    })
                })
            })??;
            match outcome {
                Ok(made) => made,
                Err(e) => JsOutcome::to_napi_value(env, Outcome::Failed(e).into_js()).map_err(|e| e.reason.clone()),
            }
        })
    }
}

/// The arguments `(handle, generation, ...)` of a host* function, and the
/// host call they name.
unsafe fn host_call<'a, const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> Result<(&'a DirectHost, u32, [sys::napi_value; N]), String> {
    unsafe {
        let argv = args::<N>(env, info)?;
        let inner = inner(env, argv[0])?;
        let generation = u32_arg(env, argv[1])?;
        Ok((&inner.bridge.direct, generation, argv))
    }
}

/// `hostRead(handle, generation, address)`: the block's bytes as an
/// ArrayBuffer, or null for 0, an address that is not a block, or a host
/// call that has returned.
unsafe extern "C" fn host_read(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        run(env, || {
            let (direct, generation, [.., address]) = host_call::<3>(env, info)?;
            let h = direct::address(env, address)?;
            direct
                .with_plugin(generation, |p| match h {
                    0 => null(env),
                    h => match p.block(h) {
                        Ok(bytes) => direct::array_buffer(env, bytes),
                        Err(_) => null(env),
                    },
                })
                .unwrap_or_else(|_dead| null(env))
        })
    }
}

/// `hostStore(handle, generation, bytes)`: a new block holding `bytes`; its address.
unsafe extern "C" fn host_store(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        run(env, || {
            let (direct, generation, [.., bytes]) = host_call::<3>(env, info)?;
            let h = direct::with_input(env, bytes, |bytes| {
                direct.with_plugin(generation, |p| p.alloc_bytes(bytes))
            })??
            .map_err(|e| e.message().to_string())?;
            bigint(env, h)
        })
    }
}

/// `hostAlloc(handle, generation, size)`: a new block's address; 0 when memory is exhausted.
unsafe extern "C" fn host_alloc(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        run(env, || {
            let (direct, generation, [.., size]) = host_call::<3>(env, info)?;
            let n = direct::address(env, size)?;
            let h = direct
                .with_plugin(generation, |p| p.alloc(n))?
                .map_err(|e| e.message().to_string())?;
            bigint(env, h)
        })
    }
}

/// `hostLength(handle, generation, address)`: the block's length, 0 when
/// there is none or the host call has returned.
unsafe extern "C" fn host_length(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        run(env, || {
            let (direct, generation, [.., address]) = host_call::<3>(env, info)?;
            let h = direct::address(env, address)?;
            let n = match direct.with_plugin(generation, |p| p.length(h)) {
                Ok(n) => n.map_err(|e| e.message().to_string())?,
                Err(_dead) => 0,
            };
            bigint(env, n)
        })
    }
}

/// `hostTimeRemaining(handle, generation)`: milliseconds left before the
/// call's timeout, or null without one or once the host call has returned.
unsafe extern "C" fn host_time_remaining(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        run(env, || {
            let (direct, generation, _) = host_call::<2>(env, info)?;
            match direct.with_plugin(generation, |p| p.time_remaining()).ok().flatten() {
                Some(left) => {
                    let mut value = ptr::null_mut();
                    match sys::napi_create_double(env, left.as_secs_f64() * 1000.0, &mut value) {
                        sys::Status::napi_ok => Ok(value),
                        _ => Err("napi_create_double failed".into()),
                    }
                }
                None => null(env),
            }
        })
    }
}

/// `hostGetVariable(handle, generation, name)`: the var's bytes as an ArrayBuffer, or null.
unsafe extern "C" fn host_get_variable(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        run(env, || {
            let (direct, generation, [.., name]) = host_call::<3>(env, info)?;
            direct::with_str(env, name, |name| {
                direct.with_plugin(generation, |p| match p.var(name) {
                    Some(bytes) => direct::array_buffer(env, bytes),
                    None => null(env),
                })
            })??
        })
    }
}

/// `hostSetVariable(handle, generation, name, bytes)`.
unsafe extern "C" fn host_set_variable(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        run(env, || {
            let (direct, generation, [.., name, value]) = host_call::<4>(env, info)?;
            direct::with_str(env, name, |name| {
                direct::with_input(env, value, |value| {
                    direct.with_plugin(generation, |p| p.set_var(name, Some(value)))
                })
            })???;
            undefined(env)
        })
    }
}

/// `hostDeleteVariable(handle, generation, name)`.
unsafe extern "C" fn host_delete_variable(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        run(env, || {
            let (direct, generation, [.., name]) = host_call::<3>(env, info)?;
            direct::with_str(env, name, |name| {
                direct.with_plugin(generation, |p| p.set_var(name, None))
            })??;
            undefined(env)
        })
    }
}

/// `hostSetError(handle, generation, message)`: the call then fails with it.
unsafe extern "C" fn host_set_error(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        run(env, || {
            let (direct, generation, [.., message]) = host_call::<3>(env, info)?;
            direct::with_str(env, message, |message| {
                direct.with_plugin(generation, |p| p.set_error(message))
            })??
            .map_err(|e| e.message().to_string())?;
            undefined(env)
        })
    }
}
