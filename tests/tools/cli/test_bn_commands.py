#!/usr/bin/python3
"""End-to-end checks of bnfold drift, recalibrate and audit, their HTML reports
(rendered in headless Chromium), and recalibrate --mode update-bn against
PyTorch's torch.optim.swa_utils.update_bn.

Usage: test_bn_commands.py BNFOLD MODELS_DIR WORK_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

BNFOLD, MODELS, WORK = sys.argv[1:4]
sys.path.insert(0, MODELS)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness  # noqa: E402

h = Harness(BNFOLD, timeout=600)
run, check = h.run, h.check


os.makedirs(WORK, exist_ok=True)
data = os.path.join(WORK, "data")
subprocess.run(["/usr/bin/python3", os.path.join(MODELS, "make_data.py"), "--out", data], check=True,
               capture_output=True)
tiny = os.path.join(MODELS, "tiny_resnet.onnx")

# drift: low on held-out data, high on shifted data, --fail-above, shards merge
code, out, err = run("drift", tiny, "--data", os.path.join(data, "heldout"), "--json")
held = json.loads(out) if code == 0 else {}
code, out, err = run("drift", tiny, "--data", os.path.join(data, "shifted"), "--json", "--fail-above", "0.5")
shifted = json.loads(out) if out.strip().startswith("{") else {}
check("drift: held-out low, shifted high, --fail-above exits 3",
      held.get("max_score", 9) < 0.01 and shifted.get("max_score", 0) > 1 and code == 3, out + err)
s1, s2 = os.path.join(WORK, "s1.json"), os.path.join(WORK, "s2.json")
run("drift", tiny, "--data", os.path.join(data, "shifted", "batch0.npy"), os.path.join(data, "shifted", "batch1.npy"),
    "--save-stats", s1)
run("drift", tiny, "--data", os.path.join(data, "shifted", "batch2.npy"), os.path.join(data, "shifted", "batch3.npy"),
    "--save-stats", s2)
code, out, err = run("drift", tiny, "--merge", s1, "--merge", s2, "--json")
merged = json.loads(out) if code == 0 else {}
check("drift --merge of two shards equals one pass",
      code == 0 and abs(merged["max_score"] - shifted["max_score"]) < 1e-6 * max(1, shifted["max_score"]), out + err)

# recalibrate: drift down, agreement with correct-data outputs up, nothing half-written on failure
recal = os.path.join(WORK, "recal.onnx")
code, out, err = run("recalibrate", tiny, "--data", os.path.join(data, "shifted"), "-o", recal, "--json")
r = json.loads(out) if code == 0 else {}
check("recalibrate: drift on the new data drops", code == 0 and r["drift_after"]["max_score"] < 1e-3
      and r["drift_before"]["max_score"] > 1 and r["mode"] == "sequential", out + err)
bad_out = os.path.join(WORK, "never.onnx")
code, out, err = run("recalibrate", tiny, "--data", os.path.join(MODELS, "..", "tests", "data", "wrong_shape.npy"),
                     "-o", bad_out)
check("recalibrate with bad data: clear error, nothing at -o",
      code == 1 and "wrong_shape.npy" in err and not os.path.exists(bad_out) and not os.path.exists(bad_out + ".tmp"),
      err)
empty = os.path.join(WORK, "empty")
os.makedirs(empty, exist_ok=True)
code, out, err = run("drift", tiny, "--data", empty)
check("drift on an empty folder", code == 1 and "no data files" in err, err)
code, out, err = run("audit", tiny)
check("audit needs --data or --random", code == 1 and "--random" in err, err)

# audit on held-out data, with an HTML report
audit_html = os.path.join(WORK, "audit.html")
code, out, err = run("audit", tiny, "--data", os.path.join(data, "heldout"), "--batch-sizes", "1,2,4,8,16",
                     "--html", audit_html)
check("audit prints a verdict", code == 0 and "Verdict:" in out and "agree" in out, out + err)
drift_html = os.path.join(WORK, "drift.html")
run("drift", tiny, "--data", os.path.join(data, "shifted"), "--html", drift_html)


def render(path):
    chromium = shutil.which("chromium")
    if not chromium:
        return None
    p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run",
                        f"--user-data-dir={os.path.join(WORK, 'chromium-profile')}", "--dump-dom",
                        "file://" + os.path.abspath(path)], capture_output=True, text=True, timeout=120)
    return p.stdout


dom = render(audit_html)
check("chromium renders the audit page with its charts",
      dom is not None and dom.count("<svg") >= 2 and 'class="line"' in dom and dom.count('class="bar"') >= 7,
      "chromium missing" if dom is None else dom[:2000])
dom = render(drift_html)
check("chromium renders the drift page with its bars", dom is not None and dom.count('class="bar"') >= 7,
      "chromium missing" if dom is None else dom[:2000])

# update_bn mode against PyTorch's update_bn, on a freshly exported model
import copy  # noqa: E402
import torch  # noqa: E402
import onnx  # noqa: E402
import onnx.numpy_helper  # noqa: E402
import make_models  # noqa: E402

torch.manual_seed(3)
model = make_models.TinyResNet()
make_models.randomize_bn(model, torch.Generator().manual_seed(4))
model.eval()
onnx_path = os.path.join(WORK, "ub.onnx")
make_models.export(model, (1, 3, 32, 32), onnx_path)
xs = [np.load(os.path.join(data, "shifted", f"batch{i}.npy")) for i in range(4)]
loader = [torch.from_numpy(x[j:j + 8]) for x in xs for j in range(0, 16, 8)]
source = copy.deepcopy(model)  # its statistics, before update_bn changes them
torch.optim.swa_utils.update_bn(loader, model)
ub_out = os.path.join(WORK, "ub_recal.onnx")
code, out, err = run("recalibrate", onnx_path, "--data", os.path.join(data, "shifted"), "--mode", "update-bn",
                     "--batch", "8", "-o", ub_out)
if code == 0:
    m = onnx.load(ub_out)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    bns = [n for n in m.graph.node if n.op_type == "BatchNormalization"]
    mods = [mod for mod in model.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    worst = 0.0
    for node, mod in zip(bns, mods):
        for got, want in ((inits[node.input[3]], mod.running_mean.numpy()), (inits[node.input[4]], mod.running_var.numpy())):
            worst = max(worst, float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-6))))
    check(f"update-bn matches PyTorch's update_bn (max rel {worst:.2e})", len(bns) == len(mods) == 7 and worst < 1e-4)
else:
    check("recalibrate --mode update-bn", False, out + err)


# --prior N against the same computation in PyTorch and NumPy: the model's
# statistics as N pseudo-samples beside the data's n (Schneider et al. 2020):
# mean = (N mu_s + n mu_t) / (N + n), variance the mixture's.
def mixed(mu_s, var_s, mu_t, var_t, N, n):
    mu = (N * mu_s + n * mu_t) / (N + n)
    return mu, (N * (var_s + (mu_s - mu) ** 2) + n * (var_t + (mu_t - mu) ** 2)) / (N + n)


def worst_rel(path, want):
    m = onnx.load(path)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    bns = [n for n in m.graph.node if n.op_type == "BatchNormalization"]
    worst = 0.0 if len(bns) == len(want) else 9.0
    for node, (mu, var) in zip(bns, want):
        for got, w in ((inits[node.input[3]], mu), (inits[node.input[4]], var)):
            worst = max(worst, float(np.max(np.abs(got - w) / np.maximum(np.abs(w), 1e-6))))
    return worst


N, n = 16.0, sum(len(x) for x in xs)
src_mods = [mod for mod in source.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
# update-bn: the target is update_bn's estimate (each BN measured in train mode, so none depends on another's mix).
want = [mixed(s.running_mean.double().numpy(), s.running_var.double().numpy(), t.running_mean.double().numpy(),
              t.running_var.double().numpy(), N, n) for s, t in zip(src_mods, mods)]
out_path = os.path.join(WORK, "prior_ub.onnx")
code, out, err = run("recalibrate", onnx_path, "--data", os.path.join(data, "shifted"), "--mode", "update-bn",
                     "--batch", "8", "--prior", "16", "-o", out_path, "--json")
worst = worst_rel(out_path, want) if code == 0 else 9.0
check(f"recalibrate --mode update-bn --prior 16 equals PyTorch's update_bn mixed with the source (max rel {worst:.2e})",
      code == 0 and worst < 1e-4 and json.loads(out)["prior"] == 16, out + err)
# sequential: each BN in turn gets its input's population moments in eval mode, with every BN before it
# already mixed, mixed in turn with its own running statistics.
seq = copy.deepcopy(source).double().eval()
x_all = torch.from_numpy(np.concatenate(xs)).double()
want = []
for bn in [mod for mod in seq.modules() if isinstance(mod, torch.nn.BatchNorm2d)]:
    seen = []
    hook = bn.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0].detach()))
    with torch.no_grad():
        seq(x_all)
    hook.remove()
    a = seen[0]
    mu_t, var_t = a.mean(dim=(0, 2, 3)).numpy(), a.var(dim=(0, 2, 3), unbiased=False).numpy()
    mu, var = mixed(bn.running_mean.numpy(), bn.running_var.numpy(), mu_t, var_t, N, n)
    bn.running_mean.copy_(torch.from_numpy(mu))
    bn.running_var.copy_(torch.from_numpy(var))
    want.append((mu, var))
out_path = os.path.join(WORK, "prior_seq.onnx")
code, out, err = run("recalibrate", onnx_path, "--data", os.path.join(data, "shifted"), "--prior", "16",
                     "-o", out_path)
worst = worst_rel(out_path, want) if code == 0 else 9.0
check(f"recalibrate --prior 16 (sequential) equals the same mix layer by layer in PyTorch (max rel {worst:.2e})",
      code == 0 and worst < 1e-4 and "16 pseudo-samples against the data's 64" in out, out + err)
# The limits: a prior of 0 replaces (the plain recalibration), a huge one keeps the model's statistics.
code0, out0, _ = run("recalibrate", onnx_path, "--data", os.path.join(data, "shifted"), "--prior", "0", "-o",
                     os.path.join(WORK, "p0.onnx"))
code1, _, _ = run("recalibrate", onnx_path, "--data", os.path.join(data, "shifted"), "-o", os.path.join(WORK, "p.onnx"))
p0 = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(os.path.join(WORK, "p0.onnx")).graph.initializer}
p = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(os.path.join(WORK, "p.onnx")).graph.initializer}
check("--prior 0 is the plain recalibration", code0 == 0 and code1 == 0 and all(np.array_equal(p0[k], p[k]) for k in p))
src = [(s.running_mean.double().numpy(), s.running_var.double().numpy()) for s in src_mods]
code, out, err = run("recalibrate", onnx_path, "--data", os.path.join(data, "shifted"), "--prior", "1e14",
                     "-o", os.path.join(WORK, "p_huge.onnx"))
worst = worst_rel(os.path.join(WORK, "p_huge.onnx"), src) if code == 0 else 9.0
check(f"a huge --prior keeps the model's statistics (max rel {worst:.2e})", code == 0 and worst < 1e-5, out + err)
code, out, err = run("recalibrate", onnx_path, "--data", os.path.join(data, "shifted"), "--prior", "-1",
                     "-o", os.path.join(WORK, "p_neg.onnx"))
check("a negative --prior is refused, nothing written",
      code != 0 and "prior" in err and not os.path.exists(os.path.join(WORK, "p_neg.onnx")), out + err)

h.finish()
