#!/usr/bin/python3
"""torch_conv.py — the bench_conv.c CNN stack in PyTorch (oneDNN on CPU): 3x32x32 -> Conv2d(32, 3x3)
+ReLU -> MaxPool2 -> Conv2d(64) -> MaxPool2 -> Conv2d(128) -> MaxPool2, batch 64, forward + backward,
for 1 and 2 threads. With the path of build/bin/bench_conv it runs that too and prints loom / torch.
Usage: bench/torch_conv.py [path/to/bench_conv] [iters]
On a shared machine run both with OMP_WAIT_POLICY=passive and compare CPU time as well as wall time
(spinning threads waiting on a descheduled partner burn CPU that is not work).
Each torch thread count runs in a child process whose OMP_NUM_THREADS / OPENBLAS_NUM_THREADS /
MKL_NUM_THREADS are set to it before torch loads (torch.set_num_threads alone leaves its BLAS on all cores).
"""
import os
import re
import subprocess
import sys
import time

import torch
import torch.nn as nn


def bench(threads, iters):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(64, 128, 3), nn.ReLU(), nn.MaxPool2d(2))
    x = torch.rand(64, 3, 32, 32)
    R = torch.rand(64, 128, 2, 2) - 0.5
    for _ in range(3):
        net.zero_grad()
        (net(x) * R).sum().backward()
    tf = tb = 0.0
    c0 = time.process_time()
    for _ in range(iters):
        t0 = time.perf_counter()
        net.zero_grad()
        loss = (net(x) * R).sum()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        tf += t1 - t0
        tb += t2 - t1
    cpu = 1e3 * (time.process_time() - c0) / iters
    return 1e3 * (tf + tb) / iters, 1e3 * tf / iters, 1e3 * tb / iters, cpu


def blas_env(threads):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    return env


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--child":  # one thread count, env already set
        print(" ".join("%.6f" % v for v in bench(int(sys.argv[2]), int(sys.argv[3]))))
        return
    iters = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    loom = {}
    if len(sys.argv) > 1 and sys.argv[1]:
        out = subprocess.run([sys.argv[1], str(iters), "1", "2"], capture_output=True, text=True, check=True).stdout
        print(out, end="")
        for m in re.finditer(r"threads (\d+): ([\d.]+) ms/iter.*CPU ([\d.]+) ms/iter", out):
            loom[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
    print(f"torch {torch.__version__}, mkldnn {torch.backends.mkldnn.is_available()}")
    for t in (1, 2):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(t), str(iters)],
                             env=blas_env(t), capture_output=True, text=True, check=True).stdout
        ms, f, b, cpu = map(float, out.split())
        line = f"torch threads {t}: {ms:.2f} ms/iter (forward {f:.2f}, backward {b:.2f}); CPU {cpu:.2f} ms/iter"
        if t in loom:
            line += f"\n  loom/torch: wall time ratio {loom[t][0] / ms:.2f}, CPU time ratio {loom[t][1] / cpu:.2f}"
        print(line)


if __name__ == "__main__":
    main()
