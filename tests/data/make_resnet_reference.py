"""PyTorch references for tl's ResNet family (tests/models/).

Run with Debian's /usr/bin/python3 (python3-torch 1.13, python3-torchvision 0.14). No downloads:
every weight is random and seeded. Three jobs:

  make_resnet_reference.py keys OUT.txt
      torchvision's state_dict keys, shapes and dtypes, in order, and parameter counts, for every
      factory tl mirrors. Committed as tests/data/resnet_keys.txt.

  make_resnet_reference.py hash OUT.bin
      Small models whose weights and inputs come from a counter hash (splitmix64) that the C++ test
      recomputes bit for bit, so only outputs are stored. Committed as tests/data/resnet_hash_ref.bin
      (a few kB): numerical checks run even where torch is absent.

  make_resnet_reference.py verify NAME FILE.pth FILE.safetensors
      Checks that files tl wrote load in PyTorch: the .pth with torch.load(weights_only=True), the
      .safetensors with a minimal reader; both strictly into torchvision's NAME, with equal values.
      Exit status 0 when they do.

  make_resnet_reference.py random OUTDIR
      The issue's full-size check: ResNet-18, ResNet-50 and ResNeXt-50 at 224x224 with torchvision's
      seeded init plus randomised BN weight/bias and running statistics. Per model, OUTDIR gets
      <name>_ref.tlref (weights as "w/<key>", "input", eval "logits"; for resnet18 also train-mode
      "train/output" and the updated statistics "train/<key>"), and the weight files
      <name>.pth (torch.save zip), <name>_legacy.pth (pre-1.6 format) and <name>.safetensors.
      Too large to commit (~100 MB for ResNet-50): the C++ test runs this at test time when
      torch is importable.

With no arguments, rewrites the two committed files next to this script.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tlref import write_ref  # noqa: E402

FACTORIES = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2"]


def build(name, num_classes=1000):
    return getattr(torchvision.models, name)(weights=None, num_classes=num_classes)


# ---- keys ----
def write_keys(path):
    lines = []
    for name in FACTORIES:
        m = build(name)
        sd = m.state_dict()
        count = sum(p.numel() for p in m.parameters())
        lines.append(f"model {name} params {count} entries {len(sd)}")
        for k, t in sd.items():
            dims = ",".join(str(d) for d in t.shape)
            lines.append(f"{k} [{dims}] {str(t.dtype).replace('torch.', '')}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# ---- counter-hash weights (mirrored in tests/models/hash_weights.hpp) ----
M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(x):
    """splitmix64's output function on a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def hash_uniform(stream, n, lo, hi):
    """n values: lo + (hi - lo) * u, u in [0, 1) from splitmix64((stream << 32) | i), rounded to f32."""
    i = np.arange(n, dtype=np.uint64)
    u = (splitmix64((np.uint64(stream) << np.uint64(32)) | i) >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)
    return (lo + (hi - lo) * u).astype(np.float32)


def hash_range(name, shape):
    """The value range of each state_dict entry, by its name and shape (same rule in C++)."""
    if name.endswith("num_batches_tracked"):
        return None
    if len(shape) == 4:  # conv: kaiming-uniform-like with fan_out
        b = (6.0 / (shape[0] * shape[2] * shape[3])) ** 0.5
        return (-b, b)
    if len(shape) == 2:  # fc.weight
        b = 1.0 / shape[1] ** 0.5
        return (-b, b)
    if name == "fc.bias":
        return (-0.1, 0.1)
    if name.endswith("running_var") or name.endswith(".weight"):
        return (0.5, 1.5)
    return (-0.2, 0.2)  # BN bias, running_mean


INPUT_STREAM = 0xFFFF


def fill_hash(model):
    sd = model.state_dict()
    with torch.no_grad():
        for k, (name, t) in enumerate(sd.items()):
            r = hash_range(name, list(t.shape))
            if r is None:
                t.fill_(3)
            else:
                t.copy_(torch.from_numpy(hash_uniform(k + 1, t.numel(), *r)).reshape(t.shape))


def hash_input(shape):
    n = int(np.prod(shape))
    return torch.from_numpy(hash_uniform(INPUT_STREAM, n, -2.0, 2.0)).reshape(shape)


def small_stem(model):
    """tl's small_input option: a 3x3 stride-1 conv1 and no max-pool (CIFAR-style)."""
    model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    model.maxpool = torch.nn.Identity()
    return model


def write_hash(path):
    out = {}
    cases = [  # (tag, factory, num_classes, small stem, input shape, also train mode)
        ("resnet18", "resnet18", 1000, False, [2, 3, 64, 64], True),
        ("resnet18_small", "resnet18", 10, True, [2, 3, 32, 32], True),
        ("resnet50", "resnet50", 1000, False, [1, 3, 64, 64], False),
        ("resnext50", "resnext50_32x4d", 1000, False, [1, 3, 32, 32], False),
        ("wide50", "wide_resnet50_2", 1000, False, [1, 3, 32, 32], False),
    ]
    for tag, factory, classes, small, shape, train in cases:
        m = build(factory, classes)
        if small:
            small_stem(m)
        fill_hash(m)
        x = hash_input(shape)
        m.eval()
        with torch.no_grad():
            out[f"{tag}/logits"] = m(x)
        if train:
            m.train()
            with torch.no_grad():
                out[f"{tag}/train_output"] = m(x)
            for k, t in m.state_dict().items():
                if "running" in k:
                    out[f"{tag}/{k}"] = t
    write_ref(path, out)


# ---- full-size random models ----
def randomise_bn(model, gen):
    """Random BN affine parameters and running statistics, so that eval mode tests them."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.empty_like(m.weight).uniform_(0.5, 1.5, generator=gen))
                m.bias.copy_(torch.empty_like(m.bias).normal_(0.0, 0.1, generator=gen))
                m.running_mean.copy_(torch.empty_like(m.running_mean).normal_(0.0, 0.1, generator=gen))
                m.running_var.copy_(torch.empty_like(m.running_var).uniform_(0.5, 1.5, generator=gen))
                m.num_batches_tracked.fill_(5)


SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.float16: "F16"}


def save_safetensors(path, sd):
    """A minimal safetensors writer (the Python package is not in Debian 12)."""
    header, blobs, offset = {}, [], 0
    for k, t in sd.items():
        t = t.detach().contiguous()
        b = t.numpy().tobytes()
        header[k] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


TORCH_DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    out = {}
    for k, v in header.items():
        b, e = v["data_offsets"]
        out[k] = torch.frombuffer(bytearray(data[b:e]), dtype=TORCH_DTYPES[v["dtype"]]).reshape(v["shape"])
    return out


def verify(name, pth, st):
    a = torch.load(pth, weights_only=True)
    b = load_safetensors(st)
    m = build(name, a["fc.weight"].shape[0])
    m.load_state_dict(a)  # strict
    m.load_state_dict(b)
    assert list(a.keys()) == list(m.state_dict().keys()), "key order differs from torchvision's"
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k
    print(f"verify: {pth} and {st} load into torchvision {name} ({len(a)} entries)")


def write_random(outdir):
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    cases = [("resnet18", 2, True), ("resnet50", 1, False), ("resnext50_32x4d", 1, False)]
    for seed, (name, batch, train) in enumerate(cases):
        torch.manual_seed(1234 + seed)
        m = build(name)
        gen = torch.Generator().manual_seed(99 + seed)
        randomise_bn(m, gen)
        x = torch.randn(batch, 3, 224, 224, generator=gen)
        sd = m.state_dict()
        torch.save(sd, os.path.join(outdir, f"{name}.pth"))
        torch.save(sd, os.path.join(outdir, f"{name}_legacy.pth"), _use_new_zipfile_serialization=False)
        save_safetensors(os.path.join(outdir, f"{name}.safetensors"), sd)
        ref = {f"w/{k}": t.clone() for k, t in sd.items()}
        ref["input"] = x
        m.eval()
        with torch.no_grad():
            ref["logits"] = m(x)
        if train:
            m.train()
            with torch.no_grad():
                ref["train/output"] = m(x)
            for k, t in m.state_dict().items():
                if "running" in k or "num_batches" in k:
                    ref[f"train/{k}"] = t
        tmp = os.path.join(outdir, f"{name}_ref.tlref.tmp")
        write_ref(tmp, ref)
        os.replace(tmp, os.path.join(outdir, f"{name}_ref.tlref"))  # atomic: the test checks for this file


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    if len(sys.argv) == 1:
        write_keys(os.path.join(here, "resnet_keys.txt"))
        write_hash(os.path.join(here, "resnet_hash_ref.bin"))
    elif sys.argv[1] == "keys":
        write_keys(sys.argv[2])
    elif sys.argv[1] == "hash":
        write_hash(sys.argv[2])
    elif sys.argv[1] == "verify":
        verify(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "random":
        write_random(sys.argv[2])
    else:
        sys.exit(__doc__)
