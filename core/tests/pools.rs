//! `Pool`: exclusive hand-out, instance bounds, waiters in order, wait
//! limits, close with calls in flight, reuse after failures.

mod common;
use common::*;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use extism_core::{ErrorKind, Function, PluginBuilder, Pool, ValType};

fn echo_pool(max: usize) -> Pool {
    Pool::new(PluginBuilder::new(wat("echo")).compile().unwrap(), max).unwrap()
}

#[test]
fn eight_callers_share_two_instances_exclusively() {
    let pool = echo_pool(2);
    let in_use: Arc<Mutex<HashSet<uuid::Uuid>>> = Arc::default();
    let seen: Arc<Mutex<HashSet<uuid::Uuid>>> = Arc::default();
    let workers: Vec<_> = (0..8)
        .map(|t| {
            let (pool, in_use, seen) = (pool.clone(), in_use.clone(), seen.clone());
            thread::spawn(move || {
                for i in 0..200 {
                    let mut plugin = pool.get(None).unwrap();
                    let id = plugin.id();
                    assert!(in_use.lock().unwrap().insert(id), "instance handed to two callers");
                    seen.lock().unwrap().insert(id);
                    let input = format!("thread {t} call {i}");
                    assert_eq!(plugin.call("echo", input.as_bytes()).unwrap(), input.as_bytes());
                    in_use.lock().unwrap().remove(&id);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // How many were needed depends on how the callers overlapped; never
    // more than the maximum.
    assert!(pool.instances() <= 2);
    assert!(seen.lock().unwrap().len() <= 2, "never more than the maximum");
}

#[test]
fn instances_are_made_on_demand_up_to_the_maximum() {
    let pool = echo_pool(2);
    assert_eq!(pool.instances(), 0, "none before they are asked for");
    let first = pool.get(None).unwrap();
    drop(first);
    let again = pool.get(None).unwrap();
    assert_eq!(
        pool.instances(),
        1,
        "an idle instance is handed out before a new one is made"
    );
    let second = pool.get(None).unwrap();
    assert_eq!(pool.instances(), 2);
    assert_ne!(again.id(), second.id());
    let e = pool.get(Some(Duration::from_millis(20))).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::PoolTimeout, "no third instance");
    assert_eq!(pool.max_instances(), 2);
}

#[test]
fn waiters_are_served_in_order() {
    let pool = echo_pool(1);
    let held = pool.get(None).unwrap();
    let order: Arc<Mutex<Vec<usize>>> = Arc::default();
    let mut waiters = Vec::new();
    for n in 0..4 {
        let (pool, order) = (pool.clone(), order.clone());
        waiters.push(thread::spawn(move || {
            let _plugin = pool.get(None).unwrap();
            order.lock().unwrap().push(n);
            thread::sleep(Duration::from_millis(5));
        }));
        // Each waiter queues before the next one asks.
        thread::sleep(Duration::from_millis(100));
    }
    drop(held);
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
}

#[test]
fn a_wait_limit_ends_with_pool_timeout_and_leaves_the_queue() {
    let pool = echo_pool(1);
    let held = pool.get(None).unwrap();
    let start = Instant::now();
    let e = pool.get(Some(Duration::from_millis(100))).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::PoolTimeout);
    assert_eq!(e.message(), "timed out waiting for a free plugin instance");
    assert!(start.elapsed() >= Duration::from_millis(100));
    // The timed-out caller does not block the next one.
    drop(held);
    assert!(pool.get(Some(Duration::ZERO)).is_ok());
}

#[test]
fn close_lets_running_calls_finish_and_refuses_the_rest() {
    // The host function waits for a go-ahead, so the close surely comes
    // while the call runs.
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let wait = Arc::new(Mutex::new(wait));
    let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
    let entered_tx = Mutex::new(entered_tx);
    let f = Function::new("hello_world", [ValType::I64], [ValType::I64], move |_, args, outs| {
        entered_tx.lock().unwrap().send(()).unwrap();
        wait.lock().unwrap().recv().unwrap();
        outs[0] = args[0];
        Ok(())
    })
    .unwrap();
    let compiled = PluginBuilder::new(wat("host")).with_function(f).compile().unwrap();
    let pool = Pool::new(compiled, 1).unwrap();
    let running = {
        let pool = pool.clone();
        thread::spawn(move || {
            let mut plugin = pool.get(None).unwrap();
            plugin.call("call_host", b"still here").map(|o| o.to_vec())
        })
    };
    entered.recv().unwrap();
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || pool.get(None).err().map(|e| e.kind()))
    };
    thread::sleep(Duration::from_millis(50));
    pool.close();
    assert!(pool.is_closed());
    assert_eq!(
        waiter.join().unwrap(),
        Some(ErrorKind::PoolClosed),
        "a waiter is woken with an error"
    );
    let e = pool.get(None).err().unwrap();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::PoolClosed, "the plugin pool is closed")
    );
    go.send(()).unwrap();
    assert_eq!(
        running.join().unwrap().unwrap(),
        b"still here",
        "the running call finished"
    );
    assert_eq!(pool.instances(), 0, "the instance given back after close is dropped");
}

#[test]
fn instances_are_reused_after_traps_timeouts_and_cancels() {
    let manifest = format!(
        r#"{{"wasm": [{{"path": "{}"}}], "timeout_ms": 200}}"#,
        wat_path("limits")
    );
    let pool = Pool::new(PluginBuilder::new(manifest).compile().unwrap(), 1).unwrap();
    {
        let mut plugin = pool.get(None).unwrap();
        let r = plugin.call_with_context("infinite_loop", b"", None);
        assert_eq!(r.error.unwrap().kind(), ErrorKind::Timeout);
    }
    {
        let mut plugin = pool.get(None).unwrap();
        let cancel = plugin.cancel_handle();
        let canceller = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            cancel.cancel();
        });
        assert_eq!(
            plugin
                .call_with_context("infinite_loop", b"", None)
                .error
                .unwrap()
                .kind(),
            ErrorKind::Timeout
        );
        canceller.join().unwrap();
    }
    let mut plugin = pool.get(None).unwrap();
    assert_eq!(plugin.call_with_context("spin", b"", None).rc, 0);
    assert_eq!(pool.instances(), 1);
}

#[test]
fn bad_pools_and_failing_factories() {
    let compiled = PluginBuilder::new(wat("echo")).compile().unwrap();
    let e = Pool::new(compiled, 0).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    // A factory error reaches the caller and frees the slot it took.
    let fails = Arc::new(Mutex::new(true));
    let flag = fails.clone();
    let compiled = PluginBuilder::new(wat("echo")).compile().unwrap();
    let pool = Pool::with_factory(1, move || {
        if *flag.lock().unwrap() {
            Err(extism_core::Error::host("no instance today"))
        } else {
            compiled.instantiate()
        }
    })
    .unwrap();
    assert_eq!(pool.get(None).err().unwrap().message(), "no instance today");
    assert_eq!(pool.instances(), 0);
    *fails.lock().unwrap() = false;
    assert_eq!(pool.get(None).unwrap().call("echo", b"ok").unwrap(), b"ok");
}
