//! Plugin creation from arbitrary bytes (wasm, WAT or manifest text).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Manifests naming files or URLs would make the run depend on the
    // machine; raw wasm and WAT are the interesting part here.
    if data.starts_with(b"\0asm") || data.first() == Some(&b'(') {
        if let Ok(mut plugin) = extism_core::PluginBuilder::new(data).build() {
            let _ = plugin.function_exists("run");
        }
    }
});
