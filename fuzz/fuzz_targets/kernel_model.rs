//! The differential kernel fuzzer: arbitrary op lists run through
//! tests/fixtures/wat/kernel_ops.wat against the executable model of
//! docs/abi.md's handle rules in core/tests/model (the same check as
//! core/tests/kernel_model.rs). Any disagreement about live handles,
//! lengths, loaded bytes, built-in results and failures, output or error
//! is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/tests/model/mod.rs"]
mod model;

fuzz_target!(|data: &[u8]| {
    // Bound the run time of one input (8-byte records).
    let program = &data[..data.len().min(8 * 1024)];
    if let Err(e) = model::check_program(model::compiled(), program) {
        panic!("the kernel disagrees with the model: {e}");
    }
});
