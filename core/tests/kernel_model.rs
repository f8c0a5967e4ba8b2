//! The kernel and the built-ins against the executable model of docs/abi.md's
//! handle rules (core/tests/model): seeded random programs of kernel
//! operations, and the PDK habits the allocator must survive. The same check
//! runs under the fuzzer as target `kernel_model`.

mod model;

use model::op::*;
use model::{check_program, compiled};

/// xorshift64*: deterministic, so a failure is reproducible from its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A program biased towards what goes wrong: few slots (so frees hit live
/// blocks, freed blocks and blocks the host took), sizes that fill the first
/// page and make memory grow, offsets near block edges.
fn program(rng: &mut Rng) -> Vec<u8> {
    let slots = 1 + rng.below(6) as u8;
    let mut p = Vec::new();
    for _ in 0..rng.below(160) {
        let slot = rng.below(slots as u64) as u8;
        let x = match rng.below(4) {
            0 => rng.below(16),
            1 => rng.below(300),
            2 => rng.below(5000),
            _ => rng.below(65536),
        } as u16;
        // Operand: mostly a slot; sometimes an offset into it or a raw address.
        let (mode, y) = match rng.below(8) {
            0 => (PLUS_Y, rng.below(24) as u32),
            1 => (PLUS_SIGNED_Y, (rng.below(33) as i32 - 16) as u32),
            2 => (RAW | PLUS_Y, rng.below(70_000) as u32),
            3 => (RAW | PLUS_SIGNED_Y, rng.next() as u32),
            _ => (0, 0),
        };
        let pdk = if rng.below(2) == 0 { PDK_FREE } else { 0 };
        let rec = match rng.below(40) {
            0..=7 => record(ALLOC, slot | if rng.below(8) == 0 { PLUS_SIGNED_Y } else { 0 }, x, 0),
            8..=12 => record(FREE, slot | mode, 0, y),
            13..=14 => record(LENGTH, slot | mode, 0, y),
            15 => record(LENGTH_UNSAFE, slot | mode, 0, y),
            16..=17 => record(LOAD_U8, slot | mode, 0, y),
            18 => record(LOAD_U64, slot | mode, 0, y),
            19 => record(STORE_U8, slot | mode, x, y),
            20 => record(STORE_U64, slot | mode, x, y),
            21..=22 => record(FILL, slot, x, 0),
            23..=24 => record(CHECK, 0, 0, 0),
            25 => record(
                INPUT,
                rng.below(4) as u8 | (mode & PLUS_SIGNED_Y),
                0,
                rng.below(200) as u32,
            ),
            26 => record(OUTPUT_SET, slot | mode, rng.below(64) as u16, y),
            27 => record(OUTPUT_GET, 0, 0, 0),
            28 => record(ERROR_SET, slot | mode, 0, y),
            29 => record(ERROR_GET, 0, 0, 0),
            30..=32 => record(MKKEY, slot, rng.below(7) as u16, 0),
            33..=36 => {
                // A built-in, as a PDK calls it: a fresh key block (and value
                // block) first; key 5 is not UTF-8. One in 80 takes whatever
                // the operands hold, which usually ends the call with an
                // invalid handle.
                let get = [CONFIG_GET, VAR_GET, VAR_SET, VAR_SET][rng.below(4) as usize];
                let out = rng.below(slots as u64) as u16;
                let free_value = if get == VAR_SET && rng.below(4) == 0 { 0x100 } else { 0 };
                if rng.below(80) == 0 {
                    record(get, slot | pdk | (mode & !RAW), out | free_value, y)
                } else {
                    let key = if rng.below(150) == 0 {
                        5
                    } else {
                        [0, 1, 2, 3, 4, 6][rng.below(6) as usize]
                    };
                    p.extend_from_slice(&record(MKKEY, slot, key, 0));
                    if get == VAR_SET && free_value == 0 && out as u8 != slot {
                        p.extend_from_slice(&record(ALLOC, out as u8, rng.below(200) as u16, 0));
                        p.extend_from_slice(&record(FILL, out as u8, x, 0));
                    }
                    record(get, slot | pdk, out | free_value, 0)
                }
            }
            37 => record(MEMORY_BYTES, 0, 0, 0),
            38 if rng.below(4) == 0 => record(RESET, 0, 0, 0),
            _ => record(CHECK, 0, 0, 0),
        };
        p.extend_from_slice(&rec);
    }
    p
}

#[test]
fn seeded_programs_agree_with_the_model() {
    let compiled = compiled();
    let (mut traces, mut failed) = (0, 0);
    for seed in 1..=400u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let p = program(&mut rng);
        // KM_DUMP=DIR writes the programs out (a seed corpus for the fuzz target).
        if let Some(dir) = std::env::var_os("KM_DUMP") {
            std::fs::write(std::path::Path::new(&dir).join(format!("seed-{seed}")), &p).unwrap();
        }
        match check_program(compiled, &p) {
            Ok(o) => {
                (traces, failed) = (traces + o.traces, failed + o.failed_calls);
                if std::env::var_os("KM_DEBUG").is_some() {
                    eprintln!("{:?}", o.failure.map(|t| t.chars().take(30).collect::<String>()));
                }
            }
            Err(e) => panic!("seed {seed}: {e}\nprogram: {p:02x?}"),
        }
    }
    // The programs mostly run to their end: the checks are not vacuous.
    eprintln!("{traces} traces, {failed} of 800 calls ended by a failing built-in");
    assert!(
        traces > 20_000 && failed < 400,
        "{traces} traces, {failed} failed calls"
    );
}

fn run(records: &[[u8; 8]]) -> Result<(), String> {
    check_program(compiled(), &records.concat()).map(|_| ())
}

/// config_get and var_get take the key; a PDK that frees it again must not
/// free the value they returned (the bug fixed in 86c79c1: the value landed
/// on the just-freed key, and the second free destroyed it).
#[test]
fn a_second_free_of_a_taken_key_frees_nothing_live() {
    let after = [
        record(CHECK, 0, 0, 0),
        record(LENGTH, 3, 0, 0),
        record(LOAD_U64, 3, 0, 0),
        record(ALLOC, 4, 16, 0),
        record(FILL, 4, 100, 0),
        record(CHECK, 0, 0, 0),
        record(OUTPUT_SET, 3, 11, 0),
    ];
    // config_get("bb") with the key as the last block, then a second free of the key.
    let mut config = vec![record(MKKEY, 1, 1, 0), record(CONFIG_GET, 1 | PDK_FREE, 3, 0)];
    config.extend(after);
    assert_eq!(run(&config), Ok(()));
    // The same through var_get, after a var_set (which takes both of its blocks).
    let mut var = vec![
        record(MKKEY, 1, 1, 0),
        record(ALLOC, 2, 40, 0),
        record(FILL, 2, 7, 0),
        record(VAR_SET, 1, 2, 0),
        record(MKKEY, 1, 1, 0),
        record(VAR_GET, 1 | PDK_FREE, 3, 0),
    ];
    var.extend(after);
    assert_eq!(run(&var), Ok(()));
}

/// free is a no-op for freed blocks, interior addresses and non-handles, and
/// a block freed while memory has room is not handed out again.
#[test]
fn double_frees_and_invalid_frees_change_nothing() {
    let r = run(&[
        record(ALLOC, 1, 24, 0),
        record(FREE, 1, 0, 0),
        record(ALLOC, 2, 24, 0),
        record(FILL, 2, 1, 0),
        record(FREE, 1, 0, 0),
        record(FREE, 2 | PLUS_Y, 0, 8),
        record(FREE, RAW | PLUS_Y, 0, 12345),
        record(FREE, RAW | PLUS_SIGNED_Y, 0, u32::MAX),
        record(CHECK, 0, 0, 0),
        record(LENGTH, 2, 0, 0),
    ]);
    assert_eq!(r, Ok(()));
}

/// Filling memory, freeing, and allocating again reuses freed blocks only
/// when memory would otherwise grow, and never overlaps live blocks.
#[test]
fn reuse_happens_only_at_the_end_of_memory() {
    let mut records = Vec::new();
    for i in 0..12u8 {
        records.push(record(ALLOC, i, 5000, 0));
        records.push(record(FILL, i, i as u16, 0));
    }
    for i in (0..12u8).step_by(2) {
        records.push(record(FREE, i, 0, 0));
    }
    for i in 0..12u8 {
        records.push(record(ALLOC, i % 2 * 2 + 12, 3000 + i as u16 * 300, 0));
        records.push(record(FILL, i % 2 * 2 + 12, 50, 0));
        records.push(record(CHECK, 0, 0, 0));
    }
    records.push(record(MEMORY_BYTES, 0, 0, 0));
    assert_eq!(run(&records), Ok(()));
}

/// The documented failures of the built-ins, with their texts.
#[test]
fn built_in_failures_are_predicted() {
    // An invalid key handle.
    assert_eq!(
        run(&[record(ALLOC, 1, 8, 0), record(CONFIG_GET, 1 | PLUS_Y, 2, 8)]),
        Ok(())
    );
    // A key that is not UTF-8.
    assert_eq!(run(&[record(MKKEY, 1, 5, 0), record(VAR_GET, 1, 2, 0)]), Ok(()));
    // A full var store, with a plugin error that wins.
    assert_eq!(
        run(&[
            record(MKKEY, 1, 0, 0),
            record(ALLOC, 2, 3000, 0),
            record(ALLOC, 3, 5, 0),
            record(FILL, 3, 65, 0),
            record(ERROR_SET, 3, 0, 0),
            record(VAR_SET, 1, 2, 0),
        ]),
        Ok(())
    );
}
