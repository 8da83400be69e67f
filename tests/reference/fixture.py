"""fixture.py — writes loom's test fixtures (tensors by name) for the C tests to read without Python.

Format "LOOMFIX1" (little-endian): magic[8], u32 count, then per tensor: u16 name length, name (UTF-8),
u8 dtype (0 = float32, 1 = int32), u8 ndim, u32 dims[ndim], the data row-major.
Read in C by tu_fixture_load() (tests/testutil.h).
"""
import struct

import numpy as np


def write(path, tensors):
    """tensors: dict name -> numpy array / torch tensor (float -> float32, int -> int32)."""
    with open(path, "wb") as f:
        f.write(b"LOOMFIX1")
        f.write(struct.pack("<I", len(tensors)))
        for name, value in tensors.items():
            if hasattr(value, "detach"):
                value = value.detach().cpu().numpy()
            a = np.asarray(value)
            if a.dtype.kind == "f":
                a, code = a.astype("<f4"), 0
            elif a.dtype.kind in "iub":
                a, code = a.astype("<i4"), 1
            else:
                raise TypeError(f"{name}: unsupported dtype {a.dtype}")
            a = np.ascontiguousarray(a)
            if a.ndim == 0:
                a = a.reshape(1)
            raw = name.encode()
            f.write(struct.pack("<H", len(raw)) + raw)
            f.write(struct.pack("<BB", code, a.ndim))
            f.write(struct.pack("<%dI" % a.ndim, *a.shape))
            f.write(a.tobytes())
