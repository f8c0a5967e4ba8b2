//! The CallContext operations (`lib/call-context.js` wraps them in the
//! official surface): one table of plain N-API functions, one
//! implementation ([`Request::perform`]), for both kinds of host call.
//!
//! Each function takes `(target, generation, ...)`, where the target says
//! where the plugin of the host call is ([`PluginAt`]):
//! - a plugin handle: a synchronous call, its plugin on this (the JS) thread,
//!   inside the host call named by `generation`;
//! - a host call handle: an asynchronous call, its plugin on the plugin
//!   thread, which performs the request while it waits for the host function.
//!
//! A context kept after its host call returned is dead: `read` answers
//! null, `length` 0, `timeRemaining` null (as the JS SDK answers for blocks
//! that are gone), and the others throw [`DEAD`].

use std::borrow::Cow;

use extism_core::CurrentPlugin;
use napi::bindgen_prelude::sys;

use crate::async_call::AsyncHostCall;
use crate::convert::{self, Thrown};
use crate::sync_call::SyncHostCall;

pub(crate) const DEAD: &str = "this CallContext is no longer valid: its host function call has returned";

/// One CallContext operation, with its arguments: borrowed from JS on the
/// synchronous path, owned once sent to a plugin thread.
pub(crate) enum Request<'a> {
    Read(u64),
    Store(Cow<'a, [u8]>),
    Alloc(u64),
    Length(u64),
    TimeRemaining,
    GetVariable(Cow<'a, str>),
    SetVariable(Cow<'a, str>, Cow<'a, [u8]>),
    DeleteVariable(Cow<'a, str>),
    SetError(Cow<'a, str>),
}

/// What an operation answers; `'p` borrows plugin memory.
pub(crate) enum Answer<'p> {
    /// `read`, `getVariable`: an ArrayBuffer, or null.
    Bytes(Option<Cow<'p, [u8]>>),
    /// `store`, `alloc`, `length`: a BigInt.
    Number(u64),
    /// `timeRemaining`: milliseconds, or null.
    Millis(Option<f64>),
    /// `setVariable`, `deleteVariable`, `setError`: undefined.
    Nothing,
}

fn message(e: extism_core::Error) -> String {
    e.message().to_string()
}

impl Request<'_> {
    /// The operation, on the plugin of the host call.
    pub fn perform<'p>(self, plugin: &'p mut CurrentPlugin<'_>) -> Result<Answer<'p>, String> {
        Ok(match self {
            Request::Read(0) => Answer::Bytes(None),
            Request::Read(address) => Answer::Bytes(plugin.block(address).ok().map(|b| Cow::Borrowed(&*b))),
            Request::Store(bytes) => Answer::Number(plugin.alloc_bytes(&bytes).map_err(message)?),
            Request::Alloc(size) => Answer::Number(plugin.alloc(size).map_err(message)?),
            Request::Length(address) => Answer::Number(plugin.length(address).map_err(message)?),
            Request::TimeRemaining => Answer::Millis(plugin.time_remaining().map(|d| d.as_secs_f64() * 1000.0)),
            Request::GetVariable(name) => Answer::Bytes(plugin.var(&name).map(Cow::Borrowed)),
            Request::SetVariable(name, value) => {
                plugin.set_var(&name, Some(&value));
                Answer::Nothing
            }
            Request::DeleteVariable(name) => {
                plugin.set_var(&name, None);
                Answer::Nothing
            }
            Request::SetError(text) => {
                plugin.set_error(&text).map_err(message)?;
                Answer::Nothing
            }
        })
    }

    /// The answer of a dead context, if this operation has one (else it throws [`DEAD`]).
    pub fn when_dead(&self) -> Option<Answer<'static>> {
        match self {
            Request::Read(_) => Some(Answer::Bytes(None)),
            Request::Length(_) => Some(Answer::Number(0)),
            Request::TimeRemaining => Some(Answer::Millis(None)),
            _ => None,
        }
    }

    /// The request with its own copy of what it borrows, to send to another thread.
    pub fn into_owned(self) -> Request<'static> {
        let own = |s: Cow<'_, str>| Cow::Owned(s.into_owned());
        let own_bytes = |b: Cow<'_, [u8]>| Cow::Owned(b.into_owned());
        match self {
            Request::Read(address) => Request::Read(address),
            Request::Store(bytes) => Request::Store(own_bytes(bytes)),
            Request::Alloc(size) => Request::Alloc(size),
            Request::Length(address) => Request::Length(address),
            Request::TimeRemaining => Request::TimeRemaining,
            Request::GetVariable(name) => Request::GetVariable(own(name)),
            Request::SetVariable(name, value) => Request::SetVariable(own(name), own_bytes(value)),
            Request::DeleteVariable(name) => Request::DeleteVariable(own(name)),
            Request::SetError(text) => Request::SetError(own(text)),
        }
    }
}

impl Answer<'_> {
    /// The answer with its own copy of the plugin memory it borrows.
    pub fn into_owned(self) -> Answer<'static> {
        match self {
            Answer::Bytes(bytes) => Answer::Bytes(bytes.map(|b| Cow::Owned(b.into_owned()))),
            Answer::Number(n) => Answer::Number(n),
            Answer::Millis(ms) => Answer::Millis(ms),
            Answer::Nothing => Answer::Nothing,
        }
    }

    /// # Safety
    /// `env` must be the live env of the current scope.
    unsafe fn to_js(&self, env: sys::napi_env) -> Result<sys::napi_value, String> {
        unsafe {
            match self {
                Answer::Bytes(Some(bytes)) => convert::array_buffer(env, bytes),
                Answer::Bytes(None) | Answer::Millis(None) => convert::null(env),
                Answer::Number(n) => convert::bigint(env, *n),
                Answer::Millis(Some(ms)) => convert::number(env, *ms),
                Answer::Nothing => convert::undefined(env),
            }
        }
    }
}

/// Where the plugin of a host call is.
pub(crate) enum PluginAt<'a> {
    /// A synchronous call: on this thread, inside host call `generation`.
    ThisThread(&'a SyncHostCall, u32),
    /// An asynchronous call: on its plugin thread, which serves requests.
    PluginThread(&'a AsyncHostCall),
}

impl PluginAt<'_> {
    /// Perform `request` on the plugin, wherever it is, and make its answer
    /// a JS value (in place, from plugin memory, on this thread).
    ///
    /// # Safety
    /// `env` must be the live env of the current scope.
    unsafe fn perform(&self, env: sys::napi_env, request: Request<'_>) -> Result<sys::napi_value, String> {
        let dead = request.when_dead();
        let answer = match self {
            PluginAt::ThisThread(call, generation) => {
                match call.with_plugin(*generation, |p| {
                    request.perform(p).and_then(|a| unsafe { a.to_js(env) })
                }) {
                    Ok(made) => return made,
                    Err(_dead) => None,
                }
            }
            PluginAt::PluginThread(call) => call.ask(request.into_owned()),
        };
        match (answer, dead) {
            (Some(answer), _) => unsafe { answer?.to_js(env) },
            (None, Some(dead)) => unsafe { dead.to_js(env) },
            (None, None) => Err(DEAD.into()),
        }
    }

    /// The `code` of the errors thrown for this host call: napi-rs's
    /// `GenericFailure` for an asynchronous call (whose CallContext used to be
    /// a napi-rs class), none for a synchronous one.
    fn error_code(&self) -> Option<&'static std::ffi::CStr> {
        match self {
            PluginAt::ThisThread(..) => None,
            PluginAt::PluginThread(_) => Some(c"GenericFailure"),
        }
    }
}

/// Runs the operation `op` of a `host*(target, generation, ...)` function
/// with its `N` arguments.
unsafe fn operation<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    op: impl FnOnce(&PluginAt<'_>, [sys::napi_value; N]) -> Result<sys::napi_value, String>,
) -> sys::napi_value {
    unsafe {
        convert::run(env, || -> Result<sys::napi_value, Thrown> {
            let argv = convert::args::<N>(env, info)?;
            let at = if let Some(state) = crate::handles::plugin_state(env, argv[0]) {
                PluginAt::ThisThread(&state.js.sync_host_call, convert::u32_arg(env, argv[1])?)
            } else if let Some(call) = crate::handles::async_host_call(env, argv[0]) {
                PluginAt::PluginThread(call)
            } else {
                return Err(Thrown::from(String::from("not a plugin handle")));
            };
            op(&at, argv).map_err(|message| Thrown {
                message,
                code: at.error_code(),
            })
        })
    }
}

/// Runs an operation `host*(target, generation, number)`: `request`, made
/// from its one argument, an address or a size.
unsafe fn number_operation(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    request: fn(u64) -> Request<'static>,
) -> sys::napi_value {
    unsafe {
        operation(env, info, |at, [.., number]: [_; 3]| {
            at.perform(env, request(convert::address(env, number)?))
        })
    }
}

/// Runs an operation `host*(target, generation, text)`: `request`, made from
/// its one argument, a string read in place (the request borrows it).
unsafe fn text_operation(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    request: fn(&str) -> Request<'_>,
) -> sys::napi_value {
    unsafe {
        operation(env, info, |at, [.., text]: [_; 3]| {
            convert::with_str(env, text, |text| at.perform(env, request(text)))?
        })
    }
}

/// `hostRead(target, generation, address)`: the block's bytes as an
/// ArrayBuffer, or null for 0 or an address that is not a block.
pub(crate) unsafe extern "C" fn host_read(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe { number_operation(env, info, Request::Read) }
}

/// `hostStore(target, generation, bytes)`: a new block holding `bytes` (a
/// string or a Uint8Array); its address.
pub(crate) unsafe extern "C" fn host_store(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        operation(env, info, |at, [.., bytes]: [_; 3]| {
            convert::with_input(env, bytes, |bytes| {
                at.perform(env, Request::Store(Cow::Borrowed(bytes)))
            })?
        })
    }
}

/// `hostAlloc(target, generation, size)`: a new block's address; 0 when memory is exhausted.
pub(crate) unsafe extern "C" fn host_alloc(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe { number_operation(env, info, Request::Alloc) }
}

/// `hostLength(target, generation, address)`: the block's length, 0 when there is none.
pub(crate) unsafe extern "C" fn host_length(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe { number_operation(env, info, Request::Length) }
}

/// `hostTimeRemaining(target, generation)`: milliseconds left before the
/// call's timeout, or null without one.
pub(crate) unsafe extern "C" fn host_time_remaining(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    unsafe { operation(env, info, |at, _: [_; 2]| at.perform(env, Request::TimeRemaining)) }
}

/// `hostGetVariable(target, generation, name)`: the var's bytes as an ArrayBuffer, or null.
pub(crate) unsafe extern "C" fn host_get_variable(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    unsafe { text_operation(env, info, |name| Request::GetVariable(name.into())) }
}

/// `hostSetVariable(target, generation, name, bytes)`.
pub(crate) unsafe extern "C" fn host_set_variable(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    unsafe {
        operation(env, info, |at, [.., name, value]: [_; 4]| {
            convert::with_str(env, name, |name| {
                convert::with_input(env, value, |value| {
                    at.perform(env, Request::SetVariable(Cow::Borrowed(name), Cow::Borrowed(value)))
                })?
            })?
        })
    }
}

/// `hostDeleteVariable(target, generation, name)`.
pub(crate) unsafe extern "C" fn host_delete_variable(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    unsafe { text_operation(env, info, |name| Request::DeleteVariable(name.into())) }
}

/// `hostSetError(target, generation, message)`: the call then fails with it.
pub(crate) unsafe extern "C" fn host_set_error(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe { text_operation(env, info, |message| Request::SetError(message.into())) }
}
