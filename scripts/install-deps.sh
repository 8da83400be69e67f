#!/usr/bin/env bash
# Installs the Debian 12 packages loom needs, and only those that are missing.
# Idempotent: runs `apt-get update` only when something has to be installed. Works as root, or via sudo.
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --demo     also the real datasets used by `make demo`
#   scripts/install-deps.sh --reference also Debian's python3 + PyTorch + numpy (fixtures, the benchmark
#                                       baseline, and the python/loom tests test_python*: `make test` runs this)
#   scripts/install-deps.sh --fuzz     also clang + its sanitizer/libFuzzer runtime
set -euo pipefail

pkgs=(gcc make cmake pkg-config
      libopenblas-openmp-dev libopenblas-dev libcmocka-dev libcsv-dev libstb-dev
      libturbojpeg0-dev libcjson-dev libinih-dev zlib1g-dev libutf8proc-dev libssl-dev valgrind
      libavformat-dev libavcodec-dev libswscale-dev
      chromium fonts-dejavu-core)
for arg in "$@"; do
  case "$arg" in
    --demo)      pkgs+=(dataset-fashion-mnist) ;;
    --reference) pkgs+=(python3 python3-torch python3-numpy) ;;
    --fuzz)      pkgs+=(clang libclang-rt-14-dev libomp-dev) ;;
    *) echo "install-deps: unknown option '$arg' (use --demo, --reference or --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
