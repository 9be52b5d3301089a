#!/usr/bin/python3
"""No slow path without a reason: the plans of the torchvision zoo, as
exported (BN kept) and folded, hold no reference kernel and no oneDNN `ref`
implementation, and folding never adds steps. Structure, not timing: the
models are exported at a small input size (64x64), and each plan is built
with the CPU's own instruction set and again with oneDNN limited to AVX2
(ONEDNN_MAX_CPU_ISA), the other kind of machine this project runs on.
`tools/test.sh --isa` runs it again with AVX512_CORE (an AVX-512 part without
AMX or AVX512-BF16), as CI does.

Usage: zoo_plans.py BNFOLD ZOO_DIR [--isa ISA,ISA...]   (native: the CPU's own; default native,AVX2)
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "cli"))
from harness import Harness  # noqa: E402

BNFOLD, ZOO = sys.argv[1:3]
ISAS = ["" if i == "native" else i for i in (sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--isa"
                                                else "native,AVX2").split(",")]
ZOO_MODELS = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "densenet121",
              "shufflenet_v2_x1_0", "mnasnet0_5", "regnet_x_400mf", "googlenet", "vgg11_bn"]
h = Harness(BNFOLD)
# bf16 plans too where the CPU has native bf16 (bnfold refuses it elsewhere, saying so).
probe = subprocess.run([BNFOLD, "run", os.path.join(ZOO, "resnet18.onnx"), "--precision", "bf16"],
                       capture_output=True, text=True)
BF16 = probe.returncode == 0
h.check("bf16: made, or refused for the CPU's lack of AVX512-BF16/AMX",
        BF16 or "AVX512-BF16" in probe.stderr, probe.stderr)


def plans(model, isa, precision="fp32"):
    """{batch: plan} at batches 1 and 8, from one process (one model load)."""
    env = dict(os.environ)
    if isa:
        env["ONEDNN_MAX_CPU_ISA"] = isa
    p = subprocess.run([BNFOLD, "bench", model, "--plan", "--json", "-b", "1,8", "-t", "2",
                        "--precision", precision], capture_output=True, text=True, env=env, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"bnfold bench --plan {model}: {p.stderr}")
    return {b["batch"]: b for b in json.loads(p.stdout)["batches"]}


def slow_steps(p):
    return [f"{s['step']} [{s['implementation']}] at {s['node']}" for s in p["plan"]
            if "(reference)" in s["step"] or s["implementation"].startswith("ref")]


for name in ZOO_MODELS:
    exported = os.path.join(ZOO, f"{name}.onnx")
    folded = os.path.join(ZOO, f"{name}.folded.onnx")
    code, out, err = h.run("fold", exported, "-o", folded)
    h.check(f"{name}: fold", code == 0, err)
    if code != 0:
        continue
    for isa in ISAS:
        exported_plans, folded_plans = plans(exported, isa), plans(folded, isa)
        bf16_plans = plans(folded, isa, "bf16") if BF16 and not isa else {}
        for batch in (1, 8):
            where = f"{name} batch {batch}{' on ' + isa if isa else ''}"
            a, f = exported_plans[batch], folded_plans[batch]
            for label, p in (("as exported", a), ("folded", f)):
                slow = slow_steps(p)
                h.check(f"{where} {label}: no reference kernel, no oneDNN ref implementation", not slow,
                        "\n".join(slow))
            h.check(f"{where}: folding adds no step ({f['steps']} folded vs {a['steps']})", f["steps"] <= a["steps"])
            if bf16_plans:
                slow = slow_steps(bf16_plans[batch])
                h.check(f"{where} folded, bf16: no reference kernel, no oneDNN ref implementation", not slow,
                        "\n".join(slow))
h.finish()
