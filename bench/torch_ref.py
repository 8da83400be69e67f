#!/usr/bin/python3
"""torch_ref.py — bench/loom-bench.c's reference joint model in PyTorch (Debian's 1.13), same flags, same
shapes and FLOPs, same last line, so scripts/bench.sh can compare the two like for like:
  text Embedding(5000, 128, padding 0) -> LSTM(128) over L steps -> last state -> Linear(64) + ReLU
  image 3x32x32 -> 3 x (Conv2d 3x3 valid + ReLU -> MaxPool2), 32/64/128 channels -> Flatten -> Linear(128) + ReLU
  interaction 3 numbers -> Linear(64) + ReLU -> Linear(32) + ReLU
  concat -> Linear(128) + ReLU -> Linear(1); BCEWithLogitsLoss; Adam(1e-3)
Every sequence fills all L steps (as in loom-bench), so no packing is needed and the work is identical.
Training step = zero_grad + forward + backward + Adam step; inference = eval() forward under
torch.inference_mode(). Set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS to --threads in the
environment too (scripts/bench.sh does): torch.set_num_threads alone leaves Debian's BLAS on all cores.
  /usr/bin/python3 bench/torch_ref.py [--batch B] [--seq L] [--threads T] [--steps N] [--warmup W]
Last line: train_samples_per_s=<x> infer_samples_per_s=<y> peak_rss_mb=<z>
"""
import argparse
import os
import resource
import time

import torch
import torch.nn as nn


class Joint(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5000, 128, padding_idx=0)
        self.lstm = nn.LSTM(128, 128, batch_first=True)
        self.text_fc = nn.Linear(128, 64)
        self.convs = nn.Sequential(
            nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.image_fc = nn.Linear(128 * 2 * 2, 128)
        self.inter = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(64 + 128 + 32, 128), nn.ReLU(), nn.Linear(128, 1))

    def forward(self, ids, image, numeric):
        _, (h, _) = self.lstm(self.emb(ids))
        text = torch.relu(self.text_fc(h[-1]))
        img = torch.relu(self.image_fc(self.convs(image)))
        return self.head(torch.cat([text, img, self.inter(numeric)], dim=1))


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    B, L = a.batch, a.seq
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    env = {k: os.environ.get(k, "(unset)") for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                                    "OPENBLAS_CORETYPE")}
    print("# torch %s, threads %d, mkldnn %s, %s" % (torch.__version__, torch.get_num_threads(),
                                                    torch.backends.mkldnn.is_available(),
                                                    " ".join("%s=%s" % kv for kv in env.items())))
    model = Joint()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = nn.BCEWithLogitsLoss()
    ids = torch.randint(1, 5000, (B, L))
    image = torch.rand(B, 3, 32, 32)
    numeric = torch.rand(B, 3) * 2 - 1
    target = torch.randint(0, 2, (B, 1)).float()

    model.train()
    tt, tc = [], []
    for s in range(-a.warmup, a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        loss = lossf(model(ids, image, numeric), target)
        loss.backward()
        opt.step()
        if s >= 0:
            tt.append(time.perf_counter() - t0)
            tc.append(time.process_time() - c0)

    model.eval()
    ti, ic = [], []
    with torch.inference_mode():
        for s in range(-a.warmup, a.steps):
            t0, c0 = time.perf_counter(), time.process_time()
            model(ids, image, numeric)
            if s >= 0:
                ti.append(time.perf_counter() - t0)
                ic.append(time.process_time() - c0)

    train_s, infer_s = median(tt), median(ti)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("# train: %.2f ms/step (CPU %.2f ms); infer: %.2f ms/step (CPU %.2f ms); final loss %.4f" % (
        1e3 * train_s, 1e3 * median(tc), 1e3 * infer_s, 1e3 * median(ic), loss.item()))
    print("# machine-readable: train_cpu_ms=%.3f infer_cpu_ms=%.3f" % (1e3 * median(tc), 1e3 * median(ic)))
    print("train_samples_per_s=%.1f infer_samples_per_s=%.1f peak_rss_mb=%.1f" % (B / train_s, B / infer_s, rss_mb))


if __name__ == "__main__":
    main()
