"""The Python bindings, tested with Debian's python3 and pytest.

Run by CTest with PYTHONPATH=<build>/python and BNFOLD_MODELS=<source>/models.
"""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

import bnfold

MODELS = os.environ["BNFOLD_MODELS"]
sys.path.insert(0, MODELS)
import make_models  # noqa: E402

TINY = os.path.join(MODELS, "tiny_resnet.onnx")


def bundled_tiny_resnet_in_pytorch():
    """make_models.py's tiny_resnet, rebuilt the same deterministic way."""
    torch.manual_seed(0)
    model = make_models.TinyResNet()
    gen = torch.Generator().manual_seed(len("tiny_resnet"))
    make_models.randomize_bn(model, gen)
    make_models.calibrate(model, (8, 3, 32, 32), gen)
    return model.eval()


def test_session_matches_pytorch_eval_on_the_bundled_model():
    model = bundled_tiny_resnet_in_pytorch()
    x = np.random.default_rng(1).standard_normal((5, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    s = bnfold.Session(TINY, threads=2)
    got = s.run({"input": x})["output"]
    assert got.shape == (5, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)


def test_batch_statistics_mode_matches_pytorch_train():
    model = bundled_tiny_resnet_in_pytorch()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.0
            m.train()
    x = np.random.default_rng(2).standard_normal((4, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    got = bnfold.Session(TINY, bn_mode="batch").run({"input": x})["output"]
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)


def test_fold_returns_the_report(tmp_path):
    r = bnfold.fold(TINY, str(tmp_path / "f.onnx"), verify=True)
    assert r["folded"] == 7 and r["total"] == 7 and r["verified"]
    assert all(b["action"] == "folded" and b["max_abs_error"] < 1e-4 for b in r["batchnorms"])
    folded = bnfold.Session(str(tmp_path / "f.onnx"))
    x = np.zeros((1, 3, 32, 32), np.float32)
    np.testing.assert_allclose(folded.run({"input": x})["output"], bnfold.Session(TINY).run({"input": x})["output"],
                               rtol=1e-4, atol=1e-6)


def test_errors_raise_with_the_library_message(tmp_path):
    with pytest.raises(bnfold.Error, match="no_such.onnx: no such file"):
        bnfold.Session(str(tmp_path / "no_such.onnx"))
    s = bnfold.Session(TINY)
    with pytest.raises(bnfold.Error, match="unknown input 'image'"):
        s.run({"image": np.zeros((1, 3, 32, 32), np.float32)})
    with pytest.raises(bnfold.Error, match="dim 1 must be 3"):
        s.run({"input": np.zeros((1, 4, 32, 32), np.float32)})


def test_non_contiguous_and_threads():
    s = bnfold.Session(TINY, threads=1)
    x = np.random.default_rng(3).standard_normal((2, 32, 32, 3)).astype(np.float32).transpose(0, 3, 1, 2)
    assert not x.flags["C_CONTIGUOUS"]
    want = s.run({"input": np.ascontiguousarray(x)})["output"]
    results = []
    threads = [threading.Thread(target=lambda: results.append(s.run({"input": x})["output"])) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(np.array_equal(r, want) for r in results)


def test_drift_recalibrate_audit_as_dicts(tmp_path):
    rng = np.random.default_rng(4)
    x = (0.5 * (1.5 * rng.standard_normal((16, 3, 32, 32)) + 0.3) + 1.0).astype(np.float32)
    np.save(tmp_path / "shifted.npy", x)
    d = bnfold.drift(TINY, [str(tmp_path / "shifted.npy")], batch=8)
    assert d["samples"] == 16 and d["max_score"] > 1 and len(d["layers"]) == 7
    r = bnfold.recalibrate(TINY, [str(tmp_path / "shifted.npy")], str(tmp_path / "r.onnx"), batch=8)
    assert r["mode"] == "sequential" and len(r["layers"]) == 7
    assert bnfold.drift(str(tmp_path / "r.onnx"), [str(tmp_path / "shifted.npy")])["max_score"] < 1e-6
    # prior=N mixes: the drift left on the data lies between none and the original's.
    p = bnfold.recalibrate(TINY, [str(tmp_path / "shifted.npy")], str(tmp_path / "p.onnx"), batch=8, prior=16.0)
    assert p["prior"] == 16.0
    left = bnfold.drift(str(tmp_path / "p.onnx"), [str(tmp_path / "shifted.npy")])["max_score"]
    assert 1e-6 < left < d["max_score"]
    a = bnfold.audit(TINY, [str(tmp_path / "shifted.npy")], batch_sizes=[1, 4])
    assert len(a["divergence"]) == 2 and a["verdict"]


def test_run_releases_the_gil():
    """While one thread is inside Session.run, another Python thread keeps running:
    its ticks have no gap as long as the run (a held GIL would stop it for the whole run)."""
    s = bnfold.Session(TINY, threads=1)
    x = np.random.default_rng(5).standard_normal((256, 3, 32, 32)).astype(np.float32)
    s.run({"input": x[:2]})  # plan and weights ready
    for _ in range(3):
        ticks, span, stop = [], [], threading.Event()

        def tick():
            while not stop.is_set():
                ticks.append(time.perf_counter())

        def run():
            t0 = time.perf_counter()
            s.run({"input": x})
            span.extend([t0, time.perf_counter()])

        other = threading.Thread(target=tick)
        other.start()
        time.sleep(0.01)
        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
        stop.set()
        other.join()
        start, end = span
        inside = [t for t in ticks if start <= t <= end]
        gaps = np.diff([start] + inside + [end])
        if end - start > 0.05 and gaps.max() < 0.5 * (end - start):
            return
    pytest.fail(f"the other thread stalled: longest gap {gaps.max():.3f} s of a {end - start:.3f} s run")


def test_bf16_sessions_against_pytorch_and_on_the_trained_factory_models(tmp_path):
    with pytest.raises(bnfold.Error, match="not one of fp32, bf16"):
        bnfold.Session(TINY, precision="fp16")
    if not bnfold.bfloat16_support():
        with pytest.raises(bnfold.Error, match="AVX512-BF16"):
            bnfold.Session(TINY, precision="bf16")
        return
    x = np.random.default_rng(3).standard_normal((6, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = bundled_tiny_resnet_in_pytorch()(torch.from_numpy(x)).numpy()
    got = bnfold.Session(TINY, threads=2, precision="bf16").run({"input": x})["output"]
    # bf16's 8 significant bits through six convolutions: within 3% of the output scale, yet not float32's result.
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=0.03 * scale)
    assert np.abs(got - want).max() > 1e-4 * scale
    # Trained models on their own data: bf16's accuracy within one point of fp32's (the precision tier's bar).
    subprocess.run(["/usr/bin/python3", os.path.join(MODELS, "factory.py"), "data", "--out", str(tmp_path)],
                   check=True, capture_output=True)
    for model in ("factory_cnn.onnx", "factory_dw.onnx"):
        for split in ("factory1_eval", "factory2_eval"):
            images = np.load(tmp_path / split / "x.npy")
            labels = np.load(tmp_path / split / "y.npy")
            acc = {}
            for precision in ("fp32", "bf16"):
                s = bnfold.Session(os.path.join(MODELS, model), threads=2, precision=precision)
                scores = np.concatenate([s.run({s.inputs[0]: images[i:i + 128]})[s.outputs[0]]
                                         for i in range(0, len(images), 128)])
                acc[precision] = np.mean(scores.argmax(1) == labels)
            assert abs(acc["bf16"] - acc["fp32"]) <= 0.01, (model, split, acc)


def test_int8_readiness_matches_numpy_on_the_folded_depthwise_model(tmp_path):
    """`inspect --quantization --json`'s weight SQNRs against numpy's own symmetric int8 on the folded weights."""
    import json

    import onnx
    from onnx import numpy_helper
    cli = os.environ["BNFOLD_CLI"]
    folded = str(tmp_path / "dw_folded.onnx")
    subprocess.run([cli, "fold", os.path.join(MODELS, "factory_dw.onnx"), "-o", folded], check=True,
                   capture_output=True)
    report = json.loads(subprocess.run([cli, "inspect", folded, "--quantization", "--json"], check=True,
                                       capture_output=True, text=True).stdout)["quantization"]
    assert report["bns_folded_first"] == 0  # already folded
    model = onnx.load(folded)
    weights = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    layers = {layer["node"]: layer for layer in report["layers"]}
    assert len(convs) >= 7 and all(n.name in layers for n in convs)

    def decile_db(w, scales):
        q = np.clip(np.round(w / scales), -127, 127) * scales
        db = 10 * np.log10((w ** 2).sum(axis=1) / ((w - q) ** 2).sum(axis=1))
        return np.sort(db)[(len(db) - 1) // 10]

    for n in convs:
        w = weights[n.input[1]].reshape(weights[n.input[1]].shape[0], -1)
        peak = np.abs(w).max(axis=1)
        got = layers[n.name]
        assert got["sqnr_per_tensor_db"] == pytest.approx(decile_db(w, np.abs(w).max() / 127), abs=0.01)
        assert got["sqnr_per_channel_db"] == pytest.approx(decile_db(w, peak[:, None] / 127), abs=0.01)
        assert got["range_ratio"] == pytest.approx(peak.max() / peak.min(), rel=1e-6)
        assert got["bn"], n.name  # every conv of this model had its BN folded into it


def test_quantize_and_readiness_from_python(tmp_path):
    """bnfold.quantize from an array of calibration data and without data; inspect(quantization=True)."""
    model = os.path.join(MODELS, "factory_dw.onnx")
    x = np.random.default_rng(4).standard_normal((64, 3, 32, 32)).astype(np.float32)
    out = str(tmp_path / "dw.int8.onnx")
    r = bnfold.quantize(model, out, data=x, check_samples=64)
    assert len(r["layers"]) == 8 and r["bns_folded"] == 7 and r["ranges_from"].startswith("calibration data")
    assert r["check"]["samples"] == 64 and r["check"]["output_relative_rms"] < 0.05
    y = bnfold.Session(out).run({"image": x[:4]})
    assert next(iter(y.values())).shape == (4, 10)
    r = bnfold.quantize(model, out, input_range=(-3, 3))
    assert r["ranges_from"] == "BN statistics" and "check" not in r
    with pytest.raises(bnfold.Error, match="--input-range"):
        bnfold.quantize(model, out)
    with pytest.raises(bnfold.Error, match="input_range is for quantizing without data"):
        bnfold.quantize(model, out, data=x, input_range=(-3, 3))
    with pytest.raises(bnfold.Error, match="lo < hi"):
        bnfold.quantize(model, out, input_range=(3, -3))
    # The int8 model judged against the float one (bnfold verify in precision mode), on labelled data.
    labels = bnfold.Session(model).run({"image": x})
    labels = next(iter(labels.values())).argmax(1)
    c = bnfold.check_precision(model, out, data=x, labels=labels, samples=48)
    assert c["precision"] == "int8" and c["samples"] == 48 and c["judged_by"] == "accuracy"
    assert c["accuracy"]["float32"] == 1.0 and c["ok"] == (c["accuracy"]["candidate"] >= 0.99)
    c = bnfold.check_precision(model, out, max_relative_error=1e-9)
    assert not c["ok"] and c["judged_by"] == "relative error" and c["samples"] == 256
    with pytest.raises(bnfold.Error, match="no reduced precision"):
        bnfold.check_precision(model)
    q = bnfold.inspect(model, quantization=True)["quantization"]
    assert q["bns_folded_first"] == 7 and len(q["layers"]) == 8
    assert {layer["verdict"] for layer in q["layers"]} <= {"per-tensor safe", "needs per-channel",
                                                           "needs equalization", "keep in fp32"}


def test_bias_correction_removes_the_mean_shift_of_rounded_weights(tmp_path):
    """x ~ N(0, 1) -> identity Gemm -> BN (running stats 0, 1: the data's) -> ReLU -> Gemm whose weights all lie
    0.4 of a step above the int8 grid, so rounding lowers every output's mean by 0.4 step x sum E[relu(BN)].
    bias_correction computes that shift from the BN (E[relu(N(beta, gamma^2))]) and takes it back."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    C, N = 6, 3
    gamma = np.linspace(0.5, 2.0, C).astype(np.float32)
    beta = np.linspace(-1.0, 1.0, C).astype(np.float32)
    step = 0.01
    w1 = ((np.arange(N * C).reshape(N, C) % 50 + 60) + 0.4).astype(np.float32) * step  # [N, C], transB
    w1[:, 0] = 127 * step  # each row's largest weight sets its int8 step to exactly `step`
    inits = [numpy_helper.from_array(np.eye(C, dtype=np.float32), "w0"),
             numpy_helper.from_array(gamma, "g"), numpy_helper.from_array(beta, "b"),
             numpy_helper.from_array(np.zeros(C, np.float32), "m"), numpy_helper.from_array(np.ones(C, np.float32), "v"),
             numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(np.zeros(N, np.float32), "c1")]
    nodes = [helper.make_node("Gemm", ["x", "w0"], ["h"], transB=1),
             helper.make_node("BatchNormalization", ["h", "g", "b", "m", "v"], ["y"], epsilon=0.0),
             helper.make_node("Relu", ["y"], ["r"]), helper.make_node("Gemm", ["r", "w1", "c1"], ["out"], transB=1)]
    graph = helper.make_graph(nodes, "bc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", C])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", N])], inits)
    path = str(tmp_path / "bc.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    x = np.random.default_rng(5).standard_normal((20000, C)).astype(np.float32)
    want = bnfold.Session(path).run({"x": x})["out"]
    shift = {}
    for corrected in (False, True):
        out = str(tmp_path / f"bc_{corrected}.onnx")
        r = bnfold.quantize(path, out, input_range=(-5, 5), bias_correction=corrected)
        got = bnfold.Session(out, reference=True).run({"x": x})["out"]
        shift[corrected] = (got - want).mean(axis=0)
        assert (r["layers"][1]["bias_correction_rms"] > 0) == corrected
    # E[relu(N(beta, gamma^2))] per channel, times the 0.4-step rounding, summed over the inputs
    z = beta / gamma
    from math import erf, exp, pi, sqrt
    mean = np.array([b * 0.5 * (1 + erf(zz / sqrt(2))) + g * exp(-zz * zz / 2) / sqrt(2 * pi)
                     for b, g, zz in zip(beta, gamma, z)])
    rows = np.round(w1 / step) * step - w1  # the rounding of each weight
    expected = rows @ mean
    # The correction moves each output's mean by exactly minus that (the bias is int32 at a far finer step);
    # what remains is the activations' own quantization (the range's clip at beta + 3|gamma|: about 0.003).
    np.testing.assert_allclose(shift[True] - shift[False], -expected, rtol=0.02)
    assert np.all(np.abs(shift[True]) < 0.25 * np.abs(shift[False]))
