"""Logging: set_log_file, set_log_custom and CustomLogger.

A process installs one logger for good, so each case runs in its own Python
subprocess and reports back as JSON.
"""

import json
import subprocess
import sys
import textwrap

import pytest
from helpers import REPO, pdk, wat

pytestmark = pytest.mark.timeout(60)


def run(code: str):
    script = textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_set_log_custom_drains_lines_at_the_level():
    lines = run(
        f"""
        import json, extism
        lines = []
        logger = extism.set_log_custom(lines.append, "trace")
        plugin = extism.Plugin({wat("log")!r}, functions=[])
        level = int.from_bytes(plugin.call("level", ""), "little")
        plugin.call("log_all", "hello-log")
        logger.drain()
        drained = list(lines)
        logger.drain()
        print(json.dumps({{"level": level, "lines": drained, "again": lines[len(drained):]}}))
        """
    )
    assert lines["level"] == 0  # trace
    assert lines["again"] == []
    got = lines["lines"]
    assert len(got) == 5
    assert all("hello-log" in line and line.endswith("\n") for line in got)
    for name, line in zip(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"], got):
        assert name in line


def test_set_log_custom_default_level_is_error_and_del_drains():
    out = run(
        f"""
        import gc, json, extism
        lines = []
        logger = extism.set_log_custom(lines.append)
        assert isinstance(logger, extism.extism.CustomLogger)
        plugin = extism.Plugin({pdk("logging")!r}, functions=[])
        assert plugin.call("log_all", "pdk-line") == b"ok"
        del logger
        gc.collect()
        print(json.dumps(lines))
        """
    )
    assert len(out) == 1
    assert "ERROR" in out[0] and "pdk-line" in out[0]


def test_set_log_custom_set_callback():
    out = run(
        f"""
        import json, extism
        first, second = [], []
        logger = extism.set_log_custom(first.append, "warn")
        plugin = extism.Plugin({wat("log")!r}, functions=[])
        plugin.call("log_all", "a")
        logger.set_callback(second.append)
        logger.drain()
        print(json.dumps([len(first), len(second)]))
        """
    )
    assert out == [0, 2]


def test_set_log_file(tmp_path):
    path = tmp_path / "extism.log"
    out = run(
        f"""
        import json, extism
        assert extism.set_log_file({str(path)!r}, "info") is None
        plugin = extism.Plugin({wat("log")!r}, functions=[])
        level = int.from_bytes(plugin.call("level", ""), "little")
        plugin.call("log_all", "to-the-file")
        print(json.dumps(level))
        """
    )
    assert out == 2  # info
    text = path.read_text()
    assert text.count("to-the-file") == 3
    assert "DEBUG" not in text and "TRACE" not in text


def test_a_second_logger_is_ignored_without_an_exception(tmp_path):
    path = tmp_path / "extism.log"
    other = tmp_path / "other.log"
    out = run(
        f"""
        import json, extism
        extism.set_log_file({str(path)!r}, "warn")
        # The core refuses a second logger; as in the official SDK, that is
        # not an exception, and the first logger stays in place.
        extism.set_log_file({str(other)!r}, "trace")
        lines = []
        logger = extism.set_log_custom(lines.append, "trace")
        extism.Plugin({wat("log")!r}, functions=[]).call("log_all", "first-only")
        logger.drain()
        print(json.dumps(lines))
        """
    )
    assert out == []
    assert path.read_text().count("first-only") == 2
    assert not other.exists() or "first-only" not in other.read_text()


def test_set_log_file_stderr():
    script = textwrap.dedent(
        f"""
        import extism
        extism.set_log_file("stderr", "error")
        extism.Plugin({wat("log")!r}, functions=[]).call("log_all", "on-stderr")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=50)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("on-stderr") == 1


def test_no_logger_means_level_off():
    out = run(
        f"""
        import json, extism
        plugin = extism.Plugin({wat("log")!r}, functions=[])
        print(json.dumps(int.from_bytes(plugin.call("level", ""), "little", signed=True)))
        """
    )
    assert out == 2**31 - 1
