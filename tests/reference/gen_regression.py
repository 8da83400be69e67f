#!/usr/bin/python3
"""gen_regression.py — PyTorch reference values for the regression losses (tests/test_loss.c reads them):
torch.nn.MSELoss and torch.nn.HuberLoss(delta) on odd shapes, every reduction, deltas below, at and above
the residuals' scale (so both the quadratic and the linear zone are hit). Same case layout as gen_loss.py:
inputs a, b, the loss `out`, gradients da, db (for 'none': of sum(out * R), R stored); cK.iopt = [reduction]
(mean 0, sum 1, none 2), cK.fopt = [delta]. Computed in float64, stored as float32.
Run: tests/reference/gen_regression.py  (writes tests/reference/loss_huber.fix, loss_mse_nn.fix)
"""
import os

import torch

import fixture

torch.manual_seed(20261203)
torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
RED = {0: "mean", 1: "sum", 2: "none"}


def case(loss, shape, red, scale, delta=None):
    a = (torch.randn(*shape) * scale).requires_grad_(True)
    b = (torch.randn(*shape) * scale).requires_grad_(True)
    out = loss(a, b)
    c = {}
    if red == 2:
        R = torch.rand(out.shape) * 2 - 1
        (out * R).sum().backward()
        c["R"] = R
    else:
        out.backward()
    c.update({"out": out.detach(), "a": a.detach(), "b": b.detach(), "da": a.grad, "db": b.grad,
              "iopt": torch.tensor([red], dtype=torch.int32)})
    if delta is not None:
        c["fopt"] = torch.tensor([delta], dtype=torch.float32)
    return c


def write(name, cases):
    d = {"n": torch.tensor([len(cases)], dtype=torch.int32)}
    for i, c in enumerate(cases):
        for k, v in c.items():
            d[f"c{i}.{k}"] = v
    fixture.write(os.path.join(HERE, f"loss_{name}.fix"), d)
    print(f"loss_{name}.fix: {len(cases)} cases")


cases = []
for shape, red, scale, delta in [((7,), 0, 1.0, 1.0), ((5, 3), 1, 2.0, 0.5), ((6, 4), 2, 1.5, 1.0),
                                 ((9,), 0, 3.0, 2.5), ((4, 5), 2, 0.3, 1.0), ((11, 2), 1, 5.0, 0.1)]:
    cases.append(case(torch.nn.HuberLoss(reduction=RED[red], delta=delta), shape, red, scale, delta))
write("huber", cases)

cases = []
for shape, red, scale in [((7,), 0, 1.0), ((5, 3), 1, 2.0), ((6, 4), 2, 1.5), ((13,), 0, 4.0)]:
    cases.append(case(torch.nn.MSELoss(reduction=RED[red]), shape, red, scale))
write("mse_nn", cases)
