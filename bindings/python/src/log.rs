//! Process-wide logging of plugin messages.

use pyo3::prelude::*;

use crate::error::ToPyResult;

/// Send plugin log messages to ``file``: ``"stderr"`` (or ``"-"``),
/// ``"stdout"``, or a path (created if missing, appended to).
///
/// Args:
///     file: where to write.
///     level: ``trace``, ``debug``, ``info``, ``warn`` or ``error`` (None =
///         ``error``), or a filter such as ``extism=trace,cranelift=debug``.
///
/// Raises:
///     extism.Error: a logger is already installed in this process, or the
///         file cannot be opened.
#[pyfunction]
#[pyo3(signature = (file, level=None))]
pub(crate) fn set_log_file(file: &str, level: Option<&str>) -> PyResult<()> {
    extism_core::log::log_to_file(file, level).into_py()
}

/// Buffer plugin log messages in memory until ``drain_logs``.
///
/// Args:
///     level: as for ``set_log_file``.
///
/// Raises:
///     extism.Error: a logger is already installed in this process.
#[pyfunction]
#[pyo3(signature = (level=None))]
pub(crate) fn set_log_buffer(level: Option<&str>) -> PyResult<()> {
    extism_core::log::log_to_buffer(level).into_py()
}

/// Call ``callback(line)`` for each buffered log line (text, with its
/// trailing newline), oldest first, and empty the buffer.
///
/// Returns:
///     The number of lines handed over.
#[pyfunction]
pub(crate) fn drain_logs(callback: &Bound<'_, PyAny>) -> PyResult<usize> {
    let mut lines: Vec<String> = Vec::new();
    extism_core::log::drain_logs(|line| lines.push(line.to_string()));
    for line in &lines {
        callback.call1((line.as_str(),))?;
    }
    Ok(lines.len())
}
