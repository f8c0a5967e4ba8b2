//! The one exception of the package, and the one place core errors become it.

use pyo3::create_exception;
use std::cell::RefCell;

use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;

create_exception!(
    extism,
    Error,
    PyException,
    "The single exception type of every runtime failure. Its one argument is the message text; \
     `kind` names what went wrong (`Timeout`, `Plugin`, `Trap`, ...; `Other` when the runtime \
     gives no kind)."
);

/// A core error as `extism.Error`, with the core's final text and its kind
/// (`ErrorKind::as_str`) as the `kind` attribute.
pub(crate) fn to_py(err: extism_core::Error) -> PyErr {
    let error = Error::new_err(err.message().to_string());
    Python::attach(|py| {
        // Setting an attribute on a fresh exception cannot fail short of
        // running out of memory, and then the plain error is still right.
        let _ = error.value(py).setattr("kind", err.kind().as_str());
    });
    error
}

/// Converts core results to Python results; the only path from core errors to Python.
pub(crate) trait ToPyResult<T> {
    /// The error as `extism.Error` with the core's text.
    fn into_py(self) -> PyResult<T>;
    /// The error as `extism.Error` with `prefix` before the core's text.
    fn into_py_with_prefix(self, prefix: &str) -> PyResult<T>;
}

impl<T> ToPyResult<T> for extism_core::Result<T> {
    fn into_py(self) -> PyResult<T> {
        self.map_err(to_py)
    }

    fn into_py_with_prefix(self, prefix: &str) -> PyResult<T> {
        self.map_err(|e| to_py(e.with_prefix(prefix)))
    }
}

/// The `TypeError` raised for an argument of the wrong type.
pub(crate) fn type_error(what: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    let name = got
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_string());
    PyTypeError::new_err(format!("{what} must be {expected}, not {name}"))
}

/// The text a Python exception carries into a core error: `str(exc)`, or the
/// exception's type name when that is empty (as for a bare `raise KeyError`).
pub(crate) fn message_of(py: Python<'_>, err: &PyErr) -> String {
    let value = err.value(py);
    let text = value.str().map(|s| s.to_string()).unwrap_or_default();
    if !text.is_empty() {
        return text;
    }
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "host function failed".to_string())
}

/// `error` with `cause` (a host function's exception) as its `__cause__`;
/// KeyboardInterrupt and SystemExit (not `Exception`s) are returned as they
/// are, so that they keep stopping the program.
pub(crate) fn with_cause(py: Python<'_>, error: PyErr, cause: Option<PyErr>) -> PyErr {
    match cause {
        Some(cause) if !cause.is_instance_of::<PyException>(py) => cause,
        Some(cause) => {
            error.set_cause(py, Some(cause));
            error
        }
        None => error,
    }
}

thread_local! {
    /// The exception of a host function that ran outside any `Plugin.call`
    /// (from an initializer, while a plugin is created). Creation runs on the
    /// creating thread, so it finds the exception here afterwards.
    static CREATION_HOST_ERROR: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

pub(crate) fn record_creation_host_error(err: PyErr) {
    CREATION_HOST_ERROR.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = Some(err);
        }
    });
}

pub(crate) fn take_creation_host_error() -> Option<PyErr> {
    CREATION_HOST_ERROR.with(|slot| slot.borrow_mut().take())
}
