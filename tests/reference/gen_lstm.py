#!/usr/bin/python3
"""gen_lstm.py — PyTorch reference fixtures for loom's LSTM, Dense and Embedding layers.

For each case: inputs, weights (PyTorch names), outputs and the gradients of every weight and of the
input for loss = sum(out * R). LSTM cases cover odd sizes, masking through pack_padded_sequence
(enforce_sorted=False), bidirectional and 2-layer stacks, and give both the padded sequence output and
the last hidden state (h_n of the last layer, [fwd, bwd]). Run from anywhere:
    /usr/bin/python3 tests/reference/gen_lstm.py
"""
import os
import sys

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lstm")


def lstm_case(name, B, T, E, H, layers, bidir, lengths, seed):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(E, H, num_layers=layers, bidirectional=bidir, batch_first=True)
    x = torch.randn(B, T, E)
    lens = torch.tensor(lengths if lengths is not None else [T] * B, dtype=torch.int64)
    D = 2 if bidir else 1
    r_seq = torch.rand(B, T, D * H) * 2 - 1
    r_last = torch.rand(B, D * H) * 2 - 1
    t = {"x": x, "lengths": lens, "has_lengths": torch.tensor([int(lengths is not None)]),
         "config": torch.tensor([B, T, E, H, layers, D]), "r_seq": r_seq, "r_last": r_last}
    for pname, p in lstm.named_parameters():
        t["w." + pname] = p.detach().clone()
    for mode in ("seq", "last"):
        lstm.zero_grad()
        xg = x.clone().requires_grad_(True)
        if lengths is not None:
            packed = pack_padded_sequence(xg, lens, batch_first=True, enforce_sorted=False)
            out_p, (h_n, _) = lstm(packed)
            out, _ = pad_packed_sequence(out_p, batch_first=True, total_length=T)
        else:
            out, (h_n, _) = lstm(xg)
        last = torch.cat([h_n[-2], h_n[-1]], dim=1) if bidir else h_n[-1]
        if mode == "seq":
            y, loss = out, (out * r_seq).sum()
        else:
            y, loss = last, (last * r_last).sum()
        loss.backward()
        t["out_" + mode] = y.detach()
        t["grad_%s.x" % mode] = xg.grad
        for pname, p in lstm.named_parameters():
            t["grad_%s.%s" % (mode, pname)] = p.grad.detach().clone()
    fixture.write(os.path.join(OUT, name + ".fix"), t)


def dense_case(name, shape, fin, fout, act, seed):
    torch.manual_seed(seed)
    lin = torch.nn.Linear(fin, fout)
    x = torch.randn(*shape, fin, requires_grad=True)
    f = {"none": lambda v: v, "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
         "gelu": torch.nn.functional.gelu}[act]
    y = f(lin(x))
    r = torch.rand(y.shape) * 2 - 1
    (y * r).sum().backward()
    acts = ["none", "relu", "sigmoid", "tanh", "gelu"]
    fixture.write(os.path.join(OUT, name + ".fix"), {
        "config": torch.tensor([fin, fout, acts.index(act)]), "x": x.detach(), "r": r,
        "w.weight": lin.weight.detach(), "w.bias": lin.bias.detach(), "y": y.detach(),
        "grad.x": x.grad, "grad.weight": lin.weight.grad, "grad.bias": lin.bias.grad})


def embedding_case(name, V, D, pad, ids, seed):
    torch.manual_seed(seed)
    emb = torch.nn.Embedding(V, D, padding_idx=pad)
    ids = torch.tensor(ids, dtype=torch.int64)
    y = emb(ids)
    r = torch.rand(y.shape) * 2 - 1
    (y * r).sum().backward()
    fixture.write(os.path.join(OUT, name + ".fix"), {
        "config": torch.tensor([V, D, pad if pad is not None else -1]), "ids": ids, "r": r,
        "w.weight": emb.weight.detach(), "y": y.detach(), "grad.weight": emb.weight.grad})


def main():
    os.makedirs(OUT, exist_ok=True)
    lstm_case("lstm_small", 3, 5, 7, 6, 1, False, None, 1)
    lstm_case("lstm_masked", 3, 5, 7, 6, 1, False, [5, 2, 1], 2)
    lstm_case("lstm_bidir_masked", 3, 5, 7, 6, 1, True, [5, 2, 1], 3)
    lstm_case("lstm_2layer", 2, 4, 3, 5, 2, False, None, 4)
    lstm_case("lstm_2layer_bidir_masked", 4, 6, 5, 8, 2, True, [6, 3, 1, 4], 5)
    lstm_case("lstm_medium_masked", 8, 12, 12, 20, 1, True, [12, 7, 1, 12, 3, 9, 11, 2], 6)
    for i, act in enumerate(["none", "relu", "sigmoid", "tanh", "gelu"]):
        dense_case("dense_2d_" + act, (5,), 7, 3, act, 10 + i)
    dense_case("dense_3d_gelu", (2, 3), 4, 6, "gelu", 20)
    embedding_case("embedding_pad0", 11, 5, 0, [[3, 0, 7, 7], [10, 1, 0, 0], [2, 2, 5, 9]], 30)
    embedding_case("embedding_nopad", 6, 3, None, [[1, 5], [0, 1]], 31)


if __name__ == "__main__":
    main()
