#!/usr/bin/env bash
# bench.sh — loom against PyTorch on the reference joint model (bench/loom-bench.c, bench/torch_ref.py),
# run alternately (loom, torch, loom, torch, ...) for every batch / sequence length / thread count, and one
# table of medians: loom/PyTorch ratios for training, inference and peak RSS (with the min–max of the
# per-round ratios as the spread), loom's GFLOP/s and its share of the measured FMA peak, the 1→2
# thread speed-ups, and the same ratios from process CPU time (on a loaded machine the steadier
# measure of what each would take alone; with OMP_WAIT_POLICY=passive, so spinning is not counted). Both processes get the same environment; OMP/OpenBLAS/MKL thread counts are set so
# "T threads" means T threads for torch's BLAS too.
#   scripts/bench.sh [build/bin]          (make bench)
#   BENCH_QUICK=1        one round, fewer steps (about a minute)
#   BENCH_ROUNDS=R BENCH_STEPS=N BENCH_WARMUP=W BENCH_BATCHES="32 64" BENCH_SEQS="64" BENCH_THREADS="1 2"
#   BENCH_LOG=file       keep every raw output line
# OPENBLAS_CORETYPE is passed through unchanged (unset: OpenBLAS picks its kernels for this CPU).
set -euo pipefail

BIN=${1:-build/bin}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${BENCH_PYTHON:-/usr/bin/python3}
LOOM="$BIN/loom-bench"
TORCH="$ROOT/bench/torch_ref.py"
[ -x "$LOOM" ] || { echo "bench.sh: $LOOM not found: build first (make build)" >&2; exit 1; }

if [ -n "${BENCH_QUICK:-}" ]; then rounds=1 steps=5 warmup=1; else rounds=3 steps=10 warmup=3; fi
rounds=${BENCH_ROUNDS:-$rounds}
steps=${BENCH_STEPS:-$steps}
warmup=${BENCH_WARMUP:-$warmup}
batches=${BENCH_BATCHES:-"32 64 128"}
seqs=${BENCH_SEQS:-"64 256"}
threads=${BENCH_THREADS:-"1 2"}

have_torch=1
if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "bench.sh: $PY has no torch (Debian: apt-get install python3-torch): loom only" >&2
  have_torch=0
fi

raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-(unset)} OMP_WAIT_POLICY=${OMP_WAIT_POLICY-(unset)}, rounds $rounds, steps $steps (+$warmup warm-up), load: $(cut -d' ' -f1-3 /proc/loadavg)"

# one run: tool, B, L, T, round -> "tool B L T round key=value ..." lines in $raw
run_one() {
  local tool=$1 B=$2 L=$3 T=$4 r=$5 out
  local args=(--batch "$B" --seq "$L" --threads "$T" --steps "$steps" --warmup "$warmup")
  if [ "$tool" = loom ]; then
    out=$(env OMP_NUM_THREADS="$T" OPENBLAS_NUM_THREADS="$T" MKL_NUM_THREADS="$T" LOOM_NUM_THREADS="$T" "$LOOM" "${args[@]}")
  else
    out=$(env OMP_NUM_THREADS="$T" OPENBLAS_NUM_THREADS="$T" MKL_NUM_THREADS="$T" LOOM_NUM_THREADS="$T" "$PY" "$TORCH" "${args[@]}")
  fi
  [ -n "${BENCH_LOG:-}" ] && printf '%s\n' "== $tool B=$B L=$L T=$T round $r" "$out" >>"$BENCH_LOG"
  local last extra=""
  last=$(printf '%s\n' "$out" | tail -n1)
  extra=$(printf '%s\n' "$out" | sed -n 's/^# machine-readable: //p')
  echo "$tool $B $L $T $r $last $extra" >>"$raw"
}

for r in $(seq 1 "$rounds"); do
  for B in $batches; do
    for L in $seqs; do
      for T in $threads; do
        # alternate which goes first, so neither always runs right after the other's cache/thread warm-up
        if [ $(((r + B / 32 + L / 64 + T) % 2)) -eq 0 ] || [ $have_torch = 0 ]; then
          run_one loom "$B" "$L" "$T" "$r"
          [ $have_torch = 1 ] && run_one torch "$B" "$L" "$T" "$r"
        else
          run_one torch "$B" "$L" "$T" "$r"
          run_one loom "$B" "$L" "$T" "$r"
        fi
      done
    done
  done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"

awk -v have_torch=$have_torch '
function med(s,   n, a, i, j, t) {  # median of a space-separated list
  n = split(s, a, " ")
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function lo(s,   n, a, i, m) { n = split(s, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] < m) m = a[i]; return m }
function hi(s,   n, a, i, m) { n = split(s, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] > m) m = a[i]; return m }
function val(kv,   p) { p = index(kv, "="); return substr(kv, p + 1) + 0 }
{
  tool = $1; k = $2 " " $3 " " $4; r = $5
  if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
  for (i = 6; i <= NF; i++) { split($i, kv, "="); v[tool, k, r, kv[1]] = val($i) }
  rounds[k, r] = 1; if (r > maxr) maxr = r
  if (tool == "loom") { p = v[tool, k, r, "fma_peak_gflops"]; if (p > peak[$4]) peak[$4] = p }
}
END {
  split("train_samples_per_s infer_samples_per_s peak_rss_mb", m, " ")
  printf "\n%4s %4s %3s | %9s %9s %-17s | %9s %9s %-17s | %6s %6s %-5s | %7s %6s\n", "B", "L", "thr",
         "loom tr/s", "torch", "ratio (spread)", "loom in/s", "torch", "ratio (spread)", "RSS MB", "torch", "ratio",
         "GFLOP/s", "%peak"
  for (n = 1; n <= nk; n++) {
    k = keys[n]; split(k, f, " ")
    line = sprintf("%4d %4d %3d |", f[1], f[2], f[3])
    for (j = 1; j <= 3; j++) {
      ls = ts = rs = ""
      for (r = 1; r <= maxr; r++) {
        if (!((k, r) in rounds)) continue
        a = v["loom", k, r, m[j]]; b = v["torch", k, r, m[j]]
        ls = ls " " a; if (b > 0) { ts = ts " " b; rs = rs " " a / b }
      }
      lm = med(ls); med_[k, j] = lm
      if (have_torch && rs != "") {
        if (j < 3) line = line sprintf(" %9.1f %9.1f %5.2fx (%.2f-%.2f) |", lm, med(ts), med(rs), lo(rs), hi(rs))
        else line = line sprintf(" %6.0f %6.0f %5.2f |", lm, med(ts), med(rs))
      } else if (j < 3) line = line sprintf(" %9.1f %9s %-17s |", lm, "-", "")
      else line = line sprintf(" %6.0f %6s %5s |", lm, "-", "")
    }
    gs = ""
    for (r = 1; r <= maxr; r++) if ((k, r) in rounds) gs = gs " " v["loom", k, r, "train_gflops"]
    g = med(gs)
    line = line sprintf(" %7.1f %5.1f%%", g, peak[f[3]] > 0 ? 100 * g / peak[f[3]] : 0)
    print line
    if (have_torch) { torch_tr[k] = med(ts) }
  }
  printf "\nCPU time per step (process, all threads; median ms) and loom speed-up by CPU time (torch / loom):\n"
  printf "%4s %4s %3s | %9s %9s %-17s | %9s %9s %-17s | %s\n", "B", "L", "thr", "loom tr", "torch", "speed-up (spread)",
         "loom in", "torch", "speed-up (spread)", "loom train GFLOP per CPU-s, % of 1-thread peak"
  for (n = 1; n <= nk; n++) {
    k = keys[n]; split(k, f, " ")
    line = sprintf("%4d %4d %3d |", f[1], f[2], f[3])
    for (j = 1; j <= 2; j++) {
      key = j == 1 ? "train_cpu_ms" : "infer_cpu_ms"
      ls = ts = rs = ""
      for (r = 1; r <= maxr; r++) {
        if (!((k, r) in rounds)) continue
        a = v["loom", k, r, key]; b = v["torch", k, r, key]
        ls = ls " " a; if (b > 0 && a > 0) { ts = ts " " b; rs = rs " " b / a }
      }
      if (have_torch && rs != "") line = line sprintf(" %9.1f %9.1f %5.2fx (%.2f-%.2f) |", med(ls), med(ts), med(rs), lo(rs), hi(rs))
      else line = line sprintf(" %9.1f %9s %-17s |", med(ls), "-", "")
      if (j == 1) cpu_tr = med(ls)
    }
    fl = v["loom", k, 1, "train_flops"]
    if (cpu_tr > 0) line = line sprintf(" %6.1f %6s", fl / cpu_tr * 1e-6, peak[1] > 0 ? sprintf("%.1f%%", 100 * fl / cpu_tr * 1e-6 / peak[1]) : "-")
    print line
  }
  printf "\nFMA peak measured (best over all runs): "
  for (t in peak) printf "%d thread(s) %.1f GFLOP/s  ", t, peak[t]
  printf "\n%%peak = loom training GFLOP/s (GEMM FLOPs counted analytically, see loom-bench) / that peak.\n"
  printf "\n1->2 thread speed-up of training (median samples/s):\n%4s %4s %8s %8s\n", "B", "L", "loom", "torch"
  for (n = 1; n <= nk; n++) {
    k = keys[n]; split(k, f, " ")
    if (f[3] != 1) continue
    k2 = f[1] " " f[2] " 2"
    if (!(k2 in seen)) continue
    tl = ""; tt = ""; tl2 = ""; tt2 = ""
    for (r = 1; r <= maxr; r++) {
      tl = tl " " v["loom", k, r, "train_samples_per_s"]; tl2 = tl2 " " v["loom", k2, r, "train_samples_per_s"]
      if (have_torch) { tt = tt " " v["torch", k, r, "train_samples_per_s"]; tt2 = tt2 " " v["torch", k2, r, "train_samples_per_s"] }
    }
    printf "%4d %4d %7.2fx %7sx\n", f[1], f[2], med(tl2) / med(tl), have_torch ? sprintf("%.2f", med(tt2) / med(tt)) : "-"
  }
}' "$raw"
