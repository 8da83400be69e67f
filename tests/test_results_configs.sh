#!/bin/bash
# test_results_configs.sh — the configs behind the README's results table stay valid: the Fashion-MNIST
# CNN and rows-LSTM configs train a few steps (on the committed sample's photos and categories, in the
# layout of datasets/fashion-mnist) and loom-infer eval scores their checkpoints on a CSV given with
# --data, and scripts/results.sh lists its runs. Args: BIN_DIR SOURCE_DIR.
source "$2/tests/testlib.sh" "$@"
sample=datasets/fashion-shop-sample
# image,label,category as loom-data fashion-mnist writes them, labels = category indices
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "image") im = i; if ($i == "category") ca = i }
                   print "image,label,category"; next }
         { if (!($ca in id)) id[$ca] = n++; print $im "," id[$ca] "," $ca }' "$sample/items.csv" > "$TMP/train.csv"
[ "$(wc -l < "$TMP/train.csv")" -gt 100 ] || fail "sample CSV: $(head -3 "$TMP/train.csv")"
head -41 "$TMP/train.csv" > "$TMP/test.csv"
for model in cnn lstm; do
  "$BIN/loom-train" "configs/fashion-mnist-$model.ini" --set data.interactions="$TMP/train.csv" \
    --set data.image_root="$sample" --set data.batch_size=16 --set train.max_steps=4 --set train.out="$TMP/$model" \
    --quiet > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt"; fail "$model: training"; }
  grep -q '4 updates' "$TMP/out.txt" || fail "$model: summary: $(cat "$TMP/out.txt")"
  "$BIN/loom-infer" eval "$TMP/$model/best.safetensors" --data "$TMP/test.csv" --format jsonl > "$TMP/eval.txt" 2>&1 ||
    { cat "$TMP/eval.txt"; fail "$model: eval"; }
  grep -q '"rows":40,.*"accuracy":' "$TMP/eval.txt" || fail "$model: eval output: $(cat "$TMP/eval.txt")"
done
grep -q '^encoder = rows' "$TMP/lstm/config.ini" || fail "the LSTM config does not use the rows encoder"
bash -n scripts/results.sh || fail "scripts/results.sh does not parse"
LOOM_BIN="$BIN" scripts/results.sh --check > "$TMP/check.txt" 2>&1 || fail "results.sh --check: $(cat "$TMP/check.txt")"
scripts/results.sh --list | grep -q '^fmnist-lstm' || fail "results.sh --list: $(scripts/results.sh --list 2>&1)"
# the video and history configs train a few steps on their committed samples, and their checkpoints score
# the samples' test split
for cfg in video history; do
  "$BIN/loom-train" "configs/fashion-shop-$cfg.ini" --set train.max_steps=6 --set train.eval_every=6 \
    --set train.out="$TMP/$cfg" --quiet > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt"; fail "$cfg: training"; }
  grep -q '6 updates' "$TMP/out.txt" || fail "$cfg: summary: $(cat "$TMP/out.txt")"
  "$BIN/loom-infer" eval "$TMP/$cfg/best.safetensors" --split test --format jsonl > "$TMP/eval.txt" 2>&1 ||
    { cat "$TMP/eval.txt"; fail "$cfg: eval"; }
  grep -q '"auc":' "$TMP/eval.txt" || fail "$cfg: eval output: $(cat "$TMP/eval.txt")"
done
grep -q '^video_col = video' "$TMP/video/config.ini" || fail "the video config does not read the videos"
echo "test_results_configs: all checks passed"
