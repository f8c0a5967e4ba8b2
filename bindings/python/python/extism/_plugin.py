"""Plugins: ``CompiledPlugin`` (compile once), ``Plugin`` (an instance, called
with ``call`` or ``call_async``) and ``CancelHandle``; and ``_wasm``, which
turns what they are given (a path, WAT, a manifest ``dict``, bytes) into the
bytes the runtime loads."""

import asyncio
import concurrent.futures
import json
import os
from base64 import b64encode
from typing import Any, Callable, List, Optional, Union
from urllib.parse import urlparse
from urllib.request import url2pathname
from uuid import UUID

from . import _extism
from ._async import _CALL_THREADS, _call_on_this_thread, _run_cancellable
from ._extism import Error
from ._host_functions import HOST_FN_REGISTRY, Function, _ExtismFunctionMetadata


class _Base64Encoder(json.JSONEncoder):
    # pylint: disable=method-hidden
    def default(self, o: Any) -> Any:
        if isinstance(o, bytes):
            return b64encode(o).decode()
        return json.JSONEncoder.default(self, o)


def _wasm(plugin: Any) -> Any:
    if isinstance(plugin, str):
        # The core says what the string names; as in the official SDK, a
        # file's bytes are read here and classified by the core in turn.
        kind = _extism.classify_source(plugin)
        if kind == "path" and os.path.isfile(plugin):
            with open(plugin, "rb") as f:
                return f.read()
        if kind == "path":
            return json.dumps({"wasm": [{"path": plugin}]}).encode()
        if kind == "file_url":
            return json.dumps({"wasm": [{"path": url2pathname(urlparse(plugin).path)}]}).encode()
        if kind == "url":
            return json.dumps({"wasm": [{"url": plugin}]}).encode()
        return plugin.encode()
    if isinstance(plugin, dict):
        return json.dumps(plugin, cls=_Base64Encoder).encode()
    if isinstance(plugin, os.PathLike):
        with open(plugin, "rb") as f:
            return f.read()
    return plugin


class CancelHandle:
    """
    Stops the call running on a plugin, from any thread (see
    :py:meth:`Plugin.cancel_handle`).
    """

    def __init__(self, ptr: "_extism.CancelHandle"):
        self.pointer = ptr

    def cancel(self) -> bool:
        """
        Interrupt the running call, which raises ``extism.Error("timeout")``.
        Does nothing when no call is running.

        :returns: True (the request was delivered).
        """
        return self.pointer.cancel()


#: Where a plugin's WASI stdout and stderr go: ``None``, a ``bool``, or a
#: callable ``(stream, data)``; see :py:class:`CompiledPlugin`.
WasiOutput = Union[None, bool, Callable[[str, bytes], Any]]

#: The ``data`` of a call: a ``str`` (sent as UTF-8) or a bytes-like object.
CallInput = Union[str, bytes, bytearray, memoryview]

#: The ``parse`` of a call: applied to the output ``bytes``; None returns them
#: as they are.
OutputParser = Optional[Callable[[Any], Any]]


def _parsed(output: Any, parse: OutputParser) -> Any:
    """What every call method returns: ``parse(output)``, or the output itself
    when ``parse`` is None."""
    # The output is already `bytes`: the default parser would return it as is.
    return output if parse is None or parse is bytes else parse(output)


class CompiledPlugin:
    """
    A compiled plugin: compile once, then create many :py:class:`Plugin` from it
    cheaply. A plugin made from it inherits its functions, WASI setting and
    fuel limit.

    :param plugin: a manifest ``dict`` (``bytes`` values are sent as base64), a
                   wasm binary, WAT or a manifest as ``bytes``, a ``str`` naming
                   a file (its bytes are used) or holding WAT or a manifest, or
                   an ``os.PathLike`` naming a file.
    :param wasi: provide WASI preview 1.
    :param functions: the host functions; by default every ``@host_fn``.
    :param fuel_limit: a fuel budget for each call (not in the official SDK).
    :param wasi_output: where the plugin's WASI stdout and stderr go (not in
                        the official SDK): ``None`` (discarded unless
                        ``EXTISM_ENABLE_WASI_OUTPUT`` is set), ``True`` (this
                        process's stdout and stderr), ``False`` (discarded), or
                        a callable ``(stream, data)``, called with ``"stdout"``
                        or ``"stderr"`` and the ``bytes`` of each write, on the
                        thread running the call.
    :raises: :py:class:`extism.Error` ``Unable to compile Extism plugin: ...``
    """

    def __init__(
        self,
        plugin: Union[str, bytes, dict, "os.PathLike[str]"],
        wasi: bool = False,
        functions: Optional[List[Function]] = HOST_FN_REGISTRY,
        fuel_limit: Optional[int] = None,
        wasi_output: WasiOutput = None,
    ):
        wasm = _wasm(plugin)
        self.functions = functions
        natives: List[_extism.Function] = []
        for f in functions or []:
            native = _ExtismFunctionMetadata(f).pointer
            assert native is not None
            natives.append(native)
        self.pointer: Any = _extism.CompiledPlugin(wasm, wasi, natives, fuel_limit, wasi_output)

    def __del__(self) -> None:
        if not hasattr(self, "pointer") or self.pointer is None or self.pointer == -1:
            return
        # Plugins made from it keep what they need.
        self.pointer = -1


class Plugin:
    """
    A plugin instance: call its exports with :py:meth:`call`. Free it with
    ``del``, ``__del__()`` or by leaving a ``with`` block.

    .. sourcecode:: python

        import extism

        with extism.Plugin({"wasm": [{"path": "count_vowels.wasm"}]}, functions=[]) as plugin:
            print(plugin.call("count_vowels", "hello"))

    :param plugin: anything :py:class:`CompiledPlugin` takes, or a ``CompiledPlugin``
                   (then ``wasi``, ``functions``, ``fuel_limit`` and ``wasi_output``
                   are its own).
    :param wasi: provide WASI preview 1.
    :param config: a JSON-serializable mapping of config keys to strings (or None
                   to remove a key), merged after creation; as in the official
                   SDK, a mapping with other values is ignored as a whole.
    :param functions: the host functions; by default every ``@host_fn``.
    :param fuel_limit: a fuel budget for each call (not in the official SDK).
    :param wasi_output: where the plugin's WASI stdout and stderr go; see
                        :py:class:`CompiledPlugin`.
    :raises: :py:class:`extism.Error` ``Unable to compile Extism plugin: ...`` or
             ``Unable to create Extism plugin: ...``
    """

    def __init__(
        self,
        plugin: Union[str, bytes, CompiledPlugin, dict, "os.PathLike[str]"],
        wasi: bool = False,
        config: Optional[Any] = None,
        functions: Optional[List[Function]] = HOST_FN_REGISTRY,
        fuel_limit: Optional[int] = None,
        wasi_output: "WasiOutput" = None,
    ):
        # Track whether we created the CompiledPlugin (so we free it too).
        if isinstance(plugin, CompiledPlugin):
            self._owns_compiled_plugin = False
            self.compiled_plugin: Optional[CompiledPlugin] = plugin
        else:
            self._owns_compiled_plugin = True
            self.compiled_plugin = CompiledPlugin(plugin, wasi, functions, fuel_limit, wasi_output)
        native = self.compiled_plugin.pointer
        if not isinstance(native, _extism.CompiledPlugin):
            raise Error("Unable to create Extism plugin: the compiled plugin was freed")
        self.plugin: Any = native.instantiate()

        if config is not None:
            try:
                self.plugin.update_config(json.dumps(config).encode())
            except Error:
                # As the official SDK: a config that is not a mapping of
                # strings (or None) changes nothing, silently.
                pass

    @property
    def id(self) -> UUID:
        """The plugin's id, a random UUID v4 for its lifetime."""
        return UUID(bytes=self._native().id)

    def _native(self) -> Any:
        plugin = getattr(self, "plugin", -1)
        if plugin is None or isinstance(plugin, int):
            raise Error("the plugin was freed")
        return plugin

    def cancel_handle(self) -> CancelHandle:
        """A :py:class:`CancelHandle` for the call running on this plugin, usable from any thread."""
        return CancelHandle(self._native().cancel_handle())

    def function_exists(self, name: str) -> bool:
        """
        Whether the plugin exports a function ``name`` that can be called.

        :param name: the function name.
        """
        return self._native().function_exists(name)

    def fuel_consumed(self) -> Optional[int]:
        """
        The fuel the last call used (not in the official SDK; the official
        Rust SDK's ``fuel_consumed``), or None when the plugin has no fuel
        limit or has not been called.
        """
        return self._native().fuel_consumed()

    def call(self, function_name: str, data: CallInput, parse: OutputParser = bytes, host_context: Any = None) -> Any:
        """
        Call the export ``function_name`` with ``data``. Other Python threads run
        while the plugin does.

        :param function_name: the function to call.
        :param data: the input: ``str`` (sent as UTF-8) or a bytes-like object.
        :param parse: applied to the output ``bytes``; None returns them as they are.
        :param host_context: any object; host functions get it from
                             :py:meth:`CurrentPlugin.host_context` during this call.
        :raises: :py:class:`extism.Error` with the error the call ended with, or
                 ``Error code: N`` for a bare non-zero return code. When a host
                 function raised, that exception is the ``__cause__``.
        :returns: ``parse(output)``.
        """
        # The hot path: `_native()` and `_parsed()` written out.
        try:
            native_call = self.plugin.call
        except AttributeError:
            raise Error("the plugin was freed") from None
        output = native_call(function_name, data, host_context)
        return output if parse is None or parse is bytes else parse(output)

    async def call_async(
        self, function_name: str, data: CallInput, parse: OutputParser = bytes, host_context: Any = None
    ) -> Any:
        """
        :py:meth:`call` on a worker thread, awaitable: the event loop stays
        free while the plugin runs (not in the official SDK). Async host
        functions (``async def``) run on this event loop while the plugin waits
        for them. Cancelling the awaiting task cancels the plugin call and its
        pending host coroutines, waits for the call to stop (promptly: the
        plugin is interrupted), and raises ``asyncio.CancelledError``; the
        plugin stays usable.

        :raises: what :py:meth:`call` raises.
        """
        native = self._native()
        loop = asyncio.get_running_loop()
        pending: "set[concurrent.futures.Future[Any]]" = set()

        def run() -> Any:
            return _call_on_this_thread(native, loop, pending, function_name, data, host_context)

        return _parsed(await _run_cancellable(_CALL_THREADS, lambda: native, run, pending), parse)

    @classmethod
    def _lent(cls, native: Any, compiled: CompiledPlugin) -> "Plugin":
        """A ``Plugin`` around a pool's native instance (the pool owns it)."""
        plugin = cls.__new__(cls)
        plugin._owns_compiled_plugin = False
        plugin.compiled_plugin = compiled
        plugin.plugin = native
        return plugin

    def reset(self) -> None:
        """
        Free every block of Extism memory of this plugin (its vars and config
        are kept). Not in the official SDK.
        """
        self._native().reset()

    def __del__(self) -> None:
        if not hasattr(self, "plugin") or self.plugin == -1:
            return
        # Dropping the native plugin frees it (once any call still running
        # on another thread has returned).
        self.plugin = -1
        # Free the compiled plugin if we created it.
        if getattr(self, "_owns_compiled_plugin", False) and self.compiled_plugin is not None:
            self.compiled_plugin.__del__()
            self.compiled_plugin = None

    def __enter__(self) -> "Plugin":
        return self

    def __exit__(self, type: Any, exc: Any, traceback: Any) -> None:
        self.__del__()
