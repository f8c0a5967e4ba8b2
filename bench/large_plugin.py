#!/usr/bin/env python3
"""Writes a stand-in for a large real plugin: bench/wat/bench.wat (its exports
and imports, so every C workload runs on it) plus generated functions of the
shape compiled Rust or Go code has (loops over memory, calls, branch tables,
64-bit arithmetic), about 1.6 MB of wasm like the official fixtures of
1.1-2.1 MB this project cannot build here (Rust, Go and Haskell PDKs).

Usage: bench/large_plugin.py OUT.wat [FUNCTIONS]   (default 9000 functions)
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def function(k):
    callee = f"(call $g{k - 1} (local.get $acc) (local.get $i))" if k > 0 else "(local.get $i)"
    c1, c2, off = 2654435761 % (k + 97), (k * 40503) & 0xFFFF, (k * 8) % 4096
    return f"""  (func $g{k} (param $a i32) (param $b i32) (result i32)
    (local $i i32) (local $acc i32) (local $x i64)
    (local.set $acc (local.get $b))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $a)))
        (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const {c1}))
          (i32.load8_u offset={off} (i32.and (local.get $i) (i32.const 32767)))))
        (i32.store offset={off} (i32.and (local.get $acc) (i32.const 32764)) (local.get $acc))
        (local.set $x (i64.add (i64.mul (local.get $x) (i64.const {c2 + 3})) (i64.extend_i32_u (local.get $acc))))
        (if (i32.eq (i32.and (local.get $acc) (i32.const 255)) (i32.const 7))
          (then (local.set $acc {callee})))
        (block $b3 (block $b2 (block $b1
          (br_table $b1 $b2 $b3 (i32.rem_u (local.get $i) (i32.const 3))))
          (local.set $acc (i32.xor (local.get $acc) (i32.const {c2}))) (br $b3))
          (local.set $acc (i32.rotl (local.get $acc) (i32.const {k % 31 + 1}))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i32.add (local.get $acc) (i32.wrap_i64 (i64.shr_u (local.get $x) (i64.const 17)))))
"""


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 9000
    base = open(os.path.join(ROOT, "bench", "wat", "bench.wat")).read().rstrip()
    assert base.endswith(")")
    body = "".join(function(k) for k in range(count))
    # Reachable from an export, so no compiler may leave them out.
    body += f'  (func (export "large") (result i32) (drop (call $g{count - 1} (i32.const 3) (i32.const 1))) (i32.const 0))\n'
    with open(out, "w") as f:
        f.write(base[:-1] + body + ")\n")


if __name__ == "__main__":
    main()
