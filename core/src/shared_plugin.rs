//! `SharedPlugin`: a plugin behind a lock, for frontends that hand one plugin
//! to many threads. Calls are serialized; a call from inside one of the
//! plugin's own host functions (same thread, lock held) is refused with an
//! error instead of deadlocking.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, ErrorKind, Result};
use crate::plugin::Plugin;

/// A plugin that may be shared between threads. `Send + Sync`.
pub struct SharedPlugin {
    plugin: Mutex<Plugin>,
    /// The thread holding the lock (0 when none).
    holder: AtomicUsize,
}

/// Exclusive access to the plugin; released on drop.
pub struct PluginGuard<'a> {
    guard: MutexGuard<'a, Plugin>,
    holder: &'a AtomicUsize,
}

fn this_thread() -> usize {
    thread_local!(static MARK: u8 = const { 0 });
    MARK.with(|m| m as *const u8 as usize)
}

impl SharedPlugin {
    /// Put `plugin` behind the lock.
    pub fn new(plugin: Plugin) -> Self {
        SharedPlugin {
            plugin: Mutex::new(plugin),
            holder: AtomicUsize::new(0),
        }
    }

    /// Wait for the plugin; fails at once if this thread already holds it.
    pub fn lock(&self) -> Result<PluginGuard<'_>> {
        let me = this_thread();
        if self.holder.load(Ordering::SeqCst) == me {
            return Err(Error::new(
                ErrorKind::Reentrant,
                "cannot make reentrant calls into plugin",
            ));
        }
        let guard = self.plugin.lock().unwrap_or_else(|e| e.into_inner());
        self.holder.store(me, Ordering::SeqCst);
        Ok(PluginGuard {
            guard,
            holder: &self.holder,
        })
    }

    /// The plugin, out of the lock.
    pub fn into_inner(self) -> Plugin {
        self.plugin.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for PluginGuard<'_> {
    fn drop(&mut self) {
        self.holder.store(0, Ordering::SeqCst);
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
