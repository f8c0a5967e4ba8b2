"""``Pool``: instances of one compiled plugin shared by many callers, each lent
as a ``PoolLease`` (not in the official SDK)."""

import asyncio
import concurrent.futures
import json
import os
import threading
from typing import Any, List, Optional, Union

from . import _extism
from ._async import _POOL_CALL_THREADS, _call_on_this_thread, _run_cancellable
from ._extism import Error
from ._host_functions import HOST_FN_REGISTRY, Function
from ._plugin import CallInput, CompiledPlugin, OutputParser, Plugin, _parsed


class PoolLease:
    """
    One instance of a :py:class:`Pool`, lent to one caller: ``with
    pool.get() as plugin`` gives the :py:class:`Plugin`; leaving the block
    gives it back. Not in the official SDK.
    """

    def __init__(self, native: Any, compiled: CompiledPlugin):
        self._native = native
        self.plugin = Plugin._lent(native.plugin, compiled)

    def release(self) -> None:
        """Give the instance back to the pool (again: nothing happens)."""
        self.plugin.plugin = -1
        self._native.release()

    def __enter__(self) -> Plugin:
        return self.plugin

    def __exit__(self, type: Any, exc: Any, traceback: Any) -> None:
        self.release()


class Pool:
    """
    Up to ``max_instances`` plugins made from one compiled plugin, each used by
    one caller at a time; callers wait, in order, for a free one. Not in the
    official SDK.

    .. sourcecode:: python

        with extism.Pool("count_vowels.wasm", max_instances=4, functions=[]) as pool:
            print(pool.call("count_vowels", "hello"))
            with pool.get() as plugin:  # one instance for several calls
                plugin.call("count_vowels", "a")

    :param plugin: anything :py:class:`Plugin` takes, including a
                   :py:class:`CompiledPlugin` (then ``wasi``, ``functions`` and
                   ``fuel_limit`` are its own).
    :param max_instances: the most instances at once; by default the number of CPUs.
    :param wasi: provide WASI preview 1.
    :param config: config merged into each instance (as :py:class:`Plugin` does).
    :param functions: the host functions; by default every ``@host_fn``.
    :param fuel_limit: a fuel budget for each call.
    :raises: :py:class:`extism.Error` (bad plugin, or ``max_instances`` below 1),
             ``TypeError`` (``max_instances`` not an int)
    """

    def __init__(
        self,
        plugin: Union[str, bytes, CompiledPlugin, dict, "os.PathLike[str]"],
        *,
        max_instances: Optional[int] = None,
        wasi: bool = False,
        config: Optional[Any] = None,
        functions: Optional[List[Function]] = HOST_FN_REGISTRY,
        fuel_limit: Optional[int] = None,
    ):
        if max_instances is None:
            max_instances = os.cpu_count() or 1
        if isinstance(max_instances, bool) or not isinstance(max_instances, int):
            raise TypeError(f"max_instances must be an int, not {type(max_instances).__name__}")
        if max_instances < 1:
            raise Error(f"max_instances must be at least 1, not {max_instances}")
        if isinstance(plugin, CompiledPlugin):
            self.compiled_plugin = plugin
        else:
            self.compiled_plugin = CompiledPlugin(plugin, wasi, functions, fuel_limit)
        config_json = json.dumps(config).encode() if config is not None else None
        self._pool: Any = _extism.Pool(self.compiled_plugin.pointer, max_instances, config_json)

    @property
    def max_instances(self) -> int:
        """The most instances that may exist at once."""
        return int(self._pool.max_instances)

    @property
    def closed(self) -> bool:
        """Whether :py:meth:`close` was called."""
        return bool(self._pool.closed)

    def get(self, timeout: Optional[float] = None) -> PoolLease:
        """
        An instance for this caller alone, to use in a ``with`` block.

        :param timeout: the most seconds to wait for a free instance (None: no limit).
        :raises: :py:class:`extism.Error` ``timed out waiting for a free plugin
                 instance``, ``the plugin pool is closed``, or an instantiation error.
        """
        return PoolLease(self._pool.get(timeout), self.compiled_plugin)

    def call(
        self,
        function_name: str,
        data: CallInput,
        parse: OutputParser = bytes,
        timeout: Optional[float] = None,
        host_context: Any = None,
    ) -> Any:
        """
        :py:meth:`Plugin.call` on a free instance; ``timeout`` bounds the wait
        for one (see :py:meth:`get`).
        """
        with self.get(timeout) as plugin:
            return plugin.call(function_name, data, parse, host_context)

    async def call_async(
        self,
        function_name: str,
        data: CallInput,
        parse: OutputParser = bytes,
        host_context: Any = None,
        timeout: Optional[float] = None,
    ) -> Any:
        """
        :py:meth:`Plugin.call_async` on a free instance, waiting for one
        without blocking the event loop; cancelling the task while it waits
        gives the instance back as soon as it arrives.
        """
        loop = asyncio.get_running_loop()
        pending: "set[concurrent.futures.Future[Any]]" = set()
        # One hop: the call thread waits for an instance and calls it. If the
        # task is cancelled first, the thread gives the instance straight back.
        state = threading.Lock()
        lent: List[Any] = []
        given_up = [False]

        def run() -> Any:
            lease = self._pool.get(timeout)
            try:
                with state:
                    if given_up[0]:
                        return None
                    lent.append(lease.plugin)
                return _call_on_this_thread(lease.plugin, loop, pending, function_name, data, host_context)
            finally:
                lease.release()

        def running() -> Optional[Any]:
            with state:
                given_up[0] = True
                return lent[0] if lent else None

        return _parsed(await _run_cancellable(_POOL_CALL_THREADS, running, run, pending), parse)

    def close(self) -> None:
        """
        Refuse new calls (waiting callers fail with ``the plugin pool is
        closed``); calls already running finish.
        """
        self._pool.close()

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, type: Any, exc: Any, traceback: Any) -> None:
        self.close()
