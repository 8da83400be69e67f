#!/bin/bash
# test_infer_app.sh — build/bin/loom-infer end to end on checkpoints trained here from the committed
# sample: every subcommand in every output format, the unknown-user and cold-start notes, eval equal to
# the training run's validation row, output files replaced only when complete, bad input named by file
# and fault with exit status 1 (usage errors 2), and the example program rank_products.
# Args: BIN_DIR SOURCE_DIR.
source "$2/tests/testlib.sh" "$@"
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-1000}
INF="$BIN/loom-infer"
SMALL=(--set text.embedding_dim=8 --set text.hidden=8 --set image.filters=4,8 --set image.dense=16
       --set train.epochs=1 --quiet)
"$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]}" --set train.out="$TMP/click" > "$TMP/t.txt" 2>&1 ||
  { cat "$TMP/t.txt"; fail "training the click model"; }
"$BIN/loom-train" configs/fashion-shop-ranking.ini "${SMALL[@]}" --set fusion.dim=16 --set train.max_steps=20 \
  --set train.out="$TMP/rank" > "$TMP/t.txt" 2>&1 || { cat "$TMP/t.txt"; fail "training the ranking model"; }
CLICK=$TMP/click/best.safetensors RANK=$TMP/rank/best.safetensors
D=datasets/fashion-shop-sample

# score: a table, csv with a header and one line per row, jsonl with one object per row
(head -1 $D/interactions.csv; grep ',valid$' $D/interactions.csv) > "$TMP/val.csv"
rows=$(($(wc -l < "$TMP/val.csv") - 1))
"$INF" score "$CLICK" --input "$TMP/val.csv" --format csv > "$TMP/s.csv" 2> "$TMP/err.txt" || { cat "$TMP/err.txt"; fail "score csv"; }
head -1 "$TMP/s.csv" | grep -q '^line,user,item,score,logit,note$' || fail "score csv header: $(head -1 "$TMP/s.csv")"
[ "$(($(wc -l < "$TMP/s.csv") - 1))" -eq "$rows" ] || fail "score csv: expected $rows rows"
grep -q "scored $rows rows" "$TMP/err.txt" || fail "score summary: $(cat "$TMP/err.txt")"
"$INF" score "$CLICK" --input "$TMP/val.csv" --format jsonl > "$TMP/s.jsonl" 2>/dev/null || fail "score jsonl"
[ "$(grep -c '^{"line":[0-9]*,"user":"u[0-9]*","item":"i[0-9]*","score":[0-9.e-]*,"logit":[0-9.e-]*}$' "$TMP/s.jsonl")" -eq "$rows" ] ||
  fail "score jsonl: $(head -2 "$TMP/s.jsonl")"
# an unknown user and an unknown item are scored and say so
sed -n '2p' "$TMP/val.csv" | sed 's/,u[0-9]*,i[0-9]*,/,newuser,newitem,/' > "$TMP/one.csv.body"
(head -1 "$TMP/val.csv"; cat "$TMP/one.csv.body") > "$TMP/one.csv"
"$INF" score "$CLICK" --input "$TMP/one.csv" --items "$TMP/items-new.csv" > /dev/null 2>&1 && fail "--items with a missing file must fail"
(cat $D/items.csv; grep '^i00003,' $D/items.csv | sed 's/^i00003,/newitem,/') > "$TMP/items-new.csv"
"$INF" score "$CLICK" --input "$TMP/one.csv" --items "$TMP/items-new.csv" > "$TMP/one.txt" 2>&1 || { cat "$TMP/one.txt"; fail "score unknown ids"; }
grep -q 'unknown user: non-personalised; unknown item: cold start' "$TMP/one.txt" || fail "unknown ids note: $(cat "$TMP/one.txt")"

# --output is replaced only by a complete file: a failing run leaves the previous one untouched
"$INF" score "$CLICK" --input "$TMP/val.csv" --output "$TMP/out.csv" 2>/dev/null || fail "score --output"
cp "$TMP/out.csv" "$TMP/out.before"
cut -d, -f1-5 "$TMP/val.csv" > "$TMP/nocol.csv"
"$INF" score "$CLICK" --input "$TMP/nocol.csv" --output "$TMP/out.csv" > "$TMP/e.txt" 2>&1
[ $? -eq 1 ] || fail "a rows file without a needed column must exit 1"
grep -q "nocol.csv.*column 'position'" "$TMP/e.txt" || fail "missing column message: $(cat "$TMP/e.txt")"
cmp -s "$TMP/out.csv" "$TMP/out.before" || fail "a failed score replaced the previous output"
ls "$TMP" | grep -q 'out.csv.tmp' && fail "a failed score left a temporary file"

# eval: the training run's best validation row, to the printed digits
"$INF" eval "$CLICK" --split val --format csv > "$TMP/ev.csv" 2>/dev/null || fail "eval --split val"
auc=$(awk -F, 'NR==2 {print $3}' "$TMP/ev.csv")
grep -q ",$auc," "$TMP/click/metrics.csv" || fail "eval auc $auc is not in metrics.csv"
"$INF" eval "$CLICK" --data "$TMP/val.csv" | grep -q "^auc  *$auc" || fail "eval --data differs from --split val"

# rank: click model and two towers; an unknown user is non-personalised and says so
"$INF" rank "$CLICK" --user u00004 --top 5 --format csv > "$TMP/r.csv" 2>/dev/null || fail "rank click"
[ "$(wc -l < "$TMP/r.csv")" -eq 6 ] || fail "rank --top 5: $(cat "$TMP/r.csv")"
"$INF" rank "$RANK" --user nobody --query "black ankle boot" --top 3 > "$TMP/r.txt" 2> "$TMP/e.txt" || fail "rank unknown user"
grep -q 'non-personalised' "$TMP/r.txt" && grep -q "user 'nobody' is not in the training data" "$TMP/e.txt" ||
  fail "unknown user note: $(cat "$TMP/r.txt" "$TMP/e.txt")"
"$INF" rank "$RANK" --user u00004 --query "black ankle boot" --top 5 --cache --timing > /dev/null 2> "$TMP/e.txt" || fail "rank --cache"
grep -q '(computed+saved)' "$TMP/e.txt" && [ -s "$TMP/rank/best.items.safetensors" ] || fail "item cache not written: $(cat "$TMP/e.txt")"
"$INF" rank "$RANK" --user u00004 --top 5 --cache --timing > /dev/null 2> "$TMP/e.txt" || fail "rank --cache again"
grep -q '(cache)' "$TMP/e.txt" || fail "item cache not reused: $(cat "$TMP/e.txt")"

# search: text (the Chinese catalogue too) and photo; bad queries
"$INF" search "$RANK" --text "黑色的T恤衫" --top 3 --format jsonl > "$TMP/q.jsonl" 2>/dev/null || fail "search chinese text"
[ "$(grep -c '"rank"' "$TMP/q.jsonl")" -eq 3 ] || fail "search jsonl: $(cat "$TMP/q.jsonl")"
"$INF" search "$RANK" --image $D/images/i00010.png --top 1 --format csv | grep -q '^1,i00010,' || fail "photo search must find the item itself"
"$INF" search "$RANK" --text "" > "$TMP/e.txt" 2>&1; [ $? -eq 2 ] && grep -q -- '--text is empty' "$TMP/e.txt" || fail "empty query"
"$INF" rank "$RANK" --user "" > "$TMP/e.txt" 2>&1; [ $? -eq 2 ] && grep -q -- '--user is empty' "$TMP/e.txt" || fail "empty user: $(cat "$TMP/e.txt")"
"$INF" search "$RANK" --image "$TMP/none.jpg" > "$TMP/e.txt" 2>&1; [ $? -eq 1 ] && grep -q 'none.jpg' "$TMP/e.txt" || fail "missing photo"
"$INF" search "$CLICK" --text boots > "$TMP/e.txt" 2>&1; grep -q 'no query tower' "$TMP/e.txt" || fail "search on a click model"

# embed
"$INF" embed "$RANK" --items --output "$TMP/items.safetensors" 2>/dev/null && [ -s "$TMP/items.safetensors" ] || fail "embed items"
"$INF" embed "$RANK" --users --output "$TMP/users.safetensors" 2>/dev/null && [ -s "$TMP/users.safetensors" ] || fail "embed users"
grep -q 'user_vectors' "$TMP/users.safetensors" || fail "embed users: no user_vectors tensor"

# corrupt checkpoints and usage errors
head -c 2000 "$CLICK" > "$TMP/trunc.safetensors"
"$INF" rank "$TMP/trunc.safetensors" --user u1 > "$TMP/e.txt" 2>&1; [ $? -eq 1 ] && grep -q 'trunc.safetensors' "$TMP/e.txt" ||
  fail "truncated checkpoint: $(cat "$TMP/e.txt")"
"$INF" frobnicate "$CLICK" > /dev/null 2>&1; [ $? -eq 2 ] || fail "unknown command must exit 2"
"$INF" rank "$CLICK" --user u1 --top 0 > /dev/null 2>&1; [ $? -eq 2 ] || fail "--top 0 must exit 2"
"$INF" rank "$CLICK" --format xml > /dev/null 2>&1; [ $? -eq 2 ] || fail "--format xml must exit 2"
usage() { # ARGS... then the expected message: a usage error (exit 2, before the checkpoint is read)
  local want=${!#}
  "$INF" "${@:1:$#-1}" > "$TMP/e.txt" 2>&1; local rc=$?
  [ $rc -eq 2 ] && grep -q -- "$want" "$TMP/e.txt" || fail "$* -> exit $rc: $(cat "$TMP/e.txt")"
}
usage score "$CLICK" "give the rows to score with --input"
usage rank "$CLICK" "give the user with --user"
usage search "$RANK" --text boots --image x.png "give exactly one of --text TEXT or --image PHOTO"
usage embed "$RANK" --items "give the file to write with --output"
usage embed "$RANK" --output "$TMP/x.safetensors" "give --items"
usage eval "$CLICK" "give --data ROWS.csv or --split val|test"
usage eval "$CLICK" --split train "--split train is not val or test"
[ ! -e "$TMP/x.safetensors" ] || fail "a failed embed wrote its output"
usage rank "$CLICK" --user u1 --frobnicate "unknown option '--frobnicate'"
usage rank "$CLICK" --user "needs a value"
"$INF" --version | grep -q '^loom-infer (loom [0-9]' || fail "--version"
"$INF" --help | grep -q '^usage: loom-infer score' || fail "--help"

# --output FILE is for machines: the format follows the extension (csv by default), --format wins
"$INF" score "$CLICK" --input "$TMP/val.csv" --output "$TMP/o.csv" 2>/dev/null && cmp -s "$TMP/o.csv" "$TMP/s.csv" ||
  fail "score --output .csv must be the csv: $(head -2 "$TMP/o.csv")"
"$INF" score "$CLICK" --input "$TMP/val.csv" --output "$TMP/o.out" 2>/dev/null && cmp -s "$TMP/o.out" "$TMP/s.csv" || fail "--output: csv by default"
"$INF" score "$CLICK" --input "$TMP/val.csv" --output "$TMP/o.jsonl" 2>/dev/null && cmp -s "$TMP/o.jsonl" "$TMP/s.jsonl" || fail "--output .jsonl"
"$INF" score "$CLICK" --input "$TMP/val.csv" --output "$TMP/o.json" 2>/dev/null || fail "--output .json"
[ "$(head -c 2 "$TMP/o.json")" = "[{" ] || [ "$(head -1 "$TMP/o.json")" = "[" ] || fail "json: not an array: $(head -c 80 "$TMP/o.json")"
[ "$(grep -c '^{"line"' "$TMP/o.json")" -eq "$rows" ] && tail -1 "$TMP/o.json" | grep -q '^\]$' || fail "json array: $(tail -2 "$TMP/o.json")"
"$INF" score "$CLICK" --input "$TMP/val.csv" --output "$TMP/o.csv" --format table 2>/dev/null && head -1 "$TMP/o.csv" | grep -q '^ *line  user' ||
  fail "--format table must win over the extension"
"$INF" rank "$RANK" --user u00004 --top 4 --output "$TMP/r4.csv" 2>/dev/null && head -1 "$TMP/r4.csv" | grep -q '^rank,item,score,title,note$' &&
  [ "$(wc -l < "$TMP/r4.csv")" -eq 5 ] || fail "rank --output .csv: $(cat "$TMP/r4.csv")"

# rank: the notes are in every format, not only on stderr; a retrieval model says it ignores the user
"$INF" rank "$RANK" --user nobody --top 2 --format csv > "$TMP/n.csv" 2>/dev/null || fail "rank unknown csv"
[ "$(grep -c ',unknown user: non-personalised ranking$' "$TMP/n.csv")" -eq 2 ] || fail "csv note: $(cat "$TMP/n.csv")"
"$INF" rank "$RANK" --user nobody --top 2 --format jsonl > "$TMP/n.jsonl" 2>/dev/null || fail "rank unknown jsonl"
[ "$(grep -c '"note":"unknown user: non-personalised ranking"' "$TMP/n.jsonl")" -eq 2 ] || fail "jsonl note: $(cat "$TMP/n.jsonl")"
"$INF" rank "$RANK" --user u00004 --query "qqqzz xyzzy" --top 2 --format csv > "$TMP/n.csv" 2> "$TMP/e.txt" || fail "rank unknown words"
grep -q "no word of the query 'qqqzz xyzzy' is in the model's vocabulary" "$TMP/e.txt" &&
  [ "$(grep -c "no word of the query is in the model's vocabulary" "$TMP/n.csv")" -eq 2 ] || fail "unknown words note: $(cat "$TMP/n.csv" "$TMP/e.txt")"
"$BIN/loom-train" configs/fashion-shop-retrieval.ini "${SMALL[@]}" --set fusion.dim=16 --set train.out="$TMP/ret" > "$TMP/t.txt" 2>&1 ||
  { cat "$TMP/t.txt"; fail "training the retrieval model"; }
RET=$TMP/ret/best.safetensors
"$INF" rank "$RET" --user u00001 > "$TMP/e.txt" 2>&1; [ $? -eq 1 ] && grep -q 'has no user input' "$TMP/e.txt" || fail "retrieval rank without a query: $(cat "$TMP/e.txt")"
"$INF" rank "$RET" --user u00001 --query "black ankle boot" --top 3 > "$TMP/r.txt" 2>/dev/null || fail "retrieval rank"
grep -q '^top 3 for query "black ankle boot" — the model has no user input' "$TMP/r.txt" || fail "retrieval heading: $(cat "$TMP/r.txt")"
# the click config reads the session's query: a query ranks the catalogue differently
"$INF" rank "$CLICK" --user u00004 --top 10 --format csv > "$TMP/q0.csv" 2>/dev/null || fail "click rank"
"$INF" rank "$CLICK" --user u00004 --query "black ankle boot" --top 10 --format csv > "$TMP/q1.csv" 2>"$TMP/e.txt" ||
  fail "a query on a click model: $(cat "$TMP/e.txt")"
cmp -s "$TMP/q0.csv" "$TMP/q1.csv" && fail "the query does not change the click model's ranking"
# one trained without the query refuses a query rather than ignoring it
"$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]}" --set data.query_col= --set text.share_query=false \
  --set train.max_steps=4 --set train.out="$TMP/click-noq" > "$TMP/t.txt" 2>&1 || { cat "$TMP/t.txt"; fail "training without a query"; }
"$INF" rank "$TMP/click-noq/best.safetensors" --user u00004 --query "black ankle boot" > "$TMP/e.txt" 2>&1; [ $? -eq 1 ] &&
  grep -q 'has no query input' "$TMP/e.txt" || fail "a query on a click model without one must be refused: $(cat "$TMP/e.txt")"
"$INF" rank "$CLICK" --user u00004 --top 3 --format csv 2>/dev/null | awk -F, 'NR > 1 && $4 == "" {exit 1}' || fail "rank: blank title"

# an output is never one of the command's inputs (by file identity, not name); nothing is touched
cp "$CLICK" "$TMP/ck.before"; cp "$TMP/val.csv" "$TMP/val.before"; ln "$CLICK" "$TMP/hardlink.safetensors"
refuse() { # ARGS... then what the output is: exit 1, the message, the inputs unchanged
  local want=${!#}
  "$INF" "${@:1:$#-1}" > "$TMP/e.txt" 2>&1; local rc=$?
  [ $rc -eq 1 ] && grep -q -- "is $want" "$TMP/e.txt" || fail "$* -> exit $rc: $(cat "$TMP/e.txt")"
  cmp -s "$CLICK" "$TMP/ck.before" && cmp -s "$TMP/val.csv" "$TMP/val.before" || fail "$*: an input was overwritten"
}
refuse score "$CLICK" --input "$TMP/val.csv" --output "$CLICK" "the checkpoint"
refuse score "$CLICK" --input "$TMP/val.csv" --output "$TMP/hardlink.safetensors" "the checkpoint ($CLICK)"
refuse score "$CLICK" --input "$TMP/val.csv" --output "$TMP/val.csv" "the --input file"
refuse embed "$CLICK" --items --output "$CLICK" "the checkpoint"
refuse eval "$CLICK" --split val --output "$D/items.csv" "the items table"
cp "$RANK" "$TMP/rk.before"
"$INF" embed "$RANK" --users --output "$RANK" > "$TMP/e.txt" 2>&1; [ $? -eq 1 ] && cmp -s "$RANK" "$TMP/rk.before" || fail "embed --output CKPT"

# every command reports a failed write to stdout (exit 1)
if [ -w /dev/full ]; then
  for c in "score $CLICK --input $TMP/val.csv" "rank $RANK --user u00004" "search $RANK --text boots" "eval $CLICK --split val"; do
    $INF $c > /dev/full 2> "$TMP/e.txt"; rc=$?
    [ $rc -eq 1 ] && grep -q 'write error' "$TMP/e.txt" || fail "$c > /dev/full -> exit $rc: $(cat "$TMP/e.txt")"
  done
fi

# an optional cache that cannot be written warns and still answers
mkdir -p "$TMP/ro/best.items.safetensors"; cp "$RANK" "$TMP/ro/best.safetensors"
"$INF" rank "$TMP/ro/best.safetensors" --user u00004 --top 3 --cache > "$TMP/r.txt" 2> "$TMP/e.txt" || fail "unwritable cache: $(cat "$TMP/e.txt")"
grep -q 'note: item cache not saved' "$TMP/e.txt" && [ "$(grep -c '^ *[1-3]  i' "$TMP/r.txt")" -eq 3 ] || fail "unwritable cache: $(cat "$TMP/r.txt" "$TMP/e.txt")"
# one flipped bit in a tensor: refused, naming checkpoint and tensor
cp "$CLICK" "$TMP/flip.safetensors"
printf '\x7f' | dd of="$TMP/flip.safetensors" bs=1 seek=$(($(stat -c %s "$CLICK") - 1)) conv=notrunc 2>/dev/null
"$INF" score "$TMP/flip.safetensors" --input "$TMP/val.csv" > "$TMP/e.txt" 2>&1; [ $? -eq 1 ] &&
  grep -q "flip.safetensors: tensor '.*' .* does not match its SHA-256" "$TMP/e.txt" || fail "flipped bit: $(cat "$TMP/e.txt")"

# the example program
"$BIN/rank_products" "$RANK" u00004 "black ankle boot" > "$TMP/ex.txt" 2>&1 || { cat "$TMP/ex.txt"; fail "rank_products"; }
[ "$(grep -c '^[1-5]\. i[0-9]* ' "$TMP/ex.txt")" -eq 5 ] || fail "rank_products output: $(cat "$TMP/ex.txt")"
# no test leaves output in the source tree: no checkpoint, report or run log tracked or lying around
# outside tests/data and the fuzz corpora (build*/, runs/ and downloaded datasets/ are the user's)
if git -C "$SRC" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  stray=$( (git -C "$SRC" ls-files; git -C "$SRC" ls-files --others) |
    grep -E '(\.safetensors|(^|/)(report\.html|metrics\.csv|log\.txt|config\.ini))$' |
    grep -vE '^(build[^/]*|runs|datasets|tests/data|tests/fuzz)/')
  [ -z "$stray" ] || fail "outputs in the source tree (a test wrote outside its temp dir?): $stray"
fi
echo "test_infer_app: all checks passed"
