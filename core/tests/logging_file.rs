//! The process-wide file logger (its own test binary: one logger per process).

mod common;
use common::*;

use extism_core::{log, PluginBuilder};

#[test]
fn log_file_with_a_filter_directive() {
    let path = std::env::temp_dir().join(format!("extism-log-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let e = log::log_to_file("/no/such/dir/log.txt", None).expect_err("an unopenable file is an error");
    assert_eq!(e.kind(), extism_core::ErrorKind::InvalidArgument);
    assert!(
        e.message()
            .starts_with("unable to open log file /no/such/dir/log.txt: "),
        "{e}"
    );
    log::log_to_file(path.to_str().unwrap(), Some("extism=warn,cranelift=debug")).unwrap();
    // cranelift=debug raises the global level to debug...
    assert_eq!(log::global_log_level(), 1);
    let mut p = PluginBuilder::new(wat("log")).build().unwrap();
    p.call("log_all", b"to the file").unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("extism::pdk")).collect();
    // ...but extism::pdk events still follow extism=warn.
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains(" WARN ") && lines[1].contains("ERROR"));
    assert!(
        lines.iter().all(|l| l.contains("to the file") && !l.contains('\u{1b}')),
        "no colours in files"
    );
    assert!(lines[0].contains(&format!("plugin=\"{}\"", p.id())), "{}", lines[0]);
    let _ = std::fs::remove_file(&path);
}
