;; Benchmark plugin: moves bytes the way the PDKs do.
;; noop: returns 0, no output.   echo: input -> output in 8-byte steps.
;; count_vowels: counts vowels in 8-byte steps, outputs the count as 8 bytes.
;; host: passes the input block to extism:host/user::bench_host (i64) -> i64
;;       and outputs the block it returns.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/user" "bench_host" (func $bench_host (param i64) (result i64)))
  (memory 1)
  (func $copy_input (result i64)
    (local $n i64) (local $out i64) (local $i i64)
    (local.set $n (call $input_length))
    (local.set $out (call $alloc (local.get $n)))
    (block $done
      (loop $words
        (br_if $done (i64.gt_u (i64.add (local.get $i) (i64.const 8)) (local.get $n)))
        (call $store_u64 (i64.add (local.get $out) (local.get $i)) (call $input_load_u64 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $words)))
    (block $done
      (loop $bytes
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $out) (local.get $i)) (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $bytes)))
    (local.get $out))
  (func (export "noop") (result i32) (i32.const 0))
  (func (export "echo") (result i32)
    (call $output_set (call $copy_input) (call $input_length))
    (i32.const 0))
  (func $vowel (param $c i64) (result i64)
    (local.set $c (i64.or (local.get $c) (i64.const 0x20)))
    (i64.extend_i32_u
      (i32.or (i32.or (i32.or (i64.eq (local.get $c) (i64.const 97)) (i64.eq (local.get $c) (i64.const 101)))
                      (i32.or (i64.eq (local.get $c) (i64.const 105)) (i64.eq (local.get $c) (i64.const 111))))
              (i64.eq (local.get $c) (i64.const 117)))))
  (func (export "count_vowels") (result i32)
    (local $n i64) (local $i i64) (local $w i64) (local $k i64) (local $count i64) (local $out i64)
    (local.set $n (call $input_length))
    (block $done
      (loop $words
        (br_if $done (i64.gt_u (i64.add (local.get $i) (i64.const 8)) (local.get $n)))
        (local.set $w (call $input_load_u64 (local.get $i)))
        (local.set $k (i64.const 0))
        (loop $bytes
          (local.set $count (i64.add (local.get $count)
            (call $vowel (i64.and (i64.shr_u (local.get $w) (local.get $k)) (i64.const 0xff)))))
          (local.set $k (i64.add (local.get $k) (i64.const 8)))
          (br_if $bytes (i64.lt_u (local.get $k) (i64.const 64))))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $words)))
    (block $done
      (loop $tail
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $count (i64.add (local.get $count)
          (call $vowel (i64.extend_i32_u (call $input_load_u8 (local.get $i))))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $tail)))
    (local.set $out (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $out) (local.get $count))
    (call $output_set (local.get $out) (i64.const 8))
    (i32.const 0))
  (func (export "host") (result i32)
    (local $r i64)
    (local.set $r (call $bench_host (call $copy_input)))
    (call $output_set (local.get $r) (call $length (local.get $r)))
    (i32.const 0))
)
