"""Writes the small weight-file fixtures of tests/io into tests/data/weights/.

Run with Debian's /usr/bin/python3 (python3-torch 1.13). Seeded, no downloads. Writes:
  sd_zip.pth          torch.save(sd)                                  (zip format)
  sd_legacy.pth       torch.save(sd, _use_new_zipfile_serialization=False)
  checkpoint.pth      {"epoch": 3, "model_state_dict": sd, "optimizer": {...}, ...}
  dataparallel.pth    {"module." + k: v}
  sd.safetensors      written by hand (struct + json; Debian has no python3-safetensors)
  torchscript.pt      a TorchScript archive (must be refused with a clear message)
  malicious_os_system.pth / malicious_legacy.pth: pickles that would call os.system; NEVER loaded
                      here, only written as bytes
  weights_ref.bin     TLREF1 file with every tensor's expected values (float64)
The state dict mixes float tensors, a non-contiguous transposed view, two tensors viewing one
storage at offsets, a 0-d int64 num_batches_tracked, float64/int32/float16/bfloat16 tensors,
a 0-d float, an empty tensor and an nn.Parameter.
"""
import collections
import json
import os
import struct
import sys
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tlref import write_ref  # noqa: E402

OUT = os.path.join(HERE, "weights")


def state_dict():
    g = torch.Generator().manual_seed(1234)
    sd = collections.OrderedDict()
    sd["conv1.weight"] = torch.randn(4, 3, 3, 3, generator=g)
    sd["bn1.weight"] = torch.rand(4, generator=g) + 0.5
    sd["bn1.bias"] = torch.randn(4, generator=g)
    sd["bn1.running_mean"] = torch.randn(4, generator=g)
    sd["bn1.running_var"] = torch.rand(4, generator=g) + 0.1
    sd["bn1.num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
    base = torch.randn(3, 5, generator=g)
    sd["fc.weight"] = base.t()  # [5, 3] non-contiguous view (strides (1, 5))
    shared = torch.randn(12, generator=g)
    sd["shared.a"] = shared[2:8].view(2, 3)  # offset 2 into one storage
    sd["shared.b"] = shared[6:12]  # offset 6, overlapping a: both read the same storage
    sd["double"] = torch.randn(2, 3, generator=g, dtype=torch.float64)
    sd["int32"] = torch.tensor([1, -2, 2147483647, -2147483648], dtype=torch.int32)
    sd["half"] = torch.tensor([1.5, -0.25, 65504.0, 6.0e-8], dtype=torch.float16)
    sd["bf16"] = torch.tensor([3.0, -1.0e30, 0.1], dtype=torch.bfloat16)
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["head.param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    return sd


def safetensors_bytes(sd):
    names = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
             torch.float16: "F16", torch.bfloat16: "BF16"}
    header, blobs, pos = {"__metadata__": {"format": "pt", "source": "make_weights_fixtures.py"}}, [], 0
    for k, v in sd.items():
        v = v.detach().contiguous()
        raw = v.view(torch.int16).numpy().tobytes() if v.dtype == torch.bfloat16 else v.numpy().tobytes()
        header[k] = {"dtype": names[v.dtype], "shape": list(v.shape), "data_offsets": [pos, pos + len(raw)]}
        blobs.append(raw)
        pos += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def malicious_pickle():
    # GLOBAL os.system, ('echo pwned',), REDUCE: would run a shell command if unpickled by Python.
    cmd = b"echo pwned"
    return b"\x80\x02cos\nsystem\nX" + struct.pack("<I", len(cmd)) + cmd + b"\x85R."


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = state_dict()
    torch.save(sd, os.path.join(OUT, "sd_zip.pth"))
    torch.save(sd, os.path.join(OUT, "sd_legacy.pth"), _use_new_zipfile_serialization=False)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    torch.save({"epoch": 3, "model_state_dict": sd, "optimizer": opt.state_dict(), "loss": 0.25,
                "notes": ["a", None, True, (1, 2.5)]}, os.path.join(OUT, "checkpoint.pth"))
    torch.save(collections.OrderedDict(("module." + k, v) for k, v in sd.items()),
               os.path.join(OUT, "dataparallel.pth"))
    with open(os.path.join(OUT, "sd.safetensors"), "wb") as f:
        f.write(safetensors_bytes(sd))
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 1)), os.path.join(OUT, "torchscript.pt"))
    with zipfile.ZipFile(os.path.join(OUT, "malicious_os_system.pth"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", malicious_pickle())
        z.writestr("archive/version", "3\n")
    legacy_head = b"".join([b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.",  # magic
                            b"\x80\x02M\xe9\x03.",  # protocol 1001
                            b"\x80\x02}q\x00X\x0d\x00\x00\x00little_endianq\x01\x88s."])  # sys_info
    with open(os.path.join(OUT, "malicious_legacy.pth"), "wb") as f:
        f.write(legacy_head + malicious_pickle())
    ref = collections.OrderedDict((k, v.detach().double()) for k, v in sd.items())
    write_ref(os.path.join(OUT, "weights_ref.bin"), ref)
    # What tl must reproduce exactly: the strides/offsets torch.save keeps.
    assert sd["fc.weight"].stride() == (1, 5) and sd["shared.b"].storage_offset() == 6


if __name__ == "__main__":
    main()
