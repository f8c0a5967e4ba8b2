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
