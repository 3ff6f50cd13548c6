#!/usr/bin/env python3
"""Before/after of a change on this noisy host: runs one benchmark binary from two builds (A, the
base, and B, the change), alternating A-B, B-A, ..., and prints per benchmark the median and range
of B's speed over A's (>1: B faster).

    python3 bench/ab_builds.py /tmp/base/build/bench/bench_conv build/bench/bench_conv conv 4 --conv
    python3 bench/ab_builds.py /tmp/base/build/bench/bench_resnet build/bench/bench_resnet \\
        'resnet18/train/8x224|resnet50/infer/8x224' 5

The third argument is a --benchmark_filter regex; TL_BENCH_SHAPES and TL_BENCH_MIN_TIME pass
through (the models' minimum time defaults to 2 s here). Threads: OMP_NUM_THREADS=2.
"""
import argparse
import os
import re
import statistics
import subprocess


def run(exe, flt, conv):
    env = dict(os.environ, OMP_NUM_THREADS="2")
    env.setdefault("TL_BENCH_MIN_TIME", "2")
    args = [exe, f"--benchmark_filter={flt}"] + (["--benchmark_min_time=0.3"] if conv else [])
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
    if conv:  # speed = 1 / time
        rows = re.finditer(r"conv/(\S+?)/min_time\S+\s+([0-9.]+) ms", out)
        return {m.group(1): 1.0 / float(m.group(2)) for m in rows}
    rows = re.finditer(r"(resnet\S+?)/min_time\S+.*?images_per_s=([0-9.]+)", out)
    return {m.group(1): float(m.group(2)) for m in rows}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base")
    ap.add_argument("change")
    ap.add_argument("filter")
    ap.add_argument("rounds", type=int)
    ap.add_argument("--conv", action="store_true", help="bench_conv (times) instead of bench_resnet (images/s)")
    args = ap.parse_args()
    ratios = {}
    for r in range(args.rounds):
        order = [0, 1] if r % 2 == 0 else [1, 0]
        res = {}
        for i in order:
            res[i] = run([args.base, args.change][i], args.filter, args.conv)
        for name, speed in res[0].items():
            if name in res[1]:
                ratios.setdefault(name, []).append(res[1][name] / speed)
    for name, v in ratios.items():
        print(f"{name:50s} speed B/A median {statistics.median(v):.3f}  range {min(v):.3f}-{max(v):.3f}  n={len(v)}")


if __name__ == "__main__":
    main()
