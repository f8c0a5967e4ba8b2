#!/usr/bin/env bash
# Runs tests/conformance/cases.json through every frontend: C (libextism.so),
# Python (the installed `extism` package) and Node (bindings/node). Each runner
# prints one line per case and a last line `N passed, N failed, N skipped`.
#
# Usage: tests/conformance/run.sh [RUNNER...]   RUNNER: c, python, node (default: all three)
#        Extra arguments after `--` go to every runner (e.g. `-- --only echo_empty`).
# Env:   EXTISM_LIB_DIR   directory holding libextism.so (default <repo>/target/release)
#        VENV             the venv with `extism` installed (default <repo>/.venv)
#        NODE             the node binary (default node)
#        CC               C compiler (default cc)
#        EXTISM_CONFORMANCE_BUILD_DIR  where to put the C runner (default: a temporary directory)
#        EXTISM_CONFORMANCE_TIMEOUT    seconds each runner may take (default 120)
# Exit status: 0 when every runner passed, 1 when any case failed, 2 on a set-up error.
#
# Nothing is built with cargo here: libextism.so comes from `make build`, the
# Python package from bindings/python/test.sh, the Node addon from
# bindings/node/test.sh, the PDK fixtures from tests/fixtures/pdk/build.sh
# (run here when they are missing).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
lib_dir="${EXTISM_LIB_DIR:-$root/target/release}"
venv="${VENV:-$root/.venv}"
node="${NODE:-node}"
limit="${EXTISM_CONFORMANCE_TIMEOUT:-120}"

runners=()
extra=()
while (($#)); do
  case "$1" in
    --) shift; extra=("$@"); break ;;
    c|python|node) runners+=("$1"); shift ;;
    *) echo "run.sh: unknown runner '$1' (c, python, node)" >&2; exit 2 ;;
  esac
done
((${#runners[@]})) || runners=(c python node)

if [[ -n "${EXTISM_CONFORMANCE_BUILD_DIR:-}" ]]; then
  out_dir="$EXTISM_CONFORMANCE_BUILD_DIR"
  mkdir -p "$out_dir"
else
  out_dir="$(mktemp -d "${TMPDIR:-/tmp}/extism-conformance.XXXXXX")"
  trap 'rm -rf "$out_dir"' EXIT
fi

# The AssemblyScript PDK fixtures (build.sh skips outputs that are up to date).
fixtures="${EXTISM_FIXTURES:-$root/target/fixtures}"
for name in count_vowels host_call vars config fail long_loop logging echo; do
  if [[ ! -f "$fixtures/as_$name.wasm" ]]; then
    "$root/tests/fixtures/pdk/build.sh" "$fixtures" || exit 2
    break
  fi
done

with_limit=()
command -v timeout >/dev/null && with_limit=(timeout --kill-after=5 "$limit")

status=0
summary=()

# run NAME COMMAND...: runs one runner, keeps its last line for the summary.
run() {
  local name="$1"
  shift
  echo "== $name"
  local log="$out_dir/$name.log"
  "${with_limit[@]}" "$@" "${extra[@]}" | tee "$log"
  local rc=${PIPESTATUS[0]}
  local last
  last="$(tail -n 1 "$log")"
  if ((rc == 124)); then
    last="timed out after ${limit}s"
  elif [[ ! "$last" =~ ^[0-9]+\ passed,\ [0-9]+\ failed ]]; then
    last="no summary line (exit status $rc)"
    ((rc)) || rc=2
  fi
  summary+=("$(printf '%-7s %s' "$name" "$last")")
  if ((rc != 0 && status == 0)); then
    status=1
  fi
}

for r in "${runners[@]}"; do
  case "$r" in
    c)
      if [[ ! -f "$lib_dir/libextism.so" || ! -f "$root/include/extism.h" ]]; then
        echo "run.sh: missing $lib_dir/libextism.so or include/extism.h (make build)" >&2
        summary+=("c       not run: libextism.so missing"); status=2; continue
      fi
      lib_dir="$(cd "$lib_dir" && pwd)"
      # runner.c uses the C test program's helpers (tests/c/support.h, support.c).
      if ! "${CC:-cc}" -std=c11 -O1 -Wall -Wextra -Werror -pthread -I "$root/include" \
          -I "$root/tests/c" -o "$out_dir/runner" "$here/runner.c" "$root/tests/c/support.c" \
          -L "$lib_dir" -Wl,-rpath,"$lib_dir" -lextism; then
        summary+=("c       not run: runner.c did not compile"); status=2; continue
      fi
      run c "$out_dir/runner" --repo "$root" "$here/cases.json"
      ;;
    python)
      if ! "$venv/bin/python" -c 'import extism' 2>/dev/null; then
        echo "run.sh: $venv/bin/python cannot import extism (run bindings/python/test.sh)" >&2
        summary+=("python  not run: extism not installed in $venv"); status=2; continue
      fi
      run python "$venv/bin/python" "$here/runner.py" --repo "$root" "$here/cases.json"
      ;;
    node)
      if ! compgen -G "$root/bindings/node/extism.*.node" >/dev/null; then
        echo "run.sh: the Node addon is not built (run bindings/node/test.sh)" >&2
        summary+=("node    not run: addon missing"); status=2; continue
      fi
      run node "$node" "$here/runner.mjs" --repo "$root" "$here/cases.json"
      ;;
  esac
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$status"
