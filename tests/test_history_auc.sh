#!/bin/bash
# test_history_auc.sh — a click that only a behaviour history can predict: each user clicks exactly
# the candidates of one category of their own (items i have category i % 4), and validation users are
# new users, so their ID embedding is the unknown one. A model with [data] history_len (the user's
# earlier clicks, through the item embedding shared with the candidate) must beat the same model
# without it on validation AUC by a clear margin. Args: BIN_DIR SOURCE_DIR.
set -u
BIN=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
awk 'BEGIN { srand(7); print "user,item,label,ts,split";
  for (u = 0; u < 500; u++) { p = int(rand() * 4); sp = u < 400 ? "train" : "val";
    for (t = 0; t < 20; t++) { it = int(rand() * 40); printf "u%d,i%d,%d,%d,%s\n", u, it, (it % 4) == p, t, sp } } }' \
  > "$TMP/inter.csv"
base() {
  cat <<INI
[data]
interactions = $TMP/inter.csv
user_col = user
item_col = item
label_col = label
timestamp_col = ts
split = column
split_col = split
batch_size = 64
$1
[text]
enabled = false
[image]
enabled = false
[interaction]
user_dim = 8
item_dim = 8
$2
[fusion]
dense = 32
[task]
kind = binary
[train]
epochs = 8
lr = 0.01
seed = 1
INI
}
base "" "" > "$TMP/ids.ini"
base "history_len = 10" "history_pooling = attention" > "$TMP/hist.ini"
base "history_len = 10" "history_pooling = mean" > "$TMP/mean.ini"
auc() {
  "$BIN/loom-train" "$TMP/$1.ini" --set train.out="$TMP/run_$1" --quiet > "$TMP/$1.txt" 2>&1 || { cat "$TMP/$1.txt" >&2; return; }
  sed -n 's/.*best auc \([0-9.]*\).*/\1/p' "$TMP/$1.txt" | tail -1
}
ids=$(auc ids); hist=$(auc hist); mean=$(auc mean)
echo "val AUC: ID only $ids, history (attention) $hist, history (mean) $mean"
[ -n "$ids" ] && [ -n "$hist" ] && [ -n "$mean" ] || fail "no AUC in the output"
awk -v a="$ids" -v b="$hist" 'BEGIN { exit !(b > a + 0.15) }' || fail "attention history AUC $hist is not 0.15 above ID-only $ids"
awk -v a="$ids" -v b="$mean" 'BEGIN { exit !(b > a + 0.15) }' || fail "mean history AUC $mean is not 0.15 above ID-only $ids"
echo PASS
