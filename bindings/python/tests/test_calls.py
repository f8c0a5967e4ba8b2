"""Plugin and CompiledPlugin: inputs, calls, errors, config, ids and lifetimes."""

import gc
import weakref
import hashlib
import json
import pathlib
import sys
import uuid

import extism
import extism.extism
import pytest
from extism.extism import CompiledPlugin
from helpers import pdk, read, wat


def count(plugin, text):
    return json.loads(plugin.call("count_vowels", text))["count"]


# --- what `plugin` may be --------------------------------------------------


def test_from_path_str():
    plugin = extism.Plugin(wat("count_vowels"), functions=[])
    assert plugin.call("count_vowels", "hello world") == b'{"count":3}'


def test_from_pathlike():
    plugin = extism.Plugin(pathlib.Path(wat("count_vowels")), functions=[])
    assert count(plugin, "aaa") == 3


def test_from_wat_text_str():
    text = read(wat("echo")).decode()
    plugin = extism.Plugin(text, functions=[])
    assert plugin.call("echo", "hi") == b"hi"


def test_from_wasm_bytes():
    plugin = extism.Plugin(read(pdk("count_vowels")), functions=[])
    assert count(plugin, "this is a test") == 4
    assert count(plugin, "🌎hello🌎world🌎") == 3


def test_from_bytearray_and_memoryview():
    data = read(wat("echo"))
    assert extism.Plugin(bytearray(data), functions=[]).call("echo", "a") == b"a"
    assert extism.Plugin(memoryview(data), functions=[]).call("echo", "b") == b"b"


def test_from_manifest_dict_with_bytes_and_hash():
    wasm = read(pdk("count_vowels"))
    manifest = {"wasm": [{"data": wasm, "hash": hashlib.sha256(wasm).hexdigest()}]}
    assert count(extism.Plugin(manifest, functions=[]), "aeiou") == 5


def test_from_manifest_dict_with_path():
    plugin = extism.Plugin({"wasm": [{"path": pdk("echo")}]}, functions=[])
    assert plugin.call("echo", b"\x00\x01") == b"\x00\x01"


def test_from_manifest_json_and_toml_text():
    path = pdk("echo")
    assert extism.Plugin(json.dumps({"wasm": [{"path": path}]}), functions=[]).call("echo", "j") == b"j"
    toml = f'wasm = [{{ path = "{path}" }}]\n'
    assert extism.Plugin(toml, functions=[]).call("echo", "t") == b"t"


def test_multi_module_manifest():
    manifest = {"wasm": [{"path": wat("lib"), "name": "lib"}, {"path": wat("uses_lib")}]}
    plugin = extism.Plugin(manifest, functions=[])
    with pytest.raises(extism.Error, match="^Error code: 7$"):
        plugin.call("run", "")


def test_from_compiled_plugin():
    compiled = CompiledPlugin(wat("count_vowels"), functions=[])
    a = extism.Plugin(compiled)
    b = extism.Plugin(compiled)
    assert count(a, "aa") == 2 and count(b, "eee") == 3
    assert a.id != b.id
    assert not a._owns_compiled_plugin and a.compiled_plugin is compiled


def test_compiled_plugin_is_importable_everywhere():
    assert extism.CompiledPlugin is extism.extism.CompiledPlugin
    assert extism.CancelHandle is extism.extism.CancelHandle


# --- creation errors ---------------------------------------------------------


def test_bad_manifest():
    with pytest.raises(extism.Error) as e:
        extism.Plugin({"invalid_manifest": True})
    assert str(e.value) == "Unable to compile Extism plugin: Unknown manifest format"


def test_empty_manifest():
    with pytest.raises(extism.Error, match="^Unable to compile Extism plugin: No wasm files specified"):
        extism.Plugin({"wasm": []}, functions=[])


def test_hash_mismatch():
    wasm = read(wat("echo"))
    with pytest.raises(extism.Error, match="^Unable to compile Extism plugin: Hash mismatch"):
        extism.Plugin({"wasm": [{"data": wasm, "hash": "00" * 32}]}, functions=[])


def test_missing_wasm_file():
    with pytest.raises(extism.Error, match='Unable to load Wasm file "nope.wasm"'):
        extism.Plugin({"wasm": [{"path": "nope.wasm"}]}, functions=[])


def test_string_sources_are_classified_by_the_core():
    path = str(pathlib.Path(wat("count_vowels")).resolve())
    # A missing file is reported as one (not as unreadable manifest text).
    with pytest.raises(extism.Error, match='Unable to load Wasm file "nope.wasm"'):
        extism.Plugin("nope.wasm", functions=[])
    # A file: URL names a path; TOML manifest text is a manifest.
    for source in (pathlib.Path(path).as_uri(), f'[[wasm]]\npath = "{path}"\n', path):
        with extism.Plugin(source, functions=[]) as plugin:
            assert count(plugin, "aaa") == 3, source


def test_invalid_wat():
    with pytest.raises(extism.Error, match="^Unable to compile Extism plugin: "):
        extism.Plugin("(module (func", functions=[])


def test_unknown_import_is_a_create_error():
    with pytest.raises(extism.Error) as e:
        extism.Plugin(wat("host"), functions=[])
    assert str(e.value) == (
        "Unable to create Extism plugin: unknown import: `extism:host/user::hello_world` has not been defined"
    )


def test_compiled_plugin_errors():
    with pytest.raises(extism.Error, match="^Unable to compile Extism plugin: Unknown manifest format$"):
        CompiledPlugin({"nope": 1}, functions=[])
    compiled = CompiledPlugin(wat("host"), functions=[])
    with pytest.raises(extism.Error, match="^Unable to create Extism plugin: unknown import"):
        extism.Plugin(compiled)


def test_bad_plugin_argument_type():
    with pytest.raises(TypeError, match="wasm must be a bytes-like object, not int"):
        extism.Plugin(42, functions=[])


# --- calls -------------------------------------------------------------------


def test_call_data_kinds():
    plugin = extism.Plugin(wat("echo"), functions=[])
    assert plugin.call("echo", "héllo") == "héllo".encode()
    assert plugin.call("echo", b"\xff\x00") == b"\xff\x00"
    assert plugin.call("echo", bytearray(b"ba")) == b"ba"
    assert plugin.call("echo", memoryview(b"xmvx")[1:3]) == b"mv"
    assert plugin.call("echo", "") == b""
    assert plugin.call("noop", b"ignored") == b""


def test_call_parse():
    plugin = extism.Plugin(wat("count_vowels"), functions=[])
    assert plugin.call("count_vowels", "aei", parse=lambda b: json.loads(b)["count"]) == 3
    raw = plugin.call("count_vowels", "a", parse=None)
    assert isinstance(raw, bytes) and raw == b'{"count":1}'
    assert isinstance(plugin.call("count_vowels", "a"), bytes)


def test_call_large_input():
    plugin = extism.Plugin(wat("echo"), functions=[])
    data = bytes(range(256)) * 4096
    assert plugin.call("echo", data) == data


def test_pdk_plugins():
    assert extism.Plugin(pdk("echo"), functions=[]).call("unicode_bytes", "") == "héllo wörld ✓".encode()
    assert extism.Plugin(pdk("echo"), functions=[]).call("unicode", "") == "héllo wörld".encode()
    greet = extism.Plugin(pdk("config"), functions=[])
    assert greet.call("greet", "world") == b"Hello, world!"
    vars_ = extism.Plugin(pdk("vars"), functions=[])
    assert [vars_.call("count", "") for _ in range(3)] == [b"1", b"2", b"3"]


def test_unknown_function():
    plugin = extism.Plugin(wat("count_vowels"))
    with pytest.raises(extism.Error) as e:
        plugin.call("i_dont_exist", "someinput")
    assert str(e.value) == "Function not found: i_dont_exist"
    assert e.value.kind == "FunctionNotFound"
    assert count(plugin, "a") == 1


def test_errors_carry_the_core_kind():
    errors = extism.Plugin(wat("errors"))
    with pytest.raises(extism.Error) as e:
        errors.call("fail", b"")
    assert (e.value.kind, str(e.value)) == ("Plugin", "this is an error")
    with pytest.raises(extism.Error) as e:
        errors.call("trap", b"")
    assert e.value.kind == "Trap"
    with pytest.raises(extism.Error) as e:
        extism.Plugin(b"not wasm")
    assert e.value.kind == "Manifest"
    # An error the Python layer raises has no core kind.
    assert extism.Error("made here").kind == "Other"


def test_function_exists():
    plugin = extism.Plugin(wat("count_vowels"), functions=[])
    assert plugin.function_exists("count_vowels") is True
    assert plugin.function_exists("i_dont_exist") is False


def test_plugin_errors_and_return_codes():
    plugin = extism.Plugin(wat("errors"), functions=[])
    with pytest.raises(extism.Error, match="^this is an error$"):
        plugin.call("fail", "")
    with pytest.raises(extism.Error, match="^this is an error$"):
        plugin.call("fail_rc0", "")
    with pytest.raises(extism.Error, match="^Error code: 7$"):
        plugin.call("return_7", "")
    with pytest.raises(extism.Error, match="unreachable"):
        plugin.call("trap", "")
    with pytest.raises(extism.Error, match="^my input$"):
        plugin.call("fail_input", "my input")
    with pytest.raises(extism.Error, match="call stack exhausted"):
        plugin.call("stack_overflow", "")
    # The plugin keeps working after every kind of failure.
    assert plugin.call("error_non_block", "") == b""


def test_pdk_errors():
    plugin = extism.Plugin(pdk("fail"), functions=[])
    with pytest.raises(extism.Error, match="^something bad happened: x$"):
        plugin.call("fail", "x")
    with pytest.raises(extism.Error, match="^aborted: y$"):
        plugin.call("fail_abort", "y")


def test_error_is_an_exception_with_one_argument():
    assert issubclass(extism.Error, Exception)
    err = extism.Error("text")
    assert err.args == ("text",) and str(err) == "text"


def test_bad_call_arguments_leave_the_plugin_usable():
    plugin = extism.Plugin(wat("echo"), functions=[])
    with pytest.raises(TypeError, match="data must be str or a bytes-like object, not int"):
        plugin.call("echo", 5)
    with pytest.raises(TypeError, match="data must be str or a bytes-like object, not NoneType"):
        plugin.call("echo", None)
    with pytest.raises(TypeError):
        plugin.call(b"echo", "x")
    with pytest.raises(TypeError):
        plugin.call("echo")
    with pytest.raises(UnicodeEncodeError):
        plugin.call("echo", "\udc80")
    with pytest.raises(TypeError):
        plugin.function_exists(3)
    assert plugin.call("echo", "still fine") == b"still fine"


# --- config, vars, reset -----------------------------------------------------


def test_config_is_merged():
    plugin = extism.Plugin(wat("vars_config"), config={"greeting": "hi", "other": "x"}, functions=[])
    assert plugin.call("config", "greeting") == b"hi"
    assert plugin.call("config", "missing") == b""


def test_manifest_config_and_removal():
    manifest = {"wasm": [{"path": wat("vars_config")}], "config": {"a": "from manifest", "b": "kept"}}
    plugin = extism.Plugin(manifest, config={"a": None}, functions=[])
    assert plugin.call("config", "a") == b""
    assert plugin.call("config", "b") == b"kept"


def test_config_with_non_string_values_is_ignored():
    # As the official SDK: the merge fails as a whole and nothing is raised.
    plugin = extism.Plugin(wat("vars_config"), config={"a": "x", "b": 1}, functions=[])
    assert plugin.call("config", "a") == b""
    plugin = extism.Plugin(wat("vars_config"), config=["not", "a", "dict"], functions=[])
    assert plugin.call("config", "a") == b""


def test_pdk_config():
    plugin = extism.Plugin(pdk("config"), config={"greeting": "Bonjour"}, functions=[])
    assert plugin.call("greet", "le monde") == b"Bonjour, le monde!"


def test_vars_persist_between_calls_and_reset_keeps_them():
    plugin = extism.Plugin(wat("vars_config"), functions=[])
    assert plugin.call("counter", "") == (1).to_bytes(8, "little")
    assert plugin.call("counter", "") == (2).to_bytes(8, "little")
    plugin.reset()
    assert plugin.call("counter", "") == (3).to_bytes(8, "little")


def test_reset():
    plugin = extism.Plugin(wat("echo"), functions=[])
    assert plugin.call("echo", "a" * 1000) == b"a" * 1000
    assert plugin.reset() is None
    assert plugin.call("echo", "b") == b"b"


# --- id, lifetime ------------------------------------------------------------


def test_id_is_a_stable_uuid4():
    plugin = extism.Plugin(wat("echo"), functions=[])
    assert isinstance(plugin.id, uuid.UUID)
    assert plugin.id.version == 4
    assert plugin.id == plugin.id
    assert extism.Plugin(wat("echo"), functions=[]).id != plugin.id


def test_can_free_plugin():
    plugin = extism.Plugin(wat("count_vowels"))
    assert count(plugin, "aeiou") == 5
    handle = plugin.cancel_handle()
    freed = weakref.ref(plugin)
    del plugin
    gc.collect()
    assert freed() is None, "the plugin object was not freed"
    # A cancel handle outlives its plugin and does nothing.
    assert handle.cancel() is True


def test_context_manager_frees_plugin_and_owned_compiled_plugin():
    with extism.Plugin(wat("count_vowels"), functions=[]) as plugin:
        assert count(plugin, "test") == 1
        assert plugin._owns_compiled_plugin
    assert plugin.plugin == -1
    assert plugin.compiled_plugin is None
    plugin.__del__()  # idempotent
    assert plugin.plugin == -1
    with pytest.raises(extism.Error, match="freed"):
        plugin.call("count_vowels", "a")
    with pytest.raises(extism.Error, match="freed"):
        _ = plugin.id


def test_del_keeps_a_compiled_plugin_it_does_not_own():
    compiled = CompiledPlugin(wat("count_vowels"), functions=[])
    assert compiled.pointer != -1
    plugin = extism.Plugin(compiled)
    assert count(plugin, "test") == 1
    plugin.__del__()
    assert plugin.plugin == -1
    assert compiled.pointer != -1
    assert count(extism.Plugin(compiled), "oo") == 2
    compiled.__del__()
    assert compiled.pointer == -1
    compiled.__del__()  # idempotent
    with pytest.raises(extism.Error, match="^Unable to create Extism plugin: "):
        extism.Plugin(compiled)


def test_plugin_outlives_its_compiled_plugin():
    compiled = CompiledPlugin(wat("echo"), functions=[])
    plugin = extism.Plugin(compiled)
    compiled.__del__()
    del compiled
    gc.collect()
    assert plugin.call("echo", "alive") == b"alive"


def test_compiled_plugin_attributes():
    fns = []
    compiled = CompiledPlugin(wat("echo"), functions=fns, fuel_limit=10_000_000)
    assert compiled.functions is fns
    assert compiled.pointer.fuel_limit == 10_000_000
    assert compiled.pointer.wasi is False
    assert CompiledPlugin(wat("wasi"), wasi=True, functions=[]).pointer.wasi is True


def test_start_rebuilds_the_instance():
    # The return code is the global: "Error code: N" shows it.
    plugin = extism.Plugin(wat("start_rebuild"), functions=[])
    with pytest.raises(extism.Error, match="^Error code: 1$"):
        plugin.call("bump", "")
    plugin.call("_start", "")
    with pytest.raises(extism.Error, match="^Error code: 1$"):
        plugin.call("bump", "")


def test_initializers_run_once_per_instance():
    plugin = extism.Plugin(wat("init"), functions=[])
    with pytest.raises(extism.Error, match="^Error code: 1$"):
        plugin.call("count", "")
    with pytest.raises(extism.Error, match="^Error code: 1$"):
        plugin.call("count", "")


def test_wasi_output_to_a_callable_per_plugin():
    seen = []
    plugin = extism.Plugin(wat("wasi"), wasi=True, functions=[], wasi_output=lambda s, b: seen.append((s, b)))
    assert plugin.call("hello", "") == b"ok"
    assert plugin.call("complain", "") == b"ok"
    assert seen == [("stdout", b"hello\n"), ("stderr", b"oops\n")]
    # Plugins made from one CompiledPlugin share its setting.
    compiled = CompiledPlugin(wat("wasi"), wasi=True, functions=[], wasi_output=lambda s, b: seen.append((s, b)))
    extism.Plugin(compiled).call("hello", "")
    assert seen[-1] == ("stdout", b"hello\n")
    # False discards; a plugin without the option writes nowhere we see.
    extism.Plugin(wat("wasi"), wasi=True, functions=[], wasi_output=False).call("hello", "")
    extism.Plugin(wat("wasi"), wasi=True, functions=[]).call("hello", "")
    assert len(seen) == 3


def test_wasi_output_true_writes_to_the_process_stdout(capfd):
    plugin = extism.Plugin(wat("wasi"), wasi=True, functions=[], wasi_output=True)
    assert plugin.call("hello", "") == b"ok"
    assert plugin.call("complain", "") == b"ok"
    out, err = capfd.readouterr()
    assert (out, err) == ("hello\n", "oops\n")


def test_wasi_output_callback_errors_do_not_fail_the_call(monkeypatch):
    def broken(stream, data):
        raise RuntimeError("nobody is listening")

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: reported.append(info.exc_value))
    plugin = extism.Plugin(wat("wasi"), wasi=True, functions=[], wasi_output=broken)
    assert plugin.call("hello", "") == b"ok"
    assert [str(e) for e in reported] == ["nobody is listening"]


def test_wasi_output_refuses_other_values():
    with pytest.raises(TypeError, match="wasi_output must be None, a bool or a callable"):
        extism.Plugin(wat("wasi"), wasi=True, functions=[], wasi_output="stdout")
