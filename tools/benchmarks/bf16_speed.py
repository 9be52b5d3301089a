#!/usr/bin/python3
"""bnfold's bf16 against its fp32 (and ONNX Runtime's fp32) on the torchvision zoo, in one invocation.

Each folded model (models/make_models.py, then `bnfold fold`) runs at 224x224 as three
runtimes taking turns in rounds, as in vs_onnxruntime.py: ONNX Runtime (fp32, all
optimizations), bnfold fp32, bnfold bf16 (Session(precision="bf16")). Each cell's
median is over every timed run of its rounds. Also the bf16 outputs' relative RMS
difference from fp32 on the same random input (these untrained models amplify any
rounding: see docs/engine.md for trained models' accuracy).

Needs a CPU with AVX512-BF16 or AMX (bnfold refuses bf16 elsewhere).

    /usr/bin/python3 tools/benchmarks/bf16_speed.py --build build
    /usr/bin/python3 tools/benchmarks/bf16_speed.py --models resnet50 --batches 8 --seconds 4
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "ort"))
from ort import ORT_VERSION, Ort, ensure_ort  # noqa: E402
from vs_onnxruntime import cpu_flags, time_bnfold  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="the CMake build folder (bnfold, python/)")
    p.add_argument("--models", nargs="*", default=["resnet50", "mobilenet_v2", "resnet18", "efficientnet_b0"])
    p.add_argument("--batches", nargs="*", type=int, default=[1, 8])
    p.add_argument("--seconds", type=float, default=2.0, help="timed seconds per cell, at least (default 2)")
    p.add_argument("--rounds", type=int, default=4, help="turns per cell (default 4)")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    build = os.path.abspath(a.build)
    zoo = os.path.join(build, "zoo")
    sys.path.insert(0, os.path.join(build, "python"))
    import numpy as np
    import bnfold

    if not bnfold.bfloat16_support():
        sys.exit("bf16_speed: this CPU has no native bf16 (AVX512-BF16 or AMX); nothing to measure")
    node_modules = ensure_ort(build)
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "models", "make_models.py"), "--torchvision", *a.models,
                    "--skip-existing", "--out", zoo], check=True, stdout=subprocess.DEVNULL)
    model_name, flags = cpu_flags()
    head = (f"CPU: {model_name}; flags: {' '.join(flags)}; {a.threads} threads; ONNX Runtime {ORT_VERSION} "
            f"(fp32, all optimizations); median ms over >= {a.seconds:g} s per cell in {a.rounds} alternating rounds.")
    print(head, flush=True)
    lines = [head, "", "| model | batch | ORT fp32 | bnfold fp32 | bnfold bf16 | bf16 speedup over fp32 "
             "| bf16 / ORT | bf16 output rel. RMS vs fp32 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in a.models:
        exported = os.path.join(zoo, f"{name}.onnx")
        folded = os.path.join(zoo, f"{name}.folded.onnx")
        if not os.path.exists(folded) or os.path.getmtime(folded) < os.path.getmtime(exported):
            subprocess.run([os.path.join(build, "bnfold"), "fold", exported, "-o", folded], check=True,
                           stdout=subprocess.DEVNULL)
        ort = Ort(node_modules)
        ort_id = ort.ask(cmd="load", path=exported, level="all", threads=a.threads)
        fp32 = bnfold.Session(folded, threads=a.threads)
        bf16 = bnfold.Session(folded, threads=a.threads, precision="bf16")
        for batch in a.batches:
            x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
            feeds = {fp32.inputs[0]: x}
            y32, y16 = (list(s.run(feeds).values())[0] for s in (fp32, bf16))
            rel = float(np.sqrt(np.mean((y16 - y32) ** 2)) / np.sqrt(np.mean(y32 ** 2)))
            times = {"ort": [], "fp32": [], "bf16": []}
            chunk = a.seconds / a.rounds
            for r in range(a.rounds):
                warm = 3 if r == 0 else 1
                time.sleep(0.05)
                times["ort"] += ort.ask(cmd="time", id=ort_id["id"], batch=batch, sample_dims=[3, 224, 224],
                                        seconds=chunk, warmup=warm, min_runs=1)["ms"]
                for key, s in (("fp32", fp32), ("bf16", bf16)):
                    time.sleep(0.05)
                    times[key] += time_bnfold(s, x, chunk, warm)
            med = {k: statistics.median(v) for k, v in times.items()}
            row = (f"| {name} | {batch} | {med['ort']:.3g} | {med['fp32']:.3g} | {med['bf16']:.3g} | "
                   f"{med['fp32'] / med['bf16']:.2f}x | {med['bf16'] / med['ort']:.2f} | {rel:.3f} |")
            lines.append(row)
            print(row, flush=True)
        ort.close()
    out = os.path.join(build, "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "bf16_speed.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
