#!/usr/bin/env python3
"""Runs tl's bench_conv and PyTorch's bench/compare_pytorch.py on the same conv shapes, alternating
rounds (tl, torch, tl, torch, ...) so both see the same machine load, and prints one table:
per shape and pass, GFLOPS of each (best round), % of the FMA peak, and the tl/PyTorch ratio.
Also GFLOPS per CPU-second (process CPU time, all threads): on a shared, loaded host this measures
how well each uses the cycles it gets, and is far steadier than wall-clock time.

Usage: python3 bench/compare.py [--build build-kernels] [--rounds 2] [--min-time 0.3] [--filter STR]
       [--markdown] [--models] [--memory] [--pool] [--shapes resnet|resnet18_32|resnet50_224|resnet18_224]
       [--passive] [--no-malloc-env]
--models compares whole ResNets instead (bench_resnet vs torchvision models), images per second.
--pool compares max pooling with indices (bench_pool vs torch max_pool2d), ms per call.
--memory compares the peak RSS of one model step (default ResNet-50 training, batch 8, 224x224).
--no-malloc-env runs both with glibc malloc's default settings (as users run them).
Needs a build with -DTL_BUILD_BENCH=ON (target bench_conv) and Debian's python3-torch.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


PASSIVE = False  # --passive: OMP_WAIT_POLICY=passive for both sides
MALLOC_ENV = True  # --no-malloc-env: leave glibc malloc at its defaults, as users get it


def bench_env():
    env = dict(os.environ)
    if PASSIVE:
        # On a host shared with other busy processes, libgomp's default spin-waiting at every barrier
        # holds a core while the thread it waits for is descheduled: both libraries slow 5-15x (seen
        # at load 15 on 2 cores). Passive waiting sleeps instead; use it when the host is not quiet.
        env["OMP_WAIT_POLICY"] = "passive"
    env.setdefault("OMP_NUM_THREADS", "2")
    env["OPENBLAS_NUM_THREADS"] = "1"  # OpenBLAS threads fight OpenMP threads
    if MALLOC_ENV:
        # glibc returning memory to the OS per op costs PyTorch up to 4x on small layers (machine.md).
        env["MALLOC_MMAP_THRESHOLD_"] = "4294967296"
        env["MALLOC_TRIM_THRESHOLD_"] = "68719476736"
    else:
        env.pop("MALLOC_MMAP_THRESHOLD_", None)
        env.pop("MALLOC_TRIM_THRESHOLD_", None)
    return env


def run_tl(build, min_time, flt, shapes):
    exe = os.path.join(build, "bench", "bench_conv")
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    cmd = [exe, f"--benchmark_min_time={min_time}", f"--benchmark_out={out}", "--benchmark_out_format=json",
           "--benchmark_format=console"]
    if flt:
        cmd.append(f"--benchmark_filter={flt}")
    env = bench_env()
    env["TL_BENCH_SHAPES"] = shapes
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    with open(out) as f:
        data = json.load(f)
    os.unlink(out)
    after = None
    for line in p.stderr.splitlines():
        if line.startswith("fma_peak_gflops"):
            after = line
    res = {}
    for b in data["benchmarks"]:
        _, pass_, shape = b["name"].split("/")[:3]
        res[(pass_, shape)] = {"gflops": b["GFLOPS"], "gflops_cpu": b["GFLOPS_cpu"], "ms": b["real_time"]}
    ctx = data["context"]
    return res, float(ctx["fma_peak_gflops_before"]), float(ctx["fma_peak_per_cpu_gflops_before"]), after


def run_torch(min_time, flt, shapes):
    cmd = ["/usr/bin/python3", os.path.join(HERE, "compare_pytorch.py"), "--min-time", str(min_time),
           "--shapes", shapes]
    if flt:
        cmd += ["--filter", flt]
    p = subprocess.run(cmd, env=bench_env(), capture_output=True, text=True, check=True)
    res = {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        res[(r["pass"], r["shape"])] = r
    return res


def run_tl_models(build, flt):
    """{model: (images/s, images per CPU-second)}, and bench_resnet's peak RSS / tensor memory lines."""
    cmd = [os.path.join(build, "bench", "bench_resnet"), "--benchmark_format=json"]
    if flt:
        cmd.append(f"--benchmark_filter={flt}")
    p = subprocess.run(cmd, env=bench_env(), capture_output=True, text=True, check=True)
    data = json.loads(p.stdout)
    mem = [line for line in p.stderr.splitlines() if line.startswith(("peak_rss", "tensor_memory"))]
    return {b["name"].split("/min_time")[0].split("/real_time")[0]: (b["images_per_s"], b.get("images_per_cpu_s", 0))
            for b in data["benchmarks"]}, mem


def run_torch_models(min_time, flt, layout="best"):
    cmd = ["/usr/bin/python3", os.path.join(HERE, "compare_pytorch.py"), "--models", "--min-time", str(min_time),
           "--layout", layout]
    if flt:
        cmd += ["--filter", flt]
    p = subprocess.run(cmd, env=bench_env(), capture_output=True, text=True, check=True)
    return {r["model"]: r for r in map(json.loads, p.stdout.splitlines())}


def models_table(args):
    tl, th = {}, {}
    for rnd in range(args.rounds):
        print(f"round {rnd + 1}/{args.rounds}: tl models ...", file=sys.stderr, flush=True)
        r, mem = run_tl_models(args.build, args.filter)
        for k, v in r.items():
            old = tl.get(k, (0, 0))
            tl[k] = (max(old[0], v[0]), max(old[1], v[1]))
        print(f"round {rnd + 1}/{args.rounds}: pytorch models ...", file=sys.stderr, flush=True)
        for k, v in run_torch_models(args.min_time, args.filter).items():
            if k not in th or v["images_per_s"] > th[k]["images_per_s"]:
                v = dict(v, images_per_cpu_s=max(v["images_per_cpu_s"], th[k]["images_per_cpu_s"] if k in th else 0))
                th[k] = v
            else:
                th[k]["images_per_cpu_s"] = max(th[k]["images_per_cpu_s"], v["images_per_cpu_s"])
        print(f"  tl {mem}", file=sys.stderr)
    print("| model | tl images/s | torch images/s | torch layout | tl/torch | tl img/cpu-s | torch img/cpu-s "
          "| tl/torch (cpu) |")
    print("|---|---|---|---|---|---|---|---|")
    for k, (v, vc) in tl.items():
        if k in th:
            p = th[k]
            pc = p["images_per_cpu_s"]
            print(f"| {k} | {v:.2f} | {p['images_per_s']:.2f} | {p['layout']} | {v / p['images_per_s']:.2f} | "
                  f"{vc:.2f} | {pc:.2f} | {vc / pc if pc else 0:.2f} |")


def pool_table(args):
    """--pool: bench_pool's fast kernel against PyTorch's max_pool2d with indices, best round each, ms per call."""
    tl, th = {}, {}
    for rnd in range(args.rounds):
        print(f"round {rnd + 1}/{args.rounds}: tl pools ...", file=sys.stderr, flush=True)
        exe = os.path.join(args.build, "bench", "bench_pool")
        p = subprocess.run([exe, "--benchmark_filter=pool/fast/", "--benchmark_format=json"], env=bench_env(),
                           capture_output=True, text=True, check=True)
        for b in json.loads(p.stdout)["benchmarks"]:
            shape = b["name"].split("/")[2]
            tl[shape] = min(tl.get(shape, float("inf")), b["real_time"])  # ms (kMillisecond)
        print(f"round {rnd + 1}/{args.rounds}: pytorch pools ...", file=sys.stderr, flush=True)
        cmd = ["/usr/bin/python3", os.path.join(HERE, "compare_pytorch.py"), "--pool", "--min-time", str(args.min_time)]
        p = subprocess.run(cmd, env=bench_env(), capture_output=True, text=True, check=True)
        for r in map(json.loads, p.stdout.splitlines()):
            if r["pool"] not in th or r["ms"] < th[r["pool"]]["ms"]:
                th[r["pool"]] = r
    print("| max pool (planes x H x W, kernel, stride, padding) | tl ms | torch ms | torch layout | tl/torch speed |")
    print("|---|---|---|---|---|")
    for k, v in tl.items():
        if k in th:
            print(f"| {k} | {v:.3f} | {th[k]['ms']:.3f} | {th[k]['layout']} | {th[k]['ms'] / v:.2f} |")


def memory_table(args):
    """Peak RSS of one model step (default the ResNet-50 training step, batch 8, 224x224): each run a
    fresh process (ru_maxrss is per process), tl and PyTorch in NCHW and channels_last alternately;
    the lowest peak of the rounds is kept for each."""
    flt = args.filter or "resnet50/train/8x224"
    peaks = {}
    for rnd in range(args.rounds):
        print(f"round {rnd + 1}/{args.rounds}: {flt} ...", file=sys.stderr, flush=True)
        r, mem = run_tl_models(args.build, flt)
        rss = float(next(line for line in mem if line.startswith("peak_rss")).split()[1])
        print(f"  tl {mem}", file=sys.stderr)
        peaks.setdefault("tl", []).append(rss)
        for layout in ("nchw", "channels_last"):
            for k, v in run_torch_models(args.min_time, flt, layout).items():
                peaks.setdefault(f"torch {layout}", []).append(v["peak_rss_mib"])
                print(f"  torch {layout} {k}: {v['peak_rss_mib']:.0f} MiB", file=sys.stderr)
    tl_peak = min(peaks["tl"])
    print(f"| {flt} | peak RSS MiB (min of {args.rounds}) | tl / this |")
    print("|---|---|---|")
    for k, v in peaks.items():
        print(f"| {k} | {min(v):.0f} | {tl_peak / min(v):.2f} |")


def best(a, b, key):
    if a is None:
        return b
    return a if a[key] >= b[key] else b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build-kernels"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--filter", default="")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--shapes", default="resnet", choices=["resnet", "resnet18_32", "resnet50_224", "resnet18_224"],
                    help="conv shape set: the issue's (resnet) or ResNet-18's layers at 32x32, batch 32")
    ap.add_argument("--models", action="store_true", help="whole ResNets (bench_resnet) instead of conv layers")
    ap.add_argument("--passive", action="store_true",
                    help="OMP_WAIT_POLICY=passive for both libraries (for a loaded, shared host)")
    ap.add_argument("--no-malloc-env", action="store_true",
                    help="do not set glibc's MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ (and unset them): "
                         "malloc as users get it")
    ap.add_argument("--memory", action="store_true",
                    help="peak RSS of one model step, tl vs PyTorch (--filter, default resnet50/train/8x224)")
    ap.add_argument("--pool", action="store_true", help="max pooling (bench_pool) instead of conv layers")
    args = ap.parse_args()
    global PASSIVE, MALLOC_ENV
    PASSIVE = args.passive
    MALLOC_ENV = not args.no_malloc_env
    if args.memory:
        memory_table(args)
        return
    if args.models:
        models_table(args)
        return
    if args.pool:
        pool_table(args)
        return

    tl, th, peaks, peaks_cpu, afters = {}, {}, [], [], []
    for rnd in range(args.rounds):
        print(f"round {rnd + 1}/{args.rounds}: tl ...", file=sys.stderr, flush=True)
        r, peak, peak_cpu, after = run_tl(args.build, args.min_time, args.filter, args.shapes)
        peaks.append(peak)
        peaks_cpu.append(peak_cpu)
        afters.append(after)
        for k, v in r.items():
            tl[k] = best(tl.get(k), v, "gflops")
            tl[k]["gflops_cpu"] = max(tl[k]["gflops_cpu"], v["gflops_cpu"])
        print(f"round {rnd + 1}/{args.rounds}: pytorch ...", file=sys.stderr, flush=True)
        for k, v in run_torch(args.min_time, args.filter, args.shapes).items():
            keep = best(th.get(k), v, "gflops")
            keep = dict(keep)
            keep["gflops_cpu"] = max(v["gflops_cpu"], th[k]["gflops_cpu"] if k in th else 0)
            th[k] = keep

    peak, peak_cpu = max(peaks), max(peaks_cpu)
    print(f"FMA peak probe (2 threads, wall): {', '.join(f'{p:.0f}' for p in peaks)} GFLOPS before each tl round; "
          f"per CPU-second (one core): {', '.join(f'{p:.0f}' for p in peaks_cpu)}")
    for a in afters:
        print(f"  after: {a}")
    sep = "|" if args.markdown else " "
    hdr = ["pass", "shape", "tl GFLOPS", "% peak", "torch GFLOPS", "torch layout", "tl/torch",
           "tl GF/cpu-s", "% core peak", "torch GF/cpu-s", "tl/torch (cpu)"]
    rows = []
    for (pass_, shape), t in tl.items():
        if (pass_, shape) not in th:
            continue
        p = th[(pass_, shape)]
        rows.append([pass_, shape, f"{t['gflops']:.1f}", f"{100 * t['gflops'] / peak:.0f}", f"{p['gflops']:.1f}",
                     p["layout"], f"{t['gflops'] / p['gflops']:.2f}", f"{t['gflops_cpu']:.1f}",
                     f"{100 * t['gflops_cpu'] / peak_cpu:.0f}", f"{p['gflops_cpu']:.1f}",
                     f"{t['gflops_cpu'] / p['gflops_cpu']:.2f}"])
    if args.markdown:
        print("| " + " | ".join(hdr) + " |")
        print("|" + "|".join("---" for _ in hdr) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(hdr)]
        print("  ".join(h.ljust(w) for h, w in zip(hdr, widths)))
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print_model_sums(args.shapes, tl, th)


def print_model_sums(shapes, tl, th):
    """A whole model's conv time per pass: each distinct layer's best time times how many layers have
    it. The stem's backward data is left out: training never computes it (the images need no grad)."""
    sys.path.insert(0, HERE)
    from model_shapes import MODEL_SHAPES, layer_kind, shape_name
    if shapes not in MODEL_SHAPES:
        return
    model, layers = MODEL_SHAPES[shapes]
    print(f"\n{model} batch 8 at 224x224, conv layers summed with their counts (ms):")
    totals, summed, kinds = [0.0, 0.0], 0, {}
    for pass_ in ("fwd", "bwd_data", "bwd_weight"):
        timed = [(s, n) for i, (s, n) in enumerate(layers) if pass_ != "bwd_data" or i > 0]  # layer 0: the stem
        keys = [((pass_, shape_name(s)), n) for s, n in timed]
        if not any(k in tl for k, _ in keys):
            continue  # --filter left the pass out
        missing = [k[1] for k, _ in keys if k not in tl or k not in th]
        if missing:  # bench_util.hpp and model_shapes.py disagree
            print(f"  {pass_}: not summed, no times for {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
            continue
        t = sum(tl[k]["ms"] * n for k, n in keys)
        p = sum(th[k]["ms"] * n for k, n in keys)
        totals, summed = [totals[0] + t, totals[1] + p], summed + 1
        print(f"  {pass_}: tl {t:.1f}, torch {p:.1f}, torch/tl {p / t:.2f}")
        for (k, n), (s, _) in zip(keys, timed):
            acc = kinds.setdefault(layer_kind(s), [0.0, 0.0])
            acc[0] += tl[k]["ms"] * n
            acc[1] += th[k]["ms"] * n
    if summed > 1:
        print(f"  passes timed, together: tl {totals[0]:.1f}, torch {totals[1]:.1f}, torch/tl {totals[1] / totals[0]:.2f}")
    if kinds:
        print("  by kind of layer, the passes timed (ms, share of tl's time, torch/tl):")
        for kind, (t, p) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
            share = 100 * t / totals[0]
            print(f"    {kind:28s} tl {t:6.1f} ({share:4.1f}%), torch {p:6.1f}, torch/tl {p / t:.2f}")


if __name__ == "__main__":
    main()
