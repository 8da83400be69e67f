#!/usr/bin/python3
"""gen_transformer.py — PyTorch reference fixtures for loom's pre-LN Transformer encoder layer builder
(loom_layer_transformer) against torch.nn.TransformerEncoder over
nn.TransformerEncoderLayer(D, heads, ff_dim, dropout=0, activation, batch_first=True, norm_first=True),
with src_key_padding_mask from the lengths and random weights (LayerNorm affine and biases too).

Optional sinusoidal positions (PE[t, 2i] = sin(t / 10000^(2i/D)), PE[t, 2i+1] = cos) are added to x first.
The loss is sum(out * R * valid): rows at padded steps mean nothing (PyTorch computes them, and so does
loom), so the output is stored with those rows zeroed and only valid rows are compared. Run:
    /usr/bin/python3 tests/reference/gen_transformer.py
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "transformer")


def case(name, B, T, D, heads, F, layers, act, final_norm, sinusoidal, lengths, seed):
    torch.manual_seed(seed)
    layer = torch.nn.TransformerEncoderLayer(D, heads, F, dropout=0.0, activation=act, batch_first=True,
                                             norm_first=True)
    enc = torch.nn.TransformerEncoder(layer, layers, norm=torch.nn.LayerNorm(D) if final_norm else None,
                                      enable_nested_tensor=False)
    with torch.no_grad():
        for pname, p in enc.named_parameters():
            if "norm" in pname or pname.endswith("bias"):
                p.uniform_(-0.5, 0.5) if pname.endswith("bias") else p.uniform_(0.5, 1.5)
    x = torch.randn(B, T, D, requires_grad=True)
    lens = torch.tensor(lengths if lengths is not None else [T] * B, dtype=torch.int64)
    valid = (torch.arange(T)[None, :] < lens[:, None]).float()[:, :, None]  # (B, T, 1)
    inp = x
    if sinusoidal:
        pe = torch.zeros(T, D)
        for t in range(T):
            for i in range(D):
                a = t / math.pow(10000.0, (i // 2 * 2) / D)
                pe[t, i] = math.cos(a) if i % 2 else math.sin(a)
        inp = x + pe
    pad = (valid[:, :, 0] == 0) if lengths is not None else None
    y = enc(inp, src_key_padding_mask=pad)
    r = torch.rand(B, T, D) * 2 - 1
    (y * r * valid).sum().backward()
    t = {"config": torch.tensor([B, T, D, heads, F, layers, int(act == "gelu"), int(final_norm), int(sinusoidal)]),
         "x": x.detach(), "lengths": lens, "has_lengths": torch.tensor([int(lengths is not None)]),
         "r": r * valid, "y": (y * valid).detach(), "grad.x": x.grad}
    for pname, p in enc.named_parameters():
        t["w." + pname] = p.detach().clone()
        t["grad." + pname] = p.grad.detach().clone()
    fixture.write(os.path.join(OUT, name + ".fix"), t)


def main():
    os.makedirs(OUT, exist_ok=True)
    case("layer_relu", 2, 5, 8, 2, 16, 1, "relu", False, False, None, 1)
    case("layer_relu_masked", 4, 6, 8, 4, 12, 1, "relu", False, False, [6, 2, 1, 4], 2)
    case("stack_gelu_sin_masked", 3, 7, 12, 3, 20, 2, "gelu", True, True, [7, 3, 5], 3)


if __name__ == "__main__":
    main()
