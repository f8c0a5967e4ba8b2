#!/usr/bin/env bash
# `make test-dist`: installs each artifact of dist/ (packaging/dist.sh) the way
# a user would, in a scratch directory, with no Rust toolchain on PATH and no
# registry access, and runs the example plugin through it:
#   Python  the wheel into a new venv (pip --no-index), then a plugin call; the
#           same on the lowest and the newest other CPython found (abi3); pip
#           refuses it for another platform, an older glibc and Python 3.8; the
#           sdist builds a wheel from source (offline, with Rust: its one step
#           that needs it);
#   Node    the two tarballs into a new folder (npm --offline, empty cache), then
#           a plugin call from CJS and from ESM; the JS package alone: its install
#           script says it would build from source, and the loader's message;
#   C       the archive unpacked and moved elsewhere, examples/count_vowels.c built
#           against it three ways (pkg-config shared, pkg-config static, CMake)
#           and run, and bin/extism.
# The install times go to <target>/dist-test/install-times.txt. Needs cmake
# and pkg-config (the Makefile installs cmake with apt-get where missing).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dist="${DIST:-$repo/dist}"
target="${CARGO_TARGET_DIR:-$repo/target}"
work="$target/dist-test"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)"
plugin="$repo/examples/count_vowels.wat"
expected='{"count":5}'

passed=0
step=""
say() { echo "test-dist: $*" >&2; }
begin() { step="$*"; say "$step"; }
ok() { passed=$((passed + 1)); say "ok: $step"; }
trap 'rc=$?; if (( rc )); then say "FAILED: $step"; echo "test-dist: $passed passed, 1 failed"; fi' EXIT

rm -rf "$work"
mkdir -p "$work/home"
times="$work/install-times.txt"
: > "$times"
# timed LABEL COMMAND...: runs COMMAND, records its wall time under LABEL.
timed() {
  local label="$1" start end
  shift
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  awk -v l="$label" -v s="$start" -v e="$end" 'BEGIN { printf "%-78s %6.2f s\n", l, e - s }' >> "$times"
}

# --- The clean environment: only PATH (less every directory with cargo,
# rustc or rustup in it), a scratch HOME (no ~/.cargo, npm or pip config) and
# the locale; no registry variables.
clean_path="$(tr ':' '\n' <<<"$PATH" | while read -r d; do
  [[ -n "$d" && ! -e "$d/cargo" && ! -e "$d/rustc" && ! -e "$d/rustup" ]] && echo "$d"; done | paste -sd:)"
clean() { env -i HOME="$work/home" PATH="$clean_path" LANG=C.UTF-8 "$@"; }
begin "no Rust toolchain in the clean environment"
clean bash -c '! command -v cargo && ! command -v rustc && ! command -v rustup' >/dev/null
ok

begin "SHA256SUMS"
(cd "$dist" && sha256sum --quiet -c SHA256SUMS)
one() { local f=("$@"); [[ ${#f[@]} -eq 1 && -f "${f[0]}" ]] || { say "expected one file: $*"; return 1; }; echo "${f[0]}"; }
wheel="$(one "$dist"/extism-"$version"-cp39-abi3-manylinux_*.whl)"
sdist="$(one "$dist"/extism-"$version".tar.gz)"
npm_main="$(one "$dist"/extism-rs-extism-"$version".tgz)"
npm_platform="$(one "$dist"/extism-rs-extism-*-"$version".tgz)"
c_archive="$(one "$dist"/extism-"$version"-*-*.tar.gz)"
ok

# ---------------------------------------------------------------- Python
# The interpreter itself, not a pyenv shim (which needs its own environment).
base_python="$(python3 -c 'import sys; print(sys.executable)')"
pip_flags=(--isolated --no-index --no-cache-dir --disable-pip-version-check)

# py_install PYTHON DIR: a new venv in DIR, the wheel into it, then a call.
py_install() {
  local python="$1" dir="$2" v
  v="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  begin "Python $v: pip install the wheel into a new venv, then a plugin call"
  clean "$python" -m venv "$dir"
  timed "pip install $(basename "$wheel") (Python $v)" \
    clean "$dir/bin/python" -m pip install --quiet "${pip_flags[@]}" "$wheel"
  (cd "$work" && clean "$dir/bin/python" -c 'import extism, sys; assert extism.__file__.startswith(sys.prefix), extism.__file__')
  [[ "$(cd "$work" && clean "$dir/bin/python" "$repo/examples/count_vowels.py" "$plugin" aeiou | head -1)" == "$expected" ]]
  ok
}
py_install "$base_python" "$work/py"

# Other CPythons (pyenv's, where there are): the lowest >= 3.9 and the newest.
others=()
for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.*/bin/python3; do
  [[ -x "$p" && "$(readlink -f "$p")" != "$(readlink -f "$base_python")" ]] || continue
  "$p" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' 2>/dev/null && others+=("$p")
done
if (( ${#others[@]} )); then
  mapfile -t others < <(for p in "${others[@]}"; do
    echo "$("$p" -c 'import sys; print("%03d.%03d" % sys.version_info[:2])') $p"; done | sort | awk 'NR==1{print $2} {last=$2} END{if (NR>1) print last}')
  for p in "${others[@]}"; do py_install "$p" "$work/py-$(basename "$(dirname "$(dirname "$p")")")"; done
fi

begin "pip refuses the wheel for another platform, an older glibc, Python 3.8"
for refuse in "--platform manylinux_2_34_aarch64" "--platform manylinux_2_17_x86_64" "--python-version 3.8"; do
  # shellcheck disable=SC2086
  if clean "$work/py/bin/python" -m pip install "${pip_flags[@]}" --dry-run --only-binary=:all: \
       --target "$work/refused" $refuse "$wheel" > "$work/refused.log" 2>&1; then
    say "pip accepted the wheel with $refuse"; exit 1
  fi
  grep -q 'is not a supported wheel on this platform' "$work/refused.log"
done
ok

begin "the sdist builds a wheel from source (offline, cargo in the shared target dir)"
# The one step that needs Rust: PATH as it is, plus maturin (the build
# backend's own command) from the venv make dist used.
venv="${VENV:-$repo/.venv}"
timed "pip wheel $(basename "$sdist") (a build from source, not an install)" \
  env PATH="$venv/bin:$PATH" CARGO_NET_OFFLINE=true CARGO_TARGET_DIR="$target" \
  "$venv/bin/python" -m pip wheel --quiet "${pip_flags[@]}" --no-build-isolation --no-deps \
  -w "$work/sdist-wheel" "$sdist" > "$work/sdist.log" 2>&1 || { cat "$work/sdist.log" >&2; exit 1; }
built="$(one "$work"/sdist-wheel/extism-"$version"-cp39-abi3-*.whl)"
clean "$work/py/bin/python" -m pip install --quiet "${pip_flags[@]}" --force-reinstall "$built"
[[ "$(cd "$work" && clean "$work/py/bin/python" "$repo/examples/count_vowels.py" "$plugin" aeiou | head -1)" == "$expected" ]]
ok

# ---------------------------------------------------------------- Node
npm_flags=(--offline --cache "$work/npm-cache" --registry http://127.0.0.1:9/ --no-audit --no-fund
  --foreground-scripts --loglevel=warn)
new_project() { mkdir -p "$1" && echo '{"name":"scratch","version":"1.0.0","private":true}' > "$1/package.json"; }

begin "npm install the two tarballs into a new folder, then a plugin call from CJS and ESM"
app="$work/node"
new_project "$app"
(cd "$app" && timed "npm install $(basename "$npm_main") $(basename "$npm_platform")" \
  clean npm install "${npm_flags[@]}" "$npm_main" "$npm_platform") 2>&1 | tee "$work/npm.log" >&2
grep -q 'using the prebuilt addon of @extism-rs/extism-' "$work/npm.log"
# (`!` would not stop the script under set -e, hence the ifs.)
if compgen -G "$app/node_modules/@extism-rs/extism/*.node" > /dev/null; then say "an addon was built"; exit 1; fi
cat > "$app/call.cjs" <<EOF
const createPlugin = require('@extism-rs/extism');
createPlugin(process.argv[2]).then(async (plugin) => {
  console.log((await plugin.call('count_vowels', 'aeiou')).text());
  await plugin.close();
});
EOF
cat > "$app/call.mjs" <<EOF
import createPlugin from '@extism-rs/extism';
const plugin = await createPlugin(process.argv[2]);
console.log((await plugin.call('count_vowels', 'aeiou')).text());
await plugin.close();
EOF
[[ "$(cd "$app" && clean node call.cjs "$plugin")" == "$expected" ]]
[[ "$(cd "$app" && clean node call.mjs "$plugin")" == "$expected" ]]
ok

begin "the JS package alone: the install script says it would build from source; the loader's message"
bare="$work/node-bare"
new_project "$bare"
if (cd "$bare" && clean npm install "${npm_flags[@]}" "$npm_main") > "$work/npm-bare.log" 2>&1; then
  say "the install without the platform package and without cargo succeeded"; exit 1
fi
grep -q 'no prebuilt addon (@extism-rs/extism-[a-z0-9-]* is not installed): building it from source' "$work/npm-bare.log"
grep -q 'cargo is not on PATH' "$work/npm-bare.log"
(cd "$bare" && clean npm install "${npm_flags[@]}" --ignore-scripts "$npm_main") > /dev/null 2>&1
for entry in call.cjs call.mjs; do
  cp "$app/$entry" "$bare/$entry"
  if (cd "$bare" && clean node "$entry" "$plugin") > "$work/loader-$entry.log" 2>&1; then exit 1; fi
  grep -q 'no native addon for this platform' "$work/loader-$entry.log"
  if grep -q '^ *at .*node:internal' "$work/loader-$entry.log"; then exit 1; fi
done
cat "$work/loader-call.cjs.log" >&2
ok

# ---------------------------------------------------------------- C
begin "C archive: unpack, move elsewhere, check the layout"
timed "tar xzf $(basename "$c_archive")" tar -C "$work" -xzf "$c_archive"
name="$(basename "$c_archive" .tar.gz)"
mkdir -p "$work/moved"
mv "$work/$name" "$work/moved/$name"
root="$work/moved/$name"
major="${version%%.*}"
for f in lib/libextism.so."$version" lib/libextism.a include/extism.h include/extism-ext.h lib/pkgconfig/extism.pc \
         lib/pkgconfig/extism-static.pc lib/cmake/extism/extismConfig.cmake \
         lib/cmake/extism/extismConfigVersion.cmake bin/extism; do
  [[ -f "$root/$f" ]] || { say "missing $f"; exit 1; }
done
[[ "$(readlink "$root/lib/libextism.so")" == "libextism.so.$major" ]]
[[ "$(readlink "$root/lib/libextism.so.$major")" == "libextism.so.$version" ]]
readelf -d "$root/lib/libextism.so.$version" | grep -q "SONAME.*\[libextism.so.$major\]"
ok

pc() { clean env PKG_CONFIG_PATH="$root/lib/pkgconfig" pkg-config "$@"; }
begin "pkg-config shared: build and run examples/count_vowels.c"
[[ "$(readlink -f "$(pc --variable=includedir extism)")" == "$(readlink -f "$root/include")" ]]
[[ "$(readlink -f "$(pc --define-prefix --variable=includedir extism)")" == "$(readlink -f "$root/include")" ]]
# shellcheck disable=SC2046
clean cc -std=c11 -Wall -Werror -o "$work/cv-shared" "$repo/examples/count_vowels.c" \
  $(pc --cflags --libs extism) -Wl,-rpath,"$root/lib"
readelf -d "$work/cv-shared" | grep -q "NEEDED.*\[libextism.so.$major\]"
[[ "$(clean "$work/cv-shared" "$plugin" aeiou | head -1)" == "$expected" ]]
ok

begin "pkg-config static: build and run examples/count_vowels.c"
# shellcheck disable=SC2046
clean cc -std=c11 -Wall -Werror -o "$work/cv-static" "$repo/examples/count_vowels.c" \
  $(pc --static --cflags --libs extism-static)
if readelf -d "$work/cv-static" | grep -q 'NEEDED.*libextism'; then exit 1; fi
[[ "$(clean "$work/cv-static" "$plugin" aeiou | head -1)" == "$expected" ]]
ok

begin "CMake: find_package(extism), the shared and the static target"
clean cmake -S "$repo/packaging/cmake-example" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$root" \
  -DEXTISM_VERSION="$version" > "$work/cmake.log"
clean cmake --build "$work/cmake" >> "$work/cmake.log"
grep -q "extism $version from $root/lib/cmake/extism" "$work/cmake.log"
readelf -d "$work/cmake/count_vowels_shared" | grep -q "NEEDED.*\[libextism.so.$major\]"
if readelf -d "$work/cmake/count_vowels_static" | grep -q 'NEEDED.*libextism'; then exit 1; fi
[[ "$(clean "$work/cmake/count_vowels_shared" "$plugin" aeiou | head -1)" == "$expected" ]]
[[ "$(clean "$work/cmake/count_vowels_static" "$plugin" aeiou | head -1)" == "$expected" ]]
ok

begin "bin/extism"
[[ "$(clean "$root/bin/extism" call "$plugin" count_vowels --input aeiou)" == "$expected" ]]
ok

say "install times ($times):"
cat "$times" >&2
say "sizes:"
(cd "$dist" && ls -l --block-size=K -- * >&2)
echo "test-dist: $passed passed, 0 failed"
