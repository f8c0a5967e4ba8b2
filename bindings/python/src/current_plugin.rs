//! The running plugin as a host function sees it, valid only during that call.

use std::ffi::c_void;
use std::sync::{Arc, Mutex};

use extism_core::CurrentPlugin;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::args::Data;
use crate::error::{Error, ToPyResult};
use crate::plugin::CallState;

/// The plugin that called a host function: Extism memory, the allocator and
/// the host context of the call.
///
/// The native form behind ``extism.CurrentPlugin``. It is usable only while
/// the host function call that received it runs; afterwards every method
/// raises ``extism.Error``. Handles and offsets are positions in Extism
/// memory.
#[pyclass(name = "CurrentPlugin", module = "extism._extism", frozen)]
pub struct PyCurrentPlugin {
    /// The core `CurrentPlugin` of the running host call, or None once that
    /// call returned. Every use locks, so a copy handed to another thread can
    /// never race the host call's end.
    current: Mutex<Option<RawCurrent>>,
}

/// A `*mut CurrentPlugin<'_>` with its lifetime erased.
struct RawCurrent(*mut c_void);

// SAFETY: the pointer is only dereferenced under the mutex, and only while
// the host call that owns the `CurrentPlugin` is blocked in Python (see
// `PyCurrentPlugin::enter`).
unsafe impl Send for RawCurrent {}

/// Clears the pointer when dropped, that is when the Python callback returned.
pub(crate) struct Entered<'a>(&'a PyCurrentPlugin);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        *self.0.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl PyCurrentPlugin {
    pub(crate) fn new() -> Self {
        PyCurrentPlugin {
            current: Mutex::new(None),
        }
    }

    /// Make `current` reachable from Python until the returned guard drops.
    ///
    /// # Safety
    /// The guard must be dropped before `current` is used again or goes out
    /// of scope.
    pub(crate) unsafe fn enter<'a>(&'a self, current: &mut CurrentPlugin<'_>) -> Entered<'a> {
        let raw = current as *mut CurrentPlugin<'_> as *mut c_void;
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(RawCurrent(raw));
        Entered(self)
    }

    /// Run `f` on the core plugin, or fail when the host call is over. `f`
    /// must not run Python code (it holds the lock).
    fn with<R>(&self, f: impl FnOnce(&mut CurrentPlugin<'_>) -> PyResult<R>) -> PyResult<R> {
        let guard = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let Some(raw) = guard.as_ref() else {
            return Err(Error::new_err("CurrentPlugin used outside of its host function call"));
        };
        // SAFETY: set by `enter` from a live `&mut CurrentPlugin` whose host
        // call is waiting for the Python callback to return; cleared before
        // that call goes on. The mutex makes this the only reference.
        let current = unsafe { &mut *(raw.0 as *mut CurrentPlugin<'static>) };
        f(current)
    }
}

/// `start..start + len` of Extism memory, or a clear error.
fn range(memory_len: usize, offset: u64, length: u64) -> PyResult<std::ops::Range<usize>> {
    match offset.checked_add(length) {
        Some(end) if end <= memory_len as u64 => Ok(offset as usize..end as usize),
        _ => Err(Error::new_err(format!(
            "memory range out of bounds: offset {offset}, length {length}, Extism memory is {memory_len} bytes"
        ))),
    }
}

#[pymethods]
impl PyCurrentPlugin {
    /// Allocate a block of ``size`` bytes in Extism memory.
    ///
    /// Returns:
    ///     The block's handle (offset); 0 when ``size`` is 0 or memory is exhausted.
    fn alloc(&self, size: u64) -> PyResult<u64> {
        self.with(|c| c.alloc(size).into_py())
    }

    /// Allocate a block holding a copy of ``data`` (bytes-like).
    ///
    /// Returns:
    ///     The block's handle; 0 for empty data.
    fn alloc_bytes(&self, data: &Bound<'_, PyAny>) -> PyResult<u64> {
        let data = Data::extract(data, "data", false)?;
        let bytes = data.as_bytes()?;
        self.with(|c| c.alloc_bytes(bytes).into_py())
    }

    /// The seconds left before the call's timeout (0.0 once it passed), or
    /// None when the plugin has no timeout.
    fn time_remaining(&self) -> PyResult<Option<f64>> {
        self.with(|c| Ok(c.time_remaining().map(|d| d.as_secs_f64())))
    }

    /// Free the block at ``handle``; unknown handles are ignored.
    fn free(&self, handle: u64) -> PyResult<()> {
        self.with(|c| c.free(handle).into_py())
    }

    /// The length of the live block at ``handle``; 0 for 0, freed or invalid handles.
    fn length(&self, handle: u64) -> PyResult<u64> {
        self.with(|c| c.length(handle).into_py())
    }

    /// A copy of ``length`` bytes of Extism memory at ``offset``.
    ///
    /// Raises:
    ///     extism.Error: the range is outside Extism memory.
    fn read<'py>(&self, py: Python<'py>, offset: u64, length: u64) -> PyResult<Bound<'py, PyBytes>> {
        self.with(|c| {
            let memory = c.memory();
            let r = range(memory.len(), offset, length)?;
            Ok(PyBytes::new(py, &memory[r]))
        })
    }

    /// Write ``data`` (bytes-like) into Extism memory at ``offset``.
    ///
    /// Raises:
    ///     extism.Error: the range is outside Extism memory.
    fn write(&self, offset: u64, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = Data::extract(data, "data", false)?;
        let bytes = data.as_bytes()?;
        self.with(|c| {
            let memory = c.memory();
            let r = range(memory.len(), offset, bytes.len() as u64)?;
            memory[r].copy_from_slice(bytes);
            Ok(())
        })
    }

    /// The ``host_context`` given to ``Plugin.call`` (None when there is none).
    fn host_context(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let state = self.with(|c| Ok(c.host_context::<Arc<CallState>>().cloned()))?;
        Ok(match state {
            Some(s) => s.host_context.clone_ref(py),
            None => py.None(),
        })
    }

    /// Whether the host function call is still running (methods work only then).
    #[getter]
    fn active(&self) -> bool {
        self.current.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}
