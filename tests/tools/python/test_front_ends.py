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


# When a run happened and how long it took: two runs differ there (a second
# boundary between the CLI's run and the module's made this test flaky).
WALL_CLOCK = {"time", "seconds", "collected_from", "collected_until"}


def same(a, b, path="$"):
    """a and b hold the same keys, strings and numbers (floats within 1e-12 relative), wall-clock values aside."""
    assert type(a) is type(b) or (isinstance(a, (int, float)) and isinstance(b, (int, float))), (path, a, b)
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), (path, sorted(a), sorted(b))
        for k in a:
            if k not in WALL_CLOCK:
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
        assert from_python.pop("output") == str(tmp_path / "py.onnx")
        same(from_cli, from_python)
        # ... and the written models compute the same.
        x = np.random.default_rng(3).standard_normal((2, 3, 32, 32)).astype(np.float32)
        a = bnfold.Session(str(tmp_path / "cli.onnx")).run({"input": x})["output"]
        b = bnfold.Session(str(tmp_path / "py.onnx")).run({"input": x})["output"]
        np.testing.assert_array_equal(a, b)


def labelled_data(tmp_path, shift=0.0):
    rng = np.random.default_rng(5)
    x = 1.5 * rng.standard_normal((40, 3, 32, 32)) + 0.3  # tiny_resnet's calibration distribution
    x = (0.5 * x + 1.0 if shift else x).astype(np.float32)  # "another camera": contrast x0.5, brightness +1
    y = rng.integers(0, 10, 40).astype(np.int64)
    np.savez(tmp_path / f"set{shift}.npz", x=x, y=y)
    np.save(tmp_path / f"y{shift}.npy", y)
    return str(tmp_path / f"set{shift}.npz"), str(tmp_path / f"y{shift}.npy")


def test_audit_with_labels_is_the_same_from_cli_and_python(tmp_path):
    data, _ = labelled_data(tmp_path)
    from_cli = cli_json("audit", TINY, "--data", data, "--data-key", "x", "--label-key", "y", "--batch-sizes", "1,8",
                        "--precision", "int8")
    from_python = bnfold.audit(TINY, [data], batch_sizes=[1, 8], threads=1, data_key="x", label_key="y",
                               precisions=["int8"])
    same(from_cli, from_python)
    assert from_python["precisions"][0]["precision"] == "int8" and from_python["precisions"][0]["samples"] == 40
    assert "accuracy_batch_stats" in from_python["batches"][0] and from_python["culprits"] is not None


def test_drift_against_a_baseline_and_guarded_recalibration_from_python(tmp_path):
    base_data, _ = labelled_data(tmp_path)
    new_data, new_labels = labelled_data(tmp_path, shift=1.0)
    base = str(tmp_path / "base.json")
    d = bnfold.drift(TINY, [base_data], threads=1, save_stats=base, data_key="x")
    assert d["verdict"] == "in-distribution" and d["samples"] == 40
    from_cli = cli_json("drift", TINY, "--data", new_data, "--data-key", "x", "--baseline", base)
    from_python = bnfold.drift(TINY, [new_data], threads=1, baseline=base, data_key="x")
    same(from_cli, from_python)
    assert from_python["verdict"] == "drifted" and all(l["baseline_score"] is not None for l in from_python["layers"])
    np.save(tmp_path / "new_x.npy", np.load(new_data)["x"])
    np.save(tmp_path / "base_x.npy", np.load(base_data)["x"])
    r = bnfold.recalibrate(TINY, [str(tmp_path / "new_x.npy")], str(tmp_path / "r.onnx"), threads=1,
                           labels=new_labels, eval_data=[str(tmp_path / "base_x.npy")])
    assert {"calibration_accuracy_before", "calibration_accuracy_after", "eval_agreement_before",
            "eval_agreement_after", "warnings", "guard_tripped"} <= set(r)
    # The guard: written only when it holds, or when forced (issue 29).
    out = tmp_path / "strict.onnx"
    strict = bnfold.recalibrate(TINY, [str(tmp_path / "new_x.npy")], str(out), threads=1,
                                eval_data=[str(tmp_path / "base_x.npy")], max_eval_drop=0.0)
    dropped = strict["eval_agreement_before"] > strict["eval_agreement_after"]
    assert strict["guard_tripped"] == dropped and out.exists() != dropped
    assert strict["output"] == ("" if dropped else str(out))
    forced = bnfold.recalibrate(TINY, [str(tmp_path / "new_x.npy")], str(out), threads=1,
                                eval_data=[str(tmp_path / "base_x.npy")], max_eval_drop=0.0, force=True)
    assert forced["guard_tripped"] == dropped and out.exists() and forced["output"] == str(out)


def test_a_monitoring_session_gives_the_verdict_drift_gives(tmp_path):
    base_data, _ = labelled_data(tmp_path)
    new_data, _ = labelled_data(tmp_path, shift=1.0)
    base = str(tmp_path / "base.json")
    bnfold.drift(TINY, [base_data], threads=1, save_stats=base, data_key="x")
    s = bnfold.Session(TINY, threads=1, monitor_every=2)
    x = np.load(new_data)["x"]
    plain = bnfold.Session(TINY, threads=1)
    for i in range(0, 40, 4):  # 10 runs, 5 of them measured: samples 0-3, 8-11, ...
        np.testing.assert_array_equal(s.run({"input": x[i:i + 4]})["output"], plain.run({"input": x[i:i + 4]})["output"])
    m = s.monitor()
    assert (m["runs"], m["sampled_runs"], m["samples"]) == (10, 5, 20)
    s.save_stats(str(tmp_path / "served.json"))
    measured = np.concatenate([x[i:i + 4] for i in range(0, 40, 8)])
    np.save(tmp_path / "measured.npy", measured)
    served = bnfold.drift(TINY, [], merge=[str(tmp_path / "served.json")], baseline=base, min_samples=10)
    offline = bnfold.drift(TINY, [str(tmp_path / "measured.npy")], batch=4, threads=1, baseline=base, min_samples=10)
    assert served["verdict"] == offline["verdict"] == "drifted"
    for a, b in zip(served["layers"], offline["layers"]):
        assert math.isclose(a["distance"], b["distance"], rel_tol=1e-9), (a, b)


def test_shift_study_is_the_same_from_cli_and_python(tmp_path):
    data, labels = labelled_data(tmp_path)
    args = dict(families=["contrast", "shot_noise"], severities=[1, 4], recalibrate_on=[4, 16], prior=8.0,
                pixel_range=[-4.0, 4.0], batch=8, threads=1, data_key="x", labels=labels)
    from_cli = cli_json("shift-study", TINY, "--data", data, "--data-key", "x", "--labels", labels,
                        "--families", "contrast,shot_noise", "--severities", "1,4", "--recalibrate-on", "4,16",
                        "--prior", "8", "--pixel-range=-4,4", "--batch", "8")
    from_python = bnfold.shift_study(TINY, [data], **args)
    same(from_cli, from_python)
    assert from_python["metric"] == "accuracy" and len(from_python["cells"]) == 4
    assert [(v["k"], v["prior"]) for v in from_python["variants"]] == [(4, 0), (4, 8), (16, 0), (16, 8)]
    # A numpy array instead of files: the same study.
    x = np.load(data)["x"]
    from_array = bnfold.shift_study(TINY, x, **{k: v for k, v in args.items() if k != "data_key"})
    assert [c["accuracy"] for c in from_array["cells"]] == [c["accuracy"] for c in from_python["cells"]]
