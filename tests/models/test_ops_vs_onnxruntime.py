#!/usr/bin/python3
"""Single ops in the forms real exporters write, where ONNX Runtime's behaviour
is the one models rely on: bnfold, with oneDNN and with its reference kernels,
against ORT on grids of cases.

- MaxPool / AveragePool output sizes and values (windows larger than the
  padded input, ceil_mode, count_include_pad, dilations, opset 9 forms).
- Upsample-7 (scales attribute) and Upsample-9 (scales input), Resize-10,
  and Resize-11/13 in every mode (nearest, linear, cubic), coordinate
  transformation, nearest rounding, scales or sizes, exclude_outside,
  cubic_coeff_a, tf_crop_and_resize with extrapolation.
- LayerNormalization on every axis, InstanceNormalization, CumSum (exclusive,
  reverse), Tile, Trilu, DepthToSpace (DCR, CRD), SpaceToDepth,
  GatherElements with negative indices, ArgMax/ArgMin, Mod,
  Hardmax, ScatterND / ScatterElements (none, add, mul), GatherND.

    tests/models/test_ops_vs_onnxruntime.py --build build
Exits 77 (skipped) when node or npm is missing; fails when ORT cannot be
installed otherwise."""
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


def one_op_model(op, x_dims, attrs, opset, constants=()):
    """A model of one node on input x (symbolic batch); constants: (name, numpy
    array or None for an omitted optional input) for the node's other inputs.
    attrs["_out"]: the output's element type when it is not float."""
    attrs = dict(attrs)
    out_type = attrs.pop("_out", TensorProto.FLOAT)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *x_dims[1:]])
    y = helper.make_tensor_value_info("y", out_type, None)
    inits, names = [], ["x"]
    for name, value in constants:
        names.append(name if value is not None else "")
        if value is not None:
            inits.append(numpy_helper.from_array(value, name))
    g = helper.make_graph([helper.make_node(op, names, ["y"], **attrs)], op, [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7 if opset < 13 else 8
    return m


def pool_cases():
    """Every 1-D combination on small sizes, and 2-D ones that mix a too-large
    window on one axis with a normal one."""
    for op, n, k, s, p, c, d, cip in itertools.product(
            ["MaxPool", "AveragePool"], [1, 2, 3, 5], [1, 2, 3], [1, 2, 3], [(0, 0), (1, 0), (0, 1), (1, 1)],
            [0, 1], [1, 2], [0, 1]):
        if p[0] >= k or p[1] >= k or (op == "MaxPool" and cip) or (op == "AveragePool" and d > 1):
            continue
        attrs = dict(kernel_shape=[k], strides=[s], pads=list(p), ceil_mode=c)
        if d > 1:
            attrs["dilations"] = [d]
        if op == "AveragePool":
            attrs["count_include_pad"] = cip
        yield op, [2, 3, n], attrs, 13, ()
    for op, (h, w), c, cip in itertools.product(["MaxPool", "AveragePool"], [(1, 5), (2, 7), (1, 1), (3, 2)],
                                                [0, 1], [0, 1]):
        if op == "MaxPool" and cip:
            continue
        attrs = dict(kernel_shape=[2, 3], strides=[2, 2], pads=[0, 1, 0, 1], ceil_mode=c)
        if op == "AveragePool":
            attrs["count_include_pad"] = cip
        yield op, [2, 3, h, w], attrs, 13, ()
    # Opset 9 (no ceil_mode attribute), as old exporters write it.
    for op, n in itertools.product(["MaxPool", "AveragePool"], [1, 2, 3]):
        yield op, [2, 3, n, n], dict(kernel_shape=[2, 2], strides=[2, 2]), 9, ()


def f32(*v):
    return np.array(v, dtype=np.float32)


def resize_cases():
    x = [2, 3, 4, 5]
    for mode in ["nearest", "linear"]:
        yield "Upsample", x, dict(mode=mode, scales=[1.0, 1.0, 2.0, 3.0]), 7, ()
        yield "Upsample", x, dict(mode=mode), 9, (("scales", f32(1, 1, 2, 1.5)),)
        yield "Resize", x, dict(mode=mode), 10, (("scales", f32(1, 1, 0.5, 2.5)),)
    transforms = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"]
    roundings = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
    targets = [("scales", f32(1, 1, 2, 0.6)), ("scales", f32(1, 1, 0.6, 1.3)),
               ("sizes", np.array([2, 3, 7, 3], dtype=np.int64)),
               ("sizes", np.array([2, 3, 1, 1], dtype=np.int64))]
    for opset, mode, t, (kind, value) in itertools.product([11, 13], ["nearest", "linear", "cubic"], transforms, targets):
        if t == "tf_half_pixel_for_nn" and mode != "nearest":
            continue
        for rounding in roundings if mode == "nearest" else ["round_prefer_floor"]:
            attrs = dict(mode=mode, coordinate_transformation_mode=t, nearest_mode=rounding)
            roi = ("roi", f32()) if opset == 11 else ("roi", None)
            scales = ("scales", value if kind == "scales" else f32()) if opset == 11 or kind == "scales" else ("scales", None)
            inputs = (roi, scales) + ((("sizes", value),) if kind == "sizes" else ())
            yield "Resize", x, attrs, opset, inputs
    for a, exclude in itertools.product([-0.5, -0.75], [0, 1]):
        yield "Resize", x, dict(mode="cubic", cubic_coeff_a=a, exclude_outside=exclude), 13, (
            ("roi", None), ("scales", f32(1, 1, 1.7, 0.8)))
    for mode in ["nearest", "linear"]:
        yield "Resize", x, dict(mode=mode, coordinate_transformation_mode="tf_crop_and_resize",
                                extrapolation_value=-3.0), 11, (
            ("roi", f32(0, 0, 0.2, -0.3, 1, 1, 0.9, 1.2)), ("scales", f32(1, 1, 1.5, 1.4)))


def i64(*v):
    return np.array(v, dtype=np.int64)


def transformer_and_index_cases():
    """The ops bnfold added for transformers and detectors (issue 31), on odd shapes."""
    x = [2, 3, 5, 7]
    rng = np.random.default_rng(1)
    for axis in (-1, 2, 1, 0):
        inner = x[axis:]
        yield "LayerNormalization", x, dict(axis=axis, epsilon=1e-3), 17, (
            ("scale", rng.standard_normal(inner).astype(np.float32)), ("bias", rng.standard_normal(inner).astype(np.float32)))
    yield "LayerNormalization", x, dict(), 17, (("scale", rng.standard_normal([7]).astype(np.float32)),)
    yield "InstanceNormalization", x, dict(epsilon=1e-4), 6, (("scale", f32(0.5, -1, 2)), ("B", f32(0, 1, -2)))
    for exclusive, reverse, axis in itertools.product([0, 1], [0, 1], [0, -1, 2]):
        yield "CumSum", x, dict(exclusive=exclusive, reverse=reverse), 14, (("axis", i64(axis).reshape(())),)
    yield "Tile", x, dict(), 13, (("repeats", i64(1, 2, 1, 3)),)
    for upper, k in itertools.product([0, 1], [-2, 0, 1, 3, 9]):
        yield "Trilu", x, dict(upper=upper), 14, (("k", i64(k).reshape(())),)
    for mode in ("DCR", "CRD"):
        yield "DepthToSpace", [2, 8, 3, 2], dict(blocksize=2, mode=mode), 13, ()
    yield "SpaceToDepth", [2, 3, 4, 6], dict(blocksize=2), 13, ()
    for axis in (0, 1, 3, -1):
        idx = rng.integers(-x[axis], x[axis], [2, 3, 4, 5]).astype(np.int64)
        yield "GatherElements", x, dict(axis=axis), 13, (("indices", idx),)
    for op, keep, last, axis in itertools.product(["ArgMax", "ArgMin"], [0, 1], [0, 1], [0, 2, -1]):
        yield op, x, dict(axis=axis, keepdims=keep, select_last_index=last, _out=TensorProto.INT64), 13, ()
    yield "Mod", x, dict(fmod=1), 13, (("divisor", f32(0.7, -1.3, 2.0, -0.4, 1.0, 3.0, -2.5)),)
    yield "Hardmax", x, dict(axis=1), 13, ()
    idx = np.array([[1, 0], [0, 2]], dtype=np.int64)
    for reduction in ("none", "add", "mul"):
        yield "ScatterND", x, dict(reduction=reduction), 16, (
            ("indices", np.array([[1, 2], [0, 0], [1, 2]], dtype=np.int64) if reduction != "none" else
             np.array([[1, 2], [0, 0]], dtype=np.int64)),
            ("updates", rng.standard_normal([3 if reduction != "none" else 2, 5, 7]).astype(np.float32)))
        yield "ScatterElements", x, dict(axis=2, reduction=reduction), 16, (
            ("indices", rng.integers(-5, 5, [2, 3, 2, 7]).astype(np.int64) if reduction != "none" else
             np.tile(np.array([1, 3], dtype=np.int64)[None, None, :, None], (2, 3, 1, 7))),
            ("updates", rng.standard_normal([2, 3, 2, 7]).astype(np.float32)))
    yield "GatherND", x, dict(), 13, (("indices", idx),)
    yield "GatherND", x, dict(batch_dims=1), 13, (("indices", np.array([[2, 4], [0, 1]], dtype=np.int64)),)


def quantize_cases():
    """QuantizeLinear per tensor and per axis, int8 and uint8, with zero points and saturation (the scale 0.01
    puts most of N(0,1) beyond 127 steps), and halves to round to even (x / 0.5 on data of whole halves is not
    exercised by random data: scale 2/3 gives ties of float32 rounding too)."""
    x = [2, 3, 5, 7]
    for dtype, zp in ((np.uint8, 128), (np.uint8, 3), (np.int8, 0), (np.int8, -7)):
        for scale in (0.05, 0.01, 2 / 3):
            yield "QuantizeLinear", x, dict(_out=TensorProto.UINT8 if dtype == np.uint8 else TensorProto.INT8), 13, (
                ("y_scale", np.array(scale, dtype=np.float32)), ("y_zero_point", np.array(zp, dtype=dtype)))
    yield "QuantizeLinear", x, dict(_out=TensorProto.UINT8), 10, (("y_scale", np.array(0.02, dtype=np.float32)),)
    for axis in (0, 1, 3, -1, -3):
        n = x[axis]
        scales = np.linspace(0.004, 0.08, n).astype(np.float32)
        zps = (np.arange(n) * 5 - 6).astype(np.int8)
        yield "QuantizeLinear", x, dict(axis=axis, _out=TensorProto.INT8), 13, (
            ("y_scale", scales), ("y_zero_point", zps))


def cases():
    yield from quantize_cases()
    yield from pool_cases()
    yield from resize_cases()
    yield from transformer_and_index_cases()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--build", required=True)
    a = p.parse_args()
    modules = ort.ensure_ort(a.build, allow_missing=True)
    if modules is None:
        return 77
    sys.path.insert(0, os.path.join(os.path.abspath(a.build), "python"))
    import bnfold
    rng = np.random.default_rng(0)
    checked = too_large = refused = 0
    failures = []
    counts = {}
    with tempfile.TemporaryDirectory() as tmp, ort.Ort(modules) as o:
        path = os.path.join(tmp, "op.onnx")
        for op, x_dims, attrs, opset, constants in cases():
            onnx.save(one_op_model(op, x_dims, attrs, opset, constants), path)
            x = rng.standard_normal(x_dims).astype(np.float32)
            what = f"{op}-{opset} on {x_dims} {attrs} {[(n, None if v is None else v.tolist()) for n, v in constants]}"
            try:
                want = o.run(o.ask(cmd="load", path=path, level="disabled", threads=1)["id"], {"x": x})["y"]
            except RuntimeError as e:
                want = e
            for reference in (False, True):
                try:
                    got = bnfold.Session(path, threads=1, reference=reference).run({"x": x})["y"]
                except RuntimeError as e:
                    got = e
                if isinstance(want, Exception) or isinstance(got, Exception):
                    if not (isinstance(want, Exception) and isinstance(got, Exception)):
                        failures.append(f"{what} reference={reference}: ORT {want!r:.120}, bnfold {got!r:.200}")
                    continue
                # Pools pick or average the same elements: equal to rounding.
                # Resize weights are computed in double here, in float32 by ORT.
                tol = 1e-6 if "kernel_shape" in attrs else 1e-5
                if got.shape != want.shape or not np.allclose(got, want, rtol=tol, atol=tol):
                    failures.append(f"{what} reference={reference}: shape {got.shape} vs ORT {want.shape}, "
                                    f"max diff {np.abs(got - want).max() if got.shape == want.shape else '-'}")
            if isinstance(want, Exception):
                refused += 1
                continue
            checked += 1
            counts[op] = counts.get(op, 0) + 1
            if "kernel_shape" not in attrs:
                continue
            spatial = x_dims[2:]
            k = attrs["kernel_shape"]
            pads = attrs.get("pads", [0] * 2 * len(k))
            dil = attrs.get("dilations", [1] * len(k))
            too_large += any(spatial[i] + pads[i] + pads[i + len(k)] < (k[i] - 1) * dil[i] + 1 for i in range(len(k)))
    for f in failures:
        print("FAIL", f)
    print(f"{checked} cases match ONNX Runtime ({', '.join(f'{n} {op}' for op, n in sorted(counts.items()))}; "
          f"{too_large} pools with a window larger than the padded input), {refused} refused by both; "
          f"{len(failures)} failures")
    return 1 if failures or too_large == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
