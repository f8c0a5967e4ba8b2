//! Access to the running plugin from inside a host function.

use std::ffi::c_void;

use extism_core::CurrentPlugin;

use crate::guard::guard;
use crate::plugin::ExtismPlugin;
use crate::types::{ExtismMemoryHandle, ExtismSize};

/// The plugin a host function was called from; valid only during that call.
pub struct ExtismCurrentPlugin {
    _private: [u8; 0],
}

/// The host context of a C call (a pointer the runtime never dereferences).
pub(crate) struct HostContext(pub *mut c_void);
// SAFETY: opaque to the runtime; it only travels with the call's thread.
unsafe impl Send for HostContext {}

/// A pointer to the plugin's 16-byte id (a UUID v4, RFC 4122 byte order),
/// valid until `extism_plugin_free`. NULL for a NULL plugin.
#[no_mangle]
pub unsafe extern "C" fn extism_plugin_id(plugin: *mut ExtismPlugin) -> *const u8 {
    guard(std::ptr::null(), || match crate::guard::live(plugin) {
        Some(p) => p.id.as_ptr(),
        None => std::ptr::null(),
    })
}

pub(crate) unsafe fn current<'a>(plugin: *mut ExtismCurrentPlugin) -> Option<&'a mut CurrentPlugin<'a>> {
    (plugin as *mut CurrentPlugin<'a>).as_mut()
}

/// The `host_context` given to `extism_plugin_call_with_host_context` for the
/// current call, or NULL (no context, or called through `extism_plugin_call`).
#[no_mangle]
pub unsafe extern "C" fn extism_current_plugin_host_context(plugin: *mut ExtismCurrentPlugin) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        current(plugin)
            .and_then(|p| p.host_context::<HostContext>().map(|c| c.0))
            .unwrap_or(std::ptr::null_mut())
    })
}

/// The base address of Extism memory (not the plugin's own memory): handle
/// `h` is at `base + h`. It may move after any allocation, so fetch it again
/// after `extism_current_plugin_memory_alloc`. Valid only during the host call.
#[no_mangle]
pub unsafe extern "C" fn extism_current_plugin_memory(plugin: *mut ExtismCurrentPlugin) -> *mut u8 {
    guard(std::ptr::null_mut(), || {
        current(plugin).map(|p| p.memory_ptr()).unwrap_or(std::ptr::null_mut())
    })
}

/// Allocate a block of `n` bytes in Extism memory. Returns its handle, or 0
/// when `n` is 0 or memory is exhausted. The block lives until it is freed or
/// the next call starts; return it to the plugin as an I64 to hand it over.
#[no_mangle]
pub unsafe extern "C" fn extism_current_plugin_memory_alloc(
    plugin: *mut ExtismCurrentPlugin,
    n: ExtismSize,
) -> ExtismMemoryHandle {
    guard(0, || current(plugin).and_then(|p| p.alloc(n).ok()).unwrap_or(0))
}

/// The length of the live block at `n`; 0 for 0, freed or invalid handles.
#[no_mangle]
pub unsafe extern "C" fn extism_current_plugin_memory_length(
    plugin: *mut ExtismCurrentPlugin,
    n: ExtismMemoryHandle,
) -> ExtismSize {
    guard(0, || current(plugin).and_then(|p| p.length(n).ok()).unwrap_or(0))
}

/// Free a block; 0 and invalid handles are ignored.
#[no_mangle]
pub unsafe extern "C" fn extism_current_plugin_memory_free(plugin: *mut ExtismCurrentPlugin, ptr: ExtismMemoryHandle) {
    guard((), || {
        if let Some(p) = current(plugin) {
            let _ = p.free(ptr);
        }
    })
}
