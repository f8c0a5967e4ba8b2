;; The Extism kernel: the `extism:host/env` memory functions of docs/abi.md, Kernel functions.
;;
;; Plugins import these functions directly from this module's instance, so the
;; per-byte and per-word calls (load/store/input_load/length) are wasm-to-wasm
;; calls with no host transition.
;;
;; Layout:
;; - memory 0 ("memory", exported) is Extism memory: handles are byte offsets
;;   into it; bytes below $HEAP_START are never handed out, so handle 0 is null.
;; - memory 1 is the block table, invisible to plugins: store_* can only reach
;;   memory 0, so a plugin can never corrupt the allocator's bookkeeping
;;   (docs/compatibility.md, Runtime).
;;   It starts with a 64-byte header the host reads directly after a call:
;;   output offset (i64 at 0), output length (i64 at 8), error handle (i64 at 16).
;;   Then the block records, 16 bytes each from offset 64: start (u32),
;;   capacity (u32), length (u32, 0 = free), kept sorted by start and tiling
;;   [HEAP_START, bump) without gaps.
;; - input and the allocator state live in globals, also out of the plugin's reach.
;;
;; Every range check is overflow-safe: it compares in 64 bits against the
;; memory size, so no offset + length can wrap.
(module
  (memory $mem (export "memory") 1 65536)
  (memory $meta 1 65536)

  ;; First address handed out. 16 keeps blocks 8-byte aligned. (The hot
  ;; functions below use the literal 16 for speed; keep them in step.)
  (global $HEAP_START i64 (i64.const 16))

  (global $bump (mut i64) (i64.const 16))
  (global $nblocks (mut i32) (i32.const 0))
  (global $nfree (mut i32) (i32.const 0))

  (global $input_off (mut i64) (i64.const 0))
  (global $input_len (mut i64) (i64.const 0))
  ;; The size of memory 0 in bytes, and that minus 8: kept in globals because
  ;; only `alloc` grows the memory, and a global is cheaper than memory.size
  ;; in the per-byte functions.
  (global $size (mut i64) (i64.const 65536))
  (global $size_minus_8 (mut i64) (i64.const 65528))

  ;; Read by the host after a call without running wasm (and so without fuel).
  (export "extism_meta" (memory $meta))
  ;; For plugins with the leaf functions inlined (core/src/inline): they read these
  ;; through imports from "extism:kernel"; plugins cannot import them.
  (export "input_offset_global" (global $input_off))
  (export "input_length_global" (global $input_len))
  (export "size_global" (global $size))
  (export "size_minus_8_global" (global $size_minus_8))

  (func $mem_size (result i64)
    (i64.shl (i64.extend_i32_u (memory.size $mem)) (i64.const 16)))

  ;; Record accessors (index -> field).
  (func $rec_start (param $i i32) (result i64)
    (i64.extend_i32_u (i32.load $meta offset=64 (i32.shl (local.get $i) (i32.const 4)))))
  (func $rec_cap (param $i i32) (result i64)
    (i64.extend_i32_u (i32.load $meta offset=68 (i32.shl (local.get $i) (i32.const 4)))))
  (func $rec_len (param $i i32) (result i64)
    (i64.extend_i32_u (i32.load $meta offset=72 (i32.shl (local.get $i) (i32.const 4)))))
  (func $set_rec (param $i i32) (param $start i64) (param $cap i64) (param $len i64)
    (local $a i32)
    (local.set $a (i32.shl (local.get $i) (i32.const 4)))
    (i32.store $meta offset=64 (local.get $a) (i32.wrap_i64 (local.get $start)))
    (i32.store $meta offset=68 (local.get $a) (i32.wrap_i64 (local.get $cap)))
    (i32.store $meta offset=72 (local.get $a) (i32.wrap_i64 (local.get $len))))
  (func $set_rec_len (param $i i32) (param $len i64)
    (i32.store $meta offset=72 (i32.shl (local.get $i) (i32.const 4)) (i32.wrap_i64 (local.get $len))))

  ;; Make room in the block table for one more record. Returns 0 on failure.
  (func $reserve_record (result i32)
    (local $need i64)
    (local.set $need (i64.add (i64.const 64)
      (i64.shl (i64.extend_i32_u (i32.add (global.get $nblocks) (i32.const 1))) (i64.const 4))))
    (if (i64.gt_u (local.get $need) (i64.shl (i64.extend_i32_u (memory.size $meta)) (i64.const 16)))
      (then
        (if (i32.eq (memory.grow $meta (i32.const 1)) (i32.const -1))
          (then (return (i32.const 0))))))
    (i32.const 1))

  ;; Index of the record that starts exactly at $h, or -1.
  (func $find (param $h i64) (result i32)
    (local $lo i32) (local $hi i32) (local $mid i32) (local $s i64)
    (if (i32.eqz (global.get $nblocks)) (then (return (i32.const -1))))
    ;; Fast path: the most recent block is the one most often asked about.
    (local.set $hi (i32.sub (global.get $nblocks) (i32.const 1)))
    (if (i64.eq (call $rec_start (local.get $hi)) (local.get $h))
      (then (return (local.get $hi))))
    (local.set $lo (i32.const 0))
    (block $done
      (loop $search
        (br_if $done (i32.gt_s (local.get $lo) (local.get $hi)))
        (local.set $mid (i32.shr_u (i32.add (local.get $lo) (local.get $hi)) (i32.const 1)))
        (local.set $s (call $rec_start (local.get $mid)))
        (if (i64.eq (local.get $s) (local.get $h)) (then (return (local.get $mid))))
        (if (i64.lt_u (local.get $s) (local.get $h))
          (then (local.set $lo (i32.add (local.get $mid) (i32.const 1))))
          (else (local.set $hi (i32.sub (local.get $mid) (i32.const 1)))))
        (br $search)))
    (i32.const -1))

  (func $alloc (export "alloc") (param $n i64) (result i64)
    (local $cap i64) (local $start i64) (local $end i64) (local $size i64)
    (local $i i32) (local $rcap i64) (local $pages i64)
    (if (i64.eqz (local.get $n)) (then (return (i64.const 0))))
    ;; Larger than any 32-bit memory could hold.
    (if (i64.gt_u (local.get $n) (i64.const 0xFFFFFF00)) (then (return (i64.const 0))))
    (local.set $cap (i64.and (i64.add (local.get $n) (i64.const 7)) (i64.const -8)))
    (local.set $start (global.get $bump))
    (local.set $end (i64.add (local.get $start) (local.get $cap)))
    (local.set $size (call $mem_size))
    (if (i32.and (i64.gt_u (local.get $end) (local.get $size)) (i32.ne (global.get $nfree) (i32.const 0)))
      (then
        (call $coalesce)
        (local.set $start (global.get $bump))
        (local.set $end (i64.add (local.get $start) (local.get $cap)))))
    (if (i64.gt_u (local.get $end) (local.get $size))
      (then
        ;; Before growing memory, reuse the first free block that fits.
        (if (global.get $nfree)
          (then
            (local.set $i (i32.const 0))
            (block $none
              (loop $scan
                (br_if $none (i32.ge_u (local.get $i) (global.get $nblocks)))
                (if (i32.and
                      (i64.eqz (call $rec_len (local.get $i)))
                      (i64.ge_u (call $rec_cap (local.get $i)) (local.get $cap)))
                  (then
                    (local.set $rcap (call $rec_cap (local.get $i)))
                    (local.set $start (call $rec_start (local.get $i)))
                    ;; Split when a useful remainder would be left over.
                    (if (i64.ge_u (i64.sub (local.get $rcap) (local.get $cap)) (i64.const 128))
                      (then
                        (if (call $reserve_record)
                          (then
                            (memory.copy $meta $meta
                              (i32.add (i32.const 64) (i32.shl (i32.add (local.get $i) (i32.const 2)) (i32.const 4)))
                              (i32.add (i32.const 64) (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 4)))
                              (i32.shl (i32.sub (global.get $nblocks) (i32.add (local.get $i) (i32.const 1))) (i32.const 4)))
                            (call $set_rec (i32.add (local.get $i) (i32.const 1))
                              (i64.add (local.get $start) (local.get $cap))
                              (i64.sub (local.get $rcap) (local.get $cap))
                              (i64.const 0))
                            (global.set $nblocks (i32.add (global.get $nblocks) (i32.const 1)))
                            (global.set $nfree (i32.add (global.get $nfree) (i32.const 1)))
                            (local.set $rcap (local.get $cap))))))
                    (call $set_rec (local.get $i) (local.get $start) (local.get $rcap) (local.get $n))
                    (global.set $nfree (i32.sub (global.get $nfree) (i32.const 1)))
                    (return (local.get $start))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $scan)))))
        (if (i64.gt_u (local.get $end) (i64.const 0x100000000)) (then (return (i64.const 0))))
        (local.set $pages
          (i64.shr_u (i64.add (i64.sub (local.get $end) (local.get $size)) (i64.const 0xFFFF)) (i64.const 16)))
        (if (i32.eq (memory.grow $mem (i32.wrap_i64 (local.get $pages))) (i32.const -1))
          (then (return (i64.const 0))))
        (global.set $size (call $mem_size))
        (global.set $size_minus_8 (i64.sub (global.get $size) (i64.const 8)))))
    (if (i32.eqz (call $reserve_record)) (then (return (i64.const 0))))
    (call $set_rec (global.get $nblocks) (local.get $start) (local.get $cap) (local.get $n))
    (global.set $nblocks (i32.add (global.get $nblocks) (i32.const 1)))
    (global.set $bump (local.get $end))
    (local.get $start))

  ;; A freed block stays a record of its own: it is never handed back to the
  ;; bump region, and `alloc` reuses it only when memory would otherwise have
  ;; to grow. PDKs rely on that: some free a key again after the host freed it
  ;; (config_get, var_get), which must not destroy the block allocated next.
  (func $free (export "free") (param $h i64)
    (local $i i32)
    (local.set $i (call $find (local.get $h)))
    (if (i32.lt_s (local.get $i) (i32.const 0)) (then (return)))
    (if (i64.eqz (call $rec_len (local.get $i))) (then (return)))
    (call $set_rec_len (local.get $i) (i64.const 0))
    (global.set $nfree (i32.add (global.get $nfree) (i32.const 1)))
    (if (i64.eq (local.get $h) (global.get $input_off))
      (then (global.set $input_len (i64.const 0)))))

  ;; Merge each run of adjacent free blocks into one, then give a free block
  ;; at the end back to the bump region. Only `alloc` calls this, and only
  ;; when memory would otherwise grow, so a plugin that allocates and frees
  ;; in a loop (even with growing sizes) stays within bounded memory.
  (func $coalesce
    (local $r i32) (local $w i32) (local $last i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $r) (global.get $nblocks)))
        ;; ($last is only read when $w > 0: wasm's `and` does not short-circuit.)
        (local.set $last (i32.sub (local.get $w) (i32.const 1)))
        (if (if (result i32) (i32.and (i32.ne (local.get $w) (i32.const 0)) (i64.eqz (call $rec_len (local.get $r))))
              (then (i64.eqz (call $rec_len (local.get $last))))
              (else (i32.const 0)))
          (then
            (call $set_rec (local.get $last)
              (call $rec_start (local.get $last))
              (i64.add (call $rec_cap (local.get $last)) (call $rec_cap (local.get $r)))
              (i64.const 0))
            (global.set $nfree (i32.sub (global.get $nfree) (i32.const 1))))
          (else
            (if (i32.ne (local.get $r) (local.get $w))
              (then
                (call $set_rec (local.get $w)
                  (call $rec_start (local.get $r)) (call $rec_cap (local.get $r)) (call $rec_len (local.get $r)))))
            (local.set $w (i32.add (local.get $w) (i32.const 1)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $each)))
    (global.set $nblocks (local.get $w))
    (if (i32.eqz (local.get $w)) (then (return)))
    (local.set $last (i32.sub (local.get $w) (i32.const 1)))
    (if (i64.eqz (call $rec_len (local.get $last)))
      (then
        (global.set $bump (call $rec_start (local.get $last)))
        (global.set $nblocks (local.get $last))
        (global.set $nfree (i32.sub (global.get $nfree) (i32.const 1))))))

  (func $length (export "length") (param $h i64) (result i64)
    (local $i i32)
    (local.set $i (call $find (local.get $h)))
    (if (result i64) (i32.lt_s (local.get $i) (i32.const 0))
      (then (i64.const 0))
      (else (call $rec_len (local.get $i)))))

  (func (export "length_unsafe") (param $h i64) (result i64)
    (call $length (local.get $h)))

  ;; The per-byte and per-word functions below use $size and the literal heap
  ;; start: cranelift does not inline wasm calls, and these run for every 8
  ;; bytes a plugin moves.
  (func (export "load_u8") (param $p i64) (result i32)
    (if (result i32)
      (i32.and (i64.ge_u (local.get $p) (i64.const 16))
               (i64.lt_u (local.get $p) (global.get $size)))
      (then (i32.load8_u $mem (i32.wrap_i64 (local.get $p))))
      (else (i32.const 0))))

  (func (export "load_u64") (param $p i64) (result i64)
    (if (result i64)
      (i32.and (i64.ge_u (local.get $p) (i64.const 16))
               (i64.le_u (local.get $p) (global.get $size_minus_8)))
      (then (i64.load $mem (i32.wrap_i64 (local.get $p))))
      (else (i64.const 0))))

  (func (export "store_u8") (param $p i64) (param $v i32)
    (if (i32.and (i64.ge_u (local.get $p) (i64.const 16))
                 (i64.lt_u (local.get $p) (global.get $size)))
      (then (i32.store8 $mem (i32.wrap_i64 (local.get $p)) (local.get $v)))))

  (func (export "store_u64") (param $p i64) (param $v i64)
    (if (i32.and (i64.ge_u (local.get $p) (i64.const 16))
                 (i64.le_u (local.get $p) (global.get $size_minus_8)))
      (then (i64.store $mem (i32.wrap_i64 (local.get $p)) (local.get $v)))))

  (func (export "input_length") (result i64) (global.get $input_len))
  (func (export "input_offset") (result i64) (global.get $input_off))

  (func (export "input_load_u8") (param $off i64) (result i32)
    (if (result i32) (i64.lt_u (local.get $off) (global.get $input_len))
      (then (i32.load8_u $mem (i32.wrap_i64 (i64.add (global.get $input_off) (local.get $off)))))
      (else (i32.const 0))))

  (func (export "input_load_u64") (param $off i64) (result i64)
    (if (result i64)
      (i32.and (i64.ge_u (global.get $input_len) (i64.const 8))
               (i64.le_u (local.get $off) (i64.sub (global.get $input_len) (i64.const 8))))
      (then (i64.load $mem (i32.wrap_i64 (i64.add (global.get $input_off) (local.get $off)))))
      (else (i64.const 0))))

  ;; A range is valid when it lies inside the allocator's part of Extism memory.
  (func $valid_range (param $off i64) (param $len i64) (result i32)
    (i32.and
      (i32.and (i64.ge_u (local.get $off) (global.get $HEAP_START))
               (i64.le_u (local.get $off) (call $mem_size)))
      (i64.le_u (local.get $len) (i64.sub (call $mem_size) (local.get $off)))))

  (func (export "output_set") (param $off i64) (param $len i64)
    (if (call $valid_range (local.get $off) (local.get $len))
      (then
        (i64.store $meta (i32.const 0) (local.get $off))
        (i64.store $meta (i32.const 8) (local.get $len)))))

  (func (export "input_set") (param $off i64) (param $len i64)
    (if (call $valid_range (local.get $off) (local.get $len))
      (then
        (global.set $input_off (local.get $off))
        (global.set $input_len (local.get $len)))))

  (func (export "error_set") (param $h i64)
    (if (i64.eqz (local.get $h)) (then (i64.store $meta (i32.const 16) (i64.const 0)) (return)))
    (if (call $valid_range (local.get $h) (i64.const 0))
      (then (i64.store $meta (i32.const 16) (local.get $h)))))

  (func (export "error_get") (result i64) (i64.load $meta (i32.const 16)))
  (func (export "output_offset") (result i64) (i64.load $meta (i32.const 0)))
  (func (export "output_length") (result i64) (i64.load $meta (i32.const 8)))

  (func $reset (export "reset")
    (global.set $bump (global.get $HEAP_START))
    (global.set $nblocks (i32.const 0))
    (global.set $nfree (i32.const 0))
    (global.set $input_off (i64.const 0))
    (global.set $input_len (i64.const 0))
    (i64.store $meta (i32.const 0) (i64.const 0))
    (i64.store $meta (i32.const 8) (i64.const 0))
    (i64.store $meta (i32.const 16) (i64.const 0)))

  (func (export "memory_bytes") (result i64)
    (i64.sub (call $mem_size) (global.get $HEAP_START)))

  ;; Host-only entry point (plugins cannot import it: it is not among docs/abi.md's kernel functions):
  ;; reset, then allocate and install an input block of $n bytes.
  ;; Returns the input handle, 0 for empty input, or -1 when allocation failed.
  (func (export "extism_begin_call") (param $n i64) (result i64)
    (local $h i64)
    (call $reset)
    (if (i64.eqz (local.get $n)) (then (return (i64.const 0))))
    (local.set $h (call $alloc (local.get $n)))
    (if (i64.eqz (local.get $h)) (then (return (i64.const -1))))
    (global.set $input_off (local.get $h))
    (global.set $input_len (local.get $n))
    (local.get $h))
)
