//! The primitives of the hand-off between threads ([`crate::handoff`]):
//! std's, or loom's with the `loom` feature, whose tests run every
//! interleaving of a few threads through the same code (as the core's
//! `sync.rs`). Only `handoff` takes its primitives from here.
//!
//! Loom cannot model time, so the polling before a receiver sleeps is a
//! budget: 50 µs of std time, or a few polls under loom.

#[cfg(feature = "loom")]
pub(crate) use loom::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, Condvar, Mutex, MutexGuard,
};
#[cfg(feature = "loom")]
pub(crate) use loom::thread::yield_now;
#[cfg(not(feature = "loom"))]
pub(crate) use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, Condvar, Mutex, MutexGuard,
};
#[cfg(not(feature = "loom"))]
pub(crate) use std::thread::yield_now;

/// A mutex's guard, also after a panic elsewhere poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long a receiver polls for a message before it sleeps. Waking a
/// sleeping thread costs tens of microseconds on an idle machine, more than a
/// short call: calls that follow each other closely (the usual `await
/// plugin.call()` loop) and the requests of a host function's CallContext
/// find the other thread still awake.
#[cfg(not(feature = "loom"))]
pub(crate) struct PollBudget(std::time::Instant);

#[cfg(not(feature = "loom"))]
impl PollBudget {
    const POLL_BEFORE_SLEEP: std::time::Duration = std::time::Duration::from_micros(50);

    pub(crate) fn start() -> PollBudget {
        PollBudget(std::time::Instant::now())
    }

    /// Whether to poll once more (after yielding) rather than sleep.
    pub(crate) fn poll_again(&mut self) -> bool {
        self.0.elapsed() < Self::POLL_BEFORE_SLEEP
    }
}

/// Under loom: a count of polls (enough to reach the moment a receiver goes
/// from polling to sleeping in every order with a sender).
#[cfg(feature = "loom")]
pub(crate) struct PollBudget(usize);

#[cfg(feature = "loom")]
impl PollBudget {
    pub(crate) fn start() -> PollBudget {
        PollBudget(2)
    }

    pub(crate) fn poll_again(&mut self) -> bool {
        self.0 = self.0.saturating_sub(1);
        self.0 > 0
    }
}
