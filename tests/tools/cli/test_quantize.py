#!/usr/bin/python3
"""bnfold quantize on the trained factory models (models/factory.py: a plain
CNN and a depthwise one), checked against ONNX Runtime and the labels:

- the QDQ model has a QuantizeLinear/DequantizeLinear pair per quantized
  activation, int8 weights with one scale per output channel (axis), int32
  biases, and onnx.checker accepts it;
- ONNX Runtime runs it (with its int8 kernels, all optimizations) and its
  outputs agree with bnfold's run of the same QDQ model (int8 simulated in
  float) to within the quantization steps;
- int8 accuracy, in ONNX Runtime, within one point of the float model's on
  both sites' held-out images, ranges from calibration data and without data
  (BN statistics and --input-range);
- a MatMul model (token-wise layers, [N, 6, 40]) quantized per column runs in
  ONNX Runtime and in bnfold (int8 matmul) with the same outputs;
- missing ranges and old opsets are refused with what to do.

    test_quantize.py BNFOLD MODELS_DIR BUILD_DIR WORK_DIR
"""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import Harness  # noqa: E402

BNFOLD, MODELS, BUILD, WORK = sys.argv[1:5]
sys.path.insert(0, MODELS)
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tools", "ort"))
sys.path.insert(0, os.path.join(BUILD, "python"))
import factory  # noqa: E402
import ort  # noqa: E402

modules = ort.ensure_ort(BUILD, allow_missing=True)
if modules is None:
    sys.exit(77)
import bnfold  # noqa: E402

h = Harness(BNFOLD)
os.makedirs(WORK, exist_ok=True)
DATA = os.path.join(WORK, "data")
factory.write_data(DATA)
split = {s: (np.load(os.path.join(DATA, s, "x.npy")), np.load(os.path.join(DATA, s, "y.npy")))
         for s in ("factory1_eval", "factory2_eval")}


def scores(run, x):
    return np.concatenate([run(x[i:i + 128]) for i in range(0, len(x), 128)])


with ort.Ort(modules) as o:
    for name in ("factory_cnn", "factory_dw"):
        model = os.path.join(MODELS, f"{name}.onnx")
        fp32 = bnfold.Session(model, threads=2)
        for mode, args in (("calibrated", ["--data", os.path.join(DATA, "factory1"), "--labels",
                                           os.path.join(DATA, "factory1", "y.npy")]),
                           ("data-free", ["--input-range", "-3,3"])):
            out = os.path.join(WORK, f"{name}.{mode}.int8.onnx")
            code, text, err = h.run("quantize", model, *args, "-o", out, "--json")
            h.check(f"{name} {mode}: quantize", code == 0, err)
            if code != 0:
                continue
            report = json.loads(text)
            m = onnx.load(out)
            onnx.checker.check_model(m)
            ops = [n.op_type for n in m.graph.node]
            layers = [n for n in m.graph.node if n.op_type in ("Conv", "Gemm")]
            inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
            weight_dq = [n for n in m.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits
                         and inits[n.input[0]].dtype == np.int8]
            h.check(f"{name} {mode}: every layer quantized, its BNs folded first",
                    len(report["layers"]) == len(layers) and "BatchNormalization" not in ops
                    and report["bns_folded"] > 0, report)
            h.check(f"{name} {mode}: one Q/DQ per activation, int8 per-channel weights, int32 biases",
                    ops.count("QuantizeLinear") == len({layer["input"] for layer in report["layers"]})
                    and len(weight_dq) == len(layers)
                    and all(inits[n.input[1]].size == inits[n.input[0]].shape[
                        next((a.i for a in n.attribute if a.name == "axis"), 1)] for n in weight_dq)
                    and sum(n.op_type == "DequantizeLinear" and n.input[0] in inits
                            and inits[n.input[0]].dtype == np.int32 for n in m.graph.node) == len(layers), ops)
            ort_id = o.ask(cmd="load", path=out, level="all", threads=2)["id"]
            q = bnfold.Session(out, threads=2)
            for s, (x, y) in split.items():
                a = scores(lambda b: o.run(ort_id, {"image": b})[q.outputs[0]], x)
                b = scores(lambda b: q.run({"image": b})[q.outputs[0]], x)
                f = scores(lambda b: fp32.run({"image": b})[fp32.outputs[0]], x)
                rel = np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b ** 2))
                # ORT's int8 kernels requantize between layers where bnfold keeps float: a step apart at most
                # per activation; measured 0.02-0.06% relative RMS.
                h.check(f"{name} {mode} {s}: ONNX Runtime's int8 run agrees with bnfold's (rel RMS {rel:.2e})",
                        rel < 5e-3 and np.mean(a.argmax(1) == b.argmax(1)) >= 0.99)
                acc_f, acc_q = np.mean(f.argmax(1) == y), np.mean(a.argmax(1) == y)
                h.check(f"{name} {mode} {s}: int8 accuracy {100 * acc_q:.2f}% within a point of float's "
                        f"{100 * acc_f:.2f}%", abs(acc_q - acc_f) <= 0.01)
            if mode == "calibrated":
                c = report["check"]
                h.check(f"{name}: the report's own check on the calibration data",
                        c["samples"] == 512 and c["top1_agreement"] >= 0.99
                        and abs(c["accuracy"]["int8"] - c["accuracy"]["float"]) <= 0.01, c)



def mlp_model(path):
    """x [N, 6, 40] -> MatMul [40, 64] + b -> Relu -> MatMul [64, 10]: a transformer's token-wise layers."""
    from onnx import TensorProto, helper
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.standard_normal((40, 64)).astype(np.float32) * 0.2, "w1"),
             numpy_helper.from_array(rng.standard_normal(64).astype(np.float32) * 0.1, "b1"),
             numpy_helper.from_array(rng.standard_normal((64, 10)).astype(np.float32) * 0.2, "w2")]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Add", ["h", "b1"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["r"]), helper.make_node("MatMul", ["r", "w2"], ["y"])]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 40])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 6, 10])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


# MatMul with constant weights: quantized per column, run by bnfold's int8 matmul (where the CPU multiplies int8
# exactly) and by ONNX Runtime's int8 kernels, which agree within the quantization steps.
mlp, mlp_q = os.path.join(WORK, "mlp.onnx"), os.path.join(WORK, "mlp.int8.onnx")
mlp_model(mlp)
xm = np.random.default_rng(5).standard_normal((64, 6, 40)).astype(np.float32)
np.save(os.path.join(WORK, "mlp_x.npy"), xm)
code, text, err = h.run("quantize", mlp, "--data", os.path.join(WORK, "mlp_x.npy"), "-o", mlp_q, "--json")
h.check("MatMul model: both MatMuls quantized", code == 0 and [layer["op"] for layer in json.loads(text)["layers"]]
        == ["MatMul", "MatMul"], (code, err))
if code == 0:
    with ort.Ort(modules) as o:
        i = o.ask(cmd="load", path=mlp_q, level="all", threads=2)["id"]
        a = o.run(i, {"x": xm})["y"]
    b = bnfold.Session(mlp_q, threads=2).run({"x": xm})["y"]
    f = bnfold.Session(mlp, threads=2).run({"x": xm})["y"]
    rel = np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b ** 2))
    rel_f = np.sqrt(np.mean((f - b) ** 2)) / np.sqrt(np.mean(f ** 2))
    h.check(f"MatMul model: ONNX Runtime's int8 run agrees with bnfold's (rel RMS {rel:.2e}; int8 vs float "
            f"{rel_f:.2e})", rel < 5e-3 and rel_f < 0.05)

model = os.path.join(MODELS, "factory_cnn.onnx")
code, _, err = h.run("quantize", model, "-o", os.path.join(WORK, "x.onnx"))
h.check("no data and no input range: refused, saying what gives ranges",
        code != 0 and "--data" in err and "--input-range" in err and "'image'" in err, err)
code, _, err = h.run("quantize", model, "--labels", os.path.join(DATA, "factory1", "y.npy"), "-o",
                     os.path.join(WORK, "x.onnx"))
h.check("labels without data: refused", code != 0 and "--labels go with --data" in err, err)
code, _, err = h.run("quantize", model, "--data", os.path.join(DATA, "factory1"), "--input-range", "-3,3", "-o",
                     os.path.join(WORK, "x.onnx"))
h.check("an input range with data: refused", code != 0 and "--input-range is for quantizing without data" in err, err)
old = onnx.load(model)
old.opset_import[0].version = 12
old_path = os.path.join(WORK, "opset12.onnx")
onnx.save(old, old_path)
code, _, err = h.run("quantize", old_path, "--input-range", "-3,3", "-o", os.path.join(WORK, "x.onnx"))
h.check("opset 12: refused, saying per-channel scales need 13", code != 0 and "opset 13" in err, err)
h.finish()
