//! The hooks frontends build on: an HTTP client in place of the runtime's own
//! (`Function::http_client`), a log sink whose level changes while the plugin
//! lives, and the structured detail of errors (`Error::detail`).

mod common;
use common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use extism_core::log::{LogLevel, LogSink, LOG_OFF};
use extism_core::{
    Error, ErrorDetail, ErrorKind, Function, HttpClientRequest, HttpClientResponse, PluginBuilder, RC_ERROR,
};

type Seen = Arc<Mutex<Vec<HttpClientRequest>>>;

/// The `http` fixture with `extra` manifest keys, its requests answered by
/// `answer` (every request it gets is recorded).
fn with_client(
    extra: &str,
    answer: impl Fn(&HttpClientRequest) -> extism_core::Result<HttpClientResponse> + Send + Sync + 'static,
) -> (extism_core::Plugin, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let client = Function::http_client(move |request| {
        record.lock().unwrap().push(request.clone());
        answer(request)
    });
    let manifest = format!(r#"{{"wasm": [{{"path": "{}"}}]{extra}}}"#, wat_path("http"));
    let plugin = PluginBuilder::new(manifest)
        .with_function(client)
        .with_http_response_headers(true)
        .build()
        .unwrap();
    (plugin, seen)
}

fn ok(status: u16, headers: &[(&str, &str)], body: &[u8]) -> extism_core::Result<HttpClientResponse> {
    Ok(HttpClientResponse {
        status,
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: body.to_vec(),
    })
}

fn status(p: &mut extism_core::Plugin) -> u32 {
    u32::from_le_bytes(p.call("status", b"").unwrap().try_into().unwrap())
}

#[test]
fn an_http_client_serves_allowed_requests_with_the_built_in_rules() {
    let (mut p, seen) = with_client(r#", "allowed_hosts": ["*.example.com"]"#, |r| match r.url.as_str() {
        "https://api.example.com/hello" => ok(201, &[("X-One", "a"), ("x-one", "b")], b"hello"),
        _ => ok(404, &[], b"nope"),
    });
    let out = p
        .call(
            "http_post",
            br#"{"url": "https://api.example.com/hello", "method": "put", "headers": {"k": "v"}}"#,
        )
        .unwrap();
    assert_eq!(out, b"hello");
    assert_eq!(status(&mut p), 201);
    let headers: serde_json::Value = serde_json::from_slice(p.call("headers", b"").unwrap()).unwrap();
    assert_eq!(headers, serde_json::json!({"x-one": "b"}));
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let r = &seen[0];
        assert_eq!(r.url, "https://api.example.com/hello");
        assert_eq!(r.method, "PUT");
        assert_eq!(r.headers.get("k").map(String::as_str), Some("v"));
        assert_eq!(r.body.as_deref(), Some(&b"ping"[..]));
        assert_eq!(r.timeout, None);
        assert_eq!(r.max_body, 50 * 1024 * 1024);
    }

    // A host that allowed_hosts refuses never reaches the client.
    let r = p.call_with_context("http", br#"{"url": "https://example.org/x"}"#, None);
    assert_eq!(r.rc, RC_ERROR);
    assert_eq!(
        r.error.unwrap().message(),
        "HTTP request to https://example.org/x is not allowed"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(status(&mut p), 0);
}

#[test]
fn redirects_from_a_client_are_checked_hop_by_hop() {
    let (mut p, seen) = with_client(r#", "allowed_hosts": ["a.test"]"#, |r| match r.url.as_str() {
        "http://a.test/in" => ok(302, &[("Location", "/hello")], b""),
        "http://a.test/out" => ok(301, &[("location", "http://b.test/hello")], b""),
        "http://a.test/see-other" => ok(303, &[("Location", "/hello")], b""),
        "http://a.test/hello" => ok(200, &[], b"hello"),
        other => panic!("unexpected request to {other}"),
    });
    assert_eq!(p.call("http", br#"{"url": "http://a.test/in"}"#).unwrap(), b"hello");
    let r = p.call_with_context("http", br#"{"url": "http://a.test/out"}"#, None);
    assert_eq!(
        r.error.unwrap().message(),
        "HTTP request to http://b.test/hello is not allowed"
    );
    assert_eq!(
        p.call("http_post", br#"{"url": "http://a.test/see-other", "method": "POST"}"#)
            .unwrap(),
        b"hello"
    );
    let seen = seen.lock().unwrap();
    let urls: Vec<&str> = seen.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "http://a.test/in",
            "http://a.test/hello",
            "http://a.test/out",
            "http://a.test/see-other",
            "http://a.test/hello"
        ]
    );
    // A 303 turns the POST into a GET without a body.
    assert_eq!((seen[4].method.as_str(), seen[4].body.as_ref()), ("GET", None));
}

#[test]
fn a_client_keeps_the_response_limit_and_reports_its_failures() {
    let (mut p, _) = with_client(
        r#", "allowed_hosts": ["*"], "memory": {"max_http_response_bytes": 4}"#,
        |r| match r.url.as_str() {
            "http://x.test/fits" => ok(200, &[], b"1234"),
            "http://x.test/big" => ok(200, &[], b"12345"),
            _ => Err(Error::host("connection refused by the mock")),
        },
    );
    assert_eq!(p.call("http", br#"{"url": "http://x.test/fits"}"#).unwrap(), b"1234");
    let r = p.call_with_context("http", br#"{"url": "http://x.test/big"}"#, None);
    assert_eq!(
        r.error.unwrap().message(),
        "HTTP response exceeds the configured maximum number of bytes: 4"
    );
    let r = p.call_with_context("http", br#"{"url": "http://x.test/down"}"#, None);
    let e = r.error.unwrap();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::HostFunction, "connection refused by the mock")
    );
}

#[test]
fn a_client_gets_the_time_left_and_a_timeout_wins_over_its_error() {
    let (mut p, seen) = with_client(r#", "allowed_hosts": ["*"], "timeout_ms": 300"#, |r| {
        if r.url.ends_with("/slow") {
            std::thread::sleep(Duration::from_millis(500));
            return Err(Error::host("aborted"));
        }
        ok(200, &[], b"quick")
    });
    assert_eq!(p.call("http", br#"{"url": "http://t.test/quick"}"#).unwrap(), b"quick");
    let left = seen.lock().unwrap()[0].timeout.unwrap();
    assert!(left > Duration::ZERO && left <= Duration::from_millis(300), "{left:?}");
    let r = p.call_with_context("http", br#"{"url": "http://t.test/slow"}"#, None);
    assert_eq!(r.error.unwrap().kind(), ErrorKind::Timeout);
}

#[test]
fn a_later_host_function_still_replaces_the_client() {
    let replaced = Function::new(
        "http_request",
        [extism_core::ValType::I64, extism_core::ValType::I64],
        [extism_core::ValType::I64],
        |p, _, out| {
            out[0] = extism_core::Val::I64(p.alloc_bytes(b"mine")? as i64);
            Ok(())
        },
    )
    .unwrap()
    .with_namespace(extism_core::ENV_MODULE);
    let manifest = format!(
        r#"{{"wasm": [{{"path": "{}"}}], "allowed_hosts": ["*"]}}"#,
        wat_path("http")
    );
    let mut p = PluginBuilder::new(manifest)
        .with_function(Function::http_client(|_| panic!("replaced")))
        .with_function(replaced)
        .build()
        .unwrap();
    assert_eq!(p.call("http", br#"{"url": "http://x.test/"}"#).unwrap(), b"mine");
}

#[test]
fn a_log_sink_level_can_change_while_the_plugin_lives() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let record = lines.clone();
    let sink = LogSink::new(Some(LogLevel::Error), move |level, text| {
        record.lock().unwrap().push((level, text.to_string()));
    });
    let keep = sink.clone();
    let mut p = PluginBuilder::new(wat("log"))
        .with_log_sink(Some(sink))
        .build()
        .unwrap();
    let level =
        |p: &mut extism_core::Plugin| i32::from_le_bytes(p.call("level", b"").unwrap()[..4].try_into().unwrap());
    assert_eq!(level(&mut p), LogLevel::Error as i32);
    p.call("log_all", b"one").unwrap();
    keep.set_level(Some(LogLevel::Warn));
    assert_eq!(keep.level(), Some(LogLevel::Warn));
    assert_eq!(level(&mut p), LogLevel::Warn as i32);
    p.call("log_all", b"two").unwrap();
    keep.set_level(None);
    assert_eq!(level(&mut p), LOG_OFF);
    p.call("log_all", b"three").unwrap();
    let got: Vec<(LogLevel, String)> = lines.lock().unwrap().clone();
    assert_eq!(
        got,
        [
            (LogLevel::Error, "one".to_string()),
            (LogLevel::Warn, "two".to_string()),
            (LogLevel::Error, "two".to_string())
        ]
    );
}

#[test]
fn the_var_limit_carries_its_numbers() {
    let manifest = format!(
        r#"{{"wasm": [{{"path": "{}"}}], "memory": {{"max_var_bytes": 100}}}}"#,
        wat_path("vars_config")
    );
    let mut p = PluginBuilder::new(manifest).build().unwrap();
    p.call("set_var", &[7u8; 40]).unwrap();
    let e = p.call_with_context("set_var", &[7u8; 60], None).error.unwrap();
    // The core's text is unchanged; the numbers are those it compared: 48
    // bytes of overhead, the key "big" and the value, for both vars.
    assert_eq!((e.kind(), e.message()), (ErrorKind::VarLimit, "Variable store is full"));
    assert_eq!(
        e.detail(),
        Some(&ErrorDetail::VarLimit {
            requested: 48 + 3 + 60 + 48 + 3 + 40,
            allowed: 100
        })
    );
}

#[test]
fn hash_mismatches_and_unresolved_imports_have_kinds_and_details() {
    let manifest = format!(
        r#"{{"wasm": [{{"path": "{}", "name": "lib", "hash": "{}"}}, {{"path": "{}"}}]}}"#,
        wat_path("lib"),
        "00".repeat(32),
        wat_path("uses_lib")
    );
    let e = PluginBuilder::new(manifest).build().err().unwrap();
    assert_eq!(e.kind(), ErrorKind::HashMismatch);
    assert!(e.message().starts_with("Hash mismatch, found "), "{e}");
    match e.detail() {
        Some(ErrorDetail::HashMismatch {
            module,
            expected,
            found,
        }) => {
            assert_eq!((module.as_str(), expected.len(), found.len()), ("lib", 64, 64));
            assert_eq!(*expected, "00".repeat(32));
        }
        other => panic!("{other:?}"),
    }
    let e = Error::unresolved_import(vec!["main".into(), "lhs".into()], "rhs", "add_one");
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::UnresolvedImport,
            "unknown import: `rhs::add_one` has not been defined"
        )
    );
    assert_eq!(
        e.detail(),
        Some(&ErrorDetail::UnresolvedImport {
            path: vec!["main".into(), "lhs".into()],
            module: "rhs".into(),
            name: "add_one".into(),
            host_module: false,
        })
    );
    assert_eq!(Error::host("x").detail(), None);
}
