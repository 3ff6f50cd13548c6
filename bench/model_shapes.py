"""The distinct conv layers of whole models, with how many layers have each shape; shared by
compare.py (which sums the layers' times by these counts) and compare_pytorch.py (no torch import)."""

# same as tl_bench::resnet50_224_conv_shapes(): ResNet-50's distinct layers at batch 8, 224x224, with
# how many of its 53 convolutions have each shape (compare.py weights the layers' times by it)
SHAPES_RESNET50_224 = [
    ((8, 3, 224, 224, 64, 7, 7, 2, 3), 1), ((8, 64, 56, 56, 64, 1, 1, 1, 0), 1),
    ((8, 64, 56, 56, 64, 3, 3, 1, 1), 3), ((8, 64, 56, 56, 256, 1, 1, 1, 0), 4),
    ((8, 256, 56, 56, 64, 1, 1, 1, 0), 2), ((8, 256, 56, 56, 128, 1, 1, 1, 0), 1),
    ((8, 128, 56, 56, 128, 3, 3, 2, 1), 1), ((8, 128, 28, 28, 512, 1, 1, 1, 0), 4),
    ((8, 256, 56, 56, 512, 1, 1, 2, 0), 1), ((8, 512, 28, 28, 128, 1, 1, 1, 0), 3),
    ((8, 128, 28, 28, 128, 3, 3, 1, 1), 3), ((8, 512, 28, 28, 256, 1, 1, 1, 0), 1),
    ((8, 256, 28, 28, 256, 3, 3, 2, 1), 1), ((8, 256, 14, 14, 1024, 1, 1, 1, 0), 6),
    ((8, 512, 28, 28, 1024, 1, 1, 2, 0), 1), ((8, 1024, 14, 14, 256, 1, 1, 1, 0), 5),
    ((8, 256, 14, 14, 256, 3, 3, 1, 1), 5), ((8, 1024, 14, 14, 512, 1, 1, 1, 0), 1),
    ((8, 512, 14, 14, 512, 3, 3, 2, 1), 1), ((8, 512, 7, 7, 2048, 1, 1, 1, 0), 3),
    ((8, 1024, 14, 14, 2048, 1, 1, 2, 0), 1), ((8, 2048, 7, 7, 512, 1, 1, 1, 0), 2),
    ((8, 512, 7, 7, 512, 3, 3, 1, 1), 2),
]

# same as tl_bench::resnet18_224_conv_shapes(): ResNet-18's distinct layers at batch 8, 224x224
SHAPES_RESNET18_224 = [
    ((8, 3, 224, 224, 64, 7, 7, 2, 3), 1), ((8, 64, 56, 56, 64, 3, 3, 1, 1), 4),
    ((8, 64, 56, 56, 128, 3, 3, 2, 1), 1), ((8, 64, 56, 56, 128, 1, 1, 2, 0), 1),
    ((8, 128, 28, 28, 128, 3, 3, 1, 1), 3), ((8, 128, 28, 28, 256, 3, 3, 2, 1), 1),
    ((8, 128, 28, 28, 256, 1, 1, 2, 0), 1), ((8, 256, 14, 14, 256, 3, 3, 1, 1), 3),
    ((8, 256, 14, 14, 512, 3, 3, 2, 1), 1), ((8, 256, 14, 14, 512, 1, 1, 2, 0), 1),
    ((8, 512, 7, 7, 512, 3, 3, 1, 1), 3),
]

MODEL_SHAPES = {"resnet50_224": ("ResNet-50", SHAPES_RESNET50_224),
                "resnet18_224": ("ResNet-18", SHAPES_RESNET18_224)}


def shape_name(s):
    """The name bench_conv gives a shape (tl_bench::shape_name)."""
    n, c, h, w, k, r, ss, st, pad = s
    return f"{n}x{c}x{h}x{w}_k{k}_{r}x{ss}_s{st}_p{pad}"


def layer_kind(s):
    """The group compare.py sums a layer's time into: the stem, 1x1 or 3x3 by stride, and stride-1
    3x3 layers by map size (where the Winograd kernels apply or not)."""
    n, c, h, w, k, r, ss, st, pad = s
    if r == 7:
        return "stem 7x7 s2"
    if st == 2:
        return f"{r}x{ss} stride 2"
    return f"{r}x{ss} stride 1" if r == 1 else f"3x3 stride 1, {h}x{w} maps"
