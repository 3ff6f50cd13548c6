"""Writes TLREF1 files (read by tests/support/ref_file.hpp): named float64 tensors.

Used by the reference generators in this folder; run them with Debian's /usr/bin/python3
(python3-torch). Format: b"TLREF1\n", then per tensor: u32 name length, name (utf-8), u32 ndim,
i64 dims, f64 values (row-major).
"""
import struct


def write_ref(path, tensors):
    with open(path, "wb") as f:
        f.write(b"TLREF1\n")
        for name, t in tensors.items():
            t = t.detach().to("cpu").double().contiguous()
            b = name.encode()
            f.write(struct.pack("<I", len(b)))
            f.write(b)
            f.write(struct.pack("<I", t.dim()))
            for d in t.shape:
                f.write(struct.pack("<q", d))
            f.write(t.numpy().astype("<f8").tobytes())
