#!/usr/bin/python3
"""check_safetensors.py — reads a safetensors file written by loom with an independent reader (json + numpy;
the `safetensors` package is not in Debian) and checks it against the reference tensors of
gen_safetensors.py. test_safetensors asserts that loom's writer produces tests/data/ckpt/torch_ref.safetensors
byte for byte (in its temp dir), so that file is the one to check.
Usage: /usr/bin/python3 tests/reference/check_safetensors.py [tests/data/ckpt/torch_ref.safetensors]
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_safetensors import REF_META, ref_tensors  # noqa: E402

NP = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U8": "u1"}


def read(path):
    """-> (metadata, {name: numpy array}); asserts the format's layout rules on the way."""
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert 8 + n <= len(blob), "header runs past the end of the file"
    assert n % 8 == 0 and blob[8 + n - 1:8 + n] in (b" ", b"}"), "header not padded to a multiple of 8"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    at, out = 0, {}
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        b, end = e["data_offsets"]
        assert b == at, f"{name}: data not contiguous (begins at {b}, expected {at})"
        a = np.frombuffer(data[b:end], dtype=NP[e["dtype"]])
        assert a.size == int(np.prod(e["shape"], dtype=np.int64)), f"{name}: size does not match shape"
        out[name] = a.reshape(e["shape"])
        at = end
    assert at == len(data), f"{len(data) - at} bytes of data not covered by any tensor"
    return meta, out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/data/ckpt/torch_ref.safetensors"
    meta, tensors = read(path)
    assert meta == REF_META, f"metadata differs: {meta!r}"
    ref = dict(ref_tensors())
    assert set(tensors) == set(ref), f"names differ: {sorted(set(tensors) ^ set(ref))}"
    for name, t in ref.items():
        got = torch.from_numpy(tensors[name].copy())
        assert got.dtype == t.dtype and got.shape == t.shape, f"{name}: {got.dtype} {tuple(got.shape)}"
        assert torch.equal(got, t), f"{name}: values differ"
    print(f"{path}: {len(tensors)} tensors and {len(meta)} metadata entries match torch")


if __name__ == "__main__":
    main()
