//! The primitives of the small concurrent state machines (the pool's
//! hand-out in `pool.rs`, the cancel generations and the ticker's gate in
//! `limits.rs`, the reentrancy-refusing lock in `shared_plugin.rs`): std's,
//! or loom's with the `loom` feature, whose tests (`make test-loom`) run
//! every interleaving of a few threads through the same code.

#[cfg(feature = "loom")]
pub(crate) use loom::sync::{
    atomic::{AtomicU64, AtomicUsize, Ordering},
    Arc, Condvar, Mutex, MutexGuard,
};
#[cfg(not(feature = "loom"))]
pub(crate) use std::sync::{
    atomic::{AtomicU64, AtomicUsize, Ordering},
    Arc, Condvar, Mutex, MutexGuard,
};
