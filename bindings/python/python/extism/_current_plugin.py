"""``CurrentPlugin``: the plugin that called a host function, as that host
function sees it."""

from typing import Any, Optional, Union

from . import _extism
from ._values import Memory, MemoryBuffer, Val, ValType


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
