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
(``CurrentPlugin``). This module gathers the names the official SDK's
``extism.extism`` has, its two private ones included.
"""

from typing import Any, List

from ._current_plugin import CurrentPlugin
from ._current_plugin import _convert_value as _convert_value
from ._extism import Error
from ._host_functions import ExplicitFunction, Function, TypeInferredFunction, host_fn
from ._host_functions import HOST_FN_REGISTRY as _REGISTRY
from ._host_functions import _ExtismFunctionMetadata as _ExtismFunctionMetadata
from ._logging import CustomLogger, extism_version, set_log_custom, set_log_file
from ._plugin import CancelHandle, CompiledPlugin, Plugin
from ._plugin import WasiOutput as WasiOutput
from ._pool import Pool as Pool
from ._pool import PoolLease as PoolLease
from ._values import Codec, Json, Memory, MemoryBuffer, Pickle, Val, ValType

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

HOST_FN_REGISTRY: List[Any] = _REGISTRY
"""Every function made by ``@host_fn`` so far, in order: the default ``functions``
of ``Plugin`` and ``CompiledPlugin`` (pass ``functions=[]`` for none)."""
