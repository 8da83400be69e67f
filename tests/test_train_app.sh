#!/bin/bash
# test_train_app.sh — build/bin/loom-train end to end on the committed sample: run directory contents,
# --resume, Ctrl-C (finish the step, checkpoint, exit 130, resume), bad configs named by file, line and
# key, and corrupt checkpoints refused with a message. Args: BIN_DIR SOURCE_DIR.
source "$2/tests/testlib.sh" "$@"

# 1. a short run writes a complete run directory
"$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]}" --set train.out="$TMP/run" \
  --set train.max_steps=30 --set train.eval_every=15 > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt"; fail "training run"; }
for f in config.ini log.txt metrics.csv last.safetensors best.safetensors report.html; do
  [ -s "$TMP/run/$f" ] || fail "run directory lacks $f"
done
[ "$(wc -l < "$TMP/run/metrics.csv")" -eq 3 ] || fail "metrics.csv should have a header and 2 rows"
grep -q '^\[fusion\]' "$TMP/run/config.ini" || fail "config.ini is not the resolved config"
grep -q '^label_col = clicked' "$TMP/run/config.ini" || fail "config.ini lacks the [data] keys"
grep -q '30 updates' "$TMP/out.txt" || fail "summary line: $(cat "$TMP/out.txt")"

# 2. --resume continues from step 30 to 45
"$BIN/loom-train" --resume "$TMP/run" --set train.max_steps=45 --quiet > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt"; fail "resume"; }
grep -q '45 updates' "$TMP/out.txt" || fail "resume did not reach step 45: $(cat "$TMP/out.txt")"
grep -q 'resumed at step 30' "$TMP/run/log.txt" || fail "log does not record the resume"
tail -1 "$TMP/run/metrics.csv" | grep -q '^45,' || fail "metrics.csv does not end at step 45"

# 3. a second start into the same directory is a new run beside it (run-2, run-latest -> run-2)
md5_before=$(md5sum < "$TMP/run/last.safetensors")
"$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]}" --set train.out="$TMP/run" --set train.max_steps=15 \
  > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt"; fail "second start"; }
grep -q "$TMP/run holds a run: this one writes $TMP/run-2" "$TMP/run-2/log.txt" || fail "log: $(head -3 "$TMP/run-2/log.txt")"
grep -q "^$TMP/run-2: 15 updates" "$TMP/out.txt" || fail "summary: $(cat "$TMP/out.txt")"
[ "$(readlink "$TMP/run-latest")" = "run-2" ] || fail "run-latest -> $(readlink "$TMP/run-latest")"
[ "$(md5sum < "$TMP/run/last.safetensors")" = "$md5_before" ] || fail "the first run was touched"
grep -q "^out = $TMP/run-2$" "$TMP/run-2/config.ini" || fail "run-2's config does not name it"
# a user's own file where the -latest link goes is not replaced: the run is refused, naming it
mkdir -p "$TMP/mine" && cp "$TMP/run/last.safetensors" "$TMP/mine/" && echo "my notes" > "$TMP/mine-latest"
"$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]}" --set train.out="$TMP/mine" --set train.max_steps=15 \
  > "$TMP/out.txt" 2>&1 && fail "a run over a user's mine-latest accepted"
grep -q "mine-latest exists and is not a link loom-train made" "$TMP/out.txt" || fail "message: $(cat "$TMP/out.txt")"
[ "$(cat "$TMP/mine-latest")" = "my notes" ] || fail "the user's mine-latest was written over"
[ ! -e "$TMP/mine-2" ] || fail "the refused run left mine-2 behind"

# 4. Ctrl-C: the step finishes, a checkpoint is written, exit status 130; then the run resumes
"$BIN/loom-train" configs/fashion-shop-click.ini "${SMALL[@]}" --set train.out="$TMP/int" --set train.epochs=1000 \
  > "$TMP/int.txt" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'step' "$TMP/int/log.txt" 2>/dev/null && break; sleep 0.2; done
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] || { cat "$TMP/int.txt"; fail "SIGINT: exit status $rc, expected 130"; }
grep -q 'interrupted' "$TMP/int.txt" || fail "SIGINT: no message"
[ -s "$TMP/int/last.safetensors" ] || fail "SIGINT: no checkpoint"
"$BIN/loom-train" --resume "$TMP/int" --set train.epochs=1 --quiet > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt"; fail "resume after SIGINT"; }

# 5. bad configs: unknown key and bad value, named by file and line; bad --set
printf '[text]\nhidden = 8\nhiden = 8\n' > "$TMP/bad.ini"
"$BIN/loom-train" "$TMP/bad.ini" > "$TMP/out.txt" 2>&1 && fail "unknown key accepted"
grep -q 'bad.ini:3' "$TMP/out.txt" && grep -q 'hiden' "$TMP/out.txt" || fail "unknown key message: $(cat "$TMP/out.txt")"
printf '[fusion]\nmode = average\n' > "$TMP/bad.ini"
"$BIN/loom-train" "$TMP/bad.ini" > "$TMP/out.txt" 2>&1 && fail "bad choice accepted"
grep -q 'bad.ini:2' "$TMP/out.txt" && grep -q 'concat' "$TMP/out.txt" || fail "bad value message: $(cat "$TMP/out.txt")"
"$BIN/loom-train" configs/fashion-shop-click.ini --set text.hidden=big > "$TMP/out.txt" 2>&1 && fail "bad --set accepted"
grep -q 'hidden' "$TMP/out.txt" || fail "bad --set message: $(cat "$TMP/out.txt")"
"$BIN/loom-train" configs/fashion-shop-click.ini --set data.label_col=no_such_column --set train.out="$TMP/x" \
  > "$TMP/out.txt" 2>&1 && fail "missing column accepted"
grep -q 'no_such_column' "$TMP/out.txt" || fail "missing column message: $(cat "$TMP/out.txt")"
"$BIN/loom-train" --help-config | grep -q 'pooling' || fail "--help-config"

# 6. a corrupt checkpoint is refused with a message naming it
head -c 1000 "$TMP/run/last.safetensors" > "$TMP/cut" && mv "$TMP/cut" "$TMP/run/last.safetensors"
"$BIN/loom-train" --resume "$TMP/run" --set train.max_steps=60 > "$TMP/out.txt" 2>&1 && fail "corrupt checkpoint accepted"
grep -q 'last.safetensors' "$TMP/out.txt" || fail "corrupt checkpoint message: $(cat "$TMP/out.txt")"
echo "test_train_app: all checks passed"
