"""Threads, the GIL, cancel, timeouts, fuel and memory limits.

Every test here has a pytest-timeout mark and joins its threads with a
timeout, so a deadlock fails the test instead of hanging the suite.
"""

import threading
import time

import extism
import pytest
from extism.extism import CancelHandle, CompiledPlugin
from helpers import pdk, read, wat

pytestmark = pytest.mark.timeout(60)

LIMITS = wat("limits")  # infinite_loop, grow_forever, alloc_forever, spin (input length * 1e6 loops)


def join_all(threads, timeout=30.0):
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    assert not alive, f"threads still running (deadlock?): {alive}"


def spin_input(target_seconds):
    """An input for `spin` that runs about `target_seconds` (measured here)."""
    plugin = extism.Plugin(LIMITS, functions=[])
    n = 20
    while True:
        start = time.perf_counter()
        plugin.call("spin", b"x" * n)
        elapsed = time.perf_counter() - start
        if elapsed > 0.02 or n > 100_000:
            break
        n *= 4
    return b"x" * max(1, int(n * target_seconds / max(elapsed, 1e-6)))


def test_gil_is_released_while_plugins_run():
    data = spin_input(0.5)
    plugins = [extism.Plugin(LIMITS, functions=[]) for _ in range(2)]
    started = [threading.Event() for _ in plugins]
    done = [threading.Event() for _ in plugins]
    errors = []
    counter = 0
    stop = threading.Event()

    def run(i):
        started[i].set()
        try:
            plugins[i].call("spin", data)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
        finally:
            done[i].set()

    def count():
        nonlocal counter
        while not stop.is_set():
            counter += 1

    counting = threading.Thread(target=count, name="counter")
    workers = [threading.Thread(target=run, args=(i,), name=f"spin-{i}") for i in range(2)]
    counting.start()
    for w in workers:
        w.start()
    for e in started:
        assert e.wait(10)
    time.sleep(0.05)  # both calls are inside the plugin now
    before = counter
    time.sleep(0.1)
    after = counter
    both_still_running = not any(e.is_set() for e in done)
    join_all(workers)
    stop.set()
    join_all([counting])
    assert not errors, errors
    # Python code (this thread's sleeps and the counter) ran while both
    # plugins were running: neither call held the GIL.
    assert both_still_running, (
        "this thread could not run until a plugin call ended: the GIL was held (or spin_input is miscalibrated)"
    )
    assert after > before


def test_plugins_run_in_parallel_threads_with_host_functions():
    results = {}

    @extism.host_fn()
    def hello_world(inp: str) -> str:
        return "%s@%d" % (inp, threading.get_ident())

    def run(i):
        plugin = extism.Plugin(wat("host"), functions=[hello_world])
        results[i] = [plugin.call("call_host", str(i)).decode() for _ in range(50)]
        results[i, "ident"] = threading.get_ident()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    join_all(threads)
    for i in range(4):
        assert results[i] == ["%d@%d" % (i, results[i, "ident"])] * 50


def test_one_plugin_shared_by_threads_is_serialized():
    plugin = extism.Plugin(wat("vars_config"), functions=[])
    outputs = []
    lock = threading.Lock()

    def run():
        for _ in range(25):
            out = int.from_bytes(plugin.call("counter", ""), "little")
            with lock:
                outputs.append(out)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    join_all(threads)
    # No lost update: every call saw the previous one's var.
    assert sorted(outputs) == list(range(1, 101))


def test_shared_plugin_with_host_function_from_threads():
    @extism.host_fn()
    def hello_world(inp: str) -> str:
        time.sleep(0.001)  # lets other threads take the GIL mid-call
        return inp * 2

    plugin = extism.Plugin(wat("host"), functions=[hello_world])
    failures = []

    def run(i):
        for j in range(20):
            text = f"{i}-{j}"
            out = plugin.call("call_host", text)
            if out != (text * 2).encode():
                failures.append((text, out))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    join_all(threads)
    assert failures == []


def test_compiled_plugin_shared_by_threads():
    compiled = CompiledPlugin(pdk("count_vowels"), functions=[])
    outputs = []

    def run():
        plugin = extism.Plugin(compiled)
        outputs.append(plugin.call("count_vowels", "aeiou" * 10))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    join_all(threads)
    assert outputs == [b'{"count":50}'] * 6


def cancel_until_done(handle, thread, timeout=10.0):
    """Cancel every 20 ms until `thread` ends: a cancel sent before the call
    has started does nothing, and a busy machine may start it late."""
    deadline = time.monotonic() + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        assert handle.cancel() is True
        thread.join(0.02)
    assert not thread.is_alive(), "the cancelled call did not stop"


def test_cancel_from_another_thread():
    plugin = extism.Plugin(LIMITS, functions=[])
    handle = plugin.cancel_handle()
    assert isinstance(handle, CancelHandle) and isinstance(handle, extism.CancelHandle)
    outcome = {}

    def run():
        start = time.monotonic()
        try:
            plugin.call("infinite_loop", b"")
            outcome["result"] = "returned"
        except extism.Error as e:
            outcome["result"] = str(e)
        outcome["elapsed"] = time.monotonic() - start

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.05)
    assert t.is_alive()
    cancel_until_done(handle, t)
    assert outcome["result"] == "timeout"
    # The plugin is still usable, and an idle cancel does not affect the next call.
    assert handle.cancel() is True
    plugin.call("spin", b"")


def test_cancel_a_pdk_plugin():
    plugin = extism.Plugin(pdk("long_loop"), functions=[])
    handle = plugin.cancel_handle()
    errors = []

    def run():
        try:
            plugin.call("spin", "")
        except extism.Error as e:
            errors.append(str(e))

    t = threading.Thread(target=run)
    t.start()
    cancel_until_done(handle, t)
    assert errors == ["timeout"]
    assert plugin.call("spin_n", "10") == b"55"


def test_cancel_stops_only_its_own_plugin():
    compiled = CompiledPlugin(LIMITS, functions=[])
    a, b = extism.Plugin(compiled), extism.Plugin(compiled)
    data = spin_input(0.3)
    results = {}

    def run(name, plugin, function, payload):
        try:
            plugin.call(function, payload)
            results[name] = "ok"
        except extism.Error as e:
            results[name] = str(e)

    ta = threading.Thread(target=run, args=("a", a, "infinite_loop", b""))
    tb = threading.Thread(target=run, args=("b", b, "spin", data))
    ta.start()
    tb.start()
    cancel_until_done(a.cancel_handle(), ta)
    join_all([tb])
    assert results == {"a": "timeout", "b": "ok"}


def test_manifest_timeout():
    plugin = extism.Plugin({"wasm": [{"data": read(LIMITS)}], "timeout_ms": 200}, functions=[])
    start = time.monotonic()
    with pytest.raises(extism.Error, match="^timeout$"):
        plugin.call("infinite_loop", b"")
    assert time.monotonic() - start < 5
    plugin.call("spin", b"")  # usable afterwards


def test_timeout_covers_initializers():
    with pytest.raises(extism.Error, match="timeout"):
        extism.Plugin({"wasm": [{"path": wat("init_loop")}], "timeout_ms": 100}, functions=[])


def test_fuel_limit():
    plugin = extism.Plugin(LIMITS, functions=[], fuel_limit=1_000_000)
    with pytest.raises(extism.Error, match="^plugin ran out of fuel$"):
        plugin.call("infinite_loop", b"")
    # The budget is refilled for every call.
    plugin.call("spin", b"")
    with pytest.raises(extism.Error, match="^plugin ran out of fuel$"):
        plugin.call("spin", b"x" * 10)


def test_fuel_limit_of_a_compiled_plugin():
    compiled = CompiledPlugin(LIMITS, functions=[], fuel_limit=1000)
    plugin = extism.Plugin(compiled, fuel_limit=None)  # a compiled plugin's own limit applies
    with pytest.raises(extism.Error, match="^plugin ran out of fuel$"):
        plugin.call("infinite_loop", b"")


def test_enough_fuel_for_real_work():
    plugin = extism.Plugin(pdk("count_vowels"), functions=[], fuel_limit=10_000_000)
    assert plugin.call("count_vowels", "hello") == b'{"count":2}'


def test_memory_max_pages():
    plugin = extism.Plugin({"wasm": [{"path": LIMITS}], "memory": {"max_pages": 4}}, functions=[])
    with pytest.raises(extism.Error, match="^oom$"):
        plugin.call("grow_forever", b"")
    with pytest.raises(extism.Error, match="^oom$"):
        plugin.call("alloc_forever", b"")
    plugin.call("spin", b"")


def test_cancel_handle_outlives_plugin():
    plugin = extism.Plugin(LIMITS, functions=[])
    handle = plugin.cancel_handle()
    plugin.__del__()
    assert handle.cancel() is True


def test_fuel_consumed_by_the_last_call():
    plugin = extism.Plugin(LIMITS, functions=[], fuel_limit=100_000_000)
    assert plugin.fuel_consumed() is None
    plugin.call("spin", b"")
    idle = plugin.fuel_consumed()
    plugin.call("spin", b"x")
    one = plugin.fuel_consumed()
    assert idle < 1_000 < 1_000_000 < one
    with pytest.raises(extism.Error, match="out of fuel"):
        extism.Plugin(LIMITS, functions=[], fuel_limit=50_000).call("infinite_loop", b"")
    free = extism.Plugin(LIMITS, functions=[])
    free.call("spin", b"")
    assert free.fuel_consumed() is None


def test_time_remaining_inside_a_host_function():
    seen = []

    @extism.host_fn(signature=([extism.ValType.I64], [extism.ValType.I64]))
    def hello_world(plugin, params, results):
        seen.append(plugin.time_remaining())
        results[0].value = params[0].value

    host = wat("host")
    for extra in [{"timeout_ms": 5000}, {}]:
        extism.Plugin({"wasm": [{"path": host}], **extra}, functions=[hello_world]).call("call_host", b"x")
    assert 4.0 < seen[0] <= 5.0
    assert seen[1] is None
