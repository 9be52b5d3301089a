#!/usr/bin/python3
"""The worked example of audit, drift and recalibrate: a small CNN trained on
structured synthetic images from "factory 1", and data from factory 1 and from
a "factory 2" whose camera is darker, lower in contrast and tinted.

    /usr/bin/python3 models/factory.py data --out build/factory     # numpy only, seconds
    /usr/bin/python3 models/factory.py train --out models/factory_cnn.onnx   # PyTorch, ~20 s
    /usr/bin/python3 models/factory.py train --arch depthwise --out models/factory_dw.onnx

The images are 3x32x32 gratings: class k (10 classes) is a sinusoidal grating
at angle k*18 degrees, random phase and frequency, a random colour and pixel
noise. Factory 2 sees the same scenes as x' = 0.3 x tint - 0.4 (darker,
low contrast, channel gains 1.2/0.8/0.5 before the offset). The CNN is
conv-BN-ReLU x3, global average pool, Linear, BatchNorm1d, ReLU, Linear: the
BatchNorm1d after the classifier's Linear sees one value per channel at batch
1, the degenerate layer the audit must name. The second model (--arch
depthwise, models/factory_dw.onnx) is MobileNet-like: depthwise 3x3 and
pointwise 1x1 convolutions, each followed by BN and ReLU (the layers whose
folded weights and statistics the shift study and quantization care about).

`data` writes, each as a folder holding x.npy (float32 [N,3,32,32]) and
y.npy (int64 [N]) and the same as one data.npz with arrays x and y:
  factory1/          512 held-out samples of the training distribution
  factory1_eval/     512 more (the guard of recalibrate)
  factory2/          512 samples of factory 2
  factory2_eval/     512 more
Seeded: the files are the same on every machine.
"""
import argparse
import os

import numpy as np

CLASSES = 10


def images(n, seed, factory):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    yy, xx = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    x = np.empty((n, 3, 32, 32), np.float32)
    for i in range(n):
        angle = y[i] * np.pi / CLASSES + rng.normal(0, 0.03)
        freq = rng.uniform(0.25, 0.45)
        phase = rng.uniform(0, 2 * np.pi)
        g = np.sin(freq * (np.cos(angle) * xx + np.sin(angle) * yy) + phase)
        colour = rng.uniform(0.5, 1.5, 3)
        x[i] = colour[:, None, None] * g[None] + rng.normal(0, 0.3, (3, 32, 32))
    if factory == 2:
        tint = np.array([1.2, 0.8, 0.5], np.float32)[None, :, None, None]
        x = 0.3 * x * tint - 0.4
    return x.astype(np.float32), y.astype(np.int64)


def write_data(out):
    sets = {"factory1": (11, 1), "factory1_eval": (12, 1), "factory2": (21, 2), "factory2_eval": (22, 2)}
    for name, (seed, factory) in sets.items():
        x, y = images(512, seed, factory)
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "y.npy"), y)
        np.savez(os.path.join(out, name + ".npz"), x=x, y=y)
    print(f"wrote {', '.join(sets)} under {out} (512 samples each: x.npy, y.npy; and NAME.npz with x, y)")


def build():
    import torch.nn as nn

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(*block(3, 16), nn.MaxPool2d(2), *block(16, 32), nn.MaxPool2d(2), *block(32, 32),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 32), nn.BatchNorm1d(32), nn.ReLU(),
                         nn.Linear(32, CLASSES))


def build_depthwise():
    import torch.nn as nn

    def cbr(cin, cout, k, groups=1, stride=1):
        return [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(*cbr(3, 16, 3), *cbr(16, 16, 3, groups=16), *cbr(16, 32, 1), *cbr(32, 32, 3, groups=32, stride=2),
                         *cbr(32, 48, 1), *cbr(48, 48, 3, groups=48, stride=2), *cbr(48, 64, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, CLASSES))


BUILDERS = {"cnn": build, "depthwise": build_depthwise}


def train(out, arch="cnn"):
    import torch
    torch.manual_seed(0)
    torch.set_num_threads(2)
    x, y = images(4096, 1, 1)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model = BUILDERS[arch]()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for epoch in range(4):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        for name, (seed, factory) in {"factory1": (11, 1), "factory2": (21, 2)}.items():
            xe, ye = images(512, seed, factory)
            acc = (model(torch.from_numpy(xe)).argmax(1).numpy() == ye).mean()
            print(f"PyTorch eval-mode accuracy on {name}: {acc:.3f}")
    torch.onnx.export(model, torch.zeros(1, 3, 32, 32), out, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}}, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    torch.save(model.state_dict(), os.path.splitext(out)[0] + ".pt") if os.environ.get("FACTORY_SAVE_PT") else None
    print(f"wrote {out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["data", "train"])
    p.add_argument("--out", required=True)
    p.add_argument("--arch", choices=sorted(BUILDERS), default="cnn", help="train: which model (default cnn)")
    a = p.parse_args()
    if a.what == "data":
        write_data(a.out)
    else:
        train(a.out, a.arch)


if __name__ == "__main__":
    main()
