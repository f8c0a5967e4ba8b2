//! Cancel handles.

use extism_core::CancelHandle;
use pyo3::prelude::*;

/// Stops the call running on one plugin, from any thread.
///
/// The native form behind ``extism.CancelHandle``.
#[pyclass(name = "CancelHandle", module = "extism._extism", frozen)]
pub struct PyCancelHandle {
    handle: CancelHandle,
}

impl PyCancelHandle {
    pub(crate) fn new(handle: CancelHandle) -> Self {
        PyCancelHandle { handle }
    }
}

#[pymethods]
impl PyCancelHandle {
    /// Interrupt the call running on the plugin now; that call raises
    /// ``extism.Error("timeout")``. With no call running this does nothing.
    ///
    /// Returns:
    ///     True: the request was delivered.
    fn cancel(&self) -> bool {
        self.handle.cancel()
    }
}
