#!/bin/bash
# test_python_torch.sh — loom.torch.load on checkpoints trained here from the committed sample (a click
# model with text + shared query + image + user and category IDs through DCN, the category classifier,
# the spam text classifier, the ranking and retrieval two-tower models): PyTorch outputs equal loom's
# within 1e-5 on a batch of the sample (tests/test_python_torch.py). Args: BIN_DIR SOURCE_DIR.
set -u
BIN=$1
SRC=$2
PY=/usr/bin/python3 # Debian's (python3-numpy, python3-torch); the python3 on PATH may be another one
[ -x "$PY" ] || { echo "FAIL: $PY is missing — run scripts/install-deps.sh --reference (make test does)"; exit 1; }
export LOOM_LIBRARY=$(cd "$BIN/../lib" && pwd)/libloom.so.0
[ -f "$LOOM_LIBRARY" ] || { echo "FAIL: $LOOM_LIBRARY is not built (target loom_shared)"; exit 1; }
# a sanitizer build (make test-asan): the ASan runtime must be loaded before Python; Python's own
# allocations are not loom's leaks
if readelf -d "$LOOM_LIBRARY" | grep -q 'NEEDED.*libasan'; then
  export LD_PRELOAD="$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" # the last setting of a flag wins
fi
export PYTHONPATH=$SRC/python PYTHONDONTWRITEBYTECODE=1
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-1000}
cd "$SRC" || exit 1
exec "$PY" "$SRC/tests/test_python_torch.py" "$BIN"
