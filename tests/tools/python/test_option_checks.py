"""The library's option checks reach Python as bnfold.Error: a batch size below 1, a NaN
threshold or tolerance, an absurd thread count or no profiling iteration once hung, crashed
or gave a verdict; the same values the CLI refuses while parsing.

Run by CTest with PYTHONPATH=<build>/python and BNFOLD_MODELS=<source>/models.
"""
import math
import os

import numpy as np
import pytest

import bnfold

TINY = os.path.join(os.environ["BNFOLD_MODELS"], "tiny_resnet.onnx")
X = np.random.default_rng(9).standard_normal((6, 3, 32, 32)).astype(np.float32)
NAN = math.nan

CASES = [
    ("verify batch 0", lambda tmp: bnfold.verify(TINY, TINY, batch=0), "batch 0 is outside"),
    ("verify batch -2", lambda tmp: bnfold.verify(TINY, TINY, batch=-2), "batch -2 is outside"),
    ("fold batch 0", lambda tmp: bnfold.fold(TINY, str(tmp / "f.onnx"), batch=0), "batch 0 is outside"),
    ("collect_stats batch 0", lambda tmp: bnfold.collect_stats(TINY, X, batch=0), "batch 0 is outside"),
    ("drift batch 0", lambda tmp: bnfold.drift(TINY, X, batch=0), "batch 0 is outside"),
    ("recalibrate batch 0", lambda tmp: bnfold.recalibrate(TINY, X, str(tmp / "r.onnx"), batch=0),
     "batch 0 is outside"),
    ("audit batch size 0", lambda tmp: bnfold.audit(TINY, X, batch_sizes=[0, 2]), "batch size 0 is outside"),
    ("drift threshold nan", lambda tmp: bnfold.drift(TINY, X, threshold=NAN), "threshold nan"),
    ("drift threshold 0", lambda tmp: bnfold.drift(TINY, X, threshold=0.0), "above 0"),
    ("drift min_effect nan", lambda tmp: bnfold.drift(TINY, X, min_effect=NAN), "min_effect nan"),
    ("drift min_samples -1", lambda tmp: bnfold.drift(TINY, X, min_samples=-1), "min_samples -1"),
    ("audit tolerance nan", lambda tmp: bnfold.audit(TINY, X, tolerance=NAN), "tolerance nan"),
    ("audit ablation -1", lambda tmp: bnfold.audit(TINY, X, ablation_samples=-1), "ablation_samples -1"),
    ("audit precision fp16", lambda tmp: bnfold.audit(TINY, X, precisions=["fp16"]), "not one the audit compares"),
    ("check_precision samples 0", lambda tmp: bnfold.check_precision(TINY, precision="bf16", samples=0),
     "must be positive"),
    ("check_precision accuracy drop nan", lambda tmp: bnfold.check_precision(TINY, precision="bf16",
                                                                             max_accuracy_drop=NAN), "between 0 and 1"),
    ("check_precision relative error nan", lambda tmp: bnfold.check_precision(TINY, precision="bf16",
                                                                              max_relative_error=NAN), "is NaN"),
    ("recalibrate max_eval_drop nan",
     lambda tmp: bnfold.recalibrate(TINY, X, str(tmp / "r.onnx"), max_eval_drop=NAN), "max_eval_drop nan"),
    ("recalibrate prior nan", lambda tmp: bnfold.recalibrate(TINY, X, str(tmp / "r.onnx"), prior=NAN),
     "pseudo-count is nan"),
    ("recalibrate prior -1", lambda tmp: bnfold.recalibrate(TINY, X, str(tmp / "r.onnx"), prior=-1.0),
     "pseudo-count is -1"),
    ("shift_study batch 0", lambda tmp: bnfold.shift_study(TINY, X, batch=0), "batch 0 is outside"),
    ("shift_study prior nan", lambda tmp: bnfold.shift_study(TINY, X, prior=NAN), "pseudo-count is nan"),
    ("shift_study severity 0", lambda tmp: bnfold.shift_study(TINY, X, severities=[0]), "severity 0 is not one of 1-5"),
    ("shift_study family", lambda tmp: bnfold.shift_study(TINY, X, families=["rain"]), "no corruption family 'rain'"),
    ("shift_study k 0", lambda tmp: bnfold.shift_study(TINY, X, recalibrate_on=[0]), "k must be at least 1"),
    ("shift_study max_drop 1", lambda tmp: bnfold.shift_study(TINY, X, max_drop=1.0), "a share in \\(0, 1\\)"),
    ("shift_study max_drop nan", lambda tmp: bnfold.shift_study(TINY, X, max_drop=NAN), "a share in"),
    ("shift_study pixel_range", lambda tmp: bnfold.shift_study(TINY, X, pixel_range=[1.0, 0.0]), "HI > LO"),
    ("shift_study pixel_range nan", lambda tmp: bnfold.shift_study(TINY, X, pixel_range=[0.0, NAN]), "HI > LO"),
    ("shift_study threshold nan", lambda tmp: bnfold.shift_study(TINY, X, threshold=NAN), "threshold nan"),
    ("shift_study threads 100000", lambda tmp: bnfold.shift_study(TINY, X, threads=100000), "threads 100000"),
    ("corrupt severity 9", lambda tmp: bnfold.corrupt(X, "haze", 9), "severity 9"),
    ("corrupt a vector", lambda tmp: bnfold.corrupt(X[0, 0, 0], "haze", 1), "\\[N, C, H, W\\]"),
    ("Session threads -1", lambda tmp: bnfold.Session(TINY, threads=-1), "threads -1 is outside"),
    ("Session threads 100000", lambda tmp: bnfold.Session(TINY, threads=100000), "threads 100000 is outside"),
    ("collect_stats threads 100000", lambda tmp: bnfold.collect_stats(TINY, X, threads=100000),
     "threads 100000 is outside"),
    ("profile 0 iterations",
     lambda tmp: bnfold.Session(TINY).profile({"input": X[:1]}, iterations=0), "at least 1 iteration"),
    ("profile -3 iterations",
     lambda tmp: bnfold.Session(TINY).profile({"input": X[:1]}, iterations=-3), "at least 1 iteration"),
]


@pytest.mark.parametrize("call,says", [(c, s) for _, c, s in CASES], ids=[n for n, _, _ in CASES])
def test_bad_options_raise_the_library_error(tmp_path, call, says):
    with pytest.raises(bnfold.Error, match=says):
        call(tmp_path)
    assert not os.path.exists(tmp_path / "r.onnx") and not os.path.exists(tmp_path / "f.onnx")


def test_a_nan_pixel_is_refused_by_its_sample_and_nothing_is_written(tmp_path):
    x = X.copy()
    x[4, 1, 2, 3] = np.nan
    with pytest.raises(bnfold.Error, match="sample 4 of the array data"):
        bnfold.collect_stats(TINY, x)
    stats = tmp_path / "s.json"
    with pytest.raises(bnfold.Error, match="sample 4 of"):
        bnfold.drift(TINY, x, save_stats=str(stats))
    out = tmp_path / "r.onnx"
    for mode in ("sequential", "update-bn"):
        with pytest.raises(bnfold.Error, match="sample 4 of"):
            bnfold.recalibrate(TINY, x, str(out), mode=mode)
    assert not stats.exists() and not out.exists()
    # The same from files, as the CLI reads them.
    npy = tmp_path / "x.npy"
    np.save(npy, x)
    with pytest.raises(bnfold.Error, match="sample 4 of"):
        bnfold.recalibrate(TINY, str(npy), str(out))
    assert not out.exists()


def test_no_output_replaces_an_input(tmp_path):
    import shutil
    model = tmp_path / "m.onnx"
    shutil.copy(TINY, model)
    before = model.read_bytes()
    npy = tmp_path / "x.npy"
    np.save(npy, X)
    with pytest.raises(bnfold.Error, match="out .* would overwrite the model"):
        bnfold.fold(str(model), str(model))
    with pytest.raises(bnfold.Error, match="out .* would overwrite the model"):
        bnfold.recalibrate(str(model), X, str(tmp_path / "." / "m.onnx"))
    with pytest.raises(bnfold.Error, match="out .* would overwrite the data"):
        bnfold.recalibrate(str(model), str(npy), str(npy))
    with pytest.raises(bnfold.Error, match="save_stats .* would overwrite the model"):
        bnfold.drift(str(model), X, save_stats=str(model))
    with pytest.raises(bnfold.Error, match="save_stats .* would overwrite the data"):
        bnfold.drift(str(model), [str(npy)], save_stats=str(npy))
    assert model.read_bytes() == before and np.array_equal(np.load(npy), X)


def residual_model(path):
    """x -> Conv -> Add(x) -> Relu: a residual Add whose other operand is the graph input itself."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.random.default_rng(2).standard_normal((3, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "x"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)


def test_read_only_and_memory_mapped_inputs_are_read_in_place_and_never_written(tmp_path):
    model = str(tmp_path / "residual.onnx")
    residual_model(model)
    x = np.random.default_rng(8).standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    frozen = x.copy()
    frozen.setflags(write=False)
    for s in (bnfold.Session(model), bnfold.Session(model, reference=True)):
        want = s.run({"x": x.copy()})["y"]
        for arr in (mapped, frozen, frozen[:, :, ::1, :]):
            assert np.array_equal(s.run({"x": arr})["y"], want)
    assert np.array_equal(np.asarray(mapped), x) and np.array_equal(frozen, x)
    s = bnfold.Session(TINY)
    ro = X[:2].copy()
    ro.setflags(write=False)
    assert s.profile({"input": ro}, iterations=1)


def test_wrong_types_say_so_without_pybind11s_words():
    with pytest.raises(TypeError) as e:
        bnfold.collect_stats(TINY, ["x.npy", 3])
    assert "Unable to cast" not in str(e.value) and "C++" not in str(e.value) and "wrong type" in str(e.value)
    with pytest.raises(bnfold.Error, match="data items must be numpy arrays of numbers"):
        bnfold.collect_stats(TINY, [np.array(["a", "b"])])


def test_a_message_with_bytes_that_are_not_utf8_still_reads(tmp_path):
    with open(os.fsencode(str(tmp_path)) + b"/caf\xe9.npy", "wb") as f:
        f.write(b"not numpy")
    with pytest.raises(bnfold.Error) as e:
        bnfold.collect_stats(TINY, str(tmp_path))
    assert "caf\ufffd.npy" in str(e.value)
