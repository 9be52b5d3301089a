#!/usr/bin/python3
"""bnfold from Python: fold a model (with verification), run it, check drift.

    PYTHONPATH=build/python /usr/bin/python3 tools/examples/python/example.py models/tiny_resnet.onnx
"""
import sys

import numpy as np

import bnfold

model = sys.argv[1] if len(sys.argv) > 1 else "models/tiny_resnet.onnx"
report = bnfold.fold(model, "/tmp/bnfold_example_folded.onnx", verify=True)
print(f"folded {report['folded']} of {report['total']} BatchNormalization; verified: {report['verified']}")
session = bnfold.Session("/tmp/bnfold_example_folded.onnx", threads=2)
x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
scores = session.run({session.inputs[0]: x})[session.outputs[0]]
print("top class per sample:", scores.argmax(axis=1))
try:
    session.run({"wrong_name": x})
except bnfold.Error as e:
    print("bnfold.Error:", e)
