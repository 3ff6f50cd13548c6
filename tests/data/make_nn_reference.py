"""PyTorch reference values for tests/nn (linear, activations, softmax, losses).

Run with Debian's torch: /usr/bin/python3 tests/data/make_nn_reference.py
Writes tests/data/nn_ref.bin (TLREF1, read by tests/support/ref_file.hpp). Everything in float64;
targets are stored as float64 and converted back to int64 by the tests.
Per case "<name>": inputs ("<name>.x", ...), output "<name>.out", upstream gradient "<name>.g"
(for non-scalar outputs), and input gradients "<name>.gx", ...
"""
import os

import torch
import torch.nn.functional as F

from tlref import write_ref

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
refs = {}


def case(name, fn, inputs, extra=None):
    """fn(*inputs) -> output; stores inputs, output and gradients of sum(output * g)."""
    leaves = [t.clone().requires_grad_(t.is_floating_point()) for t in inputs]
    out = fn(*leaves)
    g = torch.randn(out.shape) if out.dim() > 0 else torch.ones(())
    (out * g).sum().backward()
    refs[name + ".out"] = out
    if out.dim() > 0:
        refs[name + ".g"] = g
    for i, t in enumerate(leaves):
        refs[f"{name}.in{i}"] = t
        if t.grad is not None:
            refs[f"{name}.grad{i}"] = t.grad
    for k, v in (extra or {}).items():
        refs[f"{name}.{k}"] = v


# ---- linear ----
case("linear2d", lambda x, w, b: F.linear(x, w, b), [torch.randn(5, 7), torch.randn(4, 7), torch.randn(4)])
case("linear3d", lambda x, w, b: F.linear(x, w, b), [torch.randn(2, 3, 7), torch.randn(4, 7), torch.randn(4)])
case("linear_nobias", lambda x, w: F.linear(x, w), [torch.randn(3, 6), torch.randn(2, 6)])

# ---- activations and softmax ----
x = torch.randn(3, 5, 4) * 3
case("softmax_d1", lambda x: F.softmax(x, 1), [x])
case("softmax_dlast", lambda x: F.softmax(x, -1), [x])
case("log_softmax_d1", lambda x: F.log_softmax(x, 1), [x])
case("log_softmax_dlast", lambda x: F.log_softmax(x, -1), [x])
a = torch.randn(4, 6) * 2
case("relu", F.relu, [a])
case("leaky_relu", lambda x: F.leaky_relu(x, 0.2), [a])
case("sigmoid", torch.sigmoid, [a])
case("tanh", torch.tanh, [a])
case("gelu", F.gelu, [a])
case("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), [a])
case("silu", F.silu, [a])

# ---- cross entropy / nll ----
N, C = 6, 5
logits = torch.randn(N, C) * 2
tgt = torch.tensor([0, 3, 4, 1, 3, 2])
tgt_ign = torch.tensor([0, -100, 4, 1, -100, 2])
wcls = torch.rand(C) + 0.5
for red in ["mean", "sum", "none"]:
    case(f"ce_{red}", lambda x: F.cross_entropy(x, tgt, reduction=red), [logits], {"t": tgt})
    case(f"ce_w_{red}", lambda x: F.cross_entropy(x, tgt, weight=wcls, reduction=red), [logits],
         {"t": tgt, "w": wcls})
    case(f"ce_ls_{red}", lambda x: F.cross_entropy(x, tgt, label_smoothing=0.2, reduction=red), [logits], {"t": tgt})
    case(f"ce_all_{red}",
         lambda x: F.cross_entropy(x, tgt_ign, weight=wcls, label_smoothing=0.15, reduction=red), [logits],
         {"t": tgt_ign, "w": wcls})
    lp = F.log_softmax(logits, 1)
    case(f"nll_{red}", lambda x: F.nll_loss(x, tgt_ign, weight=wcls, reduction=red), [lp], {"t": tgt_ign, "w": wcls})
case("ce_ign_mean", lambda x: F.cross_entropy(x, tgt_ign), [logits], {"t": tgt_ign})
case("ce_ign255_mean", lambda x: F.cross_entropy(x, torch.tensor([255, 3, 4, 1, 255, 2]), ignore_index=255), [logits],
     {"t": torch.tensor([255, 3, 4, 1, 255, 2])})
# [N, C, H, W] logits with [N, H, W] targets
l4 = torch.randn(2, 4, 3, 3)
t4 = torch.randint(0, 4, (2, 3, 3))
t4[0, 1, 2] = -100
w4 = torch.rand(4) + 0.5
case("ce_nd_mean", lambda x: F.cross_entropy(x, t4, weight=w4, label_smoothing=0.1), [l4], {"t": t4, "w": w4})
case("ce_nd_none", lambda x: F.cross_entropy(x, t4, reduction="none"), [l4], {"t": t4})
# class-probability targets
q = F.softmax(torch.randn(N, C), 1)
case("ce_prob_mean", lambda x, q: F.cross_entropy(x, q, label_smoothing=0.1, weight=wcls), [logits, q], {"w": wcls})
case("ce_prob_none", lambda x, q: F.cross_entropy(x, q, reduction="none"), [logits, q])

# ---- element-wise losses ----
p = torch.randn(3, 4)
y = torch.randn(3, 4)
lp = F.log_softmax(torch.randn(3, 4), 1)
prob = F.softmax(torch.randn(3, 4), 1)
prob[0, 1] = 0.0  # a zero target: its term is 0
lprob = F.log_softmax(torch.randn(3, 4), 1)
for red in ["mean", "sum", "none"]:
    case(f"mse_{red}", lambda a, b: F.mse_loss(a, b, reduction=red), [p, y])
    case(f"l1_{red}", lambda a, b: F.l1_loss(a, b, reduction=red), [p, y])
for red in ["mean", "batchmean", "sum", "none"]:
    case(f"kl_{red}", lambda a, b: F.kl_div(a, b, reduction=red), [lp, prob])
    case(f"kl_logt_{red}", lambda a, b: F.kl_div(a, b, reduction=red, log_target=True), [lp, lprob])
bt = torch.rand(3, 4)
bw = torch.rand(3, 4) + 0.5
pw = torch.rand(4) + 0.5
case("bce_logits_mean", lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=bw, pos_weight=pw), [p * 3, bt],
     {"w": bw, "pw": pw})
case("bce_logits_none", lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"), [p * 3, bt])
case("bce_mean", lambda a, b: F.binary_cross_entropy(a, b, weight=bw), [torch.sigmoid(p), bt], {"w": bw})

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nn_ref.bin")
write_ref(out, refs)
print("wrote", out, len(refs), "tensors")
