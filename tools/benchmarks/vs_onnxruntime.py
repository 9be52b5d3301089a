#!/usr/bin/python3
"""bnfold against ONNX Runtime on the torchvision zoo, measured in one invocation.

For each model (exported by models/make_models.py with BatchNormalization
kept) and batch size, times ONNX Runtime with all graph optimizations
(onnxruntime-node from the npm registry, pinned, installed into the build
folder with `npm install --ignore-scripts`), bnfold on the model as exported
and bnfold on the model after `bnfold fold`. The runtimes take turns in
rounds (ORT, bnfold, bnfold folded, then again...) so that a noisy moment of
the machine hits all three, with a pause and an untimed run before each turn
(both runtimes' worker threads spin for a while after a run); each cell's
median is over every timed run of all its rounds (at least --seconds in all). Also per model: session creation
time and peak resident memory, each runtime in a fresh process.

Writes a markdown table and a CSV into --out, with the CPU's flags.

    /usr/bin/python3 tools/benchmarks/vs_onnxruntime.py --build build
    /usr/bin/python3 tools/benchmarks/vs_onnxruntime.py --build build --models resnet18 densenet121 --batches 1
    /usr/bin/python3 tools/benchmarks/vs_onnxruntime.py --build build --models vit_b_32 swin_t   (no BN: folded = exported)
"""
import argparse
import csv
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ort"))
from ort import ORT_VERSION, Ort, ensure_ort  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ZOO = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "densenet121",
       "shufflenet_v2_x1_0", "mnasnet0_5", "regnet_x_400mf", "googlenet", "vgg11_bn"]
# Full-size transformers (no BN), exported by models/corpus.py into BUILD/corpus.
TRANSFORMERS = {"vit_b_32", "vit_b_16", "swin_t", "convnext_tiny"}


def cpu_flags():
    flags = set()
    model = platform.processor()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags.update(w for w in line.split(":", 1)[1].split() if w.startswith(("avx", "amx", "fma")))
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
    return model, sorted(flags)


def bnfold_process_stats(bnfold, model, threads):
    """Session creation, peak RSS and GFLOP per sample of bnfold in a fresh process (`bnfold bench --json`)."""
    out = subprocess.run([bnfold, "bench", model, "-b", "1,8", "-n", "3", "--warmup", "1", "-t", str(threads),
                          "--json"], check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    return j["session_ms"], j["peak_rss_bytes"], j["batches"][0]["gflop"]


def fma_peak(build, threads):
    """The machine's float32 FMA peak in GFLOP/s on `threads` threads (build/bnfold_fma_peak)."""
    out = subprocess.run([os.path.join(build, "bnfold_fma_peak"), "--json"], check=True, capture_output=True,
                         text=True).stdout
    rows = json.loads(out)["rows"]
    exact = [r["peak"] for r in rows if r["threads"] == threads]
    return exact[0] if exact else rows[0]["peak"] * threads


def time_bnfold(session, x, seconds, warmup):
    feeds = {session.inputs[0]: x}
    for _ in range(warmup):
        session.run(feeds)
    ms = []
    start = time.perf_counter()
    while len(ms) < 1 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        session.run(feeds)
        ms.append((time.perf_counter() - t0) * 1e3)
    return ms


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="the CMake build folder (bnfold, python/)")
    p.add_argument("--models", nargs="*", default=ZOO,
                   help=f"zoo names (default: all), or the transformers {', '.join(sorted(TRANSFORMERS))} "
                        "(made by models/corpus.py)")
    p.add_argument("--batches", nargs="*", type=int, default=[1, 8])
    p.add_argument("--seconds", type=float, default=1.0, help="timed seconds per cell, at least (default 1)")
    p.add_argument("--rounds", type=int, default=4, help="turns per cell (default 4)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None, help="folder for the table and CSV (default BUILD/bench)")
    a = p.parse_args()
    build = os.path.abspath(a.build)
    out_dir = a.out or os.path.join(build, "bench")
    zoo = os.path.join(build, "zoo")
    os.makedirs(out_dir, exist_ok=True)
    bnfold_cli = os.path.join(build, "bnfold")
    sys.path.insert(0, os.path.join(build, "python"))
    import numpy as np
    import bnfold

    node_modules = ensure_ort(build)
    zoo_names = [m for m in a.models if m not in TRANSFORMERS]
    if zoo_names:
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "models", "make_models.py"), "--torchvision",
                        *zoo_names, "--skip-existing", "--out", zoo], check=True, stdout=subprocess.DEVNULL)
    corpus = os.path.join(build, "corpus")
    for name in a.models:  # the full-size transformers of models/corpus.py, made once (110-350 MB each)
        if name in TRANSFORMERS and not os.path.exists(os.path.join(corpus, f"{name}.onnx")):
            subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "models", "corpus.py"), "generate", "--out", corpus,
                            "--only", name], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    model_name, flags = cpu_flags()
    peak = fma_peak(build, a.threads)
    print(f"CPU: {model_name}; flags: {' '.join(flags)}; {a.threads} threads; ONNX Runtime {ORT_VERSION}; "
          f"FMA peak {peak:.0f} GFLOP/s", flush=True)

    rows, per_model = [], []
    for name in a.models:
        where = corpus if name in TRANSFORMERS else zoo
        exported = os.path.join(where, f"{name}.onnx")
        folded = os.path.join(where, f"{name}.folded.onnx")
        if not os.path.exists(folded) or os.path.getmtime(folded) < os.path.getmtime(exported):
            subprocess.run([bnfold_cli, "fold", exported, "-o", folded], check=True, stdout=subprocess.DEVNULL)
        ort = Ort(node_modules)
        ort_id = ort.ask(cmd="load", path=exported, level="all", threads=a.threads)
        t0 = time.perf_counter()
        s_exp = bnfold.Session(exported, threads=a.threads)
        s_fold = bnfold.Session(folded, threads=a.threads)
        del t0
        sample_dims = [3, 224, 224]
        for batch in a.batches:
            x = np.random.default_rng(0).standard_normal((batch, *sample_dims)).astype(np.float32)
            times = {"ort": [], "exported": [], "folded": []}
            chunk = a.seconds / a.rounds
            for r in range(a.rounds):
                # Before each turn: a pause, so that the other runtime's worker threads (ORT's and
                # OpenMP's spin after a run) are idle, and one untimed run.
                warm = 3 if r == 0 else 1
                time.sleep(0.05)
                times["ort"] += ort.ask(cmd="time", id=ort_id["id"], batch=batch, sample_dims=sample_dims,
                                        seconds=chunk, warmup=warm, min_runs=1)["ms"]
                time.sleep(0.05)
                times["exported"] += time_bnfold(s_exp, x, chunk, warm)
                time.sleep(0.05)
                times["folded"] += time_bnfold(s_fold, x, chunk, warm)
            med = {k: statistics.median(v) for k, v in times.items()}
            row = {"model": name, "batch": batch, "ort_ms": med["ort"], "bnfold_ms": med["exported"],
                   "bnfold_folded_ms": med["folded"], "folded_over_ort": med["folded"] / med["ort"],
                   "folded_over_exported": med["folded"] / med["exported"],
                   "runs": min(len(v) for v in times.values())}
            rows.append(row)
            print(f"{name:>20} b{batch}: ORT {med['ort']:8.2f} ms, bnfold {med['exported']:8.2f}, "
                  f"folded {med['folded']:8.2f} ({row['folded_over_ort']:.2f}x ORT)", flush=True)
        ort_rss = ort.ask(cmd="rss")["max_rss_bytes"]
        ort.close()
        del s_exp, s_fold
        b_create, b_rss, gflop = bnfold_process_stats(bnfold_cli, folded, a.threads)
        per_model.append({"model": name, "ort_create_ms": ort_id["create_ms"], "bnfold_create_ms": b_create,
                          "ort_peak_rss_mb": ort_rss / 2**20, "bnfold_peak_rss_mb": b_rss / 2**20})
        for r in rows:
            if r["model"] == name:  # Conv/Gemm/MatMul FLOPs of the folded model, 2 per multiply-add
                r["folded_gflops_per_s"] = gflop * r["batch"] / (r["bnfold_folded_ms"] / 1e3)
                r["folded_percent_of_peak"] = 100 * r["folded_gflops_per_s"] / peak

    write_outputs(out_dir, rows, per_model, model_name, flags, a, peak)


def write_outputs(out_dir, rows, per_model, model_name, flags, a, peak):
    with open(os.path.join(out_dir, "vs_onnxruntime.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(out_dir, "vs_onnxruntime_sessions.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(per_model[0].keys()))
        w.writeheader()
        w.writerows(per_model)
    batches = a.batches
    lines = [f"CPU: {model_name}; flags: {' '.join(flags)}; {a.threads} threads; ONNX Runtime {ORT_VERSION} "
             f"(all optimizations); median ms over >= {a.seconds:g} s per cell in {a.rounds} alternating rounds; "
             f"float32 FMA peak {peak:.0f} GFLOP/s on {a.threads} threads (build/bnfold_fma_peak).", "",
             "| model | batch | ORT all | bnfold as exported | bnfold folded | folded / ORT | folded / exported "
             "| folded GFLOP/s (% of peak) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    by_model = {}
    for r in rows:
        by_model.setdefault(r["model"], []).append(r)
    f2 = lambda v: f"{v:.3g}" if v < 100 else f"{v:.0f}"  # noqa: E731
    for m, rs in by_model.items():
        rs = sorted(rs, key=lambda r: r["batch"])
        join = lambda key, fmt=f2: " / ".join(fmt(r[key]) for r in rs)  # noqa: E731
        lines.append(f"| {m} | {' / '.join(str(b) for b in batches)} | {join('ort_ms')} | {join('bnfold_ms')} | "
                     f"{join('bnfold_folded_ms')} | {join('folded_over_ort', lambda v: f'{v:.2f}')} | "
                     f"{join('folded_over_exported', lambda v: f'{v:.2f}')} | "
                     + " / ".join(f"{r['folded_gflops_per_s']:.0f} ({r['folded_percent_of_peak']:.0f}%)" for r in rs)
                     + " |")
    lines += ["", "| model | session creation ORT / bnfold (ms) | peak RSS ORT / bnfold (MB) |", "|---|---:|---:|"]
    for s in per_model:
        lines.append(f"| {s['model']} | {s['ort_create_ms']:.0f} / {s['bnfold_create_ms']:.0f} | "
                     f"{s['ort_peak_rss_mb']:.0f} / {s['bnfold_peak_rss_mb']:.0f} |")
    ahead = sum(1 for r in rows if r["folded_over_ort"] <= 1.0)
    goal = sum(1 for r in rows if r["folded_over_ort"] <= 0.8)
    lines += ["", f"bnfold folded at or below ORT in {ahead} of {len(rows)} cells, at or below 0.8x ORT in {goal}; "
                  f"folded at or below as exported in {sum(1 for r in rows if r['folded_over_exported'] <= 1.0)} "
                  f"of {len(rows)}."]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "vs_onnxruntime.md"), "w") as f:
        f.write(text)
    print("\n" + text)
    print(f"written: {os.path.join(out_dir, 'vs_onnxruntime.md')} and .csv")


if __name__ == "__main__":
    main()
