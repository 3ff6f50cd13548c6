#!/usr/bin/python3
"""Writes a torchvision ResNet's seeded random initialisation as a .pth state_dict (torch.save),
standing in for pretrained weights in smoke runs of the examples (no download). Needs Debian's
python3-torch and python3-torchvision, i.e. run with /usr/bin/python3.

    /usr/bin/python3 tests/data/make_tiny_resnet.py OUT.pth [--arch resnet18] [--classes 1000] [--seed 0]
"""
import argparse

import torch
import torchvision


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    model = getattr(torchvision.models, a.arch)(num_classes=a.classes)
    torch.save(model.state_dict(), a.out)
    n = sum(t.numel() for t in model.parameters())
    print("wrote %s: %s with %d classes, %d parameters (seeded random init, seed %d)" % (a.out, a.arch, a.classes, n, a.seed))


if __name__ == "__main__":
    main()
