"""The CLI and the Python module are front ends of the same library calls:
on one model and one data set, audit, drift and recalibrate give the same
numbers from both (the CLI's --json and the module's dicts have one source).
"""
import json
import math
import os
import subprocess

import numpy as np

import bnfold

MODELS = os.environ["BNFOLD_MODELS"]
CLI = os.environ["BNFOLD_CLI"]
TINY = os.path.join(MODELS, "tiny_resnet.onnx")


def cli_json(*args):
    out = subprocess.run([CLI, *args, "--json", "-t", "1"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def same(a, b, path="$"):
    """a and b hold the same keys, strings and numbers (floats within 1e-12 relative)."""
    assert type(a) is type(b) or (isinstance(a, (int, float)) and isinstance(b, (int, float))), (path, a, b)
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), (path, sorted(a), sorted(b))
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300) or (math.isnan(a) and math.isnan(b)), (path, a, b)
    else:
        assert a == b, (path, a, b)


def shifted_data(tmp_path):
    rng = np.random.default_rng(11)
    x = (0.7 * rng.standard_normal((12, 3, 32, 32)) + 0.4).astype(np.float32)
    path = tmp_path / "shifted.npy"
    np.save(path, x)
    return str(path)


def test_drift_is_the_same_from_cli_and_python(tmp_path):
    data = shifted_data(tmp_path)
    same(cli_json("drift", TINY, "--data", data, "--batch", "4"), bnfold.drift(TINY, [data], batch=4, threads=1))


def test_audit_is_the_same_from_cli_and_python(tmp_path):
    data = shifted_data(tmp_path)
    same(cli_json("audit", TINY, "--data", data, "--batch-sizes", "4,1,2"),
         bnfold.audit(TINY, [data], batch_sizes=[1, 2, 4], threads=1))


def test_recalibrate_is_the_same_from_cli_and_python(tmp_path):
    data = shifted_data(tmp_path)
    for mode in ("sequential", "update-bn"):
        from_cli = cli_json("recalibrate", TINY, "--data", data, "--batch", "4", "--mode", mode,
                            "-o", str(tmp_path / "cli.onnx"))
        assert from_cli.pop("output") == str(tmp_path / "cli.onnx")
        from_python = bnfold.recalibrate(TINY, [data], str(tmp_path / "py.onnx"), mode=mode, batch=4, threads=1)
        same(from_cli, from_python)
        # ... and the written models compute the same.
        x = np.random.default_rng(3).standard_normal((2, 3, 32, 32)).astype(np.float32)
        a = bnfold.Session(str(tmp_path / "cli.onnx")).run({"input": x})["output"]
        b = bnfold.Session(str(tmp_path / "py.onnx")).run({"input": x})["output"]
        np.testing.assert_array_equal(a, b)
