#!/usr/bin/python3
"""A corpus of real models beyond the torchvision classifiers, checked against
PyTorch and ONNX Runtime.

Transformers (torchvision's VisionTransformer, SwinTransformer and ConvNeXt,
made small; vit_b_32, vit_b_16, swin_t, convnext_tiny on demand with --only),
segmentation (fcn, deeplabv3, lraspp: BN in backbone and head), video
(r3d_18, mc3_18, r2plus1d_18: BatchNorm3d), detection backbones with their
heads (ssdlite, retinanet; no post-processing, which needs control flow), and
models exported at opsets 7, 9, 11 and 17. Every model is exported with
BatchNormalization kept and dynamic batch, H and W (and T for video), and is
checked at two input sizes: a small one that drives the deepest feature maps
down to 1x1 (checked by ONNX shape inference), and a larger one. Weights are random (fixed seeds), BN
parameters randomised and running statistics calibrated as in make_models.py.

    /usr/bin/python3 models/corpus.py generate --out build/corpus [--only NAME ...]
    /usr/bin/python3 models/corpus.py check --out build/corpus --build build [--only NAME ...]

`generate` writes NAME.onnx and, per size k, NAME.k.input.npy and PyTorch's
eval-mode outputs NAME.k.OUTPUT.npy (skipped when the files exist from the
same version of this script). `check` runs, per model and size: bnfold (oneDNN)
against PyTorch; ONNX Runtime (onnxruntime-node, pinned, in BUILD/ort; skipped
with a message when node/npm are missing) against PyTorch; `bnfold fold
--verify` with the larger size's input; and the folded model through bnfold
and ORT against PyTorch. Tolerance: |got - want| <= atol + rtol |want| with
rtol 1e-3, atol 1e-4, every element. Exits 1 on any failure.
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

RTOL, ATOL = 1e-3, 1e-4


class SegmentationOut(nn.Module):
    """torchvision's segmentation models return {"out": ...}: the tensor alone."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


class DetectionHead(nn.Module):
    """A detector's backbone (with FPN or extra layers) and its head: the
    per-anchor box regressions and class logits, before decoding and NMS."""

    def __init__(self, model):
        super().__init__()
        self.backbone, self.head = model.backbone, model.head

    def forward(self, x):
        features = list(self.backbone(x).values())
        out = self.head(features)
        return out["bbox_regression"], out["cls_logits"]


class UNetBN(nn.Module):
    """Conv-BN encoder/decoder with MaxPool, an upsampling and a skip Concat.
    The upsampling is a nearest Upsample from opset 9 (PyTorch cannot export
    one at opset 7: a stride-2 ConvTranspose with BN there); from opset 11 a
    bilinear resize to the input's own size is added (a Shape-driven Resize)."""

    def __init__(self, opset):
        super().__init__()
        self.bilinear = opset >= 11
        self.enc1 = make_models.conv_bn(3, 8)
        self.enc2 = make_models.conv_bn(8, 16)
        self.mid = make_models.conv_bn(16, 16)
        self.dec = make_models.conv_bn(32, 8)
        self.pool = nn.MaxPool2d(2)
        self.up = (nn.Upsample(scale_factor=2, mode="nearest") if opset >= 9 else
                   nn.Sequential(nn.ConvTranspose2d(16, 16, 2, 2, bias=False), nn.BatchNorm2d(16)))
        self.head = nn.Sequential(nn.Conv2d(8, 4, 1), nn.BatchNorm2d(4))

    def forward(self, x):
        a = self.enc2(self.pool(self.enc1(x)))
        b = self.up(self.mid(self.pool(a)))
        y = self.head(self.dec(torch.cat([a, b], 1)))
        if self.bilinear:
            y = nn.functional.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return y


def seg(name):
    from torchvision.models import segmentation
    kwargs = {"weights": None, "weights_backbone": None}
    if name == "fcn_resnet50":
        kwargs["aux_loss"] = False
    return SegmentationOut(getattr(segmentation, name)(**kwargs))


def video(name):
    from torchvision.models import video as v
    return getattr(v, name)(weights=None)


def detection(name):
    from torchvision.models import detection as d
    return DetectionHead(getattr(d, name)(weights=None, weights_backbone=None))


def classifier(name):
    import torchvision
    return getattr(torchvision.models, name)(weights=None)


def nonzero(model):
    """Transformers zero-initialise their heads (logits all 0: any runtime would
    "match"): every all-zero weight gets small random values."""
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 1 and float(p.abs().max()) == 0:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    return model


def small_vit():
    from torchvision.models.vision_transformer import VisionTransformer
    return nonzero(VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64,
                                     mlp_dim=128, num_classes=10))


def small_swin():
    from torchvision.models.swin_transformer import SwinTransformer
    return nonzero(SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                                   window_size=[4, 4], num_classes=10))


def small_convnext():
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    return nonzero(ConvNeXt([CNBlockConfig(16, 32, 2), CNBlockConfig(32, None, 2)], num_classes=10))


def full(name):
    return nonzero(classifier(name))


IMAGE_AXES = {0: "N", 2: "H", 3: "W"}
BATCH_AXES = {0: "N"}
VIDEO_AXES = {0: "N", 2: "T", 3: "H", 4: "W"}

# name: (builder, [small shape, larger shape], opset, dynamic axes, output names)
CORPUS = {
    # Transformers (issue 31): torchvision's own classes, made small; ViT and
    # Swin take one image size (a fixed position table, window shifts).
    "vit_small_opset17": (small_vit, [(1, 3, 32, 32), (2, 3, 32, 32)], 17, BATCH_AXES, ["logits"]),
    "vit_small_opset13": (small_vit, [(1, 3, 32, 32), (2, 3, 32, 32)], 13, BATCH_AXES, ["logits"]),
    "swin_small_opset17": (small_swin, [(1, 3, 32, 32), (2, 3, 32, 32)], 17, BATCH_AXES, ["logits"]),
    "convnext_small_opset17": (small_convnext, [(1, 3, 32, 32), (2, 3, 64, 64)], 17, IMAGE_AXES, ["logits"]),
    "fcn_resnet50": (lambda: seg("fcn_resnet50"), [(1, 3, 8, 8), (1, 3, 48, 64)], 13, IMAGE_AXES, ["out"]),
    "deeplabv3_mobilenet_v3_large": (lambda: seg("deeplabv3_mobilenet_v3_large"),
                                     [(1, 3, 16, 16), (2, 3, 64, 80)], 13, IMAGE_AXES, ["out"]),
    "lraspp_mobilenet_v3_large": (lambda: seg("lraspp_mobilenet_v3_large"),
                                  [(1, 3, 16, 16), (2, 3, 64, 96)], 17, IMAGE_AXES, ["out"]),
    "r3d_18": (lambda: video("r3d_18"), [(1, 3, 2, 16, 16), (2, 3, 4, 32, 40)], 13, VIDEO_AXES, ["logits"]),
    "mc3_18": (lambda: video("mc3_18"), [(1, 3, 2, 16, 16), (2, 3, 4, 32, 32)], 11, VIDEO_AXES, ["logits"]),
    "r2plus1d_18": (lambda: video("r2plus1d_18"), [(1, 3, 2, 16, 16), (1, 3, 4, 32, 32)], 13, VIDEO_AXES,
                    ["logits"]),
    "ssdlite320_mobilenet_v3_large": (lambda: detection("ssdlite320_mobilenet_v3_large"),
                                      [(1, 3, 64, 64), (2, 3, 128, 96)], 13, IMAGE_AXES, ["boxes", "scores"]),
    "retinanet_resnet50_fpn": (lambda: detection("retinanet_resnet50_fpn"),
                               [(1, 3, 64, 64), (1, 3, 96, 128)], 11, IMAGE_AXES, ["boxes", "scores"]),
    "unet_bn_opset7": (lambda: UNetBN(7), [(1, 3, 4, 4), (2, 3, 32, 48)], 7, IMAGE_AXES, ["out"]),
    "unet_bn_opset9": (lambda: UNetBN(9), [(1, 3, 4, 4), (2, 3, 32, 48)], 9, IMAGE_AXES, ["out"]),
    "unet_bn_opset11": (lambda: UNetBN(11), [(1, 3, 4, 4), (2, 3, 32, 48)], 11, IMAGE_AXES, ["out"]),
    "unet_bn_opset17": (lambda: UNetBN(17), [(1, 3, 4, 4), (2, 3, 32, 48)], 17, IMAGE_AXES, ["out"]),
    "resnet18_opset7": (lambda: classifier("resnet18"), [(1, 3, 32, 32), (2, 3, 64, 80)], 7, IMAGE_AXES, ["logits"]),
    "mobilenet_v2_opset9": (lambda: classifier("mobilenet_v2"), [(1, 3, 32, 32), (2, 3, 64, 64)], 9, IMAGE_AXES,
                            ["logits"]),
}
# The full-size transformers, on demand (--only NAME): 110-350 MB each.
LARGE = {
    "vit_b_32": (lambda: full("vit_b_32"), [(1, 3, 224, 224), (2, 3, 224, 224)], 17, BATCH_AXES, ["logits"]),
    "vit_b_16": (lambda: full("vit_b_16"), [(1, 3, 224, 224), (2, 3, 224, 224)], 17, BATCH_AXES, ["logits"]),
    "swin_t": (lambda: full("swin_t"), [(1, 3, 224, 224), (2, 3, 224, 224)], 17, BATCH_AXES, ["logits"]),
    "convnext_tiny": (lambda: full("convnext_tiny"), [(1, 3, 224, 224), (2, 3, 224, 224)], 17, IMAGE_AXES, ["logits"]),
}


def stamp():
    """Generated files are reused only when made by this very script."""
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha1(f.read() + torch.__version__.encode()).hexdigest()[:16]


def build(name):
    ctor, sizes, _, _, _ = CORPUS[name]
    torch.manual_seed(0)
    model = ctor()
    gen = torch.Generator().manual_seed(1)
    make_models.randomize_bn(model, gen)
    calib = list(sizes[1])
    calib[0] = 4
    make_models.calibrate(model, tuple(calib), gen, batches=2)
    return model.eval()


def generate(name, out):
    _, sizes, opset, axes, outputs = CORPUS[name]
    path = os.path.join(out, f"{name}.onnx")
    marker = os.path.join(out, f"{name}.stamp")
    if os.path.exists(marker) and open(marker).read() == stamp():
        return
    model = build(name)
    # PyTorch's opset-7 export traces shapes into constants: exported for one
    # size, with the dims made symbolic afterwards (as such models were served).
    static = opset < 9
    dynamic = None if static else {"input": axes, **{o: {0: "N"} for o in outputs}}
    # Exported with gradients on: under no_grad an eval-mode nn.MultiheadAttention
    # takes its fused fast path, which has no ONNX export.
    torch.onnx.export(model, torch.randn(sizes[1]), path, opset_version=opset, input_names=["input"],
                      output_names=outputs, dynamic_axes=dynamic,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    with torch.no_grad():
        if static:
            make_symbolic(path, axes)
        for k, shape in enumerate(sizes):
            x = torch.randn(shape, generator=torch.Generator().manual_seed(10 + k))
            y = model(x)
            y = y if isinstance(y, tuple) else (y,)
            np.save(os.path.join(out, f"{name}.{k}.input.npy"), x.numpy())
            for o, t in zip(outputs, y):
                np.save(os.path.join(out, f"{name}.{k}.{o}.npy"), t.detach().numpy())
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    n_bn = sum(1 for n in m.graph.node if n.op_type == "BatchNormalization")
    print(f"{name}: opset {opset}, {len(m.graph.node)} nodes, {n_bn} BatchNormalization", flush=True)
    with open(marker, "w") as f:
        f.write(stamp())


def make_symbolic(path, axes):
    """Gives the input symbolic dims on AXES and drops the traced intermediate and output shapes."""
    import onnx
    m = onnx.load(path)
    for axis, param in axes.items():
        m.graph.input[0].type.tensor_type.shape.dim[axis].dim_param = param
    del m.graph.value_info[:]
    for o in m.graph.output:
        for d in o.type.tensor_type.shape.dim:
            d.Clear()  # an unknown dim
    onnx.save(m, path)


def smallest_map(path, shape):
    """The smallest feature map (largest spatial dim of the smallest one) of
    the model at an input SHAPE, by ONNX shape inference."""
    import onnx
    m = onnx.load(path)
    for d, v in zip(m.graph.input[0].type.tensor_type.shape.dim, shape):
        d.Clear()
        d.dim_value = v
    del m.graph.value_info[:]
    m = onnx.shape_inference.infer_shapes(m)
    smallest = None
    for vi in m.graph.value_info:
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in vi.type.tensor_type.shape.dim]
        if len(dims) == len(shape) and all(dims):
            side = max(dims[2:])
            smallest = side if smallest is None else min(smallest, side)
    return smallest


def error(got, want):
    """(max abs error, elements beyond atol + rtol |want|, largest |want|)."""
    if got.shape != want.shape:
        return float("inf"), want.size, 0.0
    d = np.abs(got.astype(np.float64) - want)
    return float(d.max(initial=0)), int((d > ATOL + RTOL * np.abs(want)).sum()), float(np.abs(want).max(initial=0))


class Checker:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.bnfold_cli = os.path.join(self.build, "bnfold")
        sys.path.insert(0, os.path.join(self.build, "python"))
        import bnfold
        import ort
        self.bnfold = bnfold
        modules = ort.ensure_ort(self.build, allow_missing=True)
        self.ort = ort.Ort(modules) if modules else None
        self.failures = []

    def record(self, what, got, want):
        err, bad, scale = error(got, want)
        if bad:
            self.failures.append(f"{what}: {bad} elements beyond tolerance, max abs error {err:.3g}")
        return err, bad, scale

    def run_all(self, name, path, label):
        """Runs PATH with bnfold and ORT at every size against PyTorch's outputs."""
        _, sizes, _, _, outputs = CORPUS[name]
        out = self.args.out
        session = self.bnfold.Session(path)
        ort_id = self.ort.ask(cmd="load", path=path, level="all", threads=2)["id"] if self.ort else None
        for k, shape in enumerate(sizes):
            x = np.load(os.path.join(out, f"{name}.{k}.input.npy"))
            got = session.run({"input": x})
            got_ort = self.ort.run(ort_id, {"input": x}) if self.ort else {}
            cells = []
            for o in outputs:
                want = np.load(os.path.join(out, f"{name}.{k}.{o}.npy"))
                err, bad, scale = self.record(f"{name} {label} {list(shape)} {o}: bnfold", got[o], want)
                cell = f"{o} bnfold {err:.2g}{' FAIL' if bad else ''}"
                if self.ort:
                    err, bad, _ = self.record(f"{name} {label} {list(shape)} {o}: ORT", got_ort[o], want)
                    cell += f", ORT {err:.2g}{' FAIL' if bad else ''}"
                cells.append(f"{cell} (|y| <= {scale:.3g})")
            print(f"{name:30} {label:7} {str(list(shape)):18} {'; '.join(cells)}", flush=True)

    def check(self, name):
        out = self.args.out
        path = os.path.join(out, f"{name}.onnx")
        # Models of any image size are checked where their deepest maps are 1x1;
        # those of one size (ViT, Swin: batch the only free dim) at that size.
        side = smallest_map(path, CORPUS[name][1][0]) if 2 in CORPUS[name][3] else 1
        if side != 1:
            self.failures.append(f"{name}: the small input's smallest feature map is {side}, not 1")
        self.run_all(name, path, "as-is")
        folded = os.path.join(out, f"{name}.folded.onnx")
        x = os.path.join(out, f"{name}.1.input.npy")
        t0 = time.time()
        r = subprocess.run([self.bnfold_cli, "fold", path, "-o", folded, "--verify", "-i", f"input={x}"], capture_output=True, text=True)
        summary = [line for line in r.stdout.splitlines() if "BatchNormalization" in line or "verif" in line.lower()]
        print(f"{name:30} fold    exit {r.returncode} in {time.time() - t0:.1f} s: {' | '.join(summary)[:300]}",
              flush=True)
        if r.returncode != 0:
            self.failures.append(f"{name}: bnfold fold --verify exited {r.returncode}: {r.stderr.strip()[-300:]}")
            return
        self.run_all(name, folded, "folded")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["generate", "check"])
    p.add_argument("--out", default=os.path.join(ROOT, "build", "corpus"), help="folder of the generated models")
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="the CMake build folder (check)")
    p.add_argument("--only", nargs="*", default=list(CORPUS),
                   help=f"these models only (also the large ones, on demand: {', '.join(LARGE)})")
    a = p.parse_args()
    unknown = [n for n in a.only if n not in CORPUS and n not in LARGE]
    if unknown:
        sys.exit(f"unknown corpus model(s) {', '.join(unknown)}; known: {', '.join(list(CORPUS) + list(LARGE))}")
    CORPUS.update({n: LARGE[n] for n in a.only if n in LARGE})
    os.makedirs(a.out, exist_ok=True)
    if a.command == "generate":
        for name in a.only:
            generate(name, a.out)
        return 0
    return check_all(Checker(a), a.only, "models", 30)


def check_all(c, names, what, width):
    """Runs c.check on every name (one failure does not hide the others'),
    prints the failures and a summary; 1 when any failed. c has check(),
    failures and ort (None without ONNX Runtime); detectors.py uses it too."""
    for name in names:
        try:
            c.check(name)
        except Exception as e:  # one model's failure must not hide the others'
            c.failures.append(f"{name}: {type(e).__name__}: {e}")
            print(f"{name:{width}} ERROR {e}", flush=True)
    if c.ort:
        c.ort.close()
    for f in c.failures:
        print("FAIL", f)
    print(f"{len(names)} {what}, {len(c.failures)} failures"
          f"{'' if c.ort else ' (ONNX Runtime not available: compared with PyTorch only)'}")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
