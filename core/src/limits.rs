//! Limits: the memory budget (`memory.max_pages`, docs/abi.md, Memory budget), timeouts and
//! cancellation (§12.2, §12.3) on top of wasmtime epochs.
//!
//! Timeouts: a single process-wide ticker thread bumps the engines' epoch
//! every millisecond, and only while some call with a timeout is running (it
//! parks after a short idle spell). A call without a timeout never talks to it.
//! Each store's epoch callback decides for its own plugin, so a timeout or a
//! cancel stops only the plugin it belongs to, even though engines are shared.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::{ResourceLimiter, UpdateDeadline};

use crate::error::{Interrupted, OutOfMemory};
use crate::sync::{AtomicU64, Condvar, Mutex};

/// Tables are bounded too, so a plugin cannot grow one without end
/// (docs/abi.md, Tables). Ten million elements is far above what compilers emit.
const MAX_TABLE_ELEMENTS: usize = 10_000_000;

/// The per-store memory budget of docs/abi.md, Memory budget.
pub(crate) struct MemoryLimiter {
    /// The budget in bytes (`max_pages * 65536`), if any.
    pub max_bytes: Option<u64>,
    pub remaining: u64,
    /// Off while the kernel and the dependency modules are instantiated: their
    /// initial memory is not charged.
    pub charging: bool,
}

impl MemoryLimiter {
    pub fn new(max_pages: Option<u32>) -> Self {
        let max_bytes = max_pages.map(|p| p as u64 * 65536);
        MemoryLimiter {
            max_bytes,
            remaining: max_bytes.unwrap_or(0),
            charging: false,
        }
    }

    pub fn refill(&mut self) {
        self.remaining = self.max_bytes.unwrap_or(0);
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if self.max_bytes.is_none() || !self.charging {
            return Ok(true);
        }
        let delta = desired.saturating_sub(current) as u64;
        if delta > self.remaining {
            return Err(wasmtime::Error::new(OutOfMemory));
        }
        self.remaining -= delta;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Interruption state shared by a plugin and its cancel handles: the
/// generations, and the engine whose epoch a cancel bumps.
pub(crate) struct Interrupt {
    generations: Generations,
    engine: wasmtime::Engine,
}

impl Interrupt {
    pub fn new(engine: wasmtime::Engine) -> Arc<Self> {
        Arc::new(Interrupt {
            generations: Generations::new(),
            engine,
        })
    }

    /// Mark a new call (or instantiation) as running.
    pub fn begin(&self) {
        self.generations.begin();
    }

    /// Mark the running call as over.
    pub fn end(&self) {
        self.generations.end();
    }

    /// Whether the running call was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.generations.is_cancelled()
    }

    fn cancel(&self) {
        if self.generations.cancel().is_some() {
            // The store notices at its next epoch check.
            self.engine.increment_epoch();
        }
    }
}

/// Every call (and instantiation) gets a new generation; a cancel records the
/// generation it saw running. So a cancel can only stop the call that was
/// running when it was sent, never a later one, however the threads race.
pub(crate) struct Generations {
    /// `generation << 1 | running`.
    state: AtomicU64,
    /// The generation a cancel was sent to (0: none).
    cancelled: AtomicU64,
}

impl Generations {
    pub fn new() -> Self {
        Generations {
            state: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
        }
    }

    /// Mark a new call (or instantiation) as running.
    pub fn begin(&self) {
        // Only the plugin's own thread writes `state`, so load + store is fine.
        let generation = (self.state.load(Ordering::Relaxed) >> 1) + 1;
        self.state.store(generation << 1 | 1, Ordering::Release);
    }

    pub fn end(&self) {
        let generation = self.state.load(Ordering::Relaxed) >> 1;
        self.state.store(generation << 1, Ordering::Release);
    }

    /// Whether the running call was cancelled.
    pub fn is_cancelled(&self) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        state & 1 == 1 && self.cancelled.load(Ordering::Acquire) == state >> 1
    }

    /// Cancel the running call, if one runs: the generation cancelled.
    pub fn cancel(&self) -> Option<u64> {
        let state = self.state.load(Ordering::Acquire);
        (state & 1 == 1).then(|| {
            // The highest generation wins: a cancel that saw an older call
            // must not overwrite one of the call running now (a race loom
            // found when this was a plain store).
            self.cancelled.fetch_max(state >> 1, Ordering::AcqRel);
            state >> 1
        })
    }
}

/// Stops the call running on one plugin, from any thread. `Send + Sync`.
#[derive(Clone)]
pub struct CancelHandle {
    pub(crate) interrupt: Arc<Interrupt>,
}

impl CancelHandle {
    /// Interrupt the call running on the plugin now; it ends with `timeout`.
    /// With no call running this does nothing (the next call is unaffected).
    /// Returns true: the request was delivered.
    pub fn cancel(&self) -> bool {
        self.interrupt.cancel();
        true
    }
}

/// The store's epoch callback, given the running call's deadline and its
/// plugin's interrupt: stop if it was cancelled or the deadline passed,
/// otherwise keep going until the next tick.
pub(crate) fn on_epoch(deadline: Option<Instant>, interrupt: &Interrupt) -> wasmtime::Result<UpdateDeadline> {
    let expired = deadline.is_some_and(|d| Instant::now() >= d);
    if expired || interrupt.is_cancelled() {
        return Err(wasmtime::Error::new(Interrupted));
    }
    Ok(UpdateDeadline::Continue(1))
}

#[cfg_attr(feature = "loom", allow(dead_code))]
const TICK: Duration = Duration::from_millis(1);
/// How long the ticker keeps running after the last timed call, so that back
/// to back calls do not wake it each time.
#[cfg_attr(feature = "loom", allow(dead_code))]
const IDLE_BEFORE_PARK: Duration = Duration::from_millis(200);

/// Counts the calls with a timeout in progress; the ticker parks on it while
/// there is none. The one rule: a call that starts wakes a parked ticker.
/// Its loom model is `loom_tests::loom_a_timed_call_always_wakes_the_ticker`.
pub(crate) struct TickGate {
    active: Mutex<usize>,
    wake: Condvar,
}

impl TickGate {
    pub(crate) fn new() -> TickGate {
        TickGate {
            active: Mutex::new(0),
            wake: Condvar::new(),
        }
    }

    /// A timed call starts.
    pub(crate) fn enter(&self) {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        *active += 1;
        if *active == 1 {
            self.wake.notify_one();
        }
    }

    /// A timed call ends.
    pub(crate) fn leave(&self) {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        *active -= 1;
    }

    /// Whether no timed call is in progress.
    pub(crate) fn is_idle(&self) -> bool {
        *self.active.lock().unwrap_or_else(|e| e.into_inner()) == 0
    }

    /// Wait until a timed call is in progress.
    pub(crate) fn wait_for_work(&self) {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        while *active == 0 {
            active = self.wake.wait(active).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(not(feature = "loom"))]
fn ticker() -> &'static TickGate {
    static TICKER: OnceLock<&'static TickGate> = OnceLock::new();
    TICKER.get_or_init(|| {
        let gate: &'static TickGate = Box::leak(Box::new(TickGate::new()));
        std::thread::Builder::new()
            .name("extism-ticker".into())
            .spawn(move || tick(gate))
            .expect("spawning the timeout thread");
        gate
    })
}

/// Under loom the process-wide ticker is not modelled (its model drives a
/// `TickGate` of its own); timed calls still count on one.
#[cfg(feature = "loom")]
fn ticker() -> &'static TickGate {
    static TICKER: OnceLock<TickGate> = OnceLock::new();
    TICKER.get_or_init(TickGate::new)
}

/// The ticker thread: advance the engines' epochs every `TICK` while timed
/// calls run, and park once none has run for `IDLE_BEFORE_PARK`.
#[cfg(not(feature = "loom"))]
fn tick(gate: &TickGate) {
    let mut idle_since: Option<Instant> = None;
    loop {
        if gate.is_idle() {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= IDLE_BEFORE_PARK {
                gate.wait_for_work();
                idle_since = None;
            }
        } else {
            idle_since = None;
        }
        std::thread::sleep(TICK);
        crate::engine::increment_all_epochs();
    }
}

/// Keeps the ticker running while a call with a timeout is in progress.
pub(crate) struct TimedSection(());

impl TimedSection {
    pub fn start() -> TimedSection {
        ticker().enter();
        TimedSection(())
    }
}

impl Drop for TimedSection {
    fn drop(&mut self) {
        ticker().leave();
    }
}

/// Every interleaving of a plugin's calls with two cancellers (`make
/// test-loom`).
#[cfg(all(test, feature = "loom"))]
mod loom_tests {
    use super::Generations;
    use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use loom::sync::Arc;

    /// A cancel stops only the call it saw running, and a cancel of the
    /// running call is never lost, however two cancels of different calls race.
    #[test]
    fn loom_cancels_reach_the_call_they_saw_and_no_other() {
        loom::model(|| {
            let g = Arc::new(Generations::new());
            let cancellers: Vec<_> = (0..2)
                .map(|_| {
                    let g = g.clone();
                    loom::thread::spawn(move || g.cancel())
                })
                .collect();
            g.begin();
            let first = g.is_cancelled();
            g.end();
            g.begin();
            let targets: Vec<Option<u64>> = cancellers.into_iter().map(|t| t.join().unwrap()).collect();
            // Every cancel is done and visible; call 2 still runs.
            let second = g.is_cancelled();
            g.end();
            assert!(
                !first || targets.contains(&Some(1)),
                "call 1 stopped by a cancel of another call"
            );
            assert_eq!(second, targets.contains(&Some(2)), "targets {targets:?}");
            assert!(!g.is_cancelled(), "no call runs, none is cancelled");
        });
    }

    /// A timed call that starts while the ticker parks (or is about to)
    /// always wakes it: the ticker ticks while the call waits for a tick,
    /// with a second call starting and ending around it.
    #[test]
    fn loom_a_timed_call_always_wakes_the_ticker() {
        use super::TickGate;
        loom::model(|| {
            let gate = Arc::new(TickGate::new());
            let ticked = Arc::new(AtomicBool::new(false));
            let ticker = {
                let (gate, ticked) = (gate.clone(), ticked.clone());
                loom::thread::spawn(move || {
                    gate.wait_for_work();
                    ticked.store(true, SeqCst);
                })
            };
            let brief = {
                let gate = gate.clone();
                loom::thread::spawn(move || {
                    gate.enter();
                    gate.leave();
                })
            };
            gate.enter();
            while !ticked.load(SeqCst) {
                loom::thread::yield_now();
            }
            gate.leave();
            brief.join().unwrap();
            ticker.join().unwrap();
            assert!(gate.is_idle());
        });
    }

    /// A call that keeps checking sees a cancel sent while it runs.
    #[test]
    fn loom_a_running_call_sees_its_cancel() {
        loom::model(|| {
            let g = Arc::new(Generations::new());
            let running = Arc::new(AtomicBool::new(false));
            let canceller = {
                let (g, running) = (g.clone(), running.clone());
                loom::thread::spawn(move || {
                    while !running.load(SeqCst) {
                        loom::thread::yield_now();
                    }
                    assert_eq!(g.cancel(), Some(1));
                })
            };
            g.begin();
            running.store(true, SeqCst);
            while !g.is_cancelled() {
                loom::thread::yield_now();
            }
            g.end();
            canceller.join().unwrap();
            // The next call starts uncancelled.
            g.begin();
            assert!(!g.is_cancelled());
            g.end();
        });
    }
}
