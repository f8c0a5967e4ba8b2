"""Shared paths and plugin builders for the tests.

Plugins come from the shared fixtures: the WAT plugins in tests/fixtures/wat
(checked in) and the AssemblyScript PDK plugins in target/fixtures (built by
tests/fixtures/pdk/build.sh, which test.sh runs). `host_wat` writes the one
kind of module the fixtures lack: a caller of a host function of any signature.
"""

import os
import pathlib
from typing import List

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
WAT_DIR = REPO / "tests" / "fixtures" / "wat"
PDK_DIR = pathlib.Path(os.environ.get("EXTISM_FIXTURES", str(REPO / "target" / "fixtures")))


def wat(name: str) -> str:
    """The path of tests/fixtures/wat/NAME.wat, as a str."""
    path = WAT_DIR / f"{name}.wat"
    assert path.exists(), path
    return str(path)


def pdk(name: str) -> str:
    """The path of the AssemblyScript plugin as_NAME.wasm, as a str."""
    path = PDK_DIR / f"as_{name}.wasm"
    if not path.exists():
        pytest.fail(f"{path} is missing: run tests/fixtures/pdk/build.sh (bindings/python/test.sh does)")
    return str(path)


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


_WIDEN = {
    "i32": "(i64.extend_i32_s (local.get $r{i}))",
    "i64": "(local.get $r{i})",
    "f32": "(i64.extend_i32_u (i32.reinterpret_f32 (local.get $r{i})))",
    "f64": "(i64.reinterpret_f64 (local.get $r{i}))",
}


def host_wat(
    params: List[str],
    results: List[str],
    args: List[str],
    name: str = "f",
    namespace: str = "extism:host/user",
) -> str:
    """A module importing `namespace::name` with the given wasm types.

    Exports:
      raw:   calls it with `args` (WAT constant expressions) and outputs each
             result as 8 little-endian bytes (i32 sign-extended, floats as bits).
      block: calls it with `args` and outputs the block named by its first
             result (a handle; an i32 is zero-extended); only when the first
             result is an integer (or there is none).
      input: calls it with the input as a new block for its first parameter
             (the other parameters get `args[1:]`), outputs like `block`;
             only when the first parameter is an i64 and `block` exists.
    """
    sig = "".join(f" (param {p})" for p in params) + "".join(f" (result {r})" for r in results)
    locals_ = "".join(f" (local $r{i} {r})" for i, r in enumerate(results))
    store_results = "".join(f"(local.set $r{i})" for i in reversed(range(len(results))))
    raw_out = "".join(
        f"(call $store_u64 (i64.add (local.get $h) (i64.const {8 * i})) {_WIDEN[r].format(i=i)})"
        for i, r in enumerate(results)
    )
    first = "(i64.extend_i32_u (local.get $r0))" if results and results[0] == "i32" else "(local.get $r0)"
    handle_result = bool(results) and results[0] in ("i32", "i64")
    block_out = (
        f"(local.set $h {first})(call $output_set (local.get $h) (call $length (local.get $h)))"
        if handle_result
        else ""
    )
    call_args = " ".join(args)
    input_args = " ".join(["(call $input_block)"] + list(args[1:]))
    input_export = (
        f"""(func (export "input") (result i32) (local $h i64){locals_}
    (call $f {input_args}) {store_results}
    {block_out}
    (i32.const 0))"""
        if params and params[0] == "i64" and (handle_result or not results)
        else ""
    )
    block_export = (
        f"""(func (export "block") (result i32) (local $h i64){locals_}
    (call $f {call_args}) {store_results}
    {block_out}
    (i32.const 0))"""
        if handle_result or not results
        else ""
    )
    return f"""(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "{namespace}" "{name}" (func $f{sig}))
  (func $input_block (result i64)
    (local $n i64) (local $h i64) (local $i i64)
    (local.set $n (call $input_length))
    (local.set $h (call $alloc (local.get $n)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $h) (local.get $i)) (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (local.get $h))
  (func (export "raw") (result i32) (local $h i64){locals_}
    (call $f {call_args}) {store_results}
    (local.set $h (call $alloc (i64.const {8 * len(results)})))
    {raw_out}
    (call $output_set (local.get $h) (i64.const {8 * len(results)}))
    (i32.const 0))
  {block_export}
  {input_export}
)
"""
