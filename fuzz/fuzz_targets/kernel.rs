//! The kernel imports driven with arbitrary offsets and lengths through
//! tests/fixtures/wat/kernel_driver.wat: every call ends, and the output and
//! error stay readable.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn compiled() -> &'static extism_core::CompiledPlugin {
    static COMPILED: OnceLock<extism_core::CompiledPlugin> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let wat = include_str!("../../tests/fixtures/wat/kernel_driver.wat");
        extism_core::PluginBuilder::new(wat).compile().expect("the driver compiles")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut plugin = compiled().instantiate().expect("instantiate");
    let result = plugin.call_with_context("run", data, None);
    assert_eq!(result.rc, 0, "{:?}", result.error);
    let _ = plugin.output().to_vec();
    let again = plugin.call_with_context("run", b"", None);
    assert!(again.rc == 0 && again.error.is_none());
});
