"""The Extism Python SDK surface over the native runtime (``extism._extism``).

The names and behaviour follow the official Python SDK 1.x (``extism`` on PyPI),
so code written for it runs unchanged. Where this module chooses differently,
the docstring of the name says so (see also ``docs/compatibility.md``, "Python").
"""

import asyncio
import concurrent.futures
import functools
import inspect
import json
import operator
import os
import pickle
import threading
from base64 import b64encode
from enum import Enum
from typing import (
    Any,
    Callable,
    Iterator,
    List,
    Literal,
    Optional,
    Sequence,
    Tuple,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)
from uuid import UUID

from . import _extism
from ._extism import Error

__all__ = [
    "Error",
    "ValType",
    "Val",
    "Memory",
    "MemoryBuffer",
    "Json",
    "Pickle",
    "Codec",
    "set_log_file",
    "set_log_custom",
    "CustomLogger",
    "extism_version",
    "host_fn",
    "Function",
    "ExplicitFunction",
    "TypeInferredFunction",
    "HOST_FN_REGISTRY",
    "CurrentPlugin",
    "CompiledPlugin",
    "CancelHandle",
    "Plugin",
]

HOST_FN_REGISTRY: List[Any] = []
"""Every function made by ``@host_fn`` so far, in order: the default ``functions``
of ``Plugin`` and ``CompiledPlugin`` (pass ``functions=[]`` for none)."""


class Json:
    """
    Typing metadata: a host function parameter (or return value) in
    ``typing.Annotated[T, extism.Json]`` is decoded (or encoded) with ``json``.

    .. sourcecode:: python

        @extism.host_fn()
        def load(input: typing.Annotated[dict, extism.Json]) -> str:
            return input.get("hello", "")
    """


class Pickle:
    """
    Typing metadata: a host function parameter (or return value) in
    ``typing.Annotated[T, extism.Pickle]`` is decoded (or encoded) with ``pickle``.
    """


class Codec:
    """
    Typing metadata: in ``typing.Annotated[T, extism.Codec(f)]``, ``f`` turns the
    bytes of a parameter into its value, or a return value into bytes.

    :param codec: the conversion function.
    """

    def __init__(self, codec: Callable[[Any], Any]):
        self.codec = codec


class ValType(Enum):
    """
    The wasm value types, numbered as the C ``ExtismValType``.

    ``PTR`` is declared before ``I64``, so ``I64`` is an alias of it:
    ``ValType.I64 is ValType.PTR`` (a handle into Extism memory is an I64).
    """

    I32 = 0
    PTR = 1
    I64 = 1
    F32 = 2
    F64 = 3
    V128 = 4
    FUNC_REF = 5
    EXTERN_REF = 6


class Val:
    """
    A wasm value with its :py:class:`ValType`: the inputs and outputs of
    explicit host functions. Set ``.value`` of an output to return it.
    """

    def __init__(self, t: ValType, v: Any):
        self.t = t
        self.value = v

    def __repr__(self) -> str:
        return f"Val({self.t}, {self.value})"

    def _assign(self, v: Any) -> None:
        self.value = v


class Memory:
    """
    A block of Extism memory: ``offset`` (its handle) and ``length``.
    """

    def __init__(self, offs: int, length: int):
        self.offset = offs
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return f"Memory({self.offset}, {self.length})"


class MemoryBuffer:
    """
    A writable view of ``length`` bytes of Extism memory at ``offset``, as
    returned by :py:meth:`CurrentPlugin.memory`.

    Reads and writes go straight to the plugin's memory (bounds-checked), so
    ``buf[:] = data`` hands bytes to the plugin. Indexing and slicing work as
    on a ``memoryview``: ``buf[i]`` is an int, ``buf[a:b]`` is ``bytes``, and
    a slice assignment must keep the length. ``bytes(buf)`` copies it out.
    Like its ``CurrentPlugin``, it works only during the host function call.

    This differs from the official SDK, whose ``cffi`` buffer points into the
    memory directly and may dangle after the call; this one cannot.
    """

    __slots__ = ("_plugin", "offset", "length")

    def __init__(self, plugin: "_extism.CurrentPlugin", offset: int, length: int):
        self._plugin = plugin
        self.offset = offset
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return f"<extism.MemoryBuffer offset={self.offset} length={self.length}>"

    def tobytes(self) -> bytes:
        """A copy of the whole range."""
        return self._plugin.read(self.offset, self.length)

    def __bytes__(self) -> bytes:
        return self.tobytes()

    def __buffer__(self, flags: int) -> memoryview:
        # Python 3.12+: memoryview(buf), hashlib and friends read a copy.
        return memoryview(self.tobytes())

    def __iter__(self) -> Iterator[int]:
        return iter(self.tobytes())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MemoryBuffer):
            return self.tobytes() == other.tobytes()
        if isinstance(other, (bytes, bytearray, memoryview)):
            return self.tobytes() == bytes(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def _index(self, key: Any) -> int:
        i = operator.index(key)
        if i < 0:
            i += self.length
        if not 0 <= i < self.length:
            raise IndexError("index out of range")
        return i

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.length)
            if step == 1:
                return self._plugin.read(self.offset + start, max(0, stop - start))
            return self.tobytes()[key]
        return self._plugin.read(self.offset + self._index(key), 1)[0]

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, slice):
            if isinstance(value, int):
                raise TypeError("a bytes-like object is required, not 'int'")
            data = memoryview(value).tobytes()
            start, stop, step = key.indices(self.length)
            if step == 1:
                if len(data) != max(0, stop - start):
                    raise ValueError("memory assignment: the data must have the length of the slice")
                self._plugin.write(self.offset + start, data)
                return
            whole = bytearray(self.tobytes())
            try:
                whole[key] = data
            except ValueError:
                raise ValueError("memory assignment: the data must have the length of the slice") from None
            self._plugin.write(self.offset, bytes(whole))
            return
        byte = operator.index(value)
        if not 0 <= byte <= 255:
            raise ValueError("byte must be in range(0, 256)")
        self._plugin.write(self.offset + self._index(key), bytes([byte]))


class _Base64Encoder(json.JSONEncoder):
    # pylint: disable=method-hidden
    def default(self, o: Any) -> Any:
        if isinstance(o, bytes):
            return b64encode(o).decode()
        return json.JSONEncoder.default(self, o)


def set_log_file(file: str, level: Optional[Literal["debug", "error", "trace", "warn", "info"]] = None) -> None:
    """
    Send plugin log messages to ``file`` (a path, ``"stdout"`` or ``"stderr"``).
    This is a process-wide setting; only the first logger of a process is
    installed, and, as in the official SDK, failures are ignored.

    :param file: the log file path, ``"stdout"`` or ``"stderr"``.
    :param level: ``trace``, ``debug``, ``info``, ``warn`` or ``error`` (the
                  default), or a filter such as ``extism=trace``.
    """
    try:
        _extism.set_log_file(file, level)
    except Error:
        pass


class CustomLogger:
    """
    Buffered plugin logs (see :py:func:`set_log_custom`): ``drain()`` hands each
    buffered line (text, with its trailing newline) to the callback. The logger
    also drains when it is garbage collected.
    """

    def __init__(self, f: Callable[[str], Any]):
        self.callback: Optional[Callable[[str], Any]] = None
        self.set_callback(f)

    def set_callback(self, f: Callable[[str], Any]) -> None:
        """Use ``f`` for the lines drained from now on."""
        self.callback = f

    def drain(self) -> None:
        """Call the callback for every buffered line, oldest first, and empty the buffer."""
        if self.callback is not None:
            _extism.drain_logs(self.callback)

    def __del__(self) -> None:
        try:
            self.drain()
        except Exception:  # pylint: disable=broad-except
            # A finalizer must not raise (it may run at interpreter exit).
            pass


def set_log_custom(
    f: Callable[[str], Any], level: Optional[Literal["debug", "error", "trace", "warn", "info"]] = None
) -> CustomLogger:
    """
    Buffer plugin log messages in memory (a process-wide setting) and return a
    :py:class:`CustomLogger` whose ``drain()`` hands them to ``f``.

    :param f: called with each line, a ``str`` ending in ``\\n``.
    :param level: as for :py:func:`set_log_file`.
    :returns: the logger; call its ``drain()`` to receive the buffered lines.
    """
    try:
        _extism.set_log_buffer(level)
    except Error:
        pass
    return CustomLogger(f)


def extism_version() -> str:
    """
    The version of this runtime.

    :returns: the version string (this project's own, not libextism's).
    """
    return _extism.extism_version()


def _wasm(plugin: Any) -> Any:
    if isinstance(plugin, str) and os.path.exists(plugin):
        with open(plugin, "rb") as f:
            return f.read()
    if isinstance(plugin, str):
        return plugin.encode()
    if isinstance(plugin, dict):
        return json.dumps(plugin, cls=_Base64Encoder).encode()
    if isinstance(plugin, os.PathLike):
        with open(plugin, "rb") as f:
            return f.read()
    return plugin


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


class Function:
    """
    A host function: plugins import it as ``namespace::name``.

    ``f`` is called as ``f(current_plugin, inputs, outputs, *user_data)`` with a
    :py:class:`CurrentPlugin`, the inputs as a list of :py:class:`Val`, and one
    :py:class:`Val` per result, whose ``.value`` it sets. (The official SDK
    needs a cffi callback here; this one takes that Python function.) Most code
    uses :py:func:`host_fn` instead.

    :param namespace: the import module, or None for ``extism:host/user``.
    :param name: the import name.
    :param args: the parameter types (:py:class:`ValType` or their codes).
    :param returns: the result types.
    :param f: the function.
    :param user_data: extra trailing arguments for every call of ``f``.
    """

    def __init__(
        self,
        namespace: Optional[str],
        name: str,
        args: Sequence[Union[ValType, int]],
        returns: Sequence[Union[ValType, int]],
        f: Callable[..., Any],
        *user_data: Any,
    ):
        self.namespace = namespace
        self.name = name
        self.args = [ValType(a).value for a in args]
        self.returns = [ValType(r).value for r in returns]
        self.user_data = user_data
        self.f = f


def _trampoline(function: Function) -> Callable[[Any, List[Any]], List[Any]]:
    """The callback of the native function: wraps values in ``Val`` and the
    native plugin in ``CurrentPlugin``, calls ``function.f``, and returns the
    output values (checked as the official ``_convert_output`` does)."""
    arg_types = [ValType(a) for a in function.args]
    ret_types = [ValType(r) for r in function.returns]
    # As `_convert_output` of the official SDK: int() or float() of the value.
    coerce: List[Callable[[Any], Any]] = [float if t in (ValType.F32, ValType.F64) else int for t in ret_types]
    f = function.f
    user_data = function.user_data

    declared_async = _is_async(f)

    def trampoline(native: Any, raw_inputs: List[Any]) -> List[Any]:
        inputs = [Val(t, v) for t, v in zip(arg_types, raw_inputs)]
        outputs = [Val(t, c(0)) for t, c in zip(ret_types, coerce)]
        _settle(function.name, declared_async, f(CurrentPlugin(native), inputs, outputs, *user_data))
        values = []
        for out, t, c in zip(outputs, ret_types, coerce):
            if out.t != t:
                raise Error(f"Output type mismatch, got {out.t} but expected {t}")
            values.append(c(out.value))
        return values

    return trampoline


class _ExtismFunctionMetadata:
    """The native function made from a :py:class:`Function` (``.pointer``)."""

    def __init__(self, f: Function):
        self.pointer: Optional[_extism.Function] = _extism.Function(
            f.namespace, f.name, f.args, f.returns, _trampoline(f)
        )

    def __del__(self) -> None:
        if not hasattr(self, "pointer") or self.pointer is None:
            return
        self.pointer = None


def _decode_with(codec: Callable[[bytes], Any]) -> Callable[[Any, Any], Any]:
    """A parameter decoder that applies ``codec`` to the block's bytes."""
    return lambda plugin, slot: codec(plugin.input_bytes(slot))


def _encode_with(codec: Callable[[Any], Any]) -> Callable[[Any, Any, Any], Any]:
    """A result encoder that returns the bytes ``codec`` makes of the value."""
    return lambda plugin, slot, value: plugin.return_bytes(slot, codec(value))


def _map_arg(arg_name: str, xs: Any) -> Tuple[ValType, Callable[[Any, Any], Any]]:
    if xs is str:
        return (ValType.I64, lambda plugin, slot: plugin.input_string(slot))

    if xs is bytes:
        return (ValType.I64, lambda plugin, slot: plugin.input_bytes(slot))

    if xs is int:
        return (ValType.I64, lambda _, slot: slot.value)

    if xs is float:
        return (ValType.F64, lambda _, slot: slot.value)

    if xs is bool:
        return (ValType.I32, lambda _, slot: slot.value)

    metadata = getattr(xs, "__metadata__", ())
    for item in metadata:
        if item == Json:
            return (ValType.I64, lambda plugin, slot: json.loads(plugin.input_string(slot)))

        if item == Pickle:
            return (ValType.I64, lambda plugin, slot: pickle.loads(plugin.input_bytes(slot)))

        if isinstance(item, Codec):
            return (ValType.I64, _decode_with(item.codec))

    raise TypeError("Could not infer input type for argument %s" % arg_name)


def _int_bytes(value: int, length: int) -> bytes:
    return value.to_bytes(length=length, byteorder="little", signed=value < 0)


def _element(i: int, emplace: Callable[[Any, Any, Any], Any]) -> Callable[[Any, Any, Any], Any]:
    """An encoder of element ``i`` of a tuple result."""
    return lambda plugin, slot, value: emplace(plugin, slot, value[i])


def _map_ret(xs: Any) -> List[Tuple[ValType, Callable[[Any, Any, Any], Any]]]:
    if xs is str:
        return [(ValType.I64, lambda plugin, slot, value: plugin.return_string(slot, value))]

    if xs is bytes:
        return [(ValType.I64, lambda plugin, slot, value: plugin.return_bytes(slot, value))]

    if xs is int:
        # As the official SDK does: a block holding 8 little-endian bytes.
        return [(ValType.I64, lambda plugin, slot, value: plugin.return_bytes(slot, _int_bytes(value, 8)))]

    if xs is float:
        # The official SDK's intent (its code fails): the F64 value itself.
        return [(ValType.F64, lambda plugin, slot, value: slot._assign(float(value)))]

    if xs is bool:
        # As the official SDK does: the handle of a block of 4 little-endian bytes.
        return [(ValType.I32, lambda plugin, slot, value: plugin.return_bytes(slot, _int_bytes(int(value), 4)))]

    if get_origin(xs) is tuple:
        # The official SDK's intent (its code hands the whole tuple to every
        # slot): element i is encoded by the slots of the i-th type.
        slots: List[Tuple[ValType, Callable[[Any, Any, Any], Any]]] = []
        for i, part in enumerate(get_args(xs)):
            for t, emplace in _map_ret(part):
                slots.append((t, _element(i, emplace)))
        return slots

    metadata = getattr(xs, "__metadata__", ())
    for item in metadata:
        if item == Json:
            return [(ValType.I64, lambda plugin, slot, value: plugin.return_string(slot, json.dumps(value)))]

        if item == Pickle:
            return [(ValType.I64, lambda plugin, slot, value: plugin.return_bytes(slot, pickle.dumps(value)))]

        if isinstance(item, Codec):
            return [(ValType.I64, _encode_with(item.codec))]

    raise TypeError("Could not infer return type")


class ExplicitFunction(Function):
    """
    A host function with an explicit signature (what ``host_fn(signature=...)``
    makes). ``func`` is called as ``func(current_plugin, params, results,
    *user_data)``; calling this object calls ``func``.
    """

    def __init__(
        self,
        namespace: Optional[str],
        name: str,
        args: Sequence[Union[ValType, int]],
        returns: Sequence[Union[ValType, int]],
        func: Callable[..., Any],
        user_data: Sequence[Any],
    ):
        self.func = func
        super().__init__(namespace, name, args, returns, func, *user_data)
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)


class TypeInferredFunction(ExplicitFunction):
    """
    A host function whose wasm signature is inferred from the annotations of
    ``func`` (what ``host_fn()`` makes); see :py:func:`host_fn` for the rules.
    Calling this object calls ``func`` itself.
    """

    def __init__(self, namespace: Optional[str], name: str, func: Callable[..., Any], user_data: Sequence[Any]):
        hints = get_type_hints(func, include_extras=True)
        if len(hints) == 0:
            raise TypeError("Host function must include Python type annotations or explicitly list arguments.")

        arg_names = [arg for arg in hints.keys() if arg != "return"]
        returns = hints.pop("return", None)

        uses_current_plugin = False
        if len(arg_names) > 0 and hints.get(arg_names[0], None) == CurrentPlugin:
            uses_current_plugin = True
            arg_names = arg_names[1:]

        args = [_map_arg(arg, hints[arg]) for arg in arg_names]

        rets = [] if returns is None or returns is type(None) else _map_ret(returns)
        declared_async = _is_async(func)

        def inner_func(plugin: "CurrentPlugin", inputs: List[Val], outputs: List[Val], *user_data: Any) -> None:
            inner_args = [plugin] if uses_current_plugin else []
            inner_args += [extract(plugin, slot) for ((_, extract), slot) in zip(args, inputs)]
            inner_args += list(user_data)

            result = _settle(name, declared_async, func(*inner_args))
            for (_, emplace), slot in zip(rets, outputs):
                emplace(plugin, slot, result)

        super().__init__(
            namespace,
            name,
            [typ for (typ, _) in args],
            [typ for (typ, _) in rets],
            inner_func,
            user_data,
        )
        # The official SDK leaves ``inner_func`` here; the decorated function
        # stays callable as written instead.
        self.func = func
        functools.update_wrapper(self, func)


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

    def call(
        self,
        function_name: str,
        data: Union[str, bytes, bytearray, memoryview],
        parse: Optional[Callable[[Any], Any]] = lambda xs: bytes(xs),
        host_context: Any = None,
    ) -> Any:
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
        output = self._native().call(function_name, data, host_context)
        if parse is None:
            return output
        return parse(output)

    async def call_async(
        self,
        function_name: str,
        data: Union[str, bytes, bytearray, memoryview],
        parse: Optional[Callable[[Any], Any]] = lambda xs: bytes(xs),
        host_context: Any = None,
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

        output = await _run_cancellable(_CALL_THREADS, lambda: native, run, pending)
        if parse is None:
            return output
        return parse(output)

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
        data: Union[str, bytes, bytearray, memoryview],
        parse: Optional[Callable[[Any], Any]] = lambda xs: bytes(xs),
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
        data: Union[str, bytes, bytearray, memoryview],
        parse: Optional[Callable[[Any], Any]] = lambda xs: bytes(xs),
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

        output = await _run_cancellable(_POOL_CALL_THREADS, running, run, pending)
        if parse is None:
            return output
        return parse(output)

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


def _convert_value(x: Any) -> Optional[Val]:
    """An ``ExtismVal``-like object (``.t`` code, ``.v.i32/.i64/.f32/.f64``) as a :py:class:`Val`."""
    if x.t == 0:
        return Val(ValType.I32, x.v.i32)
    elif x.t == 1:
        return Val(ValType.I64, x.v.i64)
    elif x.t == 2:
        return Val(ValType.F32, x.v.f32)
    elif x.t == 3:
        return Val(ValType.F64, x.v.f64)
    return None


class CurrentPlugin:
    """
    The plugin that called a host function, passed to it as its first argument:
    Extism memory, the allocator and the call's host context. It works only
    during that host function call; afterwards its methods raise
    :py:class:`extism.Error`.
    """

    def __init__(self, p: "_extism.CurrentPlugin"):
        self.pointer = p

    def memory(self, mem: Memory) -> MemoryBuffer:
        """
        A writable buffer over ``mem`` (see :py:class:`MemoryBuffer`): reads and
        writes go to Extism memory directly.

        :param mem: the range to access.
        """
        return MemoryBuffer(self.pointer, mem.offset, mem.length)

    def host_context(self) -> Any:
        """The ``host_context`` passed to :py:meth:`Plugin.call` (None by default)."""
        return self.pointer.host_context()

    def time_remaining(self) -> Optional[float]:
        """
        The seconds left before the call's ``timeout_ms`` runs out (0.0 once it
        has), or None when the plugin has no timeout (not in the official SDK;
        the official Rust SDK's ``time_remaining``).
        """
        return self.pointer.time_remaining()

    def alloc(self, size: int) -> Memory:
        """
        Allocate a new block of Extism memory.

        :param size: the number of bytes.
        :returns: the block; its offset is 0 when it could not be allocated.
        """
        return Memory(self.pointer.alloc(size), size)

    def free(self, mem: Union[Memory, Val, int]) -> None:
        """Free a block (a :py:class:`Memory`, or a handle as an int or a :py:class:`Val`)."""
        if isinstance(mem, Val):
            offset = mem.value
        elif isinstance(mem, int):
            offset = mem
        else:
            offset = mem.offset
        self.pointer.free(offset)

    def memory_at_offset(self, offs: Union[int, Val]) -> Memory:
        """The block at handle ``offs`` (an int or a :py:class:`Val`); its length is 0 if there is none."""
        offset: int = offs.value if isinstance(offs, Val) else offs
        return Memory(offset, self.pointer.length(offset))

    def return_bytes(self, output: Val, b: bytes) -> None:
        """
        Return ``b`` from a host function: copy it into a new block and set
        ``output.value`` to the block's handle.

        :param output: the result slot (**mutated**).
        :param b: the bytes (any bytes-like object).
        """
        output.value = self.pointer.alloc_bytes(b)

    def return_string(self, output: Val, s: str) -> None:
        """
        Return ``s`` (as UTF-8) from a host function, as :py:meth:`return_bytes` does.

        :param output: the result slot (**mutated**).
        :param s: the string.
        """
        self.return_bytes(output, s.encode())

    def input_buffer(self, input: Val) -> MemoryBuffer:
        """A :py:class:`MemoryBuffer` over the block that ``input.value`` names."""
        mem = self.memory_at_offset(input)
        return self.memory(mem)

    def input_bytes(self, input: Val) -> bytes:
        """A copy of the block that ``input.value`` names."""
        # The same as ``self.input_buffer(input)[:]``, without the buffer
        # objects: this runs for every ``bytes`` or ``str`` host argument.
        offset = input.value
        return self.pointer.read(offset, self.pointer.length(offset))

    def input_string(self, input: Val) -> str:
        """
        The block that ``input.value`` names, decoded as UTF-8.

        .. sourcecode:: python

           @extism.host_fn(signature=([extism.ValType.PTR], []))
           def hello_world(plugin, params, results):
               print(plugin.input_string(params[0]))
        """
        return self.input_bytes(input).decode()


def host_fn(
    name: Optional[str] = None,
    namespace: Optional[str] = None,
    signature: Optional[Tuple[List[ValType], List[ValType]]] = None,
    user_data: Optional[Union[bytes, List[Any]]] = None,
) -> Callable[[Callable[..., Any]], Any]:
    """
    A decorator that makes a host function and adds it to ``HOST_FN_REGISTRY``
    (the default ``functions`` of plugins). The decorated name stays callable.

    :param name: the import name; by default the function's ``__name__``.
    :param namespace: the import module; by default ``extism:host/user``.
    :param signature: ``([param ValTypes], [result ValTypes])``: the function is
                      then called as ``f(current_plugin, params, results, *user_data)``
                      and returns values by setting ``results[i].value``. Without
                      it, the signature is inferred from the annotations.
    :param user_data: one value or a list of them, passed as extra trailing
                      positional arguments to every call.

    Inferred parameters: ``str`` and ``bytes`` (a block, I64), ``int`` (I64),
    ``float`` (F64), ``bool`` (I32, passed as the raw int),
    ``typing.Annotated[T, extism.Json]``, ``...Pickle]`` and ``...Codec(f)]``
    (a block decoded with ``json``, ``pickle`` or ``f``). A first parameter
    annotated :py:class:`CurrentPlugin` receives the plugin.

    Inferred results: ``str``, ``bytes``, ``Json``, ``Pickle`` and ``Codec`` (a
    new block, I64); ``int`` (a block of its 8 little-endian bytes, as the
    official SDK does); ``float`` (the F64 value); ``bool`` (I32 holding the
    handle of a block of 4 little-endian bytes, as the official SDK does);
    ``typing.Tuple[...]`` (the results of each part, element by element);
    ``None`` or no annotation (no result).

    An exception raised by a host function ends the plugin call with
    :py:class:`extism.Error` holding its message (the official SDK swallows it).

    .. sourcecode:: python

        @extism.host_fn()
        def greet(who: str) -> str:
            return "hello %s" % who

        @extism.host_fn(signature=([extism.ValType.PTR], [extism.ValType.PTR]))
        def more_control(current_plugin, params, results, *user_data):
            current_plugin.return_string(results[0], current_plugin.input_string(params[0]))
    """
    if user_data is None:
        data: List[Any] = []
    elif isinstance(user_data, list):
        data = list(user_data)
    else:
        data = [user_data]

    def outer(func: Callable[..., Any]) -> Any:
        n = name or func.__name__
        fn = (
            TypeInferredFunction(namespace, n, func, data)
            if signature is None
            else ExplicitFunction(namespace, n, signature[0], signature[1], func, data)
        )
        HOST_FN_REGISTRY.append(fn)
        return fn

    return outer
