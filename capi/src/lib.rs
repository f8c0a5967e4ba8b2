//! libextism: the C ABI of the official libextism 1.x (docs/c-api.md), over
//! extism-core. This crate only converts pointers, strings and errors; every
//! rule of behaviour lives in the core.
//!
//! Every exported function runs inside `guard`, so no panic crosses the FFI
//! boundary, and checks its pointers before touching the core.

#![allow(clippy::missing_safety_doc)]

// In the order of the official header, which cbindgen follows.
mod types;
mod current_plugin;
mod function;
mod compiled;
mod plugin;
mod log;
mod version;
mod guard;
// Beyond the official API: declared in include/extism-ext.h.
mod ext;

pub use compiled::*;
pub use current_plugin::*;
pub use ext::*;
pub use function::*;
pub use log::*;
pub use plugin::*;
pub use types::*;
pub use version::*;
