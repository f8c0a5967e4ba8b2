//! libextism: the C ABI of the official libextism 1.x (C-API.md), over
//! extism-core. This crate only converts pointers, strings and errors; every
//! rule of behaviour lives in the core.
//!
//! Every exported function runs inside `guard`, so no panic crosses the FFI
//! boundary, and checks its pointers before touching the core.

#![allow(clippy::missing_safety_doc)]

mod compiled;
mod current_plugin;
mod function;
mod guard;
mod log;
mod plugin;
mod types;

pub use compiled::*;
pub use current_plugin::*;
pub use function::*;
pub use log::*;
pub use plugin::*;
pub use types::*;

/// The version of this library (a static string; never free it).
#[no_mangle]
pub extern "C" fn extism_version() -> *const std::ffi::c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr() as *const std::ffi::c_char
}
