"""Reference values for tests/transfer (run with Debian's /usr/bin/python3; seeded, no downloads).

Distillation loss as common PyTorch code writes it (Hinton et al. 2015):
  alpha * T^2 * kl_div(log_softmax(s/T), softmax(t/T), reduction="batchmean")
  + (1 - alpha) * cross_entropy(s, y)
and its gradient with respect to the student's logits (the teacher's are detached).
Writes tests/data/transfer_ref.bin.
"""
import os

import torch
import torch.nn.functional as F

from tlref import write_ref

torch.manual_seed(7)
out = {}
for case, (n, c, temp, alpha) in enumerate([(5, 7, 4.0, 0.7), (3, 4, 1.0, 0.5), (6, 10, 2.5, 1.0)]):
    s = (torch.randn(n, c, dtype=torch.float64) * 3).requires_grad_()
    t = torch.randn(n, c, dtype=torch.float64) * 3
    y = torch.randint(0, c, (n,))
    soft = F.kl_div(F.log_softmax(s / temp, dim=1), F.softmax(t / temp, dim=1), reduction="batchmean")
    loss = alpha * temp * temp * soft + (1 - alpha) * F.cross_entropy(s, y)
    loss.backward()
    p = f"kd{case}."
    out[p + "student"] = s.detach()
    out[p + "teacher"] = t
    out[p + "targets"] = y.double()
    out[p + "params"] = torch.tensor([temp, alpha], dtype=torch.float64)
    out[p + "loss"] = loss.detach()
    out[p + "grad"] = s.grad

write_ref(os.path.join(os.path.dirname(os.path.abspath(__file__)), "transfer_ref.bin"), out)
