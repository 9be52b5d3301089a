#!/usr/bin/python3
"""bnfold's int8 (QDQ models from `bnfold quantize`) against its fp32 and against ONNX Runtime's int8 run of
the same QDQ file, on the torchvision zoo at 224x224, in one invocation.

Per model: `bnfold quantize` with 16 random N(0,1) samples as calibration data (the speed does not depend on the
ranges), then four runtimes take turns in rounds as in vs_onnxruntime.py: ORT fp32 (the exported model), ORT
int8 (the QDQ model, all optimizations: its int8 kernels), bnfold fp32 (folded), bnfold int8 (the QDQ model:
oneDNN int8 convolutions where the CPU has VNNI or AMX). Medians over every timed run of a cell's rounds.

    /usr/bin/python3 tools/benchmarks/int8_speed.py --build build
    /usr/bin/python3 tools/benchmarks/int8_speed.py --models resnet50 --batches 8 --seconds 4
    /usr/bin/python3 tools/benchmarks/int8_speed.py --models build/corpus/vit_b_32.onnx   (int8 MatMul)
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
    p.add_argument("--models", nargs="*", default=["resnet50", "mobilenet_v2", "resnet18"],
                   help="zoo names, or paths of .onnx files with one 3x224x224 image input (e.g. the corpus's "
                        "vit_b_32: models/corpus.py generate --only vit_b_32)")
    p.add_argument("--batches", nargs="*", type=int, default=[1, 8])
    p.add_argument("--seconds", type=float, default=2.0, help="timed seconds per cell and runtime, at least")
    p.add_argument("--rounds", type=int, default=4, help="turns per cell (default 4)")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    build = os.path.abspath(a.build)
    zoo = os.path.join(build, "zoo")
    bnfold_cli = os.path.join(build, "bnfold")
    sys.path.insert(0, os.path.join(build, "python"))
    import numpy as np
    import bnfold

    node_modules = ensure_ort(build)
    zoo_names = [m for m in a.models if not m.endswith(".onnx")]
    if zoo_names:
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "models", "make_models.py"), "--torchvision",
                        *zoo_names, "--skip-existing", "--out", zoo], check=True, stdout=subprocess.DEVNULL)
    calibration = os.path.join(build, "bench", "calibration_224.npy")
    os.makedirs(os.path.dirname(calibration), exist_ok=True)
    np.save(calibration, np.random.default_rng(0).standard_normal((16, 3, 224, 224)).astype(np.float32))
    model_name, flags = cpu_flags()
    head = (f"CPU: {model_name}; flags: {' '.join(flags)}; {a.threads} threads; ONNX Runtime {ORT_VERSION} (all "
            f"optimizations); median ms over >= {a.seconds:g} s per cell and runtime in {a.rounds} alternating rounds.")
    print(head, flush=True)
    lines = [head, "", "| model | batch | ORT fp32 | ORT int8 | bnfold fp32 | bnfold int8 | bnfold int8 speedup over "
             "fp32 | bnfold int8 / ORT int8 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in a.models:
        exported = os.path.join(zoo, f"{name}.onnx")
        out_dir = zoo
        if name.endswith(".onnx"):  # a model of one's own: its derived files under build/bench
            exported, name, out_dir = os.path.abspath(name), os.path.basename(name)[:-5], os.path.dirname(calibration)
        folded = os.path.join(out_dir, f"{name}.folded.onnx")
        qdq = os.path.join(out_dir, f"{name}.int8.onnx")
        if not os.path.exists(folded) or os.path.getmtime(folded) < os.path.getmtime(exported):
            subprocess.run([bnfold_cli, "fold", exported, "-o", folded], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([bnfold_cli, "quantize", exported, "--data", calibration, "-o", qdq, "--check-samples", "2",
                        "-b", "8"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ort = Ort(node_modules)
        ids = {k: ort.ask(cmd="load", path=path, level="all", threads=a.threads)["id"]
               for k, path in (("ort_fp32", exported), ("ort_int8", qdq))}
        sessions = {"bnfold_fp32": bnfold.Session(folded, threads=a.threads),
                    "bnfold_int8": bnfold.Session(qdq, threads=a.threads)}
        for batch in a.batches:
            x = np.random.default_rng(1).standard_normal((batch, 3, 224, 224)).astype(np.float32)
            times = {k: [] for k in ("ort_fp32", "ort_int8", "bnfold_fp32", "bnfold_int8")}
            chunk = a.seconds / a.rounds
            for r in range(a.rounds):
                warm = 3 if r == 0 else 1
                for key in times:
                    time.sleep(0.05)
                    if key in ids:
                        times[key] += ort.ask(cmd="time", id=ids[key], batch=batch, sample_dims=[3, 224, 224],
                                              seconds=chunk, warmup=warm, min_runs=1)["ms"]
                    else:
                        times[key] += time_bnfold(sessions[key], x, chunk, warm)
            m = {k: statistics.median(v) for k, v in times.items()}
            row = (f"| {name} | {batch} | {m['ort_fp32']:.3g} | {m['ort_int8']:.3g} | {m['bnfold_fp32']:.3g} | "
                   f"{m['bnfold_int8']:.3g} | {m['bnfold_fp32'] / m['bnfold_int8']:.2f}x | "
                   f"{m['bnfold_int8'] / m['ort_int8']:.2f} |")
            lines.append(row)
            print(row, flush=True)
        ort.close()
    with open(os.path.join(build, "bench", "int8_speed.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
