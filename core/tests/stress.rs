//! Stress: many threads and plugins with calls, cancels and timeouts racing,
//! for a bounded time. No crash, no deadlock, no growth of memory.

mod common;
use common::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use extism_core::{CancelHandle, PluginBuilder};

/// The tests here measure the process's resident memory, so they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// One round: `threads` threads, each creating plugins from one compiled
/// plugin and calling echo, a timed-out loop, or a loop that a canceller
/// thread stops, until `duration` has passed. Returns how many calls ran.
fn round(threads: usize, duration: Duration) -> usize {
    let manifest = format!(
        r#"{{"wasm": [{{"path": "{}"}}], "timeout_ms": 150}}"#,
        wat_path("limits")
    );
    let limits = PluginBuilder::new(manifest).compile().unwrap();
    let echo = PluginBuilder::new(wat("echo")).compile().unwrap();
    let handles: Arc<Mutex<Vec<(uuid::Uuid, CancelHandle)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));

    let canceller = {
        let (handles, stop) = (handles.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let list = handles.lock().unwrap();
                if !list.is_empty() {
                    list[i % list.len()].1.cancel();
                }
                drop(list);
                i += 1;
                std::thread::sleep(Duration::from_micros(300));
            }
        })
    };
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (limits, echo, handles, calls) = (limits.clone(), echo.clone(), handles.clone(), calls.clone());
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut n = 0usize;
                while start.elapsed() < duration {
                    n += 1;
                    if n % 3 == 0 {
                        let mut p = echo.instantiate().unwrap();
                        let input = vec![(n % 256) as u8; (n * 97) % 70_000];
                        assert_eq!(p.call("echo", &input).unwrap(), &input[..]);
                    } else {
                        let mut p = limits.instantiate().unwrap();
                        let id = p.id();
                        {
                            let mut list = handles.lock().unwrap();
                            if list.len() < 64 {
                                list.push((id, p.cancel_handle()));
                            } else {
                                list[(t * 7 + n) % 64] = (id, p.cancel_handle());
                            }
                        }
                        // Stopped by its timeout or by the canceller.
                        let r = p.call_with_context("infinite_loop", b"", None);
                        assert_eq!((r.rc, r.error.unwrap().message()), (134, "timeout"));
                        // No more cancels for this plugin from here on (the
                        // canceller holds the lock while it cancels): a cancel
                        // sent to the call above must not reach this one.
                        handles.lock().unwrap().retain(|(other, _)| *other != id);
                        // (Its own 150 ms timeout leaves room for a loaded machine.)
                        let r = p.call_with_context("spin", b"", None);
                        assert_eq!((r.rc, r.error.map(|e| e.message().to_string())), (0, None));
                    }
                    calls.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker failed");
    }
    stop.store(true, Ordering::SeqCst);
    canceller.join().unwrap();
    calls.load(Ordering::SeqCst)
}

#[test]
fn racing_calls_cancels_and_timeouts() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // A watchdog turns a deadlock into a failure instead of a hung test run.
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let first = round(6, Duration::from_millis(1500));
        let after_first = resident_bytes();
        let second = round(6, Duration::from_millis(1500));
        let after_second = resident_bytes();
        done.send((first, second, after_first, after_second)).unwrap();
    });
    let (first, second, after_first, after_second) = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("stress rounds deadlocked");
    assert!(first > 20 && second > 20, "too few calls: {first}, {second}");
    // The second round must not keep what the first round left behind.
    let growth = after_second.saturating_sub(after_first);
    assert!(growth < 64 << 20, "resident memory grew by {} MiB", growth >> 20);
}

#[test]
fn memory_budget_bounds_resident_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let manifest = format!(
        r#"{{"wasm": [{{"path": "{}"}}], "memory": {{"max_pages": 160}}}}"#,
        wat_path("limits")
    );
    let compiled = PluginBuilder::new(manifest).compile().unwrap();
    let before = resident_bytes();
    let mut plugins = Vec::new();
    for _ in 0..8 {
        let mut p = compiled.instantiate().unwrap();
        assert_eq!(
            p.call_with_context("alloc_forever", b"", None).error.unwrap().message(),
            "oom"
        );
        assert_eq!(
            p.call_with_context("grow_forever", b"", None).error.unwrap().message(),
            "oom"
        );
        plugins.push(p);
    }
    // 8 plugins x 10 MiB budget each, plus slack for the runtime itself.
    let growth = resident_bytes().saturating_sub(before);
    assert!(
        growth < 8 * (10 << 20) + (48 << 20),
        "resident memory grew by {} MiB",
        growth >> 20
    );
}
