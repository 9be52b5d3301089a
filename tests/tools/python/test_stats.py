"""Statistics from Python: collect_stats from paths, arrays and iterables,
Stats merge/save/load/pickle, Session.snapshot, drift(stats=...), and a drift
over shards on a Dask LocalCluster (python3-distributed) equal to one pass."""
import functools
import math
import os
import pickle
import sys

import numpy as np
import pytest

import bnfold

MODELS = os.environ.get("BNFOLD_MODELS", "models")
TINY = os.path.join(MODELS, "tiny_resnet.onnx")
EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools", "examples", "python")


def data(n, seed, shift=0.0):
    x = np.random.default_rng(seed).standard_normal((n, 3, 32, 32)) * 1.5 + 0.3
    return (x * (0.5 if shift else 1.0) + shift).astype(np.float32)


def assert_same(a, b, rel):
    """The same BNs and counts; means within rel of (|mean| + sd), variances within rel."""
    assert a.batchnorms == b.batchnorms and a.samples == b.samples
    for bn in a.batchnorms:
        x, y = a.moments(bn), b.moments(bn)
        assert x["count"] == y["count"]
        scale = np.abs(y["mean"]) + np.sqrt(y["var"])
        assert np.all(np.abs(x["mean"] - y["mean"]) <= rel * scale), bn
        np.testing.assert_allclose(x["var"], y["var"], rtol=rel)


def test_collect_stats_from_paths_arrays_and_iterables_agree(tmp_path):
    x = data(24, 1)
    np.save(tmp_path / "x.npy", x)
    from_file = bnfold.collect_stats(TINY, [str(tmp_path / "x.npy")], batch=8, threads=1)
    from_array = bnfold.collect_stats(TINY, x, batch=8, threads=1)
    from_batches = bnfold.collect_stats(TINY, (x[i:i + 8] for i in range(0, 24, 8)), threads=1)
    from_float64 = bnfold.collect_stats(TINY, x.astype(np.float64), batch=8, threads=1)
    assert from_file.samples == from_array.samples == from_batches.samples == 24
    assert_same(from_array, from_file, 0.0)  # the same batches in the same order: the same bits
    assert_same(from_batches, from_file, 0.0)
    assert_same(from_float64, from_file, 0.0)
    one = bnfold.collect_stats(TINY, (s for s in x[:3]), threads=1)  # single samples [3, 32, 32]
    assert one.samples == 3
    with pytest.raises(bnfold.Error, match="no samples"):
        bnfold.collect_stats(TINY, iter([]), threads=1)
    with pytest.raises(bnfold.Error, match="neither a sample of \\[3,32,32\\] nor a batch"):
        bnfold.collect_stats(TINY, np.zeros((2, 3, 8, 8), np.float32), threads=1)


def test_stats_and_drift_say_where_they_came_from(tmp_path):
    np.save(tmp_path / "x.npy", data(16, 4))
    from_file = bnfold.collect_stats(TINY, [str(tmp_path / "x.npy")], threads=1)
    from_array = bnfold.collect_stats(TINY, data(16, 5), threads=1)
    p = from_file.provenance
    assert p["sources"] == [str(tmp_path / "x.npy")] and len(p["model_sha256"]) == 64
    assert p["collected_from"] <= p["collected_until"] and p["collected_until"].endswith("Z")
    assert from_array.provenance["sources"] == ["a numpy array passed to the Python module"]
    from_file.save(str(tmp_path / "s.json"))
    assert bnfold.Stats.load(str(tmp_path / "s.json")).provenance == p
    both = from_file.copy().merge(from_array)
    assert len(both.provenance["sources"]) == 2
    report = bnfold.drift(TINY, data(16, 6), baseline=from_file, threads=1, min_samples=1)
    assert report["model_sha256"] == p["model_sha256"] and report["time"].endswith("Z")
    assert report["baseline"]["sources"] == p["sources"]
    assert report["data"]["sources"] == ["a numpy array passed to the Python module"]


def test_stats_merge_save_load_pickle(tmp_path):
    x = data(20, 2)
    whole = bnfold.collect_stats(TINY, x, batch=20, threads=1)
    parts = [bnfold.collect_stats(TINY, x[i:i + 5], threads=1) for i in range(0, 20, 5)]
    merged = functools.reduce(lambda a, b: a.merge(b), [p.copy() for p in parts])
    assert_same(merged, whole, 1e-12)
    merged.save(str(tmp_path / "m.json"))
    loaded = bnfold.Stats.load(str(tmp_path / "m.json"))
    assert_same(loaded, merged, 0.0)
    assert loaded.bn_signature == whole.bn_signature and len(loaded.bn_signature) == 16
    assert_same(pickle.loads(pickle.dumps(merged)), merged, 0.0)
    assert "20 samples" in repr(merged)
    text = (tmp_path / "m.json").read_text()
    (tmp_path / "edited.json").write_text(text.replace('"samples":20', '"samples":21'))
    with pytest.raises(bnfold.Error, match="checksum"):
        bnfold.Stats.load(str(tmp_path / "edited.json"))
    with pytest.raises(bnfold.Error, match="no statistics for BN"):
        merged.moments("nope")


def test_drift_from_stats_and_arrays_and_a_monitoring_snapshot(tmp_path):
    base = bnfold.collect_stats(TINY, data(64, 3), threads=1)
    shifted = data(64, 4, shift=1.0)
    from_array = bnfold.drift(TINY, shifted, baseline=base, threads=1)
    from_stats = bnfold.drift(TINY, stats=bnfold.collect_stats(TINY, shifted, threads=1), baseline=base)
    assert from_array["verdict"] == from_stats["verdict"] == "drifted"
    for a, b in zip(from_array["layers"], from_stats["layers"]):
        assert a["bn"] == b["bn"] and math.isclose(a["distance"], b["distance"], rel_tol=1e-12)
    s = bnfold.Session(TINY, threads=1, monitor_every=1)
    with pytest.raises(bnfold.Error, match="no run was monitored"):
        s.snapshot()
    for i in range(0, 64, 32):
        s.run({"input": shifted[i:i + 32]})
    served = s.snapshot()
    assert served.samples == 64
    assert_same(served, bnfold.collect_stats(TINY, shifted, batch=32, threads=1), 1e-12)
    assert bnfold.drift(TINY, stats=served, baseline=base)["verdict"] == "drifted"


def test_a_folded_model_is_monitored_like_the_original(tmp_path):
    folded = str(tmp_path / "folded.onnx")
    bnfold.fold(TINY, folded, verify=False)
    x = data(16, 5)
    a = bnfold.collect_stats(TINY, x, threads=1)
    b = bnfold.collect_stats(folded, x, threads=1)
    assert a.bn_signature == b.bn_signature
    assert_same(b, a, 1e-6)


def test_drift_over_shards_on_a_dask_local_cluster_equals_one_pass(tmp_path):
    distributed = pytest.importorskip(
        "distributed", reason="python3-distributed (Debian's Dask) is not installed: apt-get install python3-distributed")
    sys.path.insert(0, EXAMPLES)
    import drift_on_dask

    shards = []
    for k in range(5):
        np.save(tmp_path / f"shard{k}.npy", data(12, 10 + k, shift=1.0))
        shards.append(str(tmp_path / f"shard{k}.npy"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            on_dask = drift_on_dask.collect_on_dask(client, TINY, shards)
            # Arrays travel to the workers as well as paths.
            from_arrays = drift_on_dask.collect_on_dask(client, TINY, [np.load(s) for s in shards[:2]])
    one_pass = bnfold.collect_stats(TINY, shards, batch=12, threads=1)
    assert on_dask.samples == one_pass.samples == 60
    assert_same(on_dask, one_pass, 1e-12)
    assert from_arrays.samples == 24
    base = bnfold.collect_stats(TINY, data(60, 99), threads=1)
    a = bnfold.drift(TINY, stats=on_dask, baseline=base)
    b = bnfold.drift(TINY, stats=one_pass, baseline=base)
    assert a["verdict"] == b["verdict"] == "drifted"


def test_audit_and_recalibrate_take_arrays_as_they_take_files(tmp_path):
    x = data(40, 6, shift=1.0)
    y = np.random.default_rng(6).integers(0, 10, 40)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    a = bnfold.audit(TINY, x, batch_sizes=[1, 4], threads=1, labels=y, ablation_samples=8)
    b = bnfold.audit(TINY, [str(tmp_path / "x.npy")], batch_sizes=[1, 4], threads=1,
                     labels=str(tmp_path / "y.npy"), ablation_samples=8)
    assert a["verdict"] == b["verdict"] and a["culprits"] == b["culprits"]
    assert [r["accuracy_inference"] for r in a["batches"]] == [r["accuracy_inference"] for r in b["batches"]]
    ra = bnfold.recalibrate(TINY, x, str(tmp_path / "a.onnx"), threads=1, eval_data=data(16, 7), labels=y)
    rb = bnfold.recalibrate(TINY, [str(tmp_path / "x.npy")], str(tmp_path / "b.onnx"), threads=1,
                            eval_data=data(16, 7), labels=str(tmp_path / "y.npy"))
    assert ra["drift_after"]["verdict"] == rb["drift_after"]["verdict"]
    assert ra["calibration_accuracy_after"] == rb["calibration_accuracy_after"]
    # From merged statistics, no pass over data.
    st = bnfold.collect_stats(TINY, x, threads=1)
    rs = bnfold.recalibrate(TINY, None, str(tmp_path / "s.onnx"), stats=st, mode="update-bn")
    assert rs["mode"] == "statistics"
    with pytest.raises(bnfold.Error, match="labels for"):
        bnfold.audit(TINY, x, labels=y[:5], threads=1)


def test_selection_and_image_options_match_the_cli(tmp_path):
    import json
    import subprocess
    cli = os.environ.get("BNFOLD_CLI")
    if not cli:
        pytest.skip("BNFOLD_CLI is not set")
    x = data(30, 8)
    np.save(tmp_path / "x.npy", x)
    picked = bnfold.collect_stats(TINY, x, threads=1, limit=7, sample_every=3)
    assert picked.samples == 7
    assert_same(picked, bnfold.collect_stats(TINY, x[::3][:7], threads=1), 0.0)
    # batches of 4 here against 7 above: float32 activations may differ in their last bits between batch
    # sizes (oneDNN picks its Winograd variant per batch size)
    assert_same(picked, bnfold.collect_stats(TINY, (x[i:i + 4] for i in range(0, 30, 4)), threads=1, limit=7,
                                             sample_every=3), 1e-6)
    # Images, resized and normalized as the CLI does it.
    from PIL import Image  # python3-pil comes with Debian's torchvision
    os.makedirs(tmp_path / "img")
    rng = np.random.default_rng(9)
    for k in range(6):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "img" / f"{k}.png")
    opts = dict(resize=36, center_crop=[32], mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225],
                channel_order="bgr")
    from_python = bnfold.collect_stats(TINY, str(tmp_path / "img"), threads=1, **opts)
    subprocess.run([cli, "drift", TINY, "-d", str(tmp_path / "img"), "--resize", "36", "--center-crop", "32",
                    "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225", "--channel-order", "bgr",
                    "--save-stats", str(tmp_path / "cli.json"), "-t", "1"], check=True, capture_output=True)
    assert_same(from_python, bnfold.Stats.load(str(tmp_path / "cli.json")), 0.0)
    with pytest.raises(bnfold.Error, match="channel_order"):
        bnfold.collect_stats(TINY, x, channel_order="rbg")


def test_inspect_and_profile_from_python():
    info = bnfold.inspect(TINY)
    assert info["inputs"][0]["name"] == "input" and info["inputs"][0]["shape"] == ["N", 3, 32, 32]
    assert len(info["batchnorms"]) == 7
    s = bnfold.Session(TINY, threads=1)
    steps = s.profile({"input": data(2, 1)}, iterations=2)
    assert steps and all(st["ms"] >= 0 for st in steps)
    assert any("oneDNN" in st["step"] for st in steps)
