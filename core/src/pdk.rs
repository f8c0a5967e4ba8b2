//! The built-in host functions of `extism:host/env` (docs/abi.md, Built-in host functions): config,
//! vars, HTTP and logging. They run on the host and reach Extism memory
//! through the kernel.

use wasmtime::{Caller, Linker};

use crate::current_plugin::CurrentPlugin;
use crate::error::{Error, ErrorKind, Result};
use crate::function::{Function, Val, ValType};
use crate::http::{HttpClient, HttpClientRequest, HttpClientResponse};
use crate::kernel::ENV_MODULE;
use crate::log::{self, LogLevel};
use crate::state::PluginState;

/// The names of the built-ins (a user function of the same name in
/// `extism:host/env` replaces one).
pub const BUILTIN_FUNCTIONS: &[&str] = &[
    "config_get",
    "var_get",
    "var_set",
    "http_request",
    "http_status_code",
    "http_headers",
    "log_trace",
    "log_debug",
    "log_info",
    "log_warn",
    "log_error",
    "get_log_level",
];

type Ctx<'a> = Caller<'a, PluginState>;

fn fail(message: String) -> wasmtime::Error {
    wasmtime::Error::new(Error::new(ErrorKind::HostFunction, message))
}

fn length(caller: &mut Ctx<'_>, handle: i64) -> wasmtime::Result<u64> {
    let kernel = caller.data().kernel_arc();
    let f = &kernel.length;
    Ok(f.call(&mut *caller, handle)? as u64)
}

fn free(caller: &mut Ctx<'_>, handle: i64) -> wasmtime::Result<()> {
    let kernel = caller.data().kernel_arc();
    let f = &kernel.free;
    f.call(&mut *caller, handle)
}

/// The bytes of the block at `handle`; handle 0 reads as empty. A handle
/// that is not a live block fails with `invalid handle offset for {what}: {h}`.
fn read_block(caller: &mut Ctx<'_>, handle: i64, what: &str) -> wasmtime::Result<Vec<u8>> {
    if handle == 0 {
        return Ok(Vec::new());
    }
    let len = length(caller, handle)?;
    if len == 0 {
        return Err(fail(format!("invalid handle offset for {what}: {handle}")));
    }
    let memory = caller.data().kernel().memory;
    let start = handle as usize;
    Ok(memory.data(&*caller)[start..start + len as usize].to_vec())
}

fn read_text(caller: &mut Ctx<'_>, handle: i64, what: &str) -> wasmtime::Result<String> {
    let bytes = read_block(caller, handle, what)?;
    String::from_utf8(bytes).map_err(|e| fail(format!("{what} is not valid UTF-8: {e}")))
}

/// A new block holding `bytes`, or 0 for none.
fn write_block(caller: &mut Ctx<'_>, bytes: &[u8]) -> wasmtime::Result<i64> {
    if bytes.is_empty() {
        return Ok(0);
    }
    let kernel = caller.data().kernel_arc();
    let alloc = &kernel.alloc;
    let handle = alloc.call(&mut *caller, bytes.len() as i64)?;
    if handle == 0 {
        return Err(wasmtime::Error::new(Error::new(
            ErrorKind::OutOfMemory,
            "failed to allocate extism memory",
        )));
    }
    let memory = caller.data().kernel().memory;
    let start = handle as usize;
    memory.data_mut(&mut *caller)[start..start + bytes.len()].copy_from_slice(bytes);
    Ok(handle)
}

/// Frees the blocks a built-in took ownership of, after its result block was
/// allocated: so the result never lands on a freed key, and a PDK that frees
/// the key again (the Haskell PDK does) frees nothing live.
fn free_consumed(caller: &mut Ctx<'_>, handles: &[i64]) -> wasmtime::Result<()> {
    for &handle in handles {
        if handle != 0 {
            free(caller, handle)?;
        }
    }
    Ok(())
}

fn config_get(mut caller: Ctx<'_>, key: i64) -> wasmtime::Result<i64> {
    let key_text = read_text(&mut caller, key, "config key")?;
    let value = match caller.data().config.get(&key_text) {
        Some(v) if !v.is_empty() => Some(v.clone()),
        _ => None,
    };
    let result = match value {
        Some(v) => write_block(&mut caller, v.as_bytes())?,
        None => 0,
    };
    free_consumed(&mut caller, &[key])?;
    Ok(result)
}

fn var_get(mut caller: Ctx<'_>, key: i64) -> wasmtime::Result<i64> {
    let key_text = read_text(&mut caller, key, "var key")?;
    let value = match caller.data().vars.get(&key_text) {
        Some(v) if !v.is_empty() => Some(v.clone()),
        _ => None,
    };
    let result = match value {
        Some(v) => write_block(&mut caller, &v)?,
        None => 0,
    };
    free_consumed(&mut caller, &[key])?;
    Ok(result)
}

/// Two 24-byte container headers per entry, counted as the official runtime does.
const VAR_ENTRY_OVERHEAD: u64 = 48;

fn var_set(mut caller: Ctx<'_>, key: i64, value: i64) -> wasmtime::Result<()> {
    let limit = caller.data().manifest.max_var_bytes();
    if limit == 0 {
        return Err(fail("Vars are disabled by this host".into()));
    }
    let key_text = read_text(&mut caller, key, "var key")?;
    if value == 0 {
        caller.data_mut().vars.remove(&key_text);
        return free(&mut caller, key);
    }
    let bytes = read_block(&mut caller, value, "var value")?;
    let used: u64 = caller
        .data()
        .vars
        .iter()
        .map(|(k, v)| VAR_ENTRY_OVERHEAD + k.len() as u64 + v.len() as u64)
        .sum();
    let requested = VAR_ENTRY_OVERHEAD + key_text.len() as u64 + bytes.len() as u64 + used;
    if requested > limit {
        return Err(wasmtime::Error::new(Error::var_limit(requested, limit)));
    }
    free(&mut caller, key)?;
    free(&mut caller, value)?;
    caller.data_mut().vars.insert(key_text, bytes);
    Ok(())
}

fn http_request(mut caller: Ctx<'_>, request: i64, body: i64) -> wasmtime::Result<i64> {
    send_http_request(&mut caller, request, body, None)
}

/// `http_request`, through `client` or (with `None`) the runtime's own.
fn send_http_request(
    caller: &mut Ctx<'_>,
    request: i64,
    body: i64,
    client: Option<&HttpClient>,
) -> wasmtime::Result<i64> {
    caller.data_mut().http_status = 0;
    if let Some(headers) = caller.data_mut().http_headers.as_mut() {
        headers.clear();
    }
    let text = read_block(caller, request, "http request")?;
    let parsed: crate::http::HttpRequest =
        serde_json::from_slice(&text).map_err(|e| fail(format!("invalid http request: {e}")))?;
    let body_bytes = if body == 0 {
        None
    } else {
        Some(read_block(caller, body, "http request body")?)
    };
    let (allowed, max_body) = {
        let m = &caller.data().manifest;
        (m.allowed_hosts.clone(), m.max_http_response_bytes())
    };
    let deadline = caller.data().deadline;
    let response = crate::http::plugin_request(
        &parsed,
        body_bytes.as_deref(),
        allowed.as_deref(),
        max_body,
        deadline,
        client,
    )
    .map_err(wasmtime::Error::new)?;
    let state = caller.data_mut();
    state.http_status = response.status;
    if let Some(headers) = state.http_headers.as_mut() {
        *headers = response.headers;
    }
    let result = write_block(caller, &response.body)?;
    free_consumed(caller, &[request, body])?;
    Ok(result)
}

impl Function {
    /// The built-in `extism:host/env::http_request` with the plugin's
    /// requests sent by `client` instead of the runtime's own HTTP client
    /// (the Node addon's `fetch` option). Everything else stays the
    /// built-in's: `allowed_hosts` is checked before `client` is called, on
    /// every hop (a 3xx response with a `Location` is followed by the
    /// runtime, which asks `client` again), the body limit of
    /// `memory.max_http_response_bytes` applies, and `http_status_code` and
    /// `http_headers` report the response. Add it as any host function; a
    /// later host function of that name still replaces it.
    pub fn http_client<F>(client: F) -> Function
    where
        F: Fn(&HttpClientRequest) -> Result<HttpClientResponse> + Send + Sync + 'static,
    {
        let callback = move |plugin: &mut CurrentPlugin<'_>, inputs: &[Val], outputs: &mut [Val]| -> Result<()> {
            let arg = |i: usize| inputs.get(i).and_then(Val::i64).unwrap_or(0);
            let handle = send_http_request(&mut plugin.caller, arg(0), arg(1), Some(&client))
                .map_err(|e| crate::error::call_error_from_wasmtime(e).1)?;
            if let Some(slot) = outputs.first_mut() {
                *slot = Val::I64(handle);
            }
            Ok(())
        };
        Function::new("http_request", [ValType::I64, ValType::I64], [ValType::I64], callback)
            .expect("i64 is a host function type")
            .with_namespace(ENV_MODULE)
    }
}

fn http_headers(mut caller: Ctx<'_>) -> wasmtime::Result<i64> {
    let json = match &caller.data().http_headers {
        Some(h) => serde_json::to_vec(h).map_err(|e| fail(e.to_string()))?,
        None => return Ok(0),
    };
    write_block(&mut caller, &json)
}

fn log_message(mut caller: Ctx<'_>, level: LogLevel, handle: i64) -> wasmtime::Result<()> {
    if !log::enabled(caller.data().log.as_ref(), level) {
        return free(&mut caller, handle);
    }
    let bytes = read_block(&mut caller, handle, "log message")?;
    free(&mut caller, handle)?;
    let state = caller.data();
    match std::str::from_utf8(&bytes) {
        Ok(text) => log::emit(state.log.as_ref(), &state.id_text, level, text),
        Err(e) => log::emit(
            state.log.as_ref(),
            &state.id_text,
            LogLevel::Error,
            &format!("unable to log message: {e}"),
        ),
    }
    Ok(())
}

/// Define every built-in in `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> Result<()> {
    let wrap = |e: wasmtime::Error| Error::compile(crate::error::wasmtime_text(&e));
    linker.func_wrap(ENV_MODULE, "config_get", config_get).map_err(wrap)?;
    linker.func_wrap(ENV_MODULE, "var_get", var_get).map_err(wrap)?;
    linker.func_wrap(ENV_MODULE, "var_set", var_set).map_err(wrap)?;
    linker
        .func_wrap(ENV_MODULE, "http_request", http_request)
        .map_err(wrap)?;
    linker
        .func_wrap(ENV_MODULE, "http_status_code", |c: Ctx<'_>| c.data().http_status as i32)
        .map_err(wrap)?;
    linker
        .func_wrap(ENV_MODULE, "http_headers", http_headers)
        .map_err(wrap)?;
    for (name, level) in [
        ("log_trace", LogLevel::Trace),
        ("log_debug", LogLevel::Debug),
        ("log_info", LogLevel::Info),
        ("log_warn", LogLevel::Warn),
        ("log_error", LogLevel::Error),
    ] {
        linker
            .func_wrap(ENV_MODULE, name, move |c: Ctx<'_>, h: i64| log_message(c, level, h))
            .map_err(wrap)?;
    }
    linker
        .func_wrap(ENV_MODULE, "get_log_level", |c: Ctx<'_>| {
            log::plugin_log_level(c.data().log.as_ref())
        })
        .map_err(wrap)?;
    Ok(())
}
