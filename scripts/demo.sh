#!/usr/bin/env bash
# make demo: prepare the fashion-shop dataset (real Fashion-MNIST product photos, simulated catalogue
# text and shopping sessions), train the joint text + image + interaction click model on it, and show
# the validation metrics and the report. Each run writes a new run directory under runs/
# (runs/demo-click-<stamp>, runs/demo-search-<stamp>); runs/demo-click and runs/demo-search are links to
# the newest ones, replaced atomically, so the README's commands always find a checkpoint.
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

# link NAME: runs/NAME -> the run directory just trained (relative), swapped in with one rename, so a
# reader of runs/NAME sees the old run or the new one, never a missing link.
link() {
  local tmp="runs/.$1.link.$$"
  ln -sfn "$(basename "$2")" "$tmp" && mv -Tf "$tmp" "runs/$1"
}

stamp=$(date +%Y%m%d-%H%M%S)
run="runs/demo-click-$stamp"
data_sets=(--set data.interactions=$data/interactions.csv --set data.items=$data/items.csv
           --set data.users=$data/users.csv --set data.image_root=$data)
echo
echo "== 1/4 training the joint click model on $data (text + image + interactions) -> $run"
"$bin/loom-train" configs/fashion-shop-click.ini "${data_sets[@]}" \
  --set train.epochs="${DEMO_EPOCHS:-4}" --set train.log_every=250 --set train.out="$run"
link demo-click "$run"

search="runs/demo-search-$stamp"
echo
echo "== 2/4 training the text <-> product search model (two towers, InfoNCE) -> $search"
"$bin/loom-train" configs/fashion-shop-retrieval.ini "${data_sets[@]}" \
  --set train.epochs="${DEMO_SEARCH_EPOCHS:-4}" --set train.log_every=250 --set train.out="$search"
link demo-search "$search"

user=$(awk -F, 'NR == 2 { print $2 }' "$data/interactions.csv")
echo
echo "== 3/4 loom-infer: what the models do with the checkpoints"
echo "\$ loom-infer rank $run/best.safetensors --user $user --top 5"
"$bin/loom-infer" rank "$run/best.safetensors" --user "$user" --top 5
echo
echo "\$ loom-infer search $search/best.safetensors --text \"black ankle boot\" --top 5"
"$bin/loom-infer" search "$search/best.safetensors" --text "black ankle boot" --top 5
echo
echo "\$ loom-infer search $search/best.safetensors --text \"黑色短靴\" --top 5     (Chinese: black ankle boots)"
"$bin/loom-infer" search "$search/best.safetensors" --text "黑色短靴" --top 5
echo
photo="$data/$(awk -F, 'NR == 2 { print $6 }' "$data/items.csv")"
echo "\$ loom-infer search $search/best.safetensors --image $photo --top 5     (products that look like this photo)"
"$bin/loom-infer" search "$search/best.safetensors" --image "$photo" --top 5

echo
echo "== 4/4 validation metrics per epoch ($run/metrics.csv)"
column -s, -t < "$run/metrics.csv" 2>/dev/null || cat "$run/metrics.csv"
echo
last=$(tail -1 "$run/metrics.csv")
IFS=, read -r -a v <<< "$last"
echo "click model: validation AUC ${v[4]}, log loss ${v[5]}, accuracy ${v[6]} (step ${v[0]}); search model: $(tail -1 "$search/metrics.csv" | cut -d, -f5-7 | awk -F, '{printf "text->item Recall@1/5/10 %s / %s / %s", $1, $2, $3}')"
echo "reports:     $run/report.html  $search/report.html"
echo "checkpoints: $run/best.safetensors (model), $run/last.safetensors (resumable: loom-train --resume $run)"
echo "latest:      runs/demo-click -> $(basename "$run"), runs/demo-search -> $(basename "$search")"
