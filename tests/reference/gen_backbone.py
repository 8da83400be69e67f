#!/usr/bin/python3
"""gen_backbone.py — torchvision reference features for loom's image backbones (src/model/backbone.c).

Writes backbone.fix next to this script, read by tests/test_backbone.c: for resnet18, resnet34, vgg11 and
vgg16 the pooled 512-d feature of a 2x3x64x64 input (resnet: avgpool output flattened = fc's input;
vgg: features(x).mean((2, 3)), the spatial mean of the last max pool's output).
No weights are stored: every state_dict tensor is a closed-form function both sides compute, so the C
test writes the same file with torchvision's names and loads it through loom_backbone_load:
  seed  = FNV-1a 32-bit of the tensor's name (e.g. b"layer1.0.conv1.weight"; the input uses b"input")
  h     = (i * 2654435761 + seed) mod 2^32 for element i (row-major);  h ^= h >> 15;
          h = h * 2246822519 mod 2^32;  h ^= h >> 13;   u = (h >> 8) / 2^24  (exact in float32)
  r     = 2u - 1 in [-1, 1)
  conv weight  r * float32(sqrt(6 / fan_in))   (Kaiming-uniform bound, fan_in = C kh kw)
  conv bias    r * float32(0.01)
  bn weight    1 + 0.25 r      bn bias  0.1 r      running_mean 0.1 r      running_var 1 + 0.5 r
  num_batches_tracked 0;  fc / classifier tensors: not used by the feature (loaded with strict=False)
  input        2 r  (stands for a normalised image)
All products are single float32 operations, so C and numpy get the same bits.
Run: tests/reference/gen_backbone.py   (deterministic; ~10 s)
"""
import math
import os
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
M32 = 0xFFFFFFFF


def fnv1a(name):
    h = 2166136261
    for b in name.encode():
        h = ((h ^ b) * 16777619) & M32
    return h


def unit(name, n):
    i = np.arange(n, dtype=np.uint64)
    h = (i * np.uint64(2654435761) + np.uint64(fnv1a(name))) & np.uint64(M32)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) & np.uint64(M32)
    h ^= h >> np.uint64(13)
    u = (h >> np.uint64(8)).astype(np.float32) / np.float32(16777216.0)
    return np.float32(2.0) * u - np.float32(1.0)


def value(name, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    r = unit(name, n)
    leaf = name.rsplit(".", 1)[1]
    if name.endswith("num_batches_tracked"):
        return np.zeros(shape, dtype=np.int64)
    if len(shape) == 4:
        v = r * np.float32(math.sqrt(6.0 / (shape[1] * shape[2] * shape[3])))
    elif leaf == "running_mean":
        v = np.float32(0.1) * r
    elif leaf == "running_var":
        v = np.float32(1.0) + np.float32(0.5) * r
    elif ".bn" in name or "bn1" in name or "downsample.1" in name:
        v = np.float32(1.0) + np.float32(0.25) * r if leaf == "weight" else np.float32(0.1) * r
    else:  # conv bias (vgg)
        v = r * np.float32(0.01)
    return v.astype(np.float32).reshape(shape)


def main():
    torch.set_num_threads(1)
    x = torch.from_numpy((np.float32(2.0) * unit("input", 2 * 3 * 64 * 64)).reshape(2, 3, 64, 64))
    out = {"input_head": x.flatten()[:8]}
    for arch in ["resnet18", "resnet34", "vgg11", "vgg16"]:
        m = getattr(torchvision.models, arch)()
        sd = {}
        for k, t in m.state_dict().items():
            if k.startswith("fc.") or k.startswith("classifier."):
                continue
            sd[k] = torch.from_numpy(value(k, tuple(t.shape)))
        missing, unexpected = m.load_state_dict(sd, strict=False)
        assert all(k.startswith(("fc.", "classifier.")) for k in missing) and not unexpected
        m.eval()
        with torch.no_grad():
            if arch.startswith("resnet"):
                f = m.avgpool(m.layer4(m.layer3(m.layer2(m.layer1(m.maxpool(m.relu(m.bn1(m.conv1(x))))))))).flatten(1)
            else:
                f = m.features(x).mean((2, 3))
        first = next(iter(sd))
        out[arch + ".features"] = f
        out[arch + ".first_head"] = sd[first].flatten()[:8]  # checks the C side's formula
        out[arch + ".n_tensors"] = np.array([len(sd)], dtype=np.int32)
        print(arch, len(sd), "tensors, |f| max", float(f.abs().max()))
    fixture.write(os.path.join(HERE, "backbone.fix"), out)


if __name__ == "__main__":
    main()
