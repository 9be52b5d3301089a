#!/usr/bin/python3
"""Verification against a float64 noise floor, end to end.

1. `bnfold run --float64` against PyTorch in double (model.double()) on a
   small ResNet: the float64 reference the verification uses is right.
2. A numerically chaotic efficientnet_b0 (random weights; its BN statistics
   calibrated on inputs 10x smaller than the N(0,1) inputs it is verified on,
   so every layer amplifies rounding): `fold --verify` passes and reports the
   original's own float32 noise; with --noise-factor 0 (no floor) the same
   check fails: the tolerance alone cannot tell that noise from an error.
3. A deliberately broken fold (one folded Conv's weights scaled by 1.01, as if
   that BN's scale were off by 1%) fails `bnfold verify` on the same model and
   inputs, at that BN.
4. With no --mean/--std, the random inputs are drawn per channel from the
   statistics estimated through the first BN, and the report says so.

    tests/models/test_verify_noise_floor.py BNFOLD OUT_DIR
"""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "models"))
import make_models  # noqa: E402

BNFOLD, OUT = sys.argv[1], sys.argv[2]
os.makedirs(OUT, exist_ok=True)
failures = []


def check(what, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {what}" + (f"\n     {detail}" if not ok and detail else ""), flush=True)
    if not ok:
        failures.append(what)


def bnfold(*args):
    r = subprocess.run([BNFOLD, *args], capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def export(model, shape, path):
    torch.onnx.export(model, torch.randn(shape), path, opset_version=13, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)


# 1. The float64 reference against PyTorch in double.
torch.manual_seed(0)
tiny = make_models.TinyResNet()
gen = torch.Generator().manual_seed(1)
make_models.randomize_bn(tiny, gen)
make_models.calibrate(tiny, (8, 3, 32, 32), gen)
tiny_path = os.path.join(OUT, "tiny.onnx")
export(tiny, (1, 3, 32, 32), tiny_path)
x = torch.randn((2, 3, 32, 32), generator=torch.Generator().manual_seed(5))
np.save(os.path.join(OUT, "tiny_x.npy"), x.numpy())
with torch.no_grad():
    want = tiny.double()(x.double()).numpy()
code, out, err = bnfold("run", tiny_path, "--float64", "-i", f"input={os.path.join(OUT, 'tiny_x.npy')}", "-o", OUT)
got = np.load(os.path.join(OUT, "output.npy")) if code == 0 else None
diff = float(np.abs(got - want).max()) if got is not None else float("inf")
# Not to the last bit: ONNX stores BN's epsilon as a float32 attribute (1e-5 is
# off by ~2e-13 relative), float32 rounding would show as ~1e-7.
check(f"run --float64 equals PyTorch in double (max abs diff {diff:.2g}, outputs up to {np.abs(want).max():.2g})",
      got is not None and got.dtype == np.float64 and diff <= 1e-10 * max(1.0, float(np.abs(want).max())), out + err)

# 2. A chaotic efficientnet_b0.
eff_path = os.path.join(OUT, "efficientnet_b0_chaotic.onnx")
if not os.path.exists(eff_path):
    import torchvision
    torch.manual_seed(0)
    eff = torchvision.models.efficientnet_b0(weights=None)
    gen = torch.Generator().manual_seed(1)
    make_models.randomize_bn(eff, gen)
    bns = [m for m in eff.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    eff.train()
    with torch.no_grad():
        for _ in range(2):
            eff(0.1 * torch.randn((4, 3, 224, 224), generator=gen))
    eff.eval()
    export(eff, (1, 3, 224, 224), eff_path + ".tmp")
    os.replace(eff_path + ".tmp", eff_path)
folded = os.path.join(OUT, "efficientnet_b0_chaotic.folded.onnx")
report = os.path.join(OUT, "fold.json")
code, out, err = bnfold("fold", eff_path, "-o", folded, "--verify", "--mean", "0", "--std", "1", "--report", report)
r = json.load(open(report)) if code == 0 else {}
o = r.get("verification", {}).get("outputs", [{}])[0]
check(f"chaotic efficientnet_b0: fold --verify on N(0,1) passes (fold error {o.get('max_abs', 0):.3g}, "
      f"float32 noise of the original {o.get('float32_noise') or 0:.3g}, outputs up to {o.get('scale', 0):.3g})",
      code == 0 and o.get("ok") and (o.get("float32_noise") or 0) > 0 and "float32 noise" in out, out[-1500:] + err)
check("the report names the float64 reference and the inputs",
      "float64" in r.get("verification", {}).get("reference", "") and "--mean/--std" in r["verification"]["inputs"],
      json.dumps(r.get("verification", {}))[:600])
check("the per-BN table has each fold's error alone",
      all(b["isolated_error"] is not None for b in r.get("batchnorms", [])) and r.get("batchnorms"))
code0, out0, err0 = bnfold("verify", eff_path, folded, "--mean", "0", "--std", "1", "--noise-factor", "0")
check("without the noise floor the same check fails: this is float32 noise the tolerance cannot tell from error",
      code0 == 1 and "FAIL" in out0, out0[-800:] + err0)

# 3. A broken fold: one folded Conv's weights (the 10th BN's) scaled by 1.01.
m = onnx.load(folded)
rows = [b for b in r.get("batchnorms", []) if b["action"] == "folded"]
target = rows[9] if len(rows) > 9 else None
broken = os.path.join(OUT, "efficientnet_b0_chaotic.broken.onnx")
if target:
    conv = next(n for n in m.graph.node if n.op_type == "Conv" and n.output[0] == target["output"])
    init = next(i for i in m.graph.initializer if i.name == conv.input[1])
    init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * np.float32(1.01), init.name))
    onnx.save(m, broken)
    code, out, err = bnfold("verify", eff_path, broken, "--mean", "0", "--std", "1", "--json")
    j = json.loads(out) if out.strip().startswith("{") else {}
    bad = [v["output"] for v in j.get("values", []) if not v["ok"]]
    check(f"a fold with one BN's scale off by 1% fails at that BN ({target['output']}): failing {bad[:3]}",
          code == 1 and not j.get("ok", True) and target["output"] in bad, out[-800:] + err)
else:
    check("efficientnet_b0 has at least 10 folded BNs", False)

# 4. Data-like random inputs by default.
code, out, err = bnfold("verify", eff_path, folded, "--json")
j = json.loads(out) if out.strip().startswith("{") else {}
check("default random inputs are estimated from the first BN through the first Conv, and pass",
      code == 0 and "estimated from BN" in j.get("inputs", ""), out[-600:] + err)

print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
