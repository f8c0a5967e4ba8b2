//! Host functions: a core `Function` whose callback is a Python callable.

use std::sync::Arc;

use extism_core::{CurrentPlugin, Function, Val, ValType};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyInt, PyList};

use crate::current_plugin::PyCurrentPlugin;
use crate::error::{message_of, record_creation_host_error, ToPyResult};
use crate::plugin::CallState;

/// A host function that plugins import as ``namespace::name``.
///
/// The low-level native form; use ``extism.host_fn`` or ``extism.Function``.
///
/// Args:
///     namespace: the import module name, or None for ``extism:host/user``.
///     name: the import name.
///     params: the parameter types, as ``ValType`` codes (0 = I32, 1 = I64, 2 = F32, 3 = F64).
///     results: the result types, as codes.
///     callback: called as ``callback(current_plugin, inputs)`` with the native
///         ``CurrentPlugin`` and a list of the parameter values (int or float);
///         returns a sequence with one value per result (None when there are
///         none). An exception ends the plugin call with ``extism.Error``
///         carrying its message.
#[pyclass(name = "Function", module = "extism._extism", frozen)]
pub struct PyFunction {
    pub(crate) function: Function,
}

fn val_types(codes: &[i64], what: &str) -> PyResult<Vec<ValType>> {
    codes
        .iter()
        .map(|&code| {
            ValType::from_code(code)
                .ok_or_else(|| PyValueError::new_err(format!("{what}: {code} is not a ValType code")))
        })
        .collect()
}

#[pymethods]
impl PyFunction {
    #[new]
    fn new(
        namespace: Option<String>,
        name: String,
        params: Vec<i64>,
        results: Vec<i64>,
        callback: Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        if !callback.is_callable() {
            return Err(PyTypeError::new_err("callback must be callable"));
        }
        let params = val_types(&params, "params")?;
        let results = val_types(&results, "results")?;
        let callback: Py<PyAny> = callback.unbind();
        let declared = results.clone();
        let function = Function::new(name, params, results, move |current, inputs, outputs| {
            invoke(&callback, &declared, current, inputs, outputs)
        })
        .into_py()?;
        let function = match namespace {
            Some(ns) => function.with_namespace(ns),
            None => function,
        };
        Ok(PyFunction { function })
    }

    /// The import name.
    #[getter]
    fn name(&self) -> &str {
        self.function.name()
    }

    /// The import module name.
    #[getter]
    fn namespace(&self) -> &str {
        self.function.namespace()
    }

    /// The parameter types, as ``ValType`` codes.
    #[getter]
    fn params(&self) -> Vec<u32> {
        self.function.params().iter().map(|t| *t as u32).collect()
    }

    /// The result types, as ``ValType`` codes.
    #[getter]
    fn results(&self) -> Vec<u32> {
        self.function.results().iter().map(|t| *t as u32).collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "Function({:?}, {:?}, params={:?}, results={:?})",
            self.function.namespace(),
            self.function.name(),
            self.function.params(),
            self.function.results()
        )
    }
}

/// One call of a host function: runs on the plugin's thread, which released
/// the GIL for the plugin call; the GIL is taken only for the Python part.
fn invoke(
    callback: &Py<PyAny>,
    declared: &[ValType],
    current: &mut CurrentPlugin<'_>,
    inputs: &[Val],
    outputs: &mut [Val],
) -> extism_core::Result<()> {
    let state: Option<Arc<CallState>> = current.host_context::<Arc<CallState>>().cloned();
    Python::attach(|py| {
        let result = call_python(py, callback, current, inputs)
            .and_then(|ret| write_results(py, ret.bind(py), declared, outputs));
        result.map_err(|err| {
            let message = message_of(py, &err);
            // Kept so that `Plugin.call` can raise the Python exception as the
            // cause (or re-raise KeyboardInterrupt and SystemExit as they are).
            match &state {
                Some(state) => state.record_host_error(err),
                None => record_creation_host_error(err),
            }
            extism_core::Error::host(message)
        })
    })
}

fn call_python(
    py: Python<'_>,
    callback: &Py<PyAny>,
    current: &mut CurrentPlugin<'_>,
    inputs: &[Val],
) -> PyResult<Py<PyAny>> {
    let args = PyList::empty(py);
    for v in inputs {
        match *v {
            Val::I32(x) => args.append(x)?,
            Val::I64(x) => args.append(x)?,
            Val::F32(x) => args.append(x as f64)?,
            Val::F64(x) => args.append(x)?,
        }
    }
    let handle = Bound::new(py, PyCurrentPlugin::new())?;
    // SAFETY: the pointer is cleared (by `Entered`'s drop) before `current`
    // goes out of scope, whatever the callback does or raises.
    let entered = unsafe { handle.get().enter(current) };
    let ret = callback.bind(py).call1((handle.clone(), args));
    drop(entered);
    Ok(ret?.unbind())
}

/// Store the returned values into the result slots, converting each to its
/// declared type.
fn write_results(py: Python<'_>, ret: &Bound<'_, PyAny>, declared: &[ValType], outputs: &mut [Val]) -> PyResult<()> {
    if declared.is_empty() {
        return Ok(());
    }
    let values: Vec<Bound<'_, PyAny>> = ret
        .try_iter()
        .map_err(|_| PyTypeError::new_err("a host function with results must return a sequence of values"))?
        .collect::<PyResult<_>>()?;
    if values.len() != declared.len() {
        return Err(PyValueError::new_err(format!(
            "host function returned {} values for {} results",
            values.len(),
            declared.len()
        )));
    }
    for (i, ((slot, ty), value)) in outputs.iter_mut().zip(declared).zip(&values).enumerate() {
        *slot = to_val(value, *ty).map_err(|e| {
            PyTypeError::new_err(format!(
                "result {i} of the host function ({ty:?}): {}",
                message_of(py, &e)
            ))
        })?;
    }
    Ok(())
}

/// A Python number as a wasm value of type `ty`. Integers may use the
/// unsigned range of their width too (a u32 handle in an I32 slot).
fn to_val(value: &Bound<'_, PyAny>, ty: ValType) -> PyResult<Val> {
    match ty {
        ValType::I32 => {
            let v = int_value(value)?;
            if v < i32::MIN as i128 || v > u32::MAX as i128 {
                return Err(PyValueError::new_err(format!("{v} does not fit in 32 bits")));
            }
            Ok(Val::I32(v as u32 as i32))
        }
        ValType::F32 => Ok(Val::F32(float_value(value)? as f32)),
        ValType::F64 => Ok(Val::F64(float_value(value)?)),
        _ => {
            let v = int_value(value)?;
            if v < i64::MIN as i128 || v > u64::MAX as i128 {
                return Err(PyValueError::new_err(format!("{v} does not fit in 64 bits")));
            }
            Ok(Val::I64(v as u64 as i64))
        }
    }
}

fn int_value(value: &Bound<'_, PyAny>) -> PyResult<i128> {
    if !value.is_instance_of::<PyInt>() {
        return Err(crate::error::type_error("the value", "an int", value));
    }
    value.extract::<i128>()
}

fn float_value(value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if !(value.is_instance_of::<PyFloat>() || value.is_instance_of::<PyInt>()) {
        return Err(crate::error::type_error("the value", "a float or an int", value));
    }
    value.extract::<f64>()
}
