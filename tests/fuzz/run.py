#!/usr/bin/python3
"""Runs the libFuzzer targets of the clang ASan build (tools/test.sh --fuzz: build-sanitize/).

For each target: replays every file in tests/fuzz/regressions/TARGET/ (inputs
that once crashed), then fuzzes for --seconds from a corpus seeded with the
bundled models and ONNX's conformance cases (fuzz_model), the test data's
tensor files (fuzz_tensor_files), a statistics file (fuzz_stats), a few
option choices for the C API (fuzz_c_options) or KServe v2 bodies (fuzz_kserve). Prints
executions and their rate; exits 1 on any crash, leak, timeout or
out-of-memory, naming the input libFuzzer saved (copy it into regressions/
once fixed).

    tests/fuzz/run.py --build build-sanitize --seconds 60 [--runs N] [--only fuzz_model]
"""
import argparse
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def seeds(target):
    data = os.path.join(ROOT, "tests", "data")
    if target == "fuzz_model":
        return (glob.glob(os.path.join(ROOT, "models", "*.onnx")) +
                sorted(glob.glob(os.path.join(data, "onnx-tests", "*", "*", "model.onnx"))))
    if target == "fuzz_tensor_files":
        return (glob.glob(os.path.join(HERE, "seeds", "tensor_files", "*")) +
                glob.glob(os.path.join(data, "*.npy")) + glob.glob(os.path.join(data, "samples", "*")) +
                sorted(glob.glob(os.path.join(data, "onnx-tests", "node", "test_a*", "test_data_set_0", "*.pb"))))
    if target == "fuzz_c_options":
        return glob.glob(os.path.join(HERE, "seeds", "c_options", "*"))
    if target == "fuzz_kserve":
        return glob.glob(os.path.join(HERE, "seeds", "kserve", "*"))
    return glob.glob(os.path.join(HERE, "seeds", "stats", "*"))


def fuzz(target, build, a):
    """Replays TARGET's regression inputs, then fuzzes it; returns (report, failure or None)."""
    exe = os.path.join(build, "tests", "fuzz", target)
    corpus = os.path.join(build, "fuzz-corpus", target)
    artifacts = os.path.join(build, "fuzz-artifacts", target) + os.sep
    os.makedirs(artifacts, exist_ok=True)
    if not os.path.isdir(corpus):
        os.makedirs(corpus)
        for i, s in enumerate(seeds(target)):
            shutil.copy(s, os.path.join(corpus, f"seed{i:05d}_{os.path.basename(s)}"))
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1",
               LSAN_OPTIONS="suppressions=" + os.path.join(HERE, "lsan_suppressions.txt"),
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    regressions = sorted(glob.glob(os.path.join(HERE, "regressions", target, "*")))
    if regressions:
        r = subprocess.run([exe, *regressions], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            return r.stderr[-3000:], f"{target}: a regression input crashes again"
    args = [exe, corpus, f"-artifact_prefix={artifacts}", "-timeout=20", "-rss_limit_mb=2560",
            "-print_final_stats=1", "-max_len=262144"]
    args.append(f"-runs={a.runs}" if a.runs else f"-max_total_time={a.seconds}")
    if target == "fuzz_model":
        args.append(f"-dict={os.path.join(HERE, 'onnx.dict')}")
    r = subprocess.run(args, env=env, capture_output=True, text=True)
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", r.stderr)
    secs = re.search(r"stat::average_exec_per_sec:\s*(\d+)", r.stderr)
    units = int(runs.group(1)) if runs else 0
    report = (f"{target}: {units} executions, {secs.group(1) if secs else '?'}/s, "
              f"{len(regressions)} regression inputs replayed, exit {r.returncode}")
    if r.returncode == 0:
        return report, None
    crash = re.findall(r"Test unit written to (\S+)", r.stderr)
    return report + "\n" + r.stderr[-4000:], f"{target}: exit {r.returncode}; input saved as {crash[-1] if crash else '?'}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", required=True, help="a clang BNFOLD_SANITIZE=address build folder (build-sanitize)")
    p.add_argument("--seconds", type=int, default=60, help="fuzzing time per target (default 60)")
    p.add_argument("--runs", type=int, default=0, help="stop after this many executions instead (0: by time)")
    p.add_argument("--only", nargs="*", default=["fuzz_model", "fuzz_tensor_files", "fuzz_stats", "fuzz_c_options", "fuzz_kserve"])
    a = p.parse_args()
    build = os.path.abspath(a.build)
    # The targets run side by side, one per core (each runs its sessions on one
    # thread): CI's fuzz stage takes the time of one target per core, not of all.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(len(a.only), os.cpu_count() or 1))) as pool:
        results = list(pool.map(lambda t: fuzz(t, build, a), a.only))
    failed = []
    for report, failure in results:
        print(report, flush=True)
        if failure:
            failed.append(failure)
    for f in failed:
        print("FAIL", f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
