//! User host functions (docs/abi.md, User host functions): types, namespaces, memory access, host
//! context, errors, overriding built-ins, reentrancy.

mod common;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use extism_core::{Error, Function, PluginBuilder, SharedPlugin, Val, ValType, RC_ERROR, USER_NAMESPACE as USER};

/// hello_world: returns "Hello, <input>!" in a new block.
fn hello() -> Function {
    Function::new("hello_world", [ValType::I64], [ValType::I64], |plugin, args, outs| {
        let handle = args[0].i64().unwrap() as u64;
        let input = plugin.block(handle)?.to_vec();
        let text = format!("Hello, {}!", String::from_utf8_lossy(&input));
        outs[0] = Val::I64(plugin.alloc_bytes(text.as_bytes())? as i64);
        Ok(())
    })
    .unwrap()
}

#[test]
fn host_function_round_trip_wat_and_pdk() {
    let mut p = PluginBuilder::new(wat("host")).with_function(hello()).build().unwrap();
    assert_eq!(p.call("call_host", b"wasm").unwrap(), b"Hello, wasm!");
    assert_eq!(p.call("call_twice", b"x").unwrap(), b"Hello, x!");
    let mut p = PluginBuilder::new(pdk("host_call"))
        .with_function(hello())
        .build()
        .unwrap();
    assert_eq!(p.call("call_host", b"pdk").unwrap(), b"Hello, pdk!");
}

#[test]
fn functions_typed_by_their_import() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let echo_back = Function::typed_by_import("hello_world", move |_, args, outs| {
        // The results arrive as zeros of the import's result types.
        record.lock().unwrap().push((args.to_vec(), outs.to_vec()));
        outs[0] = args[0];
        Ok(())
    });
    let unused = Function::typed_by_import("nobody_imports_this", |_, _, _| Ok(()));
    let compiled = PluginBuilder::new(wat("host"))
        .with_functions([echo_back, unused])
        .compile()
        .unwrap();
    let i64s: &[ValType] = &[ValType::I64];
    assert_eq!(compiled.host_function_type(USER, "hello_world"), Some((i64s, i64s)));
    assert_eq!(compiled.host_function_type(USER, "nobody_imports_this"), None);
    let mut p = compiled.instantiate().unwrap();
    assert_eq!(p.call("call_host", b"same").unwrap(), b"same");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert!(matches!(seen[0].0[..], [Val::I64(h)] if h > 0));
    assert_eq!(seen[0].1, [Val::I64(0)]);

    // An import a host function cannot take fails the compilation clearly.
    let v128 = r#"(module (import "extism:host/user" "f" (func (param v128))) (func (export "run") (result i32) (i32.const 0)))"#;
    let e = PluginBuilder::new(v128)
        .with_function(Function::typed_by_import("f", |_, _, _| Ok(())))
        .compile()
        .err()
        .unwrap();
    assert_eq!(e.kind(), extism_core::ErrorKind::InvalidArgument);
    assert!(
        e.message().contains("`v128`, which host functions cannot take"),
        "{}",
        e.message()
    );
}

#[test]
fn namespaces_must_match() {
    let wrong = hello().with_namespace("elsewhere");
    let e = PluginBuilder::new(wat("host"))
        .with_function(wrong)
        .build()
        .err()
        .unwrap();
    assert_eq!(
        e.message(),
        "unknown import: `extism:host/user::hello_world` has not been defined"
    );
    // The detail says whether the host provides the import's module at all.
    let host_module = |e: &Error| match e.detail() {
        Some(extism_core::ErrorDetail::UnresolvedImport { host_module, .. }) => *host_module,
        other => panic!("{other:?}"),
    };
    assert!(!host_module(&e));
    let other_name = Function::new("other", [ValType::I64], [ValType::I64], |_, _, _| Ok(())).unwrap();
    let e = PluginBuilder::new(wat("host"))
        .with_function(other_name)
        .build()
        .err()
        .unwrap();
    assert!(host_module(&e), "{}", e.message());
    let wat = r#"(module (import "my:ns" "hello_world" (func (param i64) (result i64)))
                  (func (export "run") (result i32) (i32.wrap_i64 (call 0 (i64.const 0)))))"#;
    let f = Function::new("hello_world", [ValType::I64], [ValType::I64], |_, _, outs| {
        outs[0] = Val::I64(41);
        Ok(())
    })
    .unwrap()
    .with_namespace("my:ns");
    let mut p = PluginBuilder::new(wat).with_function(f).build().unwrap();
    assert_eq!(p.call_with_context("run", b"", None).rc, 41);
}

#[test]
fn signature_mismatch_is_reported() {
    let f = Function::new("hello_world", [ValType::I32], [ValType::I64], |_, _, _| Ok(())).unwrap();
    let e = PluginBuilder::new(wat("host")).with_function(f).build().err().unwrap();
    assert_eq!(
        e.message(),
        "types incompatible: expected type `(func (param i64) (result i64))`, found type `(func (param i32) (result i64))`"
    );
}

#[test]
fn every_value_type_passes_through() {
    let wat = r#"(module
      (import "extism:host/user" "mix" (func $mix (param i32 i64 f32 f64) (result f64)))
      (func (export "run") (result i32)
        (i32.trunc_f64_s (call $mix (i32.const -2) (i64.const 40) (f32.const 1.5) (f64.const 0.25)))))"#;
    let f = Function::new(
        "mix",
        [ValType::I32, ValType::I64, ValType::F32, ValType::F64],
        [ValType::F64],
        |_, args, outs| {
            let sum = args[0].i32().unwrap() as f64
                + args[1].i64().unwrap() as f64
                + args[2].f32().unwrap() as f64
                + args[3].f64().unwrap();
            outs[0] = Val::F64(sum * 2.0);
            Ok(())
        },
    )
    .unwrap();
    let mut p = PluginBuilder::new(wat).with_function(f).build().unwrap();
    assert_eq!(p.call_with_context("run", b"", None).rc, 79);
    for (e, ty) in [
        (
            Function::new("v", [ValType::V128], [], |_, _, _| Ok(())).err().unwrap(),
            "V128",
        ),
        (
            Function::new("r", [], [ValType::ExternRef], |_, _, _| Ok(()))
                .err()
                .unwrap(),
            "ExternRef",
        ),
    ] {
        assert_eq!(e.kind(), extism_core::ErrorKind::InvalidArgument);
        assert_eq!(
            e.message(),
            format!("host functions support only i32, i64, f32 and f64 values, not {ty}")
        );
    }
}

#[test]
fn host_errors_end_the_call_and_the_plugin_stays_usable() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let f = Function::new(
        "hello_world",
        [ValType::I64],
        [ValType::I64],
        move |plugin, args, outs| {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(Error::host("the host said no"));
            }
            let handle = args[0].i64().unwrap() as u64;
            let input = plugin.block(handle)?.to_vec();
            outs[0] = Val::I64(plugin.alloc_bytes(&input)? as i64);
            Ok(())
        },
    )
    .unwrap();
    let mut p = PluginBuilder::new(wat("host")).with_function(f).build().unwrap();
    let r = p.call_with_context("call_host", b"x", None);
    assert_eq!((r.rc, r.error.unwrap().message()), (RC_ERROR, "the host said no"));
    assert_eq!(p.call("call_host", b"fine").unwrap(), b"fine");
}

#[test]
fn set_error_without_trapping() {
    let f = Function::new("hello_world", [ValType::I64], [ValType::I64], |plugin, _, _| {
        plugin.set_error("set by the host")
    })
    .unwrap();
    let mut p = PluginBuilder::new(wat("host")).with_function(f).build().unwrap();
    let r = p.call_with_context("call_host", b"x", None);
    assert_eq!((r.rc, r.error.unwrap().message()), (0, "set by the host"));
}

#[test]
fn host_context_is_per_call() {
    let f = Function::new("hello_world", [ValType::I64], [ValType::I64], |plugin, _, outs| {
        let text = match plugin.host_context::<String>() {
            Some(s) => s.clone(),
            None => "none".to_string(),
        };
        outs[0] = Val::I64(plugin.alloc_bytes(text.as_bytes())? as i64);
        Ok(())
    })
    .unwrap();
    let mut p = PluginBuilder::new(wat("host")).with_function(f).build().unwrap();
    let r = p.call_with_context("call_host", b"", Some(Box::new("ctx-1".to_string())));
    assert_eq!(r.rc, 0);
    assert_eq!(p.output(), b"ctx-1");
    assert_eq!(p.call("call_host", b"").unwrap(), b"none");
}

#[test]
fn builtins_can_be_overridden_but_kernel_functions_cannot() {
    let f = Function::new("config_get", [ValType::I64], [ValType::I64], |plugin, _, outs| {
        outs[0] = Val::I64(plugin.alloc_bytes(b"from the host")? as i64);
        Ok(())
    })
    .unwrap()
    .with_namespace("extism:host/env");
    let mut p = PluginBuilder::new(wat("vars_config")).with_function(f).build().unwrap();
    assert_eq!(p.call("config", b"anything").unwrap(), b"from the host");
    let alloc = Function::new("alloc", [ValType::I64], [ValType::I64], |_, _, _| Ok(()))
        .unwrap()
        .with_namespace("extism:host/env");
    let e = PluginBuilder::new(wat("echo"))
        .with_function(alloc)
        .build()
        .err()
        .unwrap();
    assert_eq!(e.kind(), extism_core::ErrorKind::InvalidArgument);
    assert_eq!(
        e.message(),
        "host function `alloc` cannot replace the Extism kernel function of that name"
    );
}

#[test]
fn reentrant_calls_are_refused() {
    let shared: Arc<std::sync::OnceLock<Arc<SharedPlugin>>> = Arc::new(std::sync::OnceLock::new());
    let inner = shared.clone();
    let f = Function::new("hello_world", [ValType::I64], [ValType::I64], move |plugin, _, outs| {
        let me = inner.get().unwrap();
        let text = match me.lock() {
            Ok(_) => "not refused".to_string(),
            Err(e) => e.message().to_string(),
        };
        outs[0] = Val::I64(plugin.alloc_bytes(text.as_bytes())? as i64);
        Ok(())
    })
    .unwrap();
    let p = Arc::new(SharedPlugin::new(
        PluginBuilder::new(wat("host")).with_function(f).build().unwrap(),
    ));
    shared.set(p.clone()).ok().unwrap();
    let mut guard = p.lock().unwrap();
    assert_eq!(
        guard.call("call_host", b"").unwrap(),
        b"cannot make reentrant calls into plugin"
    );
}

#[test]
fn user_data_is_dropped_with_the_last_owner() {
    struct Tracker(Arc<AtomicUsize>);
    impl Drop for Tracker {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let tracker = Tracker(drops.clone());
    let f = Function::new("hello_world", [ValType::I64], [ValType::I64], move |_, _, _| {
        let _ = &tracker;
        Ok(())
    })
    .unwrap();
    let compiled = PluginBuilder::new(wat("host")).with_function(f).compile().unwrap();
    let p = compiled.instantiate().unwrap();
    drop(compiled);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(p);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_panicking_host_function_ends_the_call_with_an_error() {
    let f = Function::new("hello_world", [ValType::I64], [ValType::I64], |_, _, _| {
        panic!("deliberate");
    })
    .unwrap();
    let mut p = PluginBuilder::new(wat("host")).with_function(f).build().unwrap();
    let r = p.call_with_context("call_host", b"", None);
    assert_eq!(r.rc, RC_ERROR);
    assert_eq!(
        r.error.unwrap().message(),
        "host function hello_world panicked: deliberate"
    );
    let r = p.call_with_context("call_host", b"", None);
    assert_eq!(r.rc, RC_ERROR, "still usable, still the same error");
}

#[test]
fn cancel_during_a_host_function_stops_the_call_when_it_returns() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    // The first host call waits until the cancel has been sent; the call must
    // then stop before call_twice makes its second host call.
    let (sent_tx, sent_rx) = mpsc::channel::<()>();
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let sent_rx = std::sync::Mutex::new(sent_rx);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let f = Function::new("hello_world", [ValType::I64], [ValType::I64], move |_, _, _| {
        if counted.fetch_add(1, Ordering::SeqCst) == 0 {
            entered_tx.send(()).unwrap();
            sent_rx.lock().unwrap().recv().unwrap();
        }
        Ok(())
    })
    .unwrap();
    // The host call returns 0, so call_twice would go on to a second host call.
    let mut p = PluginBuilder::new(wat("host")).with_function(f).build().unwrap();
    let handle = p.cancel_handle();
    let t = std::thread::spawn(move || {
        entered_rx.recv().unwrap();
        assert!(handle.cancel());
        sent_tx.send(()).unwrap();
    });
    let r = p.call_with_context("call_twice", b"", None);
    t.join().unwrap();
    assert_eq!((r.rc, r.error.unwrap().message()), (extism_core::RC_TRAP, "timeout"));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "stopped before the second host call");
    // The next call is not cancelled.
    assert_eq!(p.call_with_context("call_twice", b"", None).rc, 0);
}

#[test]
fn time_remaining_inside_a_host_function() {
    use std::sync::Mutex;
    use std::time::Duration;
    let seen: Arc<Mutex<Vec<Option<Duration>>>> = Arc::default();
    let record = seen.clone();
    let f = Function::new(
        "hello_world",
        [ValType::I64],
        [ValType::I64],
        move |plugin, args, outs| {
            record.lock().unwrap().push(plugin.time_remaining());
            outs[0] = args[0];
            Ok(())
        },
    )
    .unwrap();
    let manifest = |extra: &str| format!(r#"{{"wasm": [{{"path": "{}"}}]{extra}}}"#, wat_path("host"));
    let mut timed = PluginBuilder::new(manifest(r#", "timeout_ms": 5000"#))
        .with_function(f.clone())
        .build()
        .unwrap();
    timed.call("call_host", b"x").unwrap();
    let mut untimed = PluginBuilder::new(manifest("")).with_function(f).build().unwrap();
    untimed.call("call_host", b"x").unwrap();
    let seen = seen.lock().unwrap();
    let left = seen[0].expect("a timeout is set");
    assert!(
        left > Duration::from_millis(4000) && left <= Duration::from_millis(5000),
        "{left:?}"
    );
    assert_eq!(seen[1], None);
}
