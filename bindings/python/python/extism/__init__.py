"""
Extism: run WebAssembly plugins from Python.

The API of the official Extism Python SDK 1.x, on this project's native runtime.

.. sourcecode:: python

    import extism

    with extism.Plugin("count_vowels.wasm", functions=[]) as plugin:
        print(plugin.call("count_vowels", "hello world"))
"""

from .extism import (
    CancelHandle,
    Codec,
    CompiledPlugin,
    CurrentPlugin,
    Error,
    Function,
    Json,
    Memory,
    Pickle,
    Plugin,
    Pool,
    PoolLease,
    Val,
    ValType,
    extism_version,
    host_fn,
    set_log_custom,
    set_log_file,
)

__all__ = [
    "Error",
    "Plugin",
    "Pool",
    "PoolLease",
    "CompiledPlugin",
    "CancelHandle",
    "set_log_file",
    "set_log_custom",
    "extism_version",
    "host_fn",
    "Function",
    "Memory",
    "ValType",
    "Val",
    "CurrentPlugin",
    "Codec",
    "Json",
    "Pickle",
]
