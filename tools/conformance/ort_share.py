#!/usr/bin/python3
"""ONNX Runtime's share of ONNX's conformance node cases, beside bnfold's, per op.

Runs every case of tests/data/onnx-tests/node in onnxruntime-node (the pinned
version of tools/ort, all graph optimizations, 1 thread) and compares its
outputs with ONNX's expected ones exactly as bnfold's conformance test does
(same type, same shape, |got - want| <= 1e-5 + 1e-3 |want|, NaN equals NaN,
strings equal). bnfold's outcome per case comes from conformance_run_all.txt,
written by `bnfold_tests '[.all]'`.

Cases whose inputs or outputs ONNX Runtime's JavaScript API cannot carry
(sequences, optionals, bfloat16) are "not measured" and left out of both
shares; training-only ops (the optimizers and gradients of the
ai.onnx.preview.training domain) are left out as issue 31 asks.

    cd build && tests/bnfold_tests '[.all]'
    /usr/bin/python3 ../tools/conformance/ort_share.py --build . \\
        --bnfold conformance_run_all.txt [--out ort_share.md] [--only PREFIX]
"""
import argparse
import collections
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ort"))
import ort  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CASES = os.path.join(ROOT, "tests", "data", "onnx-tests", "node")
TRAINING_ONLY = {"Adagrad", "Adam", "Momentum", "Gradient"}  # the ai.onnx.preview.training domain


class NotMeasured(Exception):
    """ONNX Runtime's JavaScript API cannot carry this case's values."""


def op_of(case):
    base = case[: -len("_expanded")] if case.endswith("_expanded") else case
    try:
        ops = {n.op_type for n in onnx.load(os.path.join(CASES, base, "model.onnx")).graph.node}
    except Exception:  # noqa: BLE001 (a model onnx 1.12 cannot read)
        return "(unreadable)"
    return sorted(ops)[0] if len(ops) == 1 else "/".join(sorted(ops))


def check_measurable(values):
    for v in values:
        t = v.type
        if not t.HasField("tensor_type"):
            raise NotMeasured("a sequence or optional value")
        if t.tensor_type.elem_type == onnx.TensorProto.BFLOAT16:
            raise NotMeasured("a bfloat16 tensor")


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def differs(got, want):
    """'' when got matches want as bnfold's test compares, else why not."""
    if want.dtype.kind in "OUS":
        got_s = [v.decode() if isinstance(v, bytes) else str(v) for v in got.ravel()]
        want_s = [v.decode() if isinstance(v, bytes) else str(v) for v in want.ravel()]
        return "" if got.shape == want.shape and got_s == want_s else "strings differ"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype} vs {want.dtype}"
    if got.shape != want.shape:
        return f"shape {got.shape} vs {want.shape}"
    a, b = got.astype(np.float64), want.astype(np.float64)
    ok = (a == b) | (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= 1e-5 + 1e-3 * np.abs(b))
    return "" if ok.all() else f"values differ (max abs {np.nanmax(np.abs(a - b)):.3g})"


def run_case(o, case, workdir):
    d = os.path.join(CASES, case)
    model = onnx.load(os.path.join(d, "model.onnx"))
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    check_measurable(inputs)
    check_measurable(model.graph.output)
    s = o.ask(cmd="load", path=os.path.join(d, "model.onnx"), level="all", threads=1)
    sets = sorted(e for e in os.listdir(d) if e.startswith("test_data_set_"))
    for k, ds in enumerate(sets):
        feeds = {}
        for i, inp in enumerate(inputs):
            f = os.path.join(d, ds, f"input_{i}.pb")
            if os.path.exists(f):
                feeds[inp.name] = load_pb(f)
        outs = o.run(s["id"], feeds, workdir)
        for i, out in enumerate(model.graph.output):
            f = os.path.join(d, ds, f"output_{i}.pb")
            if os.path.exists(f):
                why = differs(outs[out.name], load_pb(f))
                if why:
                    return f"set {k} output {i}: {why}"
    return "PASS" if sets else "no test data"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="build folder holding ort/ (default: build)")
    ap.add_argument("--bnfold", help="conformance_run_all.txt from bnfold_tests '[.all]'")
    ap.add_argument("--out", help="write the markdown table here too")
    ap.add_argument("--only", default="", help="only cases whose name starts with this")
    args = ap.parse_args()
    bnfold = {}
    if args.bnfold:
        for line in open(args.bnfold):
            if line.startswith("node/"):
                case, result = line.rstrip("\n").split("\t", 1)
                bnfold[case[len("node/"):]] = result == "PASS"
    cases = sorted(c for c in os.listdir(CASES) if c.startswith(args.only))
    modules = ort.ensure_ort(args.build)
    results, o = {}, ort.Ort(modules)
    with tempfile.TemporaryDirectory() as workdir:
        for n, case in enumerate(cases):
            try:
                results[case] = run_case(o, case, workdir)
            except NotMeasured as e:
                results[case] = f"NOT MEASURED: {e}"
            except Exception as e:  # noqa: BLE001 (ORT's refusal is an outcome)
                results[case] = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
                if o.p.poll() is not None:  # ORT died: a fresh process for the next case
                    o = ort.Ort(modules)
            if (n + 1) % 100 == 0:
                print(f"{n + 1} of {len(cases)} cases", file=sys.stderr)
    o.close()
    report(cases, results, bnfold, args.out)


def report(cases, results, bnfold, out):
    per_op = collections.defaultdict(lambda: [0, 0, 0])  # cases, ORT passes, bnfold passes
    left_out = collections.Counter()
    for case in cases:
        op = op_of(case)
        if results[case].startswith("NOT MEASURED") or set(op.split("/")) & TRAINING_ONLY:
            left_out["not measurable in ORT's JavaScript API" if results[case].startswith("NOT")
                     else "training-only"] += 1
            continue
        per_op[op][0] += 1
        per_op[op][1] += results[case] == "PASS"
        per_op[op][2] += bnfold.get(case, False)
    total = sum(v[0] for v in per_op.values())
    ort_pass = sum(v[1] for v in per_op.values())
    bn_pass = sum(v[2] for v in per_op.values())
    out_of = f" ({', '.join(f'{v} {k}' for k, v in left_out.items())} left out)" if left_out else ""
    lines = [f"{total} node cases compared{out_of}:",
             f"ONNX Runtime passes {ort_pass} ({100 * ort_pass / total:.1f}%), "
             f"bnfold {bn_pass} ({100 * bn_pass / total:.1f}%).", "",
             "| op | cases | ONNX Runtime | bnfold |", "|---|---:|---:|---:|"]
    for op in sorted(per_op):
        c, p_ort, p_bn = per_op[op]
        if p_ort != c or p_bn != c:
            lines.append(f"| {op} | {c} | {p_ort} | {p_bn} |")
    lines.append("")
    lines.append("(ops where both pass every case are not listed)")
    text = "\n".join(lines)
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
            f.write("\nONNX Runtime's failures:\n")
            for case in cases:
                if results[case] != "PASS":
                    f.write(f"- {case}: {results[case]}\n")


if __name__ == "__main__":
    main()
