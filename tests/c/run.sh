#!/usr/bin/env bash
# Builds and runs the C API test program (tests/c/*.c, built as test_capi) against the built
# libextism.
#
# Usage: tests/c/run.sh            (from any directory)
# Env:   EXTISM_LIB_DIR   directory holding libextism.so (default <repo>/target/release)
#        CC, CXX          compilers (default cc, c++)
#        EXTISM_CFLAGS    extra compiler flags for the test program, e.g. "-fsanitize=address"
#        EXTISM_TEST_WRAPPER  command prefix for the test program, e.g. "valgrind --error-exitcode=9"
#        EXTISM_C_TEST_BUILD_DIR  where to put the test binary (default: a temporary directory)
# Needs include/extism.h and the library to exist; builds the AssemblyScript fixtures if missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
lib_dir="${EXTISM_LIB_DIR:-$root/target/release}"
lib_dir="$(cd "$lib_dir" && pwd)"
# The test binary goes to a temporary directory (or EXTISM_C_TEST_BUILD_DIR, kept).
if [[ -n "${EXTISM_C_TEST_BUILD_DIR:-}" ]]; then
  out_dir="$EXTISM_C_TEST_BUILD_DIR"
  mkdir -p "$out_dir"
else
  out_dir="$(mktemp -d "${TMPDIR:-/tmp}/extism-c-tests.XXXXXX")"
  trap 'rm -rf "$out_dir"' EXIT
fi

for f in "$root/include/extism.h" "$lib_dir/libextism.so"; do
  if [[ ! -f "$f" ]]; then
    echo "run.sh: missing $f" >&2
    exit 2
  fi
done

# AssemblyScript PDK fixtures (build.sh skips outputs that are up to date).
need_fixtures=0
for name in count_vowels host_call vars config fail long_loop logging echo; do
  [[ -f "$root/target/fixtures/as_$name.wasm" ]] || need_fixtures=1
done
if (( need_fixtures )); then
  "$root/tests/fixtures/pdk/build.sh" "$root/target/fixtures"
fi

# The test program: main.c runs the sections of the other files; support.c holds the checks and
# helpers (shared with tests/conformance/runner.c).
sources=()
for name in main support api calls create config_vars host_functions compiled limits wasi_http \
  pdk logging; do
  sources+=("$here/$name.c")
done
# shellcheck disable=SC2086
"${CC:-cc}" -std=c11 -Wall -Wextra -Werror -pthread ${EXTISM_CFLAGS:-} \
  -I "$root/include" \
  -o "$out_dir/test_capi" "${sources[@]}" \
  -L "$lib_dir" -Wl,-rpath,"$lib_dir" -lextism

"${CXX:-c++}" -fsyntax-only -Wall -Werror -I "$root/include" "$here/double_include.cc"

status=0
# shellcheck disable=SC2086
${EXTISM_TEST_WRAPPER:-} "$out_dir/test_capi" "$root" || status=$?
exit "$status"
