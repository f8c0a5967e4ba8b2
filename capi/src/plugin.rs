//! Plugins: create, call, read output and errors, cancel, free.

use std::borrow::Borrow;
use std::ffi::{c_char, c_void, CString};
use std::sync::Mutex;

use extism_core::{
    CancelHandle, CompiledPlugin, Plugin, SharedPlugin, COMPILE_ERROR_PREFIX, CREATE_ERROR_PREFIX, RC_ERROR,
};

use crate::compiled::{compile, ExtismCompiledPlugin};
use crate::current_plugin::HostContext;
use crate::function::ExtismFunction;
use crate::guard::{bytes_arg, c_string, created, free_tagged, guard, guard_with, live, str_arg, Tagged};
use crate::types::ExtismSize;

/// A plugin. Use it from one thread at a time (calls from several threads are
/// serialized); only `extism_plugin_cancel` may run concurrently with a call.
pub struct ExtismPlugin {
    tag: u64,
    pub(crate) plugin: SharedPlugin,
    pub(crate) id: [u8; 16],
    cancel: ExtismCancelHandle,
    /// The text `extism_plugin_error` hands out, kept until the next call.
    error: Mutex<Option<CString>>,
}

/// Cancels the call running on its plugin; owned by the plugin.
pub struct ExtismCancelHandle {
    tag: u64,
    handle: CancelHandle,
}

impl Tagged for ExtismPlugin {
    const TAG: u64 = u64::from_le_bytes(*b"xtsmPlgn");
    fn tag(&self) -> u64 {
        self.tag
    }
}

impl Tagged for ExtismCancelHandle {
    const TAG: u64 = u64::from_le_bytes(*b"xtsmCncl");
    fn tag(&self) -> u64 {
        self.tag
    }
}

impl ExtismPlugin {
    fn new(plugin: Plugin) -> *mut ExtismPlugin {
        let id = *plugin.id().as_bytes();
        let cancel = ExtismCancelHandle {
            tag: ExtismCancelHandle::TAG,
            handle: plugin.cancel_handle(),
        };
        Box::into_raw(Box::new(ExtismPlugin {
            tag: ExtismPlugin::TAG,
            plugin: SharedPlugin::new(plugin),
            id,
            cancel,
            error: Mutex::new(None),
        }))
    }

    fn set_error(&self, text: Option<&str>) {
        *self.error.lock().unwrap_or_else(|e| e.into_inner()) = text.map(c_string);
    }

    /// Keep `text` as the error `extism_plugin_error` shows, and return
    /// `value`: what an export does when its work fails before it reaches
    /// the plugin (or panics), so that the error of an earlier call is not
    /// mistaken for this one's.
    fn failed<T>(&self, text: &str, value: T) -> T {
        self.set_error(Some(text));
        value
    }
}

/// What a plugin constructor returns: a plugin instantiated from `compiled`,
/// or NULL with the error in `errmsg`. Instantiation errors begin with
/// `create_prefix`: `extism_plugin_new` says "compile" for them too, as the
/// official library does, where the other constructors say "create".
unsafe fn instantiate(
    compiled: Result<impl Borrow<CompiledPlugin>, String>,
    create_prefix: &str,
    errmsg: *mut *mut c_char,
) -> *mut ExtismPlugin {
    let plugin = compiled.and_then(|c| c.borrow().instantiate().map_err(|e| format!("{create_prefix}{e}")));
    created(plugin.map(ExtismPlugin::new), errmsg)
}

/// Create a plugin from `wasm` (a wasm binary, WAT, or a JSON/TOML manifest)
/// with host functions (an array of `n_functions` pointers, or NULL; each is
/// taken by this call) and optionally WASI. Returns NULL on failure and, if
/// `errmsg` is not NULL, sets it to `Unable to compile Extism plugin: ...`,
/// to free with `extism_plugin_new_error_free`.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_new(
    wasm: *const u8,
    wasm_size: ExtismSize,
    functions: *mut *const ExtismFunction,
    n_functions: ExtismSize,
    with_wasi: bool,
    errmsg: *mut *mut c_char,
) -> *mut ExtismPlugin {
    guard(std::ptr::null_mut(), || {
        let compiled = compile(wasm, wasm_size, functions, n_functions, with_wasi, None);
        instantiate(compiled, COMPILE_ERROR_PREFIX, errmsg)
    })
}

/// Like `extism_plugin_new`, with a budget of `fuel_limit` fuel per call.
/// Creation errors say `Unable to create Extism plugin: ...`.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_new_with_fuel_limit(
    wasm: *const u8,
    wasm_size: ExtismSize,
    functions: *mut *const ExtismFunction,
    n_functions: ExtismSize,
    with_wasi: bool,
    fuel_limit: u64,
    errmsg: *mut *mut c_char,
) -> *mut ExtismPlugin {
    guard(std::ptr::null_mut(), || {
        let compiled = compile(wasm, wasm_size, functions, n_functions, with_wasi, Some(fuel_limit));
        instantiate(compiled, CREATE_ERROR_PREFIX, errmsg)
    })
}

/// Create a plugin from a compiled plugin, with its functions, WASI setting
/// and fuel limit. Safe to call from several threads at once. Errors:
/// `Unable to create Extism plugin: ...` in `errmsg`.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_new_from_compiled(
    compiled: *const ExtismCompiledPlugin,
    errmsg: *mut *mut c_char,
) -> *mut ExtismPlugin {
    guard(std::ptr::null_mut(), || {
        let compiled = live(compiled)
            .map(|c| &c.compiled)
            .ok_or_else(|| format!("{CREATE_ERROR_PREFIX}compiled plugin is NULL"));
        instantiate(compiled, CREATE_ERROR_PREFIX, errmsg)
    })
}

/// Record HTTP response headers for `http_headers` from now on. Cannot be
/// switched off. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_allow_http_response_headers(plugin: *mut ExtismPlugin) {
    guard((), || {
        if let Some(p) = live(plugin) {
            if let Ok(mut guard) = p.plugin.lock() {
                guard.allow_http_response_headers();
            }
        }
    })
}

/// Free a string returned through an `errmsg` out-parameter. NULL is ignored.
/// Never use it on `extism_plugin_error` results.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_new_error_free(err: *mut c_char) {
    guard((), || {
        if !err.is_null() {
            drop(CString::from_raw(err));
        }
    })
}

/// Free a plugin and every pointer obtained from it (id, cancel handle,
/// output, error). NULL is ignored. No call may be running on it.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_free(plugin: *mut ExtismPlugin) {
    guard((), || {
        free_tagged(plugin, |p| {
            p.tag = 0;
            p.cancel.tag = 0;
        })
    })
}

/// The plugin's cancel handle, owned by the plugin (valid until
/// `extism_plugin_free`; never free it). NULL for a NULL plugin.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_cancel_handle(plugin: *const ExtismPlugin) -> *const ExtismCancelHandle {
    guard(std::ptr::null(), || match live(plugin) {
        Some(p) => &p.cancel as *const ExtismCancelHandle,
        None => std::ptr::null(),
    })
}

/// Interrupt the call running on the handle's plugin, from any thread; that
/// call returns 134 with the error `timeout`. With no call running it does
/// nothing. Returns true when delivered, false for NULL.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_cancel(handle: *const ExtismCancelHandle) -> bool {
    guard(false, || match live(handle) {
        Some(h) => h.handle.cancel(),
        None => false,
    })
}

/// Merge a JSON object of `string -> string | null` into the plugin's config
/// (`null` deletes the key), from the next call on. Returns false, changing
/// nothing, for invalid JSON, other value types or a NULL plugin.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_config(
    plugin: *mut ExtismPlugin,
    json: *const u8,
    json_size: ExtismSize,
) -> bool {
    guard(false, || {
        let Some(p) = live(plugin) else { return false };
        let Ok(bytes) = bytes_arg(json, json_size, "config") else {
            return false;
        };
        let Ok(mut guard) = p.plugin.lock() else { return false };
        guard.update_config_json(bytes).is_ok()
    })
}

/// Whether the plugin exports `func_name` as a callable function (type
/// `() -> i32` or `() -> ()`). False for NULL or non-UTF-8 arguments.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_function_exists(plugin: *mut ExtismPlugin, func_name: *const c_char) -> bool {
    guard(false, || {
        let Some(p) = live(plugin) else { return false };
        let Ok(name) = str_arg(func_name, "function name") else {
            return false;
        };
        let Ok(mut guard) = p.plugin.lock() else { return false };
        guard.function_exists(name)
    })
}

/// Call `func_name` with `data_len` bytes of input (copied; `data` may be
/// NULL when `data_len` is 0). Same as `extism_plugin_call_with_host_context`
/// with a NULL context.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_call(
    plugin: *mut ExtismPlugin,
    func_name: *const c_char,
    data: *const u8,
    data_len: ExtismSize,
) -> i32 {
    extism_plugin_call_with_host_context(plugin, func_name, data, data_len, std::ptr::null_mut())
}

/// Call `func_name` with input and an opaque `host_context` that host
/// functions read with `extism_current_plugin_host_context`.
///
/// Returns 0 on success, the plugin's own non-zero return value, -1 for
/// runtime, host and lookup errors, 134 for a trap, timeout or cancel, or a
/// WASI exit code. 0 does not guarantee success: always check
/// `extism_plugin_error`. NULL plugin: -1 with no error text.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_call_with_host_context(
    plugin: *mut ExtismPlugin,
    func_name: *const c_char,
    data: *const u8,
    data_len: ExtismSize,
    host_context: *mut c_void,
) -> i32 {
    guard(RC_ERROR, || {
        let Some(p) = live(plugin) else { return RC_ERROR };
        guard_with(
            |panic| p.failed(panic, RC_ERROR),
            || call(p, func_name, data, data_len, host_context),
        )
    })
}

/// The body of `extism_plugin_call_with_host_context`, for a live plugin.
unsafe fn call(
    p: &ExtismPlugin,
    func_name: *const c_char,
    data: *const u8,
    data_len: ExtismSize,
    host_context: *mut c_void,
) -> i32 {
    let args = str_arg(func_name, "function name").and_then(|name| Ok((name, bytes_arg(data, data_len, "input")?)));
    let (name, input) = match args {
        Ok(a) => a,
        Err(text) => return p.failed(&text, RC_ERROR),
    };
    let mut guard = match p.plugin.lock() {
        Ok(g) => g,
        // A host function calling back into its own plugin.
        Err(e) => return p.failed(e.message(), RC_ERROR),
    };
    let context =
        (!host_context.is_null()).then(|| Box::new(HostContext(host_context)) as Box<dyn std::any::Any + Send>);
    let result = guard.call_with_context(name, input, context);
    p.set_error(result.error.as_ref().map(|e| e.message()));
    result.rc
}

/// Deprecated: the same as `extism_plugin_error`.
#[no_mangle]
pub unsafe extern "C" fn extism_error(plugin: *mut ExtismPlugin) -> *const c_char {
    extism_plugin_error(plugin)
}

/// The error of the last call (or failed reset), or NULL when there was none
/// or the plugin is NULL. The string is owned by the plugin (never free it)
/// and valid until the next call, reset or free.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_error(plugin: *mut ExtismPlugin) -> *const c_char {
    guard(std::ptr::null(), || {
        let Some(p) = live(plugin) else {
            return std::ptr::null();
        };
        let error = p.error.lock().unwrap_or_else(|e| e.into_inner());
        error.as_ref().map(|s| s.as_ptr()).unwrap_or(std::ptr::null())
    })
}

/// The length of the last call's output (0 when none was set, or NULL plugin).
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_output_length(plugin: *mut ExtismPlugin) -> ExtismSize {
    guard(0, || {
        let Some(p) = live(plugin) else { return 0 };
        p.plugin.lock().map(|g| g.output().len() as u64).unwrap_or(0)
    })
}

/// A pointer to the last call's output, inside Extism memory (never free it).
/// Valid until the next call, reset or free. With no output it is a valid
/// pointer and the length is 0. NULL for a NULL plugin.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_output_data(plugin: *mut ExtismPlugin) -> *const u8 {
    guard(std::ptr::null(), || {
        let Some(p) = live(plugin) else {
            return std::ptr::null();
        };
        p.plugin.lock().map(|g| g.output_ptr()).unwrap_or(std::ptr::null())
    })
}

/// Free every block of Extism memory (outstanding handles, output and plugin
/// error become invalid). Vars, config and the plugin's own memory are kept.
/// Returns false on failure (then `extism_plugin_error` says why) or for NULL.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_reset(plugin: *mut ExtismPlugin) -> bool {
    guard(false, || {
        let Some(p) = live(plugin) else { return false };
        guard_with(
            |panic| p.failed(panic, false),
            || {
                let result = p.plugin.lock().and_then(|mut g| g.reset());
                p.set_error(result.as_ref().err().map(|e| e.message()));
                result.is_ok()
            },
        )
    })
}
