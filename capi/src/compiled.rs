//! Compiled plugins: compile once, create many plugins.

use std::ffi::c_char;

use extism_core::{CompiledPlugin, PluginBuilder, COMPILE_ERROR_PREFIX};

use crate::function::{take_functions, ExtismFunction};
use crate::guard::{bytes_arg, created, free_tagged, guard, Tagged};
use crate::types::ExtismSize;

/// A compiled plugin; free it with `extism_compiled_plugin_free`. Plugins made
/// from it stay valid after it is freed. Safe to share between threads for
/// `extism_plugin_new_from_compiled`.
pub struct ExtismCompiledPlugin {
    tag: u64,
    pub(crate) compiled: CompiledPlugin,
}

impl ExtismCompiledPlugin {
    fn new(compiled: CompiledPlugin) -> *mut ExtismCompiledPlugin {
        Box::into_raw(Box::new(ExtismCompiledPlugin {
            tag: ExtismCompiledPlugin::TAG,
            compiled,
        }))
    }
}

impl Tagged for ExtismCompiledPlugin {
    const TAG: u64 = u64::from_le_bytes(*b"xtsmCmpl");
    fn tag(&self) -> u64 {
        self.tag
    }
}

/// Classify `wasm` (wasm, WAT, or a JSON/TOML manifest) and compile it: the
/// work every constructor that takes wasm shares (the plugin ones then
/// instantiate the result).
pub(crate) unsafe fn compile(
    wasm: *const u8,
    wasm_size: ExtismSize,
    functions: *mut *const ExtismFunction,
    n_functions: ExtismSize,
    with_wasi: bool,
    fuel_limit: Option<u64>,
) -> Result<CompiledPlugin, String> {
    let bytes = bytes_arg(wasm, wasm_size, "wasm").map_err(|e| format!("{COMPILE_ERROR_PREFIX}{e}"))?;
    let functions = take_functions(functions, n_functions).map_err(str::to_string)?;
    PluginBuilder::new(bytes)
        .with_functions(functions)
        .with_wasi(with_wasi)
        .with_fuel_limit(fuel_limit)
        .allow_raw_pointers(true)
        .compile()
        .map_err(|e| format!("{COMPILE_ERROR_PREFIX}{e}"))
}

/// Compile a plugin without creating an instance. `functions` (an array of
/// `n_functions` pointers, or NULL) are taken by this call. Returns NULL on
/// failure and, if `errmsg` is not NULL, sets it to a message to free with
/// `extism_plugin_new_error_free`.
#[no_mangle]
pub unsafe extern "C" fn extism_compiled_plugin_new(
    wasm: *const u8,
    wasm_size: ExtismSize,
    functions: *mut *const ExtismFunction,
    n_functions: ExtismSize,
    with_wasi: bool,
    errmsg: *mut *mut c_char,
) -> *mut ExtismCompiledPlugin {
    guard(std::ptr::null_mut(), || {
        let compiled = compile(wasm, wasm_size, functions, n_functions, with_wasi, None);
        created(compiled.map(ExtismCompiledPlugin::new), errmsg)
    })
}

/// Like `extism_compiled_plugin_new`; every plugin made from it gets a budget
/// of `fuel_limit` fuel per call.
#[no_mangle]
pub unsafe extern "C" fn extism_compiled_plugin_new_with_fuel_limit(
    wasm: *const u8,
    wasm_size: ExtismSize,
    functions: *mut *const ExtismFunction,
    n_functions: ExtismSize,
    with_wasi: bool,
    fuel_limit: u64,
    errmsg: *mut *mut c_char,
) -> *mut ExtismCompiledPlugin {
    guard(std::ptr::null_mut(), || {
        let compiled = compile(wasm, wasm_size, functions, n_functions, with_wasi, Some(fuel_limit));
        created(compiled.map(ExtismCompiledPlugin::new), errmsg)
    })
}

/// Free a compiled plugin. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn extism_compiled_plugin_free(plugin: *mut ExtismCompiledPlugin) {
    guard((), || free_tagged(plugin, |p| p.tag = 0))
}
