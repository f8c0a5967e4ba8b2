//! Argument conversions shared by the other files (no core module of its own):
//! bytes-like and text arguments, borrowed without a copy where Python allows.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMemoryView, PyString};

use crate::error::type_error;

/// A `str` or bytes-like argument, kept alive so its bytes can be borrowed.
/// `bytes` is immutable, so its bytes may be read with the GIL released; any
/// other buffer (`bytearray`, `memoryview`, ...) is copied once into a new
/// `bytes` first, because another thread could change it. A `str` is encoded
/// into a new `bytes` (UTF-8): the extension is built for the stable ABI of
/// Python 3.9 (abi3), which has no borrowed UTF-8 view of a `str`
/// (`PyUnicode_AsUTF8AndSize` joined the limited API in 3.10).
pub(crate) enum Data<'py> {
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
                // Fails only for text that cannot be encoded (lone
                // surrogates), with Python's `UnicodeEncodeError`.
                return Ok(Data::Bytes(s.encode_utf8()?));
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

    /// The bytes (UTF-8 for text).
    pub(crate) fn as_bytes(&self) -> PyResult<&[u8]> {
        match self {
            Data::Bytes(b) => Ok(b.as_bytes()),
        }
    }
}
