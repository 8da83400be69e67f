#!/bin/bash
# test_compare.sh — what scripts read of runs: --json progress events, result.json at the end of a run (best and last metrics from metrics.csv's rows, the
# config hash, status) and loom-compare's page over two runs (runs table, config differences, one chart
# per metric with a line per run), plus its errors for a directory that is not a run and a damaged
# metrics.csv. Args: BIN_DIR SOURCE_DIR.
source "$2/tests/testlib.sh" "$@"
SMALL+=(--set train.max_steps=30 --set train.eval_every=15)

for lr in 0.002 0.01; do
  "$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]}" --set train.lr=$lr --set train.out="$TMP/lr$lr" \
    > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt"; fail "training lr=$lr"; }
done

# 1. result.json: status, steps, monitor, best = the metrics.csv row of the best step, config hash
r="$TMP/lr0.01/result.json"
[ -s "$r" ] || fail "no result.json"
grep -q '"status":[[:space:]]*"finished"' "$r" || fail "status: $(cat "$r")"
grep -q '"steps":[[:space:]]*30,' "$r" || fail "steps"
grep -q '"monitor":[[:space:]]*"auc"' "$r" || fail "monitor"
grep -Eq '"config_sha256":[[:space:]]*"[0-9a-f]{64}"' "$r" || fail "config hash"
grep -q '"cpu_s":' "$r" && grep -q '"wall_s":' "$r" || fail "times"
# the best row's auc in metrics.csv is the one result.json reports
best_step=$(awk -F, 'NR>1 && ($5+0) > b {b=$5+0; s=$1} END {print s}' "$TMP/lr0.01/metrics.csv")
best_auc=$(awk -F, -v s="$best_step" 'NR>1 && $1==s {print $5+0}' "$TMP/lr0.01/metrics.csv")
json_auc=$(tr -d '\n\t ' < "$r" | sed -n 's/.*"best":{[^}]*"auc":\([0-9.e-]*\).*/\1/p')
awk -v a="$best_auc" -v b="$json_auc" 'BEGIN {exit !(a - b < 1e-6 && b - a < 1e-6)}' ||
  fail "result.json best auc $json_auc, metrics.csv best $best_auc (step $best_step)"
# the two runs' configs hash differently
h1=$(grep -o '"config_sha256":[^,]*' "$TMP/lr0.002/result.json")
h2=$(grep -o '"config_sha256":[^,]*' "$r")
[ "$h1" != "$h2" ] || fail "different configs, same hash"

# 2. loom-compare over both runs
"$BIN/loom-compare" "$TMP/lr0.002" "$TMP/lr0.01" -o "$TMP/cmp.html" > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt"; fail "loom-compare"; }
grep -q "cmp.html: 2 runs" "$TMP/out.txt" || fail "summary line: $(cat "$TMP/out.txt")"
page=$(cat "$TMP/cmp.html")
for h in Runs "Config differences" Curves; do grep -q "<h2>$h</h2>" <<< "$page" || fail "page lacks $h"; done
grep -q "<td class='k'>train.lr</td><td>0.002</td><td>0.01</td>" <<< "$page" || fail "config diff lacks train.lr"
grep -q "<td class='k'>task.kind</td>" <<< "$page" && fail "an equal key is listed as a difference"
[ "$(grep -o "class='ct'>auc<" <<< "$page" | wc -l)" -eq 1 ] || fail "no single auc chart"
[ "$(grep -o "class='lg'>lr0.0" <<< "$page" | wc -l)" -ge 4 ] || fail "curves do not name both runs"
[ ! -e compare.html ] || fail "wrote compare.html into the source tree"

# 3. errors: not a run, damaged metrics.csv, no runs; nothing written
mkdir -p "$TMP/empty"
"$BIN/loom-compare" "$TMP/lr0.01" "$TMP/empty" -o "$TMP/bad.html" > "$TMP/out.txt" 2>&1 && fail "a non-run accepted"
grep -q "empty/metrics.csv: no metrics.csv — is .*empty a loom-train run directory" "$TMP/out.txt" || fail "message: $(cat "$TMP/out.txt")"
cp -r "$TMP/lr0.01" "$TMP/broken"
echo "45,1,0.5" >> "$TMP/broken/metrics.csv"
"$BIN/loom-compare" "$TMP/broken" -o "$TMP/bad.html" > "$TMP/out.txt" 2>&1 && fail "a damaged metrics.csv accepted"
grep -q "broken/metrics.csv line 4: 3 fields, the header has 13" "$TMP/out.txt" || fail "message: $(cat "$TMP/out.txt")"
[ ! -e "$TMP/bad.html" ] || fail "a failed compare wrote its page"
cp -r "$TMP/lr0.01" "$TMP/badjson"
echo '[1, 2' > "$TMP/badjson/result.json"
"$BIN/loom-compare" "$TMP/badjson" -o "$TMP/bad.html" > "$TMP/out.txt" 2>&1 && fail "a damaged result.json accepted"
grep -q "badjson/result.json: not a JSON object — the file is damaged" "$TMP/out.txt" || fail "message: $(cat "$TMP/out.txt")"
[ ! -e "$TMP/bad.html" ] || fail "a failed compare wrote its page"
"$BIN/loom-compare" > "$TMP/out.txt" 2>&1; [ $? -eq 2 ] || fail "no runs: not a usage error"

# 4. loom-train --sweep: a 2 x 2 grid, each variant its own run, then compare.html over the four
"$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]}" --set train.max_steps=15 --set train.out="$TMP/sw" \
  --sweep train.lr=0.002,0.01 --sweep fusion.dense=8,16 > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt"; fail "sweep"; }
[ "$(grep -c '^\[[1-4]/4\] .*15 updates' "$TMP/out.txt")" -eq 4 ] || fail "sweep lines: $(cat "$TMP/out.txt")"
for d in "lr=0.002,dense=8" "lr=0.002,dense=16" "lr=0.01,dense=8" "lr=0.01,dense=16"; do
  grep -q '"status":[[:space:]]*"finished"' "$TMP/sw/$d/result.json" || fail "variant $d did not finish"
  lr=${d%%,*}
  grep -q "^lr = ${lr#lr=}$" "$TMP/sw/$d/config.ini" || fail "variant $d: train.lr not set"
  grep -q "^dense = ${d##*dense=}$" "$TMP/sw/$d/config.ini" || fail "variant $d: fusion.dense not set"
done
[ "$(grep -o "<td class='k'>lr=0.0[0-9]*,dense=[0-9]*</td>" "$TMP/sw/compare.html" | wc -l)" -eq 4 ] || fail "compare.html lacks a variant"
# a bad sweep trains nothing
for bad in "train.lr=0.002,,3" "train.lrr=1" "train.lr=abc" "train.out=a,b" "lr=1"; do
  "$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]}" --set train.out="$TMP/bad" --sweep "$bad" > "$TMP/out.txt" 2>&1 &&
    fail "--sweep $bad accepted"
  grep -q -- "--sweep $bad" "$TMP/out.txt" || fail "--sweep $bad: message does not name it: $(cat "$TMP/out.txt")"
  [ ! -e "$TMP/bad" ] || fail "--sweep $bad left $TMP/bad behind"
done
many=$(seq -s, 1 65)
long=$(printf 'x%.0s' $(seq 300))
for bad in "train.lr=$many|more than 64 values" "data.seed=1,2 --sweep text.pretrained=$long|longer than 255 bytes"; do
  arg=${bad%%|*}; msg=${bad#*|}
  # shellcheck disable=SC2086  # the second case is two --sweep arguments
  "$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]}" --set train.out="$TMP/bad" --sweep $arg > "$TMP/out.txt" 2>&1 &&
    fail "--sweep $arg accepted"
  grep -q "$msg" "$TMP/out.txt" || fail "--sweep ($msg): $(cat "$TMP/out.txt")"
  [ ! -e "$TMP/bad" ] || fail "a refused sweep left $TMP/bad behind"
done
"$BIN/loom-train" configs/fashion-shop-click.ini --sweep train.lr=1,2 --sweep train.lr=3 > "$TMP/out.txt" 2>&1 && fail "a key swept twice"
grep -q "train.lr is swept twice" "$TMP/out.txt" || fail "twice: $(cat "$TMP/out.txt")"

# 5. --json: every progress line an event object, in order start, step..., eval..., done; the summary
# on stdout a JSON object too; --json with --quiet is a usage error
"$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]/--quiet/--json}" --set train.log_every=10 \
  --set train.out="$TMP/js" > "$TMP/js.out" 2> "$TMP/js.err" || { cat "$TMP/js.err"; fail "--json run"; }
grep -vq '^{"event":"[a-z]*",.*}$' "$TMP/js.err" && fail "--json: a progress line is not an event: $(grep -v '^{"event"' "$TMP/js.err" | head -2)"
events=$(sed 's/^{"event":"\([a-z]*\)".*/\1/' "$TMP/js.err" | tr '\n' ' ')
[ "$events" = "start step eval step step eval done " ] || fail "--json events: $events"
grep -q '"event":"eval","step":30,"epoch":1,"val_loss":[0-9.]*,"metrics":{"auc":[0-9.]*,' "$TMP/js.err" || fail "eval event"
grep -q '^{"run_dir":"'"$TMP"'/js","updates":30,' "$TMP/js.out" || fail "--json summary: $(cat "$TMP/js.out")"
"$BIN/loom-train" configs/fashion-shop-click.ini --json --quiet > "$TMP/out.txt" 2>&1; [ $? -eq 2 ] || fail "--json --quiet accepted"

# 6. train.test_at_end: best.safetensors on the test split, the numbers loom-infer eval gives
"$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]}" --set train.test_at_end=true --set train.out="$TMP/te" \
  > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt"; fail "test_at_end run"; }
grep -q "test (best.safetensors at step [0-9]*, [0-9]* rows): loss" "$TMP/te/log.txt" || fail "test line: $(tail -3 "$TMP/te/log.txt")"
"$BIN/loom-infer" eval "$TMP/te/best.safetensors" --split test > "$TMP/eval.txt" 2>&1 || { cat "$TMP/eval.txt"; fail "loom-infer eval"; }
infer_auc=$(awk '$1 == "auc" {print $2}' "$TMP/eval.txt")
json_auc=$(tr -d '\n\t ' < "$TMP/te/result.json" | sed -n 's/.*"test":{[^}]*"auc":\([0-9.e-]*\).*/\1/p')
awk -v a="$infer_auc" -v b="$json_auc" 'BEGIN {exit !(a != "" && a - b < 1e-6 && b - a < 1e-6)}' ||
  fail "test_at_end auc $json_auc, loom-infer eval $infer_auc"
grep -q "<td class='k'>test split</td>" "$TMP/te/report.html" || fail "report lacks the test split"
"$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]}" --set train.test_at_end=true --set data.split=random --set data.split_col= --set data.split_ratio=0.8,0.2,0 \
  --set train.out="$TMP/te0" > "$TMP/out.txt" 2>&1 && fail "test_at_end with an empty test split accepted"
grep -q "train.test_at_end = true but the test split is empty" "$TMP/out.txt" || fail "message: $(cat "$TMP/out.txt")"
[ ! -e "$TMP/te0" ] || fail "a refused run left its directory"
echo "ok"
