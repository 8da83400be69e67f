#!/usr/bin/python3
"""gen_interact.py — PyTorch references for loom's feature-interaction blocks (loom/interact.h).

Writes interact.fix next to this script, read by tests/test_interact.c. Three blocks written as their
PyTorch modules would be:
  cross.*  DCN-v2 cross network, 2 layers: x_{l+1} = x0 * (Linear_l(x_l)) + x_l  (cross0, cross1)
  dot.*    pairwise dot products of n fields, pairs in torch.triu_indices(n, n, 1) order
  att.*    attention over fields: a = softmax(score(tanh(attention(v)))), y = sum_i a_i v_i
Each case stores inputs, parameters (PyTorch names), output y, a random upstream gradient dy and the
gradients of sum(y * dy) for the input and every parameter (prefixed d). float64 maths on values that
are exactly float32. Run: tests/reference/gen_interact.py  (deterministic)
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(2024)


def randn(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=torch.float64) * scale).float().double().requires_grad_()


class Cross(torch.nn.Module):
    def __init__(self, d, layers):
        super().__init__()
        for l in range(layers):
            setattr(self, f"cross{l}", torch.nn.Linear(d, d).double())
        self.layers = layers

    def forward(self, x0):
        x = x0
        for l in range(self.layers):
            x = x0 * getattr(self, f"cross{l}")(x) + x
        return x


class FieldAttention(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.attention = torch.nn.Linear(d, d).double()
        self.score = torch.nn.Linear(d, 1, bias=False).double()

    def forward(self, v):  # (B, n, D)
        a = torch.softmax(self.score(torch.tanh(self.attention(v))).squeeze(-1), dim=-1)
        return (a.unsqueeze(-1) * v).sum(1)


def pairwise_dot(v):
    n = v.shape[1]
    i, j = torch.triu_indices(n, n, 1)
    return (v[:, i, :] * v[:, j, :]).sum(-1)


def module_case(out, tag, mod, x):
    with torch.no_grad():  # parameters exactly float32 as well
        for p in mod.parameters():
            p.copy_(p.float().double())
    y = mod(x)
    dy = torch.randn(y.shape, dtype=torch.float64).float().double()
    (y * dy).sum().backward()
    out[f"{tag}.x"], out[f"{tag}.y"], out[f"{tag}.dy"], out[f"{tag}.dx"] = x.detach(), y.detach(), dy, x.grad
    for name, p in mod.named_parameters():
        out[f"{tag}.{name}"], out[f"{tag}.d{name}"] = p.detach(), p.grad


def main():
    out = {}
    module_case(out, "cross", Cross(7, 2), randn(5, 7))
    module_case(out, "att", FieldAttention(4), randn(3, 5, 4))
    v = randn(4, 6, 3)
    y = pairwise_dot(v)
    dy = torch.randn(y.shape, dtype=torch.float64).float().double()
    (y * dy).sum().backward()
    out["dot.x"], out["dot.y"], out["dot.dy"], out["dot.dx"] = v.detach(), y.detach(), dy, v.grad
    # the FM identity the doc states: sum of the pairwise dots = ½((Σv)² − Σv²) summed over D
    fm = 0.5 * ((v.sum(1) ** 2) - (v ** 2).sum(1)).sum(-1)
    assert torch.allclose(fm, y.sum(-1))
    fixture.write(os.path.join(HERE, "interact.fix"), out)
    print("interact.fix:", len(out), "tensors")


if __name__ == "__main__":
    main()
