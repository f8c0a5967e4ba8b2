//! The kernel driven with pseudo-random offsets and lengths (the same driver
//! the `kernel` fuzz target uses): whatever a plugin does with handles, the
//! call finishes, the output and error are readable, and the plugin stays usable.

mod common;
use common::*;

use extism_core::PluginBuilder;

/// xorshift64*: deterministic, so a failure is reproducible from its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Mostly interesting values: small, near block starts, near 2^32 and 2^64.
    fn value(&mut self) -> u64 {
        match self.next() % 6 {
            0 => self.next() % 64,
            1 => self.next() % 70_000,
            2 => (1u64 << 32) - (self.next() % 16),
            3 => u64::MAX - (self.next() % 16),
            4 => self.next() % (1 << 24),
            _ => self.next(),
        }
    }
}

#[test]
fn random_kernel_programs_never_break_the_plugin() {
    let compiled = PluginBuilder::new(wat("kernel_driver")).compile().unwrap();
    let mut echo_check = PluginBuilder::new(wat("echo")).build().unwrap();
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut program = Vec::new();
        for _ in 0..(rng.next() % 200) {
            program.push((rng.next() % 13) as u8);
            program.extend_from_slice(&rng.value().to_le_bytes());
            program.extend_from_slice(&rng.value().to_le_bytes());
        }
        let mut p = compiled.instantiate().unwrap();
        for _ in 0..2 {
            let r = p.call_with_context("run", &program, None);
            assert!(r.rc == 0, "seed {seed}: rc {} {:?}", r.rc, r.error);
            let _ = p.output().len();
        }
        // The same plugin still does ordinary work afterwards.
        let again = p.call_with_context("run", b"", None);
        assert_eq!((again.rc, again.error.is_none()), (0, true), "seed {seed}");
        assert!(p.output().is_empty());
    }
    assert_eq!(echo_check.call("echo", b"unaffected").unwrap(), b"unaffected");
}
