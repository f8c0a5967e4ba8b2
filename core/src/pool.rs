//! `Pool`: instances of one compiled plugin handed out to one caller at a
//! time, for hosts that serve many requests with one plugin.
//!
//! A caller gets an idle instance, or a new one while fewer than the maximum
//! exist, or waits. Waiters are served in the order they asked. An instance
//! goes back when its guard drops; one whose call trapped, timed out or was
//! cancelled is reusable (the plugin rebuilds what a call broke). Closing
//! lets guards already handed out finish and refuses every later `get`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::compiled::CompiledPlugin;
use crate::error::{Error, ErrorKind, Result};
use crate::plugin::Plugin;
use crate::sync::{Arc, Condvar, Mutex, MutexGuard};

type Factory<T> = Box<dyn Fn() -> Result<T> + Send + Sync>;

/// A pool of up to `max_instances` items (plugins by default), made on demand
/// by its factory. `Send + Sync`; cloning shares the pool.
///
/// ```
/// use std::time::Duration;
/// use extism_core::{Pool, PluginBuilder};
///
/// let wat = r#"(module
///   (import "extism:host/env" "input_length" (func $len (result i64)))
///   (import "extism:host/env" "input_offset" (func $off (result i64)))
///   (import "extism:host/env" "output_set" (func $out (param i64 i64)))
///   (func (export "echo") (result i32)
///     (call $out (call $off) (call $len))
///     (i32.const 0)))"#;
/// let pool = Pool::new(PluginBuilder::new(wat).compile().unwrap(), 2).unwrap();
/// let workers: Vec<_> = (0..4)
///     .map(|n| {
///         let pool = pool.clone();
///         std::thread::spawn(move || {
///             let mut plugin = pool.get(Some(Duration::from_secs(10))).unwrap();
///             let input = format!("request {n}");
///             assert_eq!(plugin.call("echo", input.as_bytes()).unwrap(), input.as_bytes());
///         })
///     })
///     .collect();
/// for w in workers {
///     w.join().unwrap();
/// }
/// assert!(pool.instances() <= 2);
/// pool.close();
/// assert!(pool.get(None).is_err());
/// ```
pub struct Pool<T: Send + 'static = Plugin> {
    shared: Arc<Shared<T>>,
}

impl<T: Send + 'static> Clone for Pool<T> {
    fn clone(&self) -> Self {
        Pool {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<T> {
    max: usize,
    make: Factory<T>,
    state: Mutex<State<T>>,
    changed: Condvar,
}

struct State<T> {
    idle: Vec<T>,
    /// Items that exist: idle, handed out, or being made.
    live: usize,
    closed: bool,
    /// Tickets of the callers waiting, first come first served.
    queue: VecDeque<u64>,
    next_ticket: u64,
}

/// One item of a pool, exclusively; it goes back to the pool on drop.
pub struct PoolGuard<T: Send + 'static = Plugin> {
    item: Option<T>,
    shared: Arc<Shared<T>>,
}

fn closed_error() -> Error {
    Error::new(ErrorKind::PoolClosed, "the plugin pool is closed")
}

impl Pool<Plugin> {
    /// A pool of plugins instantiated from `compiled`.
    pub fn new(compiled: CompiledPlugin, max_instances: usize) -> Result<Self> {
        Pool::with_factory(max_instances, move || compiled.instantiate())
    }
}

impl<T: Send + 'static> Pool<T> {
    /// A pool whose items `make` creates (with what a frontend wraps around
    /// each instance). Fails for `max_instances == 0`.
    pub fn with_factory(max_instances: usize, make: impl Fn() -> Result<T> + Send + Sync + 'static) -> Result<Self> {
        if max_instances == 0 {
            return Err(Error::invalid("a plugin pool needs at least one instance"));
        }
        Ok(Pool {
            shared: Arc::new(Shared {
                max: max_instances,
                make: Box::new(make),
                state: Mutex::new(State {
                    idle: Vec::new(),
                    live: 0,
                    closed: false,
                    queue: VecDeque::new(),
                    next_ticket: 0,
                }),
                changed: Condvar::new(),
            }),
        })
    }

    /// The most instances that may exist at once.
    pub fn max_instances(&self) -> usize {
        self.shared.max
    }

    /// How many instances exist now (idle or handed out).
    pub fn instances(&self) -> usize {
        self.shared.lock().live
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// An instance for this caller alone: an idle one, a new one while fewer
    /// than the maximum exist, or the next one given back. `wait` bounds the
    /// wait (`None`: as long as it takes); past it, `PoolTimeout`. A closed
    /// pool fails with `PoolClosed`, also for callers already waiting.
    pub fn get(&self, wait: Option<Duration>) -> Result<PoolGuard<T>> {
        let shared = &self.shared;
        let deadline = wait.map(|w| Instant::now().checked_add(w));
        let mut state = shared.lock();
        if state.closed {
            return Err(closed_error());
        }
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queue.push_back(ticket);
        loop {
            if state.closed {
                shared.leave(&mut state, ticket);
                return Err(closed_error());
            }
            if state.queue.front() == Some(&ticket) {
                if let Some(item) = state.idle.pop() {
                    shared.leave(&mut state, ticket);
                    return Ok(self.guard(item));
                }
                if state.live < shared.max {
                    state.live += 1;
                    shared.leave(&mut state, ticket);
                    drop(state);
                    // Made outside the lock: instantiation takes a while,
                    // and other callers may take idle instances meanwhile.
                    return match (shared.make)() {
                        Ok(item) => Ok(self.guard(item)),
                        Err(e) => {
                            shared.lock().live -= 1;
                            shared.changed.notify_all();
                            Err(e)
                        }
                    };
                }
            }
            state = match deadline {
                None | Some(None) => shared.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(Some(deadline)) => {
                    let now = Instant::now();
                    if now >= deadline {
                        shared.leave(&mut state, ticket);
                        return Err(Error::new(
                            ErrorKind::PoolTimeout,
                            "timed out waiting for a free plugin instance",
                        ));
                    }
                    shared
                        .changed
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    /// Refuse every later `get` and wake the waiters (they fail); drop the
    /// idle instances. Instances handed out are dropped when given back.
    pub fn close(&self) {
        let idle = {
            let mut state = self.shared.lock();
            state.closed = true;
            state.live -= state.idle.len();
            std::mem::take(&mut state.idle)
        };
        self.shared.changed.notify_all();
        drop(idle);
    }

    fn guard(&self, item: T) -> PoolGuard<T> {
        PoolGuard {
            item: Some(item),
            shared: self.shared.clone(),
        }
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take `ticket` out of the queue and let the others look again.
    fn leave(&self, state: &mut State<T>, ticket: u64) {
        state.queue.retain(|&t| t != ticket);
        self.changed.notify_all();
    }
}

impl<T: Send + 'static> Drop for PoolGuard<T> {
    fn drop(&mut self) {
        let Some(item) = self.item.take() else { return };
        let mut state = self.shared.lock();
        if state.closed {
            state.live -= 1;
            drop(state);
            drop(item);
        } else {
            state.idle.push(item);
            drop(state);
        }
        self.shared.changed.notify_all();
    }
}

impl<T: Send + 'static> std::ops::Deref for PoolGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.item.as_ref().expect("a guard holds its item until dropped")
    }
}

impl<T: Send + 'static> std::ops::DerefMut for PoolGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.item.as_mut().expect("a guard holds its item until dropped")
    }
}

/// Every interleaving of a few callers of one pool (`make test-loom`).
#[cfg(all(test, feature = "loom"))]
mod loom_tests {
    use super::Pool;
    use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use loom::sync::Arc;

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(f);
    }

    /// Two callers of a pool of one: each gets the one instance in turn, never
    /// both at once, and neither waits forever.
    #[test]
    fn loom_an_instance_is_never_handed_to_two_callers() {
        model(|| {
            let made = Arc::new(AtomicUsize::new(0));
            let counter = made.clone();
            let pool = Pool::with_factory(1, move || Ok(counter.fetch_add(1, SeqCst))).unwrap();
            let busy = Arc::new(AtomicBool::new(false));
            let callers: Vec<_> = (0..2)
                .map(|_| {
                    let (pool, busy) = (pool.clone(), busy.clone());
                    loom::thread::spawn(move || {
                        let guard = pool.get(None).unwrap();
                        assert_eq!(*guard, 0);
                        assert!(!busy.swap(true, SeqCst), "an instance handed to two callers");
                        busy.store(false, SeqCst);
                    })
                })
                .collect();
            for c in callers {
                c.join().unwrap();
            }
            assert_eq!(made.load(SeqCst), 1);
            assert_eq!(pool.instances(), 1);
        });
    }

    /// Closing fails a caller waiting for the only instance (or arriving
    /// later), and the instance handed out is dropped when given back.
    #[test]
    fn loom_close_fails_waiters_and_lets_guards_finish() {
        model(|| {
            let pool = Pool::with_factory(1, || Ok(())).unwrap();
            let held = pool.get(None).unwrap();
            let waiter = {
                let pool = pool.clone();
                loom::thread::spawn(move || pool.get(None).is_ok())
            };
            pool.close();
            drop(held);
            assert!(!waiter.join().unwrap(), "a closed pool handed out an instance");
            assert_eq!(pool.instances(), 0);
        });
    }
}
