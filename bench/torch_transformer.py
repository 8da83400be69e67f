#!/usr/bin/python3
"""torch_transformer.py — PyTorch's time for the shapes of bench_transformer.c: forward + backward (dx too)
of one nn.TransformerEncoderLayer(64, 4, 256, dropout=0, batch_first=True, norm_first=True) over B=64, T=64
with a key padding mask (lengths T - (7b mod T/2)), loss = sum(out * R), at 1 and 2 threads. Prints
"transformer T threads wall_ms cpu_ms" lines that bench_transformer reads:
    /usr/bin/python3 bench/torch_transformer.py > /tmp/torch_xf.txt && build/bin/bench_transformer /tmp/torch_xf.txt
Each thread count runs in a child process with OMP/OPENBLAS/MKL_NUM_THREADS set before torch loads.
"""
import os
import subprocess
import sys
import time

import torch

B, T, D, HEADS, FF = 64, 64, 64, 4, 256


def run():
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, batch_first=True, norm_first=True)
    x = (torch.rand(B, T, D) * 2 - 1).requires_grad_(True)
    r = torch.rand(B, T, D) * 2 - 1
    lens = torch.tensor([T - (b * 7) % (T // 2) for b in range(B)])
    pad = torch.arange(T)[None, :] >= lens[:, None]

    def step():
        layer.zero_grad()
        x.grad = None
        (layer(x, src_key_padding_mask=pad) * r).sum().backward()
    for _ in range(2):
        step()
    times, cpu, start = [], [], time.perf_counter()
    while time.perf_counter() - start < 1.5 or len(times) < 5:
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        cpu.append(time.process_time() - c0)
        times.append(time.perf_counter() - t0)
    times.sort()
    cpu.sort()
    return 1e3 * times[len(times) // 2], 1e3 * cpu[len(cpu) // 2]


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        torch.set_num_threads(int(sys.argv[2]))
        print("%.6f %.6f" % run())
        return
    for threads in (1, 2):
        env = dict(os.environ)
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(threads)
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(threads)], env=env,
                             capture_output=True, text=True, check=True).stdout
        ms, cpu_ms = map(float, out.split())
        print("transformer %d %d %.3f %.3f" % (T, threads, ms, cpu_ms))
        print("# torch %s transformer T=%d threads=%d: %.2f ms/iter wall, %.2f ms CPU" % (
            torch.__version__, T, threads, ms, cpu_ms), file=sys.stderr)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
