;; count_vowels: counts a, e, i, o, u (either case) in the input and outputs
;; {"count":N} (N in decimal).
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory 1)
  (data (i32.const 0) "{\"count\":")
  (func $is_vowel (param $c i32) (result i32)
    (local.set $c (i32.or (local.get $c) (i32.const 0x20)))
    (i32.or (i32.or (i32.or (i32.eq (local.get $c) (i32.const 97)) (i32.eq (local.get $c) (i32.const 101)))
                    (i32.or (i32.eq (local.get $c) (i32.const 105)) (i32.eq (local.get $c) (i32.const 111))))
            (i32.eq (local.get $c) (i32.const 117))))
  (func (export "count_vowels") (result i32)
    (local $n i64) (local $i i64) (local $count i64) (local $len i32) (local $p i32) (local $out i64) (local $j i32)
    (local.set $n (call $input_length))
    (block $done
      (loop $scan
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (if (call $is_vowel (call $input_load_u8 (local.get $i)))
          (then (local.set $count (i64.add (local.get $count) (i64.const 1)))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $scan)))
    ;; digits of count, written backwards at 100..
    (local.set $p (i32.const 120))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $count) (i64.const 10)))))
      (local.set $count (i64.div_u (local.get $count) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $count) (i64.const 0))))
    (i32.store8 (i32.const 120) (i32.const 125))
    ;; output = prefix (9 bytes) + digits + "}"
    (local.set $len (i32.add (i32.const 9) (i32.sub (i32.const 121) (local.get $p))))
    (local.set $out (call $alloc (i64.extend_i32_u (local.get $len))))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $j) (local.get $len)))
        (call $store_u8 (i64.add (local.get $out) (i64.extend_i32_u (local.get $j)))
          (if (result i32) (i32.lt_u (local.get $j) (i32.const 9))
            (then (i32.load8_u (local.get $j)))
            (else (i32.load8_u (i32.add (local.get $p) (i32.sub (local.get $j) (i32.const 9)))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $copy)))
    (call $output_set (local.get $out) (i64.extend_i32_u (local.get $len)))
    (i32.const 0))
)
