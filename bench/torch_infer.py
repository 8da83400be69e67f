#!/usr/bin/python3
"""torch_infer.py — PyTorch 1.13 eval-mode scoring throughput of the fashion-shop click model at the
sizes of configs/fashion-shop-click.ini, for bench/bench_infer.c's "score" lines:
  text  Embedding(2000, 32, padding 0) -> LSTM(32) over 16 steps -> mean over valid steps -> Linear(32) + ReLU
  image 1x28x28 -> Conv2d(16, 3, same) + ReLU -> MaxPool2 -> Conv2d(32, 3, same) + ReLU -> MaxPool2 -> Linear(64) + ReLU
  interaction 3 numbers -> Linear(16) + ReLU; user Embedding(500, 16), item Embedding(3000, 16),
              2 category columns Embedding(20, 4)
  concat -> Linear(64) + ReLU -> Dropout(0.1) -> Linear(1) -> sigmoid
Forward only (inputs made once, in memory): torch gets no CSV parsing, joins or image decoding, which
loom's measured path includes. Random weights (speed does not depend on them).
  OMP_NUM_THREADS=T /usr/bin/python3 bench/torch_infer.py [--rows 6000] [--batch 64] [--threads T]
Last line: score_rows_per_s=<x>
"""
import argparse
import time

import torch
import torch.nn as nn


class Click(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(2000, 32, padding_idx=0)
        self.lstm = nn.LSTM(32, 32, batch_first=True)
        self.text_fc = nn.Linear(32, 32)
        self.conv = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.image_fc = nn.Linear(32 * 7 * 7, 64)
        self.num_fc = nn.Linear(3, 16)
        self.user = nn.Embedding(500, 16)
        self.item = nn.Embedding(3000, 16)
        self.cat = nn.Embedding(40, 4)
        self.head = nn.Sequential(nn.Linear(32 + 64 + 16 + 16 + 16 + 8, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 1))

    def forward(self, ids, lengths, image, numeric, user, item, cat):
        h, _ = self.lstm(self.emb(ids))
        mask = (torch.arange(ids.shape[1])[None, :] < lengths[:, None]).float()
        text = torch.relu(self.text_fc((h * mask[:, :, None]).sum(1) / lengths.clamp(min=1)[:, None]))
        img = torch.relu(self.image_fc(self.conv(image)))
        x = torch.cat([text, img, torch.relu(self.num_fc(numeric)), self.user(user), self.item(item),
                       self.cat(cat).flatten(1)], 1)
        return torch.sigmoid(self.head(x)).squeeze(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = Click().eval()
    n = a.rows
    ids = torch.randint(1, 2000, (n, 16))
    lengths = torch.randint(4, 17, (n,))
    image = torch.randn(n, 1, 28, 28)
    numeric = torch.randn(n, 3)
    user, item, cat = torch.randint(0, 500, (n,)), torch.randint(0, 3000, (n,)), torch.randint(0, 40, (n, 2))
    times = []
    with torch.inference_mode():
        for rep in range(a.reps + 1):
            t0 = time.perf_counter()
            for s in range(0, n, a.batch):
                e = min(s + a.batch, n)
                m(ids[s:e], lengths[s:e], image[s:e], numeric[s:e], user[s:e], item[s:e], cat[s:e])
            if rep:
                times.append(time.perf_counter() - t0)
    times.sort()
    t = times[len(times) // 2]
    print(f"torch {torch.__version__}: score {n} rows (batch {a.batch}, forward only), {a.threads} thread(s): "
          f"{t * 1e3:.1f} ms median")
    print(f"score_rows_per_s={n / t:.0f}")


if __name__ == "__main__":
    main()
