#!/usr/bin/env python3
"""Writes a tiny CIFAR-10-format binary directory for smoke runs of the examples (plain Python, no
numpy, no download): data_batch_1..5.bin with --train images in all, test_batch.bin with --test,
and batches.meta.txt. Each image is a noisy version of its class's colour pattern (a two-colour
gradient whose direction depends on the class), so a network can learn something from 64 images.

    python3 tests/data/make_tiny_cifar.py OUT_DIR [--train 64] [--test 32] [--seed 0]

Record layout (CIFAR-10 binary): 1 label byte, then 1024 R, 1024 G, 1024 B bytes (rows of 32).
"""
import argparse
import os
import random

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def pattern(label):
    """Two RGB colours and a gradient direction per class, fixed (not seeded)."""
    r = random.Random(1000 + label)
    a = [r.randrange(256) for _ in range(3)]
    b = [r.randrange(256) for _ in range(3)]
    return a, b, label % 4


def image(label, rng):
    a, b, direction = pattern(label)
    out = bytearray()
    for c in range(3):
        for y in range(32):
            for x in range(32):
                t = (x, y, (x + y) / 2, (31 - x + y) / 2)[direction] / 31.0
                v = a[c] * (1 - t) + b[c] * t + rng.gauss(0, 24)
                out.append(max(0, min(255, int(round(v)))))
    return out


def write_batch(path, labels, rng):
    with open(path, "wb") as f:
        for label in labels:
            f.write(bytes([label]))
            f.write(image(label, rng))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--train", type=int, default=64)
    p.add_argument("--test", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.train < 5 or a.test < 1:
        p.error("need --train >= 5 (one image per batch file at least) and --test >= 1")
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    labels = [i % 10 for i in range(a.train)]
    rng.shuffle(labels)
    per = [a.train // 5 + (1 if k < a.train % 5 else 0) for k in range(5)]
    at = 0
    for k in range(5):
        write_batch(os.path.join(a.out, "data_batch_%d.bin" % (k + 1)), labels[at:at + per[k]], rng)
        at += per[k]
    test_labels = [i % 10 for i in range(a.test)]
    rng.shuffle(test_labels)
    write_batch(os.path.join(a.out, "test_batch.bin"), test_labels, rng)
    with open(os.path.join(a.out, "batches.meta.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    print("wrote %s: %d training images (5 batch files), %d test images" % (a.out, a.train, a.test))


if __name__ == "__main__":
    main()
