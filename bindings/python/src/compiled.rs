//! Compiled plugins: compile (or load) once, instantiate many plugins.

use std::sync::Arc;

use extism_core::{CompiledPlugin, PluginBuilder, WasiOutput, WasiStream, COMPILE_ERROR_PREFIX, CREATE_ERROR_PREFIX};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes};

use crate::args::Data;
use crate::error::{take_creation_host_error, with_cause, ToPyResult};
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
///     wasi_output: where the plugins' WASI stdout and stderr go: None (the
///         default: discarded unless ``EXTISM_ENABLE_WASI_OUTPUT`` is set),
///         True (this process's stdout and stderr), False (discarded), or a
///         callable ``(stream, data)`` called with ``"stdout"`` or
///         ``"stderr"`` and the bytes of each write.
///
/// Raises:
///     extism.Error: ``Unable to compile Extism plugin: ...``
#[pyclass(name = "CompiledPlugin", module = "extism._extism", frozen)]
pub struct PyCompiledPlugin {
    pub(crate) compiled: CompiledPlugin,
}

#[pymethods]
impl PyCompiledPlugin {
    #[new]
    #[pyo3(signature = (wasm, wasi=false, functions=Vec::new(), fuel_limit=None, wasi_output=None))]
    fn new(
        py: Python<'_>,
        wasm: &Bound<'_, PyAny>,
        wasi: bool,
        functions: Vec<Bound<'_, PyFunction>>,
        fuel_limit: Option<u64>,
        wasi_output: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let wasi_output = wasi_output_from(wasi_output)?;
        let data = Data::extract(wasm, "wasm", false)?;
        let bytes = data.as_bytes()?.to_vec();
        let functions: Vec<_> = functions.iter().map(|f| f.get().function.clone()).collect();
        // Compiling can take a while (and fetch URLs): other threads run meanwhile.
        let compiled = py
            .detach(|| {
                PluginBuilder::new(bytes)
                    .with_wasi(wasi)
                    .with_wasi_output(wasi_output)
                    .with_functions(functions)
                    .with_fuel_limit(fuel_limit)
                    .compile()
            })
            .into_py_with_prefix(COMPILE_ERROR_PREFIX)?;
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
        match plugin.into_py_with_prefix(CREATE_ERROR_PREFIX) {
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

/// The `wasi_output` argument as the core's setting.
fn wasi_output_from(value: Option<&Bound<'_, PyAny>>) -> PyResult<WasiOutput> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(WasiOutput::FromEnvironment);
    };
    if let Ok(flag) = value.cast::<PyBool>() {
        return Ok(if flag.is_true() {
            WasiOutput::Inherit
        } else {
            WasiOutput::Discard
        });
    }
    if !value.is_callable() {
        return Err(crate::error::type_error(
            "wasi_output",
            "None, a bool or a callable (stream, data)",
            value,
        ));
    }
    let callback: Py<PyAny> = value.clone().unbind();
    Ok(WasiOutput::Writer(Arc::new(move |stream, bytes: &[u8]| {
        // Runs on the calling thread, which released the GIL for the call.
        Python::attach(|py| {
            let name = match stream {
                WasiStream::Stdout => "stdout",
                WasiStream::Stderr => "stderr",
            };
            if let Err(e) = callback.call1(py, (name, PyBytes::new(py, bytes))) {
                // The plugin's write still succeeds; Python reports the error.
                e.write_unraisable(py, Some(callback.bind(py)));
            }
        })
    })))
}
