#!/usr/bin/env python3
"""The Python and Node frontends under valgrind (make test-leaks).

Runs the Python suite, a set of the Node suite's files and a Node
create/free churn under memcheck, reads valgrind's XML reports and fails on:

- any invalid access (read, write, free, overlap, syscall argument), wherever
  it happens: the interpreters are clean of these under memcheck, so one is
  ours or a bug worth knowing about;
- a definite or indirect leak allocated from our code (a stack frame in the
  extension or the addon).

Test failures themselves are not the point here (the suites' timing
assertions do not hold at valgrind's speed; test-python and test-node run
them at full speed): a run that ends with failed tests is reported, one that
crashes or ends otherwise fails.

The one noise that remains is the interpreters' own bookkeeping of objects
still alive at exit: Node keeps a small record per napi reference and
external, freed only when the JS object is collected, which never happens
at exit. Those records are allowed here, and the churn check shows they are
not a leak: the bytes lost with 40 plugins created and freed must equal the
bytes lost with 5.

Usage: tests/leaks/run_frontends.py [python] [node]   (default: both)
Env:   PYTHON (default <repo>/.venv/bin/python, as bindings/python/test.sh
       leaves it), EXTISM_FIXTURES (default <repo>/target/fixtures).
"""

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
NODE_DIR = os.path.join(REPO, "bindings", "node")

# Files of the Node suite run under valgrind: both call paths, host
# functions, limits and cancel, pools and loading. The rest repeat these paths
# with other inputs; logging.test.mjs races a flood against a blocked logger,
# which valgrind's speed turns into a different race.
NODE_FILES = [
    "calls.test.mjs",
    "host_functions.test.mjs",
    "limits.test.mjs",
    "pools.test.mjs",
    "create.test.mjs",
]

VALGRIND = [
    "valgrind",
    "-q",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite,indirect",
    "--show-leak-kinds=definite,indirect",
    # Uninitialised-value reports come from wasmtime's and the interpreters'
    # optimised code (as in the C suite's run); accesses and leaks are checked.
    "--undef-value-errors=no",
    "--xml=yes",
]

LEAKS = {"Leak_DefinitelyLost", "Leak_IndirectlyLost"}

# The longest one valgrind run may take (seconds): a test that hangs fails
# the check instead of the whole `make test`.
RUN_LIMIT = 1500

# Node's napi records of a JS object (see the module doc).
NODE_BOOKKEEPING = ("napi_create_reference", "napi_create_external", "napi_wrap", "napi_create_function")


def ours(frame):
    obj = frame.get("obj") or ""
    fn = frame.get("fn") or ""
    return obj.endswith((".node", "_extism.abi3.so")) or "extism" in fn


def read_errors(xml_path):
    root = ET.parse(xml_path).getroot()
    errors = []
    for error in root.findall("error"):
        frames = [
            {"fn": f.findtext("fn"), "obj": f.findtext("obj"), "file": f.findtext("file"), "line": f.findtext("line")}
            for f in error.findall("stack/frame")
        ]
        errors.append(
            {
                "kind": error.findtext("kind"),
                "what": error.findtext("xwhat/text") or error.findtext("what") or "",
                "bytes": int(error.findtext("xwhat/leakedbytes") or 0),
                "frames": frames,
            }
        )
    return errors


def node_bookkeeping(error):
    """A leak whose allocation Node made in one of its napi record calls."""
    for frame in error["frames"]:
        fn = frame["fn"] or ""
        if fn.startswith(("operator new", "malloc", "calloc", "realloc")):
            continue
        return fn.startswith(NODE_BOOKKEEPING) and (frame["obj"] or "").endswith("/node")
    return False


def describe(error):
    lines = [f"  {error['kind']}: {error['what']}"]
    for frame in error["frames"][:14]:
        where = f"{frame['file']}:{frame['line']}" if frame["file"] else frame["obj"]
        lines.append(f"      {frame['fn']}  ({where})")
    return "\n".join(lines)


def run(label, argv, cwd, env, allow_bookkeeping=False):
    """Runs argv under valgrind; returns (failures, bookkeeping bytes)."""
    with tempfile.TemporaryDirectory() as scratch:
        xml_path = os.path.join(scratch, "report.xml")
        try:
            done = subprocess.run(VALGRIND + [f"--xml-file={xml_path}"] + argv, cwd=cwd, env=env, timeout=RUN_LIMIT)
        except subprocess.TimeoutExpired:
            return [f"{label}: still running after {RUN_LIMIT} s under valgrind"], 0
        # Status 1 is failed tests: at valgrind's speed the suites' timing
        # assertions (a timeout that fires within so long, an event loop that
        # ticks so often meanwhile) fail; the same tests run at full speed in
        # test-python and test-node. Anything else (a crash, a signal, a
        # usage error) fails the check.
        if done.returncode == 1:
            print(f"run_frontends.py: {label}: some tests failed at valgrind's speed (not a memory error)")
        elif done.returncode != 0:
            return [f"{label}: exited with {done.returncode}"], 0
        failures, kept = [], 0
        for error in read_errors(xml_path):
            if error["kind"] in LEAKS:
                if not any(ours(f) for f in error["frames"]):
                    continue
                if allow_bookkeeping and node_bookkeeping(error):
                    kept += error["bytes"]
                    continue
            failures.append(f"{label}:\n{describe(error)}")
        return failures, kept


def python_suite(env):
    python = os.environ.get("PYTHON", os.path.join(REPO, ".venv", "bin", "python"))
    env = dict(env, PYTHONMALLOC="malloc")
    # Each test at most 5 minutes (pytest-timeout, installed by test.sh).
    argv = [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--timeout=300", "tests"]
    failures, _ = run("python suite", argv, os.path.join(REPO, "bindings", "python"), env)
    return failures


def node_suite(env):
    failures = []
    hook = os.path.join(HERE, "gc-after-each.mjs")
    for name in NODE_FILES:
        # Directly, not through `node --test`, which would run the file in a
        # child process outside valgrind.
        argv = ["node", "--expose-gc", "--import", hook, os.path.join("test", name)]
        found, _ = run(f"node {name}", argv, NODE_DIR, env, allow_bookkeeping=True)
        failures += found
    lost = {}
    for n in (5, 40):
        argv = ["node", "--expose-gc", os.path.join(HERE, "node_churn.mjs"), str(n)]
        found, lost[n] = run(f"node churn of {n}", argv, REPO, env, allow_bookkeeping=True)
        failures += found
    print(f"node churn: {lost[5]} bytes of napi records alive at exit after 5 plugins, {lost[40]} after 40")
    if lost[40] != lost[5]:
        failures.append(f"node churn: records lost grow with the plugins made ({lost[5]} bytes for 5, {lost[40]} for 40)")
    return failures


def main():
    which = sys.argv[1:] or ["python", "node"]
    env = dict(os.environ)
    env.setdefault("EXTISM_FIXTURES", os.path.join(REPO, "target", "fixtures"))
    failures = []
    if "python" in which:
        failures += python_suite(env)
    if "node" in which:
        failures += node_suite(env)
    if failures:
        print("\n".join(failures), file=sys.stderr)
        print(f"run_frontends.py: {len(failures)} problem(s)", file=sys.stderr)
        return 1
    print(f"run_frontends.py: {' and '.join(which)} clean under valgrind")
    return 0


if __name__ == "__main__":
    sys.exit(main())
