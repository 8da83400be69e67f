#!/usr/bin/env bash
# test_crash_resume.sh — loom-train under SIGKILL: 3 trials of bench/fault/crash_trials.sh (a run killed
# at random moments — seeded — must leave only checkpoints that validate, and resuming must end
# bit-identical to an uninterrupted run), and the temporary files a killed writer leaves behind are
# removed when the run is resumed (those of a live process and other files are kept). Args: BIN_DIR SRC_DIR.
set -u
BIN=$1
SRC=$2
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-1000}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$SRC" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

# 1. stale temporary files: NAME.tmp.PID of a dead PID go on resume; a live PID's and foreign files stay
"$BIN/loom-train" configs/fashion-shop-click.ini --set data.max_len=8 --set text.embedding_dim=8 \
  --set text.hidden=8 --set text.dense=8 --set image.filters=4,8 --set image.dense=16 --set fusion.dense=16 \
  --set train.max_steps=4 --set train.eval_every=2 --set train.out="$TMP/run" --quiet > "$TMP/out.txt" 2>&1 ||
  { cat "$TMP/out.txt"; fail "training run"; }
sh -c 'exit 0' &
dead=$!
wait $dead
kill -0 $dead 2>/dev/null && fail "pid $dead is still alive"
for f in last.safetensors.tmp.$dead best.safetensors.tmp.$dead metrics.csv.tmp.$dead report.html.tmp.$dead \
         last.safetensors.tmp.$$ notes.txt.tmp.$dead last.safetensors.tmp.x; do
  echo junk > "$TMP/run/$f"
done
"$BIN/loom-train" --resume "$TMP/run" --set train.max_steps=6 --quiet > "$TMP/out.txt" 2>&1 ||
  { cat "$TMP/out.txt"; fail "resume"; }
for f in last.safetensors.tmp.$dead best.safetensors.tmp.$dead metrics.csv.tmp.$dead report.html.tmp.$dead; do
  [ -e "$TMP/run/$f" ] && fail "stale $f was not removed"
done
for f in last.safetensors.tmp.$$ notes.txt.tmp.$dead last.safetensors.tmp.x; do
  [ -e "$TMP/run/$f" ] || fail "$f was removed but belongs to a live process or to nobody we know"
done
grep -q 'removed 4 temporary files left by a killed process' "$TMP/run/log.txt" || fail "log: $(tail -3 "$TMP/run/log.txt")"

# 2. SIGKILL trials: 40 updates, a checkpoint every 5, fixed seed
STEPS=40 EVAL_EVERY=5 bash bench/fault/crash_trials.sh 3 "$BIN" 7 > "$TMP/trials.txt" 2>&1
rc=$?
cat "$TMP/trials.txt"
[ $rc -eq 0 ] || fail "crash trials"
echo "test_crash_resume: all checks passed"
