#!/usr/bin/python3
"""MaxPool and AveragePool output sizes and values where ONNX Runtime departs
from a strict reading of the spec (windows larger than the padded input,
ceil_mode, count_include_pad): bnfold, with oneDNN and with its reference
kernels, against ORT on a grid of 1-D and 2-D cases.

    tests/models/test_pool_rules.py --build build
Exits 77 (skipped) when node or npm is missing; fails when ORT cannot be
installed otherwise."""
import argparse
import itertools
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "ort"))
import ort  # noqa: E402


def pool_model(op, in_spatial, attrs, opset):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, *in_spatial])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    g = helper.make_graph([helper.make_node(op, ["x"], ["y"], **attrs)], "pool", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def cases():
    """(op, input spatial dims, attributes, opset): every 1-D combination on small
    sizes, and 2-D ones that mix a too-large window on one axis with a normal one."""
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
        yield op, [n], attrs, 13
    for op, (h, w), c, cip in itertools.product(["MaxPool", "AveragePool"], [(1, 5), (2, 7), (1, 1), (3, 2)],
                                                [0, 1], [0, 1]):
        if op == "MaxPool" and cip:
            continue
        attrs = dict(kernel_shape=[2, 3], strides=[2, 2], pads=[0, 1, 0, 1], ceil_mode=c)
        if op == "AveragePool":
            attrs["count_include_pad"] = cip
        yield op, [h, w], attrs, 13
    # Opset 9 (no ceil_mode attribute), as old exporters write it.
    for op, n in itertools.product(["MaxPool", "AveragePool"], [1, 2, 3]):
        yield op, [n, n], dict(kernel_shape=[2, 2], strides=[2, 2]), 9


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
    with tempfile.TemporaryDirectory() as tmp, ort.Ort(modules) as o:
        path = os.path.join(tmp, "pool.onnx")
        for op, spatial, attrs, opset in cases():
            onnx.save(pool_model(op, spatial, attrs, opset), path)
            x = rng.standard_normal((2, 3, *spatial)).astype(np.float32)
            what = f"{op} in {spatial} {attrs} opset {opset}"
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
                if got.shape != want.shape or not np.allclose(got, want, rtol=1e-6, atol=1e-6):
                    failures.append(f"{what} reference={reference}: shape {got.shape} vs ORT {want.shape}, "
                                    f"max diff {np.abs(got - want).max() if got.shape == want.shape else '-'}")
            if isinstance(want, Exception):
                refused += 1
                continue
            checked += 1
            k = attrs["kernel_shape"]
            pads = attrs.get("pads", [0] * 2 * len(k))
            dil = attrs.get("dilations", [1] * len(k))
            too_large += any(spatial[i] + pads[i] + pads[i + len(k)] < (k[i] - 1) * dil[i] + 1 for i in range(len(k)))
    for f in failures:
        print("FAIL", f)
    print(f"{checked} pool cases match ONNX Runtime ({too_large} with a window larger than the padded input), "
          f"{refused} refused by both; {len(failures)} failures")
    return 1 if failures or too_large == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
