"""The module's public names, signatures and docstrings against its .pyi stub,
and bnfold.verify end to end."""
import ast
import inspect
import os
import re

import numpy as np
import pytest

import bnfold

MODELS = os.environ.get("BNFOLD_MODELS", "models")
STUB = os.path.join(os.path.dirname(bnfold.__file__), "bnfold.pyi")


def stub_names():
    tree = ast.parse(open(STUB).read())
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign):
            names[node.target.id] = node
    return names


def test_stub_lists_every_public_name_and_nothing_else():
    public = {n for n in dir(bnfold) if not n.startswith("_")} | {"__version__"}
    assert set(stub_names()) == public


def test_stub_parameters_match_the_module():
    stub = stub_names()
    for name in ["inspect", "fold", "verify", "collect_stats", "drift", "recalibrate", "audit"]:
        # pybind11 puts the signature as the docstring's first line: "name(a, b=1, ...) -> dict".
        first = getattr(bnfold, name).__doc__.splitlines()[0]
        # pybind11's own first line names each parameter as "name: type = default".
        module_params = re.findall(r"(\w+): ", re.search(r"\((.*)\)", first).group(1))
        stub_params = [a.arg for a in stub[name].args.args]
        assert module_params == stub_params, name


def test_every_function_has_a_docstring_that_teaches():
    for name in ["fold", "verify", "collect_stats", "drift", "recalibrate", "audit"]:
        doc = getattr(bnfold, name).__doc__
        assert len(doc.splitlines()) >= 4, name
        assert "Returns" in doc or "returns" in doc, name
    assert "bnfold.Session" in bnfold.__doc__
    assert "GIL" in bnfold.Session.run.__doc__


def test_verify_from_python(tmp_path):
    model = os.path.join(MODELS, "tiny_resnet.onnx")
    folded = str(tmp_path / "folded.onnx")
    bnfold.fold(model, folded, verify=False)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    r = bnfold.verify(model, folded, inputs={"input": x})
    assert r["ok"] and r["inputs"] == "given" and "float64" in r["reference"]
    assert r["outputs"][0]["float32_noise"] >= 0 and len(r["values"]) == 7
    r = bnfold.verify(model, folded, noise_factor=0, rtol=0, atol=0)
    assert not r["ok"]
    with pytest.raises(bnfold.Error, match="no such file"):
        bnfold.verify(model, str(tmp_path / "missing.onnx"))
