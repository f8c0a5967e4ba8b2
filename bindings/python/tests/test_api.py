"""The public surface: names, value types, small classes, docstrings, WASI."""

import inspect
import re

import extism
import extism.extism
import pytest
from extism import _extism
from helpers import wat

OFFICIAL_TOP_LEVEL = [
    "Error",
    "Plugin",
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
OFFICIAL_SUBMODULE = [
    "CompiledPlugin",
    "CancelHandle",
    "CustomLogger",
    "ExplicitFunction",
    "TypeInferredFunction",
    "HOST_FN_REGISTRY",
    "_ExtismFunctionMetadata",
    "_convert_value",
]


def test_top_level_names():
    extras = ["CompiledPlugin", "CancelHandle", "Pool", "PoolLease"]
    for name in OFFICIAL_TOP_LEVEL + extras:
        assert getattr(extism, name) is getattr(extism.extism, name), name
    assert sorted(extism.__all__) == sorted(OFFICIAL_TOP_LEVEL + extras)


def test_submodule_names():
    for name in OFFICIAL_SUBMODULE:
        assert hasattr(extism.extism, name), name
    assert isinstance(extism.extism.HOST_FN_REGISTRY, list)


def test_error_is_the_native_exception():
    assert extism.Error is _extism.Error
    assert issubclass(extism.Error, Exception)


def test_valtype():
    V = extism.ValType
    assert [(m.name, m.value) for m in V] == [
        ("I32", 0),
        ("PTR", 1),
        ("F32", 2),
        ("F64", 3),
        ("V128", 4),
        ("FUNC_REF", 5),
        ("EXTERN_REF", 6),
    ]
    assert V.I64 is V.PTR and V.I64.name == "PTR"
    assert V(1) is V.I64


def test_val():
    v = extism.Val(extism.ValType.I32, 5)
    assert (v.t, v.value) == (extism.ValType.I32, 5)
    assert repr(v) == "Val(ValType.I32, 5)"
    v._assign(7)
    assert v.value == 7


def test_memory():
    m = extism.Memory(16, 4)
    assert (m.offset, m.length, len(m)) == (16, 4, 4)
    assert repr(m) == "Memory(16, 4)"


def test_codecs_markers():
    c = extism.Codec(len)
    assert c.codec is len
    assert inspect.isclass(extism.Json) and inspect.isclass(extism.Pickle)


def test_extism_version():
    version = extism.extism_version()
    assert isinstance(version, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", version)
    assert version == _extism.extism_version()


def _public(module):
    for name, obj in vars(module).items():
        # Defined in this package (its private modules included), not imported from elsewhere.
        if name.startswith("_") or not str(getattr(obj, "__module__", None)).startswith("extism"):
            continue
        yield name, obj


@pytest.mark.parametrize("module", [extism.extism, _extism], ids=["extism.extism", "extism._extism"])
def test_every_public_name_has_a_docstring(module):
    missing = []
    for name, obj in _public(module):
        if not (inspect.isclass(obj) or callable(obj)):
            continue
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not (
                    callable(member) or isinstance(member, property) or inspect.isgetsetdescriptor(member)
                ):
                    continue
                if not (getattr(member, "__doc__", None) or "").strip():
                    missing.append(f"{name}.{attr}")
    assert missing == []


def test_wasi():
    plugin = extism.Plugin(wat("wasi"), wasi=True, functions=[])
    assert plugin.call("hello", "") == b"ok"
    with pytest.raises(extism.Error, match="^exit status 3$"):
        plugin.call("exit_3", "")
    assert plugin.call("exit_0", "") == b""
    with pytest.raises(extism.Error, match="^Unable to create Extism plugin: unknown import: `wasi_snapshot_preview1"):
        extism.Plugin(wat("wasi"), functions=[])


def test_wasi_allowed_paths(tmp_path):
    manifest = {"wasm": [{"path": wat("wasi")}], "allowed_paths": {str(tmp_path): "/data"}}
    plugin = extism.Plugin(manifest, wasi=True, functions=[])
    assert plugin.call("preopen", "") == b"/data"
