"""The value types: the typing markers that choose how a host function's
argument or result is encoded (``Json``, ``Pickle``, ``Codec``), wasm values
(``ValType``, ``Val``) and blocks of Extism memory (``Memory``, ``MemoryBuffer``)."""

import operator
from enum import Enum
from typing import Any, Callable, Iterator

from . import _extism


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
