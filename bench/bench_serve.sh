#!/usr/bin/env bash
# bench_serve.sh — loom-serve's /v1/rank under wrk on loopback (docs/benchmarks.md, "Serving"):
#   a two-tower ranking model and the click model, trained here on the committed sample (small, quick),
#   served over generated catalogues of 3,000 and 100,000 items (the sample's 300 items repeated under
#   new keys, as bench_infer does); wrk at 1, 16 and 64 connections: QPS and p50 / p99 / p99.9;
#   in-process loom_infer_rank's p50 on the same checkpoint and catalogue (bench_serve_inproc), for the
#   HTTP + JSON overhead; and a hot swap every second under 16 connections: the failed-request count.
#   bench/bench_serve.sh [BUILD_DIR] [SECONDS per run, default 10]
# Environment: MODELS ("rank click"), CATALOGUES ("3k 100k"), SWAP (1: the hot-swap run), SERVE_FLAGS
# (extra loom-serve flags, e.g. "--max-wait-us 200 --threads 2"), CONNS ("1 16 64"), INPROC_REPS (in-process
# calls: 2000 for the ranking model, a tenth for the click model), RUNS (a folder to keep the trained
# checkpoints in and reuse on the next call; default: trained afresh in a temporary folder).
# Not a test: prints the numbers and the machine's load average while measuring. Run from the source tree.
set -euo pipefail
build=${1:-build}; secs=${2:-10}
src=$(cd "$(dirname "$0")/.." && pwd)
bin="$build/bin"
for t in loom-serve loom-train bench_serve_inproc; do [[ -x "$bin/$t" ]] || { echo "bench_serve: $bin/$t not built (cmake --build $build --target $t)" >&2; exit 1; }; done
command -v wrk >/dev/null || { echo "bench_serve: wrk not installed (apt-get install wrk)" >&2; exit 1; }
tmp=$(mktemp -d); srv=
cleanup() { [[ -n "$srv" ]] && kill "$srv" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
S=$src/datasets/fashion-shop-sample
runs=${RUNS:-$tmp}; mkdir -p "$runs"
data=(--set data.interactions=$S/interactions.csv --set data.items=$S/items.csv --set data.users=$S/users.csv --set data.image_root=$S)
[[ -f "$runs/rank/best.safetensors" ]] || "$bin/loom-train" "$src/configs/fashion-shop-ranking.ini" "${data[@]}" \
  --set train.epochs=1 --set train.max_steps=40 --set train.prefetch=false --set train.out="$runs/rank" >/dev/null 2>&1
if [[ "${MODELS:-rank click}" == *click* && ! -f "$runs/click/best.safetensors" ]]; then
  "$bin/loom-train" "$src/configs/fashion-shop-click.ini" "${data[@]}" --set train.epochs=1 --set train.max_steps=40 \
    --set train.prefetch=false --set train.out="$runs/click" >/dev/null 2>&1
fi
catalogue() { # N OUT: the sample's items, then copies keyed x<i> (image paths made absolute)
  awk -F, -v N="$1" 'NR==1{print;next} {r[++n]=$0} END{for(i=0;i<N;i++){l=r[i%n+1]; if(i>=n){sub(/^[^,]*/,"x" i,l)} print l}}' "$S/items.csv" > "$2"
}
catalogue 3000 "$tmp/items3k.csv"
[[ "${CATALOGUES:-3k 100k}" == *100k* ]] && catalogue 100000 "$tmp/items100k.csv"
# the image column is relative to the checkpoint's image_root (the sample), so the copies find their photos
start() { # CKPT ITEMS [flags...]
  local ck=$1 items=$2; shift 2
  # shellcheck disable=SC2086
  "$bin/loom-serve" "$ck" --items "$items" --port 0 --quiet ${SERVE_FLAGS:-} "$@" > "$tmp/port" &
  srv=$!
  for _ in $(seq 1 600); do grep -q 'listening on port' "$tmp/port" 2>/dev/null && break; sleep 0.5; done
  port=$(sed -n 's/.*listening on port \([0-9]*\)/\1/p' "$tmp/port")
  [[ -n "$port" ]] || { echo "bench_serve: loom-serve did not start" >&2; exit 1; }
}
stop() { kill "$srv"; wait "$srv" 2>/dev/null || true; srv=; }
run() { # label connections
  local c=$1
  local line; line=$(wrk -t $(( c < 2 ? 1 : 2 )) -c "$c" -d "${secs}s" -s "$src/bench/bench_serve.lua" "http://127.0.0.1:$port/" | grep RESULT)
  echo "  $c connections: ${line#RESULT } (load $(cut -d' ' -f1 /proc/loadavg))"
}
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "loom-serve flags: ${SERVE_FLAGS:-(defaults)}"
for model in ${MODELS:-rank click}; do
  for cat in ${CATALOGUES:-3k 100k}; do
    [[ $model == click && $cat == 100k ]] && continue # the click model scores every pair: ~N/3000 x slower
    echo "$model model, catalogue $cat items:"
    reps=${INPROC_REPS:-2000}; [[ $model == click ]] && reps=$(( reps / 10 ))
    "$bin/bench_serve_inproc" "$runs/$model/best.safetensors" "$tmp/items$cat.csv" "$reps" | sed 's/^/  /'
    start "$runs/$model/best.safetensors" "$tmp/items$cat.csv"
    for c in ${CONNS:-1 16 64}; do run "$c"; done
    stop
  done
done
[[ "${SWAP:-1}" == 1 ]] || exit 0
echo "hot swap under load (ranking model, 3k items, 16 connections, a reload every second for ${secs} s):"
start "$runs/rank/best.safetensors" "$tmp/items3k.csv"
( for _ in $(seq 1 "$secs"); do sleep 1; curl -s -XPOST "http://127.0.0.1:$port/v1/admin/reload" >/dev/null; done ) &
swapper=$!
run 16
wait "$swapper"
echo "  swaps: $(curl -s "http://127.0.0.1:$port/metrics" | grep 'reloads_total{result="ok"}' | awk '{print $2}'); failed requests = socket_errors + non2xx above"
stop
