//! `CurrentPlugin`: the view of the running plugin that a host function gets:
//! Extism memory, the allocator, vars, config and the per-call host context.

use std::any::Any;

use wasmtime::Caller;

use crate::error::{Error, Result};
use crate::state::PluginState;

/// The plugin a host function was called from. It lives only as long as the
/// host function call.
pub struct CurrentPlugin<'a> {
    pub(crate) caller: Caller<'a, PluginState>,
}

fn trap(e: wasmtime::Error) -> Error {
    crate::error::call_error_from_wasmtime(e).1
}

impl<'a> CurrentPlugin<'a> {
    pub(crate) fn new(caller: Caller<'a, PluginState>) -> Self {
        CurrentPlugin { caller }
    }

    /// The time left before the running call's timeout (`timeout_ms`), zero
    /// once it has passed; `None` when the plugin has no timeout.
    pub fn time_remaining(&self) -> Option<std::time::Duration> {
        self.caller
            .data()
            .deadline
            .map(|deadline| deadline.saturating_duration_since(std::time::Instant::now()))
    }

    /// The base address of Extism memory; handle `h` is at `base + h`. It can
    /// move whenever memory grows (after `alloc`).
    pub fn memory_ptr(&mut self) -> *mut u8 {
        let memory = self.caller.data().kernel().memory;
        memory.data_ptr(&self.caller)
    }

    /// All of Extism memory.
    pub fn memory(&mut self) -> &mut [u8] {
        let memory = self.caller.data().kernel().memory;
        memory.data_mut(&mut self.caller)
    }

    /// Allocate a block of `n` bytes; 0 when `n` is 0 or memory is exhausted.
    pub fn alloc(&mut self, n: u64) -> Result<u64> {
        if n == 0 || n > u32::MAX as u64 {
            return Ok(0);
        }
        let kernel = self.caller.data().kernel_arc();
        let alloc = &kernel.alloc;
        alloc.call(&mut self.caller, n as i64).map(|h| h as u64).map_err(trap)
    }

    /// Free a block; unknown handles are ignored.
    pub fn free(&mut self, handle: u64) -> Result<()> {
        let kernel = self.caller.data().kernel_arc();
        let free = &kernel.free;
        free.call(&mut self.caller, handle as i64).map_err(trap)
    }

    /// The length of the live block at `handle`, 0 if there is none.
    pub fn length(&mut self, handle: u64) -> Result<u64> {
        if handle == 0 {
            return Ok(0);
        }
        let kernel = self.caller.data().kernel_arc();
        let length = &kernel.length;
        length
            .call(&mut self.caller, handle as i64)
            .map(|n| n as u64)
            .map_err(trap)
    }

    /// The bytes of the live block at `handle` (empty for handle 0).
    pub fn block(&mut self, handle: u64) -> Result<&mut [u8]> {
        let len = self.length(handle)?;
        if handle != 0 && len == 0 {
            return Err(Error::host(format!("invalid handle offset: {handle}")));
        }
        let start = handle as usize;
        Ok(&mut self.memory()[start..start + len as usize])
    }

    /// Copy `bytes` into a new block and return its handle (0 for no bytes).
    pub fn alloc_bytes(&mut self, bytes: &[u8]) -> Result<u64> {
        let handle = self.alloc(bytes.len() as u64)?;
        if handle == 0 && !bytes.is_empty() {
            return Err(Error::new(
                crate::error::ErrorKind::OutOfMemory,
                "failed to allocate extism memory",
            ));
        }
        let start = handle as usize;
        self.memory()[start..start + bytes.len()].copy_from_slice(bytes);
        Ok(handle)
    }

    /// The host context of the current call, if one was given and is a `T`.
    pub fn host_context<T: Any>(&mut self) -> Option<&mut T> {
        self.caller
            .data_mut()
            .host_context
            .as_mut()
            .and_then(|c| c.downcast_mut::<T>())
    }

    /// Set the plugin error of this call without trapping (docs/abi.md, User host functions).
    pub fn set_error(&mut self, message: &str) -> Result<()> {
        let handle = self.alloc_bytes(message.as_bytes())?;
        let kernel = self.caller.data().kernel_arc();
        let error_set = &kernel.error_set;
        error_set.call(&mut self.caller, handle as i64).map_err(trap)
    }

    /// The plugin's id.
    pub fn id(&self) -> uuid::Uuid {
        self.caller.data().id
    }

    /// The value of var `key`.
    pub fn var(&self, key: &str) -> Option<&[u8]> {
        self.caller.data().vars.get(key).map(|v| v.as_slice())
    }

    /// Set or (with `None`) remove a var, without the plugin-side size check.
    pub fn set_var(&mut self, key: &str, value: Option<&[u8]>) {
        self.caller.data_mut().set_var(key, value);
    }

    /// The value of config key `key`.
    pub fn config(&self, key: &str) -> Option<&str> {
        self.caller.data().config.get(key).map(|s| s.as_str())
    }
}
