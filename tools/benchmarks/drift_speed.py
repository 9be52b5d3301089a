#!/usr/bin/python3
"""Collecting BN statistics costs about what inference costs: `drift` over N
samples against running the same samples through a plain Session, same batch
size and threads, in one process, alternating, medians.

    /usr/bin/python3 tools/benchmarks/drift_speed.py --build build [--model M.onnx] [--samples 1000] [--batch 32]

Defaults to torchvision's resnet18 at 224x224 (random weights, exported by
models/make_models.py into BUILD/models/ when missing). Data: .npy files of
random N(0,1) images under BUILD/drift_speed/. Both timings include reading
the .npy files; drift also loads the model and folds constants (as the CLI).
Prints the CPU flags measured on.
"""
import argparse
import glob
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cpu_flags():
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            flags = line.split(":")[1].split()
            return " ".join(f for f in flags if f.startswith(("avx", "fma", "amx")))
    return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.build, "python"))
    import bnfold

    model = a.model or os.path.join(a.build, "models", "resnet18.onnx")
    if not os.path.exists(model):
        subprocess.run([sys.executable, os.path.join(ROOT, "models", "make_models.py"), "--torchvision", "resnet18",
                        "--out", os.path.dirname(model)], check=True)
    session = bnfold.Session(model, threads=a.threads)
    name = session.inputs[0]
    folder = os.path.join(a.build, "drift_speed", os.path.splitext(os.path.basename(model))[0])
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    shape = None
    for start in range(0, a.samples, a.batch):
        path = os.path.join(folder, f"b{start:07d}.npy")
        if not os.path.exists(path):
            if shape is None:
                shape = (3, 224, 224)
            np.save(path, rng.standard_normal((min(a.batch, a.samples - start), *shape)).astype(np.float32))
    files = sorted(glob.glob(os.path.join(folder, "*.npy")))[: (a.samples + a.batch - 1) // a.batch]

    def run_all():
        t = time.perf_counter()
        for f in files:
            session.run({name: np.load(f)})
        return time.perf_counter() - t

    def drift():
        t = time.perf_counter()
        bnfold.drift(model, files, batch=a.batch, threads=a.threads)
        return time.perf_counter() - t

    run_all()  # warm-up: plans built, files cached
    runs, drifts = [], []
    for _ in range(a.repeats):
        runs.append(run_all())
        drifts.append(drift())
    r, d = statistics.median(runs), statistics.median(drifts)
    print(f"CPU flags: {cpu_flags()}")
    print(f"{os.path.basename(model)}, {a.samples} samples, batch {a.batch}, {a.threads} threads, median of {a.repeats}")
    print(f"  run   {r:7.2f} s   ({', '.join(f'{x:.2f}' for x in runs)})")
    print(f"  drift {d:7.2f} s   ({', '.join(f'{x:.2f}' for x in drifts)})")
    print(f"  drift / run: {d / r:.2f}")


if __name__ == "__main__":
    main()
