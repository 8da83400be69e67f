#!/usr/bin/python3
"""check_model.py — loads a loom-train checkpoint into the equivalent PyTorch model and checks that
PyTorch's outputs equal loom's on the same inputs.

test_trainer (test_binary_click_model_learns) trains the joint click model on the committed sample and
writes, into its working directory (a temporary one, removed at exit, unless the test runs with
LOOM_TEST_OUT=DIR: then into DIR, kept — e.g. `mkdir -p /tmp/parity && LOOM_TEST_OUT=/tmp/parity build/bin/test_trainer`):
  loom_model.safetensors     the best checkpoint (PyTorch tensor names, config in the metadata)
  loom_model_io.safetensors  one validation batch: the graph's inputs and loom's logits
This script rebuilds the model from the config in the checkpoint's metadata with torch.nn modules named
as loom names its tensors (text.embedding, text.lstm, image.conv0, interaction.user_embedding,
fusion.gate, head, ...), loads the weights with load_state_dict(strict=True) and compares the logits.

test_model (test_dump_for_pytorch) writes loom_model_gated*.safetensors the same way for a model with a
2-layer BiLSTM with max pooling, batch norm and gated fusion (a few SGD steps from initialisation), and
loom_model_rows*.safetensors for the rows image encoder (image.encoder = rows: an LSTM over the image
rows, x.permute(0, 2, 1, 3).reshape(B, H, C*W), with mean or max pooling).

Usage: /usr/bin/python3 tests/reference/check_model.py [DIR (default build/tests)]
           [loom_model | loom_model_gated | loom_model_rows | loom_model_rows_max]
       /usr/bin/python3 tests/reference/check_model.py CKPT.safetensors   (any loom-train checkpoint, e.g.
           runs/fashion-shop-click/best.safetensors: rebuilt by loom.torch.load (python/loom, the supported
           tool: docs/python.md), compared on a validation batch of its own data that libloom computes —
           LOOM_LIBRARY or build/lib/libloom.so.0)
"""
import configparser
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_safetensors import read  # noqa: E402  (an independent safetensors reader)

ACT = {"relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "gelu": F.gelu, "none": lambda x: x}


def ints(s):
    return [int(v) for v in s.replace(" ", "").split(",") if v]


class Dense(nn.Module):
    """The dense stack <prefix>.dense0, dense1, ... (Linear + activation; dropout is off in eval)."""

    def __init__(self, parent, prefix, d, units, act):
        super().__init__()
        self.layers = []
        for i, u in enumerate(units):
            lin = nn.Linear(d, u)
            setattr(parent, f"dense{i}", lin)
            self.layers.append(lin)
            d = u
        self.act, self.dim = ACT[act], d

    def __call__(self, x):
        for lin in self.layers:
            x = self.act(lin(x))
        return x


def same_pad(x, k, s):
    """TF/Keras 'same': out = ceil(in / s), the odd padding at the bottom/right."""
    H, W = x.shape[2], x.shape[3]
    ph = max((-(-H // s) - 1) * s + k - H, 0)
    pw = max((-(-W // s) - 1) * s + k - W, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class Model(nn.Module):
    def __init__(self, cfg, sizes):
        super().__init__()
        self.cfg, self.towers, dims = cfg, [], []
        b = lambda sec, key: cfg[sec][key].strip().lower() in ("true", "yes", "on", "1")
        if b("text", "enabled"):
            t = cfg["text"]
            self.text = nn.Module()
            E, H, L = int(t["embedding_dim"]), int(t["hidden"]), int(t["layers"])
            self.text.embedding = nn.Embedding(sizes["text.embedding.weight"][0], E, padding_idx=0)
            self.text.lstm = nn.LSTM(E, H, L, batch_first=True, bidirectional=b("text", "bidirectional"))
            D = H * (2 if b("text", "bidirectional") else 1)
            self.text_dense = Dense(self.text, "text", D, ints(t["dense"]), t["activation"])
            self.towers.append("text")
            dims.append(self.text_dense.dim)
        self.rows = b("image", "enabled") and cfg["image"].get("encoder", "conv").strip() == "rows"
        if self.rows:
            im = cfg["image"]
            self.image = nn.Module()
            C, H, W = sizes["image"][1:]
            Hd, bi = int(im["lstm_hidden"]), b("image", "lstm_bidirectional")
            self.image.lstm = nn.LSTM(C * W, Hd, int(im["lstm_layers"]), batch_first=True, bidirectional=bi)
            self.image_dense = Dense(self.image, "image", Hd * (2 if bi else 1), ints(im["dense"]), im["activation"])
            self.towers.append("image")
            dims.append(self.image_dense.dim)
        elif b("image", "enabled"):
            im = cfg["image"]
            self.image = nn.Module()
            f, k, s, p = ints(im["filters"]), ints(im["kernel"]), ints(im["stride"]), ints(im["pool"])
            at = lambda v, i: v[0] if len(v) == 1 else v[i]
            C, H, W = sizes["image"][1:]
            self.blocks = []
            for i, fi in enumerate(f):
                ki, si, pi = at(k, i), at(s, i), at(p, i)
                conv = nn.Conv2d(C, fi, ki, si)
                setattr(self.image, f"conv{i}", conv)
                bn = None
                if b("image", "batchnorm"):
                    bn = nn.BatchNorm2d(fi)
                    setattr(self.image, f"bn{i}", bn)
                self.blocks.append((conv, bn, ki, si, pi))
                C = fi
                same = im["padding"].strip() == "same"
                H = -(-H // si) if same else (H - ki) // si + 1
                W = -(-W // si) if same else (W - ki) // si + 1
                if pi > 1:
                    H, W = H // pi, W // pi
            self.image_dense = Dense(self.image, "image", C * H * W, ints(im["dense"]), im["activation"])
            self.towers.append("image")
            dims.append(self.image_dense.dim)
        if b("interaction", "enabled"):
            it = cfg["interaction"]
            self.interaction = nn.Module()
            d = 0
            self.inter_dense = None
            if "numeric" in sizes:
                self.inter_dense = Dense(self.interaction, "interaction", sizes["numeric"][1], ints(it["dense"]),
                                         it["activation"])
                d += self.inter_dense.dim
            for name in ("user", "item", "category"):
                key = f"interaction.{name}_embedding.weight"
                if key in sizes:
                    V, Dm = sizes[key]
                    setattr(self.interaction, f"{name}_embedding", nn.Embedding(V, Dm))
                    d += Dm * (sizes["category"][1] if name == "category" else 1)
            self.towers.append("interaction")
            dims.append(d)
        fu = cfg["fusion"]
        self.mode, n = fu["mode"].strip(), len(self.towers)
        self.fusion = nn.Module()
        if n == 1 or self.mode == "concat":
            d = sum(dims)
        else:
            D = int(fu["dim"])
            for name, di in zip(self.towers, dims):
                setattr(self.fusion, f"proj_{name}", nn.Linear(di, D))
            if self.mode == "weighted":
                self.fusion.weight = nn.Parameter(torch.full((n,), 1.0 / n))
            if self.mode == "gated":
                self.fusion.gate = nn.Linear(n * D, n * D)
            d = D
        self.fusion_dense = Dense(self.fusion, "fusion", d, ints(fu["dense"]), fu["activation"])
        self.head = nn.Linear(self.fusion_dense.dim, sizes["head.weight"][0])

    def forward(self, x):
        outs = []
        if "text" in self.towers:
            tok, lengths = x["tokens"].long(), x["tokens_len"].long()
            e = self.text.embedding(tok)
            packed = nn.utils.rnn.pack_padded_sequence(e, lengths.clamp(min=1).cpu(), batch_first=True,
                                                       enforce_sorted=False)
            out, (h, _) = self.text.lstm(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=tok.shape[1])
            pooling = self.cfg["text"]["pooling"].strip()
            if pooling == "last":
                nd = 2 if self.text.lstm.bidirectional else 1
                v = torch.cat([h[-nd + i] for i in range(nd)], dim=1)
            elif pooling == "mean":
                v = out.sum(1) / lengths.clamp(min=1).unsqueeze(1).float()
            else:
                mask = torch.arange(tok.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
                v = out.masked_fill(~mask.unsqueeze(2), -1e30).max(1).values
            outs.append(self.text_dense(v))
        if "image" in self.towers and self.rows:
            y = x["image"]
            B, C, H, W = y.shape
            out, (h, _) = self.image.lstm(y.permute(0, 2, 1, 3).reshape(B, H, C * W))
            pooling = self.cfg["image"]["lstm_pooling"].strip()
            if pooling == "last":
                nd = 2 if self.image.lstm.bidirectional else 1
                v = torch.cat([h[-nd + i] for i in range(nd)], dim=1)
            else:
                v = out.mean(1) if pooling == "mean" else out.max(1).values
            outs.append(self.image_dense(v))
        elif "image" in self.towers:
            y = x["image"]
            act = ACT[self.cfg["image"]["activation"].strip()]
            same = self.cfg["image"]["padding"].strip() == "same"
            pool_avg = self.cfg["image"]["pool_type"].strip() == "avg"
            for conv, bn, k, s, p in self.blocks:
                y = conv(same_pad(y, k, s) if same else y)
                y = act(bn(y) if bn is not None else y)
                if p > 1:
                    y = F.avg_pool2d(y, p) if pool_avg else F.max_pool2d(y, p)
            outs.append(self.image_dense(y.flatten(1)))
        if "interaction" in self.towers:
            parts = []
            if self.inter_dense is not None:
                parts.append(self.inter_dense(x["numeric"]))
            for name in ("user", "item", "category"):
                emb = getattr(self.interaction, f"{name}_embedding", None)
                if emb is not None:
                    parts.append(emb(x[name].long()).flatten(1))
            outs.append(torch.cat(parts, 1))
        if len(outs) == 1 or self.mode == "concat":
            y = torch.cat(outs, 1)
        else:
            p = [getattr(self.fusion, f"proj_{n}")(o) for n, o in zip(self.towers, outs)]
            if self.mode in ("sum", "mean"):
                y = sum(p) / (len(p) if self.mode == "mean" else 1)
            elif self.mode == "product":
                y = p[0]
                for q in p[1:]:
                    y = y * q
            elif self.mode == "weighted":
                y = sum(self.fusion.weight[i] * q for i, q in enumerate(p))
            else:
                g = torch.sigmoid(self.fusion.gate(torch.cat(p, 1)))
                D = p[0].shape[1]
                y = sum(g[:, i * D:(i + 1) * D] * q for i, q in enumerate(p))
        z = self.head(self.fusion_dense(y))
        return z.reshape(-1) if z.shape[1] == 1 else z


def check_checkpoint(path):
    """Any checkpoint: loom.torch.load vs loom's own outputs on a batch of the run's validation split."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    sys.path.insert(0, os.path.join(root, "python"))
    if "LOOM_LIBRARY" not in os.environ and os.path.exists(os.path.join(root, "build/lib/libloom.so.0")):
        os.environ["LOOM_LIBRARY"] = os.path.join(root, "build/lib/libloom.so.0")
    import tempfile
    import loom
    import loom.torch
    with tempfile.TemporaryDirectory() as tmp:
        _, io = loom.export_batch(path, os.path.join(tmp, "io.safetensors"))
    model, _ = loom.torch.load(path)
    x = {k: torch.from_numpy(v) for k, v in io.items()}
    with torch.no_grad():
        if isinstance(model, loom.torch.RankingModel):
            u, v = model(x)
            got = {"user_vec": u, "item_vec": v, "logits": model.scores(x)}
        else:
            got = {"logits": model(x)}
    err = max(float((got[k] - x[k]).abs().max()) for k in got)
    print(f"{path}: {len(model.state_dict())} tensors loaded strictly; batch {x['logits'].shape[0]}: "
          f"max |torch - loom| = {err:.3g}")
    assert err <= 1e-5, "PyTorch and loom disagree"
    print("check_model: PyTorch's outputs equal loom's")


def main():
    if len(sys.argv) > 1 and os.path.isfile(sys.argv[1]):
        return check_checkpoint(sys.argv[1])
    d = sys.argv[1] if len(sys.argv) > 1 else "build/tests"
    name = sys.argv[2] if len(sys.argv) > 2 else "loom_model"
    meta, weights = read(os.path.join(d, name + ".safetensors"))
    _, io = read(os.path.join(d, name + "_io.safetensors"))
    cfg = configparser.ConfigParser(inline_comment_prefixes=(";", "#"))
    cfg.read_string(meta["loom.config"])
    sizes = {k: v.shape for k, v in weights.items()}
    sizes.update({k: v.shape for k, v in io.items()})
    torch.manual_seed(0)
    model = Model(cfg, sizes).eval()
    state = {k: torch.from_numpy(v.copy()) for k, v in weights.items() if not k.startswith("_train.")}
    for k in state:
        if k.endswith("num_batches_tracked"):
            state[k] = state[k].long().reshape(())
    model.load_state_dict(state, strict=True)
    x = {k: torch.from_numpy(v.copy()) for k, v in io.items()}
    with torch.no_grad():
        z = model(x)
    want = x["logits"]
    err = (z - want).abs().max().item()
    print(f"{len(state)} tensors loaded strictly; towers {model.towers}, fusion {model.mode}; "
          f"batch {want.shape[0]}: max |torch - loom| = {err:.3g}")
    assert torch.allclose(z, want, atol=1e-4, rtol=1e-4), "PyTorch and loom disagree"
    print("check_model: PyTorch's outputs equal loom's")


if __name__ == "__main__":
    main()
