#!/usr/bin/env bash
# scripts/results.sh — reproduces the "Results" table of the README on real data and writes
# docs/results.md (dataset, model, metrics, wall time, command of every run).
#
#   scripts/results.sh                 every run below (20 min of training and evaluation on this
#                                      2-core VM, idle)
#   scripts/results.sh fmnist-cnn ...  only the named runs (the table still lists every finished run)
#   scripts/results.sh --list          the run names
#   scripts/results.sh --check         build (loom-train --print-model) every fashion-shop run's model on
#                                      the committed sample: the ablations' key combinations stay valid
#
# For each run it prepares the dataset (scripts/prepare-data.sh), trains with loom-train into
# runs/results/NAME (log: runs/results/NAME/train.out), then scores the best checkpoint on the held-out
# test data with `loom-infer eval` (Fashion-MNIST: the official test.csv, never seen in training, whose
# validation set is 10 % carved out of train.csv; spam and fashion-shop: the rows of the dataset's fixed
# split marked `test`). Where loom-infer is not built, the table gives the validation metrics of the
# best checkpoint instead and says so in its `split` column.
# A run directory holding a finished run of the same command (wall.txt) is reused, not retrained:
# delete it, or set RESULTS_RETRAIN=1, to train again. Threads: LOOM_NUM_THREADS (default 2),
# GOMP_SPINCOUNT (default 1000, docs/benchmarks.md). Wall time is the elapsed time of the loom-train process alone (not data
# preparation or evaluation); `cpu` is its user+system CPU time, so cpu/wall below the thread count
# means the run shared the cores with something else (load averages are recorded as well).
# Needs: a Release build in build/ (made with `make build` if loom-train is missing), bash, awk, bc.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin="${LOOM_BIN:-$root/build/bin}"
out_root="${RESULTS_DIR:-runs/results}"
doc="${RESULTS_DOC:-docs/results.md}"
export LOOM_NUM_THREADS="${LOOM_NUM_THREADS:-2}"
[[ -n "${OMP_WAIT_POLICY:-}${GOMP_SPINCOUNT:-}" ]] || export GOMP_SPINCOUNT=1000

shop=datasets/fashion-shop
shop_data="--set data.interactions=$shop/interactions.csv --set data.items=$shop/items.csv --set data.users=$shop/users.csv --set data.image_root=$shop"
# the same training budget for every fashion-shop variant of a task: up to 20 (12) epochs, cosine
# schedule, best checkpoint by the validation metric (AUC, NDCG@10), early stopping after 3 validations
# without improvement — enough for the slow single-modality models to converge while the ID-embedding
# models, which overfit after 2-4 epochs, stop early. (The ranking model always fuses its item-side
# parts by concatenation + projection; fusion.mode applies to the click model.)
click="configs/fashion-shop-click.ini $shop_data --set train.epochs=20 --set train.patience=3 --set train.schedule=cosine"
# ablations of the click config: keys that would have no effect are errors, so each switch-off also
# clears the keys that depend on what it removes (the query, the text tower, the ID embeddings, cross layers)
noq="--set data.query_col= --set text.share_query=false"
notext="--set text.enabled=false --set text.share_query=false"
noint="--set interaction.enabled=false --set interaction.embedding_dropout=0"
nocross="--set fusion.cross_layers=0"
# behaviour histories (configs/fashion-shop-history.ini: the click config + the user's last 20 clicks)
hist="configs/fashion-shop-history.ini $shop_data --set train.epochs=20 --set train.patience=3 --set train.schedule=cosine"
histtext="--set interaction.history_content=text --set interaction.item_dim=0"
rank="configs/fashion-shop-ranking.ini $shop_data --set train.epochs=12 --set train.patience=3 --set train.schedule=cosine"

# name | dataset (prepare-data.sh name) | model | loom-train arguments | loom-infer eval arguments | metrics
# (eval --split test: the rows of the run's own data that training set aside as test, re-split exactly
# as training did; --data FILE: every row of FILE)
runs=(
  "fmnist-cnn|fashion-mnist|CNN: 3 conv (BN, max pool) + FC 256 + dropout|configs/fashion-mnist-cnn.ini|--data datasets/fashion-mnist/test.csv|accuracy,macro_f1"
  "fmnist-lstm|fashion-mnist|BiLSTM over the 28 image rows|configs/fashion-mnist-lstm.ini|--data datasets/fashion-mnist/test.csv|accuracy,macro_f1"
  "spam-lstm|spam|BiLSTM text, max pooling|configs/spam.ini|--split test|accuracy,f1,auc"
  "spam-transformer|spam|Transformer text (1 pre-LN layer, 4 heads, sinusoidal positions), max pooling|configs/spam.ini --set text.encoder=transformer --set text.hidden=32 --set text.bidirectional=false|--split test|accuracy,f1,auc"
  "click-text|fashion-shop|click: text only|$click $noq --set image.enabled=false $noint|--split test|auc,logloss"
  "click-image|fashion-shop|click: image only|$click $noq $notext $noint|--split test|auc,logloss"
  "click-interaction|fashion-shop|click: interaction only|$click $noq $notext --set image.enabled=false|--split test|auc,logloss"
  "click-query-ids|fashion-shop|click: query + interaction (no item text, no photo)|$click $notext --set image.enabled=false|--split test|auc,logloss"
  "click-noquery|fashion-shop|click: fused without the query (dcn)|$click $noq|--split test|auc,logloss"
  "click-dcn|fashion-shop|click: fused, dcn (the config)|$click|--split test|auc,gauc,logloss"
  "click-history-id|fashion-shop|click: + history of item IDs, attention (fashion-shop-history.ini)|$hist|--split test|auc,gauc,logloss"
  "click-history-text|fashion-shop|click: + history of item texts (shared text tower), attention, no item IDs|$hist $histtext|--split test|auc,gauc,logloss"
  "click-fm|fashion-shop|click: fused, fm|$click $nocross --set fusion.mode=fm --set fusion.dim=16|--split test|auc,logloss"
  "click-attention|fashion-shop|click: fused, attention|$click $nocross --set fusion.mode=attention|--split test|auc,logloss"
  "click-concat|fashion-shop|click: fused, concat|$click $nocross --set fusion.mode=concat|--split test|auc,logloss"
  "click-sum|fashion-shop|click: fused, sum|$click $nocross --set fusion.mode=sum|--split test|auc,logloss"
  "click-product|fashion-shop|click: fused, product|$click $nocross --set fusion.mode=product|--split test|auc,logloss"
  "click-gated|fashion-shop|click: fused, gated|$click $nocross --set fusion.mode=gated|--split test|auc,logloss"
  "rank-text|fashion-shop|ranking: text only (query ↔ title)|$rank --set image.enabled=false --set interaction.user_dim=0 --set interaction.item_dim=0|--split test|ndcg@10,recall@10"
  "rank-image|fashion-shop|ranking: image only (user ID ↔ photo)|$rank --set text.enabled=false --set interaction.item_dim=0|--split test|ndcg@10,recall@10"
  "rank-interaction|fashion-shop|ranking: interaction only (user ID ↔ item ID)|$rank --set text.enabled=false --set image.enabled=false|--split test|ndcg@10,recall@10"
  "rank-fused|fashion-shop|ranking: fused (IDs + text + image, concat)|$rank|--split test|ndcg@10,recall@10"
)

field() { local IFS='|'; read -r -a f <<< "$1"; echo "${f[$2]}"; }

if [[ "${1:-}" == "--list" ]]; then
  for r in "${runs[@]}"; do printf '%-18s %s\n' "$(field "$r" 0)" "$(field "$r" 2)"; done
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then  # every fashion-shop run's config builds (on the committed sample)
  for r in "${runs[@]}"; do
    [[ "$(field "$r" 1)" == fashion-shop ]] || continue
    args=$(field "$r" 3)
    # shellcheck disable=SC2086
    "$bin/loom-train" ${args//$shop\//datasets/fashion-shop-sample/} --print-model > /dev/null ||
      { echo "results: $(field "$r" 0): the config does not build" >&2; exit 1; }
  done
  echo "results: every fashion-shop run builds"
  exit 0
fi
want=("$@")
selected() { [[ ${#want[@]} -eq 0 ]] && return 0; local w; for w in "${want[@]}"; do [[ "$w" == "$1" ]] && return 0; done; return 1; }
for w in "${want[@]}"; do
  ok=0; for r in "${runs[@]}"; do [[ "$(field "$r" 0)" == "$w" ]] && ok=1; done
  [[ $ok == 1 ]] || { echo "results: no run named '$w' (scripts/results.sh --list)" >&2; exit 2; }
done

[[ -x "$bin/loom-train" ]] || make -C "$root" build >/dev/null
has_infer_eval() { [[ -x "$bin/loom-infer" ]]; }

mkdir -p "$out_root"
prepared=""
for r in "${runs[@]}"; do
  name=$(field "$r" 0) ds=$(field "$r" 1) args=$(field "$r" 3)
  selected "$name" || continue
  out="$out_root/$name"
  cmd="build/bin/loom-train $args --set train.out=$out --quiet"
  if [[ -f "$out/wall.txt" && -z "${RESULTS_RETRAIN:-}" && "$(sed -n 's/^command=//p' "$out/wall.txt")" == "$cmd" ]]; then
    echo "results: $name: reusing the finished run in $out (same command)"
  else
    [[ " $prepared " == *" $ds "* ]] || { scripts/prepare-data.sh "$ds"; prepared="$prepared $ds"; }
    rm -rf "$out"
    mkdir -p "$(dirname "$out")"
    echo "results: $name: $cmd"
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    TIMEFORMAT='%R %U %S'  # bash's time: wall, user and system seconds of the command
    # shellcheck disable=SC2086
    if ! { time "$bin/loom-train" $args --set train.out="$out" --quiet > "$out_root/.$name.out" 2>&1; } \
         2> "$out_root/.$name.time"; then
      echo "results: $name: loom-train failed; its output:" >&2
      tail -20 "$out_root/.$name.out" >&2
      exit 1
    fi
    mv "$out_root/.$name.out" "$out/train.out"
    read -r wall ucpu scpu < "$out_root/.$name.time"
    rm -f "$out_root/.$name.time"
    printf 'wall_s=%s\ncpu_s=%s\nload_before=%s\nload_after=%s\nthreads=%s\ncommand=%s\n' \
      "$wall" "$(echo "$ucpu + $scpu" | bc)" "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" \
      "$LOOM_NUM_THREADS" "$cmd" > "$out/wall.txt"
  fi
  # the final score: the best checkpoint on the test data
  rm -f "$out/test.jsonl"
  if has_infer_eval; then
    # shellcheck disable=SC2046  # the eval arguments are a word list
    "$bin/loom-infer" eval "$out/best.safetensors" $(field "$r" 4) --format jsonl > "$out/test.jsonl.tmp"
    mv "$out/test.jsonl.tmp" "$out/test.jsonl"
  fi
done

# ---- docs/results.md ----

kv() { sed -n "s/^$2=//p" "$1"; }
# best_row DIR: the metrics.csv header and the row of the best validation (from log.txt's "done:" line)
best_row() {
  local step
  step=$(sed -n 's/^[0-9TZ:-]* done: .* at step \([0-9]*\).*/\1/p' "$1/log.txt" | tail -1)
  awk -F, -v s="$step" 'NR == 1 { print; next } $1 == s { row = $0 } END { print row }' "$1/metrics.csv"
}
# metric VALUE of NAME from the test JSON (first object) or the best validation row
metric() {
  local dir=$1 name=$2
  if [[ -s "$dir/test.jsonl" ]]; then
    head -1 "$dir/test.jsonl" | sed -n "s/.*\"$name\": *\([-0-9.eE+]*\).*/\1/p"
  else
    best_row "$dir" | awk -F, -v m="$name" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == m) c = i; next }
                                              c { print $c }'
  fi
}
fmt_time() { awk -v s="$1" 'BEGIN { printf "%d:%02d", int(s / 60), int(s % 60 + 0.5) }'; }

{
  echo "# Results on real data"
  echo
  echo "Made by \`scripts/results.sh\` (read its header for what it does); every number below is from the"
  echo "run directory named in the row (\`runs/results/NAME\`: \`log.txt\`, \`metrics.csv\`, \`wall.txt\`, \`test.jsonl\`)."
  echo
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), LOOM_NUM_THREADS=$LOOM_NUM_THREADS,"
  echo "GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-unset}, ISA $(sed -n 's/^[0-9TZ:-]* start .*, \([a-z0-9]*\) ISA.*/\1/p' "$(ls -d "$out_root"/*/log.txt | head -1)" | head -1)."
  echo "\`wall\` is the training process's elapsed time; \`cpu/wall\` its CPU time over that (2.0 = it kept"
  echo "both cores busy; well below, something else shared the machine, or the run's serial parts — data"
  echo "loading, validation — weighed more). Load averages before and after each run are in its \`wall.txt\`."
  echo
  echo "| dataset | model | split | metrics | epochs (best) | wall | cpu/wall | run |"
  echo "|---|---|---|---|---|---|---|---|"
  for r in "${runs[@]}"; do
    name=$(field "$r" 0) ds=$(field "$r" 1) model=$(field "$r" 2) metrics=$(field "$r" 5)
    dir="$out_root/$name"
    [[ -f "$dir/wall.txt" ]] || continue
    if [[ -s "$dir/test.jsonl" ]]; then split="test"; else split="validation"; fi
    vals=""
    IFS=, read -r -a ms <<< "$metrics"
    for m in "${ms[@]}"; do
      v=$(metric "$dir" "$m")
      [[ -n "$v" ]] && vals="$vals${vals:+, }$m $(printf '%.4f' "$v")"
    done
    wall=$(kv "$dir/wall.txt" wall_s) cpu=$(kv "$dir/wall.txt" cpu_s)
    ep=$(best_row "$dir" | awk -F, 'NR == 2 { print $2 }')
    total=$(awk -F, 'NR > 1 { e = $2 } END { print e }' "$dir/metrics.csv")
    printf '| %s | %s | %s | %s | %s (%s) | %s | %.2f | `%s` |\n' "$ds" "$model" "$split" "$vals" "$total" "$ep" \
      "$(fmt_time "$wall")" "$(echo "$cpu / $wall" | bc -l)" "$name"
  done
  echo
  echo "Commands (each run also needs \`scripts/prepare-data.sh DATASET\` first; the script does it):"
  echo
  echo '```sh'
  for r in "${runs[@]}"; do
    name=$(field "$r" 0)
    if [[ -f "$out_root/$name/wall.txt" ]]; then kv "$out_root/$name/wall.txt" command; fi
  done
  echo '```'
  # hand-written notes below the marker survive a regeneration
  marker='<!-- notes: everything below this line is kept by scripts/results.sh -->'
  echo
  echo "$marker"
  if [[ -f "$doc" ]]; then awk -v m="$marker" 'keep; $0 == m { keep = 1 }' "$doc"; fi
} > "$doc.tmp"
mv "$doc.tmp" "$doc"
echo "results: wrote $doc"
