//! The synchronous path: plugin code running on the JS thread itself
//! (`callSync`, `loadSync`, and `call()` of a short export), where JS host
//! functions are called directly and their `CallContext` reaches the running
//! `CurrentPlugin` in place.
//!
//! Hand-tuned: `callSync` is a plain N-API function (see `crate::handles`)
//! that reads the name and a string input in place; a host call passes its
//! arguments to JS without allocating (up to [`INLINE_ARGS`]).

use std::cell::Cell;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use extism_core::{CurrentPlugin, Error, Val};
use napi::bindgen_prelude::{sys, JsValue, ToNapiValue};

use crate::convert::{self, check};
use crate::host_context::DEAD;
use crate::js_thread::{HostCallArgs, JsThread};
use crate::outcome::{JsOutcome, Outcome};

thread_local! {
    /// The env of the synchronous method running on this (JS) thread, if any.
    static SYNC_ENV: Cell<sys::napi_env> = const { Cell::new(ptr::null_mut()) };
}

/// Marks the JS thread as inside a synchronous method for its lifetime, so
/// host functions and log lines of plugins running here call JS directly.
pub(crate) struct SyncScope {
    previous: sys::napi_env,
}

impl SyncScope {
    pub fn enter(env: sys::napi_env) -> SyncScope {
        let previous = SYNC_ENV.with(|c| c.replace(env));
        SyncScope { previous }
    }
}

impl Drop for SyncScope {
    fn drop(&mut self) {
        SYNC_ENV.with(|c| c.set(self.previous));
    }
}

/// The env of the synchronous method running on this thread.
pub(crate) fn sync_env() -> Result<sys::napi_env, String> {
    let raw = SYNC_ENV.with(|c| c.get());
    if raw.is_null() {
        return Err("plugin code ran on the JS thread outside a synchronous call".into());
    }
    Ok(raw)
}

/// `callSync(handle, name, input, hostContextId)`: null when the plugin set
/// no output, else an ArrayBuffer with a copy of it; on failure the outcome
/// (`ok: false`, kind, message, rc) for lib/errors.js. `name` (a string) and
/// `input` (a string or a Uint8Array) are read in place.
pub(crate) unsafe extern "C" fn call_sync(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        convert::run(env, || {
            let [handle, name, input, host_context] = convert::args::<4>(env, info)?;
            let state = crate::handles::plugin_state(env, handle).ok_or("not a plugin handle")?;
            let host_context = convert::optional_u32(env, host_context)?;
            let _scope = SyncScope::enter(env);
            let outcome = convert::with_str(env, name, |name| {
                convert::with_input(env, input, |bytes| {
                    state.call(name, bytes, host_context, |output| {
                        if output.is_empty() {
                            convert::null(env)
                        } else {
                            convert::array_buffer(env, output)
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

/// The host call of a plugin that runs on the JS thread right now.
///
/// Its `CallContext` names it by generation: a context kept after its host
/// function returned no longer matches and is refused, rather than acting
/// on a later call. Only the JS thread touches this (atomics make it `Sync`).
#[derive(Default)]
pub(crate) struct SyncHostCall {
    plugin: AtomicPtr<c_void>,
    generation: AtomicU32,
}

impl SyncHostCall {
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
    pub fn with_plugin<R>(
        &self,
        generation: u32,
        f: impl FnOnce(&mut CurrentPlugin<'_>) -> R,
    ) -> Result<R, &'static str> {
        let pointer = self.plugin.load(Ordering::Relaxed);
        if pointer.is_null() || self.generation.load(Ordering::Relaxed) != generation {
            return Err(DEAD);
        }
        // SAFETY: set by `call_host` for the duration of a host call on this
        // (the JS) thread, cleared before that call returns; the generation
        // check above ties the request to that very call.
        Ok(f(unsafe { &mut *(pointer as *mut CurrentPlugin<'static>) }))
    }
}

/// A host call inside a synchronous call: JS `hostDirect(pluginId, index,
/// generation, hostContextId, ...args)` runs the host function right here,
/// with `plugin` current meanwhile, and its results are stored in `args.outputs`.
///
/// `hostDirect` returns the results already checked against the result
/// types (those of the zeros `args.outputs` arrive with): nothing for none, the
/// value for one, an array for several; or a string, the message of the
/// host function's failure.
pub(crate) fn call_host(
    js: &JsThread,
    args: HostCallArgs<'_>,
    plugin: &mut CurrentPlugin<'_>,
) -> extism_core::Result<()> {
    let raw = sync_env().map_err(Error::host)?;
    let env = napi::Env::from_raw(raw);
    let host = js
        .host_direct
        .borrow_back(&env)
        .map_err(|e| Error::host(e.reason.clone()))?;
    let call = &js.sync_host_call;
    let (generation, previous) = call.enter(plugin);
    // SAFETY: `raw` is the env of the synchronous method running on this
    // thread (SyncScope), and `host` a function value of it.
    let answer = unsafe {
        call_js(
            raw,
            host.value().value,
            [js.plugin_id(), args.index, generation],
            args.host_context,
            args.inputs,
        )
        .and_then(|value| read_results(raw, value, args.outputs))
    };
    call.leave(previous);
    answer.map_err(Error::host)
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
            *slot = convert::val_to_js(env, value)?;
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

/// The text of the exception thrown out of `hostDirect` itself (which
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
        match convert::utf8_into(env, text, &mut out) {
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
            convert::utf8_into(env, value, &mut message)?;
            return Err(String::from_utf8_lossy(&message).into_owned());
        }
        match outputs.len() {
            0 => Ok(()),
            1 => {
                outputs[0] = convert::val_from_js(env, value, outputs[0].ty())?;
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
                    *slot = convert::val_from_js(env, element, ty)?;
                }
                Ok(())
            }
        }
    }
}
