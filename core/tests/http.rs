//! HTTP from plugins (docs/abi.md, HTTP) against a server on 127.0.0.1 started here.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use extism_core::{PluginBuilder, RC_ERROR};

/// A tiny HTTP/1.1 server: /hello, /big (2000 bytes), /missing (404),
/// /redirect-out (to localhost, a different host name), /redirect-in (to
/// /hello), /echo (returns the request body), /many-headers (150 headers),
/// /long-header (one of 200 KiB). Serves until the test ends.
fn serve() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, extra, payload): (&str, String, Vec<u8>) = match path.as_str() {
                "/hello" => ("200 OK", "X-Test: one\r\nX-Test: two\r\n".into(), b"hello".to_vec()),
                "/big" => ("200 OK", String::new(), vec![b'x'; 2000]),
                "/missing" => ("404 Not Found", String::new(), b"nope".to_vec()),
                "/empty" => ("204 No Content", String::new(), Vec::new()),
                "/redirect-out" => (
                    "302 Found",
                    format!("Location: http://localhost:{port}/hello\r\n"),
                    Vec::new(),
                ),
                "/redirect-in" => ("302 Found", "Location: /hello\r\n".into(), Vec::new()),
                "/echo" => ("200 OK", String::new(), body),
                "/many-headers" => (
                    "200 OK",
                    (0..150).map(|i| format!("X-H{i}: {i}\r\n")).collect(),
                    b"hello".to_vec(),
                ),
                "/long-header" => (
                    "200 OK",
                    format!("X-Long: {}\r\n", "v".repeat(200 * 1024)),
                    b"hello".to_vec(),
                ),
                _ => ("500 Internal Server Error", String::new(), Vec::new()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                payload.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&payload);
        }
    });
    port
}

fn plugin(extra: &str) -> extism_core::Plugin {
    PluginBuilder::new(format!(r#"{{"wasm": [{{"path": "{}"}}]{extra}}}"#, wat_path("http")))
        .build()
        .unwrap()
}

fn request(port: u16, path: &str) -> String {
    format!(r#"{{"url": "http://127.0.0.1:{port}{path}"}}"#)
}

fn status(p: &mut extism_core::Plugin) -> u32 {
    u32::from_le_bytes(p.call("status", b"").unwrap().try_into().unwrap())
}

#[test]
fn allowed_requests_and_status() {
    let port = serve();
    let mut p = plugin(r#", "allowed_hosts": ["127.0.0.*"]"#);
    assert_eq!(status(&mut p), 0);
    assert_eq!(p.call("http", request(port, "/hello").as_bytes()).unwrap(), b"hello");
    assert_eq!(status(&mut p), 200);
    assert_eq!(p.call("http", request(port, "/missing").as_bytes()).unwrap(), b"nope");
    assert_eq!(status(&mut p), 404);
    assert_eq!(p.call("http", request(port, "/empty").as_bytes()).unwrap(), b"");
    assert_eq!(status(&mut p), 204);
    assert_eq!(p.call("http_post", request(port, "/echo").as_bytes()).unwrap(), b"ping");
    let with_method = format!(r#"{{"url": "http://127.0.0.1:{port}/echo", "method": "put", "headers": {{"a": "b"}}}}"#);
    assert_eq!(p.call("http_post", with_method.as_bytes()).unwrap(), b"ping");
    // Redirects within allowed hosts are followed.
    assert_eq!(
        p.call("http", request(port, "/redirect-in").as_bytes()).unwrap(),
        b"hello"
    );
}

#[test]
fn refused_hosts_and_redirects() {
    let port = serve();
    let mut none = plugin("");
    let r = none.call_with_context("http", request(port, "/hello").as_bytes(), None);
    assert_eq!(r.rc, RC_ERROR);
    assert_eq!(
        r.error.unwrap().message(),
        format!("HTTP request to http://127.0.0.1:{port}/hello is not allowed")
    );
    let mut p = plugin(r#", "allowed_hosts": ["127.0.0.1"]"#);
    let r = p.call_with_context("http", request(port, "/redirect-out").as_bytes(), None);
    assert_eq!(
        r.error.unwrap().message(),
        format!("HTTP request to http://localhost:{port}/hello is not allowed")
    );
    let r = p.call_with_context("http", br#"{"url": "http://127.0.0.1:1/x", "body": "no"}"#, None);
    assert!(r.error.unwrap().message().starts_with("invalid http request"));
    let r = p.call_with_context("http", b"{\"url\": \"not a url\"}", None);
    assert!(r.error.unwrap().message().starts_with("Invalid URL"));
    // Connection refused: a clean error, status stays 0.
    let r = p.call_with_context("http", br#"{"url": "http://127.0.0.1:1/x"}"#, None);
    assert_eq!(r.rc, RC_ERROR);
    assert_eq!(status(&mut p), 0);
}

#[test]
fn response_size_limit() {
    let port = serve();
    let mut p = plugin(r#", "allowed_hosts": ["*"], "memory": {"max_http_response_bytes": 1999}"#);
    let r = p.call_with_context("http", request(port, "/big").as_bytes(), None);
    assert_eq!(
        r.error.unwrap().message(),
        "HTTP response exceeds the configured maximum number of bytes: 1999"
    );
    let mut exact = plugin(r#", "allowed_hosts": ["*"], "memory": {"max_http_response_bytes": 2000}"#);
    assert_eq!(
        exact.call("http", request(port, "/big").as_bytes()).unwrap().len(),
        2000
    );
}

/// A hostile server cannot make the host hold more than 100 response headers
/// of at most 100 KiB each (the runtime's client refuses the response).
#[test]
fn hostile_response_headers_are_refused() {
    let port = serve();
    let mut p = plugin(r#", "allowed_hosts": ["127.0.0.1"]"#);
    p.allow_http_response_headers();
    for (path, refusal) in [
        ("/many-headers", "more than 100 header fields in response"),
        ("/long-header", "header field longer than 102400 bytes"),
    ] {
        let r = p.call_with_context("http", request(port, path).as_bytes(), None);
        let e = r.error.unwrap();
        assert_eq!(e.kind(), extism_core::ErrorKind::HostFunction, "{path}");
        assert!(e.message().contains(refusal), "{path}: {}", e.message());
        assert_eq!(p.call("http", request(port, "/hello").as_bytes()).unwrap(), b"hello");
    }
}

#[test]
fn response_headers_when_enabled() {
    let port = serve();
    let mut p = plugin(r#", "allowed_hosts": ["127.0.0.1"]"#);
    p.call("http", request(port, "/hello").as_bytes()).unwrap();
    assert_eq!(p.call("headers", b"").unwrap(), b"");
    p.allow_http_response_headers();
    assert_eq!(p.call("headers", b"").unwrap(), b"{}");
    p.call("http", request(port, "/hello").as_bytes()).unwrap();
    let headers: serde_json::Value = serde_json::from_slice(p.call("headers", b"").unwrap()).unwrap();
    assert_eq!(headers["x-test"], "two");
    assert_eq!(headers["content-length"], "5");
}

#[test]
fn manifest_urls_are_fetched_and_hashed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let wasm = wat("count_vowels");
    let served = wasm.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(3) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let found = String::from_utf8_lossy(&buf[..n]).starts_with("GET /plugin.wat");
            let (status, body) = if found {
                ("200 OK", served.clone())
            } else {
                ("404 Not Found", Vec::new())
            };
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            let _ = stream.write_all(&body);
        }
    });
    use sha2_hex::hex_sha256;
    let hash = hex_sha256(&wasm);
    let manifest = format!(r#"{{"wasm": [{{"url": "http://127.0.0.1:{port}/plugin.wat", "hash": "{hash}"}}]}}"#);
    let mut p = PluginBuilder::new(manifest).build().unwrap();
    assert_eq!(p.call("count_vowels", b"aaa").unwrap(), br#"{"count":3}"#);
    let missing = format!(r#"{{"wasm": [{{"url": "http://127.0.0.1:{port}/nothing"}}]}}"#);
    let e = PluginBuilder::new(missing).build().err().unwrap();
    assert_eq!(e.message(), "http status: 404");
}

mod sha2_hex {
    pub fn hex_sha256(bytes: &[u8]) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
    }
}
