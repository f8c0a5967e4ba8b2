#!/usr/bin/env python3
"""Benchmark this project's libextism against the official one, interleaved.

Usage: bench/run.py [--quick] [--official PATH] [--floor] [--large] [--compiler winch] [WORKLOAD ...]
       bench/run.py --python [--quick]
       bench/run.py --node [--quick]

Builds bench/c/bench.c, fetches the official library from PyPI's
extism-sys==1.41.0 wheel (pip download, cached under target/bench), and runs
every workload in several processes that load both libraries with the load
order swapped (A B, B A, ...), each alternating samples between them. Prints,
per workload, both medians with their spread (min..max of the per-process
medians) and the ratio ours/official (lower is faster). With --floor it also
runs bench/floor (the same plugin and kernel on raw wasmtime, no extism) in
as many processes and adds its median and the ratio ours/floor.

With --large, the C workloads run on a stand-in for a large real plugin
(bench/large_plugin.py: bench.wat plus 9,000 generated functions, about
1.8 MB of wasm) instead of bench.wat. With --compiler winch, our library
compiles with wasmtime's baseline compiler (EXTISM_COMPILER=winch; the
official library has no such mode and keeps Cranelift).

RUST_BACKTRACE changes the official figures, so it is removed from the
environment of every benchmark process; EXTISM_CACHE_CONFIG is set empty
(compile cache off) except for the compile_cached workload.
"""
import argparse
import glob
import os
import platform
import statistics
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target", "bench")
OURS = os.path.join(ROOT, "target", "release", "libextism.so")
PLUGIN = os.path.join(ROOT, "bench", "wat", "bench.wat")
FLOOR = os.path.join(ROOT, "target", "release", "extism-bench-floor")
FLOOR_WORKLOADS = ["create", "create_call", "empty_call", "echo_64", "echo_4k", "echo_64k",
                   "echo_1m", "echo_16m", "count_vowels", "host"]

WORKLOADS = [
    "compile", "compile_cached", "compile_disk", "create", "create_call", "create_bytes",
    "empty_call", "empty_call_spaced", "echo_64", "echo_4k", "echo_64k",
    "echo_1m", "echo_16m", "count_vowels", "host", "rss_idle",
]


def official_library():
    lib = glob.glob(os.path.join(OUT, "extism-sys", "extism_sys", "libextism_sys*.so"))
    if lib:
        return lib[0]
    wheels = os.path.join(OUT, "wheels")
    os.makedirs(wheels, exist_ok=True)
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                           "extism-sys==1.41.0", "-d", wheels])
    wheel = glob.glob(os.path.join(wheels, "extism_sys-1.41.0-*.whl"))[0]
    zipfile.ZipFile(wheel).extractall(os.path.join(OUT, "extism-sys"))
    return glob.glob(os.path.join(OUT, "extism-sys", "extism_sys", "libextism_sys*.so"))[0]


def build():
    subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "extism-capi"], cwd=ROOT)
    exe = os.path.join(OUT, "bench_c")
    os.makedirs(OUT, exist_ok=True)
    subprocess.check_call(["cc", "-O2", "-std=c11", "-Wall", "-Werror", "-I", os.path.join(ROOT, "include"),
                           os.path.join(ROOT, "bench", "c", "bench.c"), "-ldl", "-o", exe])
    return exe


def large_plugin():
    """target/bench/large.wasm, made by bench/large_plugin.py and bench/floor's wat2wasm."""
    wat, wasm = os.path.join(OUT, "large.wat"), os.path.join(OUT, "large.wasm")
    if not os.path.exists(wasm):
        subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "extism-bench-floor", "--bin", "wat2wasm"],
                              cwd=ROOT)
        subprocess.check_call([sys.executable, os.path.join(ROOT, "bench", "large_plugin.py"), wat])
        subprocess.check_call([os.path.join(ROOT, "target", "release", "wat2wasm"), wat, wasm])
    return wasm


COMPILER = None


def bench_env(cache=False, module_cache=True):
    """The environment of every benchmark process: RUST_BACKTRACE removed (it
    changes the official figures) and, unless `cache`, the compile cache off
    (EXTISM_CACHE_CONFIG empty; unset means wasmtime's default cache). Without
    `module_cache`, our in-process module cache is off too
    (EXTISM_MODULE_CACHE_BYTES=0), so that compiling is what is measured."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RUST_BACKTRACE", "EXTISM_CACHE_CONFIG", "EXTISM_MODULE_CACHE_BYTES")}
    if not cache:
        env["EXTISM_CACHE_CONFIG"] = ""
    if not module_cache:
        env["EXTISM_MODULE_CACHE_BYTES"] = "0"
    env.pop("EXTISM_COMPILER", None)
    if COMPILER:
        env["EXTISM_COMPILER"] = COMPILER
    return env


def run(exe, workload, samples, libs):
    # compile_cached: wasmtime's disk cache and our in-process module cache
    # on; compile_disk: the disk cache alone, as a new process loading a
    # plugin meets it.
    env = bench_env(cache=workload in ("compile_cached", "compile_disk"),
                    module_cache=workload not in ("compile", "compile_disk"))
    name = "compile" if workload in ("compile_cached", "compile_disk") else workload
    out = subprocess.run([exe, PLUGIN, name, str(samples)] + libs, env=env, check=True,
                         capture_output=True, text=True).stdout
    result = {}
    for line in out.splitlines():
        path, _, *values = line.split()
        result[path] = [float(v) for v in values]
    return result


def run_floor(workloads):
    """{workload: ns} from one run of the raw-wasmtime floor binary."""
    out = subprocess.run([FLOOR] + workloads, env=bench_env(), check=True, capture_output=True, text=True).stdout
    return {line.split()[0]: float(line.split()[1]) for line in out.splitlines()}


def python_venvs():
    """(ours, official): this project's package in .venv (made by
    bindings/python/test.sh or `make demo`), and the official SDK 1.1.1 on
    the official library in target/bench/venv-official."""
    ours = os.path.join(ROOT, ".venv", "bin", "python")
    if not os.path.exists(ours):
        subprocess.check_call([os.path.join(ROOT, "bindings", "python", "test.sh"), "-q"])
    venv = os.path.join(OUT, "venv-official")
    official = os.path.join(venv, "bin", "python")
    if not os.path.exists(official):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([official, "-m", "pip", "install", "-q", "extism==1.1.1", "extism-sys==1.41.0"])
    return ours, official


def run_python(python, workloads):
    out = subprocess.run([python, os.path.join(ROOT, "bench", "python", "workloads.py"), PLUGIN] + workloads,
                         env=bench_env(), check=True, capture_output=True, text=True).stdout
    return {line.split()[0]: [float(v) for v in line.split()[1:]] for line in out.splitlines()}


def python_main(quick):
    ours, official = python_venvs()
    workloads = ["create", "empty_call", "echo_64", "echo_1m", "host", "threads_1", "threads_2",
                 "pool_threads_1", "pool_threads_2", "pool_threads_4", "pool_gather_4"]
    processes = 2 if quick else 4
    medians = {w: {ours: [], official: []} for w in workloads}
    for i in range(processes):
        for python in ([ours, official] if i % 2 == 0 else [official, ours]):
            for w, values in run_python(python, workloads).items():
                medians[w][python].append(statistics.median(values))
    print("Python: this project's `extism` vs the official SDK 1.1.1 on libextism 1.41.0")
    print(f"{'workload':<18} {'ours (median, spread)':<34} {'official (median, spread)':<34} ratio")
    for w in workloads:
        cells = []
        for python in (ours, official):
            m = statistics.median(medians[w][python])
            lo, hi = min(medians[w][python]), max(medians[w][python])
            cells.append((m, f"{fmt(m, w)} ({fmt(lo, w)}..{fmt(hi, w)})"))
        print(f"{w:<18} {cells[0][1]:<34} {cells[1][1]:<34} {cells[0][0] / cells[1][0]:.3f}")
    for python, label in ((ours, "ours"), (official, "official")):
        one = statistics.median(medians["threads_1"][python])
        two = statistics.median(medians["threads_2"][python])
        print(f"2 threads vs 1 ({label}): {one / two:.2f}x the throughput")
    # One shared plugin: ours is a Pool of 2 instances, the official SDK one
    # plugin behind a lock (it has no pool).
    for python, label in ((ours, "ours, Pool of 2"), (official, "official, one plugin + lock")):
        one = statistics.median(medians["pool_threads_1"][python])
        row = ", ".join(f"{name} {one / statistics.median(medians[name][python]):.2f}x"
                        for name in ("pool_threads_2", "pool_threads_4", "pool_gather_4"))
        print(f"shared plugin vs 1 thread ({label}): {row}")


def node_main(quick):
    """Our addon (async and callSync) against @extism/extism 1.0.3 and
    2.0.0-rc13, each in the foreground and with runInWorker."""
    here = os.path.join(ROOT, "bench", "node")
    if not os.path.isdir(os.path.join(here, "node_modules", "extism-v2")):
        subprocess.check_call(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=here)
    if not os.path.exists(os.path.join(ROOT, "bindings", "node", "extism.linux-x64-gnu.node")):
        subprocess.check_call([os.path.join(ROOT, "bindings", "node", "test.sh")])
    wasm = os.path.join(OUT, "bench.wasm")
    os.makedirs(OUT, exist_ok=True)
    subprocess.check_call(["node", os.path.join(here, "wat2wasm.cjs"), PLUGIN, wasm])
    ours = os.path.join(ROOT, "bindings", "node", "index.mjs")
    v1 = os.path.join(here, "node_modules", "extism-v1", "dist", "esm", "mod.js")
    v2 = os.path.join(here, "node_modules", "extism-v2", "dist", "esm", "mod.js")
    variants = [("ours async", ours, "async"), ("ours sync", ours, "sync"),
                ("v2 rc13", v2, "async"), ("v2 rc13 worker", v2, "worker"),
                ("v1.0.3", v1, "async"), ("v1.0.3 worker", v1, "worker")]
    workloads = ["create", "empty_call", "echo_64", "echo_1m", "host", "cpu_plugin", "cpu_pool2"]
    env = bench_env()
    processes = 1 if quick else 3
    results = {(label, w): [] for label, _, _ in variants for w in workloads}
    for i in range(processes):
        for label, module, mode in (variants if i % 2 == 0 else variants[::-1]):
            out = subprocess.run(["node", os.path.join(here, "workloads.mjs"), module, wasm, mode] + workloads,
                                 env=env, capture_output=True, text=True)
            for line in out.stdout.splitlines():
                name, *values = line.split()
                results[(label, name)].append(statistics.median(float(v) for v in values))
    print("Node: medians per call (spread over processes)")
    print(f"{'variant':<16}" + "".join(f"{w:>20}" for w in workloads))
    for label, _, _ in variants:
        row = ""
        for w in workloads:
            values = results[(label, w)]
            row += f"{fmt(statistics.median(values), w) if values else 'n/a':>20}"
        print(f"{label:<16}{row}")
    one, two = results[("ours async", "cpu_plugin")], results[("ours async", "cpu_pool2")]
    if one and two:
        print(f"ours: a pool of 2 vs one plugin, 4 callers of count_vowels (64 KiB): "
              f"{statistics.median(one) / statistics.median(two):.2f}x the throughput")


def fmt(ns, workload):
    if workload == "rss_idle":
        return f"{ns / 1024:.1f} KiB"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.0f} ns"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2 processes, 3 samples: a smoke run")
    parser.add_argument("--official", help="path of the official libextism (default: from the extism-sys wheel)")
    parser.add_argument("--python", action="store_true", help="the Python-level workloads instead")
    parser.add_argument("--node", action="store_true", help="the Node-level workloads instead")
    parser.add_argument("--floor", action="store_true",
                        help="C level: add the raw-wasmtime floor (bench/floor) and ours/floor")
    parser.add_argument("--large", action="store_true",
                        help="C level: a stand-in for a large real plugin instead of bench.wat")
    parser.add_argument("--compiler", choices=["cranelift", "winch"],
                        help="the compiler of our library (EXTISM_COMPILER); the official one keeps Cranelift")
    parser.add_argument("workloads", nargs="*", default=WORKLOADS)
    args = parser.parse_args()
    global COMPILER, PLUGIN
    COMPILER = args.compiler
    if args.python:
        return python_main(args.quick)
    if args.node:
        return node_main(args.quick)
    exe = build()
    if args.large:
        PLUGIN = large_plugin()
    if args.floor:
        subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "extism-bench-floor"], cwd=ROOT)
    official = args.official or official_library()
    processes, samples = (2, 3) if args.quick else (6, 7)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, {platform.platform()}")
    print(f"ours: {OURS}\nofficial: {official}")
    if args.floor:
        print(f"floor: {FLOOR} (same plugin and kernel on wasmtime alone)")
    print(f"plugin: {PLUGIN} ({os.path.getsize(PLUGIN)} bytes)")
    print("env: RUST_BACKTRACE unset; EXTISM_CACHE_CONFIG='' (cache off) except compile_cached"
          + (f"; EXTISM_COMPILER={COMPILER}" if COMPILER else ""))
    print(f"{processes} processes x {samples} samples, load order alternating\n")
    floor_header = f"  {'floor':<10} ours/floor" if args.floor else ""
    print(f"{'workload':<18} {'ours (median, spread)':<34} {'official (median, spread)':<34} ratio{floor_header}")
    for workload in args.workloads:
        medians = {OURS: [], official: []}
        for i in range(processes):
            if workload == "rss_idle":
                for lib in (OURS, official):
                    medians[lib] += run(exe, workload, 1, [lib])[lib]
                continue
            order = [OURS, official] if i % 2 == 0 else [official, OURS]
            for lib, values in run(exe, workload, samples, order).items():
                medians[lib].append(statistics.median(values))
        cells = []
        for lib in (OURS, official):
            m = statistics.median(medians[lib])
            cells.append((m, f"{fmt(m, workload)} ({fmt(min(medians[lib]), workload)}..{fmt(max(medians[lib]), workload)})"))
        ratio = cells[0][0] / cells[1][0] if cells[1][0] else float("nan")
        floor_cells = ""
        if args.floor and workload in FLOOR_WORKLOADS:
            floor = statistics.median(run_floor([workload])[workload] for _ in range(processes))
            floor_cells = f"  {fmt(floor, workload):<10} {cells[0][0] / floor:.2f}"
            if workload.startswith("echo_"):
                # The physical limit: one memcpy of the input (an echo makes at least three).
                copy = "memcpy_" + workload[len("echo_"):]
                limit = statistics.median(run_floor([copy])[copy] for _ in range(processes))
                floor_cells += f"  memcpy {fmt(limit, copy)}"
        elif args.floor:
            floor_cells = f"  {'-':<10} -"
        print(f"{workload:<18} {cells[0][1]:<34} {cells[1][1]:<34} {ratio:.3f}{floor_cells}", flush=True)
    if args.floor and "create" in args.workloads:
        pooled = statistics.median(run_floor(["create_pooling"])["create_pooling"] for _ in range(processes))
        print(f"floor create with wasmtime's pooling allocator: {fmt(pooled, 'create')}")


if __name__ == "__main__":
    main()
