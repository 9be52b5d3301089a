#!/usr/bin/python3
"""End-to-end checks of the bnfold CLI: exit codes, messages, JSON, 80 columns.

Usage: test_cli.py BNFOLD MODELS_DIR GENERATED_MODELS_DIR
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

BNFOLD, MODELS, GENERATED = sys.argv[1:4]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness  # noqa: E402

h = Harness(BNFOLD, timeout=300)
run, check = h.run, h.check


def fits_80(text):
    return all(len(line) <= 80 for line in text.splitlines())


code, out, err = run("--help")
check("--help exits 0 and lists inspect", code == 0 and "inspect" in out, out + err)
code, out, err = run("--version")
check("--version", code == 0 and out.startswith("bnfold "), out + err)
code, out, err = run()
check("no command is a usage error", code != 0 and "inspect" in (out + err), out + err)
code, out, err = run("inspect", "--help")
check("inspect --help teaches", code == 0 and "Examples" in out and "--json" in out, out)

tiny = os.path.join(MODELS, "tiny_resnet.onnx")
code, out, err = run("inspect", tiny)
check("inspect tiny_resnet", code == 0 and "BatchNormalization nodes: 7" in out, out + err)
check("inspect text fits 80 columns", fits_80(out), out)
code, out, err = run("inspect", "--json", tiny)
j = json.loads(out)
check("inspect --json", code == 0 and len(j["batchnorms"]) == 7 and j["inputs"][0]["shape"] == ["N", 3, 32, 32], out)

resnet18 = os.path.join(GENERATED, "resnet18.onnx")
code, out, err = run("inspect", "--json", resnet18)
bns = json.loads(out)["batchnorms"] if code == 0 else []
check("resnet18: 20 BatchNormalization nodes, all after a single-consumer Conv",
      len(bns) == 20 and all(b["producer_op"] == "Conv" and b["producer_consumers"] == 1 for b in bns),
      out + err)
code, out, err = run("inspect", resnet18)
check("resnet18 text", code == 0 and "BatchNormalization nodes: 20" in out and fits_80(out), out + err)

with tempfile.TemporaryDirectory() as d:
    folded = os.path.join(d, "tiny_folded.onnx")
    report = os.path.join(d, "report.json")
    code, out, err = run("fold", tiny, "-o", folded, "--verify", "--report", report)
    words = " ".join(out.split())  # the report wraps at 80 columns wherever the numbers put the break
    check("fold tiny_resnet: 7 of 7 folded, verified", code == 0 and "7 found: 7 folded" in words
          and "output: fold error" in words and "float32 noise" in words and "within tolerance" in words
          and "values after a fold checked: all ok" in words, out + err)
    check("fold text fits 80 columns", fits_80(out), out)
    r = json.load(open(report))
    check("fold --report", r["counts"]["folded"] == 7 and all(b["max_abs_error"] is not None for b in r["batchnorms"])
          and r["verification"]["ok"], json.dumps(r)[:500])
    code, out, err = run("inspect", "--json", folded)
    check("folded model has no BatchNormalization", code == 0 and json.loads(out)["batchnorms"] == [], out + err)
    code, out, err = run("fold", tiny, "-o", tiny)
    check("fold refuses to overwrite its input", code == 1 and "would overwrite" in err, err)
    code, out, err = run("fold", tiny, "-o", folded, "--passes", "fold-bn,dead-code")
    check("unknown pass names the known ones", code == 1 and "unknown pass 'fold-bn'" in err
          and "fold-bn-into-producer" in err, err)
    code, out, err = run("fold", "--list-passes")
    check("--list-passes", code == 0 and "fold-bn-into-consumer" in out, out + err)
    deconv = os.path.join(MODELS, "deconv_bn.onnx")
    code, out, err = run("fold", deconv, "-o", folded, "--verify")
    check("fold deconv_bn: forward fold and scale-shift with reasons", code == 0 and "into following" in out
          and "kept as scale-shift: producer is Add" in out, out + err)
    code, out, err = run("run", tiny, "--batch", "3", "-o", d)
    check("run writes outputs", code == 0 and os.path.exists(os.path.join(d, "output.npy")), out + err)
    code, out, err = run("run", tiny, "--batch", "3", "--no-save", "-i", "input=" + os.path.join(d, "nope.npy"))
    check("run: missing input file", code == 1 and "nope.npy" in err, err)
    code, out, err = run("bench", tiny, "--batch", "1,2", "-n", "3", "--json")
    b = json.loads(out) if code == 0 else {}
    check("bench --json", code == 0 and len(b["batches"]) == 2 and b["batches"][1]["samples_per_s"] > 0, out + err)
    # Two configurations are timed in alternating pairs: a median ratio inside its interval.
    folded = os.path.join(d, "tiny_folded_again.onnx")
    run("fold", tiny, "-o", folded)
    code, out, err = run("bench", tiny, "--against", folded, "--batch", "1", "-n", "9", "--json")
    p = json.loads(out)["batches"][0] if code == 0 else {}
    check("bench --against: 9 pairs, the median speedup inside its 95% interval",
          code == 0 and p["pairs"] == 9 and p["speedup_low"] <= p["speedup"] <= p["speedup_high"]
          and p["median_ms"] > 0 and p["against_median_ms"] > 0 and isinstance(p["too_noisy"], bool), out + err)
    code, out, err = run("bench", tiny, "--against", folded, "--batch", "1", "-n", "5")
    check("bench --against text names the interval", code == 0 and "95% interval" in out and "5 pairs" in out,
          out + err)
    code, out, err = run("bench", tiny, "--monitor", "2", "--batch", "1", "-n", "5", "--json")
    p = json.loads(out)["batches"][0] if code == 0 else {}
    check("bench --monitor: paired, with the overhead's interval",
          code == 0 and p["pairs"] == 5 and p["overhead_low"] <= p["median_overhead"] <= p["overhead_high"],
          out + err)
    code, out, err = run("bench", tiny, "--monitor", "2", "--against", folded)
    check("bench --monitor with --against is refused", code == 1 and "give one of them" in err, err)
    code, out, err = run("fold", tiny, "-o", folded, "--bench", "--bench-batch", "1", "--report", report)
    sp = json.load(open(report))["speed"][0] if code == 0 else {}
    check("fold --bench: paired speedup with its interval, in 80 columns", code == 0 and "95% interval" in out
          and sp["speedup_low"] <= sp["speedup"] <= sp["speedup_high"] and sp["pairs"] >= 7 and fits_80(out),
          out + err)

    code, out, err = run("inspect", os.path.join(d, "missing.onnx"))
    check("missing file: exit 1, one line naming it",
          code == 1 and err.startswith("bnfold: error: ") and "missing.onnx: no such file" in err
          and err.count("\n") == 1, err)
    garbage = os.path.join(d, "garbage.onnx")
    with open(garbage, "wb") as f:
        f.write(b"\x12\xff\xff\xff\xff\x0f garbage")
    code, out, err = run("inspect", garbage)
    check("garbage file: exit 1, not an ONNX model", code == 1 and "not an ONNX model" in err, err)

# Every numeric option has a range, checked while parsing: exit 1, the range named, nothing written.
with tempfile.TemporaryDirectory() as d:
    out_model = os.path.join(d, "out.onnx")
    for args, says in (
        (("fold", tiny, "-o", out_model, "--verify", "--rtol", "nan"), "--rtol: nan is outside [0, inf)"),
        (("fold", tiny, "-o", out_model, "--verify", "--atol", "-1e-3"), "--atol: -1e-3 is outside [0, inf)"),
        (("fold", tiny, "-o", out_model, "--verify", "--batch", "0"), "--batch: 0 is outside [1, "),
        (("run", tiny, "--threads", "-5"), "--threads: -5 is outside [0, "),
        (("run", tiny, "--threads", "100000"), "--threads: 100000 is outside [0, "),
        (("run", tiny, "--batch", "0"), "--batch: 0 is outside [1, "),
        (("run", tiny, "--seed", "-1"), "-1 is not a whole number in [0, 18446744073709551615]"),
        (("run", tiny, "--seed", "18446744073709551616"), "18446744073709551616 is not a whole number"),
        (("fold", tiny, "-o", out_model, "--verify", "--seed", "1e3"), "1e3 is not a whole number"),
        (("audit", tiny, "--random", "--seed", "-5"), "-5 is not a whole number"),
        (("bench", tiny, "-s", "1e300", "-n", "0"), "--seconds: 1e300 is outside [0, 3600]"),
        (("audit", tiny, "--random", "--samples", "0"), "--samples: 0 is outside [1, "),
        (("audit", tiny, "--random", "--tolerance", "inf"), "--tolerance: inf is outside [0, inf)"),
        (("drift", tiny, "--data", d, "--std", "0,0,0"), "std 0: every value must be a finite number above 0"),
        (("drift", tiny, "--data", d, "--mean", "0.5,0.5"), "2 mean values for a model whose input 'input' has 3"),
        (("run", tiny, "-i", "image=" + os.path.join(d, "x.npy")), "no input 'image'; its inputs are 'input'"),
    ):
        code, out, err = run(*args)
        check(f"{' '.join(args[:1] + args[2:])}: exit 1, '{says}'", code == 1 and says in err, err)
        check(f"{' '.join(args[:1] + args[2:])}: writes nothing", not os.path.exists(out_model))
    # run writes outputs only when asked (-o DIR); --no-save stays accepted.
    code, out, err = run("run", tiny, "--no-save")
    check("run --no-save still accepted", code == 0, err)
    p = subprocess.run([os.path.abspath(BNFOLD), "run", os.path.abspath(tiny)], capture_output=True, text=True, cwd=d)
    check("run without -o writes nothing", p.returncode == 0 and os.listdir(d) == [], str(os.listdir(d)))
    code, out, err = run("run", tiny, "-o", os.path.join(d, "outs"))
    check("run -o DIR writes the outputs", code == 0 and os.path.exists(os.path.join(d, "outs", "output.npy")), err)

# Outputs: never a device, a folder or a planted symlink; never the input; nothing left on failure.
with tempfile.TemporaryDirectory() as d:
    out_model = os.path.join(d, "out.onnx")
    code, out, err = run("fold", tiny, "-o", "/dev/null")
    check("fold -o /dev/null is refused, /dev/null stays a device",
          code == 1 and "not a regular file" in err and stat.S_ISCHR(os.stat("/dev/null").st_mode), err)
    victim = os.path.join(d, "victim.txt")
    with open(victim, "w") as f:
        f.write("keep me")
    os.symlink(victim, out_model + ".tmp")  # the fixed temporary name of older versions
    code, out, err = run("fold", tiny, "-o", out_model)
    check("a symlink planted at OUT.tmp is not followed", code == 0 and open(victim).read() == "keep me", err)
    check("no temporary left beside the output", sorted(os.listdir(d)) == ["out.onnx", "out.onnx.tmp", "victim.txt"],
          str(os.listdir(d)))
    shutil.copy(tiny, os.path.join(d, "m.onnx"))
    os.symlink(os.path.join(d, "m.onnx"), os.path.join(d, "link.onnx"))
    for target in (os.path.join(d, ".", "m.onnx"), os.path.join(d, "link.onnx")):
        code, out, err = run("fold", os.path.join(d, "m.onnx"), "-o", target)
        check(f"fold -o {os.path.relpath(target, d)} (the input itself) is refused",
              code == 1 and "overwrite the input" in err, err)
    check("the input is intact", open(os.path.join(d, "m.onnx"), "rb").read() == open(tiny, "rb").read())
    code, out, err = run("fold", tiny, "-o", os.path.join(d, "o2.onnx"), "--report", os.path.join(d, "no", "r.json"))
    check("--report into a missing folder: exit 1 before anything is written",
          code == 1 and "does not exist" in err and not os.path.exists(os.path.join(d, "o2.onnx")), err)
    code, out, err = run("audit", tiny, "--random", "--samples", "4", "--batch-sizes", "1,2", "--html", d)
    check("--html onto a folder is refused", code == 1 and "not a regular file" in err, err)
    code, out, err = run("fold", tiny, "-o", os.path.join(d, "o3.onnx"), "--verify", "--rtol", "0", "--atol", "0",
                         "--noise-factor", "0")
    check("a failed --verify writes nothing", code == 1 and "Not written" in out and
          not os.path.exists(os.path.join(d, "o3.onnx")), out + err)
    code, out, err = run("fold", tiny, "-o", os.path.join(d, "o3.onnx"), "--verify", "--rtol", "0", "--atol", "0",
                         "--noise-factor", "0", "--keep-failed")
    check("--keep-failed writes it anyway", code == 1 and os.path.exists(os.path.join(d, "o3.onnx")), out + err)

# Issue 32, small surprises: a folded model larger than its original says why; --expect with a wrong output
# lists the outputs; --mean/--std with array files say they do not apply; a report's relative atol is null
# with its rule, not -1.
with tempfile.TemporaryDirectory() as d:
    code, out, err = run("fold", tiny, "-o", os.path.join(d, "f.onnx"), "--verify", "--report", os.path.join(d, "r.json"))
    check("fold says why the folded file is larger", code == 0 and "larger than the original" in out and
          "metadata_props" in out, out)
    rep = json.load(open(os.path.join(d, "r.json")))["verification"]
    check("the fold report's relative atol is null with its rule", rep["atol"] is None and "largest" in rep["atol_rule"],
          json.dumps(rep)[:400])
    code, out, err = run("run", tiny, "-e", "nope=" + os.path.join(d, "r.json"))
    check("--expect with an unknown output lists the model's outputs", code == 1 and "its outputs are 'output'" in err,
          err)

# Issue 32: long names that differ only in the middle (as exporters write them) are cut so that no two rows
# read the same, in 80 columns, in every table that lists BNs.
import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

nodes, inits, x = [], [], "input"
for k in range(3):
    stem = f"/backbone/encoder/stage{k}/residual_block/conv_branch"
    w = numpy_helper.from_array(np.full((4, 4, 1, 1), 0.1, np.float32), f"w{k}")
    inits.append(w)
    nodes.append(helper.make_node("Conv", [x, w.name], [f"c{k}"], name=f"{stem}/Conv"))
    params = [numpy_helper.from_array(np.full(4, v, np.float32), f"p{k}_{i}") for i, v in enumerate((1, 0, 0, 1))]
    inits += params
    nodes.append(helper.make_node("BatchNormalization", [f"c{k}"] + [p.name for p in params], [f"b{k}"],
                                  name=f"{stem}/BatchNormalization"))
    x = f"b{k}"
g = helper.make_graph(nodes, "long_names", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4, 8, 8])],
                      [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", 4, 8, 8])], inits)
with tempfile.TemporaryDirectory() as d:
    long_names = os.path.join(d, "long_names.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), long_names)
    np.save(os.path.join(d, "x.npy"), np.random.default_rng(0).standard_normal((8, 4, 8, 8)).astype(np.float32))
    for args, skip in ((("inspect", long_names), "name"), (("fold", long_names, "-o", os.path.join(d, "f.onnx")), "BN"),
                       (("drift", long_names, "--data", os.path.join(d, "x.npy"), "--min-samples", "1"), "BN")):
        code, out, err = run(*args)
        table = [line for line in out.splitlines() if line.startswith("  /") and ": " not in line]  # not prose
        rows = [line.split()[0] for line in table]
        check(f"{args[0]}: long BN names stay apart in 80 columns ({rows})",
              code == 0 and len(rows) == 3 and len(set(rows)) == 3 and fits_80("\n".join(table)), out + err)

h.finish()
