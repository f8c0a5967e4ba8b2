//! Plugin pools: the core's `Pool` over plugins made from one compiled plugin.

use std::sync::Mutex;
use std::time::Duration;

use extism_core::{Pool, PoolGuard, CREATE_ERROR_PREFIX};
use pyo3::prelude::*;

use crate::compiled::PyCompiledPlugin;
use crate::error::{take_creation_host_error, ToPyResult};
use crate::plugin::PyPlugin;

/// Up to ``max_instances`` plugins made from one compiled plugin, each handed
/// to one caller at a time; waiters are served in order.
///
/// The native form behind ``extism.Pool``.
///
/// Args:
///     compiled: the ``extism._extism.CompiledPlugin`` to instantiate.
///     max_instances: the most instances that may exist at once (>= 1).
///     config: a JSON object of config merged into each new instance, or None.
///
/// Raises:
///     extism.Error: ``max_instances`` is 0.
#[pyclass(name = "Pool", module = "extism._extism", frozen)]
pub struct PyPool {
    pool: Pool<Py<PyPlugin>>,
}

#[pymethods]
impl PyPool {
    #[new]
    #[pyo3(signature = (compiled, max_instances, config=None))]
    fn new(compiled: &Bound<'_, PyCompiledPlugin>, max_instances: usize, config: Option<Vec<u8>>) -> PyResult<Self> {
        let compiled = compiled.get().compiled.clone();
        let pool = Pool::with_factory(max_instances, move || {
            take_creation_host_error();
            let mut plugin = compiled.instantiate().map_err(|e| e.with_prefix(CREATE_ERROR_PREFIX))?;
            if let Some(config) = &config {
                // As `Plugin(config=...)`: a config that is not an object of
                // strings changes nothing.
                let _ = plugin.update_config_json(config);
            }
            Python::attach(|py| Py::new(py, PyPlugin::new(plugin))).map_err(|e| extism_core::Error::host(e.to_string()))
        })
        .into_py()?;
        Ok(PyPool { pool })
    }

    /// An instance for this caller alone, as a ``PoolLease``; ``timeout``
    /// (seconds, None for no limit) bounds the wait.
    ///
    /// Raises:
    ///     extism.Error: ``timed out waiting for a free plugin instance``,
    ///         ``the plugin pool is closed``, or an instantiation error.
    #[pyo3(signature = (timeout=None))]
    fn get(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<PyPoolLease> {
        let wait = match timeout {
            None => None,
            Some(t) if t.is_finite() && t >= 0.0 => Some(Duration::from_secs_f64(t)),
            Some(t) => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "timeout must be None or a number of seconds >= 0, not {t}"
                )))
            }
        };
        let guard = py.detach(|| self.pool.get(wait)).into_py()?;
        Ok(PyPoolLease {
            guard: Mutex::new(Some(guard)),
        })
    }

    /// Refuse every later ``get`` (waiters fail too) and drop the idle
    /// instances; instances in use are dropped when given back.
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.pool.close())
    }

    /// Whether the pool was closed.
    #[getter]
    fn closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// The most instances that may exist at once.
    #[getter]
    fn max_instances(&self) -> usize {
        self.pool.max_instances()
    }

    /// How many instances exist now (idle or in use).
    #[getter]
    fn instances(&self) -> usize {
        self.pool.instances()
    }
}

/// One instance of a pool, lent to one caller until ``release()``.
#[pyclass(name = "PoolLease", module = "extism._extism", frozen)]
pub struct PyPoolLease {
    guard: Mutex<Option<PoolGuard<Py<PyPlugin>>>>,
}

#[pymethods]
impl PyPoolLease {
    /// The lent plugin.
    ///
    /// Raises:
    ///     extism.Error: the lease was released.
    #[getter]
    fn plugin(&self, py: Python<'_>) -> PyResult<Py<PyPlugin>> {
        let guard = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(plugin) => Ok(plugin.clone_ref(py)),
            None => Err(crate::error::Error::new_err("the pooled plugin was given back")),
        }
    }

    /// Give the instance back to the pool (again: nothing happens).
    fn release(&self, py: Python<'_>) {
        let guard = self.guard.lock().unwrap_or_else(|e| e.into_inner()).take();
        // Given back detached: a waiter may take it at once.
        py.detach(move || drop(guard));
    }
}
