"""extism.Pool, Plugin.call_async and async host functions (not in the official SDK)."""

import asyncio
import threading
import time

import extism
import pytest
from extism.extism import CompiledPlugin
from helpers import wat

ECHO = wat("echo")
LIMITS = wat("limits")  # infinite_loop, spin (input length * 1e6 loops)
HOST = wat("host")  # call_host: input block -> hello_world(i64) -> i64 -> output block


def test_eight_callers_share_two_instances_exclusively():
    with extism.Pool(ECHO, max_instances=2, functions=[]) as pool:
        active, seen, lock, failures = set(), set(), threading.Lock(), []

        def worker(t):
            for i in range(100):
                with pool.get() as plugin:
                    with lock:
                        if plugin.id in active:
                            failures.append("instance handed to two callers")
                        active.add(plugin.id)
                        seen.add(plugin.id)
                    text = f"thread {t} call {i}"
                    if plugin.call("echo", text) != text.encode():
                        failures.append(f"wrong output for {text}")
                    with lock:
                        active.discard(plugin.id)
                assert pool.call("echo", f"{t}/{i}", parse=None) == f"{t}/{i}".encode()

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert failures == []
        # How many were needed depends on how the callers overlapped.
        assert 1 <= len(seen) <= 2
        assert pool._pool.instances <= 2


def test_instances_are_made_on_demand_up_to_the_maximum():
    pool = extism.Pool(ECHO, max_instances=2, functions=[])
    assert pool._pool.instances == 0
    with pool.get() as first, pool.get() as second:
        assert first.id != second.id
        assert pool._pool.instances == 2
        with pytest.raises(extism.Error, match="timed out"):
            pool.get(timeout=0.02)


def test_waiters_are_served_in_order():
    pool = extism.Pool(ECHO, max_instances=1, functions=[])
    order = []
    held = pool.get()
    threads = []

    def waiter(n):
        with pool.get() as plugin:
            # Recorded while the instance is held: the order of hand-out.
            order.append(int(plugin.call("echo", str(n))))

    for n in range(4):
        th = threading.Thread(target=waiter, args=(n,))
        th.start()
        threads.append(th)
        time.sleep(0.1)  # each waiter queues before the next asks
    held.release()
    for th in threads:
        th.join()
    assert order == [0, 1, 2, 3]


def test_wait_limits_and_closed_pools():
    pool = extism.Pool(ECHO, max_instances=1, functions=[])
    with pool.get() as plugin:
        assert plugin.call("echo", "mine") == b"mine"
        start = time.monotonic()
        with pytest.raises(extism.Error, match="^timed out waiting for a free plugin instance$"):
            pool.call("echo", "x", timeout=0.1)
        assert time.monotonic() - start >= 0.1
        with pytest.raises(ValueError, match="timeout"):
            pool.get(timeout=-1)
    # Given back: usable again, with no wait.
    assert pool.call("echo", "again", timeout=0) == b"again"
    pool.close()
    assert pool.closed
    with pytest.raises(extism.Error, match="^the plugin pool is closed$"):
        pool.call("echo", "x")


def test_close_lets_a_running_call_finish():
    entered, go = threading.Event(), threading.Event()

    @extism.host_fn(signature=([extism.ValType.I64], [extism.ValType.I64]))
    def hello_world(plugin, params, results):
        entered.set()
        go.wait(10)
        results[0].value = params[0].value

    pool = extism.Pool(HOST, max_instances=1, functions=[hello_world])
    outcome = []
    running = threading.Thread(target=lambda: outcome.append(pool.call("call_host", "still here")))
    running.start()
    assert entered.wait(10)
    waiter_error = []

    def waiter():
        try:
            pool.call("call_host", "late")
        except extism.Error as e:
            waiter_error.append(str(e))

    late = threading.Thread(target=waiter)
    late.start()
    time.sleep(0.05)
    pool.close()
    late.join(10)
    assert waiter_error == ["the plugin pool is closed"]
    go.set()
    running.join(10)
    assert outcome == [b"still here"]
    assert pool._pool.instances == 0


def test_pools_of_compiled_plugins_with_config():
    compiled = CompiledPlugin(wat("vars_config"), functions=[])
    with extism.Pool(compiled, max_instances=2, config={"greeting": "hi"}) as pool:
        assert pool.call("config", "greeting") == b"hi"
        assert pool.max_instances == 2
    assert extism.Pool(ECHO, functions=[]).max_instances >= 1  # the number of CPUs


def test_bad_pool_arguments():
    with pytest.raises(extism.Error, match="max_instances must be at least 1, not 0"):
        extism.Pool(ECHO, max_instances=0, functions=[])
    with pytest.raises(extism.Error, match="max_instances must be at least 1, not -2"):
        extism.Pool(ECHO, max_instances=-2, functions=[])
    with pytest.raises(TypeError, match="max_instances must be an int, not str"):
        extism.Pool(ECHO, max_instances="2", functions=[])
    with pytest.raises(extism.Error, match="Unable to compile Extism plugin"):
        extism.Pool(b"not wasm", max_instances=1, functions=[])


def test_call_async_keeps_the_event_loop_free():
    plugin = extism.Plugin(LIMITS, functions=[])

    async def main():
        ticks = 0
        done = False

        async def ticker():
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0.001)

        tick_task = asyncio.create_task(ticker())
        out = await plugin.call_async("spin", b"x" * 300)  # about 0.3 s of wasm
        done = True
        await tick_task
        return out, ticks

    out, ticks = asyncio.run(main())
    assert out == b""
    assert ticks > 10, "the event loop ran while the plugin did"


def test_cancelling_the_task_cancels_the_plugin_call():
    plugin = extism.Plugin(LIMITS, functions=[])

    async def main():
        task = asyncio.create_task(plugin.call_async("infinite_loop", b""))
        await asyncio.sleep(0.1)
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - start

    assert asyncio.run(main()) < 2.0
    # The plugin stays usable, synchronously and asynchronously.
    assert plugin.call("spin", b"") == b""
    assert asyncio.run(plugin.call_async("spin", b"", parse=None)) == b""


def test_async_host_functions_run_on_the_callers_loop():
    loops = []

    @extism.host_fn(name="hello_world")
    async def hello_world(name: str) -> str:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0.01)
        return f"Hello, {name}!"

    plugin = extism.Plugin(HOST, functions=[hello_world])

    async def main():
        return await plugin.call_async("call_host", "async"), asyncio.get_running_loop()

    out, caller_loop = asyncio.run(main())
    assert out == b"Hello, async!"
    assert loops[-1] is caller_loop
    # Through a plain call they run to completion on a private loop.
    assert plugin.call("call_host", "sync") == b"Hello, sync!"
    assert loops[-1] is not caller_loop


def test_async_host_functions_that_raise():
    @extism.host_fn(signature=([extism.ValType.I64], [extism.ValType.I64]))
    async def hello_world(plugin, params, results):
        await asyncio.sleep(0)
        raise ValueError("no greeting today")

    plugin = extism.Plugin(HOST, functions=[hello_world])
    for run in (lambda: plugin.call("call_host", "x"), lambda: asyncio.run(plugin.call_async("call_host", "x"))):
        with pytest.raises(extism.Error, match="no greeting today") as info:
            run()
        assert isinstance(info.value.__cause__, ValueError)


def test_gather_over_a_pool():
    @extism.host_fn(name="hello_world")
    async def hello_world(name: str) -> str:
        await asyncio.sleep(0.01)
        return f"Hello, {name}!"

    with extism.Pool(HOST, max_instances=2, functions=[hello_world]) as pool:

        async def main():
            return await asyncio.gather(*(pool.call_async("call_host", str(n)) for n in range(8)))

        assert asyncio.run(main()) == [f"Hello, {n}!".encode() for n in range(8)]
        assert pool._pool.instances <= 2


def test_cancel_while_waiting_for_a_pool_instance_gives_it_back():
    pool = extism.Pool(ECHO, max_instances=1, functions=[])

    async def main():
        held = pool.get()
        task = asyncio.create_task(pool.call_async("echo", "waiting"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        held.release()
        # The instance the cancelled waiter received goes back to the pool.
        return await pool.call_async("echo", "next", timeout=5)

    assert asyncio.run(main()) == b"next"


def test_a_host_function_declared_async_that_returns_no_awaitable(monkeypatch):
    # A function counted as async (as functools.wraps or markcoroutinefunction
    # can make a plain one) that returns a plain value: a clear error.
    monkeypatch.setattr(extism._host_functions, "_is_async", lambda f: True)

    @extism.host_fn(name="hello_world")
    def hello_world(name: str) -> str:
        return f"Hello, {name}!"

    plugin = extism.Plugin(HOST, functions=[hello_world])
    text = "host function hello_world is declared async but returned str, not an awaitable"
    for run in (lambda: plugin.call("call_host", "x"), lambda: asyncio.run(plugin.call_async("call_host", "x"))):
        with pytest.raises(extism.Error, match=text):
            run()
