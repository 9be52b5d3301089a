#!/usr/bin/python3
"""The ops of recurrent, detection, signal, quantized-integer and loss graphs
against ONNX Runtime, every output of each, on the forms ONNX's own
conformance cases leave out: bidirectional and batch-first recurrent layers
with sequence lengths, clipping and other activations; GridSample in every
mode and padding with points outside the grid; RoiAlign's max mode and
boxes past the edge; NonMaxSuppression with flipped and centre-format boxes
and tied scores; Unique's four outputs; Einsum with broadcast ellipses and
diagonals; QLinearConv per channel with groups; TfIdfVectorizer in every
mode with skips; DFT one-sided and with a dft_length; the losses with
weights and ignore_index. bnfold runs each with oneDNN and with its
reference kernels alone.

    tests/models/test_graph_ops_vs_onnxruntime.py --build build
Exits 77 (skipped) when node or npm is missing."""
import argparse
import itertools
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "ort"))
import ort  # noqa: E402

ELEM = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.int64: TensorProto.INT64,
        np.int32: TensorProto.INT32, np.uint8: TensorProto.UINT8, np.int8: TensorProto.INT8}
rng = np.random.default_rng(5)


def model(op, feeds, consts, attrs, opset, outputs=1):
    """One node; feeds are graph inputs, consts initializers, in the node's input order
    (a name mapped to None is an omitted optional input)."""
    names, inputs, inits = [], [], []
    for name, v in list(feeds.items()) + list(consts.items()):
        names.append(name if v is not None else "")
        if v is None:
            continue
        if name in feeds:
            inputs.append(helper.make_tensor_value_info(name, ELEM[v.dtype.type], list(v.shape)))
        else:
            inits.append(numpy_helper.from_array(v, name))
    outs = [f"y{i}" for i in range(outputs)]
    g = helper.make_graph([helper.make_node(op, names, outs, **attrs)], op, inputs,
                          [onnx.ValueInfoProto(name=o) for o in outs], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    # The outputs' types as ONNX's shape inference gives them (ORT needs them declared).
    inferred = onnx.shape_inference.infer_shapes(m)
    for out in m.graph.output:
        t = next((v.type for v in list(inferred.graph.output) + list(inferred.graph.value_info)
                  if v.name == out.name and v.type.tensor_type.elem_type), None)
        # (ONNX 1.12 infers nothing for some Einsum equations: the operands' type then)
        out.type.tensor_type.elem_type = t.tensor_type.elem_type if t else inputs[0].type.tensor_type.elem_type
    return m


def f32(*shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, shape).astype(np.float32)


def recurrent_cases():
    seq, batch, inp, hid = 5, 3, 4, 6
    for op, direction, layout in itertools.product(["RNN", "GRU", "LSTM"], ["forward", "reverse", "bidirectional"],
                                                   [0, 1]):
        g = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
        d = 2 if direction == "bidirectional" else 1
        x = f32(batch, seq, inp) if layout else f32(seq, batch, inp)
        consts = {"W": f32(d, g * hid, inp), "R": f32(d, g * hid, hid), "B": f32(d, 2 * g * hid),
                  "sequence_lens": np.array([5, 2, 4], dtype=np.int32),
                  "initial_h": f32(batch, d, hid) if layout else f32(d, batch, hid)}
        if op == "LSTM":
            consts["initial_c"] = f32(batch, d, hid) if layout else f32(d, batch, hid)
            consts["P"] = f32(d, 3 * hid)
        attrs = dict(hidden_size=hid, direction=direction, layout=layout)
        if op == "GRU":
            attrs["linear_before_reset"] = layout  # both forms
        if layout == 0:
            attrs["clip"] = 0.8
        yield op, {"X": x}, consts, attrs, 14, 3 if op == "LSTM" else 2
    acts = {"RNN": ["LeakyRelu"], "GRU": ["HardSigmoid", "Softsign"], "LSTM": ["Sigmoid", "ScaledTanh", "Affine"]}
    for op, a in acts.items():
        g = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
        yield op, {"X": f32(seq, batch, inp)}, {"W": f32(1, g * hid, inp), "R": f32(1, g * hid, hid)}, dict(
            hidden_size=hid, activations=a, activation_alpha=[0.3, 0.7, 1.5][:len(a)],
            activation_beta=[0.2, 0.4, -0.1][:len(a)]), 7, 3 if op == "LSTM" else 2


def detection_cases():
    x = f32(2, 3, 6, 7)
    grid = f32(2, 4, 5, 2, lo=-1.3, hi=1.3)
    for mode, pad, align in itertools.product(["bilinear", "nearest", "bicubic"], ["zeros", "border", "reflection"],
                                              [0, 1]):
        yield "GridSample", {"X": x, "grid": grid}, {}, dict(mode=mode, padding_mode=pad, align_corners=align), 16, 1
    rois = np.array([[0, 0, 5, 4], [1.5, 0.5, 6.5, 5.2], [-2, -1, 3, 9], [4, 3, 4.2, 3.1]], dtype=np.float32)
    for mode, ctm, ratio, scale in itertools.product(["avg", "max"], ["half_pixel", "output_half_pixel"], [0, 2],
                                                     [1.0, 0.5]):
        yield "RoiAlign", {"X": x}, {"rois": rois, "batch_indices": np.array([0, 1, 1, 0], dtype=np.int64)}, dict(
            mode=mode, coordinate_transformation_mode=ctm, output_height=3, output_width=2, sampling_ratio=ratio,
            spatial_scale=scale), 16, 1
    corners = rng.uniform(0, 10, (2, 12, 4)).astype(np.float32)
    scores = np.round(rng.uniform(0, 1, (2, 3, 12)), 1).astype(np.float32)  # rounded: ties
    for center, max_out, iou, floor in itertools.product([0, 1], [2, 12], [0.0, 0.3, 0.7], [None, 0.35]):
        boxes = corners.copy()
        if center:
            boxes[..., 2:] = np.abs(boxes[..., 2:]) / 2
        consts = {"max_output_boxes_per_class": np.array([max_out], dtype=np.int64),
                  "iou_threshold": np.array([iou], dtype=np.float32)}
        if floor is not None:
            consts["score_threshold"] = np.array([floor], dtype=np.float32)
        yield "NonMaxSuppression", {"boxes": boxes, "scores": scores}, consts, dict(center_point_box=center), 11, 1


def selection_cases():
    x = np.array([[1, 0, 2, 1], [3, 0, 2, 1], [1, 0, 2, 1]], dtype=np.float32)
    for attrs in (dict(sorted=1), dict(sorted=0), dict(axis=0, sorted=1), dict(axis=-1, sorted=0)):
        yield "Unique", {"X": x}, {}, attrs, 11, 4
    yield "NonZero", {"X": x}, {}, {}, 13, 1
    cond = np.array([True, False, True], dtype=bool)
    for attrs in (dict(axis=0), dict(axis=1), dict()):
        yield "Compress", {"input": f32(3, 4, 2)}, {"condition": cond}, attrs, 11, 1
    for eq, shapes in [("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("...ij,...jk->...ik", [(2, 1, 3, 4), (1, 5, 4, 2)]),
                       ("ii->i", [(4, 4)]), ("bii->b", [(3, 4, 4)]), ("ij,jk", [(3, 4), (4, 2)]),
                       ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]), ("i,j->ij", [(3,), (4,)]),
                       ("ij->", [(3, 4)]), ("...i->...", [(2, 3, 4)])]:
        feeds = {f"in{k}": f32(*s) for k, s in enumerate(shapes)}
        yield "Einsum", feeds, {}, dict(equation=eq), 12, 1
    tokens = np.array([[1, 2, 3, 2, 3, 4, 1, 2], [4, 4, 1, 3, 2, 2, 3, 1]], dtype=np.int64)
    pool = np.array([1, 2, 4, 1, 2, 2, 3, 3, 1, 1, 2, 3], dtype=np.int64)  # unigrams 1 2 4; bigrams 12 23 31; trigram 123
    for mode, skip, lo in itertools.product(["TF", "IDF", "TFIDF"], [0, 2], [1, 2]):
        yield "TfIdfVectorizer", {"X": tokens}, {}, dict(
            mode=mode, min_gram_length=lo, max_gram_length=3, max_skip_count=skip, ngram_counts=[0, 3, 9],
            ngram_indexes=[6, 0, 1, 2, 3, 4, 5], pool_int64s=pool.tolist(),
            weights=[0.5, 2.0, 1.5, 0.25, 3.0, 1.0, 0.75]), 9, 1


def integer_and_signal_cases():
    a = rng.integers(0, 256, (2, 3, 5)).astype(np.uint8)
    b = rng.integers(-128, 128, (5, 4)).astype(np.int8)
    yield "MatMulInteger", {"A": a}, {"B": b, "a_zero_point": np.array(131, dtype=np.uint8),
                                      "b_zero_point": np.array([3, -2, 0, 7], dtype=np.int8)}, {}, 10, 1
    yield "QLinearMatMul", {"a": a}, {"a_scale": np.array(0.02, dtype=np.float32), "a_zero_point": np.array(128, np.uint8),
                                      "b": b.astype(np.uint8) // 2, "b_scale": np.array(0.01, dtype=np.float32),
                                      "b_zero_point": np.array(60, np.uint8), "y_scale": np.array(0.05, np.float32),
                                      "y_zero_point": np.array(100, np.uint8)}, {}, 10, 1
    x = rng.integers(0, 256, (2, 4, 7, 6)).astype(np.uint8)
    for group, stride in ((1, 1), (2, 2), (4, 1)):
        w = rng.integers(-100, 100, (6 if group != 4 else 4, 4 // group, 3, 3)).astype(np.int8)
        m = w.shape[0]
        yield "QLinearConv", {"x": x}, {"x_scale": np.array(0.03, np.float32), "x_zero_point": np.array(120, np.uint8),
                                        "w": w, "w_scale": np.linspace(0.001, 0.01, m).astype(np.float32),
                                        "w_zero_point": np.zeros(m, np.int8), "y_scale": np.array(0.4, np.float32),
                                        "y_zero_point": np.array(3, np.uint8),
                                        "B": rng.integers(-3000, 3000, m).astype(np.int32)}, dict(
            group=group, strides=[stride, stride], pads=[1, 0, 1, 2]), 10, 1
        yield "ConvInteger", {"x": x}, {"w": w.astype(np.uint8), "x_zero_point": np.array(7, np.uint8)}, dict(
            group=group, strides=[stride, stride]), 10, 1
    yield "DynamicQuantizeLinear", {"x": f32(3, 5, lo=-2, hi=5)}, {}, {}, 11, 3
    sig = f32(2, 9, 6, 1)
    for attrs, n in ((dict(axis=1), None), (dict(axis=2, onesided=1), None), (dict(axis=1), 12), (dict(axis=2), 4)):
        consts = {"dft_length": np.array(n, dtype=np.int64)} if n else {}
        yield "DFT", {"input": sig}, consts, attrs, 17, 1
    yield "DFT", {"input": f32(2, 7, 2)}, {}, dict(axis=1, inverse=1), 17, 1
    yield "STFT", {"signal": f32(2, 40, 1)}, {"frame_step": np.array(6, np.int64),
                                               "window": np.hanning(10).astype(np.float32)}, dict(onesided=1), 17, 1
    yield "STFT", {"signal": f32(1, 30, 2)}, {"frame_step": np.array(4, np.int64), "window": None,
                                               "frame_length": np.array(8, np.int64)}, dict(onesided=0), 17, 1
    for op, periodic in itertools.product(["HannWindow", "HammingWindow", "BlackmanWindow"], [0, 1]):
        yield op, {}, {"size": np.array(11, np.int64)}, dict(periodic=periodic, output_datatype=11), 17, 1
    yield "MelWeightMatrix", {}, {"num_mel_bins": np.array(10, np.int64), "dft_length": np.array(64, np.int64),
                                  "sample_rate": np.array(16000, np.int64), "lower": np.array(20.0, np.float32),
                                  "upper": np.array(7000.0, np.float32)}, {}, 17, 1


def other_cases():
    scores = f32(4, 5, 3, lo=-3, hi=3)
    labels = np.array([[0, 4, 2], [1, -1, 3], [4, 4, 0], [2, 1, -1]], dtype=np.int64)
    for op, reduction, weighted in itertools.product(["SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss"],
                                                     ["none", "sum", "mean"], [0, 1]):
        consts = {"labels": labels}
        if weighted:
            consts["weights"] = np.array([0.5, 1, 2, 0.25, 1.5], np.float32)
        yield op, {"scores": scores}, consts, dict(reduction=reduction, ignore_index=-1), 13, \
            2 if op.startswith("Softmax") else 1
    yield "ReverseSequence", {"x": f32(4, 3, 2)}, {"lens": np.array([4, 1, 3], np.int64)}, dict(
        time_axis=0, batch_axis=1), 10, 1
    yield "ReverseSequence", {"x": f32(3, 5)}, {"lens": np.array([0, 5, 2], np.int64)}, dict(
        time_axis=1, batch_axis=0), 10, 1
    yield "Shrink", {"x": f32(3, 4, lo=-2, hi=2)}, {}, dict(bias=0.3, lambd=0.6), 13, 1
    yield "Det", {"x": f32(2, 3, 5, 5)}, {}, {}, 13, 1
    yield "MeanVarianceNormalization", {"x": f32(2, 3, 4, 5)}, {}, dict(axes=[0, 2]), 13, 1
    yield "ReduceLogSum", {"x": f32(2, 3, 4, lo=0.1, hi=2)}, {}, dict(axes=[0, 2], keepdims=0), 13, 1
    pooled = np.array([[[[5, 6], [7, 8]], [[1, 2], [3, 4]]]], dtype=np.float32)
    idx = np.array([[[[5, 7], [13, 15]], [[16, 19], [25, 31]]]], dtype=np.int64)
    yield "MaxUnpool", {"x": pooled}, {"i": idx}, dict(kernel_shape=[2, 2], strides=[2, 2]), 11, 1
    # (Not with an output_shape: there ORT places values elsewhere than ONNX's conformance data
    # does, test_maxunpool_export_with_output_shape; bnfold follows ONNX's data.)


def cases():
    for family in (recurrent_cases, detection_cases, selection_cases, integer_and_signal_cases, other_cases):
        yield from family()


def close(got, want):
    if got.dtype != want.dtype or got.shape != want.shape:
        return f"{got.dtype}{list(got.shape)} vs ORT {want.dtype}{list(want.shape)}"
    if want.dtype.kind in "iub":
        diff = np.abs(got.astype(np.int64) - want.astype(np.int64)).max() if got.size else 0
        return "" if diff <= (1 if want.dtype in (np.uint8, np.int8) else 0) else f"max diff {diff}"
    scale = max(1.0, float(np.abs(want).max()) if want.size else 1.0)
    ok = np.allclose(got, want, rtol=1e-4, atol=2e-5 * scale, equal_nan=True)
    return "" if ok else f"max diff {np.abs(got - want).max():.3g} (scale {scale:.3g})"


def ort_run(o, op, feeds, consts, attrs, opset, outputs, path):
    """ORT's outputs. ORT runs no batch-first (layout 1) recurrent layer: it
    runs the sequence-first form of the same layer, its outputs transposed."""
    feeds, consts, attrs = dict(feeds), dict(consts), dict(attrs)
    batch_first = op in ("RNN", "GRU", "LSTM") and attrs.get("layout") == 1
    if batch_first:
        attrs["layout"] = 0
        feeds["X"] = feeds["X"].transpose(1, 0, 2)
        for k in ("initial_h", "initial_c"):
            if k in consts:
                consts[k] = np.ascontiguousarray(consts[k].transpose(1, 0, 2))
    onnx.save(model(op, feeds, consts, attrs, opset, outputs), path)
    want = o.run(o.ask(cmd="load", path=path, level="disabled", threads=1)["id"], feeds)
    if batch_first:
        want = {k: v.transpose(2, 0, 1, 3) if v.ndim == 4 else v.transpose(1, 0, 2) for k, v in want.items()}
    return want


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--build", required=True)
    a = p.parse_args()
    modules = ort.ensure_ort(a.build, allow_missing=True)
    if modules is None:
        return 77
    sys.path.insert(0, os.path.join(os.path.abspath(a.build), "python"))
    import bnfold
    failures, counts, refused = [], {}, 0
    with tempfile.TemporaryDirectory() as tmp, ort.Ort(modules) as o:
        path = os.path.join(tmp, "op.onnx")
        for op, feeds, consts, attrs, opset, outputs in cases():
            what = f"{op}-{opset} {attrs} on {[(k, list(v.shape)) for k, v in feeds.items()]}"
            onnx.save(model(op, feeds, consts, dict(attrs), opset, outputs), path)
            try:
                want = ort_run(o, op, feeds, consts, attrs, opset, outputs, os.path.join(tmp, "ort.onnx"))
            except RuntimeError as e:  # a form ORT does not run: nothing to compare with, and said
                print(f"not compared: {what}: {str(e)[:200]}")
                refused += 1
                continue
            for reference in (False, True):
                try:
                    got = bnfold.Session(path, threads=1, reference=reference).run(feeds)
                except RuntimeError as e:
                    failures.append(f"{what} reference={reference}: bnfold refused: {e}")
                    continue
                for name in sorted(want):
                    why = close(np.asarray(got[name]), want[name])
                    if why:
                        failures.append(f"{what} reference={reference} output {name}: {why}")
            counts[op] = counts.get(op, 0) + 1
    for f in failures:
        print("FAIL", f)
    print(f"{sum(counts.values())} graphs compared with ONNX Runtime "
          f"({', '.join(f'{n} {op}' for op, n in sorted(counts.items()))}), {refused} that ORT refuses; "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
