//! The synchronous fast path: plugin code running on the JS thread itself
//! (`callSync`, `createPluginSync`), where JS host functions are called
//! directly and their `CallContext` reaches the running `CurrentPlugin` in
//! place.
//!
//! Everything here is on the hot path of a call or a host round trip, so it
//! talks to N-API directly: no intermediate objects, no per-call allocation
//! for the function name, string input or host arguments.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use extism_core::{CurrentPlugin, Val, ValType};
use napi::bindgen_prelude::sys;
use napi::Status;

fn check(status: sys::napi_status, what: &str) -> Result<(), String> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(format!("{what} failed ({:?})", Status::from(status)))
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
unsafe fn utf8_into(env: sys::napi_env, value: sys::napi_value, out: &mut Vec<u8>) -> Result<(), String> {
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
    static STRING_INPUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
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

/// The host call of a plugin that runs on the JS thread right now.
///
/// Its `CallContext` names it by generation: a context kept after its host
/// function returned no longer matches and is refused, rather than acting
/// on a later call. Only the JS thread touches this (atomics make it `Sync`).
#[derive(Default)]
pub(crate) struct DirectHost {
    plugin: AtomicPtr<c_void>,
    generation: AtomicU32,
}

pub(crate) const DEAD: &str = "this CallContext is no longer valid: its host function call has returned";

impl DirectHost {
    /// Make `plugin` the current host call; returns its generation and what to restore.
    fn enter(&self, plugin: *mut CurrentPlugin<'_>) -> (u32, (*mut c_void, u32)) {
        let previous = (
            self.plugin.load(Ordering::Relaxed),
            self.generation.load(Ordering::Relaxed),
        );
        let generation = previous.1.wrapping_add(1);
        self.generation.store(generation, Ordering::Relaxed);
        self.plugin.store(plugin.cast(), Ordering::Relaxed);
        (generation, previous)
    }

    fn leave(&self, previous: (*mut c_void, u32)) {
        self.plugin.store(previous.0, Ordering::Relaxed);
        // The ended call's generation must never come back while its contexts
        // may live: restoring an enclosing call's is fine (its contexts are
        // valid again), otherwise move on to a fresh one.
        let next = if previous.0.is_null() {
            self.generation.load(Ordering::Relaxed).wrapping_add(1)
        } else {
            previous.1
        };
        self.generation.store(next, Ordering::Relaxed);
    }

    /// Run `f` on the current host call if `generation` is still it.
    pub fn with_plugin<R>(&self, generation: u32, f: impl FnOnce(&mut CurrentPlugin<'_>) -> R) -> Result<R, String> {
        let pointer = self.plugin.load(Ordering::Relaxed);
        if pointer.is_null() || self.generation.load(Ordering::Relaxed) != generation {
            return Err(DEAD.into());
        }
        // SAFETY: set by `call` for the duration of a host call on this (the
        // JS) thread, cleared before that call returns; the generation check
        // above ties the request to that very call.
        Ok(f(unsafe { &mut *(pointer as *mut CurrentPlugin<'static>) }))
    }

    /// Call JS `host(pluginId, index, generation, hostContextId, ...args)` for a host
    /// function, with `plugin` current meanwhile, and store its results.
    ///
    /// The JS side (`hostDirect` in lib/plugin.js) returns the results already
    /// checked against the result types (those of the zeros `outputs` arrive
    /// with): nothing for none, the value for one, an
    /// array for several; or a string, the message of the host function's failure.
    ///
    /// # Safety
    /// `env` is the live env of the synchronous method running on this
    /// thread, `host` a function value of that env.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn call(
        &self,
        env: sys::napi_env,
        host: sys::napi_value,
        plugin_id: u32,
        index: u32,
        host_context: Option<u32>,
        plugin: &mut CurrentPlugin<'_>,
        inputs: &[Val],
        outputs: &mut [Val],
    ) -> Result<(), String> {
        let (generation, previous) = self.enter(plugin);
        // SAFETY: forwarded from the caller.
        let answer = unsafe { call_js(env, host, [plugin_id, index, generation], host_context, inputs) }
            .and_then(|value| unsafe { read_results(env, value, outputs) });
        self.leave(previous);
        answer
    }
}

/// Arguments beyond this many take a heap allocation.
const INLINE_ARGS: usize = 16;

unsafe fn call_js(
    env: sys::napi_env,
    host: sys::napi_value,
    ids: [u32; 3],
    host_context: Option<u32>,
    inputs: &[Val],
) -> Result<sys::napi_value, String> {
    const FIXED: usize = 4;
    let mut inline = [ptr::null_mut(); INLINE_ARGS];
    let mut heap = Vec::new();
    let argv: &mut [sys::napi_value] = if inputs.len() + FIXED <= INLINE_ARGS {
        &mut inline[..inputs.len() + FIXED]
    } else {
        heap.resize(inputs.len() + FIXED, ptr::null_mut());
        &mut heap
    };
    unsafe {
        for (slot, id) in argv.iter_mut().zip(ids) {
            check(sys::napi_create_uint32(env, id, slot), "host call")?;
        }
        match host_context {
            Some(id) => check(sys::napi_create_uint32(env, id, &mut argv[3]), "host call")?,
            None => check(sys::napi_get_undefined(env, &mut argv[3]), "host call")?,
        }
        for (slot, value) in argv[FIXED..].iter_mut().zip(inputs) {
            *slot = val_to_js(env, value)?;
        }
        let mut receiver = ptr::null_mut();
        check(sys::napi_get_undefined(env, &mut receiver), "host call")?;
        let mut result = ptr::null_mut();
        let status = sys::napi_call_function(env, receiver, host, argv.len(), argv.as_ptr(), &mut result);
        if status != sys::Status::napi_ok {
            return Err(pending_exception_text(env));
        }
        Ok(result)
    }
}

/// The text of the exception thrown out of the JS bridge itself (which
/// catches the host function's own), cleared so JS can go on.
unsafe fn pending_exception_text(env: sys::napi_env) -> String {
    let mut exception = ptr::null_mut();
    unsafe {
        if sys::napi_get_and_clear_last_exception(env, &mut exception) != sys::Status::napi_ok || exception.is_null() {
            return "host function failed".into();
        }
        let mut text = ptr::null_mut();
        if sys::napi_coerce_to_string(env, exception, &mut text) != sys::Status::napi_ok {
            return "host function failed".into();
        }
        let mut out = Vec::new();
        match utf8_into(env, text, &mut out) {
            Ok(()) => String::from_utf8_lossy(&out).into_owned(),
            Err(_) => "host function failed".into(),
        }
    }
}

unsafe fn read_results(env: sys::napi_env, value: sys::napi_value, outputs: &mut [Val]) -> Result<(), String> {
    unsafe {
        let mut ty = 0;
        check(sys::napi_typeof(env, value, &mut ty), "reading host function results")?;
        if ty == sys::ValueType::napi_string {
            let mut message = Vec::new();
            utf8_into(env, value, &mut message)?;
            return Err(String::from_utf8_lossy(&message).into_owned());
        }
        match outputs.len() {
            0 => Ok(()),
            1 => {
                outputs[0] = val_from_js(env, value, outputs[0].ty())?;
                Ok(())
            }
            _ => {
                for (i, slot) in outputs.iter_mut().enumerate() {
                    let ty = slot.ty();
                    let mut element = ptr::null_mut();
                    check(
                        sys::napi_get_element(env, value, i as u32, &mut element),
                        "reading host function results",
                    )?;
                    *slot = val_from_js(env, element, ty)?;
                }
                Ok(())
            }
        }
    }
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
/// (the others) that lib/plugin.js made of it.
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
