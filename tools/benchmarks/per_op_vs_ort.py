#!/usr/bin/python3
"""Where a model's time goes in bnfold and in ONNX Runtime, side by side, by kind of step.

Runs ORT's own profiler (onnxruntime-node with enableProfiling, all graph
optimizations) on the model as exported, and bnfold's per-step profile
(Session.profile) on the folded model, in one invocation, then sums each
side's time per kind of step: 1x1, depthwise and other convolutions, Gemm and
MatMul, pooling, elementwise steps, layout changes (ORT's NCHWc reorders,
bnfold's reorders, Concat, Transpose...) and the rest, and prints each
side's slowest steps.

Both profilers add to each step (bnfold waits for each step to end before
timing the next; ORT records each node), so the profiled sums exceed a run's
time: read the kinds against each other, and the runs' times (measured
without profiling, the runtimes alternating) for the total.

    /usr/bin/python3 tools/benchmarks/per_op_vs_ort.py --build build mnasnet0_5 --batch 1
    /usr/bin/python3 tools/benchmarks/per_op_vs_ort.py --build build build/zoo/resnet50.onnx --batch 8 --top 10

MODEL is a zoo name (BUILD/zoo/NAME.onnx, made by vs_onnxruntime.py) or a
path; bnfold runs MODEL's .folded.onnx beside it when there is one.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "ort"))
from ort import ORT_VERSION, Ort, ensure_ort  # noqa: E402

KINDS = ["conv 1x1", "conv 1x1 + depthwise", "conv depthwise", "conv grouped", "conv other", "Gemm/MatMul",
         "pooling", "elementwise", "layout and copies", "other"]
POOLING = {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean"}
ELEMENTWISE = {"Add", "Mul", "Sub", "Div", "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
               "LeakyRelu", "Erf", "Gelu", "BatchNormalization", "Sum"}
LAYOUT = {"ReorderInput", "ReorderOutput", "reorder", "Concat", "Transpose", "Reshape", "Flatten", "Split",
          "Slice", "Identity", "residual copy", "Copy"}


def conv_kind(x_dims, w_dims):
    """The kind of a Conv from its input's and weight's dims (NCHW, OIHW)."""
    if len(w_dims) < 3 or len(x_dims) < 2:
        return "conv other"
    groups = x_dims[1] // max(1, w_dims[1])
    if groups > 1:
        return "conv depthwise" if w_dims[1] == 1 else "conv grouped"
    return "conv 1x1" if all(k == 1 for k in w_dims[2:]) else "conv other"


def kind_of(op, x_dims=None, w_dims=None):
    if op in ("Conv", "FusedConv", "NchwcConv") and x_dims and w_dims:
        return conv_kind(x_dims, w_dims)
    if op in ("Gemm", "MatMul", "FusedGemm", "FusedMatMul"):
        return "Gemm/MatMul"
    if op in POOLING or op.endswith("Pool"):
        return "pooling"
    if op in ELEMENTWISE:
        return "elementwise"
    if op in LAYOUT:
        return "layout and copies"
    return "other"


def ort_profile(ort, model, batch, threads, runs, sample_dims):
    """{kind: ms per run}, [(ms, kind, name)], wall ms per run (ORT's model_run), node count."""
    with tempfile.TemporaryDirectory() as d:
        reply = ort.ask(cmd="profile", path=model, threads=threads, batch=batch, sample_dims=sample_dims,
                        runs=runs, warmup=3, dir=d)
        events = json.load(open(reply["file"]))
    run_windows = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")[-runs:]
    per_kind, per_node = {}, {}
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        if not any(a <= e["ts"] <= b for a, b in run_windows):
            continue
        args = e.get("args", {})
        shapes = [list(s.values())[0] for s in args.get("input_type_shape", [])]
        op = args.get("op_name", "?")
        kind = kind_of(op, shapes[0] if shapes else None, shapes[1] if len(shapes) > 1 else None)
        name = f"{op} {e['name'][:-len('_kernel_time')]}"
        per_kind[kind] = per_kind.get(kind, 0.0) + e["dur"] / 1e3 / runs
        per_node[(name, kind)] = per_node.get((name, kind), 0.0) + e["dur"] / 1e3 / runs
    wall = statistics.median((b - a) / 1e3 for a, b in run_windows)
    return per_kind, sorted(((ms, k, n) for (n, k), ms in per_node.items()), reverse=True), wall, len(per_node)


def model_index(path):
    """{node name: (op, input dims, weight dims)} from the ONNX file (shapes by onnx's inference)."""
    import onnx
    m = onnx.load(path)
    try:
        m = onnx.shape_inference.infer_shapes(m)
    except Exception:  # noqa: BLE001  (a model onnx cannot infer keeps its declared shapes)
        pass
    dims = {}
    for vi in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        dims[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    for t in m.graph.initializer:
        dims[t.name] = list(t.dims)
    return {n.name: (n.op_type, dims.get(n.input[0]) if n.input else None,
                     dims.get(n.input[1]) if len(n.input) > 1 else None) for n in m.graph.node}


def bnfold_profile(session, feeds, index, runs):
    """{kind: ms per run}, [(ms, kind, name)], step count."""
    per_kind, rows = {}, []
    for st in session.profile(feeds, iterations=runs):
        op, x_dims, w_dims = index.get(st["node"], (st["step"].split(" ")[0], None, None))
        kind = kind_of(op, x_dims, w_dims)
        if "+ depthwise Conv" in st["step"]:
            kind = "conv 1x1 + depthwise"
        elif st["step"].startswith(("reorder", "residual copy")):
            kind = "layout and copies"
        per_kind[kind] = per_kind.get(kind, 0.0) + st["ms"]
        rows.append((st["ms"], kind, f"{st['step']} {st['node']} [{st['implementation']}]"))
    return per_kind, sorted(rows, reverse=True), len(rows)


def walls(ort, ort_id, session, feeds, batch, sample_dims, rounds=4, seconds=0.4):
    """Median ms per run of each runtime without profiling, alternating."""
    o, b = [], []
    for _ in range(rounds):
        time.sleep(0.05)
        o += ort.ask(cmd="time", id=ort_id, batch=batch, sample_dims=sample_dims, seconds=seconds, warmup=2,
                     min_runs=3)["ms"]
        time.sleep(0.05)
        for _ in range(2):
            session.run(feeds)
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            session.run(feeds)
            b.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(o), statistics.median(b)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a zoo name (BUILD/zoo/NAME.onnx) or an ONNX file")
    p.add_argument("--build", default=os.path.join(os.path.dirname(os.path.dirname(HERE)), "build"))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=50, help="profiled runs per runtime (default 50)")
    p.add_argument("--top", type=int, default=8, help="also list each side's N slowest steps (default 8)")
    a = p.parse_args()
    build = os.path.abspath(a.build)
    model = a.model if a.model.endswith(".onnx") else os.path.join(build, "zoo", a.model + ".onnx")
    if not os.path.exists(model):
        sys.exit(f"per_op_vs_ort: {model} not found (zoo models are made by tools/benchmarks/vs_onnxruntime.py)")
    folded = model[:-5] + ".folded.onnx"
    if not os.path.exists(folded):
        folded = model
    sys.path.insert(0, os.path.join(build, "python"))
    import numpy as np
    import bnfold

    session = bnfold.Session(folded, threads=a.threads)
    sample_dims = [3, 224, 224]
    x = np.random.default_rng(0).standard_normal((a.batch, *sample_dims)).astype(np.float32)
    feeds = {session.inputs[0]: x}
    session.run(feeds)
    with Ort(ensure_ort(build)) as ort:
        ort_id = ort.ask(cmd="load", path=model, level="all", threads=a.threads)["id"]
        ort_wall, bnfold_wall = walls(ort, ort_id, session, feeds, a.batch, sample_dims)
        ort_kinds, ort_rows, _, ort_nodes = ort_profile(ort, model, a.batch, a.threads, a.runs, sample_dims)
    b_kinds, b_rows, b_steps = bnfold_profile(session, feeds, model_index(folded), a.runs)

    name = os.path.basename(model)[:-5]
    print(f"{name}, batch {a.batch}, {a.threads} threads: ORT {ORT_VERSION} (all optimizations, {ort_nodes} "
          f"nodes) {ort_wall:.3f} ms, bnfold folded ({b_steps} steps) {bnfold_wall:.3f} ms per run "
          f"({bnfold_wall / ort_wall:.2f}x ORT), medians without profiling; per kind, ms per run while "
          f"profiling ({a.runs} runs):\n")
    print("| kind | ORT | bnfold | bnfold - ORT |")
    print("|---|---:|---:|---:|")
    for k in KINDS:
        o, b = ort_kinds.get(k, 0.0), b_kinds.get(k, 0.0)
        if o or b:
            print(f"| {k} | {o:.3f} | {b:.3f} | {b - o:+.3f} |")
    o, b = sum(ort_kinds.values()), sum(b_kinds.values())
    print(f"| all steps, profiled | {o:.3f} | {b:.3f} | {b - o:+.3f} |")
    print(f"| a run, not profiled | {ort_wall:.3f} | {bnfold_wall:.3f} | {bnfold_wall - ort_wall:+.3f} |")
    for title, rows in (("ORT", ort_rows), ("bnfold", b_rows)):
        if a.top:
            print(f"\n{title}'s {a.top} slowest steps (ms per run, kind):")
            for ms, kind, label in rows[:a.top]:
                print(f"  {ms:8.3f}  {kind:<22} {label[:110]}")


if __name__ == "__main__":
    main()
