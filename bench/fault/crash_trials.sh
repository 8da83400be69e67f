#!/usr/bin/env bash
# crash_trials.sh — loom-train under SIGKILL. Trains a small click model on the committed sample once
# without interruption (the reference); then, per trial, starts the same run, kills it with SIGKILL at a
# random moment (start-up, training, validation, a checkpoint being written...), checks that every
# checkpoint left behind opens, validates and is finite (st_compare check), resumes with --resume (or
# starts afresh when no checkpoint had been written yet), kills again 0-2 more times, lets it finish, and
# compares last.safetensors and best.safetensors with the reference: every tensor (parameters, batch-norm
# buffers, Adam moments) and the training state bit for bit (st_compare same). Kill times come from
# bash's RANDOM seeded with SEED, scaled by the reference's wall time: the same SEED replays the same
# schedule (the moments the kills land on still depend on machine load).
#
# Usage: bench/fault/crash_trials.sh [TRIALS=20] [BIN_DIR=build/bin] [SEED=1]
# Env: STEPS (updates per run, default 80: crosses an epoch end), EVAL_EVERY (default 5: a checkpoint
#      every 5 updates), KEEP=1 keeps the temporary directory.
# Exit status 0 when every trial ends bit-identical to the reference with no bad checkpoint on the way.
set -u
TRIALS=${1:-20}
BIN=$(cd "${2:-build/bin}" && pwd) || exit 2
SEED=${3:-1}
STEPS=${STEPS:-80}
EVAL_EVERY=${EVAL_EVERY:-5}
cd "$(dirname "$0")/../.." || exit 2
for b in loom-train st_compare; do
  [ -x "$BIN/$b" ] || { echo "crash_trials: $BIN/$b is missing — build first"; exit 2; }
done
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-1000}
TMP=$(mktemp -d)
if [ "${KEEP:-0}" = 1 ]; then echo "crash_trials: keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi
RANDOM=$SEED

ARGS=(configs/fashion-shop-click.ini --set data.max_len=8 --set text.embedding_dim=8 --set text.hidden=8
      --set text.dense=8 --set image.filters=4,8 --set image.dense=16 --set fusion.dense=16
      --set image.batchnorm=true --set fusion.dropout=0.2 --set train.epochs=2
      --set train.max_steps="$STEPS" --set train.eval_every="$EVAL_EVERY" --quiet)

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

t0=$(now_ms)
"$BIN/loom-train" "${ARGS[@]}" --set train.out="$TMP/ref" > "$TMP/ref.txt" 2>&1 || {
  cat "$TMP/ref.txt"; echo "crash_trials: the reference run failed"; exit 1; }
ref_ms=$(( $(now_ms) - t0 ))
echo "crash_trials: reference run ${ref_ms} ms ($STEPS updates, a checkpoint every $EVAL_EVERY); $TRIALS trials, seed $SEED"

survived=0 kills=0 resumes=0 fresh=0 bad_ckpt=0 diverged=0 stale=0 failed_runs=0 mid_write=0
# A kill lands uniformly in [0, the reference's wall time] after the start of a process.
delay() {
  local ms=$(( (RANDOM * 32768 + RANDOM) % (ref_ms + 1) ))
  printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}
# Every checkpoint present must open, validate and hold only finite values. Sets ckpt_step (of
# last.safetensors, "-" when there is none; "w" marks a kill that landed while the killed process $pid
# was writing a file: its NAME.tmp.PID is left).
check_dir() {
  local d=$1 f
  ckpt_step=-
  [ -n "$(find "$d" -name "*.tmp.$pid" 2>/dev/null)" ] && mid_write=$((mid_write + 1)) && ckpt_step="w"
  for f in last.safetensors best.safetensors; do
    [ -e "$d/$f" ] || continue
    if "$BIN/st_compare" check "$d/$f" > "$TMP/check.txt" 2>&1; then
      [ $f = last.safetensors ] && ckpt_step="${ckpt_step%-}$(sed -n 's/^ok: step //p' "$TMP/check.txt")"
    else
      echo "  BAD CHECKPOINT after a kill: $(cat "$TMP/check.txt")"
      cp "$d/$f" "$TMP/bad-$trial-$f"
      bad_ckpt=$((bad_ckpt + 1))
    fi
  done
}
# Starts the run (fresh or --resume) and SIGKILLs it after $2 seconds unless it ends first ("" = let it
# finish). Sets rc (137 when the kill landed).
launch() {
  local d=$1 kill_after=$2 cmd
  if [ -e "$d/last.safetensors" ]; then
    cmd=("$BIN/loom-train" --resume "$d" --quiet)
    resumes=$((resumes + 1))
  else
    cmd=("$BIN/loom-train" "${ARGS[@]}" --set train.out="$d")
    fresh=$((fresh + 1))
  fi
  "${cmd[@]}" >> "$TMP/trial.txt" 2>&1 &
  pid=$!
  if [ -n "$kill_after" ]; then
    sleep "$kill_after"
    kill -KILL "$pid" 2>/dev/null
  fi
  { wait "$pid"; } 2>/dev/null
  rc=$?
  [ $rc -eq 137 ] && kills=$((kills + 1))
}

for trial in $(seq 1 "$TRIALS"); do
  d="$TMP/t$trial"
  : > "$TMP/trial.txt"
  n_kill=$(( 1 + RANDOM % 3 ))
  at=()
  ok=1
  # 1-3 kills that land; a first run that ends before its kill is thrown away and started again
  for _ in $(seq 20); do
    t=$(delay)
    launch "$d" "$t"
    if [ $rc -eq 137 ]; then
      check_dir "$d"
      at+=("${t}s:$ckpt_step")
      [ ${#at[@]} -ge "$n_kill" ] && break
    elif [ $rc -eq 0 ] && [ ${#at[@]} -eq 0 ]; then
      rm -rf "$d"
    else
      break # a resumed run finished (rc 0) or failed (reported below)
    fi
  done
  # then resume (or start) without a kill until the run completes
  for _ in 1 2; do
    [ $rc -eq 0 ] && break
    launch "$d" ""
  done
  if [ $rc -ne 0 ]; then
    echo "  trial $trial: the run does not complete:"; sed 's/^/    /' "$TMP/trial.txt" | tail -5
    failed_runs=$((failed_runs + 1)); ok=0
  fi
  n_tmp=$(find "$d" -name '*.tmp.*' 2>/dev/null | wc -l)
  stale=$((stale + n_tmp))
  if [ $ok = 1 ]; then
    for f in last.safetensors best.safetensors; do
      if ! "$BIN/st_compare" same "$TMP/ref/$f" "$d/$f" > /dev/null 2> "$TMP/same.txt"; then
        echo "  trial $trial: $f DIVERGES from the reference: $(cat "$TMP/same.txt")"
        diverged=$((diverged + 1)); ok=0
        break
      fi
    done
  fi
  [ $ok = 1 ] && survived=$((survived + 1))
  printf 'trial %2d: kills (after:checkpoint step) %-34s %s%s\n' "$trial" "$(IFS=' '; echo "${at[*]}")" \
    "$([ $ok = 1 ] && echo "bit-identical to the reference" || echo FAILED)" \
    "$([ "$n_tmp" -gt 0 ] && echo " ($n_tmp stale temp files)")"
  [ $ok = 1 ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$d"
done
echo "crash_trials: $survived/$TRIALS trials survived: $kills SIGKILLs ($mid_write during a file write)," \
     "$resumes resumes, $fresh fresh starts;" \
     "$bad_ckpt bad checkpoints, $diverged divergent runs, $failed_runs runs that did not complete," \
     "$stale stale temp files"
[ "$survived" -eq "$TRIALS" ] && [ "$bad_ckpt" -eq 0 ]
