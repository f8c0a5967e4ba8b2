"""Host functions: ``Function``, the ``@host_fn`` decorator (a signature
inferred from annotations, ``TypeInferredFunction``, or given,
``ExplicitFunction``), the trampoline the native runtime calls, and
``HOST_FN_REGISTRY``, the default ``functions`` of every plugin."""

import functools
import json
import pickle
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union, get_args, get_origin, get_type_hints

from . import _extism
from ._async import _is_async, _settle
from ._current_plugin import CurrentPlugin
from ._extism import Error
from ._values import Codec, Json, Pickle, Val, ValType

HOST_FN_REGISTRY: List[Any] = []
"""Every function made by ``@host_fn`` so far, in order: the default ``functions``
of ``Plugin`` and ``CompiledPlugin`` (pass ``functions=[]`` for none)."""

#: The parameter or result types of a host function: :py:class:`ValType` or their codes.
ValTypes = Sequence[Union[ValType, int]]


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
        args: ValTypes,
        returns: ValTypes,
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
        args: ValTypes,
        returns: ValTypes,
        func: Callable[..., Any],
        user_data: Sequence[Any],
    ):
        super().__init__(namespace, name, args, returns, func, *user_data)
        self._stand_for(func)

    def _stand_for(self, func: Callable[..., Any]) -> None:
        """Make calling this object call ``func``, and give it ``func``'s name
        and docstring."""
        self.func = func
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
        self._stand_for(func)


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
