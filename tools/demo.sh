#!/usr/bin/env bash
# The main job, on the bundled trained classifier (models/factory_cnn.onnx) and
# the images of two sites its script writes: set up (packages, build), then
#   1. fold every BatchNormalization, verify the folded model, compare speed;
#   2. audit: what happens at batch size one and in train mode;
#   3. drift: a baseline from site 1, then a verdict on site 1's held-out data
#      and on site 2 (darker, lower contrast, tinted);
#   4. recalibrate for site 2, with a guard on what site 1 loses;
#   5. a shift study: accuracy under lighting, camera and compression shifts,
#      what recalibration on 8 or 32 samples recovers, drift's warnings;
# and end with a summary and the HTML reports' paths. Under a minute after the
# build on 2 cores.
# Usage: tools/demo.sh [OUT_DIR]   (default: build/demo)
#   BNFOLD_BIN=PATH tools/demo.sh ...: that bnfold, no set-up (the test does this)
source "$(dirname "$0")/bootstrap.sh"
if [ -z "${BNFOLD_BIN:-}" ]; then
  bnfold_install_packages
  bnfold_build "$BNFOLD_ROOT/build" >/dev/null
fi
set -euo pipefail
bnfold="${BNFOLD_BIN:-$BNFOLD_ROOT/build/bnfold}"
model="$BNFOLD_ROOT/models/factory_cnn.onnx"
out="${1:-$BNFOLD_ROOT/build/demo}"
data="$out/data"
mkdir -p "$out"
start=$SECONDS

step() { printf '\n\033[1m== %s\033[0m\n' "$1"; }
# The first lines of a command's report (the verdict), the rest kept in a log.
show() {  # show LOG LINES
  sed -n "1,$2p" "$1" | fold -s -w 100
  echo "   ... (all of it: $1)"
}

/usr/bin/python3 "$BNFOLD_ROOT/models/factory.py" data --out "$data" >/dev/null

step "1. fold: every BatchNormalization into its layer, verified, timed"
"$bnfold" fold "$model" -o "$out/factory_folded.onnx" --verify --bench --bench-batch 1,32 \
  --report "$out/fold.json" --html "$out/fold.html" >"$out/fold.log" 2>&1
show "$out/fold.log" 8

step "2. audit: batch size one and train mode (site 1, labelled)"
"$bnfold" audit "$model" --data "$data/factory1" --labels "$data/factory1/y.npy" \
  --html "$out/audit.html" >"$out/audit.log" 2>/dev/null
show "$out/audit.log" 3

step "3. drift: site 1's statistics as the baseline, then site 1 held out and site 2"
"$bnfold" drift "$model" --data "$data/factory1" --save-stats "$out/site1.json" >/dev/null 2>&1
"$bnfold" drift "$model" --data "$data/factory1_eval" --baseline "$out/site1.json" >"$out/drift_site1.log" 2>/dev/null
"$bnfold" drift "$model" --data "$data/factory2" --baseline "$out/site1.json" \
  --html "$out/drift_site2.html" >"$out/drift_site2.log" 2>/dev/null
show "$out/drift_site1.log" 2
show "$out/drift_site2.log" 3

step "4. recalibrate for site 2, guarded by site 1's held-out data"
set +e
"$bnfold" recalibrate "$model" --data "$data/factory2" --labels "$data/factory2/y.npy" \
  --eval-data "$data/factory1_eval" --eval-labels "$data/factory1_eval/y.npy" \
  -o "$out/factory_site2.onnx" --html "$out/recalibrate.html" >"$out/recalibrate.log" 2>/dev/null
guard=$?
set -e
grep -E "calibration data|eval data|Wrote|Nothing written" "$out/recalibrate.log"

step "5. shift study: before a new site, how fragile is the model, what does recalibration recover?"
"$bnfold" shift-study "$model" --data "$data/factory1_eval" --labels "$data/factory1_eval/y.npy" --limit 256 \
  --severities 1,3,5 --recalibrate-on 8,32 --json --html "$out/shift_study.html" >"$out/shift_study.json" 2>/dev/null
/usr/bin/python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["summary"]))' \
  "$out/shift_study.json" | fold -s -w 100

step "Summary ($((SECONDS - start)) s)"
/usr/bin/python3 - "$out" "$guard" <<'EOF'
import json, re, sys
out, guard = sys.argv[1], int(sys.argv[2])
def text(name):
    return open(f"{out}/{name}").read()
fold = json.load(open(f"{out}/fold.json"))
c = fold["counts"]
speed = ", ".join(f"{s['speedup']:.2f}x at batch {s['batch']}" for s in fold.get("speed", []) if "speedup" in s)
print(f"- fold: {c['folded']} of {c['total']} BatchNormalization folded, "
      f"{'verified' if fold.get('verified') else 'NOT verified'} against the original in float64"
      + (f"; speed {speed}" if speed else ""))
audit = text("audit.log").splitlines()
first = next((l.strip(" -") for l in audit if "Safe to serve" in l or "Not safe" in l), "")
print("- audit:", re.sub(r" \(a sample's output.*?\)", "", first)[:230])
blame = next((l.strip(" -") for l in audit if "to blame" in l), "")
if blame:
    print("  " + blame.split(". Alone")[0])
v1 = re.search(r"Verdict: (\S+)", text("drift_site1.log")).group(1)
v2 = re.search(r"Verdict: (\S+)", text("drift_site2.log")).group(1)
print(f"- drift against site 1's baseline: site 1 held out {v1}, site 2 {v2}")
rec = text("recalibrate.log")
cal = re.search(r"calibration data.*?accuracy ([\d.]+%) before, ([\d.]+%) after", rec)
ev = re.search(r"eval data.*?accuracy ([\d.]+%) before, ([\d.]+%) after", rec)
if cal and ev:
    print(f"- recalibrate for site 2: site 2 accuracy {cal.group(1)} -> {cal.group(2)}, "
          f"site 1 {ev.group(1)} -> {ev.group(2)}")
print("  " + ("the guard tripped: nothing written; serve site 2 its own recalibrated model (--force writes it), "
              "keep the original for site 1" if guard == 3 else "written: " + f"{out}/factory_site2.onnx"))
study = json.load(open(f"{out}/shift_study.json"))
k8 = next(i for i, v in enumerate(study["variants"]) if v["k"] == 8 and v["prior"] == 0)
print(f"- shift study ({len(study['cells'])} shifts): mean accuracy {100 * (1 - study['shifted_error']):.1f}%, "
      f"{100 * (1 - study['recalibrated_error'][k8]['error']):.1f}% recalibrated on 8 samples; drift "
      + ("warned of every shift that cost more than 5 points" if study["misses"] == 0
         else f"missed {study['misses']} shifts that cost more than 5 points"))
print(f"Reports: {out}/fold.html, {out}/audit.html, {out}/drift_site2.html, {out}/recalibrate.html, "
      f"{out}/shift_study.html; "
      f"the folded model: {out}/factory_folded.onnx")
EOF
