#!/usr/bin/env bash
# Runs every libFuzzer harness for N seconds each, starting from the committed seed corpus
# (tests/fuzz/<target>/corpus, read only) plus a scratch corpus; stops at the first crash, leaving the
# input in <workdir>/<target>/ and naming it. Targets run one after another (or in parallel with -j).
#   scripts/fuzz.sh <bin dir> <seconds> [workdir] [-j]
set -uo pipefail
bin=${1:?bin dir}; secs=${2:?seconds}; work=${3:-${TMPDIR:-/tmp}/loom-fuzz}; par=${4:-}
src=$(cd "$(dirname "$0")/.." && pwd)
targets=(csv image checkpoint config tokenizer)
run() {
  local t=$1 dir="$work/$1"
  mkdir -p "$dir/corpus"
  # -max_len 8192: past the CSV field cap (4096); -timeout: a single input taking 10 s is a hang
  "$bin/fuzz_$t" "$dir/corpus" "$src/tests/fuzz/$t/corpus" -max_total_time="$secs" -max_len=8192 \
    -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$dir/" >"$dir/log" 2>&1
  local rc=$?
  local stats; stats=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$dir/log" | tail -1)
  if [[ $rc -ne 0 ]]; then
    echo "fuzz_$t: FAILED (exit $rc) — see $dir/log; crashing input: $(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* 2>/dev/null | head -1)"
    grep -m1 -E 'ERROR|runtime error|SUMMARY' "$dir/log"
    return 1
  fi
  echo "fuzz_$t: ok, $secs s — $stats"
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
