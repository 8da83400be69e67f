#!/bin/bash
# test_onnx.sh — loom-export onnx, checked by Debian's python3-onnx (onnx.checker) and run by ONNX Runtime
# (npm onnxruntime-node, installed by scripts/install-deps.sh --reference) against loom's own outputs on the
# sample (tests/test_onnx.py). Skips (exit 77, ctest SKIP_RETURN_CODE) only when node or the npm package is
# missing, naming what to install. Args: BIN_DIR SOURCE_DIR.
set -u
BIN=$1
SRC=$2
PY=/usr/bin/python3 # Debian's (python3-onnx, python3-numpy); the python3 on PATH may be another one
[ -x "$PY" ] || { echo "FAIL: $PY is missing — run scripts/install-deps.sh --reference (make test does)"; exit 1; }
"$PY" -c 'import onnx' 2>/dev/null || { echo "FAIL: python3-onnx is missing — run scripts/install-deps.sh --reference"; exit 1; }
command -v node > /dev/null || { echo "SKIP: node is missing — run scripts/install-deps.sh --reference (Debian nodejs)"; exit 77; }
NPM=""
for d in "${LOOM_NPM_DIR:-}" "$BIN/../npm" "$SRC/build/npm"; do
  [ -n "$d" ] && [ -f "$d/node_modules/onnxruntime-node/package.json" ] && { NPM=$(cd "$d/node_modules" && pwd); break; }
done
[ -n "$NPM" ] || { echo "SKIP: npm package onnxruntime-node is missing — run scripts/install-deps.sh --reference (it runs" \
                        "npm install --ignore-scripts onnxruntime-node into build/npm), or set LOOM_NPM_DIR"; exit 77; }
export LOOM_LIBRARY=$(cd "$BIN/../lib" && pwd)/libloom.so.0
[ -f "$LOOM_LIBRARY" ] || { echo "FAIL: $LOOM_LIBRARY is not built (target loom_shared)"; exit 1; }
# a sanitizer build (make test-asan): the ASan runtime must be loaded before Python and node; their own
# allocations are not loom's leaks
if readelf -d "$LOOM_LIBRARY" | grep -q 'NEEDED.*libasan'; then
  export LD_PRELOAD="$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" # the last setting of a flag wins
fi
export PYTHONPATH=$SRC/python PYTHONDONTWRITEBYTECODE=1
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-1000}
cd "$SRC" || exit 1
exec "$PY" "$SRC/tests/test_onnx.py" "$BIN" "$NPM" "${@:3}"
