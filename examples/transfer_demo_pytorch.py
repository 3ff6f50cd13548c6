#!/usr/bin/python3
"""The transfer demo's protocol in PyTorch, so tl's numbers can be set beside PyTorch's.

Run with Debian's PyTorch: /usr/bin/python3 examples/transfer_demo_pytorch.py [--seeds 0 1 2]
It mirrors examples/transfer_demo.cpp step for step (same data, splits, model, budgets, learning
rates); random numbers differ between the libraries, so compare means over seeds.

Protocol (docs/transfer.md):
- Data: Fashion-MNIST (IDX, gzip) from /usr/share/datasets/fashion-mnist (Debian's
  dataset-fashion-mnist). Pixels / 255, normalised with mean 0.2860, std 0.3530.
- Scenario "lowres" (default): source = the 10 classes on the first 50,000 clean training images;
  target = the same classes through another "camera": 2x2 average-pooled to 14x14 and bilinearly
  upsampled back to 28x28 (align_corners=False), built from training images 50,000-59,999 that the
  source never saw; K labelled images per class (the first K of each class in that range); tested
  on the 10,000 test images through the same camera.
- Scenario "split": source = classes 0-4 of the first 50,000 (clean); target = classes 5-9 of images
  50,000-59,999 (clean, relabelled 0-4), K per class; tested on test classes 5-9.
- Model: ResNet-8: conv3x3(1->16)-BN-ReLU, BasicBlock 16, BasicBlock 32 (stride 2), BasicBlock 64
  (stride 2), global average pool, fc. torchvision's init.
- Source pretraining: SGD(momentum 0.9, nesterov, wd 5e-4), batch 128, lr 0.1 cosine to 0 over
  `--source-epochs` epochs, random crop with 2 px padding.
- Target: every method gets the same budget of `--steps` steps at batch 32 (random crop, 2 px),
  SGD(momentum 0.9, nesterov, wd 5e-4), cosine lr:
  scratch (lr 0.05, all params), linear probe (frozen backbone features cached once, no
  augmentation, head only, lr 0.1), fine-tune (all params from the source, new head, lr 0.02),
  adapters (source backbone frozen incl. BN statistics; a residual 1x1 conv+BN beside each 3x3 conv;
  adapters, their BNs and the head train, lr 0.05), multi-task (source + target batches concatenated
  through one backbone, source head kept, new target head, loss = target + source, lr 0.02).
"""
import argparse
import gzip
import json
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530
ROOT = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    nd = magic & 0xFF
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return torch.frombuffer(bytearray(data[4 + 4 * nd:]), dtype=torch.uint8).reshape(dims)


def read_safetensors(path):
    """A .safetensors file (e.g. the demo's saved source model) as a state dict; F32/I64 only."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise SystemExit(f"{path}: too short for a safetensors file")
    n, = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise SystemExit(f"{path}: header of {n} bytes runs past the end of the file")
    header, base, out = json.loads(data[8:8 + n]), 8 + n, {}
    types = {"F32": torch.float32, "I64": torch.int64}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e["dtype"] not in types:
            raise SystemExit(f"{path}: tensor {name} has dtype {e['dtype']}, expected F32 or I64")
        start, end = e["data_offsets"]
        if not 0 <= start <= end <= len(data) - base:
            raise SystemExit(f"{path}: tensor {name}'s data offsets are outside the file")
        out[name] = torch.frombuffer(bytearray(data[base + start:base + end]), dtype=types[e["dtype"]]).reshape(e["shape"])
    return out


def lowres_camera(x):  # x: [N,1,28,28] in [0,1]
    return F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="bilinear", align_corners=False)


def load(scenario, k):
    xtr = read_idx(f"{ROOT}/train-images-idx3-ubyte.gz").float().div(255).unsqueeze(1)
    ytr = read_idx(f"{ROOT}/train-labels-idx1-ubyte.gz").long()
    xte = read_idx(f"{ROOT}/t10k-images-idx3-ubyte.gz").float().div(255).unsqueeze(1)
    yte = read_idx(f"{ROOT}/t10k-labels-idx1-ubyte.gz").long()
    xs, ys, xp, yp = xtr[:50000], ytr[:50000], xtr[50000:], ytr[50000:]
    if scenario == "lowres":
        xp, xte = lowres_camera(xp), lowres_camera(xte)
        n_src = n_tgt = 10
    else:
        keep = ys < 5
        xs, ys = xs[keep], ys[keep]
        keep = yp >= 5
        xp, yp = xp[keep], yp[keep] - 5
        keep = yte >= 5
        xte, yte = xte[keep], yte[keep] - 5
        n_src = n_tgt = 5
    idx = []
    for c in range(n_tgt):
        idx += (yp == c).nonzero().flatten()[:k].tolist()
    idx.sort()
    norm = lambda x: (x - MEAN) / STD
    return (norm(xs), ys), (norm(xp[idx]), yp[idx]), (norm(xte), yte), n_src, n_tgt


class Adapter(nn.Module):  # residual adapter: a 1x1 conv + BN beside a 3x3 conv
    def __init__(self, conv):
        super().__init__()
        self.conv = conv
        self.adapter = nn.Sequential(
            nn.Conv2d(conv.in_channels, conv.out_channels, 1, stride=conv.stride, bias=False),
            nn.BatchNorm2d(conv.out_channels))
        nn.init.zeros_(self.adapter[1].weight)  # starts as the pretrained network

    def forward(self, x):
        return self.conv(x) + self.adapter(x)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet8(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1, self.layer2, self.layer3 = Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return x.mean((2, 3))

    def forward(self, x):
        return self.fc(self.features(x))


def random_crop(x, pad, gen):
    n, _, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad), value=(0 - MEAN) / STD)
    out = torch.empty_like(x)
    offs = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen)
    for i in range(n):
        out[i] = xp[i, :, offs[i, 0]:offs[i, 0] + h, offs[i, 1]:offs[i, 1] + w]
    return out


def sgd(params, lr, steps):
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)


def batches(n, bs, steps, gen):
    out, perm = [], torch.empty(0, dtype=torch.long)
    while len(out) < steps:
        if len(perm) < bs:
            perm = torch.cat([perm, torch.randperm(n, generator=gen)])
        out.append(perm[:bs])
        perm = perm[bs:]
    return out


def train(model, params, data, lr, steps, gen, bs=32, aug=True, extra=None, set_train_mode=None):
    x, y = data
    opt, sched = sgd(params, lr, steps)
    if set_train_mode:
        set_train_mode()
    else:
        model.train()
    for idx in batches(len(y), bs, steps, gen):
        xb = random_crop(x[idx], 2, gen) if aug else x[idx]
        loss = F.cross_entropy(model(xb), y[idx]) if extra is None else extra(xb, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()


@torch.no_grad()
def accuracy(fn, data):
    x, y = data
    correct = 0
    for i in range(0, len(y), 1000):
        correct += (fn(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return 100.0 * correct / len(y)


def trainable(params):
    return sum(p.numel() for p in params)


def run(args, scenario, seed, source_state, src, tgt, test, n_src, n_tgt):
    results = {}
    gen = torch.Generator()
    methods = ["scratch", "linear_probe", "finetune", "adapters", "multitask"]

    def timed(name, fn):
        # each method draws from its own stream, so a subset (--methods) gives the same figures
        stream = seed * 100 + methods.index(name)
        gen.manual_seed(stream)
        torch.manual_seed(stream)
        t = time.time()
        acc, ntrain = fn()
        results[name] = {"accuracy": acc, "trainable": ntrain, "seconds": time.time() - t}
        print(f"  seed {seed} {name:12s} {acc:6.2f}%  trainable {ntrain:7d}  {time.time() - t:5.1f}s", flush=True)

    def pretrained():
        m = ResNet8(n_src)
        m.load_state_dict(source_state)
        return m

    def scratch():
        m = ResNet8(n_tgt)
        train(m, m.parameters(), tgt, 0.05, args.steps, gen)
        m.eval()
        return accuracy(m, test), trainable(m.parameters())

    def linear_probe():
        m = pretrained().eval()
        with torch.no_grad():
            feats = m.features(tgt[0])
        head = nn.Linear(64, n_tgt)
        train(head, head.parameters(), (feats, tgt[1]), 0.1, args.steps, gen, aug=False)
        return accuracy(lambda x: head(m.features(x)), test), trainable(head.parameters())

    def finetune():
        m = pretrained()
        m.fc = nn.Linear(64, n_tgt)
        train(m, m.parameters(), tgt, 0.02, args.steps, gen)
        m.eval()
        return accuracy(m, test), trainable(m.parameters())

    def adapters():
        m = pretrained()
        m.fc = nn.Linear(64, n_tgt)
        for p in m.parameters():
            p.requires_grad_(False)
        for layer in (m.layer1, m.layer2, m.layer3):
            layer.conv1, layer.conv2 = Adapter(layer.conv1), Adapter(layer.conv2)
        params = [p for n, p in m.named_parameters() if "adapter" in n or n.startswith("fc.")]
        for p in params:
            p.requires_grad_(True)
        frozen_bn = [mod for n, mod in m.named_modules() if isinstance(mod, nn.BatchNorm2d) and "adapter" not in n]

        def train_mode_keep_frozen_bn():  # frozen BNs keep their running statistics
            m.train()
            for bn in frozen_bn:
                bn.eval()
        train(m, params, tgt, 0.05, args.steps, gen, set_train_mode=train_mode_keep_frozen_bn)
        m.eval()
        return accuracy(m, test), trainable(params)

    def multitask():
        m = pretrained()
        src_head, tgt_head = m.fc, nn.Linear(64, n_tgt)
        m.fc = nn.Identity()
        params = list(m.parameters()) + list(src_head.parameters()) + list(tgt_head.parameters())
        sx, sy = src
        src_batches = iter(batches(len(sy), 32, args.steps, gen))

        def loss(xb, yb):
            sidx = next(src_batches)
            f = m.features(torch.cat([xb, random_crop(sx[sidx], 2, gen)]))
            return F.cross_entropy(tgt_head(f[:len(yb)]), yb) + F.cross_entropy(src_head(f[len(yb):]), sy[sidx])
        train(m, params, tgt, 0.02, args.steps, gen, extra=loss)
        m.eval()
        return accuracy(lambda x: tgt_head(m.features(x)), test), trainable(params)

    for name, fn in [("scratch", scratch), ("linear_probe", linear_probe), ("finetune", finetune),
                     ("adapters", adapters), ("multitask", multitask)]:
        if name in args.methods.split(","):
            timed(name, fn)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", choices=["lowres", "split"], default="lowres")
    ap.add_argument("--k", type=int, default=10, help="labelled target images per class")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=300, help="target training steps per method")
    ap.add_argument("--source-epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--source-seed", type=int, default=1000, help="seed of the source pretraining")
    ap.add_argument("--source-weights", default="",
                    help="use this source model (e.g. the tl demo's source_*.safetensors) instead of pretraining")
    ap.add_argument("--methods", default="scratch,linear_probe,finetune,adapters,multitask",
                    help="comma-separated subset of the five methods")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    src, tgt, test, n_src, n_tgt = load(args.scenario, args.k)
    torch.manual_seed(args.source_seed)
    gen = torch.Generator().manual_seed(args.source_seed)
    t = time.time()
    source = ResNet8(n_src)
    if args.source_weights:  # the same source model as another run (tl's), so only the target phase differs
        source.load_state_dict(read_safetensors(args.source_weights))
        what = f"loaded {args.source_weights}"
    else:
        steps = args.source_epochs * (len(src[1]) // 128)
        train(source, source.parameters(), src, 0.1, steps, gen, bs=128)
        what = f"{steps} steps, {time.time() - t:.0f}s"
    source.eval()
    print(f"source: {what}, target-test accuracy with the source head "
          f"{accuracy(source, test) if args.scenario == 'lowres' else float('nan'):.2f}%", flush=True)
    state = source.state_dict()
    all_results = {s: run(args, args.scenario, s, state, src, tgt, test, n_src, n_tgt) for s in args.seeds}
    print(f"\nscenario {args.scenario}, K = {args.k}, mean over seeds {args.seeds}:")
    summary = {}
    for name in next(iter(all_results.values())):
        accs = [all_results[s][name]["accuracy"] for s in args.seeds]
        summary[name] = sum(accs) / len(accs)
        print(f"  {name:12s} {summary[name]:6.2f}%   (per seed: {', '.join(f'{a:.2f}' for a in accs)})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"scenario": args.scenario, "k": args.k, "seeds": args.seeds, "steps": args.steps,
                       "source_epochs": args.source_epochs, "source_weights": args.source_weights, "mean": summary, "runs": all_results}, f, indent=1)


if __name__ == "__main__":
    main()
