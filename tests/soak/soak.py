"""Soak of the Python frontend under churn (tests/soak/README.md).

Usage: soak.py SECONDS [THREADS]
       soak.py --churn CYCLES

THREADS workers (default 4) run a random mix for SECONDS: plugins created and
freed from bytes and from one compiled plugin, echo calls of random sizes up
to 1 MiB, host functions, vars, timeouts that fire, traps and calls through a
pool; one more worker runs long calls that a canceller thread cancels at
random, together with idle and freed plugins. Every output is checked and
every outcome counted; resident memory is sampled each second and must
plateau (soak_common.plateau). A watchdog fails the run when any worker makes
no progress for 60 s. Prints the figures, then `N passed, N failed`.

With --churn: only create and free plugins, CYCLES times, alternating from
bytes and from one compiled plugin, sampling resident memory every 1000
cycles; it must plateau by the same rule.
"""

import os
import random
import sys
import threading
import time
from collections import Counter

import extism

HERE = os.path.dirname(os.path.abspath(__file__))
WAT = os.path.join(HERE, "..", "fixtures", "wat")
sys.path.insert(0, HERE)
from soak_common import plateau, rss_bytes  # noqa: E402


def wat(name: str) -> bytes:
    with open(os.path.join(WAT, f"{name}.wat"), "rb") as f:
        return f.read()


ECHO, HOST, LIMITS, ERRORS, VARS = (wat(n) for n in ("echo", "host", "limits", "errors", "vars_config"))
RANDOM = os.urandom(1 << 20)


@extism.host_fn(name="hello_world")
def hello_world(name: str) -> str:
    return f"Hello, {name}!"


class Failure(Exception):
    pass


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise Failure(what)


class Soak:
    def __init__(self, seconds: float, threads: int):
        self.seconds = seconds
        self.threads = threads
        self.stop = threading.Event()
        self.counts: Counter = Counter()
        self.lock = threading.Lock()
        self.failures: list = []
        self.progress = [time.monotonic()] * (threads + 2)
        self.compiled = extism.CompiledPlugin(ECHO, functions=[])
        self.pool = extism.Pool(HOST, max_instances=2, functions=[hello_world])
        # Cancel handles of plugins nobody calls, and of freed ones.
        self.idle = [extism.Plugin(ECHO, functions=[]) for _ in range(2)]
        self.handles = [p.cancel_handle() for p in self.idle]
        self.victim_handle = None

    def count(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counts[what] += n

    def payload(self) -> bytes:
        size = random.choice((0, 1, 64, 4096, 65536, random.randrange(1 << 20)))
        start = random.randrange((1 << 20) - size + 1)
        return RANDOM[start : start + size]

    def worker(self, i: int) -> None:
        echo = extism.Plugin(ECHO, functions=[])
        host = extism.Plugin(HOST, functions=[hello_world])
        vars_plugin = extism.Plugin(VARS, functions=[])
        counter = 0
        timed = extism.Plugin({"wasm": [{"data": LIMITS}], "timeout_ms": 20}, functions=[])
        errors = extism.Plugin(ERRORS, functions=[])
        while not self.stop.is_set():
            op = random.choice(("bytes", "compiled", "echo", "echo", "host", "vars", "timeout", "trap", "pool"))
            if op == "bytes":
                p = extism.Plugin(ECHO, functions=[])
                data = self.payload()
                expect(p.call("echo", data) == data, "echo from a new plugin")
                with self.lock:
                    self.handles.append(p.cancel_handle())
                    del self.handles[:-64]
                del p
                self.count("plugins created")
            elif op == "compiled":
                p = extism.Plugin(self.compiled)
                expect(p.call("echo", b"compiled") == b"compiled", "echo from a compiled plugin")
                del p
                self.count("plugins created")
            elif op == "echo":
                data = self.payload()
                expect(echo.call("echo", data) == data, f"echo of {len(data)} bytes")
                self.count("bytes echoed", len(data))
            elif op == "host":
                text = f"t{i}-{random.randrange(1 << 30)}"
                expect(host.call("call_host", text) == f"Hello, {text}!".encode(), "host function")
            elif op == "vars":
                counter += 1
                got = int.from_bytes(vars_plugin.call("counter", b""), "little")
                expect(got == counter, f"var counter {got}, expected {counter}")
            elif op == "timeout":
                try:
                    timed.call("infinite_loop", b"")
                    raise Failure("infinite_loop returned")
                except extism.Error as e:
                    expect(str(e) == "timeout", f"timeout error {e}")
                self.count("timeouts")
            elif op == "trap":
                try:
                    errors.call("trap", b"")
                    raise Failure("trap returned")
                except extism.Error as e:
                    expect("unreachable" in str(e), f"trap error {e}")
                self.count("traps")
            elif op == "pool":
                text = f"pool {random.randrange(1000)}"
                expect(self.pool.call("call_host", text) == f"Hello, {text}!".encode(), "pool call")
                self.count("pool calls")
            self.count("calls")
            self.progress[i] = time.monotonic()

    def victim(self, i: int) -> None:
        """Long calls, cancelled at random by `canceller` (or finishing)."""
        p = extism.Plugin(LIMITS, functions=[])
        self.victim_handle = p.cancel_handle()
        while not self.stop.is_set():
            try:
                p.call("spin", b"x" * random.randrange(1, 40))
                self.count("long calls finished")
            except extism.Error as e:
                expect(str(e) == "timeout", f"cancelled call: {e}")
                self.count("long calls cancelled")
            self.progress[i] = time.monotonic()

    def canceller(self, i: int) -> None:
        while not self.stop.is_set():
            time.sleep(random.random() * 0.02)
            with self.lock:
                targets = [self.victim_handle] + random.sample(self.handles, min(3, len(self.handles)))
            for h in targets:
                if h is not None:
                    h.cancel()
                    self.count("cancels sent")
            self.progress[i] = time.monotonic()

    def guarded(self, f, i: int) -> None:
        try:
            f(i)
        except BaseException as e:  # any failure ends the soak
            self.failures.append(f"{f.__name__} {i}: {type(e).__name__}: {e}")
            self.stop.set()

    def run(self) -> int:
        start = time.monotonic()
        workers = [threading.Thread(target=self.guarded, args=(self.worker, i)) for i in range(self.threads)]
        workers.append(threading.Thread(target=self.guarded, args=(self.victim, self.threads)))
        workers.append(threading.Thread(target=self.guarded, args=(self.canceller, self.threads + 1)))
        for t in workers:
            t.start()
        samples = []
        while not self.stop.is_set() and time.monotonic() - start < self.seconds:
            time.sleep(1)
            samples.append(rss_bytes())
            stalled = [i for i, t in enumerate(self.progress) if time.monotonic() - t > 60]
            if stalled:
                self.failures.append(f"watchdog: workers {stalled} made no progress for 60 s")
                print("\n".join(self.failures), flush=True)
                os._exit(3)
        self.stop.set()
        for t in workers:
            t.join(60)
            if t.is_alive():
                self.failures.append("watchdog: a worker did not stop within 60 s")
                print("\n".join(self.failures), flush=True)
                os._exit(3)
        self.pool.close()
        ok, summary = plateau(samples)
        if not ok:
            self.failures.append(summary)
        elapsed = time.monotonic() - start
        figures = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        print(f"soak python: {elapsed:.0f} s, {self.threads} workers: {figures}")
        print(f"soak python: resident memory {summary}")
        for f in self.failures:
            print(f"FAIL {f}")
        print(f"{0 if self.failures else 1} passed, {1 if self.failures else 0} failed")
        return 1 if self.failures else 0


def churn(cycles: int) -> int:
    compiled = extism.CompiledPlugin(ECHO, functions=[])
    samples = []
    start = time.monotonic()
    for k in range(cycles):
        p = extism.Plugin(ECHO, functions=[]) if k % 2 == 0 else extism.Plugin(compiled)
        del p
        if k % 1000 == 0:
            samples.append(rss_bytes())
    ok, summary = plateau(samples)
    print(f"churn python: {cycles} plugins created and freed in {time.monotonic() - start:.1f} s; resident memory {summary}")
    print(f"{int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--churn"]:
        sys.exit(churn(int(sys.argv[2])))
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    sys.exit(Soak(seconds, threads).run())
