#!/usr/bin/python3
"""Checks bnfold against PyTorch on torchvision classification models.

For every model: export it twice with random weights (BatchNormalization kept,
and folded by PyTorch's own exporter), fold the BN-kept export with
`bnfold fold`, compute PyTorch's eval-mode outputs on random inputs at each
batch size, and run `bnfold run --expect` on all three.

    /usr/bin/python3 models/torchvision_check.py --bnfold build/bnfold --out build/models
    /usr/bin/python3 models/torchvision_check.py --bnfold build/bnfold --models resnet18 --batches 1 8

Prints one line per (model, variant, batch) with bnfold's max errors; exits 1
when any output differs beyond rtol 1e-3 / atol 1e-4.
"""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_models  # noqa: E402


def export(model, shape, path, keep_bn, opset):
    # Always re-exported: a cached file from an older generator would compare
    # one model's ONNX with another model's PyTorch outputs.
    mode = torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(model, torch.randn(shape), path, opset_version=opset, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
                      training=mode, do_constant_folding=True)


def check_train_mode(args, name, model, channels, size):
    """bnfold's batch-statistics mode against PyTorch in train mode."""
    path = os.path.join(args.out, f"{name}_bn.onnx")
    export(model, (1, channels, size, size), path, True, args.opset)
    # Only BatchNormalization in train mode (Dropout and stochastic depth stay
    # off: they are random), without changing the running statistics.
    model.eval()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = 0.0
            m.train()
    failures = 0
    for batch in args.batches:
        gen = torch.Generator().manual_seed(100 + batch)
        x = torch.randn((batch, channels, size, size), generator=gen)
        with torch.no_grad():
            y = model(x)
        xin = os.path.join(args.out, f"{name}_tx{batch}.npy")
        yout = os.path.join(args.out, f"{name}_ty{batch}.npy")
        np.save(xin, x.numpy())
        np.save(yout, y.numpy())
        r = subprocess.run([args.bnfold, "run", path, "--no-save", "--bn-mode", "batch", "-i", f"input={xin}",
                            "-e", f"output={yout}", "--rtol", str(args.rtol), "--atol", str(args.atol)],
                           capture_output=True, text=True)
        m = re.search(r"expect output: (\w+): max abs error (\S+), max rel error (\S+)", r.stdout)
        status = "ok" if r.returncode == 0 else "FAIL"
        detail = (f"max abs error {m.group(2)} (outputs up to {float(np.abs(y.numpy()).max()):.3g})"
                  if m else (r.stderr.strip() or r.stdout[-300:]))
        print(f"{name:20} train   batch {batch:2}: {status}  {detail}", flush=True)
        failures += r.returncode != 0
    model.eval()
    return failures


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bnfold", required=True)
    p.add_argument("--out", default="build/models")
    p.add_argument("--models", nargs="*", default=list(make_models.TORCHVISION))
    p.add_argument("--batches", nargs="*", type=int, default=[1, 8])
    p.add_argument("--opset", type=int, default=13)
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--atol", type=float, default=1e-4)
    p.add_argument("--train-mode", action="store_true",
                   help="compare bnfold --bn-mode batch with PyTorch's model.train() (running stats left "
                        "unchanged) on the BN-kept export instead")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    failures = 0
    for name in args.models:
        model = make_models.build_torchvision(name)
        channels, size = make_models.TORCHVISION[name]
        if args.train_mode:
            failures += check_train_mode(args, name, model, channels, size)
            continue
        for variant, keep_bn in (("bn", True), ("folded", False), ("bnfold", None)):
            path = os.path.join(args.out, f"{name}_{variant}.onnx")
            if keep_bn is None:  # bnfold's own fold of the BN-kept export
                report = os.path.join(args.out, f"{name}_bnfold.json")
                r = subprocess.run([args.bnfold, "fold", os.path.join(args.out, f"{name}_bn.onnx"), "-o", path,
                                    "--report", report], capture_output=True, text=True)
                if r.returncode != 0:
                    print(f"{name:20} bnfold fold FAILED: {r.stderr.strip()}", flush=True)
                    failures += 1
                    continue
                rep = json.load(open(report))
                c = rep["counts"]
                # Every BN right after a Conv must be folded into it.
                missed = [b["bn"] for b in rep["batchnorms"] if b["producer_op"] == "Conv" and b["action"] != "folded"]
                if missed:
                    print(f"{name:20} FAIL: BNs after a Conv not folded: {missed[:5]}", flush=True)
                    failures += 1
                print(f"{name:20} bnfold fold: {c['folded']}/{c['total']} BN folded into the layer before, "
                      f"{c['folded_forward']} forward, {c['scale_shift']} scale-shift, {c['kept']} kept", flush=True)
            else:
                export(model, (1, channels, size, size), path, keep_bn, args.opset)
            for batch in args.batches:
                gen = torch.Generator().manual_seed(batch)
                x = torch.randn((batch, channels, size, size), generator=gen)
                with torch.no_grad():
                    y = model(x)
                xin = os.path.join(args.out, f"{name}_x{batch}.npy")
                yout = os.path.join(args.out, f"{name}_y{batch}.npy")
                np.save(xin, x.numpy())
                np.save(yout, y.numpy())
                r = subprocess.run([args.bnfold, "run", path, "--no-save", "-i", f"input={xin}",
                                    "-e", f"output={yout}", "--rtol", str(args.rtol), "--atol", str(args.atol)],
                                   capture_output=True, text=True)
                m = re.search(r"expect output: (\w+): max abs error (\S+), max rel error (\S+)", r.stdout)
                status = "ok" if r.returncode == 0 else "FAIL"
                scale = float(np.abs(y.numpy()).max())
                detail = (f"max abs error {m.group(2)}, max rel {m.group(3).rstrip(',')} (outputs up to {scale:.3g})"
                          if m else (r.stderr.strip() or r.stdout[-300:]))
                print(f"{name:20} {variant:7} batch {batch:2}: {status}  {detail}", flush=True)
                failures += r.returncode != 0
    print(f"{failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
