"""Python-level workloads, run with whichever `extism` package is importable
(this project's or the official SDK). Prints `workload ns_per_op` lines.

Usage: python workloads.py PLUGIN.wat [WORKLOAD ...]
"""
import sys
import threading
import time

import extism

PLUGIN = open(sys.argv[1], "rb").read()
SAMPLES = 5


@extism.host_fn(name="bench_host", namespace="extism:host/user")
def bench_host(data: bytes) -> bytes:
    return data


def timed(n, fn):
    start = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - start) / n


def plugin():
    return extism.Plugin(PLUGIN, functions=[bench_host])


def workload_create():
    return timed(20, lambda: plugin().call("noop", b""))


def workload_empty_call():
    p = plugin()
    return timed(5000, lambda: p.call("noop", b""))


def workload_echo_64():
    p = plugin()
    data = b"x" * 64
    return timed(5000, lambda: p.call("echo", data))


def workload_echo_1m():
    p = plugin()
    data = b"x" * (1 << 20)
    return timed(20, lambda: p.call("echo", data))


def workload_host():
    p = plugin()
    data = b"hello host"
    return timed(3000, lambda: p.call("host", data))


def for_a_second(calls):
    """Run each of `calls` in a loop on its own thread for a second; ns per
    call overall."""
    done = [0] * len(calls)
    stop = time.perf_counter() + 1.0

    def run(i):
        while time.perf_counter() < stop:
            calls[i]()
            done[i] += 1

    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    start = time.perf_counter_ns()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return (time.perf_counter_ns() - start) / max(1, sum(done))


def threads(count):
    """`count` threads, each with its own plugin, echoing 64 KiB."""
    data = b"y" * 65536
    return for_a_second([lambda p=plugin(): p.call("echo", data) for _ in range(count)])


def workload_threads_1():
    return threads(1)


def workload_threads_2():
    return threads(2)


COUNT_DATA = b"a" * 65536


def shared_calls():
    """`call()` for callers sharing one plugin: this project's Pool of 2
    instances, or, with the official SDK (which has no pool), one plugin behind
    a lock, the only safe way to share it there."""
    if hasattr(extism, "Pool"):
        pool = extism.Pool(PLUGIN, max_instances=2, functions=[bench_host])
        return lambda: pool.call("count_vowels", COUNT_DATA), pool
    shared = plugin()
    lock = threading.Lock()

    def call():
        with lock:
            return shared.call("count_vowels", COUNT_DATA)

    return call, None


def pooled(count):
    """`count` threads sharing one plugin (`shared_calls`), counting vowels in 64 KiB."""
    call, pool = shared_calls()
    ns = for_a_second([call] * count)
    if pool is not None:
        pool.close()
    return ns


def workload_pool_threads_1():
    return pooled(1)


def workload_pool_threads_2():
    return pooled(2)


def workload_pool_threads_4():
    return pooled(4)


def workload_pool_gather_4():
    """asyncio.gather over 4 callers for a fixed time: `Pool.call_async` here,
    `asyncio.to_thread` of the locked call with the official SDK."""
    import asyncio

    call, pool = shared_calls()
    done = [0]

    async def caller(stop):
        while time.perf_counter() < stop:
            if pool is not None:
                await pool.call_async("count_vowels", COUNT_DATA)
            else:
                await asyncio.to_thread(call)
            done[0] += 1

    async def main():
        stop = time.perf_counter() + 1.0
        await asyncio.gather(*(caller(stop) for _ in range(4)))

    start = time.perf_counter_ns()
    asyncio.run(main())
    if pool is not None:
        pool.close()
    return (time.perf_counter_ns() - start) / max(1, done[0])


WORKLOADS = [name[len("workload_"):] for name in dir() if name.startswith("workload_")]

if __name__ == "__main__":
    for name in sys.argv[2:] or WORKLOADS:
        fn = globals()["workload_" + name]
        fn()  # warm-up
        values = [fn() for _ in range(SAMPLES)]
        print(name, " ".join(f"{v:.1f}" for v in values), flush=True)
