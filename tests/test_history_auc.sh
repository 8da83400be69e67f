#!/bin/bash
# test_history_auc.sh — a click that only a behaviour history can predict: each user clicks exactly
# the candidates of one category of their own (items i have category i % 4), and validation users are
# new users, so their ID embedding is the unknown one. A model with [data] history_len (the user's
# earlier clicks, through the item embedding shared with the candidate) must beat the same model
# without it on validation AUC by a clear margin — through the item ID embedding and through the items'
# titles (history_content = text: the title names the category among noise words). Then loom-infer rank
# for a validation user (unknown ID: only the history personalises) puts the user's category on top.
# Args: BIN_DIR SOURCE_DIR.
set -u
BIN=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
awk 'BEGIN { srand(7); print "user,item,label,ts,split";
  for (u = 0; u < 500; u++) { p = int(rand() * 4); sp = u < 400 ? "train" : "val";
    for (t = 0; t < 20; t++) { it = int(rand() * 40); printf "u%d,i%d,%d,%d,%s\n", u, it, (it % 4) == p, t, sp } } }' \
  > "$TMP/inter.csv"
awk 'BEGIN { srand(7); for (u = 0; u < 500; u++) { p = int(rand() * 4); for (t = 0; t < 20; t++) x = rand(); print "u" u "," p } }' \
  > "$TMP/pref.csv"  # the same draws: each user's category
awk 'BEGIN { split("red blue soft new", w, " "); print "item,title";
  for (i = 0; i < 40; i++) printf "i%d,%s cat%d %s\n", i, w[1 + (i * 7) % 4], i % 4, w[1 + (i * 3) % 4] }' > "$TMP/items.csv"
base() {
  cat <<INI
[data]
interactions = $TMP/inter.csv
items = $TMP/items.csv
user_col = user
item_col = item
label_col = label
timestamp_col = ts
split = column
split_col = split
batch_size = 64
$1
$3
[image]
enabled = false
[interaction]
user_dim = 8
item_dim = ${ITEM_DIM:-8}
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
notext="[text]
enabled = false"
text="text_cols = title
max_len = 3
[text]
embedding_dim = 8
hidden = 8
dense = 8"
base "" "" "$notext" > "$TMP/ids.ini"
base "history_len = 10" "history_pooling = attention" "$notext" > "$TMP/hist.ini"
base "history_len = 10" "history_pooling = mean" "$notext" > "$TMP/mean.ini"
ITEM_DIM=0 base "history_len = 10
$text" "history_pooling = din
history_content = text" "" > "$TMP/text.ini"
auc() {
  "$BIN/loom-train" "$TMP/$1.ini" --set train.out="$TMP/run_$1" --quiet > "$TMP/$1.txt" 2>&1 || { cat "$TMP/$1.txt" >&2; return; }
  sed -n 's/.*best auc \([0-9.]*\).*/\1/p' "$TMP/$1.txt" | tail -1
}
ids=$(auc ids); hist=$(auc hist); mean=$(auc mean); text=$(auc text)
echo "val AUC: ID only $ids, history (attention) $hist, history (mean) $mean, history of titles (din) $text"
[ -n "$ids" ] && [ -n "$hist" ] && [ -n "$mean" ] && [ -n "$text" ] || fail "no AUC in the output"
awk -v a="$ids" -v b="$text" 'BEGIN { exit !(b > a + 0.15) }' || fail "title history AUC $text is not 0.15 above ID-only $ids"
# rank for validation users: their latest history (every row of the run's interactions) alone personalises
for run in hist text; do
  for u in u450 u451 u452; do
    p=$(sed -n "s/^$u,//p" "$TMP/pref.csv")
    "$BIN/loom-infer" rank "$TMP/run_$run/best.safetensors" --user $u --top 10 --format csv > "$TMP/rank.csv" 2>&1 ||
      { cat "$TMP/rank.csv"; fail "rank $run $u"; }
    good=$(awk -F, -v p="$p" 'NR > 1 { sub(/^i/, "", $2); if ($2 % 4 == p) n++ } END { print n + 0 }' "$TMP/rank.csv")
    echo "rank ($run) $u (category $p): $good of the top 10 in the category"
    [ "$good" -ge 8 ] || { cat "$TMP/rank.csv"; fail "rank ($run) for $u puts only $good of 10 items of its category on top"; }
  done
done
awk -v a="$ids" -v b="$hist" 'BEGIN { exit !(b > a + 0.15) }' || fail "attention history AUC $hist is not 0.15 above ID-only $ids"
awk -v a="$ids" -v b="$mean" 'BEGIN { exit !(b > a + 0.15) }' || fail "mean history AUC $mean is not 0.15 above ID-only $ids"
echo PASS
