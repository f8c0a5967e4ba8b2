//! Argument conversions shared by the other files (no core module of its own):
//! bytes-like and text arguments, borrowed without a copy where Python allows.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMemoryView, PyString};

use crate::error::type_error;

/// A `str` or bytes-like argument, kept alive so its bytes can be borrowed.
/// `bytes` and `str` are immutable, so their bytes may be read with the GIL
/// released; any other buffer (`bytearray`, `memoryview`, ...) is copied once
/// into a new `bytes` first, because another thread could change it.
pub(crate) enum Data<'py> {
    Text(Bound<'py, PyString>),
    Bytes(Bound<'py, PyBytes>),
}

impl<'py> Data<'py> {
    /// `obj` as bytes; `str` only when `allow_text` (UTF-8 encoded).
    /// `what` names the argument in the `TypeError`.
    pub(crate) fn extract(obj: &Bound<'py, PyAny>, what: &str, allow_text: bool) -> PyResult<Data<'py>> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(Data::Bytes(b.clone()));
        }
        if let Ok(s) = obj.cast::<PyString>() {
            if allow_text {
                return Ok(Data::Text(s.clone()));
            }
            return Err(type_error(what, "a bytes-like object", obj));
        }
        let expected = if allow_text {
            "str or a bytes-like object"
        } else {
            "a bytes-like object"
        };
        let view = PyMemoryView::from(obj).map_err(|_| type_error(what, expected, obj))?;
        let copy = view.call_method0("tobytes")?.cast_into::<PyBytes>()?;
        Ok(Data::Bytes(copy))
    }

    /// The bytes (UTF-8 for text). Fails only for text that cannot be
    /// encoded (lone surrogates), with Python's `UnicodeEncodeError`.
    pub(crate) fn as_bytes(&self) -> PyResult<&[u8]> {
        match self {
            Data::Text(s) => Ok(s.to_str()?.as_bytes()),
            Data::Bytes(b) => Ok(b.as_bytes()),
        }
    }
}
