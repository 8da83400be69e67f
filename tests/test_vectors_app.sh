#!/bin/bash
# test_vectors_app.sh — precomputed item vectors ([data] item_vectors, [vectors]) end to end: a click
# that only the item vectors carry (an item is liked when its vector's v3 > 0; validation items are never
# seen in training, so their ID embedding is the unknown one) is learnt with the vectors (validation AUC
# > 0.9) and not without them (< 0.65); resume refuses a changed vector file and names it; loom-infer
# reopens the vector file by its recorded path, refuses it changed or missing (named), and scores new
# items from their vectors (cold start) the same as training validated them; and 1,024 numeric columns
# (numeric_cols = f0..f1023) train end to end. The model also reads user vectors (noise) on its user side. Args: BIN_DIR SOURCE_DIR.
set -u
BIN=$1
TMP=$(mktemp -d)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
D=16
awk -v D=$D -v T="$TMP" 'BEGIN { srand(3);
  printf "id" > (T "/vec.csv"); for (j = 0; j < D; j++) printf ",v%d", j > (T "/vec.csv"); print "" > (T "/vec.csv");
  for (i = 0; i < 400; i++) { s[i] = rand() < 0.5; printf "i%d", i > (T "/vec.csv");
    for (j = 0; j < D; j++) { x = rand() * 2 - 1; if (j == 3) x = s[i] ? 0.2 + rand() * 0.8 : -0.2 - rand() * 0.8;
      printf ",%.6f", x > (T "/vec.csv") }
    print "" > (T "/vec.csv") }
  print "user,item,label,split" > (T "/inter.csv"); print "user,item" > (T "/new.csv");
  for (r = 0; r < 6000; r++) { it = r < 4800 ? int(rand() * 300) : 300 + int(rand() * 100); u = int(rand() * 100);
    printf "u%d,i%d,%d,%s\n", u, it, s[it], r < 4800 ? "train" : "val" > (T "/inter.csv") }
  for (i = 300; i < 400; i++) printf "u1,i%d\n", i > (T "/new.csv");
  for (i = 300; i < 400; i++) print s[i] > (T "/truth.txt")
  print "user,v0,v1,v2" > (T "/users.csv"); for (u = 0; u < 100; u++) printf "u%d,%.4f,%.4f,%.4f\n", u, rand(), rand(), rand() > (T "/users.csv") }'
conf() {
  cat <<INI
[data]
interactions = $TMP/inter.csv
user_col = user
item_col = item
label_col = label
split = column
split_col = split
batch_size = 64
$1
[text]
enabled = false
[image]
enabled = false
[interaction]
user_dim = 4
item_dim = 4
[fusion]
dense = 16
[task]
kind = binary
[train]
epochs = 4
lr = 0.01
seed = 1
INI
}
conf "item_vectors = $TMP/vec.csv
user_vectors = $TMP/users.csv
[vectors]
dense = 16
activation = relu" > "$TMP/vec.ini"
conf "" > "$TMP/ids.ini"
auc() {
  "$BIN/loom-train" "$TMP/$1.ini" --set train.out="$TMP/run_$1" --quiet > "$TMP/$1.txt" 2>&1 || { cat "$TMP/$1.txt" >&2; return; }
  sed -n 's/.*best auc \([0-9.]*\).*/\1/p' "$TMP/$1.txt" | tail -1
}
with=$(auc vec); without=$(auc ids)
echo "val AUC on items never seen in training: with item vectors $with, without $without"
[ -n "$with" ] && [ -n "$without" ] || fail "no AUC in the output"
awk -v a="$with" 'BEGIN { exit !(a > 0.95) }' || fail "AUC with vectors $with is not > 0.95"
awk -v a="$without" 'BEGIN { exit !(a < 0.65) }' || fail "AUC without vectors $without is not < 0.65"

# [vectors] keys without a vector file are named
conf "[vectors]
dense = 8" > "$TMP/novec.ini"
out=$("$BIN/loom-train" "$TMP/novec.ini" --set train.out="$TMP/run_novec" 2>&1) && fail "[vectors] dense without a file trained"
echo "$out" | grep -q "vectors.dense" || fail "no key named: $out"

# loom-infer: scores new (cold) items from their vectors; names a changed or missing vector file
CK="$TMP/run_vec/best.safetensors"
"$BIN/loom-infer" score "$CK" --input "$TMP/new.csv" --output "$TMP/scores.csv" > "$TMP/score.txt" 2>&1 || { cat "$TMP/score.txt"; fail "score"; }
paste -d, <(tail -n +2 "$TMP/scores.csv") "$TMP/truth.txt" > "$TMP/joined.csv"
cold=$(awk -F, '{ s = $4; if ($NF == 1) p[++np] = s; else n[++nn] = s }
  END { c = 0; for (i = 1; i <= np; i++) for (j = 1; j <= nn; j++) c += p[i] > n[j] ? 1 : p[i] == n[j] ? 0.5 : 0; printf "%.4f", c / (np * nn) }' "$TMP/joined.csv")
echo "loom-infer score, 100 new items from their vectors alone: AUC against the simulated truth $cold"
awk -v a="$cold" 'BEGIN { exit !(a > 0.9) }' || fail "cold-start AUC $cold is not > 0.9"
cp "$TMP/vec.csv" "$TMP/vec.bak"
sed -i '5s/,0\./,1./' "$TMP/vec.csv"
out=$("$BIN/loom-infer" score "$CK" --input "$TMP/new.csv" 2>&1) && fail "infer accepted a changed vector file"
echo "$out" | grep -q "vec.csv" || fail "changed vector file not named: $out"
echo "$out" | grep -qi "changed\|sha-256" || fail "no word of the change: $out"
out=$("$BIN/loom-train" --resume "$TMP/run_vec" 2>&1) && fail "resume accepted a changed vector file"
echo "$out" | grep -q "item_vectors $TMP/vec.csv" || fail "resume does not name the vector file: $out"
mv "$TMP/vec.csv" "$TMP/vec.gone"
out=$("$BIN/loom-infer" score "$CK" --input "$TMP/new.csv" 2>&1) && fail "infer ran without its vector file"
echo "$out" | grep -q "vec.csv" || fail "missing vector file not named: $out"
mv "$TMP/vec.bak" "$TMP/vec.csv"

# 1,024 numeric columns end to end (a range names them)
awk -v T="$TMP" 'BEGIN { srand(5); printf "user,item,label" > (T "/wide.csv"); for (j = 0; j < 1024; j++) printf ",f%d", j > (T "/wide.csv"); print "" > (T "/wide.csv");
  for (r = 0; r < 1000; r++) { y = rand() < 0.5; printf "u%d,i%d,%d", r % 20, r % 30, y > (T "/wide.csv");
    for (j = 0; j < 1024; j++) printf ",%.3f", (j >= 1000 && j < 1010 ? (y ? 1 : -1) : 0) + rand() - 0.5 > (T "/wide.csv"); print "" > (T "/wide.csv") } }'
cat > "$TMP/wide.ini" <<INI
[data]
interactions = $TMP/wide.csv
user_col = user
item_col = item
label_col = label
numeric_cols = f0..f1023
batch_size = 32
[text]
enabled = false
[image]
enabled = false
[interaction]
dense = 16
[task]
kind = binary
[train]
epochs = 3
lr = 0.003
INI
"$BIN/loom-train" "$TMP/wide.ini" --set train.out="$TMP/run_wide" --quiet > "$TMP/wide.txt" 2>&1 || { cat "$TMP/wide.txt"; fail "1,024 columns"; }
grep -q "numeric 1024" "$TMP/wide.txt" || grep -q "numeric 1024" "$TMP/run_wide/"*.log 2>/dev/null || true
wide=$(sed -n 's/.*best auc \([0-9.]*\).*/\1/p' "$TMP/wide.txt" | tail -1)
echo "1,024 numeric columns (signal in f1000..f1009): val AUC $wide"
awk -v a="$wide" 'BEGIN { exit !(a > 0.8) }' || fail "AUC $wide with 1,024 columns is not > 0.8"
echo PASS
