//! Logging (docs/abi.md, Logging). The global logger is process-wide, so this file
//! holds one test that walks through it in order.

mod common;
use common::*;
use std::sync::{Arc, Mutex};

use extism_core::log::{self, LogLevel, LogSink, LOG_OFF};
use extism_core::PluginBuilder;

fn level(p: &mut extism_core::Plugin) -> i32 {
    i32::from_le_bytes(p.call("level", b"").unwrap().try_into().unwrap())
}

#[test]
fn global_and_per_plugin_logging() {
    // Nothing installed: plugins are told logging is off.
    let mut p = PluginBuilder::new(wat("log")).build().unwrap();
    assert_eq!(level(&mut p), LOG_OFF);
    p.call("log_all", b"dropped").unwrap();

    // A per-plugin sink with its own level.
    let seen: Arc<Mutex<Vec<(LogLevel, String)>>> = Arc::default();
    let sink_seen = seen.clone();
    let sink = LogSink::new(Some(LogLevel::Info), move |level, msg| {
        sink_seen.lock().unwrap().push((level, msg.to_string()));
    });
    let mut own = PluginBuilder::new(wat("log"))
        .with_log_sink(Some(sink))
        .build()
        .unwrap();
    assert_eq!(level(&mut own), 2);
    own.call("log_all", b"mine").unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (LogLevel::Info, "mine".to_string()),
            (LogLevel::Warn, "mine".to_string()),
            (LogLevel::Error, "mine".to_string())
        ]
    );

    // The global buffered logger.
    log::log_to_buffer(Some("debug")).unwrap();
    for refused in [log::log_to_buffer(Some("trace")), log::log_to_file("stderr", None)] {
        let e = refused.expect_err("only one logger per process");
        assert_eq!(e.kind(), extism_core::ErrorKind::InvalidArgument);
        assert_eq!(e.message(), "a log subscriber is already installed in this process");
    }
    assert_eq!(level(&mut p), 1, "a refused logger does not change the level");
    p.call("log_all", "héllo".as_bytes()).unwrap();
    let mut lines = Vec::new();
    log::drain_logs(|line| lines.push(line.to_string()));
    let pdk: Vec<&String> = lines.iter().filter(|l| l.contains("extism::pdk")).collect();
    assert_eq!(pdk.len(), 4, "debug, info, warn and error, not trace: {lines:?}");
    assert!(pdk.iter().all(|l| l.ends_with('\n') && l.contains("héllo")));
    assert!(pdk[0].contains("DEBUG") && pdk[3].contains("ERROR"));
    assert!(pdk[0].contains(&p.id().to_string()));
    let mut again = Vec::new();
    log::drain_logs(|line| again.push(line.to_string()));
    assert!(again.is_empty(), "drain empties the buffer");
    // The per-plugin sink is unaffected by the global logger.
    assert_eq!(level(&mut own), 2);

    // A flood: 1100 lines of 16 KiB is more than the buffer holds. It keeps
    // at most LOG_BUFFER_LIMIT bytes, and the drain ends with a line saying
    // how many were dropped; the plugin goes on.
    let message = vec![b'z'; 16 * 1024];
    p.call("log_many", &message).unwrap();
    let mut flood = Vec::new();
    log::drain_logs(|line| flood.push(line.to_string()));
    let notice = flood.pop().unwrap();
    let kept = flood.len();
    assert!(flood
        .iter()
        .all(|l| l.contains("extism::pdk") && l.contains(&"z".repeat(16 * 1024))));
    let bytes: usize = flood.iter().map(String::len).sum();
    assert!(bytes <= log::LOG_BUFFER_LIMIT, "{bytes} bytes kept");
    assert!(
        bytes + flood[0].len() > log::LOG_BUFFER_LIMIT,
        "only as many dropped as needed: {kept} kept"
    );
    assert_eq!(
        notice,
        format!(
            "WARN extism::pdk: {} log messages dropped: more than 16777216 bytes were waiting to be handled\n",
            1100 - kept
        )
    );
    // The buffer is empty again, and so is the count.
    p.call("log_all", b"after").unwrap();
    let mut after = Vec::new();
    log::drain_logs(|line| after.push(line.to_string()));
    assert_eq!(after.len(), 4, "{after:?}");
    assert!(after.iter().all(|l| l.contains("after") && !l.contains("dropped")));
}
