#!/usr/bin/python3
"""The shift study runs at inference speed: the default study (10 families x 5
severities, 8 recalibrated copies per cell) on a model against plain inference
of the same number of samples (the study's `forward_samples`: its clean pass,
one pass per cell through the model and each copy, the recalibration passes)
through a Session at the study's batch size and threads, in one process,
alternating, medians. The difference is what the study adds: corrupting each
sample once per cell, the statistics, drift verdicts, building the copies.

    /usr/bin/python3 tools/benchmarks/shift_study_speed.py --build build [--model M.onnx ...] [--repeats 3]

Defaults to both factory models on factory 1's 512 held-out samples
(models/factory.py data, written under BUILD/shift_study_speed/). Prints the
CPU flags measured on.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cpu_flags():
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            return " ".join(f for f in line.split(":")[1].split() if f.startswith(("avx", "fma", "amx")))
    return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model", action="append")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.build, "python"))
    sys.path.insert(0, os.path.join(ROOT, "models"))
    import bnfold
    import factory

    data = os.path.join(a.build, "shift_study_speed")
    if not os.path.exists(os.path.join(data, "factory1", "x.npy")):
        factory.write_data(data)
    x = np.load(os.path.join(data, "factory1", "x.npy"))
    labels = os.path.join(data, "factory1", "y.npy")
    models = a.model or [os.path.join(ROOT, "models", m) for m in ("factory_cnn.onnx", "factory_dw.onnx")]
    print(f"CPU flags: {cpu_flags()}; {os.cpu_count()} cores, {a.threads} threads, batch {a.batch}")
    print(f"{'model':<20} {'forward samples':>15} {'study s':>9} {'inference s':>11} {'ratio':>6}")
    for model in models:
        session = bnfold.Session(model, threads=a.threads)
        name = session.inputs[0]

        def study():
            r = bnfold.shift_study(model, os.path.join(data, "factory1", "x.npy"), labels=labels, batch=a.batch,
                                   threads=a.threads)
            return r["seconds"], r["forward_samples"]

        def inference(count):
            t = time.perf_counter()
            done = 0
            while done < count:
                for s in range(0, len(x), a.batch):
                    session.run({name: x[s:s + a.batch]})
                done += len(x)
            return time.perf_counter() - t

        _, count = study()  # warm-up, and the count
        inference(len(x))
        studies, plain = [], []
        for _ in range(a.repeats):
            studies.append(study()[0])
            plain.append(inference(count))
        s, p = statistics.median(studies), statistics.median(plain)
        print(f"{os.path.basename(model):<20} {count:>15} {s:>9.2f} {p:>11.2f} {s / p:>6.2f}")


if __name__ == "__main__":
    main()
