//! The `extism` command against the shared fixtures.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> String {
    repo()
        .join("tests/fixtures/wat")
        .join(format!("{name}.wat"))
        .display()
        .to_string()
}

fn extism(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_extism"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or_default())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn call_with_input_from_argument_file_and_stdin() {
    let cv = fixture("count_vowels");
    let out = extism(&["call", &cv, "count_vowels", "--input", "Hello, World!"], None);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), r#"{"count":3}"#);
    let out = extism(&["call", &cv, "count_vowels", "--input-file", "-"], Some(b"aeiou"));
    assert_eq!(text(&out.stdout), r#"{"count":5}"#);
    let file = std::env::temp_dir().join(format!("extism-cli-{}.txt", std::process::id()));
    std::fs::write(&file, "ooo").unwrap();
    let out = extism(
        &["call", &cv, "count_vowels", "--input-file", file.to_str().unwrap()],
        None,
    );
    assert_eq!(text(&out.stdout), r#"{"count":3}"#);
    std::fs::remove_file(file).unwrap();
}

#[test]
fn failures_exit_non_zero_with_the_error_on_stderr() {
    let out = extism(&["call", &fixture("errors"), "fail"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr).trim(), "extism: this is an error");
    let out = extism(&["call", &fixture("errors"), "return_7"], None);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(text(&out.stderr).trim(), "extism: Error code: 7");
    let out = extism(&["call", &fixture("wasi"), "exit_3", "--wasi"], None);
    assert_eq!(out.status.code(), Some(3));
    let out = extism(&["call", &fixture("limits"), "infinite_loop", "--timeout", "50"], None);
    assert_eq!(
        (out.status.code(), text(&out.stderr).trim().to_string()),
        (Some(134), "extism: timeout".into())
    );
    let out = extism(&["call", &fixture("limits"), "infinite_loop", "--fuel", "1000"], None);
    assert_eq!(text(&out.stderr).trim(), "extism: plugin ran out of fuel");
    let out = extism(&["call", &fixture("limits"), "grow_forever", "--memory-max", "4"], None);
    assert_eq!(text(&out.stderr).trim(), "extism: oom");
    let out = extism(&["call", &fixture("echo"), "nope"], None);
    assert_eq!(text(&out.stderr).trim(), "extism: Function not found: nope");
    let out = extism(&["call", "/no/such/plugin.wasm", "x"], None);
    assert!(!out.status.success());
}

#[test]
fn options_reach_the_plugin() {
    let out = extism(
        &[
            "call",
            &fixture("vars_config"),
            "config",
            "--config",
            "greeting=hi",
            "-i",
            "greeting",
        ],
        None,
    );
    assert_eq!(text(&out.stdout), "hi");
    let out = extism(&["call", &fixture("vars_config"), "counter", "--var-max", "0"], None);
    assert_eq!(text(&out.stderr).trim(), "extism: Vars are disabled by this host");
    let dir = std::env::temp_dir();
    let path = format!("{}:/data", dir.display());
    let out = extism(
        &["call", &fixture("wasi"), "preopen", "--wasi", "--allow-path", &path],
        None,
    );
    assert_eq!(text(&out.stdout), "/data");
    let out = extism(
        &[
            "call",
            &fixture("http"),
            "http",
            "-i",
            r#"{"url": "http://127.0.0.1:1/"}"#,
        ],
        None,
    );
    assert!(text(&out.stderr).contains("is not allowed"));
    let out = extism(
        &[
            "call",
            &fixture("log"),
            "log_all",
            "-i",
            "logged-line",
            "--log-level",
            "info",
        ],
        None,
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("logged-line") && !stderr.contains("DEBUG"), "{stderr}");
}

#[test]
fn a_manifest_file_with_overrides() {
    let manifest = std::env::temp_dir().join(format!("extism-cli-{}.json", std::process::id()));
    std::fs::write(
        &manifest,
        format!(
            r#"{{"wasm": [{{"path": "{}"}}], "config": {{"greeting": "from manifest"}}}}"#,
            fixture("vars_config")
        ),
    )
    .unwrap();
    let m = manifest.to_str().unwrap();
    let out = extism(&["call", m, "config", "-i", "greeting"], None);
    assert_eq!(text(&out.stdout), "from manifest");
    let out = extism(
        &["call", m, "config", "-i", "greeting", "--config", "greeting=override"],
        None,
    );
    assert_eq!(text(&out.stdout), "override");
    std::fs::remove_file(manifest).unwrap();
}

#[test]
fn info_lists_imports_and_exports() {
    let out = extism(&["info", &fixture("host")], None);
    let listing = text(&out.stdout);
    assert!(listing.starts_with("module main\n"));
    assert!(listing.contains("  import extism:host/user::hello_world (func (param i64) (result i64))"));
    assert!(listing.contains("  export call_host (func (result i32))"));
    let help = extism(&["--help"], None);
    assert!(text(&help.stdout).contains("call") && text(&help.stdout).contains("info"));
}

/// A temporary file of this test process, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("extism-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A failure reported the way the issue asks: a non-zero exit and exactly
/// one line on stderr, no panic. Returns that line.
fn one_line_error(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "expected a failure, stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr:?}");
    assert!(stderr.starts_with("extism: ") && stderr.ends_with('\n'), "{stderr:?}");
    stderr.trim_end().to_string()
}

#[test]
fn stdin_flag_reads_the_input() {
    let cv = fixture("count_vowels");
    let out = extism(&["call", &cv, "count_vowels", "--stdin"], Some(b"aeiou, ae"));
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), r#"{"count":7}"#);
    let out = extism(&["call", &cv, "count_vowels", "--stdin", "-i", "x"], Some(b"a"));
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("'--stdin' cannot be used with '--input <INPUT>'"));
    let out = extism(&["call", &cv, "count_vowels", "--stdin", "--input-file", "-"], None);
    one_line_error(&out);
}

#[test]
fn loop_calls_n_times_on_one_instance_and_prints_each_output() {
    let out = extism(
        &[
            "call",
            &fixture("count_vowels"),
            "count_vowels",
            "-i",
            "aaa",
            "--loop",
            "3",
        ],
        None,
    );
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "{\"count\":3}\n".repeat(3));
    // The vars survive from call to call: the counter counts 1, 2, 3.
    let out = extism(&["call", &fixture("vars_config"), "counter", "--loop", "3"], None);
    let mut expected = Vec::new();
    for n in 1u64..=3 {
        expected.extend_from_slice(&n.to_le_bytes());
        expected.push(b'\n');
    }
    assert_eq!(out.stdout, expected);
    // --loop 1 is the plain call: no newline in a pipe.
    let out = extism(&["call", &fixture("echo"), "echo", "-i", "x", "--loop", "1"], None);
    assert_eq!(text(&out.stdout), "x");
    // The first failure ends the loop with its error and exit code.
    let out = extism(&["call", &fixture("errors"), "return_7", "--loop", "5"], None);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(one_line_error(&out), "extism: Error code: 7");
    assert_eq!(text(&out.stdout), "\n");
    for (bad, says) in [
        ("0", "--loop <N>"),
        ("x", "--loop <N>"),
        ("", "--loop <N>"),
        ("-1", "'-1'"),
    ] {
        let out = extism(&["call", &fixture("echo"), "echo", "--loop", bad], None);
        assert_eq!(out.status.code(), Some(2), "--loop {bad}");
        assert!(one_line_error(&out).contains(says), "--loop {bad}");
    }
}

#[test]
fn set_config_and_config_keys_without_a_value() {
    let vc = fixture("vars_config");
    let get = |key: &str, extra: &[&str]| {
        let mut args = vec!["call", vc.as_str(), "config", "-i", key];
        args.extend_from_slice(extra);
        let out = extism(&args, None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    // `--config KEY` sets KEY to the empty value; config_get then returns an
    // empty block, so the output is empty (as for a missing key).
    assert_eq!(get("k", &["--config", "k"]), "");
    assert_eq!(get("k", &["--config", "k", "--config", "k=later"]), "later");
    assert_eq!(get("k", &["--config", "k=v=w"]), "v=w");
    let json = r#"{"k": "from json", "j": "other"}"#;
    assert_eq!(get("k", &["--set-config", json]), "from json");
    assert_eq!(get("j", &["--set-config", json]), "other");
    // --config wins over --set-config, whatever the order on the line.
    assert_eq!(get("k", &["--config", "k=flag", "--set-config", json]), "flag");
    assert_eq!(get("j", &["--config", "k=flag", "--set-config", json]), "other");
    // Both override the manifest's config; its other keys stay.
    let manifest = TempFile::new(
        "config.json",
        &format!(r#"{{"wasm": [{{"path": "{vc}"}}], "config": {{"k": "manifest", "m": "kept"}}}}"#),
    );
    let m = manifest.path();
    let out = extism(&["call", m, "config", "-i", "k", "--set-config", json], None);
    assert_eq!(text(&out.stdout), "from json");
    let out = extism(&["call", m, "config", "-i", "m", "--set-config", json], None);
    assert_eq!(text(&out.stdout), "kept");
    // A bare KEY really is the empty value: it replaces the manifest's.
    let out = extism(&["call", m, "config", "-i", "k"], None);
    assert_eq!(text(&out.stdout), "manifest");
    let out = extism(&["call", m, "config", "-i", "k", "--config", "k"], None);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "");
    for bad in [r#"{"k": 1}"#, "[1]", "{", "null"] {
        let out = extism(&["call", &vc, "config", "-i", "k", "--set-config", bad], None);
        assert!(
            one_line_error(&out).starts_with("extism: --set-config: expected a JSON object of strings"),
            "{bad}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn manifest_flag_insists_on_a_manifest_and_detection_stays() {
    let vc = fixture("vars_config");
    let json = TempFile::new(
        "m.json",
        &format!(r#"{{"wasm": [{{"path": "{vc}"}}], "config": {{"g": "json"}}}}"#),
    );
    let toml = TempFile::new(
        "m.toml",
        &format!("wasm = [{{ path = \"{vc}\" }}]\n[config]\ng = \"toml\"\n"),
    );
    for (file, expected) in [(&json, "json"), (&toml, "toml")] {
        for flag in ["-m", "--manifest"] {
            let out = extism(&["call", file.path(), "config", "-i", "g", flag], None);
            assert_eq!(text(&out.stdout), expected, "{flag}");
        }
        // Without the flag the content still tells.
        let out = extism(&["call", file.path(), "config", "-i", "g"], None);
        assert_eq!(text(&out.stdout), expected);
    }
    let out = extism(&["call", &vc, "config", "-m"], None);
    assert_eq!(
        one_line_error(&out),
        format!("extism: {vc}: not a manifest: Unknown manifest format")
    );
    let out = extism(&["call", "/no/such/manifest.json", "config", "-m"], None);
    assert!(one_line_error(&out).starts_with("extism: /no/such/manifest.json: "));
}

#[test]
fn link_adds_named_modules() {
    let uses = fixture("uses_lib");
    let lib = fixture("lib");
    // uses_lib imports lib::seven and returns its 7 as the return code.
    let out = extism(&["call", &uses, "run"], None);
    assert!(one_line_error(&out).contains("lib::seven"));
    let named = format!("lib={lib}");
    for spec in [named.as_str(), lib.as_str()] {
        let out = extism(&["call", &uses, "run", "--link", spec], None);
        assert_eq!(out.status.code(), Some(7), "{spec}: {}", text(&out.stderr));
        assert_eq!(one_line_error(&out), "extism: Error code: 7");
    }
    // With a manifest the links come first and PLUGIN's module stays main.
    let manifest = TempFile::new("uses.json", &format!(r#"{{"wasm": [{{"path": "{uses}"}}]}}"#));
    let out = extism(&["call", manifest.path(), "run", "-m", "--link", &named], None);
    assert_eq!(out.status.code(), Some(7));
    // Under another name the import is still missing.
    let out = extism(&["call", &uses, "run", "--link", &format!("other={lib}")], None);
    assert!(one_line_error(&out).contains("lib::seven"));
    let out = extism(&["call", &uses, "run", "--link", "lib=/no/such/lib.wasm"], None);
    assert_eq!(
        one_line_error(&out),
        "extism: --link lib=/no/such/lib.wasm: No such file or directory (os error 2)"
    );
    let dir = std::env::temp_dir().display().to_string();
    let out = extism(&["call", &uses, "run", "--link", &format!("lib={dir}")], None);
    assert!(one_line_error(&out).starts_with(&format!("extism: --link lib={dir}: ")));
    for bad in ["=x", "lib=", ""] {
        let out = extism(&["call", &uses, "run", "--link", bad], None);
        assert_eq!(
            one_line_error(&out),
            format!("extism: --link {bad}: expected NAME=PATH")
        );
    }
    let out = extism(&["call", &uses, "run", "--link", &format!("main={lib}")], None);
    assert!(one_line_error(&out).contains("Duplicate module name"));
}

#[test]
fn http_response_headers_are_recorded_when_enabled() {
    // `headers` outputs the http_headers() block: none when recording is
    // off, an empty JSON object before any request when it is on. The
    // headers of real responses are covered by core/tests/http.rs.
    let out = extism(&["call", &fixture("http"), "headers"], None);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "");
    let out = extism(
        &["call", &fixture("http"), "headers", "--enable-http-response-headers"],
        None,
    );
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "{}");
}

/// An HTTP server on 127.0.0.1 serving the WAT fixtures at /NAME.wat (404
/// for anything else); returns its port and the number of requests so far.
fn serve_fixtures() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let file = path
                .strip_prefix('/')
                .and_then(|p| p.strip_suffix(".wat"))
                .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .and_then(|name| std::fs::read(fixture(name)).ok());
            let (status, body) = match file {
                Some(bytes) => ("200 OK", bytes),
                None => ("404 Not Found", b"nope".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (port, count)
}

#[test]
fn a_plugin_and_links_from_urls() {
    let (port, requests) = serve_fixtures();
    let base = format!("http://127.0.0.1:{port}");
    let cv = format!("{base}/count_vowels.wat");
    let out = extism(&["call", &cv, "count_vowels", "-i", "aei"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), r#"{"count":3}"#);
    let out = extism(
        &["call", &cv, "count_vowels", "-i", "a", "--allow-host", "127.0.0.*"],
        None,
    );
    assert_eq!(text(&out.stdout), r#"{"count":1}"#);
    let out = extism(&["info", &cv], None);
    assert!(text(&out.stdout).contains("export count_vowels"));
    let lib = format!("{base}/lib.wat");
    for spec in [format!("lib={lib}"), lib.clone()] {
        let out = extism(&["call", &fixture("uses_lib"), "run", "--link", &spec], None);
        assert_eq!(out.status.code(), Some(7), "{spec}: {}", text(&out.stderr));
    }
    let before = requests.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(before, 5);

    // Hosts outside --allow-host are refused before any connection.
    let out = extism(&["call", &cv, "count_vowels", "--allow-host", "example.com"], None);
    assert_eq!(
        one_line_error(&out),
        format!("extism: {cv}: host 127.0.0.1 is not allowed (see --allow-host)")
    );
    let out = extism(
        &[
            "call",
            &fixture("uses_lib"),
            "run",
            "--link",
            &format!("lib={lib}"),
            "--allow-host",
            "*.example.com",
        ],
        None,
    );
    assert!(one_line_error(&out).starts_with(&format!("extism: --link lib={lib}: host 127.0.0.1 is not allowed")));
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), before);

    let out = extism(&["call", &format!("{base}/missing.wasm"), "f"], None);
    assert_eq!(
        one_line_error(&out),
        format!("extism: {base}/missing.wasm: http status: 404")
    );
    // A closed port: the connection is refused, quickly and clearly.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{closed}/plugin.wasm");
    let out = extism(&["call", &url, "f"], None);
    let line = one_line_error(&out);
    assert!(line.starts_with(&format!("extism: {url}: ")), "{line}");
    assert!(line.contains("Connection refused"), "{line}");
}

#[test]
fn verbose_describes_the_steps_and_quiet_silences_them() {
    let cv = fixture("count_vowels");
    for args in [
        vec!["-v", "call", &cv, "count_vowels", "-i", "ab"],
        vec!["call", &cv, "count_vowels", "-i", "ab", "--verbose"],
    ] {
        let out = extism(&args, None);
        assert!(out.status.success());
        assert_eq!(text(&out.stdout), r#"{"count":1}"#);
        let stderr = text(&out.stderr);
        assert!(stderr.contains(&format!("extism: reading {cv}\n")), "{stderr}");
        assert!(stderr.contains("extism: input: 2 bytes\n"), "{stderr}");
        assert!(stderr.contains("extism: calling count_vowels (1/1)\n"), "{stderr}");
        assert!(stderr.contains("extism: returned 11 bytes, rc 0, in "), "{stderr}");
    }
    for args in [
        vec!["call", &cv, "count_vowels", "-i", "ab"],
        vec!["-q", "call", &cv, "count_vowels", "-i", "ab"],
        vec!["-v", "call", &cv, "count_vowels", "-i", "ab", "-q"],
        vec!["call", &cv, "count_vowels", "-i", "ab", "--verbose", "--quiet"],
    ] {
        let out = extism(&args, None);
        assert_eq!(text(&out.stdout), r#"{"count":1}"#, "{args:?}");
        assert_eq!(text(&out.stderr), "", "{args:?}");
    }
    // -q keeps errors: a script still learns why it failed.
    let out = extism(&["-q", "call", &fixture("errors"), "fail"], None);
    assert_eq!(one_line_error(&out), "extism: this is an error");
}

#[test]
fn a_newline_follows_the_output_on_a_terminal_only() {
    let cv = fixture("count_vowels");
    // A pipe: the output exactly as the plugin set it.
    let out = extism(&["call", &cv, "count_vowels", "-i", "aa"], None);
    assert_eq!(text(&out.stdout), r#"{"count":2}"#);
    let out = extism(&["call", &fixture("echo"), "noop"], None);
    assert_eq!(out.stdout, b"");
    // A terminal, through util-linux `script` (a pseudo-terminal; its
    // line discipline turns "\n" into "\r\n").
    let script = |command: String| {
        Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .stdin(Stdio::null())
            .output()
    };
    let bin = env!("CARGO_BIN_EXE_extism");
    let Ok(out) = script(format!("'{bin}' call '{cv}' count_vowels -i aa")) else {
        eprintln!("`script` is not installed: the terminal case is not tested");
        return;
    };
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "{\"count\":2}\r\n");
    // No output, no newline; --loop prints one newline per output.
    let out = script(format!("'{bin}' call '{}' noop", fixture("echo"))).unwrap();
    assert_eq!(text(&out.stdout), "");
    let out = script(format!("'{bin}' call '{cv}' count_vowels -i a --loop 2")).unwrap();
    assert_eq!(text(&out.stdout), "{\"count\":1}\r\n{\"count\":1}\r\n");
}

#[test]
fn wasi_shows_the_plugins_own_output() {
    let wasi = fixture("wasi");
    let out = extism(&["call", &wasi, "hello", "--wasi"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\nok");
    let out = extism(&["call", &wasi, "complain", "--wasi"], None);
    assert_eq!((text(&out.stdout), text(&out.stderr)), ("ok".into(), "oops\n".into()));
    // EXTISM_ENABLE_WASI_OUTPUT is not needed, and does not double anything.
    let with_env = Command::new(env!("CARGO_BIN_EXE_extism"))
        .args(["call", &wasi, "hello", "--wasi"])
        .env("EXTISM_ENABLE_WASI_OUTPUT", "1")
        .output()
        .unwrap();
    assert_eq!(text(&with_env.stdout), "hello\nok");
}
