"""Calls and host functions under asyncio: ``call_async`` runs a native call on
a worker thread and cancels it with its task; an async host function runs on
the event loop of the ``call_async`` that started the call, or on a private
loop for a plain ``call``, while the plugin waits.

The state here is one per process: the thread-local ``_ASYNC_CALL``, the call
thread pools and the private loop."""

import asyncio
import concurrent.futures
import inspect
import threading
from typing import Any, Callable, Optional

from ._extism import Error


class _AsyncCall(threading.local):
    """What the thread running a call knows of the ``call_async`` that started
    it: the caller's event loop, and the host coroutines running on it (so
    that cancelling the call cancels them too)."""

    loop: Optional[asyncio.AbstractEventLoop] = None
    pending: Optional["set[concurrent.futures.Future[Any]]"] = None


_ASYNC_CALL = _AsyncCall()
# Threads of their own, not the event loop's default executor. Pool calls (a
# thread waits for an instance, then calls it) have their own: a burst of them
# waiting for instances must never take the threads that plugin calls, say
# those of the instance holders' async host functions, need.
_CALL_THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="extism-call")
_POOL_CALL_THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="extism-pool-call")
_PRIVATE_LOOP: Optional[asyncio.AbstractEventLoop] = None
_PRIVATE_LOOP_LOCK = threading.Lock()


def _private_loop() -> asyncio.AbstractEventLoop:
    """An event loop on a daemon thread of its own, for async host functions
    called through a plain (synchronous) :py:meth:`Plugin.call`."""
    global _PRIVATE_LOOP
    with _PRIVATE_LOOP_LOCK:
        if _PRIVATE_LOOP is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="extism-host-loop", daemon=True).start()
            _PRIVATE_LOOP = loop
        return _PRIVATE_LOOP


def _is_async(f: Any) -> bool:
    # A callable object counts when its class's __call__ is `async def`.
    call = None if inspect.isroutine(f) else vars(type(f)).get("__call__")
    return inspect.iscoroutinefunction(f) or inspect.iscoroutinefunction(call)


def _settle(name: str, declared_async: bool, result: Any) -> Any:
    """A host function's result; an awaitable is awaited first: on the event
    loop of the ``call_async`` running this call, else on a private loop,
    while the plugin waits."""
    if not inspect.isawaitable(result):
        if declared_async:
            raise Error(
                f"host function {name} is declared async but returned {type(result).__name__}, not an awaitable"
            )
        return result

    async def awaited() -> Any:
        return await result

    loop = _ASYNC_CALL.loop or _private_loop()
    future = asyncio.run_coroutine_threadsafe(awaited(), loop)
    pending = _ASYNC_CALL.pending
    if pending is not None:
        pending.add(future)
    try:
        return future.result()
    finally:
        if pending is not None:
            pending.discard(future)


def _call_on_this_thread(
    native: Any,
    loop: asyncio.AbstractEventLoop,
    pending: "set[concurrent.futures.Future[Any]]",
    function_name: str,
    data: Any,
    host_context: Any,
) -> Any:
    """A native call for ``call_async``, on a call thread: its async host
    functions run on ``loop`` and are tracked in ``pending``."""
    _ASYNC_CALL.loop, _ASYNC_CALL.pending = loop, pending
    try:
        return native.call(function_name, data, host_context)
    finally:
        _ASYNC_CALL.loop, _ASYNC_CALL.pending = None, None


async def _run_cancellable(
    threads: concurrent.futures.Executor,
    running: Callable[[], Optional[Any]],
    run: Callable[[], Any],
    pending: "set[concurrent.futures.Future[Any]]",
) -> Any:
    """Run ``run`` on one of ``threads``; when the awaiting task is cancelled and
    ``running()`` names the native plugin whose call runs, cancel that call
    (again every 20 ms: a cancel sent before the call starts is not kept) and
    its host coroutines, wait for the worker, and re-raise ``CancelledError``.
    When ``running()`` is None, no call has started (and none will): raise at
    once."""
    loop = asyncio.get_running_loop()
    worker = loop.run_in_executor(threads, run)
    try:
        return await asyncio.shield(worker)
    except asyncio.CancelledError:
        native = running()
        if native is not None:
            handle = native.cancel_handle()
            while not worker.done():
                handle.cancel()
                for future in list(pending):
                    future.cancel()
                await asyncio.wait({worker}, timeout=0.02)
        raise
