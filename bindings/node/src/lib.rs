//! The Node.js addon over `extism-core`, built with napi-rs.
//!
//! This crate is the native half of the npm package; `lib/*.js` shapes it into
//! the official JS SDK surface (`createPlugin`, `Plugin`, `PluginOutput`,
//! `CallContext`). Every rule of behaviour comes from the core: the Rust here
//! converts values and errors, and moves work between threads.
//!
//! Threads: each plugin owns one native thread (spawned on its first
//! asynchronous job) that runs its jobs in order. Plugin code never runs on
//! the libuv pool: a plugin waiting on a JS host function would hold a pool
//! thread, and enough of them would starve the pool and deadlock the process.
//! JS host functions and log lines reach the JS thread through one
//! thread-safe function per plugin ([`bridge`]); while a host function runs,
//! the plugin thread serves its `CallContext` requests (memory, vars) so the
//! store is only ever touched by the thread that runs the plugin.
//!
//! The synchronous methods (`loadSync`, `callSync`) run the plugin on the JS
//! thread itself and call host functions directly, so they cannot deadlock.

mod bridge;
mod call_context;
mod direct;
mod error;
mod fast;
mod fetch;
mod plugin;
mod signature;

pub use call_context::JsCallContext;
pub use plugin::JsPlugin;

use napi_derive::napi;

/// `callSync` and the synchronous CallContext methods as plain functions
/// (see `fast`), each taking a `NativePlugin.handle()`.
#[napi(ts_return_type = "Record<string, (...args: any[]) => any>")]
pub fn fast_functions(env: napi::Env) -> napi::Result<napi::bindgen_prelude::Unknown<'static>> {
    // SAFETY: `env` is this call's env; the object is made in its scope.
    unsafe {
        let object = fast::functions(env.raw())?;
        Ok(napi::bindgen_prelude::Unknown::from_raw_unchecked(env.raw(), object))
    }
}

/// This runtime's version (the core's `VERSION`).
#[napi]
pub fn version() -> String {
    extism_core::VERSION.to_string()
}
