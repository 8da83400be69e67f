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


def randn(*shape, scale=1.0, shift=0.0):
    """float64 values that are exactly float32 (what loom reads), so only the maths differs."""
    return (torch.randn(*shape, dtype=torch.float64) * scale + shift).float().double().requires_grad_()


def same_pads(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv_case(out, k, B, C, H, W, O, kh, kw, sh, sw, mode, ph=0, pw=0, bias=True):
    x = randn(B, C, H, W)
    w = randn(O, C, kh, kw, scale=1 / math.sqrt(C * kh * kw))
    b = randn(O) if bias else None
    if mode == SAME and sh == 1 and sw == 1:
        y = F.conv2d(x, w, b, 1, padding="same")  # torch's own 'same' (extra pad bottom/right)
    elif mode == SAME:
        pt, pb = same_pads(H, kh, sh)
        pl, pr = same_pads(W, kw, sw)
        y = F.conv2d(F.pad(x, (pl, pr, pt, pb)), w, b, (sh, sw))
    else:
        y = F.conv2d(x, w, b, (sh, sw), padding=(ph, pw) if mode == EXPLICIT else 0)
    dy = randn(*y.shape).detach()
    (y * dy).sum().backward()
    p = f"conv{k}."
    out.update({p + "x": x.float(), p + "w": w.float(), p + "y": y.float(), p + "dy": dy.float(),
                p + "dx": x.grad.float(), p + "dw": w.grad.float(),
                p + "cfg": torch.tensor([sh, sw, mode, ph, pw, int(bias)], dtype=torch.int32)})
    if bias:
        out[p + "b"] = b.float()
        out[p + "db"] = b.grad.float()


def pool_case(out, k, kind, B, C, H, W, kh, kw, sh, sw, mode, ph=0, pw=0, incl=True):
    x = randn(B, C, H, W)
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
    dy = randn(*y.shape).detach()
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


def bn_case(out, k, shape, train, affine=True, eps=1e-5, momentum=0.1):
    C = shape[1]
    x = randn(*shape, scale=2.0, shift=0.5)
    w, b = (randn(C, scale=0.5, shift=1.0), randn(C)) if affine else (None, None)
    rm = randn(C).detach()
    rv = (torch.rand(C, dtype=torch.float64) + 0.5).float().double()
    rm0, rv0 = rm.clone(), rv.clone()
    y = F.batch_norm(x, rm, rv, w, b, training=train, momentum=momentum, eps=eps)  # updates rm, rv in place
    dy = randn(*y.shape).detach()
    (y * dy).sum().backward()
    p = f"bn{k}."
    out.update({p + "x": x.float(), p + "running_mean0": rm0.float(), p + "running_var0": rv0.float(),
                p + "running_mean": rm.float(), p + "running_var": rv.float(), p + "y": y.float(),
                p + "dy": dy.float(), p + "dx": x.grad.float(),
                p + "cfg": torch.tensor([len(shape), int(train), int(affine)], dtype=torch.int32),
                p + "hp": torch.tensor([eps, momentum], dtype=torch.float32)})
    if affine:
        out.update({p + "weight": w.float(), p + "bias": b.float(), p + "dweight": w.grad.float(),
                    p + "dbias": b.grad.float()})


def ln_case(out, k, shape, affine=True, eps=1e-5):
    D = shape[-1]
    x = randn(*shape, scale=1.5, shift=-0.3)
    w, b = (randn(D, scale=0.5, shift=1.0), randn(D)) if affine else (None, None)
    y = F.layer_norm(x, (D,), w, b, eps)
    dy = randn(*y.shape).detach()
    (y * dy).sum().backward()
    p = f"ln{k}."
    out.update({p + "x": x.float(), p + "y": y.float(), p + "dy": dy.float(), p + "dx": x.grad.float(),
                p + "cfg": torch.tensor([int(affine)], dtype=torch.int32),
                p + "hp": torch.tensor([eps], dtype=torch.float32)})
    if affine:
        out.update({p + "weight": w.float(), p + "bias": b.float(), p + "dweight": w.grad.float(),
                    p + "dbias": b.grad.float()})


def gen_norm():
    torch.manual_seed(2)
    out = {}
    bns = [
        ((5, 7), True),                      # BatchNorm1d (B, C), train
        ((4, 3, 5), True),                   # BatchNorm1d (B, C, L), train
        ((3, 4, 5, 3), True),                # BatchNorm2d, train
        ((16, 6, 7, 5), True),               # BatchNorm2d, bigger batch
        ((3, 4, 5, 3), False),               # BatchNorm2d, eval (running statistics)
        ((6, 9), False),                     # BatchNorm1d, eval
        ((2, 5, 3, 3), True, False, 1e-3, 0.3),  # no affine, Keras-like eps, other momentum
    ]
    for k, c in enumerate(bns):
        bn_case(out, k, *c)
    lns = [((5, 7),), ((2, 3, 9),), ((3, 64), False), ((4, 33), True, 1e-3)]
    for k, c in enumerate(lns):
        ln_case(out, k, *c)
    fixture.write(os.path.join(HERE, "norm.fix"), out)


if __name__ == "__main__":
    gen_conv()
    gen_norm()
