"""The Extism Python SDK surface over the native runtime (``extism._extism``).

The names and behaviour follow the official Python SDK 1.x (``extism`` on PyPI),
so code written for it runs unchanged. Where this module chooses differently,
the docstring of the name says so (see also ``docs/compatibility.md``, "Python").

The code lives in private modules, one per concept: ``_values`` (``Json``,
``Pickle``, ``Codec``, ``ValType``, ``Val``, ``Memory``, ``MemoryBuffer``),
``_logging`` (``set_log_file``, ``set_log_custom``, ``CustomLogger``,
``extism_version``), ``_host_functions`` (``Function``, ``host_fn``,
``HOST_FN_REGISTRY``, ...), ``_async`` (``call_async`` and async host
functions), ``_plugin`` (``CompiledPlugin``, ``Plugin``, ``CancelHandle``),
``_pool`` (``Pool``, ``PoolLease``) and ``_current_plugin``
(``CurrentPlugin``). This module holds every name it held when it was one file,
the same objects, and they keep ``extism.extism`` as their ``__module__``.
Setting one of its names (as ``monkeypatch.setattr`` does) sets it in the
modules that use it too, as it did then.
"""

# The imports marked F401 keep the names this module held when it was one
# file, for code that took them from here.
import asyncio  # noqa: F401
import concurrent.futures  # noqa: F401
import functools  # noqa: F401
import inspect  # noqa: F401
import json  # noqa: F401
import operator  # noqa: F401
import os  # noqa: F401
import pickle  # noqa: F401
import sys
import threading  # noqa: F401
import types
from base64 import b64encode  # noqa: F401
from enum import Enum  # noqa: F401
from typing import (  # noqa: F401
    TYPE_CHECKING,
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
from uuid import UUID  # noqa: F401

from . import _async, _current_plugin, _extism, _host_functions, _logging, _plugin, _pool, _values  # noqa: F401
from ._current_plugin import CurrentPlugin
from ._extism import Error
from ._host_functions import ExplicitFunction, Function, TypeInferredFunction, host_fn
from ._logging import CustomLogger, extism_version, set_log_custom, set_log_file
from ._plugin import CancelHandle, CompiledPlugin, Plugin
from ._values import Codec, Json, Memory, MemoryBuffer, Pickle, Val, ValType

# The names not in __all__, imported `as` themselves: re-exported for type
# checkers too (with mypy --strict, an import alone is not).
# isort: off
from ._async import (
    _ASYNC_CALL as _ASYNC_CALL,
    _CALL_THREADS as _CALL_THREADS,
    _POOL_CALL_THREADS as _POOL_CALL_THREADS,
    _PRIVATE_LOOP_LOCK as _PRIVATE_LOOP_LOCK,
    _AsyncCall as _AsyncCall,
    _call_on_this_thread as _call_on_this_thread,
    _is_async as _is_async,
    _private_loop as _private_loop,
    _run_cancellable as _run_cancellable,
    _settle as _settle,
)
from ._current_plugin import _convert_value as _convert_value
from ._host_functions import (
    _decode_with as _decode_with,
    _element as _element,
    _encode_with as _encode_with,
    _ExtismFunctionMetadata as _ExtismFunctionMetadata,
    _int_bytes as _int_bytes,
    _map_arg as _map_arg,
    _map_ret as _map_ret,
    _trampoline as _trampoline,
)
from ._plugin import WasiOutput as WasiOutput, _Base64Encoder as _Base64Encoder, _wasm as _wasm
from ._pool import Pool as Pool, PoolLease as PoolLease
# isort: on

if TYPE_CHECKING:
    # At run time, read through _SharedNames.__getattr__: it is rebound after import.
    from ._async import _PRIVATE_LOOP as _PRIVATE_LOOP

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

HOST_FN_REGISTRY: List[Any] = _host_functions.HOST_FN_REGISTRY
"""Every function made by ``@host_fn`` so far, in order: the default ``functions``
of ``Plugin`` and ``CompiledPlugin`` (pass ``functions=[]`` for none)."""

_PARTS = (_values, _logging, _async, _current_plugin, _host_functions, _plugin, _pool)
# Module state that is rebound after import: read and set where it lives.
_LIVE = {"_PRIVATE_LOOP": _async}
_UNSET = object()

# What the parts define keeps ``extism.extism`` as its __module__, as when it
# was defined here (where the official SDK has these names): reprs, pickles
# and tools that list a module's own members see what they saw before. The
# cost: inspect.getsource of such a class looks in this file, and fails.
for _obj in list(globals().values()):
    if isinstance(_obj, (type, types.FunctionType)) and _obj.__module__ in {p.__name__ for p in _PARTS}:
        _obj.__module__ = __name__
del _obj


class _SharedNames(types.ModuleType):
    """``extism.extism``, whose names are shared with the modules that use them."""

    def __getattr__(self, name: str) -> Any:
        if name in _LIVE:
            return getattr(_LIVE[name], name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __dir__(self) -> List[str]:
        return sorted({*super().__dir__(), *_LIVE})

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LIVE:
            setattr(_LIVE[name], name, value)
            return
        old = vars(self).get(name, _UNSET)
        if old is not _UNSET:
            for part in _PARTS:
                if vars(part).get(name, _UNSET) is old:
                    setattr(part, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _SharedNames
