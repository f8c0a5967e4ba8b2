//! The handles that the plain N-API functions take: JS Externals, each
//! type-tagged so that a foreign External (or any other value) is refused
//! before its data is touched.
//!
//! - a plugin handle (`NativePlugin.handle()`) owns a reference to the
//!   [`PluginState`]: `callSync` takes it, and so does the CallContext of a
//!   host function that runs for a synchronous call (with its generation);
//! - a host call handle owns the JS side of one [`AsyncHostCall`]: the
//!   CallContext of a host function that runs for an asynchronous call.
//!   Finalized unsettled (the host function can no longer settle), it
//!   abandons the call, which then fails instead of waiting forever.

use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::sys;

use crate::async_call::{AsyncHostCall, AsyncHostCallJsSide};
use crate::plugin_state::PluginState;

const PLUGIN_TAG: sys::napi_type_tag = sys::napi_type_tag {
    lower: 0x6578_7469_736d_2d72, // "extism-r"
    upper: 0x706c_7567_696e_2d31, // "plugin-1"
};

const HOST_CALL_TAG: sys::napi_type_tag = sys::napi_type_tag {
    lower: 0x6578_7469_736d_2d72, // "extism-r"
    upper: 0x686f_7374_6361_6c6c, // "hostcall"
};

/// A new plugin handle.
pub(crate) fn plugin_handle(env: sys::napi_env, state: Arc<PluginState>) -> napi::Result<sys::napi_value> {
    external(env, state, &PLUGIN_TAG, "plugin")
}

/// The plugin behind a plugin handle; `None` for any other value.
///
/// # Safety
/// `env` and `value` must be live handles of the current N-API scope.
pub(crate) unsafe fn plugin_state<'a>(env: sys::napi_env, value: sys::napi_value) -> Option<&'a PluginState> {
    unsafe { tagged::<Arc<PluginState>>(env, value, &PLUGIN_TAG) }.map(|state| &**state)
}

/// A new host call handle.
pub(crate) fn host_call_handle(env: sys::napi_env, call: AsyncHostCallJsSide) -> napi::Result<sys::napi_value> {
    external(env, call, &HOST_CALL_TAG, "host call")
}

/// The host call behind a host call handle; `None` for any other value.
///
/// # Safety
/// As for [`plugin_state`].
pub(crate) unsafe fn async_host_call<'a>(env: sys::napi_env, value: sys::napi_value) -> Option<&'a AsyncHostCall> {
    unsafe { tagged::<AsyncHostCallJsSide>(env, value, &HOST_CALL_TAG) }.map(|call| call.call())
}

/// A JS External owning `data`, tagged `tag`.
fn external<T: 'static>(
    env: sys::napi_env,
    data: T,
    tag: &sys::napi_type_tag,
    what: &str,
) -> napi::Result<sys::napi_value> {
    unsafe extern "C" fn finalize<T>(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
        // SAFETY: `data` is the Box made below, finalized once.
        drop(unsafe { Box::from_raw(data as *mut T) });
    }
    let data = Box::into_raw(Box::new(data));
    let mut value = ptr::null_mut();
    // SAFETY: `env` is live; on success the finalizer owns `data`.
    let status =
        unsafe { sys::napi_create_external(env, data.cast(), Some(finalize::<T>), ptr::null_mut(), &mut value) };
    if status != sys::Status::napi_ok {
        // SAFETY: not handed to JS.
        drop(unsafe { Box::from_raw(data) });
        return Err(napi::Error::from_reason(format!("cannot create the {what} handle")));
    }
    // SAFETY: a live value of this scope; once tagged, its finalizer still owns `data`.
    if unsafe { sys::napi_type_tag_object(env, value, tag) } != sys::Status::napi_ok {
        return Err(napi::Error::from_reason(format!("cannot tag the {what} handle")));
    }
    Ok(value)
}

/// The data of an External made by [`external`] with `tag`.
///
/// # Safety
/// As for [`plugin_state`]; `T` must be the type the handles of `tag` hold.
unsafe fn tagged<'a, T>(env: sys::napi_env, value: sys::napi_value, tag: &sys::napi_type_tag) -> Option<&'a T> {
    let mut ty = 0;
    let mut is_tagged = false;
    let mut data = ptr::null_mut();
    // SAFETY: N-API checks the type and the tag; our tagged Externals point
    // to live data for as long as JS holds them (this call's argument does).
    unsafe {
        if sys::napi_typeof(env, value, &mut ty) != sys::Status::napi_ok
            || ty != sys::ValueType::napi_external
            || sys::napi_check_object_type_tag(env, value, tag, &mut is_tagged) != sys::Status::napi_ok
            || !is_tagged
            || sys::napi_get_value_external(env, value, &mut data) != sys::Status::napi_ok
            || data.is_null()
        {
            return None;
        }
        Some(&*(data as *const T))
    }
}
