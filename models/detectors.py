#!/usr/bin/python3
"""Whole torchvision detectors, post-processing included, checked against
PyTorch and ONNX Runtime.

The models of models/corpus.py stop at the detection heads; these are
exported whole (torchvision's transform, anchors, box decoding, per-class
score thresholds and TopK, batched NonMaxSuppression inside an If, RoiAlign
for Faster R-CNN), as `torch.onnx.export(model, ([image],))` writes them at
opset 11: a 3x320x320 image in, boxes, labels and scores out. Their output
sizes depend on the image, so bnfold runs them as plans that stop before
NonZero, NonMaxSuppression and If and continue after them.

Weights are random (fixed seeds); BN parameters randomised and their running
statistics calibrated on random images as in make_models.py, and the score
layers scaled up, so that scores differ from box to box and some pass the
score threshold (untrained heads give every class the same score, and ties
leave the order of the kept boxes to each runtime).

    /usr/bin/python3 models/detectors.py generate --out build/detectors [--only NAME ...]
    /usr/bin/python3 models/detectors.py check --out build/detectors --build build [--only NAME ...]
    /usr/bin/python3 models/detectors.py bench --out build/detectors --build build [--rounds 5]

`check` runs each model (and the model `bnfold fold` writes from it) in
bnfold, and in ONNX Runtime (onnxruntime-node, pinned, in BUILD/ort; skipped
with a message when node/npm are missing), on two images, and compares every
output with PyTorch's: same shape, |got - want| <= 1e-4 + 1e-3 |want| per
element. Exits 1 on any failure.

`bench` times each model (as folded) in bnfold and in ONNX Runtime (all
optimizations) on the same image, 2 threads each, in alternating rounds of
about a second per runtime, and prints each runtime's median run and the
median of the per-round ratios, with their range.
"""
import argparse
import hashlib
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "ort"))
import make_models  # noqa: E402
from corpus import check_all, error  # noqa: E402

OUTPUTS = ["boxes", "labels", "scores"]
IMAGE = (3, 320, 320)
IMAGES = 2
# name: the parameters whose values are scaled up (score layers), and by how much
DETECTORS = {
    "ssdlite320_mobilenet_v3_large": ("head.classification_head", 1.0),
    "fasterrcnn_mobilenet_v3_large_320_fpn": ("roi_heads.box_predictor.cls_score", 200.0),
}


def stamp():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha1(f.read() + torch.__version__.encode()).hexdigest()[:16]


def build(name):
    from torchvision.models import detection
    torch.manual_seed(0)
    model = getattr(detection, name)(weights=None, weights_backbone=None)
    gen = torch.Generator().manual_seed(1)
    make_models.randomize_bn(model, gen)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # the plain average of the calibration batches
    model.eval()
    for m in bns:
        m.train()
    with torch.no_grad():
        for _ in range(2):
            x = 1.5 * torch.randn((2, *IMAGE), generator=gen) + 0.3
            features = model.backbone(x)
            if hasattr(model, "head"):  # SSD's head has BNs too
                model.head(list(features.values()))
        prefix, scale = DETECTORS[name]
        for pname, p in model.named_parameters():
            if pname.startswith(prefix):
                p.mul_(scale)
    for m in bns:
        m.eval()
        m.momentum = 0.1
    return model.eval()


def generate(name, out):
    path = os.path.join(out, f"{name}.onnx")
    marker = os.path.join(out, f"{name}.stamp")
    if os.path.exists(marker) and open(marker).read() == stamp():
        return
    model = build(name)
    example = torch.rand(IMAGE, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        order = list(model([example])[0].keys())  # the outputs in the order of the model's dict
    torch.onnx.export(model, ([example],), path, opset_version=11, input_names=["image"], output_names=order,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    with torch.no_grad():
        for k in range(IMAGES):
            x = torch.rand(IMAGE, generator=torch.Generator().manual_seed(10 + k))
            y = model([x])[0]
            np.save(os.path.join(out, f"{name}.{k}.image.npy"), x.numpy())
            for o in OUTPUTS:
                np.save(os.path.join(out, f"{name}.{k}.{o}.npy"), y[o].numpy())
            print(f"{name}: image {k}: {len(y['scores'])} detections", flush=True)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = {n.op_type for n in m.graph.node}
    n_bn = sum(1 for n in m.graph.node if n.op_type == "BatchNormalization")
    print(f"{name}: {len(m.graph.node)} nodes, {n_bn} BatchNormalization, If: {'If' in ops}", flush=True)
    with open(marker, "w") as f:
        f.write(stamp())


class Checker:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        sys.path.insert(0, os.path.join(self.build, "python"))
        import bnfold
        import ort
        self.bnfold = bnfold
        modules = ort.ensure_ort(self.build, allow_missing=True)
        self.ort = ort.Ort(modules) if modules else None
        self.failures = []

    def compare(self, what, got, want):
        err, bad, _ = error(got, want)
        if bad:
            self.failures.append(f"{what}: {bad} elements beyond tolerance (shape {got.shape}, want {want.shape}), "
                                 f"max abs error {err:.3g}")
        return f"{err:.2g}{' FAIL' if bad else ''}"

    def run_all(self, name, path, label):
        out = self.args.out
        session = self.bnfold.Session(path, threads=2)
        ort_id = self.ort.ask(cmd="load", path=path, level="all", threads=2)["id"] if self.ort else None
        for k in range(IMAGES):
            x = np.load(os.path.join(out, f"{name}.{k}.image.npy"))
            t0 = time.time()
            got = session.run({"image": x})
            ms = (time.time() - t0) * 1e3
            got_ort = self.ort.run(ort_id, {"image": x}) if self.ort else {}
            cells = []
            for o in OUTPUTS:
                want = np.load(os.path.join(out, f"{name}.{k}.{o}.npy"))
                cell = f"{o} bnfold {self.compare(f'{name} {label} image {k} {o}: bnfold', got[o], want)}"
                if self.ort:
                    cell += f", ORT {self.compare(f'{name} {label} image {k} {o}: ORT', got_ort[o], want)}"
                cells.append(cell)
            n = len(np.load(os.path.join(out, f"{name}.{k}.scores.npy")))
            print(f"{name:38} {label:7} image {k}: {n:3} detections, first run {ms:5.0f} ms; {'; '.join(cells)}",
                  flush=True)

    def check(self, name):
        out = self.args.out
        path = os.path.join(out, f"{name}.onnx")
        self.run_all(name, path, "as-is")
        folded = os.path.join(out, f"{name}.folded.onnx")
        x = os.path.join(out, f"{name}.1.image.npy")
        r = subprocess.run([os.path.join(self.build, "bnfold"), "fold", path, "-o", folded, "--verify", "-i",
                            f"image={x}"], capture_output=True, text=True)
        summary = [line for line in r.stdout.splitlines() if "BatchNormalization" in line or "verif" in line.lower()]
        print(f"{name:38} fold    exit {r.returncode}: {' | '.join(summary)[:300]}", flush=True)
        if r.returncode != 0:
            self.failures.append(f"{name}: bnfold fold --verify exited {r.returncode}: {r.stderr.strip()[-300:]}")
            return
        self.run_all(name, folded, "folded")


def bench(args):
    """Alternating rounds: each round times both runtimes on the same image."""
    build = os.path.abspath(args.build)
    sys.path.insert(0, os.path.join(build, "python"))
    import bnfold
    import ort
    with ort.Ort(ort.ensure_ort(build)) as o:
        for name in args.only:
            path = os.path.join(args.out, f"{name}.folded.onnx")
            if not os.path.exists(path):
                path = os.path.join(args.out, f"{name}.onnx")
            image = os.path.abspath(os.path.join(args.out, f"{name}.0.image.npy"))
            x = np.load(image)
            session = bnfold.Session(path, threads=2)
            ort_id = o.ask(cmd="load", path=os.path.abspath(path), level="all", threads=2)["id"]
            for _ in range(2):
                session.run({"image": x})
            ours, theirs, ratios = [], [], []
            for _ in range(args.rounds):
                ms = o.ask(cmd="time", id=ort_id, inputs={"image": image}, seconds=1.0, warmup=1)["ms"]
                mine, start = [], time.perf_counter()
                while len(mine) < 3 or time.perf_counter() - start < 1.0:
                    t0 = time.perf_counter()
                    session.run({"image": x})
                    mine.append((time.perf_counter() - t0) * 1e3)
                ours.append(float(np.median(mine)))
                theirs.append(float(np.median(ms)))
                ratios.append(ours[-1] / theirs[-1])
            print(f"{name:38} bnfold {np.median(ours):6.1f} ms, ORT {np.median(theirs):6.1f} ms, "
                  f"ratio {np.median(ratios):.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f})", flush=True)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["generate", "check", "bench"])
    p.add_argument("--out", default=os.path.join(ROOT, "build", "detectors"), help="folder of the generated models")
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="the CMake build folder (check)")
    p.add_argument("--only", nargs="*", default=list(DETECTORS), help="these models only")
    p.add_argument("--rounds", type=int, default=5, help="bench: alternating rounds (default 5)")
    a = p.parse_args()
    unknown = [n for n in a.only if n not in DETECTORS]
    if unknown:
        sys.exit(f"unknown detector(s) {', '.join(unknown)}; known: {', '.join(DETECTORS)}")
    os.makedirs(a.out, exist_ok=True)
    if a.command == "generate":
        for name in a.only:
            generate(name, a.out)
        return 0
    if a.command == "bench":
        return bench(a)
    return check_all(Checker(a), a.only, "detectors", 38)

if __name__ == "__main__":
    sys.exit(main())
