#!/usr/bin/python3
"""Models exported with BatchNormalization in training mode (PyTorch's
TrainingMode.TRAINING, opset 15: training_mode=1): bnfold runs them as
PyTorch's train() does (batch statistics), and inspect, fold and audit say
plainly what that means; `fold --eval-mode` gives the model PyTorch's eval()
computes, folded and verified.

    test_training_mode.py BNFOLD MODELS_DIR WORK_DIR
"""
import copy
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import Harness  # noqa: E402

BNFOLD, MODELS, WORK = sys.argv[1:4]
sys.path.insert(0, MODELS)
import factory  # noqa: E402

h = Harness(BNFOLD)
os.makedirs(WORK, exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(2)
model = factory.build_depthwise()
model.train()
with torch.no_grad():  # running statistics away from 0 and 1
    for _ in range(3):
        model(torch.randn(16, 3, 32, 32) * 1.7 + 0.4)
path = os.path.join(WORK, "trained_mode.onnx")
torch.onnx.export(copy.deepcopy(model), torch.randn(2, 3, 32, 32), path, opset_version=15, input_names=["x"],
                  output_names=["logits"], dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}},
                  training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
x = (np.random.default_rng(1).standard_normal((8, 3, 32, 32)) * 1.5 + 0.3).astype(np.float32)
np.save(os.path.join(WORK, "x.npy"), x)
# Tracing for the export ran a train-mode forward pass that moved the copy's
# running statistics: PyTorch's eval() is computed from the statistics in the file.
import onnx  # noqa: E402
import onnx.numpy_helper  # noqa: E402
exported = factory.build_depthwise()
missing, unexpected = exported.load_state_dict(
    {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()) for i in onnx.load(path).graph.initializer},
    strict=False)
assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
with torch.no_grad():
    train_out = copy.deepcopy(exported).train()(torch.from_numpy(x)).numpy()
    eval_out = exported.eval()(torch.from_numpy(x)).numpy()
np.save(os.path.join(WORK, "train.npy"), train_out)
np.save(os.path.join(WORK, "eval.npy"), eval_out)

code, out, err = h.run("run", path, "-i", f"x={WORK}/x.npy", "-e", f"logits={WORK}/train.npy", "--atol", "1e-4")
h.check("as exported, bnfold computes what PyTorch's train() computes (batch statistics)", code == 0, out + err)
code, out, err = h.run("inspect", path)
h.check("inspect says the model computes with batch statistics and how to switch",
        code == 0 and "This model computes with batch statistics: 7 of its 7" in out and "--eval-mode" in out, out)
folded = os.path.join(WORK, "plain.onnx")
code, out, err = h.run("fold", path, "-o", folded)
h.check("fold without --eval-mode keeps the 7 BNs, says why and what to do",
        code == 0 and "7 kept" in out and "normalizes with batch statistics" in out and
        "bnfold fold " + path + " --eval-mode" in out, out + err)
evaled = os.path.join(WORK, "eval_folded.onnx")
report = os.path.join(WORK, "report.json")
code, out, err = h.run("fold", path, "-o", evaled, "--eval-mode", "--verify", "--report", report)
r = json.load(open(report)) if code == 0 else {}
h.check("fold --eval-mode switches and folds all 7, verified against the switched model",
        code == 0 and len(r.get("converted", [])) == 7 and r["counts"]["folded"] == 7 and r.get("verified"),
        out + err)
code, out, err = h.run("run", evaled, "-i", f"x={WORK}/x.npy", "-e", f"logits={WORK}/eval.npy", "--atol", "1e-4")
h.check("the --eval-mode model computes what PyTorch's eval() computes", code == 0, out + err)
code, out, err = h.run("audit", path, "--random", "--json")
a = json.loads(out) if code == 0 else {"verdict": [err]}
h.check("audit's first line: exported in training mode, so it computes train mode at every batch size",
        code == 0 and a["verdict"][0].startswith("This model was exported in training mode: its 7") and
        "fold --eval-mode" in a["verdict"][0], a["verdict"][0])
h.finish()
