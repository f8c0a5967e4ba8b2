//! `SharedPlugin`: a plugin behind a lock, for frontends that hand one plugin
//! to many threads. Calls are serialized; a call from inside one of the
//! plugin's own host functions (same thread, lock held) is refused with an
//! error instead of deadlocking.
//!
//! The rule itself is [`OwnedLock`], generic over what it guards and told
//! which thread asks, so that its loom model (`make test-loom`) runs the same
//! code over every interleaving.

use crate::error::{Error, ErrorKind, Result};
use crate::plugin::Plugin;
use crate::sync::{AtomicUsize, Mutex, MutexGuard, Ordering};

/// A plugin that may be shared between threads. `Send + Sync`.
pub struct SharedPlugin {
    lock: OwnedLock<Plugin>,
}

/// Exclusive access to the plugin; released on drop.
pub struct PluginGuard<'a> {
    guard: OwnedGuard<'a, Plugin>,
}

/// A non-zero number for the calling thread, stable while it lives: the
/// address of one of its thread-locals.
fn this_thread() -> usize {
    thread_local!(static MARK: u8 = const { 0 });
    MARK.with(|m| m as *const u8 as usize)
}

impl SharedPlugin {
    /// Put `plugin` behind the lock.
    pub fn new(plugin: Plugin) -> Self {
        SharedPlugin {
            lock: OwnedLock::new(plugin),
        }
    }

    /// Wait for the plugin; fails at once if this thread already holds it.
    pub fn lock(&self) -> Result<PluginGuard<'_>> {
        Ok(PluginGuard {
            guard: self.lock.lock_as(this_thread())?,
        })
    }

    /// The plugin, out of the lock.
    pub fn into_inner(self) -> Plugin {
        self.lock.into_inner()
    }
}

impl std::ops::Deref for PluginGuard<'_> {
    type Target = Plugin;
    fn deref(&self) -> &Plugin {
        &self.guard
    }
}

impl std::ops::DerefMut for PluginGuard<'_> {
    fn deref_mut(&mut self) -> &mut Plugin {
        &mut self.guard
    }
}

/// A mutex that knows which thread holds it, so that the holder asking again
/// is refused instead of waiting for itself.
pub(crate) struct OwnedLock<T> {
    value: Mutex<T>,
    /// The thread holding the lock (0 when none). Only the holder writes its
    /// own number here, so a thread reading its own number holds the lock.
    holder: AtomicUsize,
}

pub(crate) struct OwnedGuard<'a, T> {
    value: MutexGuard<'a, T>,
    holder: &'a AtomicUsize,
}

impl<T> OwnedLock<T> {
    pub(crate) fn new(value: T) -> Self {
        OwnedLock {
            value: Mutex::new(value),
            holder: AtomicUsize::new(0),
        }
    }

    /// Wait for the lock as thread `me` (non-zero); fails at once if `me`
    /// already holds it.
    pub(crate) fn lock_as(&self, me: usize) -> Result<OwnedGuard<'_, T>> {
        if self.holder.load(Ordering::SeqCst) == me {
            return Err(Error::new(
                ErrorKind::Reentrant,
                "cannot make reentrant calls into plugin",
            ));
        }
        let value = self.value.lock().unwrap_or_else(|e| e.into_inner());
        self.holder.store(me, Ordering::SeqCst);
        Ok(OwnedGuard {
            value,
            holder: &self.holder,
        })
    }

    pub(crate) fn into_inner(self) -> T {
        self.value.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> Drop for OwnedGuard<'_, T> {
    // Runs before the MutexGuard field unlocks: the next holder never sees
    // its predecessor's number.
    fn drop(&mut self) {
        self.holder.store(0, Ordering::SeqCst);
    }
}

impl<T> std::ops::Deref for OwnedGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> std::ops::DerefMut for OwnedGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

#[cfg(all(test, feature = "loom"))]
mod loom_tests {
    use super::OwnedLock;
    use crate::error::ErrorKind;
    use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use loom::sync::Arc;

    /// Two threads that each lock, ask again while holding (a call from
    /// inside a host function) and release: each is refused only its own
    /// second lock, never the other's first, and never both inside at once.
    #[test]
    fn loom_only_the_holder_is_refused_and_holders_exclude() {
        loom::model(|| {
            let lock = Arc::new(OwnedLock::new(()));
            let inside = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = (1..=2)
                .map(|me| {
                    let lock = lock.clone();
                    let inside = inside.clone();
                    loom::thread::spawn(move || {
                        let guard = lock.lock_as(me).expect("first lock of a thread is never refused");
                        assert_eq!(inside.fetch_add(1, SeqCst), 0, "two holders at once");
                        let again = lock.lock_as(me).err().map(|e| e.kind());
                        assert_eq!(again, Some(ErrorKind::Reentrant));
                        inside.fetch_sub(1, SeqCst);
                        drop(guard);
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            // Released: anyone may take it again.
            assert!(lock.lock_as(1).is_ok());
        });
    }

    /// A thread that held the lock before may take it again once released,
    /// while another thread competes.
    #[test]
    fn loom_a_released_lock_is_not_remembered() {
        loom::model(|| {
            let lock = Arc::new(OwnedLock::new(0u32));
            let other = {
                let lock = lock.clone();
                loom::thread::spawn(move || {
                    *lock.lock_as(2).expect("thread 2") += 1;
                })
            };
            for _ in 0..2 {
                *lock.lock_as(1).expect("thread 1 after its own release") += 1;
            }
            other.join().unwrap();
            assert_eq!(*lock.lock_as(3).unwrap(), 3);
        });
    }
}
