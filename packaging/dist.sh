#!/usr/bin/env bash
# `make dist`: writes the installable artifacts of this version to $DIST
# (default <repo>/dist), for this machine's platform:
#   extism-<version>-cp39-abi3-manylinux_<glibc>_<arch>.whl  Python wheel (maturin, abi3 from
#                                                             3.9, its manylinux check passed)
#   extism-<version>.tar.gz                                   Python sdist (builds from source)
#   extism-rs-extism-<version>.tgz                            Node: the JS package
#   extism-rs-extism-<triple>-<version>.tgz                   Node: the prebuilt addon for <triple>
#   extism-<version>-<target triple>.tar.gz                   C: lib, include, pkg-config, CMake, bin
#   SHA256SUMS                                                sha256sum of all the above
# Everything is built in the shared target dir ($CARGO_TARGET_DIR or target/)
# with the release profile, so wasmtime is compiled once for all of it.
# Called by the Makefile after `make build`; packaging/test-dist.sh installs it all.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
dist="${DIST:-$repo/dist}"
venv="${VENV:-$repo/.venv}"
python="${PYTHON:-python3}"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
host="$(rustc -vV | sed -n 's/^host: //p')"
stage="$CARGO_TARGET_DIR/dist-stage"
say() { echo "dist.sh: $*" >&2; }

rm -rf "$dist" "$stage"
mkdir -p "$dist" "$stage"

# --- C: the `make install` layout, relocatable, in one archive.
name="extism-$version-$host"
say "C archive $name.tar.gz"
make --no-print-directory install PREFIX="$stage/$name" >/dev/null
# pkg-config finds the prefix from the .pc file's own place, wherever the
# archive is unpacked (pkg-config --define-prefix works too).
sed -i 's|^prefix=.*|prefix=${pcfiledir}/../..|' "$stage/$name"/lib/pkgconfig/*.pc
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@${SOURCE_DATE_EPOCH:-0}" \
  -czf "$dist/$name.tar.gz" "$name"

# --- Python: wheel and sdist with maturin (from PyPI, into $venv).
if [[ ! -x "$venv/bin/python" ]]; then
  say "creating venv $venv"
  "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -m maturin --version >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'maturin>=1.9.4,<2'
fi
say "Python wheel and sdist (maturin)"
# No --compatibility: maturin tags the wheel with the oldest manylinux policy
# the binary meets, and `--auditwheel check` fails the build if it meets none
# (a library outside the policy, or symbols too new) instead of repairing it.
"$venv/bin/python" -m maturin build --release --sdist --auditwheel check \
  -m bindings/python/Cargo.toml -i "$venv/bin/python" -o "$dist"
wheels=("$dist"/extism-"$version"-cp39-abi3-*manylinux*.whl)
if [[ ! -f "${wheels[0]}" ]]; then
  say "no abi3 manylinux wheel in $dist:"; ls "$dist" >&2; exit 1
fi

# --- Node: the JS package and the platform package with the prebuilt addon.
say "Node packages"
(cd bindings/node && node scripts/install.js && node scripts/pack.js "$dist")

# --- Checksums.
(cd "$dist" && sha256sum -- * > "$stage/SHA256SUMS" && mv "$stage/SHA256SUMS" SHA256SUMS)
say "wrote $dist:"
(cd "$dist" && ls -l --block-size=K -- * >&2)
