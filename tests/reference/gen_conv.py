#!/usr/bin/python3
"""gen_conv.py — PyTorch (1.13) reference values for loom's Conv2D, pooling, BatchNorm and LayerNorm.

Writes conv.fix (conv{k}.*, pool{k}.*) and norm.fix (bn{k}.*, ln{k}.*) next to this script, read by
tests/test_conv.c and tests/test_norm.c. Each case stores inputs, parameters, the output y, a random
upstream gradient dy and the gradients of sum(y * dy), plus an int32 `cfg` describing the layer.
TF/Keras 'same' padding with stride > 1 (which torch lacks) is built from F.pad + padding 0.
Run: tests/reference/gen_conv.py   (deterministic: fixed seeds)
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402

VALID, SAME, EXPLICIT = 0, 1, 2
HERE = os.path.dirname(os.path.abspath(__file__))


def same_pads(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv_case(out, k, B, C, H, W, O, kh, kw, sh, sw, mode, ph=0, pw=0, bias=True):
    x = torch.randn(B, C, H, W, dtype=torch.float64, requires_grad=True)
    w = (torch.randn(O, C, kh, kw, dtype=torch.float64) / math.sqrt(C * kh * kw)).requires_grad_()
    b = torch.randn(O, dtype=torch.float64, requires_grad=True) if bias else None
    if mode == SAME and sh == 1 and sw == 1:
        y = F.conv2d(x, w, b, 1, padding="same")  # torch's own 'same' (extra pad bottom/right)
    elif mode == SAME:
        pt, pb = same_pads(H, kh, sh)
        pl, pr = same_pads(W, kw, sw)
        y = F.conv2d(F.pad(x, (pl, pr, pt, pb)), w, b, (sh, sw))
    else:
        y = F.conv2d(x, w, b, (sh, sw), padding=(ph, pw) if mode == EXPLICIT else 0)
    dy = torch.randn_like(y)
    (y * dy).sum().backward()
    p = f"conv{k}."
    out.update({p + "x": x.float(), p + "w": w.float(), p + "y": y.float(), p + "dy": dy.float(),
                p + "dx": x.grad.float(), p + "dw": w.grad.float(),
                p + "cfg": torch.tensor([sh, sw, mode, ph, pw, int(bias)], dtype=torch.int32)})
    if bias:
        out[p + "b"] = b.float()
        out[p + "db"] = b.grad.float()


def pool_case(out, k, kind, B, C, H, W, kh, kw, sh, sw, mode, ph=0, pw=0, incl=True):
    x = torch.randn(B, C, H, W, dtype=torch.float64, requires_grad=True)
    if mode == SAME:
        pt, pb = same_pads(H, kh, sh)
        pl, pr = same_pads(W, kw, sw)
        if kind == 0:
            y = F.max_pool2d(F.pad(x, (pl, pr, pt, pb), value=-math.inf), (kh, kw), (sh, sw))
        else:  # TF: average over the real pixels only
            ones = torch.ones(1, 1, H, W, dtype=torch.float64)
            s = F.avg_pool2d(F.pad(x, (pl, pr, pt, pb)), (kh, kw), (sh, sw)) * (kh * kw)
            n = F.avg_pool2d(F.pad(ones, (pl, pr, pt, pb)), (kh, kw), (sh, sw)) * (kh * kw)
            y = s / n if not incl else s / (kh * kw)
    elif kind == 0:
        y = F.max_pool2d(x, (kh, kw), (sh, sw), padding=(ph, pw) if mode == EXPLICIT else 0)
    else:
        y = F.avg_pool2d(x, (kh, kw), (sh, sw), padding=(ph, pw) if mode == EXPLICIT else 0,
                         count_include_pad=incl)
    dy = torch.randn_like(y)
    (y * dy).sum().backward()
    p = f"pool{k}."
    out.update({p + "x": x.float(), p + "y": y.float(), p + "dy": dy.float(), p + "dx": x.grad.float(),
                p + "cfg": torch.tensor([kind, kh, kw, sh, sw, mode, ph, pw, int(incl)], dtype=torch.int32)})


def gen_conv():
    torch.manual_seed(1)
    out = {}
    cases = [
        (2, 3, 7, 6, 5, 3, 3, 2, 2, SAME),
        (2, 3, 7, 6, 5, 3, 3, 1, 1, SAME),
        (2, 2, 7, 6, 3, 4, 4, 1, 1, SAME),           # even kernel: asymmetric 'same'
        (2, 3, 7, 6, 5, 3, 3, 2, 2, VALID),
        (2, 3, 9, 8, 4, 3, 2, 2, 1, EXPLICIT, 1, 2),
        (3, 4, 11, 10, 6, 5, 5, 2, 3, EXPLICIT, 2, 1),
        (2, 8, 6, 5, 7, 1, 1, 1, 1, VALID, 0, 0, False),
        (2, 2, 20, 19, 4, 3, 3, 1, 1, VALID),        # one sample per GEMM block
        (4, 16, 5, 5, 32, 3, 3, 1, 1, VALID),        # deep-layer shape: many samples per block
    ]
    for k, c in enumerate(cases):
        conv_case(out, k, *c)
    pools = [
        (0, 2, 3, 7, 6, 2, 2, 2, 2, VALID),
        (0, 2, 3, 7, 6, 3, 3, 2, 2, VALID),
        (0, 2, 2, 7, 6, 3, 3, 2, 1, EXPLICIT, 1, 1),
        (0, 2, 3, 7, 6, 3, 3, 2, 2, SAME),
        (1, 2, 3, 7, 6, 2, 2, 2, 2, VALID),
        (1, 2, 2, 7, 6, 3, 3, 2, 1, EXPLICIT, 1, 1, True),
        (1, 2, 2, 7, 6, 3, 2, 2, 2, EXPLICIT, 1, 1, False),
        (1, 2, 3, 7, 6, 3, 3, 2, 2, SAME, 0, 0, False),
    ]
    for k, c in enumerate(pools):
        pool_case(out, k, *c)
    fixture.write(os.path.join(HERE, "conv.fix"), out)


if __name__ == "__main__":
    gen_conv()
