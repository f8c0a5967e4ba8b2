#!/usr/bin/env bash
# Builds and tests the Python package on a fresh machine:
#   1. creates the venv $VENV (default <repo>/.venv) if it is missing,
#   2. pip-installs this package from source (maturin comes from PyPI as the
#      build backend; the extension is a member of the root workspace, so it is
#      built in the shared target/ with the release profile) plus pytest,
#      pytest-timeout and mypy,
#   3. builds the AssemblyScript PDK fixtures if any is missing,
#   4. runs pytest and `mypy.stubtest extism._extism`.
# Exits non-zero on any failure. Extra arguments go to pytest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${VENV:-$repo/.venv}"
python="${PYTHON:-python3}"
fixtures="${EXTISM_FIXTURES:-$repo/target/fixtures}"
export EXTISM_FIXTURES="$fixtures"
# The workspace target dir, where wasmtime is already built in release.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"

if [[ ! -x "$venv/bin/python" ]]; then
  echo "test.sh: creating venv $venv" >&2
  "$python" -m venv "$venv"
fi
py="$venv/bin/python"

echo "test.sh: installing test tools and the extism package from $here" >&2
"$py" -m pip install --quiet --disable-pip-version-check pytest pytest-timeout mypy
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$here"

missing=0
for src in "$repo"/tests/fixtures/pdk/assembly/*.ts; do
  [[ -f "$fixtures/as_$(basename "$src" .ts).wasm" ]] || missing=1
done
if (( missing )); then
  echo "test.sh: building the PDK fixtures into $fixtures" >&2
  "$repo/tests/fixtures/pdk/build.sh" "$fixtures"
fi

status=0
echo "test.sh: pytest" >&2
(cd "$here" && "$py" -m pytest -p no:cacheprovider "$@") || status=1

echo "test.sh: mypy.stubtest extism._extism" >&2
# From an empty directory, so that only the installed package is seen and no
# cache is left in the source tree.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && "$py" -m mypy.stubtest extism._extism) || status=1

if (( status )); then
  echo "test.sh: FAILED" >&2
else
  echo "test.sh: all passed" >&2
fi
exit "$status"
