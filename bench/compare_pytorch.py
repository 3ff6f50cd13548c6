#!/usr/bin/python3
"""Times PyTorch's CPU convolutions on the conv shapes of bench_conv.cpp (issue #4), forward,
backward-data and backward-weight, at its best of NCHW and channels_last, and prints one JSON
object per line: {"pass", "shape", "ms", "gflops", "layout", "cpu_ms", "gflops_cpu"} where ms is the
mean wall time of a call and cpu_ms the process CPU time per call (all threads).

Run with Debian's torch:  OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/compare_pytorch.py
(bench/compare.py sets the environment, including the glibc malloc thresholds, and runs tl next to it.)
"""
import argparse
import json
import os
import resource
import time

import torch

from model_shapes import MODEL_SHAPES

SHAPES = [  # N, C, H, W, K, R, S, stride, pad -- same order as tl_bench::resnet_conv_shapes()
    (32, 16, 32, 32, 16, 3, 3, 1, 1), (32, 64, 32, 32, 64, 3, 3, 1, 1), (32, 128, 16, 16, 128, 3, 3, 1, 1),
    (32, 256, 8, 8, 256, 3, 3, 1, 1), (8, 3, 224, 224, 64, 7, 7, 2, 3), (8, 64, 56, 56, 64, 3, 3, 1, 1),
    (8, 256, 56, 56, 64, 1, 1, 1, 0), (8, 512, 28, 28, 128, 1, 1, 1, 0), (8, 256, 14, 14, 256, 3, 3, 1, 1),
    (8, 512, 7, 7, 512, 3, 3, 1, 1),
]
SHAPES_RESNET18_32 = [  # same as tl_bench::resnet18_32_conv_shapes(): ResNet-18 layers at 32x32, batch 32
    (32, 3, 32, 32, 64, 7, 7, 2, 3), (32, 64, 8, 8, 64, 3, 3, 1, 1), (32, 64, 8, 8, 128, 3, 3, 2, 1),
    (32, 128, 4, 4, 128, 3, 3, 1, 1), (32, 64, 8, 8, 128, 1, 1, 2, 0), (32, 128, 4, 4, 256, 3, 3, 2, 1),
    (32, 256, 2, 2, 256, 3, 3, 1, 1), (32, 128, 4, 4, 256, 1, 1, 2, 0), (32, 256, 2, 2, 512, 3, 3, 2, 1),
    (32, 512, 1, 1, 512, 3, 3, 1, 1), (32, 256, 2, 2, 512, 1, 1, 2, 0),
]
SHAPE_SETS = {"resnet": SHAPES, "resnet18_32": SHAPES_RESNET18_32,
              **{k: [s for s, _ in v[1]] for k, v in MODEL_SHAPES.items()}}
PASSES = ["fwd", "bwd_data", "bwd_weight"]
POOL_SHAPES = [  # planes, H (= W), kernel, stride, padding -- same as bench/bench_pool.cpp
    (8 * 64, 112, 3, 2, 1), (32 * 64, 32, 3, 2, 1), (8 * 64, 56, 2, 2, 0), (8 * 64, 56, 3, 1, 1),
]


def run_pools(args):
    """--pool: max_pool2d with indices (what training keeps), batch of planes as N x 64 channels."""
    for planes, h, k, st, p in POOL_SHAPES:
        name = f"{planes}x{h}x{h}_k{k}_s{st}_p{p}"
        best = None
        for cl in (False, True):
            fmt = torch.channels_last if cl else torch.contiguous_format
            x = torch.rand(planes // 64, 64, h, h).to(memory_format=fmt)
            t, cpu = time_call(lambda: torch.nn.functional.max_pool2d(x, k, st, p, return_indices=True),
                               args.min_time)
            if best is None or t < best[0]:
                best = (t, "channels_last" if cl else "nchw", cpu)
        print(json.dumps({"pool": name, "ms": best[0] * 1e3, "layout": best[1], "cpu_ms": best[2] * 1e3,
                          "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)


def shape_name(s):
    n, c, h, w, k, r, s_, st, p = s
    return f"{n}x{c}x{h}x{w}_k{k}_{r}x{s_}_s{st}_p{p}"


def flops(s):
    n, c, h, w, k, r, s_, st, p = s
    P = (h + 2 * p - r) // st + 1
    Q = (w + 2 * p - s_) // st + 1
    return 2 * n * k * P * Q * c * r * s_


def make_call(s, pass_, channels_last):
    n, c, h, w, k, r, s_, st, p = s
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(n, c, h, w).to(memory_format=fmt)
    wt = torch.randn(k, c, r, s_).to(memory_format=fmt)
    y = torch.nn.functional.conv2d(x, wt, None, st, p)
    dy = torch.randn_like(y).to(memory_format=fmt)
    if pass_ == "fwd":
        return lambda: torch.nn.functional.conv2d(x, wt, None, st, p)
    mask = [pass_ == "bwd_data", pass_ == "bwd_weight", False]
    # The op autograd calls for a convolution's backward (oneDNN on CPU for float).
    return lambda: torch.ops.aten.convolution_backward(dy, x, wt, None, [st, st], [p, p], [1, 1], False, [0, 0], 1, mask)


def time_call(fn, min_time):
    """Mean wall seconds per call (as Google Benchmark reports for tl), and process CPU seconds per
    call (all threads), over the same calls."""
    fn()  # warm-up (allocations, oneDNN primitive creation)
    calls = 0
    start, cpu0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < min_time or calls < 3:
        fn()
        calls += 1
    return (time.perf_counter() - start) / calls, (time.process_time() - cpu0) / calls


MODEL_CASES = [  # depth, train, batch, size -- same as bench_resnet.cpp
    (18, True, 32, 32), (18, True, 8, 224), (18, False, 8, 224), (18, False, 32, 32),
    (50, False, 8, 224), (50, False, 32, 32), (50, True, 8, 224),
]


def model_name(c):
    depth, train, batch, size = c
    return f"resnet{depth}/{'train' if train else 'infer'}/{batch}x{size}"


def time_model(c, channels_last, min_time):
    import torchvision
    depth, train, batch, size = c
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = (torchvision.models.resnet18 if depth == 18 else torchvision.models.resnet50)(weights=None)
    model = model.to(memory_format=fmt)
    x = torch.randn(batch, 3, size, size).to(memory_format=fmt)
    target = torch.randint(0, 1000, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        if train:
            model.train()
            loss = loss_fn(model(x), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            model.eval()
            with torch.no_grad():
                model(x)
    t, cpu = time_call(step, min_time)
    return batch / t, batch / cpu


LAYOUTS = {"best": (False, True), "nchw": (False,), "channels_last": (True,)}


def run_models(args):
    for c in MODEL_CASES:
        name = model_name(c)
        if args.filter and args.filter not in name:
            continue
        best = None
        for cl in LAYOUTS[args.layout]:
            ips, ips_cpu = time_model(c, cl, args.min_time)
            if best is None or ips > best[0]:
                best = (ips, "channels_last" if cl else "nchw", ips_cpu)
        # Peak RSS of the whole process so far (ru_maxrss): one model and one layout per process
        # (--filter, --layout) gives that model's peak, as bench_resnet's peak_rss_mib does for tl.
        print(json.dumps({"model": name, "images_per_s": best[0], "layout": best[1], "images_per_cpu_s": best[2],
                          "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", action="store_true", help="time whole ResNets instead of conv layers")
    ap.add_argument("--pool", action="store_true", help="time max pooling (bench_pool.cpp's shapes) instead")
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds per (shape, pass, layout)")
    ap.add_argument("--filter", default="", help="substring of '<pass>/<shape>' to run")
    ap.add_argument("--shapes", default="resnet", choices=list(SHAPE_SETS), help="conv shape set")
    ap.add_argument("--layout", default="best", choices=list(LAYOUTS),
                    help="--models: memory format(s) to time, the best is reported")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    torch.manual_seed(0)
    if args.models:
        run_models(args)
        return
    if args.pool:
        with torch.no_grad():
            run_pools(args)
        return
    with torch.no_grad():
        for s in SHAPE_SETS[args.shapes]:
            for pass_ in PASSES:
                name = f"{pass_}/{shape_name(s)}"
                if args.filter and args.filter not in name:
                    continue
                best = None
                for cl in (False, True):
                    t, cpu = time_call(make_call(s, pass_, cl), args.min_time)
                    if best is None or t < best[0]:
                        best = (t, "channels_last" if cl else "nchw", cpu)
                print(json.dumps({"pass": pass_, "shape": shape_name(s), "ms": best[0] * 1e3,
                                  "gflops": flops(s) / best[0] / 1e9, "layout": best[1],
                                  "cpu_ms": best[2] * 1e3, "gflops_cpu": flops(s) / best[2] / 1e9,
                                  "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
