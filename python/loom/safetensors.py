"""A reader of safetensors files (the format loom's checkpoints, embeddings and item caches use):
read(path) -> (metadata dict, {name: array}). numpy arrays when numpy is installed, else
(dtype, shape, flat list) tuples from the standard library's array module."""
import array
import json
import struct
import sys

_NP = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
       "U8": "u1", "BOOL": "?"}
_ARRAY = {"F32": "f", "F64": "d", "I64": "q", "I32": "i", "I16": "h", "I8": "b", "U8": "B"}

try:
    import numpy as _np
except ImportError:
    _np = None


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} runs past the end of the file ({len(data)} bytes)")
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n:]
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        dt, shape = t["dtype"], list(t["shape"])
        raw = body[a:b]
        if _np is not None:
            if dt == "BF16":
                u = _np.frombuffer(raw, dtype="<u2").astype(_np.uint32) << 16
                out[name] = u.view(_np.float32).reshape(shape)
            else:
                out[name] = _np.frombuffer(raw, dtype=_NP[dt]).reshape(shape).copy()
        else:
            arr = array.array(_ARRAY[dt])
            arr.frombytes(bytes(raw))
            if sys.byteorder != "little":
                arr.byteswap()
            out[name] = (dt, shape, arr.tolist())
    return meta, out
