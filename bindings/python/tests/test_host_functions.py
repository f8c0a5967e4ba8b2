"""Host functions: host_fn inference for every kind, explicit signatures,
user data, CurrentPlugin, host context, exceptions, and the private names the
official test-suite uses."""

import json
import pickle
import struct
import threading
import typing
from collections import namedtuple
from typing import Annotated, Tuple

import extism
import pytest
from extism.extism import (
    HOST_FN_REGISTRY,
    ExplicitFunction,
    MemoryBuffer,
    TypeInferredFunction,
    _convert_value,
    _ExtismFunctionMetadata,
)
from helpers import host_wat, pdk, wat

HOST = wat("host")  # call_host: input block -> hello_world(i64) -> i64 -> output block


# A pickle-able object.
class Gribble:
    def __init__(self, v):
        self.v = v

    def frobbitz(self):
        return "gromble %s" % self.v


def call_host(fn, data, **kwargs):
    return extism.Plugin(HOST, functions=[fn]).call("call_host", data, **kwargs)


# --- the official SDK's own tests, on the shared fixtures ---------------------


def test_explicit_host_function_with_user_data():
    @extism.host_fn(signature=([extism.ValType.I64], [extism.ValType.I64]), user_data=b"test")
    def hello_world(plugin, params, results, user_data):
        offs = plugin.alloc(len(user_data))
        mem = plugin.memory(offs)
        mem[:] = user_data
        results[0].value = offs.offset

    assert call_host(hello_world, "aaa") == b"test"


def test_inferred_str_with_user_data():
    @extism.host_fn(user_data=b"test")
    def hello_world(inp: str, *user_data) -> str:
        return "hello world: %s %s" % (inp, user_data[0].decode("utf-8"))

    assert call_host(hello_world, '{"count": 3}') == b'hello world: {"count": 3} test'


def test_inferred_json_param():
    @extism.host_fn(user_data=b"test")
    def hello_world(inp: Annotated[dict, extism.Json], *user_data) -> str:
        return "hello world: %s %s" % (inp["count"], user_data[0].decode("utf-8"))

    assert call_host(hello_world, '{"count": 3}') == b"hello world: 3 test"


def test_codecs():
    @extism.host_fn(user_data=b"test")
    def hello_world(
        inp: Annotated[str, extism.Codec(lambda xs: xs.decode().replace("o", "u"))],
        *user_data,
    ) -> Annotated[str, extism.Codec(lambda xs: xs.replace("u", "a").encode())]:
        return inp

    assert call_host(hello_world, '{"count": 3}') == b'{"caant": 3}'


def test_inferred_pickle_return():
    @extism.host_fn(user_data=b"test")
    def hello_world(inp: Annotated[dict, extism.Json], *user_data) -> Annotated[Gribble, extism.Pickle]:
        return Gribble("robble")

    result = pickle.loads(call_host(hello_world, "{}"))
    assert isinstance(result, Gribble)
    assert result.frobbitz() == "gromble robble"


def test_host_context_and_current_plugin_first_parameter():
    @extism.host_fn(user_data=b"test")
    def hello_world(
        current_plugin: extism.CurrentPlugin,
        inp: Annotated[dict, extism.Json],
        *user_data,
    ) -> Annotated[Gribble, extism.Pickle]:
        ctx = current_plugin.host_context()
        ctx.x = 1000
        return Gribble("robble")

    class Foo:
        x = 100
        y = 200

    foo = Foo()
    res = call_host(hello_world, "{}", host_context=foo)
    assert foo.x == 1000 and foo.y == 200
    assert pickle.loads(res).frobbitz() == "gromble robble"


# --- inferred parameter and result kinds --------------------------------------


def test_inferred_bytes():
    @extism.host_fn(name="hello_world")
    def f(inp: bytes) -> bytes:
        assert isinstance(inp, bytes)
        return inp[::-1]

    assert call_host(f, b"\x00abc\xff") == b"\xffcba\x00"


def test_inferred_str_unicode():
    @extism.host_fn(name="hello_world")
    def f(inp: str) -> str:
        return inp.upper() + " ✓"

    assert call_host(f, "héllo") == "HÉLLO ✓".encode()


def test_inferred_int_param_and_result():
    seen = []

    @extism.host_fn(name="f")
    def add_one(x: int) -> int:
        seen.append(x)
        return x + 1

    plugin = extism.Plugin(host_wat(["i64"], ["i64"], ["(i64.const 41)"]), functions=[add_one])
    # As the official SDK: an int result is a block of its 8 little-endian bytes.
    assert plugin.call("block", "") == (42).to_bytes(8, "little")
    assert seen == [41]


def test_inferred_negative_int():
    @extism.host_fn(name="f")
    def neg(x: int) -> int:
        return x

    plugin = extism.Plugin(host_wat(["i64"], ["i64"], ["(i64.const -5)"]), functions=[neg])
    assert plugin.call("block", "") == (-5).to_bytes(8, "little", signed=True)


def test_inferred_float_param_and_result():
    @extism.host_fn(name="f")
    def double(x: float) -> float:
        assert isinstance(x, float)
        return x * 2

    plugin = extism.Plugin(host_wat(["f64"], ["f64"], ["(f64.const 1.5)"]), functions=[double])
    # The documented intent: the F64 value itself.
    assert plugin.call("raw", "") == struct.pack("<d", 3.0)


def test_inferred_bool_param_and_result():
    seen = []

    @extism.host_fn(name="f")
    def flip(x: bool) -> bool:
        seen.append(x)
        return not x

    plugin = extism.Plugin(host_wat(["i32"], ["i32"], ["(i32.const 0)"]), functions=[flip])
    # As the official SDK: the raw int in, a block of 4 little-endian bytes out.
    assert plugin.call("block", "") == (1).to_bytes(4, "little")
    assert seen == [0] and type(seen[0]) is int


def test_inferred_json_result():
    @extism.host_fn(name="hello_world")
    def f(inp: str) -> Annotated[dict, extism.Json]:
        return {"got": inp, "n": [1, 2]}

    assert json.loads(call_host(f, "x")) == {"got": "x", "n": [1, 2]}


def test_inferred_pickle_param():
    @extism.host_fn(name="hello_world")
    def f(inp: Annotated[Gribble, extism.Pickle]) -> str:
        return inp.frobbitz()

    assert call_host(f, pickle.dumps(Gribble("zap"))) == b"gromble zap"


def test_inferred_tuple_result():
    @extism.host_fn(name="f")
    def pair() -> Tuple[str, float]:
        return ("ab", 2.5)

    plugin = extism.Plugin(host_wat([], ["i64", "f64"], []), functions=[pair])
    assert plugin.call("block", "") == b"ab"
    assert plugin.call("raw", "")[8:] == struct.pack("<d", 2.5)


def test_inferred_no_result():
    seen = []

    @extism.host_fn(name="f")
    def sink(inp: str) -> None:
        seen.append(inp)

    @extism.host_fn(name="f")
    def sink_unannotated_return(inp: str):
        seen.append(inp.upper())

    for fn in (sink, sink_unannotated_return):
        plugin = extism.Plugin(host_wat(["i64"], [], ["(i64.const 0)"]), functions=[fn])
        assert plugin.call("input", "data") == b""
    assert seen == ["data", "DATA"]


def test_inferred_multiple_parameters_and_user_data():
    @extism.host_fn(name="f", user_data=[b"one", "two"])
    def f(text: str, n: int, x: float, flag: bool, *user_data) -> str:
        return repr((text, n, x, flag, user_data))

    plugin = extism.Plugin(
        host_wat(
            ["i64", "i64", "f64", "i32"],
            ["i64"],
            ["(i64.const 0)", "(i64.const 7)", "(f64.const 0.5)", "(i32.const 1)"],
        ),
        functions=[f],
    )
    assert plugin.call("input", "hi") == repr(("hi", 7, 0.5, 1, (b"one", "two"))).encode()


def test_inferred_function_returning_the_wrong_type():
    @extism.host_fn(name="hello_world")
    def f(inp: str) -> str:
        return 5 if inp == "bad" else inp

    plugin = extism.Plugin(HOST, functions=[f])
    with pytest.raises(extism.Error, match="'int' object has no attribute 'encode'") as e:
        plugin.call("call_host", "bad")
    assert isinstance(e.value.__cause__, AttributeError)
    assert plugin.call("call_host", "good") == b"good"


def test_inference_errors():
    with pytest.raises(TypeError, match="^Host function must include Python type annotations"):

        @extism.host_fn()
        def no_hints(x):
            return x

    with pytest.raises(TypeError, match="^Could not infer input type for argument x$"):

        @extism.host_fn()
        def bad_arg(x: list) -> str:
            return ""

    with pytest.raises(TypeError, match="^Could not infer return type$"):

        @extism.host_fn()
        def bad_ret(x: str) -> list:
            return []


def test_decorated_functions_stay_callable():
    @extism.host_fn()
    def greet(who: str) -> str:
        """Greets."""
        return "hello %s" % who

    @extism.host_fn(signature=([extism.ValType.I64], []))
    def explicit(plugin, params, results):
        return "called"

    assert isinstance(greet, TypeInferredFunction) and isinstance(greet, extism.Function)
    assert greet("you") == "hello you"
    assert greet.__name__ == "greet" and greet.__doc__ == "Greets."
    assert isinstance(explicit, ExplicitFunction)
    assert explicit(None, [], []) == "called"
    assert greet in HOST_FN_REGISTRY and explicit in HOST_FN_REGISTRY
    assert (greet.namespace, greet.name, greet.args, greet.returns) == (None, "greet", [1], [1])


def test_registry_is_the_default_function_list():
    @extism.host_fn(name="registry_probe_7f3a")
    def probe(x: int) -> int:
        return x * 3

    assert HOST_FN_REGISTRY[-1] is probe
    plugin = extism.Plugin(host_wat(["i64"], ["i64"], ["(i64.const 5)"], name="registry_probe_7f3a"))
    assert plugin.call("block", "") == (15).to_bytes(8, "little")
    compiled = extism.CompiledPlugin(host_wat(["i64"], ["i64"], ["(i64.const 1)"], name="registry_probe_7f3a"))
    assert compiled.functions is HOST_FN_REGISTRY


def test_namespace():
    @extism.host_fn(namespace="my:ns", name="f")
    def f(x: int) -> int:
        return x

    plugin = extism.Plugin(host_wat(["i64"], ["i64"], ["(i64.const 9)"], namespace="my:ns"), functions=[f])
    assert plugin.call("block", "") == (9).to_bytes(8, "little")
    with pytest.raises(extism.Error, match="unknown import: `extism:host/user::f`"):
        extism.Plugin(host_wat(["i64"], ["i64"], ["(i64.const 9)"]), functions=[f])


def test_signature_mismatch_is_a_create_error():
    @extism.host_fn(name="hello_world")
    def wrong(x: float) -> float:
        return x

    with pytest.raises(extism.Error, match="^Unable to create Extism plugin: types incompatible"):
        extism.Plugin(HOST, functions=[wrong])


def test_pdk_host_call():
    @extism.host_fn()
    def hello_world(inp: str) -> str:
        return f"[{inp}]"

    plugin = extism.Plugin(pdk("host_call"), functions=[hello_world])
    assert plugin.call("call_host", "pdk") == b"[pdk]"


# --- explicit signatures --------------------------------------------------------


def test_explicit_all_value_types():
    seen = []

    @extism.host_fn(
        name="f",
        signature=(
            [extism.ValType.I32, extism.ValType.F32, extism.ValType.F64, extism.ValType.I64],
            [extism.ValType.I32, extism.ValType.F32, extism.ValType.F64, extism.ValType.PTR],
        ),
    )
    def f(plugin, params, results):
        seen.extend((p.t, p.value) for p in params)
        assert [r.value for r in results] == [0, 0.0, 0.0, 0]
        assert [r.t for r in results] == [
            extism.ValType.I32,
            extism.ValType.F32,
            extism.ValType.F64,
            extism.ValType.I64,
        ]
        results[0].value = params[0].value - 10
        results[1].value = params[1].value * 2
        results[2]._assign(params[2].value / 4)
        results[3].value = params[3].value + 1

    args = ["(i32.const -3)", "(f32.const 1.25)", "(f64.const 10.0)", "(i64.const 1099511627776)"]
    plugin = extism.Plugin(host_wat(["i32", "f32", "f64", "i64"], ["i32", "f32", "f64", "i64"], args), functions=[f])
    raw = plugin.call("raw", "")
    assert struct.unpack("<q", raw[0:8])[0] == -13
    assert struct.unpack("<f", raw[8:12])[0] == 2.5
    assert struct.unpack("<d", raw[16:24])[0] == 2.5
    assert struct.unpack("<q", raw[24:32])[0] == 1099511627777
    assert seen == [
        (extism.ValType.I32, -3),
        (extism.ValType.F32, 1.25),
        (extism.ValType.F64, 10.0),
        (extism.ValType.I64, 1099511627776),
    ]


def test_explicit_unsigned_values_wrap():
    @extism.host_fn(name="f", signature=([], [extism.ValType.I32, extism.ValType.I64]))
    def f(plugin, params, results):
        results[0].value = 0xFFFFFFFF
        results[1].value = 0xFFFFFFFFFFFFFFFF

    raw = extism.Plugin(host_wat([], ["i32", "i64"], []), functions=[f]).call("raw", "")
    assert struct.unpack("<qq", raw) == (-1, -1)


@pytest.mark.parametrize(
    "value, message",
    [
        ("text", "invalid literal for int"),
        (1 << 70, "does not fit in 64 bits"),
        (None, "int\\(\\) argument must be"),
    ],
)
def test_explicit_bad_result_values(value, message):
    @extism.host_fn(name="f", signature=([], [extism.ValType.I64]))
    def f(plugin, params, results):
        results[0].value = value

    plugin = extism.Plugin(host_wat([], ["i64"], []), functions=[f])
    with pytest.raises(extism.Error, match=message):
        plugin.call("raw", "")


def test_explicit_results_are_coerced_like_the_official_sdk():
    class Number:
        def __int__(self):
            return 12

    @extism.host_fn(name="f", signature=([], [extism.ValType.I32, extism.ValType.I64, extism.ValType.F64]))
    def f(plugin, params, results):
        results[0].value = 7.9  # int(7.9)
        results[1].value = Number()
        results[2].value = 3  # float(3)

    raw = extism.Plugin(host_wat([], ["i32", "i64", "f64"], []), functions=[f]).call("raw", "")
    assert struct.unpack("<qqd", raw) == (7, 12, 3.0)


def test_explicit_output_type_mismatch():
    @extism.host_fn(name="f", signature=([], [extism.ValType.I64]))
    def f(plugin, params, results):
        results[0] = extism.Val(extism.ValType.F64, 1.0)

    plugin = extism.Plugin(host_wat([], ["i64"], []), functions=[f])
    with pytest.raises(extism.Error, match="^Output type mismatch, got ValType.F64 but expected ValType.PTR$"):
        plugin.call("raw", "")


def test_explicit_unsupported_type():
    # Built directly: through host_fn it would join HOST_FN_REGISTRY and break
    # every later plugin created with the default function list.
    f = ExplicitFunction(None, "f", [extism.ValType.V128], [], lambda plugin, params, results: None, [])
    # As the official "bad function list" errors, the text has no prefix.
    with pytest.raises(extism.Error, match="^host functions support only i32, i64, f32 and f64 values, not V128$"):
        extism.Plugin(host_wat([], [], []), functions=[f])


def test_low_level_function_class():
    def impl(plugin, inputs, outputs, *user_data):
        plugin.return_string(outputs[0], plugin.input_string(inputs[0]) + repr(user_data))

    fn = extism.Function(None, "hello_world", [extism.ValType.I64], [extism.ValType.I64], impl, b"u", 2)
    assert (fn.namespace, fn.name, fn.args, fn.returns, fn.user_data, fn.f) == (
        None,
        "hello_world",
        [1],
        [1],
        (b"u", 2),
        impl,
    )
    assert call_host(fn, "in:") == b"in:(b'u', 2)"
    ns = extism.Function("extism:host/user", "hello_world", [1], [1], impl)
    assert call_host(ns, "codes ") == b"codes ()"


@pytest.mark.parametrize(
    "returned, message",
    [
        ([1, 2], None),
        ([1], "^host function returned 1 values for 2 results$"),
        (5, "^a host function with results must return a sequence of values$"),
        (["x", 2], "^result 0 of the host function \\(I64\\): the value must be an int, not str$"),
        ([1, "y"], "^result 1 of the host function \\(F32\\): the value must be a float or an int, not str$"),
        ([1 << 64, 0], "does not fit in 64 bits"),
    ],
)
def test_native_function(returned, message):
    from extism import _extism

    seen = []

    def callback(current, inputs):
        seen.append((type(current).__name__, inputs, current.active))
        return returned

    native = _extism.Function("extism:host/user", "f", [3], [1, 2], callback)
    assert (native.namespace, native.name, native.params, native.results) == ("extism:host/user", "f", [3], [1, 2])
    assert repr(native).startswith('Function("extism:host/user", "f"')
    wasm = host_wat(["f64"], ["i64", "f32"], ["(f64.const 0.25)"])
    plugin = extism.CompiledPlugin(wasm, functions=[]).pointer  # without host functions: a link error
    with pytest.raises(extism.Error, match="unknown import"):
        plugin.instantiate()
    native_plugin = _extism.CompiledPlugin(wasm.encode(), False, [native]).instantiate()
    if message is None:
        raw = native_plugin.call("raw", b"")
        assert struct.unpack("<q", raw[:8])[0] == 1 and struct.unpack("<f", raw[8:12])[0] == 2.0
    else:
        with pytest.raises(extism.Error, match=message):
            native_plugin.call("raw", b"")
    assert seen == [("CurrentPlugin", [0.25], True)]


def test_native_function_argument_errors():
    from extism import _extism

    with pytest.raises(TypeError, match="callback must be callable"):
        _extism.Function(None, "f", [], [], 42)
    with pytest.raises(ValueError, match="params: 9 is not a ValType code"):
        _extism.Function(None, "f", [9], [], print)
    with pytest.raises(TypeError):
        _extism.Function(None, "f", "i64", [], print)


# --- CurrentPlugin and MemoryBuffer ---------------------------------------------


def test_current_plugin_methods():
    checks = {}

    @extism.host_fn(signature=([extism.ValType.PTR], [extism.ValType.PTR]))
    def hello_world(plugin, params, results):
        assert isinstance(plugin, extism.CurrentPlugin)
        mem = plugin.memory_at_offset(params[0])
        assert isinstance(mem, extism.Memory) and mem.offset == params[0].value and len(mem) == 5
        assert plugin.memory_at_offset(params[0].value).length == 5
        buf = plugin.memory(mem)
        assert isinstance(buf, MemoryBuffer) and len(buf) == 5
        checks["read"] = (buf[:], bytes(buf), buf[0], buf[-1], buf[1:3], buf[::2], list(buf), buf == b"hello")
        buf[0] = ord("J")
        buf[1:3] = b"EL"
        buf[::4] = b"[]"
        checks["input"] = (
            plugin.input_bytes(params[0]),
            plugin.input_string(params[0]),
            plugin.input_buffer(params[0])[:],
        )
        block = plugin.alloc(3)
        assert block.offset != 0 and block.length == 3
        plugin.memory(block)[:] = bytearray(b"abc")
        checks["alloc"] = plugin.memory_at_offset(block.offset).length
        plugin.free(block)
        checks["freed"] = plugin.memory_at_offset(block.offset).length
        checks["alloc0"] = (plugin.alloc(0).offset, plugin.memory_at_offset(0).length)
        checks["context"] = plugin.host_context()
        plugin.return_string(results[0], "done")

    assert call_host(hello_world, "hello") == b"done"
    assert checks["read"] == (b"hello", b"hello", ord("h"), ord("o"), b"el", b"hlo", list(b"hello"), True)
    assert checks["input"] == (b"[ELl]", "[ELl]", b"[ELl]")
    assert checks["alloc"] == 3 and checks["freed"] == 0
    assert checks["alloc0"] == (0, 0)
    assert checks["context"] is None


def test_memory_buffer_errors():
    errors = []

    @extism.host_fn(signature=([extism.ValType.PTR], [extism.ValType.PTR]))
    def hello_world(plugin, params, results):
        buf = plugin.input_buffer(params[0])
        attempts = [
            lambda: buf[5],
            lambda: buf.__setitem__(slice(0, 2), b"toolong"),
            lambda: buf.__setitem__(slice(None, None, 2), b"x"),
            lambda: buf.__setitem__(0, 256),
            lambda: buf.__setitem__(slice(0, 1), 7),
            lambda: plugin.memory(extism.Memory(1 << 40, 4))[:],
            lambda: plugin.pointer.read(2**64 - 1, 2),
        ]
        for attempt in attempts:
            try:
                attempt()
                errors.append(None)
            except Exception as e:  # noqa: BLE001
                errors.append(type(e))
        plugin.return_bytes(results[0], buf.tobytes())

    assert call_host(hello_world, "hello") == b"hello"
    assert errors == [IndexError, ValueError, ValueError, ValueError, TypeError, extism.Error, extism.Error]


def test_return_bytes_accepts_bytes_like_and_empty():
    @extism.host_fn(signature=([extism.ValType.PTR], [extism.ValType.PTR]))
    def hello_world(plugin, params, results):
        data = plugin.input_bytes(params[0])
        plugin.return_bytes(results[0], memoryview(data) if data else b"")

    assert call_host(hello_world, "mv") == b"mv"
    assert call_host(hello_world, "") == b""


def test_current_plugin_is_only_valid_during_the_call():
    kept = {}

    @extism.host_fn(signature=([extism.ValType.PTR], [extism.ValType.PTR]))
    def hello_world(plugin, params, results):
        kept["plugin"] = plugin
        kept["buffer"] = plugin.input_buffer(params[0])
        kept["active"] = plugin.pointer.active
        plugin.return_string(results[0], "ok")

    assert call_host(hello_world, "abc") == b"ok"
    assert kept["active"] is True
    assert kept["plugin"].pointer.active is False
    message = "^CurrentPlugin used outside of its host function call$"
    with pytest.raises(extism.Error, match=message):
        kept["plugin"].alloc(4)
    with pytest.raises(extism.Error, match=message):
        kept["buffer"][:]
    with pytest.raises(extism.Error, match=message):
        kept["plugin"].host_context()
    with pytest.raises(extism.Error, match=message):
        kept["plugin"].memory_at_offset(1)


def test_host_context_default_and_any_object():
    contexts = []

    @extism.host_fn()
    def hello_world(current_plugin: extism.CurrentPlugin, inp: str) -> str:
        contexts.append(current_plugin.host_context())
        return inp

    plugin = extism.Plugin(HOST, functions=[hello_world])
    marker = object()
    plugin.call("call_host", "a")
    plugin.call("call_host", "b", host_context=marker)
    plugin.call("call_host", "c", host_context=[1, 2])
    plugin.call("call_host", "d")
    assert contexts[0] is None and contexts[1] is marker and contexts[2] == [1, 2] and contexts[3] is None


# --- exceptions, reentrancy -------------------------------------------------------


def test_exception_in_host_function_raises_error_with_its_message():
    @extism.host_fn()
    def hello_world(inp: str) -> str:
        if inp == "bad":
            raise ValueError("boom: %s" % inp)
        return inp

    plugin = extism.Plugin(HOST, functions=[hello_world])
    with pytest.raises(extism.Error) as e:
        plugin.call("call_host", "bad")
    assert str(e.value) == "boom: bad"
    assert isinstance(e.value.__cause__, ValueError)
    # The plugin stays usable.
    assert plugin.call("call_host", "good") == b"good"


def test_exception_without_message_uses_its_type_name():
    @extism.host_fn(signature=([extism.ValType.PTR], [extism.ValType.PTR]))
    def hello_world(plugin, params, results):
        raise KeyError

    with pytest.raises(extism.Error, match="^KeyError$"):
        call_host(hello_world, "x")


def test_exception_in_pdk_plugin_host_function():
    @extism.host_fn()
    def hello_world(inp: str) -> str:
        raise RuntimeError("nope")

    plugin = extism.Plugin(pdk("host_call"), functions=[hello_world])
    with pytest.raises(extism.Error, match="^nope$"):
        plugin.call("call_host", "x")


def test_keyboard_interrupt_passes_through():
    @extism.host_fn()
    def hello_world(inp: str) -> str:
        raise KeyboardInterrupt()

    plugin = extism.Plugin(HOST, functions=[hello_world])
    with pytest.raises(KeyboardInterrupt):
        plugin.call("call_host", "x")


def test_reentrant_call_is_an_error_not_a_deadlock():
    holder = {}

    @extism.host_fn()
    def hello_world(inp: str) -> str:
        try:
            holder["plugin"].call("call_host", "again")
        except extism.Error as e:
            return "refused: %s" % e
        return "not refused"

    holder["plugin"] = extism.Plugin(HOST, functions=[hello_world])
    assert holder["plugin"].call("call_host", "x") == b"refused: cannot make reentrant calls into plugin"


def test_host_function_may_call_another_plugin():
    inner = extism.Plugin(wat("count_vowels"), functions=[])

    @extism.host_fn()
    def hello_world(inp: str) -> str:
        return inner.call("count_vowels", inp).decode()

    assert call_host(hello_world, "aeiou") == b'{"count":5}'


def test_host_function_runs_on_the_calling_thread():
    threads = []

    @extism.host_fn()
    def hello_world(inp: str) -> str:
        threads.append(threading.get_ident())
        return inp

    call_host(hello_world, "x")
    assert threads == [threading.get_ident()]


def test_host_function_called_by_a_start_section():
    # Instantiation runs with the GIL released too; the host function takes it back.
    module = """(module
      (import "extism:host/user" "on_start" (func $on_start (param i64) (result i64)))
      (global $g (mut i64) (i64.const 0))
      (func $init (global.set $g (call $on_start (i64.const 20))))
      (start $init)
      (func (export "get") (result i32) (i32.wrap_i64 (global.get $g))))"""
    calls = []

    @extism.host_fn(name="on_start", signature=([extism.ValType.I64], [extism.ValType.I64]))
    def on_start(plugin, params, results):
        calls.append(plugin.host_context())
        results[0].value = params[0].value + 1

    plugin = extism.Plugin(module, functions=[on_start])
    with pytest.raises(extism.Error, match="^Error code: 21$"):
        plugin.call("get", "")
    assert calls == [None]

    @extism.host_fn(name="on_start", signature=([extism.ValType.I64], [extism.ValType.I64]))
    def failing(plugin, params, results):
        raise RuntimeError("no start for you")

    with pytest.raises(extism.Error) as e:
        extism.Plugin(module, functions=[failing])
    assert str(e.value) == "Unable to create Extism plugin: no start for you"
    assert isinstance(e.value.__cause__, RuntimeError)


def test_host_function_failing_in_the_rebuild_after_start():
    module = """(module
      (import "extism:host/user" "on_start" (func $on_start))
      (start $on_start)
      (func (export "_start"))
      (func (export "run") (result i32) (i32.const 0)))"""
    calls = []

    @extism.host_fn(name="on_start", signature=([], []))
    def on_start(plugin, params, results):
        calls.append(len(calls))
        if len(calls) > 1:
            raise ValueError("second start refused")

    plugin = extism.Plugin(module, functions=[on_start])
    plugin.call("_start", "")
    with pytest.raises(extism.Error, match="second start refused") as e:
        plugin.call("run", "")
    assert isinstance(e.value.__cause__, ValueError)
    assert calls == [0, 1]


def test_free_accepts_memory_int_and_val():
    lengths = []

    @extism.host_fn(signature=([extism.ValType.PTR], [extism.ValType.PTR]))
    def hello_world(plugin, params, results):
        blocks = [plugin.alloc(4) for _ in range(3)]
        plugin.free(blocks[0])
        plugin.free(blocks[1].offset)
        plugin.free(extism.Val(extism.ValType.PTR, blocks[2].offset))
        lengths.extend(plugin.memory_at_offset(b.offset).length for b in blocks)
        plugin.free(0)  # ignored
        results[0].value = params[0].value

    assert call_host(hello_world, "keep") == b"keep"
    assert lengths == [0, 0, 0]


# --- private names of the official test-suite ------------------------------------


def test_extism_function_metadata():
    def test_host_fn(inp: str) -> str:
        return inp

    func = TypeInferredFunction(None, "test_func", test_host_fn, [])
    metadata = _ExtismFunctionMetadata(func)
    assert metadata.pointer is not None
    assert (metadata.pointer.name, metadata.pointer.namespace) == ("test_func", "extism:host/user")
    assert (metadata.pointer.params, metadata.pointer.results) == ([1], [1])
    metadata.__del__()
    assert metadata.pointer is None
    metadata.__del__()
    assert metadata.pointer is None


def test_convert_value():
    def make(t, **kwargs):
        union = namedtuple("ValUnion", kwargs.keys())(**kwargs)
        return namedtuple("ExtismVal", ["t", "v"])(t=t, v=union)

    f64 = _convert_value(make(3, f64=3.14))
    assert f64.t == extism.ValType.F64 and f64.value == pytest.approx(3.14)
    assert _convert_value(make(0, i32=-1)).t == extism.ValType.I32
    assert _convert_value(make(1, i64=5)).t is extism.ValType.I64
    assert _convert_value(make(2, f32=0.5)).value == 0.5
    assert _convert_value(make(4)) is None


def test_annotated_from_typing_module():
    @extism.host_fn(name="hello_world")
    def f(inp: typing.Annotated[dict, extism.Json]) -> typing.Annotated[dict, extism.Json]:
        return {"echo": inp}

    assert json.loads(call_host(f, '{"a": 1}')) == {"echo": {"a": 1}}
