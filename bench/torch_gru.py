#!/usr/bin/python3
"""torch_gru.py — PyTorch's time for the shapes of bench_gru.c: forward + backward (dx too) of one
torch.nn.GRU layer (B=64, E=128, H=128, T=64 and 256, all states, loss = sum(out * R)) and of a TextCNN
block (B=64, T=64, E=128: nn.Conv2d(1, 64, (k, 128)) for k = 2, 3, 4, ReLU, masked max over time,
concatenated), at 1 and 2 threads. Prints "what T threads wall_ms cpu_ms" lines that bench_gru reads:
    /usr/bin/python3 bench/torch_gru.py > /tmp/torch_gru.txt && build/bin/bench_gru /tmp/torch_gru.txt
Each thread count runs in a child process whose OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS
are set to it before torch loads (torch.set_num_threads alone leaves Debian's OpenBLAS on every core).
"""
import os
import subprocess
import sys
import time

import torch

B, E, H, F = 64, 128, 128, 64


def timed(step, min_seconds=1.5):
    for _ in range(2):
        step()
    times, cpu, start = [], [], time.perf_counter()
    while time.perf_counter() - start < min_seconds or len(times) < 5:
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        cpu.append(time.process_time() - c0)
        times.append(time.perf_counter() - t0)
    times.sort()
    cpu.sort()
    return 1e3 * times[len(times) // 2], 1e3 * cpu[len(cpu) // 2]


def run_gru(T):
    torch.manual_seed(0)
    gru = torch.nn.GRU(E, H, batch_first=True)
    x = (torch.rand(B, T, E) * 2 - 1).requires_grad_(True)
    r = torch.rand(B, T, H) * 2 - 1

    def step():
        gru.zero_grad()
        x.grad = None
        out, _ = gru(x)
        (out * r).sum().backward()
    return timed(step)


def run_textcnn(T):
    torch.manual_seed(0)
    convs = torch.nn.ModuleList([torch.nn.Conv2d(1, F, (k, E)) for k in (2, 3, 4)])
    x = (torch.rand(B, T, E) * 2 - 1).requires_grad_(True)
    lens = torch.tensor([T - (b * 7) % (T // 2) for b in range(B)])
    r = torch.rand(B, 3 * F) * 2 - 1
    masks = [torch.arange(T - k + 1)[None, :] >= torch.clamp(lens - k + 1, min=1)[:, None] for k in (2, 3, 4)]

    def step():
        convs.zero_grad()
        x.grad = None
        outs = []
        for conv, m in zip(convs, masks):
            z = torch.relu(conv(x.unsqueeze(1))).squeeze(3)
            outs.append(z.masked_fill(m[:, None, :], float("-inf")).max(dim=2).values)
        (torch.cat(outs, dim=1) * r).sum().backward()
    return timed(step)


def blas_env(threads):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    return env


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--child":  # one configuration, env already set
        what, T, threads = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        torch.set_num_threads(threads)
        print("%.6f %.6f" % (run_gru(T) if what == "gru" else run_textcnn(T)))
        return
    only = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    for threads in (1, 2):
        if only and threads != only:
            continue
        for what, T in (("gru", 64), ("gru", 256), ("textcnn", 64)):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", what, str(T), str(threads)],
                                 env=blas_env(threads), capture_output=True, text=True, check=True).stdout
            ms, cpu_ms = map(float, out.split())
            print("%s %d %d %.3f %.3f" % (what, T, threads, ms, cpu_ms))
            print("# torch %s %s T=%d threads=%d: %.2f ms/iter wall, %.2f ms CPU" % (
                torch.__version__, what, T, threads, ms, cpu_ms), file=sys.stderr)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
