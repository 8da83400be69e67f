#!/usr/bin/python3
"""gen_gru.py — PyTorch reference fixtures for loom's GRU layer (torch.nn.GRU) and TextCNN block.

GRU cases mirror gen_lstm.py: inputs, weights (PyTorch names), outputs and the gradients of every weight
and of the input for loss = sum(out * R); masking through pack_padded_sequence (enforce_sorted=False),
bidirectional and 2-layer stacks; both the padded sequence output and the last hidden state (h_n of the
last layer, [fwd, bwd]).

TextCNN cases: for each width k an nn.Conv2d(1, F, (k, E)) over x (N, 1, T, E), ReLU, max over the
windows t < max(len - k + 1, 1) (the others set to -inf first, so padding never wins), concatenated over
the widths; gradients for loss = sum(out * R). Run from anywhere:
    /usr/bin/python3 tests/reference/gen_gru.py
"""
import os
import sys

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gru")


def gru_case(name, B, T, E, H, layers, bidir, lengths, seed):
    torch.manual_seed(seed)
    gru = torch.nn.GRU(E, H, num_layers=layers, bidirectional=bidir, batch_first=True)
    x = torch.randn(B, T, E)
    lens = torch.tensor(lengths if lengths is not None else [T] * B, dtype=torch.int64)
    D = 2 if bidir else 1
    r_seq = torch.rand(B, T, D * H) * 2 - 1
    r_last = torch.rand(B, D * H) * 2 - 1
    t = {"x": x, "lengths": lens, "has_lengths": torch.tensor([int(lengths is not None)]),
         "config": torch.tensor([B, T, E, H, layers, D]), "r_seq": r_seq, "r_last": r_last}
    for pname, p in gru.named_parameters():
        t["w." + pname] = p.detach().clone()
    for mode in ("seq", "last"):
        gru.zero_grad()
        xg = x.clone().requires_grad_(True)
        if lengths is not None:
            packed = pack_padded_sequence(xg, lens, batch_first=True, enforce_sorted=False)
            out_p, h_n = gru(packed)
            out, _ = pad_packed_sequence(out_p, batch_first=True, total_length=T)
        else:
            out, h_n = gru(xg)
        last = torch.cat([h_n[-2], h_n[-1]], dim=1) if bidir else h_n[-1]
        if mode == "seq":
            y, loss = out, (out * r_seq).sum()
        else:
            y, loss = last, (last * r_last).sum()
        loss.backward()
        t["out_" + mode] = y.detach()
        t["grad_%s.x" % mode] = xg.grad
        for pname, p in gru.named_parameters():
            t["grad_%s.%s" % (mode, pname)] = p.grad.detach().clone()
    fixture.write(os.path.join(OUT, name + ".fix"), t)


def textcnn_case(name, N, T, E, F, widths, lengths, seed):
    torch.manual_seed(seed)
    convs = [torch.nn.Conv2d(1, F, (k, E)) for k in widths]
    x = torch.randn(N, T, E, requires_grad=True)
    lens = torch.tensor(lengths if lengths is not None else [T] * N, dtype=torch.int64)
    outs = []
    for k, conv in zip(widths, convs):
        z = torch.relu(conv(x.unsqueeze(1))).squeeze(3)  # (N, F, T - k + 1)
        valid = torch.arange(T - k + 1)[None, :] < torch.clamp(lens - k + 1, min=1)[:, None]  # (N, T - k + 1)
        z = z.masked_fill(~valid[:, None, :], float("-inf"))
        outs.append(z.max(dim=2).values)
    y = torch.cat(outs, dim=1)
    r = torch.rand(y.shape) * 2 - 1
    (y * r).sum().backward()
    t = {"config": torch.tensor([N, T, E, F, len(widths)]), "widths": torch.tensor(widths), "x": x.detach(),
         "lengths": lens, "has_lengths": torch.tensor([int(lengths is not None)]), "r": r, "y": y.detach(),
         "grad.x": x.grad}
    for i, conv in enumerate(convs):
        t["w.conv%d.weight" % i] = conv.weight.detach()
        t["w.conv%d.bias" % i] = conv.bias.detach()
        t["grad.conv%d.weight" % i] = conv.weight.grad
        t["grad.conv%d.bias" % i] = conv.bias.grad
    fixture.write(os.path.join(OUT, name + ".fix"), t)


def main():
    os.makedirs(OUT, exist_ok=True)
    gru_case("gru_small", 3, 5, 7, 6, 1, False, None, 1)
    gru_case("gru_masked", 3, 5, 7, 6, 1, False, [5, 2, 1], 2)
    gru_case("gru_bidir_masked", 3, 5, 7, 6, 1, True, [5, 2, 1], 3)
    gru_case("gru_2layer", 2, 4, 3, 5, 2, False, None, 4)
    gru_case("gru_2layer_bidir_masked", 4, 6, 5, 8, 2, True, [6, 3, 1, 4], 5)
    gru_case("gru_medium_masked", 8, 12, 12, 20, 1, True, [12, 7, 1, 12, 3, 9, 11, 2], 6)
    textcnn_case("textcnn_small", 3, 6, 5, 4, [2, 3], None, 10)
    textcnn_case("textcnn_masked", 5, 9, 6, 7, [2, 3, 4], [9, 5, 1, 3, 2], 11)


if __name__ == "__main__":
    main()
