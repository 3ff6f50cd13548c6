"""PyTorch references for tests/optim: optimizer trajectories, scheduler lr sequences, grad clipping.

Run with Debian's /usr/bin/python3 (python3-torch 1.13) from this folder; writes optim_ref.bin.
Optimizers: 5 steps from fixed params p0 [3, 4], p1 [5] with a fixed sequence of gradients set by
hand (grad.<k>.p<j>); every step's params are kept as <case>.step<k>.p<j> (k = 1..5).
Schedulers: get_last_lr() after construction and after each of 30 steps, <case>.lr (31 x groups).
"""
import math

import torch

from tlref import write_ref

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
out = {}

STEPS = 5
init = [torch.randn(3, 4), torch.randn(5)]
# gradients with changing magnitudes, so amsgrad's running max matters
scales = [1.0, 3.0, 0.2, 1.5, 0.05]
grads = [[torch.randn_like(p) * s for p in init] for s in scales]
for j, p in enumerate(init):
    out[f"init.p{j}"] = p
for k, gs in enumerate(grads):
    for j, g in enumerate(gs):
        out[f"grad.{k}.p{j}"] = g


def run(case, make):
    params = [p.clone().requires_grad_(True) for p in init]
    opt = make(params)
    for k in range(STEPS):
        for p, g in zip(params, grads[k]):
            p.grad = g.clone()
        opt.step()
        for j, p in enumerate(params):
            out[f"{case}.step{k + 1}.p{j}"] = p.detach().clone()


S, A, W = torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW
run("sgd_plain", lambda ps: S(ps, lr=0.1))
run("sgd_momentum", lambda ps: S(ps, lr=0.1, momentum=0.9))
run("sgd_dampening", lambda ps: S(ps, lr=0.1, momentum=0.9, dampening=0.3))
run("sgd_nesterov", lambda ps: S(ps, lr=0.1, momentum=0.9, nesterov=True))
run("sgd_wd", lambda ps: S(ps, lr=0.1, momentum=0.9, weight_decay=0.01))
run("sgd_wd_only", lambda ps: S(ps, lr=0.1, weight_decay=0.05))
run("sgd_groups", lambda ps: S([{"params": [ps[0]], "weight_decay": 0.01}, {"params": [ps[1]], "lr": 0.01}],
                               lr=0.1, momentum=0.9))
run("adam", lambda ps: A(ps, lr=0.01))
run("adam_wd", lambda ps: A(ps, lr=0.01, weight_decay=0.1))
run("adam_amsgrad", lambda ps: A(ps, lr=0.01, betas=(0.8, 0.99), amsgrad=True))
run("adam_groups", lambda ps: A([{"params": [ps[0]], "lr": 0.05, "weight_decay": 0.1}, {"params": [ps[1]]}],
                                lr=0.01))
run("adamw", lambda ps: W(ps, lr=0.01))
run("adamw_wd", lambda ps: W(ps, lr=0.01, weight_decay=0.5, eps=1e-6))
run("adamw_amsgrad", lambda ps: W(ps, lr=0.01, weight_decay=0.1, amsgrad=True))
run("adamw_groups", lambda ps: W([{"params": [ps[0]], "lr": 0.05}, {"params": [ps[1]], "weight_decay": 0.3}],
                                 lr=0.01))

# ---- schedulers: two groups with base lrs 0.1 and 0.05 ----
SCHED_STEPS = 30


def sched(case, make_opt, make, momentum=None):
    ps = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    opt = make_opt([{"params": [ps[0]], "lr": 0.1}, {"params": [ps[1]], "lr": 0.05}])
    s = make(opt)
    lrs, moms = [s.get_last_lr()], []
    if momentum:
        moms.append([momentum(g) for g in opt.param_groups])
    for _ in range(SCHED_STEPS):
        opt.step()
        s.step()
        lrs.append(s.get_last_lr())
        if momentum:
            moms.append([momentum(g) for g in opt.param_groups])
    out[f"{case}.lr"] = torch.tensor(lrs)
    if momentum:
        out[f"{case}.momentum"] = torch.tensor(moms)


sgd = lambda groups: S(groups, lr=0.1, momentum=0.9)
adam = lambda groups: A(groups, lr=0.1)
L = torch.optim.lr_scheduler
sched("step_lr", sgd, lambda o: L.StepLR(o, step_size=7, gamma=0.5))
sched("multi_step_lr", sgd, lambda o: L.MultiStepLR(o, milestones=[5, 12, 12, 20], gamma=0.3))
sched("cosine_lr", sgd, lambda o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.001))
sched("linear_lr", sgd, lambda o: L.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=8))
sched("lambda_lr", sgd, lambda o: L.LambdaLR(o, lambda e: 0.95 ** e))
sched("one_cycle", sgd, lambda o: L.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=30),
      momentum=lambda g: g["momentum"])
sched("one_cycle_3phase", adam,
      lambda o: L.OneCycleLR(o, max_lr=0.4, total_steps=40, pct_start=0.25, anneal_strategy="linear",
                             three_phase=True, div_factor=10.0, final_div_factor=100.0),
      momentum=lambda g: g["betas"][0])
sched("sequential_lr", sgd,
      lambda o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.1, total_iters=5),
                                   L.CosineAnnealingLR(o, T_max=20, eta_min=0.002), L.StepLR(o, 4, 0.5)],
                               milestones=[6, 22]))

# ---- clip_grad_norm_ / clip_grad_value_ ----
cg = [torch.randn(4, 3) * 2, torch.randn(6)]
out["clip.grad.p0"], out["clip.grad.p1"] = cg
for name, max_norm, norm_type in [("l2", 1.0, 2.0), ("l1", 2.0, 1.0), ("l3", 0.5, 3.0), ("inf", 0.7, math.inf),
                                  ("none", 1e3, 2.0)]:
    ps = [torch.zeros_like(g, requires_grad=True) for g in cg]
    for p, g in zip(ps, cg):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
    out[f"clip.{name}.total"] = total.reshape([])
    for j, p in enumerate(ps):
        out[f"clip.{name}.p{j}"] = p.grad
ps = [torch.zeros_like(g, requires_grad=True) for g in cg]
for p, g in zip(ps, cg):
    p.grad = g.clone()
torch.nn.utils.clip_grad_value_(ps, 0.8)
for j, p in enumerate(ps):
    out[f"clip.value.p{j}"] = p.grad

write_ref("optim_ref.bin", out)
print(f"wrote {len(out)} tensors to optim_ref.bin")
