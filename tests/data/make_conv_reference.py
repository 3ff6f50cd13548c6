"""PyTorch references for tests/nn/test_conv2d.cpp, test_batch_norm.cpp and test_pooling.cpp.

Run with Debian's PyTorch: /usr/bin/python3 tests/data/make_conv_reference.py
Writes tests/data/conv_ref.bin (TLREF1, see tlref.py). Seeded; every input is float64 so the C++
side can compare in float and double.
"""
import os

import torch
import torch.nn.functional as F

from tlref import write_ref



class Snapshots(dict):
    """Stores a copy of each tensor when it is assigned (buffers and .grad change in place later)."""

    def __setitem__(self, key, value):
        super().__setitem__(key, value.detach().clone())


torch.manual_seed(0)
out = Snapshots()


def leaf(*shape, scale=1.0, shift=0.0):
    return (torch.randn(*shape, dtype=torch.float64) * scale + shift).requires_grad_(True)


# ---- conv2d: forward and gradients of sum(y * gy) ----
conv_configs = [
    # name, x shape, w shape, bias, stride, padding, dilation, groups
    ("basic", (2, 3, 7, 6), (4, 3, 3, 3), True, 1, 1, 1, 1),
    ("stride2", (2, 3, 9, 8), (5, 3, 3, 3), True, 2, 0, 1, 1),
    ("nonsquare", (2, 4, 9, 8), (6, 2, 3, 2), True, (2, 1), (1, 0), (1, 2), 2),
    ("dilation2", (1, 2, 8, 9), (3, 2, 3, 3), False, 1, 2, 2, 1),
    ("depthwise", (2, 3, 6, 7), (3, 1, 3, 3), False, 2, 1, 1, 3),
    ("pointwise", (2, 6, 5, 5), (4, 6, 1, 1), True, 1, 0, 1, 1),
    ("same_even", (1, 2, 6, 7), (3, 2, 4, 2), True, 1, "same", (1, 2), 1),
    ("same_odd", (2, 2, 5, 5), (2, 1, 3, 3), False, 1, "same", 1, 2),
    ("valid", (1, 3, 6, 5), (2, 3, 3, 2), True, 2, "valid", 1, 1),
]
for name, xs, ws, has_b, s, p, d, g in conv_configs:
    x, w = leaf(*xs), leaf(*ws, scale=0.3)
    b = leaf(ws[0]) if has_b else None
    y = F.conv2d(x, w, b, s, p, d, g)
    gy = torch.randn_like(y)
    y.backward(gy)
    pre = "conv." + name + "."
    out[pre + "x"], out[pre + "w"], out[pre + "y"], out[pre + "gy"] = x, w, y, gy
    out[pre + "gx"], out[pre + "gw"] = x.grad, w.grad
    if has_b:
        out[pre + "b"], out[pre + "gb"] = b, b.grad



# ---- BatchNorm: a few training steps, then eval ----
def bn_steps(prefix, bn, shapes_train, shape_eval):
    with torch.no_grad():
        if bn.affine:
            bn.weight.copy_(torch.rand_like(bn.weight) + 0.5)
            bn.bias.copy_(torch.randn_like(bn.bias))
            out[prefix + "weight"], out[prefix + "bias"] = bn.weight, bn.bias
    bn.train()
    for i, sh in enumerate(shapes_train):
        x = leaf(*sh, scale=2.0, shift=1.5)
        y = bn(x)
        gy = torch.randn_like(y)
        bn.zero_grad()
        y.backward(gy)
        pre = f"{prefix}train{i}."
        out[pre + "x"], out[pre + "y"], out[pre + "gy"], out[pre + "gx"] = x, y, gy, x.grad
        if bn.affine:
            out[pre + "gweight"], out[pre + "gbias"] = bn.weight.grad, bn.bias.grad
        if bn.track_running_stats:
            out[pre + "running_mean"] = bn.running_mean
            out[pre + "running_var"] = bn.running_var
            out[pre + "num_batches_tracked"] = bn.num_batches_tracked
    bn.eval()
    x = leaf(*shape_eval, scale=2.0, shift=1.5)
    y = bn(x)
    gy = torch.randn_like(y)
    bn.zero_grad()
    y.backward(gy)
    pre = prefix + "eval."
    out[pre + "x"], out[pre + "y"], out[pre + "gy"], out[pre + "gx"] = x, y, gy, x.grad
    if bn.affine:
        out[pre + "gweight"], out[pre + "gbias"] = bn.weight.grad, bn.bias.grad


bn_steps("bn2d.", torch.nn.BatchNorm2d(3).double(), [(4, 3, 5, 5), (2, 3, 4, 6), (3, 3, 3, 3)], (2, 3, 4, 4))
bn_steps("bn2d_cma.", torch.nn.BatchNorm2d(3, momentum=None).double(), [(4, 3, 5, 5)] * 3, (2, 3, 4, 4))
bn_steps("bn2d_noaffine.", torch.nn.BatchNorm2d(2, affine=False, momentum=0.3, eps=1e-3).double(),
         [(3, 2, 4, 4)] * 2, (2, 2, 3, 3))
bn_steps("bn2d_nostats.", torch.nn.BatchNorm2d(2, track_running_stats=False).double(), [(3, 2, 4, 4)], (2, 2, 3, 3))
bn_steps("bn1d.", torch.nn.BatchNorm1d(4).double(), [(8, 4), (6, 4)], (5, 4))
bn_steps("bn1d_ncl.", torch.nn.BatchNorm1d(3).double(), [(4, 3, 5), (2, 3, 7)], (2, 3, 5))

# ---- pooling: forward and gradients of sum(y * gy) ----
pool_configs = [
    # name, x shape, function
    ("max_k2", (2, 3, 8, 8), lambda x: F.max_pool2d(x, 2)),
    ("max_k3s2p1", (2, 3, 9, 8), lambda x: F.max_pool2d(x, 3, 2, 1)),
    ("max_ceil", (1, 2, 8, 7), lambda x: F.max_pool2d(x, 3, 2, 0, ceil_mode=True)),
    ("max_dil2", (1, 2, 9, 9), lambda x: F.max_pool2d(x, (3, 2), (1, 2), (1, 0), dilation=2)),
    ("avg_k2", (2, 3, 8, 8), lambda x: F.avg_pool2d(x, 2)),
    ("avg_k3s2p1", (2, 3, 9, 8), lambda x: F.avg_pool2d(x, 3, 2, 1)),
    ("avg_nopad", (2, 3, 9, 8), lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
    ("avg_ceil", (1, 2, 8, 7), lambda x: F.avg_pool2d(x, (3, 2), (2, 2), (1, 1), ceil_mode=True)),
    ("avg_ceil_nopad", (1, 2, 8, 7), lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
    ("avg_overlap", (1, 2, 7, 7), lambda x: F.avg_pool2d(x, 3, 1)),
    ("adaptive_avg_5x3", (2, 3, 11, 7), lambda x: F.adaptive_avg_pool2d(x, (5, 3))),
    ("adaptive_avg_1", (2, 3, 5, 6), lambda x: F.adaptive_avg_pool2d(x, 1)),
    ("adaptive_avg_up", (1, 2, 3, 4), lambda x: F.adaptive_avg_pool2d(x, (5, 6))),
    ("adaptive_max_4x3", (2, 3, 10, 7), lambda x: F.adaptive_max_pool2d(x, (4, 3))),
]
for name, xs, f in pool_configs:
    x = leaf(*xs)
    y = f(x)
    gy = torch.randn_like(y)
    y.backward(gy)
    pre = "pool." + name + "."
    out[pre + "x"], out[pre + "y"], out[pre + "gy"], out[pre + "gx"] = x, y, gy, x.grad

here = os.path.dirname(os.path.abspath(__file__))
write_ref(os.path.join(here, "conv_ref.bin"), out)
print(len(out), "tensors written")
