//! Manifest classification and parsing of arbitrary bytes: an error or a
//! manifest, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(extism_core::source::Source::Manifest(m)) = extism_core::source::classify(data) {
        // Loading may touch the file system or network only through entries
        // the input names; keep it to data entries.
        if m.wasm.iter().all(|w| matches!(w, extism_core::Wasm::Data { .. })) {
            let _ = m.load_modules(extism_core::manifest::LoadOptions::default());
        }
    }
});
