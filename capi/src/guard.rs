//! The panic guard and the pointer/string checks shared by every export.
//!
//! Every `extern "C"` function's body is a call of `guard` or `guard_with`
//! (or of another export): `capi/tests/guarded.rs` fails on one that is not.

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Run `body`; a panic becomes `fallback` instead of unwinding into C.
pub(crate) fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    guard_with(|_| fallback, body)
}

/// Run `body`; a panic becomes `on_panic(text)` instead of unwinding into C,
/// with `text` saying what panicked, so that an export can keep it where C
/// reads its errors.
pub(crate) fn guard_with<T>(on_panic: impl FnOnce(&str) -> T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        on_panic(&format!(
            "the runtime panicked: {}",
            extism_core::panic_message(&*payload)
        ))
    })
}

/// A C string argument as UTF-8. `Err` says what is wrong with it.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, String> {
    if ptr.is_null() {
        return Err(format!("{what} is NULL"));
    }
    CStr::from_ptr(ptr)
        .to_str()
        .map_err(|e| format!("{what} is not valid UTF-8: {e}"))
}

/// A byte buffer argument; NULL is fine only with length 0.
pub(crate) unsafe fn bytes_arg<'a>(ptr: *const u8, len: u64, what: &str) -> Result<&'a [u8], String> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(format!("{what} is NULL but its length is {len}"));
    }
    if len > isize::MAX as u64 {
        return Err(format!("{what} length {len} is too large"));
    }
    Ok(std::slice::from_raw_parts(ptr, len as usize))
}

/// Text for C: interior NUL bytes would cut it short, so they are escaped.
pub(crate) fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}

/// Write an error into an `errmsg` out-parameter (if given); the caller frees
/// it with `extism_plugin_new_error_free`.
unsafe fn set_errmsg(errmsg: *mut *mut c_char, text: &str) {
    if !errmsg.is_null() {
        *errmsg = c_string(text).into_raw();
    }
}

/// What a constructor returns: the new object, or NULL with the error text
/// written to `errmsg`.
pub(crate) unsafe fn created<T>(result: Result<*mut T, String>, errmsg: *mut *mut c_char) -> *mut T {
    result.unwrap_or_else(|text| {
        set_errmsg(errmsg, &text);
        std::ptr::null_mut()
    })
}

/// Objects handed to C carry a tag field, so that a NULL,
/// freed or foreign pointer is refused (as far as that can be seen) instead
/// of being used. Freeing clears the tag (and the allocator overwrites it).
pub(crate) trait Tagged {
    const TAG: u64;
    fn tag(&self) -> u64;
}

/// The object behind `ptr`, if it is live and of the right kind.
pub(crate) unsafe fn live<'a, T: Tagged>(ptr: *const T) -> Option<&'a T> {
    let object = ptr.as_ref()?;
    (object.tag() == T::TAG).then_some(object)
}

/// Free an object made with `Box::into_raw`, if it is live.
pub(crate) unsafe fn free_tagged<T: Tagged>(ptr: *mut T, clear_tag: impl FnOnce(&mut T)) {
    if live(ptr).is_some() {
        clear_tag(&mut *ptr);
        drop(Box::from_raw(ptr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_fallback_with_its_message() {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let text = guard_with(|text| text.to_string(), || panic!("index {} out of range", 7));
        let value = guard(-1, || -> i32 { panic!("boom") });
        std::panic::set_hook(quiet);
        assert_eq!(text, "the runtime panicked: index 7 out of range");
        assert_eq!(value, -1);
        assert_eq!(guard_with(|_| 0, || 5), 5);
    }
}
