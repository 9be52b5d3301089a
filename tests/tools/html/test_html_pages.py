#!/usr/bin/python3
"""Every HTML page bnfold writes, as a person sees it: rendered by headless
Chromium at 1280 px and measured (page_layout.py): no title or cell cut by
its box, plots as wide as the text, no rotated, tiny or overlapping chart
text, no two rows of a chart that read the same. The pages: audit, drift and
recalibrate on the bundled factory model (and drift on the same model with
long layer names that differ only in the middle, as exporters write them),
fold --html and verify --html, and the server's live page. First the
checker itself must find each fault in a page built to have them.
Screenshots are kept in WORK_DIR for a person to look at.

    test_html_pages.py BNFOLD MODELS_DIR WORK_DIR [--no-browser]

--no-browser (the sanitizer builds' run): the pages are written and checked
for their summary line, not rendered; what is instrumented there is bnfold
writing them, and rendering them is most of this test's time.
"""
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
sys.path.insert(0, os.path.join(HERE, "..", "serve"))
from harness import Harness  # noqa: E402
from page_layout import layout_problems, screenshot  # noqa: E402
from serve_client import Served, infer_body, request  # noqa: E402

BNFOLD, MODELS, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
BROWSER = "--no-browser" not in sys.argv[4:]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
h = Harness(BNFOLD)
CHROMIUM = shutil.which("chromium")
if BROWSER and not CHROMIUM:
    print("FAIL: chromium is not installed (tools/bootstrap.sh installs it)")
    sys.exit(1)
MODEL = os.path.join(MODELS, "factory_cnn.onnx")
DATA = os.path.join(WORK, "data")
subprocess.run(["/usr/bin/python3", os.path.join(MODELS, "factory.py"), "data", "--out", DATA], check=True,
               capture_output=True)
F1, F1E, F2 = (os.path.join(DATA, d) for d in ("factory1", "factory1_eval", "factory2"))


def path(name):
    return os.path.join(WORK, name)


# ---- the checker finds what it is for, in a page made with each fault
BAD = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{max-width:1000px;margin:24px auto}
.cut{width:120px;white-space:nowrap;overflow:hidden}</style></head><body><h1>A report</h1>
<p class="cut">A paragraph far too long for the narrow box it is given</p>
<figure class="chart"><figcaption>Small plot</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="260" height="120">
<text x="10" y="20" font-size="8">tiny</text><text x="200" y="50" font-size="12">runs past the edge of the plot</text>
<text x="20" y="100" font-size="11" transform="rotate(60 20 100)">rotated</text>
<text class="name" x="10" y="70" font-size="12">/same</text><text class="name" x="14" y="74" font-size="12">/same</text>
</svg></figure></body></html>"""
with open(path("bad.html"), "w") as f:
    f.write(BAD)
if BROWSER:
    problems, _ = layout_problems(CHROMIUM, path("bad.html"), WORK)
    for fault in ("text cut by its box", "px wide on", "outside its chart", "under 10 px", "rotated chart text",
                  "over each other", "read the same"):
        h.check(f"the checker finds '{fault}' in a page made with it", any(fault in p for p in problems),
                str(problems))

# ---- the reports
pages = {}
code, _, err = h.run("audit", MODEL, "--data", F1, "--labels", os.path.join(F1, "y.npy"), "--batch-sizes", "1,2,8",
                     "--html", path("audit.html"))
pages["audit"] = code == 0 and path("audit.html")
h.check("audit --html", code == 0, err)
base = path("site1.json")
code, _, err = h.run("drift", MODEL, "--data", F1, "--save-stats", base)
code, _, err = h.run("drift", MODEL, "--data", F2, "--baseline", base, "--html", path("drift.html"))
pages["drift"] = code == 0 and path("drift.html")
h.check("drift --html", code == 0, err)
code, _, err = h.run("recalibrate", MODEL, "--data", F2, "--labels", os.path.join(F2, "y.npy"), "--eval-data", F1E,
                     "--eval-labels", os.path.join(F1E, "y.npy"), "-o", path("site2.onnx"),
                     "--html", path("recalibrate.html"))
pages["recalibrate (guard tripped)"] = code in (0, 3) and path("recalibrate.html")
h.check("recalibrate --html", code in (0, 3), err)
code, _, err = h.run("fold", MODEL, "-o", path("folded.onnx"), "--verify", "--bench", "--bench-batch", "1,8",
                     "--html", path("fold.html"))
pages["fold"] = code == 0 and path("fold.html")
h.check("fold --html", code == 0, err)
code, _, err = h.run("fold", MODEL, "-o", path("folded2.onnx"), "--verify", "--no-isolated", "--html",
                     path("fold_not_alone.html"))
pages["fold, folds not measured alone"] = code == 0 and path("fold_not_alone.html")
h.check("fold --html --no-isolated: no chart of what was not measured",
        code == 0 and "error of this fold alone" not in open(path("fold_not_alone.html")).read(), err)
code, _, err = h.run("shift-study", MODEL, "--data", F1E, "--labels", os.path.join(F1E, "y.npy"), "--limit", "128",
                     "--families", "brightness,tint,gaussian_noise,motion_blur,jpeg,haze", "--severities", "1,3,5",
                     "--html", path("shift_study.html"))
pages["shift-study"] = code == 0 and path("shift_study.html")
h.check("shift-study --html", code == 0, err)
code, _, err = h.run("verify", MODEL, path("folded.onnx"), "--html", path("verify.html"))
pages["verify"] = code == 0 and path("verify.html")
h.check("verify --html", code == 0, err)

# The same model with BN names as long as exporters write them, alike but for the middle.
m = onnx.load(MODEL)
k = 0
for node in m.graph.node:
    if node.op_type == "BatchNormalization":
        k += 1
        node.name = (f"/backbone/features/residual_stage_with_a_long_module_path/block{k}/"
                     f"conv_branch/normalization_of_the_branch/BatchNormalization")
onnx.save(m, path("long_names.onnx"))
code, _, err = h.run("drift", path("long_names.onnx"), "--data", F2, "--html", path("drift_long_names.html"))
pages["drift, long layer names"] = code == 0 and path("drift_long_names.html")
h.check("drift --html on long names", code == 0, err)

# The server's live page, after traffic from site 2 against site 1's baseline.
served = Served(BNFOLD, f"cam={MODEL}", "--baseline", f"cam={base}", "--monitor-every", "1", "--refresh", "0")
try:
    x = np.load(os.path.join(F2, "x.npy"))[:64]
    answered = 0
    for i in range(0, 64, 16):
        body, headers = infer_body({m.graph.input[0].name: x[i:i + 16]})
        answered += request(served.url("/v2/models/cam/infer"), body, headers)[0] == 200
    h.check("the server answers site 2's requests", answered == 4, str(answered))
    status, _, live = request(served.url("/"))
    with open(path("live.html"), "wb") as f:
        f.write(live)
    pages["serve's live page"] = status == 200 and path("live.html")
    h.check("the live page is served", status == 200, str(status))
finally:
    served.stop()

for name, page in pages.items():
    if not page:
        continue
    if BROWSER:
        problems, facts = layout_problems(CHROMIUM, page, WORK)
        h.check(f"{name}: nothing cut, overlapping, rotated or too small at {1280} px "
                f"({facts.get('charts')} charts, {facts.get('labels')} row labels)",
                not problems and facts.get("charts", 0) >= 1, "\n".join(problems[:12]))
        png = page[:-5] + ".png"
        h.check(f"{name}: a screenshot ({os.path.basename(png)})", screenshot(CHROMIUM, page, png, WORK))
    text = open(page, encoding="utf-8").read()
    h.check(f"{name}: a one-line summary first", '<p class="summary">' in text, "")
h.finish()
