#!/usr/bin/env bash
# make demo: prepare the fashion-shop dataset (real Fashion-MNIST product photos, simulated catalogue
# text and shopping sessions), train the joint text + image + interaction click model on it, and show
# the validation metrics and the report. Each run writes a new run directory under runs/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="${1:-$root/build/bin}"
cd "$root"
# A short OpenMP spin: libgomp's default spin-wait takes the cores from the data-prefetch thread and
# from anything else running (docs/benchmarks.md, "Threads and spinning"). A user's setting wins.
[[ -n "${OMP_WAIT_POLICY:-}${GOMP_SPINCOUNT:-}" ]] || export GOMP_SPINCOUNT=1000

scripts/install-deps.sh --demo || echo "demo: could not install dataset-fashion-mnist; using the committed sample"
scripts/prepare-data.sh fashion-shop
data=datasets/fashion-shop
[[ -f $data/interactions.csv ]] || data=datasets/fashion-shop-sample

run="runs/demo-click-$(date +%Y%m%d-%H%M%S)"
echo
echo "== training the joint click model on $data (text + image + interactions) -> $run"
"$bin/loom-train" configs/fashion-shop-click.ini \
  --set data.interactions=$data/interactions.csv --set data.items=$data/items.csv \
  --set data.users=$data/users.csv --set data.image_root=$data \
  --set train.epochs="${DEMO_EPOCHS:-4}" --set train.log_every=250 --set train.out="$run"

echo
echo "== validation metrics per epoch ($run/metrics.csv)"
column -s, -t < "$run/metrics.csv" 2>/dev/null || cat "$run/metrics.csv"
echo
echo "report:      $run/report.html"
echo "checkpoints: $run/best.safetensors (model), $run/last.safetensors (resumable: loom-train --resume $run)"
