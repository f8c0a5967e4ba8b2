#!/usr/bin/env python3
"""Conformance runner for the Python frontend (the installed `extism` package).

Runs every case of cases.json (README.md there describes the format) and prints
`ok NAME`, `FAIL NAME: why` or `skip NAME: why` per case, then
`N passed, N failed, N skipped`. Exits 1 on any failure.

Usage: runner.py [cases.json] [--repo DIR] [--only NAME]...
"""

import asyncio
import base64
import json
import os
import shutil
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

import extism

HERE = os.path.dirname(os.path.abspath(__file__))

# What this frontend's API cannot express (see README.md, "Skips").
UNSUPPORTED_HOST_FUNCTIONS = {
    "set_error_host": "the Python SDK has no way for a host function to set the plugin error without failing",
}
UNSUPPORTED_NEEDS: Dict[str, str] = {}


# ---------------------------------------------------------------- case data


def decode_bytes(value: Any) -> bytes:
    """An input/output form of cases.json as bytes: text, {hex}, {repeat, count}."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, dict) and "hex" in value:
        return bytes.fromhex(value["hex"])
    if isinstance(value, dict) and "repeat" in value:
        return str(value["repeat"]).encode() * int(value["count"])
    raise ValueError(f"bad bytes form: {value!r}")


class Env:
    """Per-case substitutions: $HTTP (the runner's server) and $TMPDIR (a fresh directory)."""

    def __init__(self, repo: str, http_base: Optional[str], tmpdir: Optional[str]):
        self.repo = repo
        self.http_base = http_base
        self.tmpdir = tmpdir

    def subst(self, s: str) -> str:
        if self.http_base is not None:
            s = s.replace("$HTTP", self.http_base)
        if self.tmpdir is not None:
            s = s.replace("$TMPDIR", self.tmpdir)
        return s

    def fixture_path(self, ref: Dict[str, str]) -> str:
        if "wat" in ref:
            return os.path.join(self.repo, "tests", "fixtures", "wat", ref["wat"] + ".wat")
        if "pdk" in ref:
            fixtures = os.environ.get("EXTISM_FIXTURES", os.path.join(self.repo, "target", "fixtures"))
            return os.path.join(fixtures, "as_" + ref["pdk"] + ".wasm")
        raise ValueError(f"bad fixture reference: {ref!r}")

    def manifest_value(self, v: Any) -> Any:
        """A manifest JSON value with every string substituted."""
        if isinstance(v, str):
            return self.subst(v)
        if isinstance(v, list):
            return [self.manifest_value(x) for x in v]
        if isinstance(v, dict):
            return {self.subst(k): self.manifest_value(x) for k, x in v.items()}
        return v

    def wasm_entry(self, entry: Dict[str, Any]) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for k, v in entry.items():
            if k == "fixture":
                out["path"] = self.fixture_path(v)
            elif k == "fixture_data":
                with open(self.fixture_path(v), "rb") as f:
                    out["data"] = base64.b64encode(f.read()).decode()
            else:
                out[k] = self.manifest_value(v)
        return out

    def source(self, plugin: Dict[str, Any]) -> Any:
        """What `extism.Plugin` is given for the case's `plugin`."""
        if "wasm" in plugin:
            manifest = {k: self.manifest_value(v) for k, v in plugin.items() if k != "wasm"}
            manifest["wasm"] = [self.wasm_entry(e) for e in plugin["wasm"]]
            return manifest  # a dict: the SDK serializes it with json.dumps
        if "wat" in plugin or "pdk" in plugin:
            with open(self.fixture_path(plugin), "rb") as f:
                return f.read()
        if "text" in plugin:
            return self.subst(plugin["text"])  # a str that is not a file: sent as its UTF-8 bytes
        if "bytes" in plugin:
            return decode_bytes(plugin["bytes"])
        raise ValueError(f"bad plugin: {plugin!r}")


# ------------------------------------------------------- host functions


def host_function(import_name: str, impl: str) -> extism.Function:
    """The catalogue (README.md): every entry has the type (i64) -> i64."""

    def hello_world(cp: Any, inputs: List[extism.Val], outputs: List[extism.Val]) -> None:
        cp.return_bytes(outputs[0], b"Hello, " + cp.input_bytes(inputs[0]) + b"!")

    def echo_host(cp: Any, inputs: List[extism.Val], outputs: List[extism.Val]) -> None:
        outputs[0].value = inputs[0].value

    def null_host(cp: Any, inputs: List[extism.Val], outputs: List[extism.Val]) -> None:
        outputs[0].value = 0

    def bad_handle_host(cp: Any, inputs: List[extism.Val], outputs: List[extism.Val]) -> None:
        outputs[0].value = 12345

    def fail_host(cp: Any, inputs: List[extism.Val], outputs: List[extism.Val]) -> None:
        raise RuntimeError("host said no")

    def context_host(cp: Any, inputs: List[extism.Val], outputs: List[extism.Val]) -> None:
        ctx = cp.host_context()
        if ctx is None:
            outputs[0].value = 0
        else:
            cp.return_bytes(outputs[0], ctx.encode())

    impls = {
        "hello_world": hello_world,
        "echo_host": echo_host,
        "null_host": null_host,
        "bad_handle_host": bad_handle_host,
        "fail_host": fail_host,
        "context_host": context_host,
    }
    return extism.Function(None, import_name, [extism.ValType.I64], [extism.ValType.I64], impls[impl])


# ------------------------------------------------------- result mapping

# The core's error kinds (`extism.Error.kind`) as the cases name them.
KINDS = {
    "Plugin": "plugin",
    "Trap": "trap",
    "Timeout": "timeout",
    "OutOfFuel": "fuel",
    "OutOfMemory": "oom",
    "FunctionNotFound": "not_found",
    "ExportType": "not_found",
    "HostFunction": "host",
    "VarLimit": "host",
    "Exit": "exit",
}


def map_error(err: Optional[BaseException]) -> Tuple[str, Optional[str]]:
    """The frontend's result as (error_kind, core text).

    Python surfaces every failure as `extism.Error(text)` with the core's text
    and its kind in `kind`; a Python host function's exception is the
    `__cause__`.
    """
    if err is None:
        return "none", None
    text = str(err)
    if err.__cause__ is not None:
        return "host", text
    kind = getattr(err, "kind", None)
    return KINDS.get(kind, f"other({kind})"), text


CREATE_PREFIXES = ("Unable to compile Extism plugin: ", "Unable to create Extism plugin: ")


def split_create_error(text: str) -> Tuple[Optional[str], str]:
    """A creation error as (prefix or None, root text)."""
    for p in CREATE_PREFIXES:
        if text.startswith(p):
            return p, text[len(p) :]
    return None, text


# ------------------------------------------------------------- HTTP server


class Handler(BaseHTTPRequestHandler):
    """The fixed routes every runner serves (README.md)."""

    protocol_version = "HTTP/1.1"

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _route(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/hello":
            self._reply(200, b"hello over http")
        elif self.path == "/echo":
            self._reply(200, body)
        else:
            self._reply(404, b"not found")

    do_GET = _route
    do_POST = _route
    do_PUT = _route

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_http() -> Tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# ---------------------------------------------------------------- running


class Skip(Exception):
    pass


class Canceller:
    """Cancels after `ms`, then again every 20 ms until stopped: a cancel sent before
    the call started is a no-op (docs/abi.md, Cancel), and a busy machine may start it late."""

    def __init__(self, handle: Any, ms: int):
        self.handle = handle
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ms,), daemon=True)
        self.thread.start()

    def _run(self, ms: int) -> None:
        if self.done.wait(ms / 1000.0):
            return
        while not self.done.is_set():
            self.handle.cancel()
            self.done.wait(0.02)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def check_step(step: Dict[str, Any], env: Env, err: Optional[BaseException], output: bytes) -> Optional[str]:
    """None when the step's result matches its `expect`, else why not."""
    expect = step.get("expect", {})
    kind, text = map_error(err)
    want_kind = expect.get("error_kind", "none")
    if kind != want_kind:
        return f"expected {want_kind}, got {kind} ({text!r})"
    if "error_text" in expect and text != env.subst(expect["error_text"]):
        return f"error text {text!r}, expected {env.subst(expect['error_text'])!r}"
    if "error_contains" in expect and env.subst(expect["error_contains"]) not in (text or ""):
        return f"error text {text!r} lacks {env.subst(expect['error_contains'])!r}"
    # rc: Python exposes no return code.
    if kind == "none":
        if "output" in expect:
            want = decode_bytes(expect["output"])
            if output != want:
                return f"output {output[:80]!r} (len {len(output)}), expected {want[:80]!r} (len {len(want)})"
        if "output_len" in expect and len(output) != expect["output_len"]:
            return f"output length {len(output)}, expected {expect['output_len']}"
        if "output_prefix" in expect and not output.startswith(decode_bytes(expect["output_prefix"])):
            return f"output {output[:80]!r} does not start with {expect['output_prefix']!r}"
    return None


Result = Tuple[Optional[BaseException], bytes]


def call_step(target: Any, step: Dict[str, Any], data: bytes, use_async: bool) -> List[Result]:
    """Run a call step on a Plugin or Pool: once, or `concurrently` times at
    once (threads, or asyncio.gather with `use_async`); one result each."""
    name, context = step["function"], step.get("host_context")
    count = step.get("concurrently", 1)

    async def one_async() -> Result:
        try:
            return None, await target.call_async(name, data, host_context=context)
        except extism.Error as e:
            return e, b""

    if use_async:

        async def all_async() -> List[Result]:
            return list(await asyncio.gather(*(one_async() for _ in range(count))))

        return asyncio.run(all_async())

    results: List[Result] = [(None, b"")] * count

    def one(k: int) -> None:
        try:
            results[k] = (None, target.call(name, data, host_context=context))
        except extism.Error as e:
            results[k] = (e, b"")

    if count == 1:
        one(0)
        return results
    threads = [threading.Thread(target=one, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def run_case(case: Dict[str, Any], repo: str, http_base: str) -> Optional[str]:
    for need in case.get("needs", []):
        if need in UNSUPPORTED_NEEDS:
            raise Skip(UNSUPPORTED_NEEDS[need])
    host = case.get("host_functions", {})
    for impl in host.values():
        if impl in UNSUPPORTED_HOST_FUNCTIONS:
            raise Skip(f"{impl}: {UNSUPPORTED_HOST_FUNCTIONS[impl]}")

    tmpdir = None
    if case.get("tmpdir"):
        tmpdir = tempfile.mkdtemp(prefix="extism-conformance-")
        with open(os.path.join(tmpdir, "hello.txt"), "w") as f:
            f.write("hello from the host\n")
    try:
        env = Env(repo, http_base if case.get("http") else None, tmpdir)
        functions = [host_function(name, impl) for name, impl in host.items()]
        try:
            options: Dict[str, Any] = {
                "wasi": bool(case.get("wasi", False)),
                "functions": functions,
                "fuel_limit": case.get("fuel_limit"),
            }
            if "pool" in case:
                # Every call step goes through a pool of that many instances.
                plugin = extism.Pool(env.source(case["plugin"]), max_instances=case["pool"], **options)
            else:
                plugin = extism.Plugin(env.source(case["plugin"]), **options)
            create_error = None
        except extism.Error as e:
            create_error = str(e)

        if "expect_create_error_contains" in case:
            if create_error is None:
                return "creation succeeded, expected an error"
            prefix, root = split_create_error(create_error)
            want = env.subst(case["expect_create_error_contains"])
            if want not in root:
                return f"creation error {create_error!r} lacks {want!r}"
            want_prefix = case.get("expect_create_error_prefix")
            if want_prefix is not None and prefix != want_prefix:
                return f"creation error {create_error!r} lacks the prefix {want_prefix!r}"
            return None
        if create_error is not None:
            return f"creation failed: {create_error}"

        try:
            for i, step in enumerate(case.get("steps", [])):
                if "pool" in case and "function" not in step:
                    return f"step {i}: a pool case has only call steps"
                if "config" in step:
                    # The official SDK merges config only at creation (Plugin(config=...));
                    # the native plugin's update_config is the same merge, at any time.
                    plugin.plugin.update_config(json.dumps(step["config"]).encode())
                    continue
                if step.get("reset"):
                    plugin.reset()
                    continue
                if "function_exists" in step:
                    name = step["function_exists"]
                    got = plugin.function_exists(name)
                    if got is not step["expect"]:
                        return f"step {i}: function_exists({name!r}) is {got}, expected {step['expect']}"
                    continue
                if step.get("cancel"):
                    if plugin.cancel_handle().cancel() is not True:
                        return f"step {i}: cancel returned False"
                    continue
                raw = step.get("input", "")
                data = env.subst(raw).encode() if isinstance(raw, str) else decode_bytes(raw)
                canceller = None
                if "cancel_after_ms" in step:
                    canceller = Canceller(plugin.cancel_handle(), step["cancel_after_ms"])
                try:
                    results = call_step(plugin, step, data, bool(case.get("async")))
                finally:
                    if canceller is not None:
                        canceller.stop()
                for err, output in results:
                    why = check_step(step, env, err, output)
                    if why is not None:
                        return f"step {i} ({step['function']}): {why}"
        finally:
            if isinstance(plugin, extism.Pool):
                plugin.close()
            del plugin
        return None
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


def main(argv: List[str]) -> int:
    args = argv[1:]
    repo = os.path.abspath(os.path.join(HERE, "..", ".."))
    only: List[str] = []
    cases_path = os.path.join(HERE, "cases.json")
    while args:
        a = args.pop(0)
        if a == "--repo":
            repo = os.path.abspath(args.pop(0))
        elif a == "--only":
            only.append(args.pop(0))
        else:
            cases_path = a
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)

    server, http_base = start_http()
    passed = failed = skipped = 0
    for case in cases:
        name = case["name"]
        if only and name not in only:
            continue
        try:
            why = run_case(case, repo, http_base)
        except Skip as s:
            print(f"skip {name}: {s}", flush=True)
            skipped += 1
            continue
        except Exception as e:  # a runner or frontend bug: report it as a failure
            why = f"unexpected {type(e).__name__}: {e}"
        if why is None:
            print(f"ok {name}", flush=True)
            passed += 1
        else:
            print(f"FAIL {name}: {why}", flush=True)
            failed += 1
    server.shutdown()
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
