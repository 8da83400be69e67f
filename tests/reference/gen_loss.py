#!/usr/bin/python3
"""gen_loss.py — PyTorch reference values for loom's loss ops (tests/test_loss.c reads them).

For every loss (and the l2_normalize / cosine_sim ops), several cases of odd shapes, each reduction and
option: the inputs, the loss and the gradients of the inputs. Computed in float64 (the exact values the
float32 C code approximates) and stored as float32. For reduction 'none' (and the two non-loss ops) the
gradient is that of sum(out * R) with R stored as well. Options ride along per case:
cK.iopt (int32) and cK.fopt (float32); reductions are coded mean 0, sum 1, none 2 (loom_reduction).
Run: tests/reference/gen_loss.py  (writes tests/reference/loss_*.fix)
"""
import os

import torch
import torch.nn.functional as F

import fixture

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
RED = {0: "mean", 1: "sum", 2: "none"}


def leaf(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).requires_grad_(True)


def finish(out, red, names, tensors, case, extra):
    """Backprop loss (or sum(out * R) for 'none') and store inputs, value, grads."""
    if red == 2 or out.dim() > 0 and out.numel() > 1:
        R = torch.rand(out.shape) * 2 - 1
        (out * R).sum().backward()
        case["R"] = R
    else:
        out.backward()
    case["out"] = out.detach()
    for n, t in zip(names, tensors):
        case[n] = t.detach()
        if t.grad is not None:
            case["d" + n] = t.grad
    case.update(extra)
    return case


def write(name, cases):
    d = {"n": torch.tensor([len(cases)], dtype=torch.int32)}
    for i, c in enumerate(cases):
        for k, v in c.items():
            d[f"c{i}.{k}"] = v
    fixture.write(os.path.join(HERE, f"loss_{name}.fix"), d)
    print(f"loss_{name}.fix: {len(cases)} cases")


def iopt(*v):
    return torch.tensor(v, dtype=torch.int32)


def fopt(*v):
    return torch.tensor(v, dtype=torch.float32)


# ---- BCE with logits: iopt = [reduction, pos_weight numel (0 none)]
cases = []
for shape, red, pw_n, scale in [((7,), 0, 0, 2.0), ((5, 1), 1, 0, 2.0), ((6, 3), 2, 3, 2.0), ((6, 3), 0, 1, 3.0),
                                ((9, 3), 0, 3, 30.0), ((4, 5), 1, 5, 1.0)]:
    x = leaf(*shape, scale=scale)
    y = torch.rand(*shape)
    y[..., 0] = (y[..., 0] > 0.5).double()  # hard labels as well as soft ones
    y.requires_grad_(True)
    pw = torch.rand(pw_n) * 3 + 0.2 if pw_n else None
    out = F.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction=RED[red])
    extra = {"iopt": iopt(red, pw_n)}
    if pw is not None:
        extra["pw"] = pw
    cases.append(finish(out, red, ["x", "y"], [x, y], {}, extra))
write("bce", cases)

# ---- softmax cross-entropy: iopt = [reduction, ignore_index], fopt = [label smoothing]
cases = []
for B, C, red, eps, ignore, scale in [(5, 7, 0, 0.0, None, 2.0), (9, 3, 1, 0.1, None, 2.0), (1, 4, 0, 0.2, None, 1.0),
                                      (13, 11, 0, 0.1, -100, 3.0), (6, 5, 2, 0.0, 2, 2.0), (7, 6, 0, 0.0, None, 40.0),
                                      (8, 9, 2, 0.15, -100, 2.0)]:
    x = leaf(B, C, scale=scale)
    y = torch.randint(0, C, (B,))
    ig = -100 if ignore is None else ignore
    if ignore == -100:
        y[1] = -100
        y[B - 2] = -100
    out = F.cross_entropy(x, y, ignore_index=ig, label_smoothing=eps, reduction=RED[red])
    cases.append(finish(out, red, ["x"], [x], {}, {"y": y.int(), "iopt": iopt(red, ig), "fopt": fopt(eps)}))
write("ce", cases)

# ---- MSE: iopt = [reduction]
cases = []
for shape, red in [((7,), 0), ((3, 5), 1), ((4, 3), 2), ((2, 3, 5), 0)]:
    a, b = leaf(*shape), leaf(*shape)
    out = F.mse_loss(a, b, reduction=RED[red])
    cases.append(finish(out, red, ["a", "b"], [a, b], {}, {"iopt": iopt(red)}))
write("mse", cases)

# ---- BPR: iopt = [reduction]
cases = []
for B, pos_shape, n_neg, red in [(5, (5,), 0, 0), (6, (6, 1), 4, 0), (7, (7,), 3, 1), (4, (4,), 5, 2), (9, (9,), 1, 0)]:
    p = leaf(*pos_shape, scale=2.0)
    q = leaf(B, n_neg, scale=2.0) if n_neg else leaf(B, scale=2.0)
    d = p.reshape(B, 1) - q.reshape(B, -1)
    per = -F.logsigmoid(d).mean(dim=1)
    out = per if red == 2 else per.mean() if red == 0 else per.sum()
    cases.append(finish(out, red, ["p", "q"], [p, q], {}, {"iopt": iopt(red)}))
write("bpr", cases)

# ---- triplet margin: iopt = [reduction, distance (0 euclidean, 1 cosine, 2 dot, 3 manhattan)], fopt = [margin]
# (dot and manhattan, task.distance, are appended with their own seed inside fork_rng, so every other
# case and fixture keeps its random draws)
cases = []
TRIPLET = [(5, 7, 0, 1.0, 0), (3, 4, 0, 2.0, 1), (6, 5, 0, 0.5, 2), (5, 7, 1, 0.3, 0), (4, 9, 1, 0.5, 2),
           (7, 3, 1, 1.0, 1)]
EXTRA = [(5, 7, 2, 1.0, 0), (6, 4, 2, 0.5, 2), (4, 5, 2, 2.0, 1), (5, 7, 3, 1.0, 0), (6, 4, 3, 0.5, 2),
         (4, 5, 3, 2.0, 1)]
def triplet_case(B, D, dist, margin, red):
    a, p, n = leaf(B, D), leaf(B, D), leaf(B, D)
    if dist == 0:
        loss = torch.nn.TripletMarginLoss(margin=margin, p=2, eps=1e-6, reduction=RED[red])
    elif dist == 3:
        loss = torch.nn.TripletMarginLoss(margin=margin, p=1, eps=1e-6, reduction=RED[red])
    elif dist == 2:
        loss = torch.nn.TripletMarginWithDistanceLoss(
            distance_function=lambda x, y: -(x * y).sum(dim=1), margin=margin, reduction=RED[red])
    else:
        loss = torch.nn.TripletMarginWithDistanceLoss(
            distance_function=lambda x, y: 1.0 - F.cosine_similarity(x, y), margin=margin, reduction=RED[red])
    out = loss(a, p, n)
    cases.append(finish(out, red, ["a", "p", "n"], [a, p, n], {}, {"iopt": iopt(red, dist), "fopt": fopt(margin)}))
for c in TRIPLET:
    triplet_case(*c)
with torch.random.fork_rng():
    torch.manual_seed(4321)
    for c in EXTRA:
        triplet_case(*c)
write("triplet", cases)

# ---- InfoNCE: iopt = [reduction, normalize, symmetric], fopt = [temperature]
cases = []
for B, D, tau, norm, sym, red in [(5, 7, 0.07, 1, 0, 0), (8, 3, 0.5, 1, 1, 0), (6, 4, 1.0, 0, 0, 1),
                                  (7, 5, 0.1, 1, 1, 2), (3, 9, 0.2, 0, 1, 0)]:
    q, k = leaf(B, D), leaf(B, D)
    qh = F.normalize(q, dim=1) if norm else q
    kh = F.normalize(k, dim=1) if norm else k
    S = qh @ kh.T / tau
    lab = torch.arange(B)
    per = F.cross_entropy(S, lab, reduction="none")
    if sym:
        per = 0.5 * (per + F.cross_entropy(S.T, lab, reduction="none"))
    out = per if red == 2 else per.mean() if red == 0 else per.sum()
    cases.append(finish(out, red, ["q", "k"], [q, k], {}, {"iopt": iopt(red, norm, sym), "fopt": fopt(tau)}))
write("infonce", cases)

# ---- l2 normalise (over the last dim, eps 1e-12) and cosine similarity (eps 1e-8)
cases = []
for shape in [(4, 9), (3, 5), (2, 3, 7)]:
    x = leaf(*shape)
    out = F.normalize(x, dim=-1, eps=1e-12)
    cases.append(finish(out, 2, ["x"], [x], {}, {}))
write("l2norm", cases)
cases = []
for shape in [(5, 7), (1, 3), (2, 4, 6)]:
    a, b = leaf(*shape), leaf(*shape)
    out = F.cosine_similarity(a, b, dim=-1, eps=1e-8)
    cases.append(finish(out, 2, ["a", "b"], [a, b], {}, {}))
write("cossim", cases)
