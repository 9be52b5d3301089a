#!/usr/bin/python3
"""bnfold shift-study against an independent PyTorch computation, on the two
factory models (models/factory.py: a CNN, and a MobileNet-like CNN with
depthwise convolutions):

- the corruption arrays come from bnfold.corrupt (the study's own, by sample
  index, so any batch gives the same ones); its plain families are checked
  against NumPy, Gaussian blur against torch's conv2d, JPEG against Pillow's
  encoder (error of the same size), the noise families by their moments;
- PyTorch runs the same weights on those arrays: clean, shifted, and
  recalibrated on the cell's first k samples (statistics replaced, and mixed
  with the model's as N pseudo-samples, layer by layer in eval mode), and its
  accuracies equal the study's (one sample of slack for an argmax tie);
- drift: the study's verdict and distance for a cell equal `bnfold drift`
  on the same arrays against a baseline of the clean data; no cell that lost
  more than 5 points went unwarned (zero misses) at the default thresholds;
- the pass count is exactly the clean pass, one pass per cell for the model
  and each recalibrated copy, and the recalibration passes (one per BN level);
- without labels, agreement with the clean predictions; errors by name.

    test_shift_study.py BNFOLD MODELS_DIR WORK_DIR   (PYTHONPATH: the bnfold module)
"""
import copy
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import Harness  # noqa: E402

BNFOLD, MODELS, WORK = sys.argv[1:4]
sys.path.insert(0, MODELS)
import factory  # noqa: E402
import bnfold  # noqa: E402
import onnx  # noqa: E402
import onnx.numpy_helper  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(2)
h = Harness(BNFOLD)
os.makedirs(WORK, exist_ok=True)
DATA = os.path.join(WORK, "data")
factory.write_data(DATA)
F1 = os.path.join(DATA, "factory1")
N = 128
x_all, y_all = np.load(os.path.join(F1, "x.npy"))[:N], np.load(os.path.join(F1, "y.npy"))[:N]
FAMILIES = [f[0] for f in bnfold.corruption_families()]
SEVERITIES, KS, PRIOR = [2, 4], [8, 32], 16.0

# ------------------------------------------------------------------ the corruptions themselves
rng = np.random.default_rng(0)
img = (0.5 + 0.3 * np.sin(np.arange(3 * 24 * 20).reshape(1, 3, 24, 20) / 7.0)).astype(np.float32)
img = np.concatenate([img, rng.uniform(0.1, 0.9, img.shape).astype(np.float32)])
c = bnfold.corrupt(img, "brightness", 3)
h.check("brightness: + .3, clipped", np.allclose(c, np.clip(img + 0.3, 0, 1), atol=1e-6))
c = bnfold.corrupt(img, "contrast", 2)
m = img.mean(axis=(1, 2, 3), keepdims=True)
h.check("contrast: (x - image mean) * .3 + mean", np.allclose(c, np.clip((img - m) * 0.3 + m, 0, 1), atol=1e-5))
c = bnfold.corrupt(img, "tint", 4)
h.check("tint: channel gains 1.4, 1, 0.6",
        np.allclose(c, np.clip(img * np.array([1.4, 1, 0.6], np.float32)[None, :, None, None], 0, 1), atol=1e-6))
c = bnfold.corrupt(img, "haze", 3)
t = np.minimum(1, 0.5 * (0.8 + 0.4 * np.arange(24) / 23))[None, None, :, None]
h.check("haze: x t + .85 (1 - t), t lower at the top", np.allclose(c, np.clip(img * t + 0.85 * (1 - t), 0, 1), atol=1e-5))
c = bnfold.corrupt(img, "pixelate", 5)  # 24x20 -> 6x5 cells of 4x4, repeated
want = img.reshape(2, 3, 6, 4, 5, 4).mean(axis=(3, 5)).repeat(4, axis=2).repeat(4, axis=3)
h.check("pixelate: area average of 4x4 cells, repeated", np.allclose(c, want, atol=1e-5))
sigma = 0.02 * 20  # severity 3: sd .02 of the shorter side
r = max(1, int(np.ceil(3 * sigma)))
k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
k = torch.tensor(k / k.sum(), dtype=torch.float64)
tt = torch.from_numpy(img.astype(np.float64)).reshape(6, 1, 24, 20)
tt = F.conv2d(F.pad(tt, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
tt = F.conv2d(F.pad(tt, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1)).reshape(img.shape).numpy()
c = bnfold.corrupt(img, "gaussian_blur", 3)
h.check("gaussian_blur equals torch's separable conv with replicated edges",
        np.allclose(c, np.clip(tt, 0, 1), atol=1e-5), f"{np.abs(c - tt).max()}")
flat = np.full((64, 3, 16, 16), 0.5, np.float32)
d = bnfold.corrupt(flat, "gaussian_noise", 1) - 0.5
h.check(f"gaussian_noise: mean 0, sd .08 (got {d.mean():.4f}, {d.std():.4f})", abs(d.mean()) < 0.002 and abs(d.std() - 0.08) < 0.002)
d = bnfold.corrupt(flat, "shot_noise", 2)
h.check(f"shot_noise: Poisson(.5 x 25) / 25 has mean .5, variance .02 (got {d.mean():.4f}, {d.var():.5f})",
        abs(d.mean() - 0.5) < 0.003 and abs(d.var() - 0.02) < 0.001)
h.check("motion_blur keeps a flat image", np.allclose(bnfold.corrupt(flat, "motion_blur", 5), flat, atol=1e-6))
# JPEG: stb's encoder against Pillow's (libjpeg) at the same quality: errors of the same size.
from PIL import Image  # noqa: E402
import io  # noqa: E402
smooth = (0.5 + 0.35 * np.sin(np.arange(32)[:, None] / 3.0 + np.arange(32)[None] / 5.0))
photo = np.stack([smooth, smooth[::-1], smooth.T])[None].astype(np.float32)
for sev, q in ((1, 25), (5, 7)):
    ours = np.abs(bnfold.corrupt(photo, "jpeg", sev) - photo).mean()
    buf = io.BytesIO()
    Image.fromarray((photo[0].transpose(1, 2, 0) * 255).round().astype(np.uint8)).save(buf, "JPEG", quality=q)
    pil = np.abs(np.asarray(Image.open(io.BytesIO(buf.getvalue()))).transpose(2, 0, 1) / 255.0 - photo[0]).mean()
    h.check(f"jpeg severity {sev} (quality {q}): error {ours:.4f} vs Pillow's {pil:.4f}", 0.5 < ours / pil < 2)


# ------------------------------------------------------------------ PyTorch's side
def torch_model(path, arch):
    model = factory.BUILDERS[arch]()
    state = {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()) for i in onnx.load(path).graph.initializer}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    return model.eval()


def accuracy(model, x, truth):
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    return (pred == truth).mean(), pred


def recalibrated(model, x, prior):
    """Each BN in turn gets its input's population moments in eval mode (every BN before it already
    recalibrated), mixed with its own statistics as `prior` pseudo-samples."""
    m = copy.deepcopy(model)
    xs = torch.from_numpy(x)
    for bn in [mod for mod in m.modules() if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm)]:
        seen = []
        hook = bn.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0].detach()))
        with torch.no_grad():
            m(xs)
        hook.remove()
        a = seen[0]
        dims = (0,) + tuple(range(2, a.dim()))
        a = a.double()
        mu_t, var_t = a.mean(dim=dims), a.var(dim=dims, unbiased=False)
        n = float(len(x))
        mu_s, var_s = bn.running_mean.double(), bn.running_var.double()
        mu = (prior * mu_s + n * mu_t) / (prior + n)
        var = (prior * (var_s + (mu_s - mu) ** 2) + n * (var_t + (mu_t - mu) ** 2)) / (prior + n)
        bn.running_mean.copy_(mu.float())
        bn.running_var.copy_(var.float())
    return m


def shifted(x, fam, sev, space):
    mean, sd = np.array(space["mean"])[None, :, None, None], np.array(space["std"])[None, :, None, None]
    p = (x.astype(np.float64) * sd + mean).astype(np.float32)
    p = bnfold.corrupt(p, fam, sev, seed=0, first=0)
    return ((p.astype(np.float64) - mean) / sd).astype(np.float32)


tol = 1.0 / N + 1e-9  # one sample: an argmax tie may fall either way
for arch, name in (("cnn", "factory_cnn.onnx"), ("depthwise", "factory_dw.onnx")):
    path = os.path.join(MODELS, name)
    html = os.path.join(WORK, f"{arch}.html")
    code, out, err = h.run("shift-study", path, "--data", F1, "--labels", os.path.join(F1, "y.npy"), "--limit", str(N),
                           "--severities", ",".join(map(str, SEVERITIES)), "--recalibrate-on", ",".join(map(str, KS)),
                           "--prior", str(PRIOR), "--json", "-t", "2", "--html", html)
    if code != 0:
        h.check(f"{arch}: shift-study runs", False, out + err)
        continue
    r = json.loads(out)
    model = torch_model(path, arch)
    clean, clean_pred = accuracy(model, x_all, y_all)
    h.check(f"{arch}: clean accuracy {r['clean']['accuracy']} equals PyTorch's {clean}",
            abs(r["clean"]["accuracy"] - clean) <= tol)
    h.check(f"{arch}: every family x severity, variants (k, prior) in order",
            [(c["family"], c["severity"]) for c in r["cells"]] == [(f, s) for f in FAMILIES for s in SEVERITIES] and
            [(v["k"], v["prior"]) for v in r["variants"]] == [(k, p) for k in KS for p in (0, PRIOR)])
    worst = []
    for cell in r["cells"]:
        xc = shifted(x_all, cell["family"], cell["severity"], r["pixel_space"])
        acc, _ = accuracy(model, xc, y_all)
        worst.append((abs(cell["accuracy"] - acc), f"{cell['family']} {cell['severity']}", cell["accuracy"], acc))
        for v in cell["recalibrated"]:
            racc, _ = accuracy(recalibrated(model, xc[:v["k"]], v["prior"]), xc, y_all)
            worst.append((abs(v["accuracy"] - racc), f"{cell['family']} {cell['severity']} k={v['k']} N={v['prior']}",
                          v["accuracy"], racc))
    worst.sort(reverse=True)
    h.check(f"{arch}: the study's {len(worst)} accuracies (shifted, and recalibrated replaced and mixed) equal "
            f"PyTorch's on the same arrays (worst: {worst[0][1]}, {worst[0][2]} vs {worst[0][3]})", worst[0][0] <= tol)
    h.check(f"{arch}: zero misses at the default thresholds (min-effect {r['drift']['min_effect']})",
            r["misses"] == 0 and r["drift"]["min_effect"] == 0.25,
            json.dumps([c for c in r["cells"] if c["miss"]])[:1500])
    h.check(f"{arch}: severe shifts drifted within 32 samples",
            all(0 < c["samples_to_drift"] <= 32 for c in r["cells"]
                if c["family"] in ("brightness", "contrast") and c["severity"] == 4),
            json.dumps([(c["family"], c["severity"], c["samples_to_drift"]) for c in r["cells"]]))
    levels = sum(1 for n in onnx.load(path).graph.node if n.op_type == "BatchNormalization")  # chains: one level each
    cells, variants = len(r["cells"]), len(r["variants"])
    want = N * (1 + cells * (1 + variants)) + cells * levels * sum(v["k"] for v in r["variants"])
    h.check(f"{arch}: {r['forward_samples']} forward samples: the clean pass, one pass per cell for the model and "
            f"each copy, one recalibration pass per BN level ({want})", r["forward_samples"] == want)
    h.check(f"{arch}: the summary answers first, and the HTML report is written",
            r["summary"][0].startswith("Mean error") and os.path.getsize(html) > 5000 and
            "heatmap" in open(html).read())

    # The study's drift equals `bnfold drift` on the same arrays against a baseline of the clean data.
    if arch == "cnn":
        base = os.path.join(WORK, "clean_stats.json")
        cell = next(c for c in r["cells"] if c["family"] == "haze" and c["severity"] == 2)
        np.save(os.path.join(WORK, "haze2.npy"), shifted(x_all, "haze", 2, r["pixel_space"]))
        np.save(os.path.join(WORK, "clean.npy"), x_all)
        code1, _, e1 = h.run("drift", path, "--data", os.path.join(WORK, "clean.npy"), "--save-stats", base, "--json")
        code2, o2, e2 = h.run("drift", path, "--data", os.path.join(WORK, "haze2.npy"), "--baseline", base, "--json")
        ok = code1 == 0 and code2 == 0
        d = json.loads(o2) if ok else {}
        passed = [l["distance"] for l in d.get("layers", []) if l["ratio"] > d["threshold"]]
        h.check("the study's drift verdict and distance equal `bnfold drift --baseline` on the same arrays",
                ok and d["verdict"] == cell["verdict"] and abs(max(passed or [0]) - cell["distance"]) <= 1e-6 * max(1, cell["distance"]),
                (e1 + e2)[-800:] + json.dumps(cell) + json.dumps(passed))

        # Without labels: agreement with the clean predictions.
        code, out, err = h.run("shift-study", path, "--data", os.path.join(F1, "x.npy"), "--limit", str(N),
                               "--families", "contrast", "--severities", "2", "--recalibrate-on", "none", "--json")
        a = json.loads(out) if code == 0 else {}
        _, pred = accuracy(model, shifted(x_all, "contrast", 2, a.get("pixel_space", r["pixel_space"])), y_all)
        h.check("without labels: agreement with the clean predictions",
                code == 0 and a["metric"] == "agreement" and a["clean"]["accuracy"] == 1 and
                abs(a["cells"][0]["accuracy"] - (pred == clean_pred).mean()) <= tol and a["variants"] == [], out + err)

# ------------------------------------------------------------------ errors, by name
model = os.path.join(MODELS, "factory_cnn.onnx")
for args, want in ((["--families", "rain"], "no corruption family 'rain'"),
                   (["--severities", "6"], "severity 6 is not one of 1-5"),
                   (["--recalibrate-on", "0"], "expected positive integers"),
                   (["--pixel-range", "1,0"], "HI > LO"),
                   (["--max-drop", "0"], "--max-drop")):
    code, out, err = h.run("shift-study", model, "--data", F1, *args)
    h.check(f"shift-study {' '.join(args)} is refused: {want}", code != 0 and want in err, err)
features = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).eval()
torch.onnx.export(features, torch.zeros(1, 3, 32, 32), os.path.join(WORK, "features.onnx"), input_names=["x"],
                  dynamic_axes={"x": {0: "N"}}, opset_version=13)
code, out, err = h.run("shift-study", os.path.join(WORK, "features.onnx"), "--data", F1)
h.check("a model without class scores is refused, saying why", code != 0 and "classifier" in err, err[-500:])
h.finish()
