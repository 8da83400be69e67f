#!/usr/bin/python3
"""gen_attention.py — PyTorch reference fixtures for loom's fused self-attention op (loom_mha) against
torch.nn.MultiheadAttention(D, heads, batch_first=True) with key_padding_mask from the lengths.

Writes inputs, weights (PyTorch names), the output and the gradients of every weight and of the input
for loss = sum(out * R). Every sample has at least one valid key (PyTorch gives NaN for none). Run:
    /usr/bin/python3 tests/reference/gen_attention.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attention")


def mha_case(name, B, T, D, heads, lengths, seed):
    torch.manual_seed(seed)
    mha = torch.nn.MultiheadAttention(D, heads, dropout=0.0, batch_first=True)
    with torch.no_grad():  # non-zero biases, so their gradients are checked too
        mha.in_proj_bias.uniform_(-0.5, 0.5)
        mha.out_proj.bias.uniform_(-0.5, 0.5)
    x = torch.randn(B, T, D, requires_grad=True)
    lens = torch.tensor(lengths if lengths is not None else [T] * B, dtype=torch.int64)
    pad = torch.arange(T)[None, :] >= lens[:, None]  # True = masked key
    y, _ = mha(x, x, x, key_padding_mask=pad if lengths is not None else None, need_weights=False)
    r = torch.rand(B, T, D) * 2 - 1
    (y * r).sum().backward()
    t = {"config": torch.tensor([B, T, D, heads]), "x": x.detach(), "lengths": lens,
         "has_lengths": torch.tensor([int(lengths is not None)]), "r": r, "y": y.detach(), "grad.x": x.grad}
    for pname, p in mha.named_parameters():
        t["w." + pname] = p.detach().clone()
        t["grad." + pname] = p.grad.detach().clone()
    fixture.write(os.path.join(OUT, name + ".fix"), t)


def main():
    os.makedirs(OUT, exist_ok=True)
    mha_case("mha_small", 2, 4, 6, 2, None, 1)
    mha_case("mha_masked", 4, 7, 8, 4, [7, 3, 1, 5], 2)
    mha_case("mha_medium_masked", 5, 16, 32, 4, [16, 9, 1, 12, 4], 3)


if __name__ == "__main__":
    main()
