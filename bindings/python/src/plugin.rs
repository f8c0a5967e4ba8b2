//! Plugins: calls (with the GIL released), config, id, cancel handle, reset.

use std::any::Any;
use std::sync::{Arc, Mutex};

use extism_core::{CancelHandle, Plugin, SharedPlugin};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::args::Data;
use crate::error::{take_creation_host_error, to_py, with_cause, ToPyResult};
use crate::limits::PyCancelHandle;

/// What one `Plugin.call` shares with the host functions it runs: the
/// caller's host context, and the first Python exception a host function
/// raised (so that it can become the cause of the `extism.Error`).
pub(crate) struct CallState {
    pub(crate) host_context: Py<PyAny>,
    host_error: Mutex<Option<PyErr>>,
}

impl CallState {
    pub(crate) fn record_host_error(&self, err: PyErr) {
        let mut slot = self.host_error.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(err);
        }
    }

    fn take_host_error(&self) -> Option<PyErr> {
        self.host_error.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Outputs up to this size are copied out of the plugin before the GIL is
/// taken back (one GIL hand-over per call instead of two).
const SMALL_OUTPUT: usize = 64 * 1024;

/// A call's output, on its way out of the plugin.
enum Output {
    Small(Vec<u8>),
    Large(Py<PyBytes>),
}

/// A plugin instance: its own memory, vars, config and id.
///
/// The native form behind ``extism.Plugin``; create it with
/// ``CompiledPlugin.instantiate()``. Calls from several threads are
/// serialized; a host function calling back into its own plugin gets
/// ``extism.Error`` instead of a deadlock. The GIL is released while the
/// plugin runs.
#[pyclass(name = "Plugin", module = "extism._extism", frozen)]
pub struct PyPlugin {
    plugin: SharedPlugin,
    // Kept outside the lock so that reading them never waits for a call.
    id: [u8; 16],
    cancel: CancelHandle,
}

impl PyPlugin {
    pub(crate) fn new(plugin: Plugin) -> Self {
        PyPlugin {
            id: *plugin.id().as_bytes(),
            cancel: plugin.cancel_handle(),
            plugin: SharedPlugin::new(plugin),
        }
    }
}

#[pymethods]
impl PyPlugin {
    /// Call the export ``name`` with ``data`` (str, UTF-8 encoded, or bytes-like).
    ///
    /// Args:
    ///     name: the export to call.
    ///     data: the input.
    ///     host_context: any object; host functions get it from
    ///         ``CurrentPlugin.host_context()`` during this call.
    ///
    /// Returns:
    ///     The output bytes.
    ///
    /// Raises:
    ///     extism.Error: the error text the call ended with, or
    ///         ``Error code: N`` for a bare non-zero return code.
    #[pyo3(signature = (name, data, host_context=None))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        data: &Bound<'py, PyAny>,
        host_context: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let data = Data::extract(data, "data", true)?;
        let input = data.as_bytes()?;
        let state = Arc::new(CallState {
            host_context: host_context.unwrap_or_else(|| py.None()),
            host_error: Mutex::new(None),
        });
        let context: Box<dyn Any + Send> = Box::new(state.clone());
        take_creation_host_error();
        let outcome = py.detach(|| -> extism_core::Result<Output> {
            let mut plugin = self.plugin.lock()?;
            plugin.call_with_context(name, input, Some(context)).into_result()?;
            // The output is only valid until the next call, which another
            // thread may start as soon as we let go of the plugin. A small
            // one is copied out here and becomes bytes once this thread has
            // the GIL back. A large one goes straight into the bytes object
            // under the lock, sparing a large temporary allocation (fresh
            // pages each call); taking the GIL while holding the plugin
            // cannot deadlock, as host functions already do it: nothing takes
            // a plugin lock while holding the GIL (every lock here is taken
            // detached).
            let output = plugin.output();
            Ok(if output.len() <= SMALL_OUTPUT {
                Output::Small(output.to_vec())
            } else {
                Output::Large(Python::attach(|py| PyBytes::new(py, output).unbind()))
            })
        });
        match outcome {
            Ok(Output::Small(output)) => Ok(PyBytes::new(py, &output)),
            Ok(Output::Large(output)) => Ok(output.into_bound(py)),
            // A host function's exception becomes the `__cause__` (one run by
            // initializers, when the call first rebuilds the instance after
            // `_start`, has no call state yet).
            Err(e) => {
                let cause = state.take_host_error().or_else(take_creation_host_error);
                Err(with_cause(py, to_py(e), cause))
            }
        }
    }

    /// Whether the plugin exports ``name`` as a callable function.
    fn function_exists(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        py.detach(|| self.plugin.lock().map(|mut p| p.function_exists(name)))
            .into_py()
    }

    /// Merge a JSON object of string (set) or null (remove) values into the
    /// plugin's config.
    ///
    /// Raises:
    ///     extism.Error: the JSON is not such an object (nothing is changed).
    fn update_config(&self, py: Python<'_>, json: &Bound<'_, PyAny>) -> PyResult<()> {
        let json = Data::extract(json, "json", true)?;
        let bytes = json.as_bytes()?;
        py.detach(|| self.plugin.lock()?.update_config_json(bytes)).into_py()
    }

    /// Free every block of Extism memory (vars and config are kept).
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.plugin.lock()?.reset()).into_py()
    }

    /// The plugin's 16-byte id (a UUID v4).
    #[getter]
    fn id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.id)
    }

    /// The fuel the last call used, or None without a fuel limit (or before
    /// the first call).
    fn fuel_consumed(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        py.detach(|| self.plugin.lock().map(|p| p.fuel_consumed())).into_py()
    }

    /// A handle that stops the call running on this plugin, from any thread.
    fn cancel_handle(&self) -> PyCancelHandle {
        PyCancelHandle::new(self.cancel.clone())
    }
}
