//! WASI preview 1 (docs/abi.md, WASI).

mod common;
use common::*;

use std::sync::{Arc, Mutex};

use extism_core::{PluginBuilder, WasiOutput, WasiStream};

#[test]
fn wasi_output_exit_codes_and_preopens() {
    let mut p = PluginBuilder::new(wat("wasi")).with_wasi(true).build().unwrap();
    assert_eq!(p.call("hello", b"").unwrap(), b"ok");
    let r = p.call_with_context("exit_3", b"", None);
    assert_eq!(r.rc, 3);
    assert!(r.error.is_some());
    let r = p.call_with_context("exit_0", b"", None);
    assert_eq!((r.rc, r.error.is_none()), (0, true));
    // The instance is kept after proc_exit.
    assert_eq!(p.call("hello", b"").unwrap(), b"ok");

    let dir = std::env::temp_dir().join(format!("extism-wasi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for host in [dir.display().to_string(), format!("ro:{}", dir.display())] {
        let manifest = format!(
            r#"{{"wasm": [{{"path": "{}"}}], "allowed_paths": {{"{host}": "/data"}}}}"#,
            wat_path("wasi")
        );
        let mut p = PluginBuilder::new(manifest).with_wasi(true).build().unwrap();
        assert_eq!(p.call("preopen", b"").unwrap(), b"/data");
    }
    let manifest = format!(
        r#"{{"wasm": [{{"path": "{}"}}], "allowed_paths": {{"/no/such/dir": "/data"}}}}"#,
        wat_path("wasi")
    );
    let e = PluginBuilder::new(manifest).with_wasi(true).build().err().unwrap();
    assert!(e.message().contains("No such file or directory"), "{e}");
    // Without a preopen, fd 3 does not exist.
    let mut bare = PluginBuilder::new(wat("wasi")).with_wasi(true).build().unwrap();
    let e = bare.call("preopen", b"").err().unwrap();
    assert_eq!(e.kind(), extism_core::ErrorKind::Trap, "{e}");
}

#[test]
fn wasi_output_goes_to_a_writer_per_plugin() {
    type Writes = Vec<(WasiStream, Vec<u8>)>;
    let seen: Arc<Mutex<Writes>> = Arc::default();
    let sink = seen.clone();
    let writer = WasiOutput::Writer(Arc::new(move |stream, bytes: &[u8]| {
        sink.lock().unwrap().push((stream, bytes.to_vec()));
    }));
    let compiled = PluginBuilder::new(wat("wasi"))
        .with_wasi(true)
        .with_wasi_output(writer)
        .compile()
        .unwrap();
    let mut p = compiled.instantiate().unwrap();
    assert_eq!(p.call("hello", b"").unwrap(), b"ok");
    assert_eq!(p.call("complain", b"").unwrap(), b"ok");
    // A second instance of the same compilation writes to the same place.
    assert_eq!(compiled.instantiate().unwrap().call("hello", b"").unwrap(), b"ok");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (WasiStream::Stdout, b"hello\n".to_vec()),
            (WasiStream::Stderr, b"oops\n".to_vec()),
            (WasiStream::Stdout, b"hello\n".to_vec()),
        ]
    );
    // Another plugin with output discarded does not write there.
    let mut quiet = PluginBuilder::new(wat("wasi"))
        .with_wasi(true)
        .with_wasi_output(WasiOutput::Discard)
        .build()
        .unwrap();
    assert_eq!(quiet.call("hello", b"").unwrap(), b"ok");
    assert_eq!(seen.lock().unwrap().len(), 3);
}

/// A plugin that floods stdout while the host reads slowly: each write is
/// handed to the writer as it happens (at most 64 KiB at a time), so the
/// plugin waits for the reader instead of the host queueing its output,
/// nothing arrives after the call ends, and the timeout still stops it.
#[test]
fn wasi_output_flood_to_a_slow_reader_is_not_queued() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let writes = Arc::new(AtomicUsize::new(0));
    let largest = Arc::new(AtomicUsize::new(0));
    let (w, l) = (writes.clone(), largest.clone());
    let slow_reader = WasiOutput::Writer(Arc::new(move |_, bytes: &[u8]| {
        std::thread::sleep(std::time::Duration::from_millis(2));
        l.fetch_max(bytes.len(), SeqCst);
        w.fetch_add(1, SeqCst);
    }));
    let mut p = PluginBuilder::new(format!(
        r#"{{"wasm": [{{"path": "{}"}}], "timeout_ms": 300}}"#,
        wat_path("wasi")
    ))
    .with_wasi(true)
    .with_wasi_output(slow_reader)
    .build()
    .unwrap();
    let e = p.call("flood", b"").unwrap_err();
    assert_eq!(e.kind(), extism_core::ErrorKind::Timeout, "{e}");
    let after_call = writes.load(SeqCst);
    assert!(after_call > 0);
    assert!(largest.load(SeqCst) <= 64 * 1024, "{}", largest.load(SeqCst));
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(writes.load(SeqCst), after_call, "output arrived after the call ended");
    assert_eq!(p.call("hello", b"").unwrap(), b"ok");
}
