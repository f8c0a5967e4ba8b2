//! Host calls of a plugin running on its own thread (an asynchronous call):
//! the plugin thread sends an `Event::Host` to the JS thread, then serves the
//! host function's CallContext requests until the host function settles
//! (`hostResolve` / `hostReject`, for an async one when its Promise does).
//! The store is thus only ever touched by the thread that runs the plugin.
//!
//! The hand-off itself is a [`handoff::Exchange`]; this adds what it carries.

use std::sync::Arc;

use extism_core::{CurrentPlugin, Error, Val, ValType};
use napi::bindgen_prelude::sys;

use crate::convert::{self, check};
use crate::handoff::Exchange;
use crate::host_context::{Answer, Request, DEAD};
use crate::js_thread::{Event, HostCallArgs, JsThread};

/// One host call of an asynchronous call.
pub(crate) struct AsyncHostCall {
    /// CallContext requests and their answers, then the host function's
    /// results (or its failure).
    exchange: Exchange<Request<'static>, Result<Answer<'static>, String>, Result<Vec<Val>, String>>,
    /// The wasm types of the results.
    results: Vec<ValType>,
}

impl AsyncHostCall {
    /// Perform `request` on the plugin thread; `None` once the host call has
    /// returned (the context is dead).
    pub(crate) fn ask(&self, request: Request<'static>) -> Option<Result<Answer<'static>, String>> {
        self.exchange.ask(request)
    }

    /// Settle the host call (from the JS thread); `DEAD` when it already was.
    ///
    /// # Safety
    /// `env` must be the live env of the current scope.
    unsafe fn settle(&self, env: sys::napi_env, answer: Result<Vec<Val>, String>) -> Result<sys::napi_value, String> {
        match self.exchange.settle(answer) {
            true => unsafe { convert::undefined(env) },
            false => Err(DEAD.into()),
        }
    }
}

/// The JS side's hold on a host call (in its host call handle): dropped
/// unsettled, it abandons the call, which then fails rather than waiting
/// for an answer that cannot come.
pub(crate) struct AsyncHostCallJsSide(Arc<AsyncHostCall>);

impl AsyncHostCallJsSide {
    pub(crate) fn call(&self) -> &AsyncHostCall {
        &self.0
    }
}

impl Drop for AsyncHostCallJsSide {
    fn drop(&mut self) {
        self.0.exchange.abandon();
    }
}

/// Run JS host function `index` from the plugin thread and wait for it,
/// serving its CallContext requests meanwhile.
pub(crate) fn call_host(
    js: &JsThread,
    args: HostCallArgs<'_>,
    plugin: &mut CurrentPlugin<'_>,
) -> extism_core::Result<()> {
    let call = Arc::new(AsyncHostCall {
        exchange: Exchange::default(),
        // The outputs arrive as zeros of the result types.
        results: args.outputs.iter().map(Val::ty).collect(),
    });
    let event = Event::Host {
        index: args.index,
        args: args.inputs.to_vec(),
        call: AsyncHostCallJsSide(call.clone()),
        host_context: args.host_context,
    };
    if !js.send(event) {
        return Err(Error::host("the JS environment is shutting down"));
    }
    let settled = call
        .exchange
        .serve(|request| request.perform(plugin).map(Answer::into_owned));
    let values = settled
        .unwrap_or_else(|| Err("host function was dropped without settling".into()))
        .map_err(Error::host)?;
    for (slot, value) in args.outputs.iter_mut().zip(values) {
        *slot = value;
    }
    Ok(())
}

/// `hostResolve(hostCall, results)`: settle the host call with its results,
/// already converted by JS to a number (i32, f32, f64) or a BigInt (i64) each.
pub(crate) unsafe extern "C" fn host_resolve(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        convert::run(env, || -> Result<sys::napi_value, String> {
            let [handle, values] = convert::args::<2>(env, info)?;
            let call = crate::handles::async_host_call(env, handle).ok_or("not a host call handle")?;
            let mut length = 0u32;
            check(
                sys::napi_get_array_length(env, values, &mut length),
                "reading host function results",
            )?;
            let mut out = Vec::with_capacity(call.results.len());
            for (i, ty) in call.results.iter().enumerate().take(length as usize) {
                let mut element = std::ptr::null_mut();
                check(
                    sys::napi_get_element(env, values, i as u32, &mut element),
                    "reading host function results",
                )?;
                out.push(convert::val_from_js(env, element, *ty)?);
            }
            call.settle(env, Ok(out))
        })
    }
}

/// `hostReject(hostCall, message)`: settle the host call with an error; the
/// plugin call fails with it.
pub(crate) unsafe extern "C" fn host_reject(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        convert::run(env, || -> Result<sys::napi_value, String> {
            let [handle, message] = convert::args::<2>(env, info)?;
            let call = crate::handles::async_host_call(env, handle).ok_or("not a host call handle")?;
            let message = convert::with_str(env, message, str::to_string)?;
            call.settle(env, Err(message))
        })
    }
}
