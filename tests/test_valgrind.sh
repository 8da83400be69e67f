#!/usr/bin/env bash
# test_valgrind.sh — small runs of the loom binaries under valgrind (memcheck), failing on any error
# and on definite or indirect leaks: loom-data converting the tiny Fashion-MNIST fixture (gzip, IDX,
# PNG writing) and simulating a small shop from it (CSV writing), loom-spiral training 2 epochs
# (graph, kernels, Adam), and loom-train on 300 rows of the committed fashion-shop sample (CSV join,
# tokenizer, PNG decoding, prefetch thread, LSTM/conv/dense towers, validation, checkpoints, report)
# for a few steps, then resumed from its checkpoint, and a diverging run that stops on a non-finite
# loss (the error path frees everything too), and loom-infer on its checkpoint (score, rank, eval; loom-export onnx too) and
# on a small ranking model (text search with the item cache, photo search). Skipped with a message when valgrind is missing or the
# binaries are built with AddressSanitizer (the two cannot run together). Args: BIN_DIR SRC_DIR.
set -euo pipefail
bin="$1"; src="$2"
if ! command -v valgrind >/dev/null; then
  echo "test_valgrind: skipped — valgrind is not installed (apt-get install valgrind)"; exit 0
fi
if grep -q __asan_init "$bin/loom-spiral" 2>/dev/null; then
  echo "test_valgrind: skipped — $bin holds AddressSanitizer builds; run it on the Release build"; exit 0
fi
# valgrind 3.19 runs no AVX-512 instruction and hides AVX-512 from CPUID, so OpenBLAS picks AVX2 kernels
# under it by itself; only a core type forced from outside (OPENBLAS_CORETYPE) can make it run them.
case "${OPENBLAS_CORETYPE:-}" in
[Ss]kylake[Xx]|[Cc]ooperlake|[Ss]apphire[Rr]apids)
  echo "test_valgrind: skipped — OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE forces AVX-512 kernels, which valgrind cannot run"
  exit 0 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LOOM_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
vg() {
  local name=$1; shift
  if ! valgrind --quiet --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
       --errors-for-leak-kinds=definite,indirect --track-origins=yes --log-file="$tmp/$name.vg" "$@" \
       > "$tmp/$name.out" 2>&1; then
    echo "FAIL: valgrind reports errors for: $*" >&2
    cat "$tmp/$name.vg" "$tmp/$name.out" >&2
    exit 1
  fi
  echo "test_valgrind: $name clean"
}
vg data-fmnist "$bin/loom-data" fashion-mnist --src "$src/tests/data/fashion-mnist-tiny" --out "$tmp/fm"
[[ -f "$tmp/fm/train.csv" ]] || { echo "FAIL: loom-data wrote no train.csv" >&2; exit 1; }
vg data-shop "$bin/loom-data" fashion-shop --src "$src/tests/data/fashion-mnist-tiny" --out "$tmp/shop" \
  --items 20 --users 5 --interactions 200 --seed 2
[[ -f "$tmp/shop/interactions.csv" ]] || { echo "FAIL: loom-data wrote no interactions.csv" >&2; exit 1; }
vg spiral "$bin/loom-spiral" --epochs 2 --quiet
# video: writing, decoding, sampling and every hostile file of test_video (FFmpeg's libraries included)
vg video "$bin/test_video"

# loom-train: the sample's first 240 training and 60 validation interactions, the full items and users
# tables, small towers, 4 updates with a checkpoint after 2, then --resume to 6.
sample="$src/datasets/fashion-shop-sample"
awk -F, 'NR == 1 || ($14 == "train" && ++t <= 240) || ($14 == "valid" && ++v <= 60)' \
  "$sample/interactions.csv" > "$tmp/interactions.csv"
train_args=("$src/configs/fashion-shop-click.ini" --set data.interactions="$tmp/interactions.csv"
  --set data.items="$sample/items.csv" --set data.users="$sample/users.csv" --set data.image_root="$sample"
  --set data.batch_size=16 --set data.max_len=8 --set text.embedding_dim=8 --set text.hidden=8
  --set text.dense=8 --set image.filters=4,8 --set image.dense=16 --set fusion.dense=16
  --set train.max_steps=4 --set train.eval_every=2 --set train.out="$tmp/run" --quiet)
vg train "$bin/loom-train" "${train_args[@]}"
[[ -s "$tmp/run/last.safetensors" ]] || { echo "FAIL: loom-train wrote no checkpoint" >&2; exit 1; }
vg train-resume "$bin/loom-train" --resume "$tmp/run" --set train.max_steps=6 --quiet
grep -q 'resumed at step 4' "$tmp/run/log.txt" || { echo "FAIL: loom-train did not resume" >&2; exit 1; }
# an error in the middle of training (plain SGD at lr 10 on unscaled features diverges; nonfinite = stop)
# frees everything too: loom-train must exit 1 with its message, and valgrind must find nothing
if valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
     --errors-for-leak-kinds=definite,indirect --track-origins=yes --log-file="$tmp/diverge.vg" \
     "$bin/loom-train" "${train_args[@]}" --set train.out="$tmp/diverge" --set data.numeric_scaling=none \
     --set train.optimizer=sgd --set train.lr=10 --set train.clip_norm=0 --set train.max_steps=12 \
     > "$tmp/diverge.out" 2>&1; then
  echo "FAIL: the diverging loom-train run succeeded" >&2; cat "$tmp/diverge.out" >&2; exit 1
elif [[ $? -eq 99 ]] || ! grep -q 'not finite\|overflows\|training loss is' "$tmp/diverge.out"; then
  echo "FAIL: valgrind reports errors for the diverging loom-train run, or no non-finite message" >&2
  cat "$tmp/diverge.vg" "$tmp/diverge.out" >&2; exit 1
fi
echo "test_valgrind: train-diverge clean (stopped: $(sed 's/^loom-train: //' "$tmp/diverge.out" | cut -c1-60)...)"

# loom-infer on that checkpoint: score the validation rows, rank the catalogue for a user (every pair
# through the click model), eval; and a small two-tower ranking model for search and the item cache.
ckpt="$tmp/run/best.safetensors"
awk -F, 'NR == 1 || $14 == "valid"' "$tmp/interactions.csv" > "$tmp/val.csv"
vg infer-score "$bin/loom-infer" score "$ckpt" --input "$tmp/val.csv" --output "$tmp/scores.csv"
[[ $(wc -l < "$tmp/scores.csv") -eq 61 ]] || { echo "FAIL: loom-infer score wrote $(wc -l < "$tmp/scores.csv") lines" >&2; exit 1; }
vg infer-rank "$bin/loom-infer" rank "$ckpt" --user u00004 --top 5
vg infer-eval "$bin/loom-infer" eval "$ckpt" --data "$tmp/val.csv" --format jsonl
vg export-onnx "$bin/loom-export" onnx "$ckpt" "$tmp/model.onnx" # the ONNX encoder and the export session
"$bin/loom-train" "$src/configs/fashion-shop-ranking.ini" --set data.interactions="$tmp/interactions.csv" \
  --set data.items="$sample/items.csv" --set data.users="$sample/users.csv" --set data.image_root="$sample" \
  --set data.batch_size=16 --set text.embedding_dim=8 --set text.hidden=8 --set image.filters=4,8 \
  --set image.dense=16 --set fusion.dim=8 --set train.max_steps=2 --set train.out="$tmp/rank" --quiet > /dev/null 2>&1 ||
  { echo "FAIL: training the ranking model" >&2; exit 1; }
vg infer-search "$bin/loom-infer" search "$tmp/rank/best.safetensors" --text "black ankle boot" --top 3 --cache
vg infer-photo "$bin/loom-infer" search "$tmp/rank/best.safetensors" --image "$sample/images/i00003.png" --top 3
# an approximate index: the C++ shim over hnswlib frees what it builds (the FAISS one was checked by hand:
# one more run here costs ~30 s under load, and this test is near its timeout on a loaded machine)
vg infer-hnsw "$bin/loom-infer" search "$tmp/rank/best.safetensors" --text "black ankle boot" --top 3 --index hnsw
