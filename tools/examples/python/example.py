#!/usr/bin/python3
"""bnfold from Python: fold a model (with verification), run it, check drift.

    PYTHONPATH=build/python /usr/bin/python3 tools/examples/python/example.py models/tiny_resnet.onnx
"""
import atexit
import os
import shutil
import sys
import tempfile

import numpy as np

import bnfold

model = sys.argv[1] if len(sys.argv) > 1 else "models/tiny_resnet.onnx"
work = tempfile.mkdtemp(prefix="bnfold_example_")
atexit.register(shutil.rmtree, work)
folded = os.path.join(work, "folded.onnx")
report = bnfold.fold(model, folded, verify=True)
print(f"folded {report['folded']} of {report['total']} BatchNormalization; verified: {report['verified']}")
session = bnfold.Session(folded, threads=2, monitor_every=1)
# The shape the model declares; a symbolic dim (the batch, "N") taken as 4.
declared = bnfold.inspect(model)["inputs"][0]
shape = [d if isinstance(d, int) else 4 for d in declared["shape"]]
print(f"input {declared['name']}: {declared['dtype']} {declared['shape']}")
x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
scores = session.run({session.inputs[0]: x})[session.outputs[0]]
print("top class per sample:", scores.argmax(axis=1))
print(f"monitored {session.snapshot().samples} samples of {len(session.snapshot().batchnorms)} BN inputs")
try:
    session.run({"wrong_name": x})
except bnfold.Error as e:
    print("bnfold.Error:", e)
