#!/usr/bin/python3
"""gen_safetensors.py — writes loom's safetensors test files into tests/data/ckpt/ (committed; the C tests
never run Python). Run from anywhere: /usr/bin/python3 tests/reference/gen_safetensors.py

  torch_ref.safetensors   a valid file written here from torch tensors with our own writer that follows
                          the spec (the `safetensors` package is not in Debian); test_safetensors.c reads it
                          and also writes the same tensors with loom and expects the very same bytes.
  unpadded.safetensors    valid, header length not a multiple of 8: every tensor's data is unaligned.
  bad_*.safetensors       one malformed file per rule the reader enforces (the expected message for each
                          is in the table in tests/test_safetensors.c).
"""
import json
import os
import struct

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "ckpt")

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int32: "I32", torch.int64: "I64", torch.uint8: "U8"}


def header_bytes(header, pad=True):
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if pad:
        text += b" " * (-len(text) % 8)
    return text


def write(path, tensors, metadata, pad=True):
    """tensors: list of (name, torch tensor) in data order; metadata: dict str -> str."""
    header = {"__metadata__": metadata}
    blobs, off = [], 0
    for name, t in tensors:
        raw = t.contiguous().numpy().tobytes()  # little-endian on every host torch 1.13 runs on here
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    text = header_bytes(header, pad)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def ref_tensors():
    """Values exactly representable in every dtype; test_safetensors.c computes the same ones."""
    return [
        ("embed.weight", torch.arange(15, dtype=torch.float32).reshape(5, 3) * 0.25 - 1.0),
        ("dense.bias", torch.tensor([1.5, -2.0, 3.0e-8], dtype=torch.float32)),
        ("ids", torch.tensor([0, -1, 2**40, -(2**62)], dtype=torch.int64)),
        ("counts", torch.tensor([[1, -2], [2**31 - 1, -(2**31)]], dtype=torch.int32)),
        ("mask", torch.tensor([0, 1, 255], dtype=torch.uint8)),
        ("double", torch.tensor([0.1, -1e300], dtype=torch.float64)),
        ("scalar", torch.tensor(7.0, dtype=torch.float32)),
        ("empty", torch.zeros(0, 3, dtype=torch.float32)),
        ("tête/é", torch.tensor([42.0], dtype=torch.float32)),
    ]


REF_META = {"format": "pt", "note": 'quote " backslash \\ newline \n tab \t bell \x07 é ü 中文 😀', "step": "12"}


def raw(path, header_text, data=b"", length=None):
    """A file from literal header text (str or bytes), data bytes and optionally a false length field."""
    h = header_text.encode("utf-8") if isinstance(header_text, str) else header_text
    n = len(h) if length is None else length
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", n) + h + data)


def ok_entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def js(header):
    return json.dumps(header, separators=(",", ":"), ensure_ascii=False)


def bad_files():
    d8 = bytes(range(8))
    one = lambda entry, data=d8: (js({"w": entry}), data)  # noqa: E731
    files = {
        "bad_short": None,  # written below: 5 bytes
        "bad_header_past_eof": ('{"w":{}}', b"", 1000),
        "bad_header_over_cap": ("{}", b"", 1 << 40),
        "bad_header_not_utf8": (b'{"w\xff":{}}', b""),
        "bad_header_nul": (b'{"w":{}}\x00   ', b""),
        "bad_json": ('{"w": {"dtype": "F32", ', b""),
        "bad_json_trailing": ('{} x', b""),
        "bad_not_object": ("[1, 2]", b""),
        "bad_meta_not_object": (js({"__metadata__": ["format", "pt"]}), b""),
        "bad_meta_value": (js({"__metadata__": {"format": "pt", "step": 3}}), b""),
        "bad_meta_dup_key": ('{"__metadata__":{"step":"1","step":"2"}}', b""),
        "bad_meta_twice": ('{"__metadata__":{},"__metadata__":{}}', b""),
        "bad_entry_not_object": (js({"w": [0, 8]}), d8),
        "bad_dtype_unknown": one(ok_entry(dtype="F17")),
        "bad_dtype_not_string": one({"dtype": 4, "shape": [2], "data_offsets": [0, 8]}),
        "bad_dtype_missing": one({"shape": [2], "data_offsets": [0, 8]}),
        "bad_entry_unknown_key": one({**ok_entry(), "stride": [1]}),
        "bad_entry_dup_key": ('{"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', d8),
        "bad_shape_not_list": one({"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}),
        "bad_shape_negative": one(ok_entry(shape=(-2,))),
        "bad_shape_fraction": one(ok_entry(shape=(2.5,))),
        "bad_shape_string": one(ok_entry(shape=("2",))),
        "bad_too_many_dims": one(ok_entry(shape=(1,) * 9, offsets=(0, 4)), d8[:4]),
        "bad_shape_overflow": one(ok_entry(shape=(2**32, 2**32), offsets=(0, 0)), b""),
        "bad_offsets_one": one(ok_entry(offsets=(0,))),
        "bad_offsets_reversed": one(ok_entry(offsets=(8, 0))),
        "bad_offsets_string": one({"dtype": "F32", "shape": [2], "data_offsets": [0, "8"]}),
        "bad_offsets_negative": one(ok_entry(offsets=(-8, 0))),
        "bad_size_mismatch": one(ok_entry(shape=(3,), offsets=(0, 8))),
        "bad_not_at_zero": (js({"w": ok_entry(offsets=(4, 12))}), d8 + d8[:4]),
        "bad_gap": (js({"a": ok_entry(shape=(1,), offsets=(0, 4)), "b": ok_entry(shape=(1,), offsets=(8, 12))}),
                    d8 + d8[:4]),
        "bad_overlap": (js({"a": ok_entry(offsets=(0, 8)), "b": ok_entry(shape=(1,), offsets=(4, 8))}), d8),
        "bad_trailing_data": one(ok_entry(), d8 + b"\x00\x00\x00\x00"),
        "bad_truncated_data": one(ok_entry(shape=(4,), offsets=(0, 16))),
        "bad_dup_name": ('{"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},'
                         '"w":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}', d8),
        "bad_name_empty": (js({"": ok_entry()}), d8),
        "bad_name_too_long": (js({"n" * 1025: ok_entry()}), d8),
    }
    return files


def main():
    os.makedirs(OUT, exist_ok=True)
    write(os.path.join(OUT, "torch_ref.safetensors"), ref_tensors(), REF_META)
    write(os.path.join(OUT, "unpadded.safetensors"),
          [("a", torch.tensor([1.0, 2.0, 3.0])), ("b", torch.tensor([2**53, -5], dtype=torch.int64))],
          {"format": "pt", "x": "y"}, pad=False)
    for name, spec in bad_files().items():
        path = os.path.join(OUT, name + ".safetensors")
        if spec is None:
            with open(path, "wb") as f:
                f.write(b"\x08\x00\x00\x00\x00")
        else:
            raw(path, *spec)
    print("wrote", len(bad_files()) + 2, "files to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
