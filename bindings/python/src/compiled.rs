//! Compiled plugins: compile (or load) once, instantiate many plugins.

use extism_core::{CompiledPlugin, PluginBuilder};
use pyo3::prelude::*;

use crate::args::Data;
use crate::error::{take_creation_host_error, with_cause, ToPyResult, COMPILE_PREFIX, CREATE_PREFIX};
use crate::function::PyFunction;
use crate::plugin::PyPlugin;

/// A compiled plugin, from which plugins are created cheaply (from any thread).
///
/// The native form behind ``extism.CompiledPlugin``.
///
/// Args:
///     wasm: a wasm binary, WAT text, or a JSON or TOML manifest (bytes-like).
///     wasi: provide WASI preview 1 to the plugins.
///     functions: the host functions (``extism._extism.Function``) plugins may import.
///     fuel_limit: a fuel budget for each call, or None for no limit.
///
/// Raises:
///     extism.Error: ``Unable to compile Extism plugin: ...``
#[pyclass(name = "CompiledPlugin", module = "extism._extism", frozen)]
pub struct PyCompiledPlugin {
    compiled: CompiledPlugin,
}

#[pymethods]
impl PyCompiledPlugin {
    #[new]
    #[pyo3(signature = (wasm, wasi=false, functions=Vec::new(), fuel_limit=None))]
    fn new(
        py: Python<'_>,
        wasm: &Bound<'_, PyAny>,
        wasi: bool,
        functions: Vec<Bound<'_, PyFunction>>,
        fuel_limit: Option<u64>,
    ) -> PyResult<Self> {
        let data = Data::extract(wasm, "wasm", false)?;
        let bytes = data.as_bytes()?.to_vec();
        let functions: Vec<_> = functions.iter().map(|f| f.get().function.clone()).collect();
        // Compiling can take a while (and fetch URLs): other threads run meanwhile.
        let compiled = py
            .detach(|| {
                PluginBuilder::new(bytes)
                    .with_wasi(wasi)
                    .with_functions(functions)
                    .with_fuel_limit(fuel_limit)
                    .compile()
            })
            .into_py_with_prefix(COMPILE_PREFIX)?;
        Ok(PyCompiledPlugin { compiled })
    }

    /// Create a plugin: a new instance with its own memory, vars, config and id.
    ///
    /// Raises:
    ///     extism.Error: ``Unable to create Extism plugin: ...`` (link errors,
    ///         failing initializers).
    fn instantiate(&self, py: Python<'_>) -> PyResult<PyPlugin> {
        // Initializers run here, and may call host functions.
        take_creation_host_error();
        let plugin = py.detach(|| self.compiled.instantiate());
        let cause = take_creation_host_error();
        match plugin.into_py_with_prefix(CREATE_PREFIX) {
            Ok(plugin) => Ok(PyPlugin::new(plugin)),
            Err(error) => Err(with_cause(py, error, cause)),
        }
    }

    /// Whether plugins get WASI.
    #[getter]
    fn wasi(&self) -> bool {
        self.compiled.wasi()
    }

    /// The fuel budget of each call, or None.
    #[getter]
    fn fuel_limit(&self) -> Option<u64> {
        self.compiled.fuel_limit()
    }
}
