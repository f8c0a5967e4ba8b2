//! The library version.

use crate::guard::guard;

/// The version of this library (a static string; never free it).
#[no_mangle]
pub extern "C" fn extism_version() -> *const std::ffi::c_char {
    guard(std::ptr::null(), || {
        static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
        VERSION.as_ptr() as *const std::ffi::c_char
    })
}
