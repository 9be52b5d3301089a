#!/usr/bin/python3
"""bnfold verify judging reduced precision, against ONNX Runtime and the labels:

- an int8 QDQ model of the trained factory CNN (bnfold quantize): verify's
  float32 and int8 accuracies on the held-out images are ONNX Runtime's
  (float32 model; the QDQ model on its int8 kernels) to within a sample or
  two, its relative RMS error is ONNX Runtime's int8-vs-float32 one to within
  a fifth, and it passes (within a point);
- a broken int8 model (an input range 60x too narrow) loses its accuracy:
  verify fails it, exit code 1, and says by how much;
- without labels it judges each output's relative error (a tolerance below
  what int8 gives fails); -i inputs are one batch;
- bf16 where the CPU has it (else the refusal says why);
- what does not apply is refused: a float32 pair with --data, fold
  tolerances in precision mode, no second model without --precision.

    test_verify_precision.py BNFOLD MODELS_DIR BUILD_DIR WORK_DIR
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import Harness  # noqa: E402

BNFOLD, MODELS, BUILD, WORK = sys.argv[1:5]
sys.path.insert(0, MODELS)
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tools", "ort"))
import factory  # noqa: E402
import ort  # noqa: E402

modules = ort.ensure_ort(BUILD, allow_missing=True)
if modules is None:
    sys.exit(77)

h = Harness(BNFOLD)
os.makedirs(WORK, exist_ok=True)
DATA = os.path.join(WORK, "data")
factory.write_data(DATA)
EVAL = os.path.join(DATA, "factory1_eval")
x, y = np.load(os.path.join(EVAL, "x.npy")), np.load(os.path.join(EVAL, "y.npy"))
model = os.path.join(MODELS, "factory_cnn.onnx")
good, bad = os.path.join(WORK, "good.int8.onnx"), os.path.join(WORK, "bad.int8.onnx")
code, _, err = h.run("quantize", model, "--data", os.path.join(DATA, "factory1"), "-o", good)
h.check("quantize (calibrated)", code == 0, err)
# The images span about -3..3: a range of +-0.05 clips nearly every input pixel.
code, _, err = h.run("quantize", model, "--input-range", "-0.05,0.05", "-o", bad)
h.check("quantize (input range far too narrow)", code == 0, err)

N = 256  # verify's default --samples
data_args = ["--data", os.path.join(EVAL, "x.npy"), "--labels", os.path.join(EVAL, "y.npy")]
with ort.Ort(modules) as o:
    def ort_scores(path):
        i = o.ask(cmd="load", path=path, level="all", threads=2)["id"]
        return np.concatenate([o.run(i, {"image": x[k:k + 64]})["logits"] for k in range(0, N, 64)])
    f, q = ort_scores(model), ort_scores(good)
    i_all = o.ask(cmd="load", path=model, level="all", threads=2)["id"]
    f_all = np.concatenate([o.run(i_all, {"image": x[k:k + 64]})["logits"] for k in range(0, len(x), 64)])
    acc_f, acc_q = np.mean(f.argmax(1) == y[:N]), np.mean(q.argmax(1) == y[:N])
    rel = np.sqrt(np.sum((q - f) ** 2) / np.sum(f ** 2))

    code, text, err = h.run("verify", model, good, *data_args, "--json")
    r = json.loads(text) if code in (0, 1) else {}
    h.check("int8: passes, judged by accuracy", code == 0 and r.get("ok") and r.get("judged_by") == "accuracy"
            and r.get("precision") == "int8" and r.get("samples") == N, (code, err, r))
    if r:
        acc = r["accuracy"]
        h.check(f"int8: float32 accuracy {acc['float32']:.4f} is ONNX Runtime's {acc_f:.4f}",
                abs(acc["float32"] - acc_f) <= 1 / N + 1e-9)
        h.check(f"int8: int8 accuracy {acc['candidate']:.4f} is ONNX Runtime's int8 {acc_q:.4f} (within 2 samples)",
                abs(acc["candidate"] - acc_q) <= 2 / N + 1e-9)
        out = r["outputs"][0]
        h.check(f"int8: relative RMS {out['relative_rms']:.4g} is ONNX Runtime's {rel:.4g} within a fifth",
                abs(out["relative_rms"] - rel) <= 0.2 * rel, out)
        h.check("int8: against float64 the error is int8's, float32's own is tiny",
                0.3 * out["relative_rms"] < out["relative_rms_float64"] < 3 * out["relative_rms"]
                and out["float32_rms_float64"] < 1e-5, out)

    b = ort_scores(bad)
    acc_b = np.mean(b.argmax(1) == y[:N])
    code, text, err = h.run("verify", model, bad, *data_args)
    h.check(f"broken int8 (ONNX Runtime accuracy {acc_b:.3f} vs {acc_f:.3f}): FAILS, exit 1, with the drop",
            acc_f - acc_b > 0.05 and code == 1 and "int8 FAILS: top-1 accuracy" in text and "points" in text,
            (code, text, err))

code, text, err = h.run("verify", model, good, "--json")
r = json.loads(text) if code in (0, 1) else {}
h.check("no labels: judged by each output's relative error (int8 default 5%)",
        code == 0 and r.get("judged_by") == "relative error" and r.get("max_relative_error") == 0.05
        and r["outputs"][0]["top1_agreement"] is not None, (code, err, r))
code, text, err = h.run("verify", model, good, "--max-relative-error", "0.0001")
h.check("no labels, a tolerance below int8's error: fails", code == 1 and "FAIL" in text, (code, text, err))
np.save(os.path.join(WORK, "x5.npy"), x[:5])
code, text, err = h.run("verify", model, good, "-i", "image=" + os.path.join(WORK, "x5.npy"), "--json")
r = json.loads(text) if code in (0, 1) else {}
h.check("-i: the given batch, once", code == 0 and r.get("samples") == 5 and r.get("inputs") == "given", (code, err, r))
page = os.path.join(WORK, "verify.html")
code, _, err = h.run("verify", model, good, *data_args, "--html", page, "--report", os.path.join(WORK, "r.json"))
h.check("--html and --report", code == 0 and "int8 passes" in open(page).read()
        and json.load(open(os.path.join(WORK, "r.json")))["candidate"] == good, err)

code, text, err = h.run("verify", model, "--precision", "bf16", "--json")
bf16 = not (code not in (0, 1) or "no native bfloat16" in err)
if not bf16:
    h.check("bf16 on a CPU without it: refused with the reason", "no native bfloat16" in err, err)
else:
    r = json.loads(text) if code in (0, 1) else {}
    h.check("bf16 alone: within 2% of float32", code == 0 and r.get("precision") == "bf16"
            and r["outputs"][0]["relative_rms"] < 0.02, (code, err, r))
    code, text, err = h.run("verify", model, "--precision", "bf16", *data_args)
    h.check("bf16 with labels: judged by accuracy", code == 0 and "bf16 passes: top-1 accuracy" in text, (code, text, err))

# audit --precision: int8 (and bf16 where the CPU has it) beside the BN modes, on the audit's data.
want = ["int8"] + (["bf16"] if bf16 else [])
code, text, err = h.run("audit", model, *data_args, "--ablation-samples", "0", "--batch-sizes", "1,8",
                        "--precision", ",".join(want), "--json")
r = json.loads(text) if code == 0 else {}
got = r.get("precisions", [])
h.check("audit --precision: one comparison each, judged by accuracy, in the verdict",
        [c["precision"] for c in got] == want and all(c["judged_by"] == "accuracy" and c["samples"] == 512 for c in got)
        and all(any(line.startswith(p + " passes") or line.startswith(p + " FAILS") for line in r["verdict"])
                for p in want), (code, err, got))
if got:
    acc_all = float(np.mean(f_all.argmax(1) == y))
    h.check(f"audit int8: float32 accuracy {got[0]['accuracy']['float32']} is ONNX Runtime's {acc_all}",
            abs(got[0]["accuracy"]["float32"] - acc_all) <= 1 / 512 + 1e-9)
code, _, err = h.run("audit", model, "--random", "--precision", "fp16")
h.check("audit --precision fp16: refused, naming the choices", code != 0 and "bf16, int8" in err, err)

folded = os.path.join(WORK, "folded.onnx")
h.run("fold", model, "-o", folded)
for args, want in ((("verify", model), "or --precision"),
                   (("verify", model, folded, "--data", os.path.join(EVAL, "x.npy")), "--data is for judging a precision"),
                   (("verify", model, good, "--rtol", "1e-3"), "--rtol is a tolerance of fold verification"),
                   (("verify", model, good, "--labels", os.path.join(EVAL, "y.npy")), "--labels needs --data"),
                   (("verify", model, "--precision", "fp16"), "--precision")):
    code, _, err = h.run(*args)
    h.check(f"refused: {' '.join(args[2:]) or 'one model'}", code != 0 and want in err, err)
h.finish()
