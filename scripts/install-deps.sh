#!/usr/bin/env bash
# Installs the Debian 12 packages loom needs, and only those that are missing.
# Idempotent: runs `apt-get update` only when something has to be installed. Works as root, or via sudo.
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --demo     also the real datasets used by `make demo`
#   scripts/install-deps.sh --reference also Debian's python3 + PyTorch + numpy (fixtures, the benchmark
#                                       baseline, and the python/loom tests test_python*: `make test` runs this),
#                                       python3-onnx and nodejs, and the npm package onnxruntime-node (tests/test_onnx.sh)
#                                       into build/npm (LOOM_NPM_DIR), with --ignore-scripts: its CPU library ships in it
#   scripts/install-deps.sh --fuzz     also clang + its sanitizer/libFuzzer runtime
set -euo pipefail

pkgs=(gcc make cmake pkg-config
      libopenblas-openmp-dev libopenblas-dev libcmocka-dev libcsv-dev libstb-dev
      libturbojpeg0-dev libcjson-dev libinih-dev zlib1g-dev libutf8proc-dev libssl-dev valgrind
      libmicrohttpd-dev
      libavformat-dev libavcodec-dev libswscale-dev
      chromium fonts-dejavu-core
      g++ libhnswlib-dev libfaiss-dev)
reference=0
for arg in "$@"; do
  case "$arg" in
    --demo)      pkgs+=(dataset-fashion-mnist) ;;
    --reference) pkgs+=(python3 python3-torch python3-numpy python3-onnx nodejs); reference=1 ;;
    --fuzz)      pkgs+=(clang libclang-rt-14-dev libomp-dev) ;;
    *) echo "install-deps: unknown option '$arg' (use --demo, --reference or --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# Debian's nodejs comes without npm (a package of its own); NodeSource's nodejs ships it
if [[ $reference -eq 1 ]] && ! command -v npm >/dev/null; then
  status=$(dpkg-query -W -f='${Status}' npm 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=(npm)
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime for tests/test_onnx.sh: the npm package, its install scripts off (they would download
# more); the CPU library (bin/napi-v6/linux/x64/libonnxruntime.so.1) is part of the package itself.
if [[ $reference -eq 1 ]]; then
  npm_dir=${LOOM_NPM_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build/npm}
  if [[ ! -f "$npm_dir/node_modules/onnxruntime-node/package.json" ]]; then
    echo "install-deps: npm install --ignore-scripts onnxruntime-node@1.30.0 into $npm_dir"
    mkdir -p "$npm_dir"
    (cd "$npm_dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error onnxruntime-node@1.30.0 >/dev/null)
  fi
fi
