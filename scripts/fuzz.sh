#!/usr/bin/env bash
# Runs every libFuzzer harness for N seconds each, starting from the committed seed corpus
# (tests/fuzz/<target>/corpus, read only) plus a scratch corpus; stops at the first crash, leaving the
# input in <workdir>/<target>/ and naming it. Targets run one after another (or in parallel with -j).
#   scripts/fuzz.sh <bin dir> <seconds> [workdir] [-j]
set -uo pipefail
bin=${1:?bin dir}; secs=${2:?seconds}; work=${3:-${TMPDIR:-/tmp}/loom-fuzz}; par=${4:-}
src=$(cd "$(dirname "$0")/.." && pwd)
targets=(csv image checkpoint config tokenizer wordvec video serve_request)
# FUZZ_RUNS=N (with FUZZ_SEED, default 1) runs a fixed number of inputs from a fixed seed instead of
# for <seconds> (what `make test` uses: a bounded cost on any machine). libFuzzer still explores a little
# differently from run to run, so a failure here is a real bug to fix, with its input kept in <workdir>.
if [[ -n "${FUZZ_RUNS:-}" ]]; then budget=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}"); what="$FUZZ_RUNS runs, seed ${FUZZ_SEED:-1}"
  export LOOM_NUM_THREADS=1 OMP_NUM_THREADS=1  # fewer sources of variation between campaigns
else budget=(-max_total_time="$secs"); what="$secs s"; fi
run() {
  local t=$1 dir="$work/$1"
  mkdir -p "$dir/corpus"
  # -max_len 8192: past the CSV field cap (4096); -timeout: a single input taking 10 s is a hang
  "$bin/fuzz_$t" "$dir/corpus" "$src/tests/fuzz/$t/corpus" "${budget[@]}" -max_len=8192 \
    -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$dir/" >"$dir/log" 2>&1
  local rc=$?
  local stats; stats=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$dir/log" | tail -1)
  if [[ $rc -ne 0 ]]; then
    echo "fuzz_$t: FAILED (exit $rc) — see $dir/log; crashing input: $(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* 2>/dev/null | head -1)"
    grep -m1 -E 'ERROR|runtime error|SUMMARY' "$dir/log"
    return 1
  fi
  echo "fuzz_$t: ok, $what — $stats"
}
failed=0
if [[ "$par" == "-j" ]]; then
  pids=()
  for t in "${targets[@]}"; do run "$t" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
else
  for t in "${targets[@]}"; do run "$t" || failed=$((failed + 1)); done
fi
echo "fuzz: $(( ${#targets[@]} - failed )) passed, $failed failed"
[[ $failed -eq 0 ]]
