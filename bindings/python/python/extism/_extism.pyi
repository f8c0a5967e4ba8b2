"""Type stubs of the native module ``extism._extism`` (checked with ``mypy.stubtest``)."""

from typing import Any, Callable, Optional, Sequence, Union, final

__all__ = [
    "Error",
    "CompiledPlugin",
    "Plugin",
    "Pool",
    "PoolLease",
    "CancelHandle",
    "Function",
    "CurrentPlugin",
    "extism_version",
    "classify_source",
    "set_log_file",
    "set_log_buffer",
    "drain_logs",
]

_Bytes = Union[bytes, bytearray, memoryview]

class Error(Exception):
    """The single exception type of every runtime failure. Its one argument is the message text; `kind` names what went wrong (`Timeout`, `Plugin`, `Trap`, ...; `Other` when the runtime gives no kind)."""

    kind: str

@final
class CompiledPlugin:
    """A compiled plugin, from which plugins are created cheaply (from any thread)."""

    def __new__(
        cls,
        wasm: _Bytes,
        wasi: bool = False,
        functions: Sequence[Function] = ...,
        fuel_limit: Optional[int] = None,
        wasi_output: Union[None, bool, Callable[[str, bytes], Any]] = None,
    ) -> CompiledPlugin: ...
    def instantiate(self) -> Plugin:
        """Create a plugin: a new instance with its own memory, vars, config and id."""
    @property
    def wasi(self) -> bool:
        """Whether plugins get WASI."""
    @property
    def fuel_limit(self) -> Optional[int]:
        """The fuel budget of each call, or None."""

@final
class Pool:
    """Up to ``max_instances`` plugins made from one compiled plugin, each handed
    to one caller at a time; waiters are served in order."""

    def __new__(cls, compiled: CompiledPlugin, max_instances: int, config: Optional[bytes] = None) -> Pool: ...
    def get(self, timeout: Optional[float] = None) -> PoolLease:
        """An instance for this caller alone, as a ``PoolLease``."""
    def close(self) -> None:
        """Refuse every later ``get`` and drop the idle instances."""
    @property
    def closed(self) -> bool:
        """Whether the pool was closed."""
    @property
    def max_instances(self) -> int:
        """The most instances that may exist at once."""
    @property
    def instances(self) -> int:
        """How many instances exist now (idle or in use)."""

@final
class PoolLease:
    """One instance of a pool, lent to one caller until ``release()``."""

    @property
    def plugin(self) -> Plugin:
        """The lent plugin."""
    def release(self) -> None:
        """Give the instance back to the pool."""

@final
class Plugin:
    """A plugin instance: its own memory, vars, config and id."""

    def call(self, name: str, data: Union[str, _Bytes], host_context: Any = None) -> bytes:
        """Call the export ``name`` with ``data`` (str, UTF-8 encoded, or bytes-like)."""
    def function_exists(self, name: str) -> bool:
        """Whether the plugin exports ``name`` as a callable function."""
    def update_config(self, json: Union[str, _Bytes]) -> None:
        """Merge a JSON object of string (set) or null (remove) values into the plugin's config."""
    def reset(self) -> None:
        """Free every block of Extism memory (vars and config are kept)."""
    @property
    def id(self) -> bytes:
        """The plugin's 16-byte id (a UUID v4)."""
    def cancel_handle(self) -> CancelHandle:
        """A handle that stops the call running on this plugin, from any thread."""
    def fuel_consumed(self) -> Optional[int]:
        """The fuel the last call used, or None without a fuel limit (or before the first call)."""

@final
class CancelHandle:
    """Stops the call running on one plugin, from any thread."""

    def cancel(self) -> bool:
        """Interrupt the call running on the plugin now."""

@final
class Function:
    """A host function that plugins import as ``namespace::name``."""

    def __new__(
        cls,
        namespace: Optional[str],
        name: str,
        params: Sequence[int],
        results: Sequence[int],
        callback: Callable[[CurrentPlugin, list[Union[int, float]]], Optional[Sequence[Union[int, float]]]],
    ) -> Function: ...
    @property
    def name(self) -> str:
        """The import name."""
    @property
    def namespace(self) -> str:
        """The import module name."""
    @property
    def params(self) -> list[int]:
        """The parameter types, as ``ValType`` codes."""
    @property
    def results(self) -> list[int]:
        """The result types, as ``ValType`` codes."""

@final
class CurrentPlugin:
    """The plugin that called a host function; usable only during that call."""

    def alloc(self, size: int) -> int:
        """Allocate a block of ``size`` bytes in Extism memory."""
    def alloc_bytes(self, data: _Bytes) -> int:
        """Allocate a block holding a copy of ``data``."""
    def free(self, handle: int) -> None:
        """Free the block at ``handle``."""
    def time_remaining(self) -> Optional[float]:
        """The seconds left before the call's timeout, or None without one."""
    def length(self, handle: int) -> int:
        """The length of the live block at ``handle``."""
    def read(self, offset: int, length: int) -> bytes:
        """A copy of ``length`` bytes of Extism memory at ``offset``."""
    def write(self, offset: int, data: _Bytes) -> None:
        """Write ``data`` into Extism memory at ``offset``."""
    def host_context(self) -> Any:
        """The ``host_context`` given to ``Plugin.call``."""
    @property
    def active(self) -> bool:
        """Whether the host function call is still running."""

def extism_version() -> str:
    """This runtime's version."""

def classify_source(text: str) -> str:
    """What a string given as a plugin source names: ``wat``, ``manifest``, ``url``, ``file_url`` or ``path``."""

def set_log_file(file: str, level: Optional[str] = None) -> None:
    """Send plugin log messages to ``file``."""

def set_log_buffer(level: Optional[str] = None) -> None:
    """Buffer plugin log messages in memory until ``drain_logs``."""

def drain_logs(callback: Callable[[str], Any]) -> int:
    """Call ``callback(line)`` for each buffered log line and empty the buffer."""
