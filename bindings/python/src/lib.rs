//! `extism._extism`: the native module of the `extism` Python package.
//!
//! Each file wraps the core module of the same name and only converts types
//! and errors; the Python idioms of the official SDK (`host_fn`, type
//! inference, codecs, `Memory`, `Val`) live in `python/extism/extism.py`.
//! Every call that can run plugin code releases the GIL, and host functions
//! take it back only to run Python.

mod args;
mod compiled;
mod current_plugin;
mod error;
mod function;
mod limits;
mod log;
mod plugin;
mod pool;

use pyo3::prelude::*;

/// This runtime's version (not the libextism API level it implements).
#[pyfunction]
fn extism_version() -> &'static str {
    extism_core::VERSION
}

/// What a string given as a plugin source names: ``wat``, ``manifest``,
/// ``url``, ``file_url`` or ``path`` (the core's classification).
#[pyfunction]
fn classify_source(text: &str) -> &'static str {
    extism_core::source::classify_text(text).as_str()
}

/// The native part of the ``extism`` package; import ``extism`` instead.
#[pymodule]
fn _extism(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let error_type = m.py().get_type::<error::Error>();
    // Errors raised without a core error behind them (argument checks in
    // extism.py) have no kind of their own.
    error_type.setattr("kind", "Other")?;
    m.add("Error", error_type)?;
    m.add_class::<compiled::PyCompiledPlugin>()?;
    m.add_class::<plugin::PyPlugin>()?;
    m.add_class::<pool::PyPool>()?;
    m.add_class::<pool::PyPoolLease>()?;
    m.add_class::<limits::PyCancelHandle>()?;
    m.add_class::<function::PyFunction>()?;
    m.add_class::<current_plugin::PyCurrentPlugin>()?;
    m.add_function(wrap_pyfunction!(extism_version, m)?)?;
    m.add_function(wrap_pyfunction!(classify_source, m)?)?;
    m.add_function(wrap_pyfunction!(log::set_log_file, m)?)?;
    m.add_function(wrap_pyfunction!(log::set_log_buffer, m)?)?;
    m.add_function(wrap_pyfunction!(log::drain_logs, m)?)?;
    Ok(())
}
