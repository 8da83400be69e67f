#!/usr/bin/python3
"""torch_lstm.py — PyTorch's time for the shapes of bench_lstm.c: forward + backward (dx too) of one
torch.nn.LSTM layer, B=64, E=128, H=128, T=64 and 256, at 1 and 2 threads. Prints "T threads wall_ms cpu_ms"
lines that bench_lstm reads to report the speed-up:
    /usr/bin/python3 bench/torch_lstm.py > /tmp/torch_lstm.txt && build/bin/bench_lstm /tmp/torch_lstm.txt
Each thread count runs in a child process whose OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS
are set to it before torch loads: torch.set_num_threads alone leaves Debian's OpenBLAS on every core.
"""
import os
import subprocess
import sys
import time

import torch

B, E, H = 64, 128, 128


def run(T, threads, min_seconds=1.5):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(E, H, batch_first=True)
    x = (torch.rand(B, T, E) * 2 - 1).requires_grad_(True)
    r = torch.rand(B, T, H) * 2 - 1
    for _ in range(2):
        lstm.zero_grad()
        out, _ = lstm(x)
        (out * r).sum().backward()
    times, cpu, start = [], [], time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(times) < 5:
        t0, c0 = time.perf_counter(), time.process_time()
        lstm.zero_grad()
        x.grad = None
        out, _ = lstm(x)
        (out * r).sum().backward()
        cpu.append(time.process_time() - c0)
        times.append(time.perf_counter() - t0)
    times.sort()
    cpu.sort()
    # medians: other processes share this CPU; CPU time counts only what this process ran
    return 1e3 * times[len(times) // 2], 1e3 * cpu[len(cpu) // 2]


def blas_env(threads):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    return env


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--child":  # one configuration, env already set
        print("%.6f %.6f" % run(int(sys.argv[2]), int(sys.argv[3])))
        return
    gflop = lambda T: 3 * 2 * T * B * 4 * H * (E + H) * 1e-9
    for T in (64, 256):
        for threads in (1, 2):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(T), str(threads)],
                                 env=blas_env(threads), capture_output=True, text=True, check=True).stdout
            ms, cpu_ms = map(float, out.split())
            print("%d %d %.3f %.3f" % (T, threads, ms, cpu_ms))
            print("# torch %s T=%d threads=%d: %.2f ms/iter wall (%.1f GFLOP/s), %.2f ms CPU" % (
                torch.__version__, T, threads, ms, gflop(T) / ms * 1e3, cpu_ms), file=sys.stderr)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
