#!/usr/bin/python3
"""Regenerates bnfold's bundled ONNX models (and, on request, torchvision ones).

Needs Debian's python3-torch, python3-torchvision and python3-onnx; run it with
/usr/bin/python3:

    /usr/bin/python3 models/make_models.py                   # the small bundled models, into models/
    /usr/bin/python3 models/make_models.py --torchvision resnet18 mobilenet_v2 --out build/models

Every model is exported from eval mode with TrainingMode.PRESERVE, so the
BatchNormalization nodes stay in the graph (the default export folds them into
the convolutions). Before export each model runs a few training-mode batches so
that the running statistics are not the trivial mean 0 / var 1, and BN's gamma
and beta are randomised: folding them must then change the weights visibly.
Weights are random (no pretrained weights are downloaded); seeds are fixed so
the output is reproducible.
"""
import argparse
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


def conv_bn(cin, cout, k=3, stride=1, groups=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Block(nn.Module):
    """A ResNet basic block: two conv-BN pairs and a residual Add."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = conv_bn(cin, cout, 3, stride)
        self.b = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = None
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b(self.a(x))
        return torch.relu(y + (self.skip(x) if self.skip is not None else x))


class TinyResNet(nn.Module):
    """The demo model: 9 Conv->BN pairs, residual Adds, a depthwise conv, global pooling, FC."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = conv_bn(3, 16, 3, 1)
        self.layer1 = Block(16, 16, 1)
        self.layer2 = Block(16, 32, 2)
        self.dw = conv_bn(32, 32, 3, 1, groups=32)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, classes))

    def forward(self, x):
        return self.head(self.dw(self.layer2(self.layer1(self.stem(x)))))


class MlpBn(nn.Module):
    """Gemm -> BatchNorm1d -> ReLU -> Gemm -> BatchNorm1d: BN after fully connected layers."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(20, 24), nn.BatchNorm1d(24), nn.ReLU(),
            nn.Linear(24, 12, bias=False), nn.BatchNorm1d(12), nn.Linear(12, 5))

    def forward(self, x):
        return self.net(x)


class DeconvBn(nn.Module):
    """Grouped ConvTranspose -> BN, a BN before an unpadded 1x1 conv, and a BN after an Add."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(8, 12, 4, stride=2, padding=1, groups=2)
        self.bn_up = nn.BatchNorm2d(12)
        self.bn_pre = nn.BatchNorm2d(12)
        self.proj = nn.Conv2d(12, 6, 1)
        self.side = nn.Conv2d(12, 6, 3, padding=1)
        self.bn_sum = nn.BatchNorm2d(6)

    def forward(self, x):
        y = torch.relu(self.bn_up(self.up(x)))
        z = self.proj(self.bn_pre(y)) + self.side(y)
        return self.bn_sum(z)


def randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=gen))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))


def calibrate(model, shape, gen, batches=4):
    """A few train-mode passes give every BN non-trivial running statistics.

    The running statistics are the plain average over these batches
    (momentum=None), so they match the activations a deep randomly initialised
    network really produces; with the default momentum they would stay near
    mean 0 / var 1 and deep models (inception_v3) would blow up in eval mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            x = 1.5 * torch.randn(shape, generator=gen) + 0.3
            model(x)
    model.eval()
    for m, momentum in zip(bns, saved):
        m.momentum = momentum


def export(model, shape, path, opset=13):
    x = torch.randn(shape)
    torch.onnx.export(
        model, x, path, opset_version=opset, input_names=["input"], output_names=["output"],
        dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
        training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    n_bn = sum(1 for n in m.graph.node if n.op_type == "BatchNormalization")
    print(f"{path}: {len(m.graph.node)} nodes, {n_bn} BatchNormalization, "
          f"{os.path.getsize(path) / 1024:.1f} KB")


BUNDLED = {
    "tiny_resnet": (TinyResNet, (8, 3, 32, 32)),
    "mlp_bn": (MlpBn, (16, 20)),
    "deconv_bn": (DeconvBn, (4, 8, 10, 10)),
}

# torchvision models, generated on demand (too big to commit).
TORCHVISION = {
    "resnet18": (3, 224), "resnet50": (3, 224), "mobilenet_v2": (3, 224),
    "mobilenet_v3_small": (3, 224), "efficientnet_b0": (3, 224), "densenet121": (3, 224),
    "shufflenet_v2_x1_0": (3, 224), "mnasnet0_5": (3, 224), "regnet_x_400mf": (3, 224),
    "googlenet": (3, 224), "inception_v3": (3, 299), "vgg11_bn": (3, 224),
    "squeezenet1_1": (3, 224),
}


def build_torchvision(name, size=None):
    """A torchvision model with random weights, randomised BN parameters and
    calibrated running statistics, in eval mode. Deterministic per name."""
    import torchvision
    torch.manual_seed(0)
    ctor = getattr(torchvision.models, name)
    kwargs = {"weights": None}
    if name in ("googlenet", "inception_v3"):
        # init_weights=True draws every weight from N(0, 0.1): inception_v3's logits
        # then reach ~600 and float32 rounding alone exceeds atol 1e-4. PyTorch's
        # default (fan-in scaled) init keeps activations O(1), like a trained model.
        kwargs.update(aux_logits=False, init_weights=False)
    model = ctor(**kwargs)
    gen = torch.Generator().manual_seed(1)
    randomize_bn(model, gen)
    channels, default_size = TORCHVISION[name]
    size = size or default_size
    calibrate(model, (4, channels, size, size), gen, batches=2)
    return model


def make_torchvision(name, out_dir, opset, size=None):
    channels, default_size = TORCHVISION[name]
    size = size or default_size
    export(build_torchvision(name, size), (1, channels, size, size), os.path.join(out_dir, f"{name}.onnx"), opset)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=HERE, help="output folder (default: models/)")
    p.add_argument("--torchvision", nargs="*", default=None, metavar="NAME",
                   help=f"export these torchvision models instead: {', '.join(TORCHVISION)}")
    p.add_argument("--opset", type=int, default=13)
    p.add_argument("--size", type=int, default=None,
                   help="torchvision: the input's height and width (default: each model's own, 224 or 299)")
    p.add_argument("--skip-existing", action="store_true",
                   help="leave models that already exist alone (for test fixtures)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    if args.torchvision is not None:
        for name in args.torchvision or TORCHVISION:
            if name not in TORCHVISION:
                sys.exit(f"unknown torchvision model '{name}'; known: {', '.join(TORCHVISION)}")
            if args.skip_existing and os.path.exists(os.path.join(args.out, f"{name}.onnx")):
                continue
            make_torchvision(name, args.out, args.opset, args.size)
        return
    for name, (cls, shape) in BUNDLED.items():
        gen = torch.Generator().manual_seed(len(name))
        model = cls()
        randomize_bn(model, gen)
        calibrate(model, shape, gen)
        export(model, shape, os.path.join(args.out, f"{name}.onnx"), args.opset)


if __name__ == "__main__":
    main()
