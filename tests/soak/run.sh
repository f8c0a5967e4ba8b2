#!/usr/bin/env bash
# Soak and create/free churn of each frontend (tests/soak/README.md).
#
# Usage: tests/soak/run.sh SECONDS CYCLES [c] [python] [node]
#   SECONDS  how long each soak runs (60 in `make test`; `make soak` takes SOAK_SECONDS)
#   CYCLES   plugins created and freed by each churn run (0: no churn run)
# Needs `make build` (C), the venv of bindings/python/test.sh (Python) and the
# addon of bindings/node/test.sh (Node). Exits non-zero when any run failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
seconds="$1"
cycles="$2"
shift 2
frontends=("$@")
(( ${#frontends[@]} )) || frontends=(c python node)
lib_dir="${EXTISM_LIB_DIR:-$repo/target/release}"
python="${VENV:-$repo/.venv}/bin/python"
out="$(mktemp -d "${TMPDIR:-/tmp}/extism-soak.XXXXXX")"
trap 'rm -rf "$out"' EXIT
judge() { python3 "$here/soak_common.py" plateau "$1"; }

status=0
for f in "${frontends[@]}"; do
  echo "== soak $f: $seconds s"
  case "$f" in
    c)
      cc -std=c11 -O2 -Wall -Wextra -Werror -pthread -I "$repo/include" -o "$out/soak" "$here/soak.c" \
        -L "$lib_dir" -Wl,-rpath,"$lib_dir" -lextism
      "$out/soak" "$repo" "$seconds" 4 "$out/rss" && judge "$out/rss" || status=1
      if (( cycles > 0 )); then
        "$out/soak" "$repo" --churn "$cycles" "$out/churn" && judge "$out/churn" || status=1
      fi
      ;;
    python)
      "$python" "$here/soak.py" "$seconds" 4 || status=1
      if (( cycles > 0 )); then "$python" "$here/soak.py" --churn "$cycles" || status=1; fi
      ;;
    node)
      node "$here/soak.mjs" "$seconds" 4 "$out/rss" && judge "$out/rss" || status=1
      if (( cycles > 0 )); then
        node --expose-gc "$here/soak.mjs" --churn "$cycles" "$out/churn" && judge "$out/churn" || status=1
      fi
      ;;
    *)
      echo "run.sh: unknown frontend $f" >&2
      exit 2
      ;;
  esac
done
exit "$status"
