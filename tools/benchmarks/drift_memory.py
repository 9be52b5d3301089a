#!/usr/bin/python3
"""Peak memory (RSS) of `bnfold drift` against the size of the data set: data
is streamed from the files, so 10x the samples must not cost 10x the memory.

    /usr/bin/python3 tools/benchmarks/drift_memory.py --build build [--small 2000 --large 20000]

Writes .npy files of 1,000 samples (3x32x32 float32, 12 KB each) for
models/tiny_resnet.onnx under BUILD/drift_memory/, runs drift over the first
`small` and over all `large` samples, and prints each run's peak RSS (from
/proc via os.wait4) and wall time, and their ratio.
"""
import argparse
import os
import subprocess
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write(folder, n, per_file=1000):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(0, n, per_file):
        path = os.path.join(folder, f"part{i // per_file:05d}.npy")
        if not os.path.exists(path):
            x = (1.5 * rng.standard_normal((min(per_file, n - i), 3, 32, 32)) + 0.3).astype(np.float32)
            np.save(path, x)


def peak_rss(cmd):
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, cmd
    return usage.ru_maxrss / 1024.0, time.perf_counter() - start  # ru_maxrss is in KB on Linux


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--large", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    folder = os.path.join(a.build, "drift_memory")
    write(folder, a.large)
    bnfold = os.path.join(a.build, "bnfold")
    model = os.path.join(ROOT, "models", "tiny_resnet.onnx")
    rows = []
    for n in (a.small, a.large):
        rss, secs = peak_rss([bnfold, "drift", model, "--data", folder, "--limit", str(n), "-t", str(a.threads),
                              "--json"])
        rows.append((n, rss, secs))
        print(f"drift over {n:>6} samples ({n * 12288 / 2**20:7.1f} MB of data): peak RSS {rss:7.1f} MB, {secs:5.1f} s")
    print(f"RSS ratio large/small: {rows[1][1] / rows[0][1]:.3f}")


if __name__ == "__main__":
    main()
