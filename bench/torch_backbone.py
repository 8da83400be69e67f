#!/usr/bin/python3
"""torch_backbone.py — torchvision resnet18 forward (eval, no_grad) at 224x224, batch 32, the
bench_backbone.c measurement in PyTorch (oneDNN). With the path of build/bin/bench_backbone it alternates
loom and torch runs `rounds` times and prints both, wall and CPU ms per forward (CPU time is the fairer
number on a shared machine: wall time counts the time other processes held the cores).
Each torch run is a child process whose OMP_NUM_THREADS / MKL_NUM_THREADS / OPENBLAS_NUM_THREADS are the
thread count before torch loads.
Usage: bench/torch_backbone.py [path/to/bench_backbone] [threads=2] [iters=3] [rounds=2]
"""
import os
import subprocess
import sys
import time


def bench(threads, iters):
    import torch
    import torchvision
    torch.set_num_threads(threads)
    m = torchvision.models.resnet18().eval()
    x = torch.rand(32, 3, 224, 224)
    with torch.no_grad():
        m(x)
        ts = []
        c0 = time.process_time()
        for _ in range(iters):
            t0 = time.perf_counter()
            m(x)
            ts.append(1e3 * (time.perf_counter() - t0))
        cpu = 1e3 * (time.process_time() - c0) / iters
    ts.sort()
    print("torch %s resnet18 forward B=32 224x224 threads=%d: %.1f ms (median of %d), cpu %.1f ms"
          % (torch.__version__, threads, ts[len(ts) // 2], iters, cpu), flush=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        bench(int(sys.argv[2]), int(sys.argv[3]))
        return
    loom = sys.argv[1] if len(sys.argv) > 1 else None
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    iters = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[k] = str(threads)
    for _ in range(rounds):
        if loom:
            subprocess.run([loom, str(threads), str(iters)], check=True, env=env)
        subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(threads), str(iters)], check=True,
                       env=env)


if __name__ == "__main__":
    main()
