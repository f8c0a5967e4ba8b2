//! The Node.js addon over `extism-core`, built with napi-rs.
//!
//! This crate is the native half of the npm package; `lib/*.js` shapes it into
//! the official JS SDK surface (`createPlugin`, `Plugin`, `PluginOutput`,
//! `CallContext`). Every rule of behaviour comes from the core: the Rust here
//! converts values and errors, and moves work between threads.
//!
//! # Threads
//!
//! A plugin runs either on the JS thread or on its own plugin thread.
//!
//! - **Synchronous path** (`callSync`, `loadSync`, and `call()` of a short
//!   export, see docs/node.md "Where calls run"): the plugin runs on the JS
//!   thread itself; host functions are JS functions called right there, and
//!   their CallContext reaches the running plugin in place. Nothing waits for
//!   the event loop, so nothing can deadlock. Hand-tuned: plain N-API
//!   functions on type-tagged Externals, inputs read in place.
//! - **Asynchronous path** (`load`, `call`, `functionExists`, `close`): each
//!   plugin owns one native thread (started on its first such job) that runs
//!   its jobs in order; the plugin never runs on the libuv pool, which waiting
//!   host functions could exhaust. JS host functions, log lines, HTTP requests
//!   for a JS `fetch` and finished jobs reach the JS thread as events through
//!   one thread-safe function per plugin. While a host function runs, the
//!   plugin thread serves its CallContext requests, so the store is only ever
//!   touched by the thread that runs the plugin.
//!
//! Between threads, work is handed off through the mailboxes of `handoff`
//! (a receiver polls for up to 50 µs before it sleeps), checked under loom.
//!
//! # Modules
//!
//! - `plugin`: `NativePlugin`, the napi class behind `lib/plugin.js`'s `Plugin`.
//! - `plugin_state`: what a plugin's JS object, handle and thread share; the work of each job.
//! - `plugin_thread`: the plugin thread and its job queue.
//! - `load`: the options of `load`/`loadSync` as `PluginBuilder` settings.
//! - `js_thread`: events for the JS thread, and where a host function call goes.
//! - `sync_call`: the synchronous path: `callSync`, host functions called on the JS thread.
//! - `async_call`: host calls from the plugin thread, and their settling.
//! - `host_context`: the CallContext operations, one implementation for both paths.
//! - `handoff`: the hand-off between threads (mailboxes, one-shot replies, host call exchanges), no napi.
//! - `sync`: std or loom primitives for `handoff`, and the polling budget.
//! - `handles`: the type-tagged Externals that the plain N-API functions take.
//! - `fetch`: plugin HTTP requests served by a JS `fetch`.
//! - `convert`: N-API values to and from Rust (a leaf).
//! - `outcome`: how a job ends, as JS receives it.
//! - `error`: core errors as data for `lib/errors.js`.

mod async_call;
mod convert;
mod error;
mod fetch;
mod handles;
mod handoff;
mod host_context;
mod js_thread;
mod load;
mod outcome;
mod plugin;
mod plugin_state;
mod plugin_thread;
mod sync;
mod sync_call;

pub use plugin::JsPlugin;

use std::ffi::CString;
use std::ptr;
use std::sync::{Mutex, MutexGuard};

use napi::bindgen_prelude::sys;
use napi_derive::napi;

/// A (std) mutex's guard, also after a panic elsewhere poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// The plain N-API functions, by name. napi-rs's glue for class methods
/// tracks the borrow of `this` in a scope per call (a lock, a hash map, an
/// allocation), which cost about as much as a whole empty call: these take a
/// handle (`crate::handles`) instead, and do only the conversions they need.
const FUNCTIONS: &[(&str, Callback)] = &[
    ("callSync", sync_call::call_sync),
    // The CallContext operations, for both paths.
    ("hostRead", host_context::host_read),
    ("hostStore", host_context::host_store),
    ("hostAlloc", host_context::host_alloc),
    ("hostLength", host_context::host_length),
    ("hostTimeRemaining", host_context::host_time_remaining),
    ("hostGetVariable", host_context::host_get_variable),
    ("hostSetVariable", host_context::host_set_variable),
    ("hostDeleteVariable", host_context::host_delete_variable),
    ("hostSetError", host_context::host_set_error),
    // Settling a host call of the asynchronous path.
    ("hostResolve", async_call::host_resolve),
    ("hostReject", async_call::host_reject),
];

/// The functions of [`FUNCTIONS`] in one object.
#[napi(ts_return_type = "Record<string, (...args: any[]) => any>")]
pub fn fast_functions(env: napi::Env) -> napi::Result<napi::bindgen_prelude::Unknown<'static>> {
    let env = env.raw();
    let failed = |what: &str| napi::Error::from_reason(format!("cannot create the fast functions: {what}"));
    let mut object = ptr::null_mut();
    // SAFETY: `env` is this call's env; the object and functions are made in its scope.
    unsafe {
        if sys::napi_create_object(env, &mut object) != sys::Status::napi_ok {
            return Err(failed("object"));
        }
        for (name, callback) in FUNCTIONS {
            let mut f = ptr::null_mut();
            let cname = CString::new(*name).map_err(|_| failed(name))?;
            // `cname` outlives both calls; `callback` is a static function.
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
        Ok(napi::bindgen_prelude::Unknown::from_raw_unchecked(env, object))
    }
}

/// The log levels a plugin may be given, as the JS SDK names them: the
/// core's, most verbose first, then `silent`.
#[napi]
pub fn log_level_names() -> Vec<String> {
    extism_core::log::LogLevel::ALL
        .iter()
        .map(|level| level.as_str())
        .chain([load::SILENT])
        .map(str::to_string)
        .collect()
}

/// What a string given as a source names, by the core's
/// `source::classify_text`: `wat`, `manifest`, `url`, `file_url` or `path`.
#[napi]
pub fn classify_source(text: String) -> &'static str {
    extism_core::source::classify_text(&text).as_str()
}

/// This runtime's version (the core's `VERSION`).
#[napi]
pub fn version() -> String {
    extism_core::VERSION.to_string()
}
