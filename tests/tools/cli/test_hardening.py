#!/usr/bin/python3
"""Malformed models, data and limits through the CLI (issue 12, classes 1, 5,
7 and 8): each case is a clean one-line error with exit code 1 (never a
signal), names the rule, leaves nothing at -o; or, for integer arithmetic ONNX
leaves undefined, gives the result bnfold defines (docs/onnx-import.md, "Integer
arithmetic").

Usage: test_hardening.py BNFOLD
"""
import os
import re
import struct
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from harness import Harness

h = Harness(sys.argv[1], timeout=300)
d = tempfile.mkdtemp()


def model(nodes, inputs, outputs, inits=(), opset=13, name="m"):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    path = os.path.join(d, name + ".onnx")
    onnx.save(m, path)
    return path


def fin(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def out(name, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, None)


def w(name, shape):
    return numpy_helper.from_array(np.ones(shape, np.float32), name)


def refused(what, path, expect, commands=("inspect", "run", "fold")):
    """Every command gives exit 1 and a message containing `expect`; fold writes nothing."""
    for cmd in commands:
        target = os.path.join(d, "out.onnx")
        if os.path.exists(target):
            os.remove(target)
        args = {"inspect": ["inspect", path], "run": ["run", path],
                "fold": ["fold", path, "-o", target, "--verify"]}[cmd]
        code, o, e = h.run(*args)
        h.check(f"{what}: {cmd} exits 1 with '{expect}'",
                code == 1 and expect in e and "internal error" not in e and not os.path.exists(target),
                f"exit {code}\n{o[-500:]}\n{e[-800:]}")


# Class 1: attributes that are divisors, counts and sizes.
x4 = [fin("x", [1, 2, 5, 5])]
refused("Conv strides=0", model([helper.make_node("Conv", ["x", "w"], ["y"], strides=[1, 0])], x4, [out("y")],
                                [w("w", (2, 2, 3, 3))], name="conv_s0"), "strides must be positive")
refused("MaxPool strides=0", model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[0, 1])],
                                   x4, [out("y")], name="pool_s0"), "strides must be positive")
refused("Conv group=0", model([helper.make_node("Conv", ["x", "w"], ["y"], group=0)], x4, [out("y")],
                              [w("w", (2, 2, 3, 3))], name="conv_g0"), "group must be positive")
refused("DepthToSpace blocksize=0", model([helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=0)], x4,
                                          [out("y")], name="d2s"), "blocksize must be positive")
refused("Conv dilations=-1", model([helper.make_node("Conv", ["x", "w"], ["y"], dilations=[-1, 1])], x4, [out("y")],
                                   [w("w", (2, 2, 3, 3))], name="conv_dneg"), "dilations must be positive")

# Found by fuzzing: arity against ONNX's schemas, declared ranks before libonnx's
# shape inference (which indexes dims unchecked for these).
refused("BatchNormalization without inputs",
        model([helper.make_node("BatchNormalization", [], ["y"])], x4, [out("y")], name="bn_noinputs"),
        "0 inputs; BatchNormalization-")
refused("ConvTranspose with a 2-D weight",
        model([helper.make_node("ConvTranspose", ["x", "w"], ["y"])], x4, [out("y")], [w("w", (2, 3))],
              name="ct_w2d"), "W has rank 2")
refused("Gemm-6 with a 1-D B",
        model([helper.make_node("Gemm", ["a", "b", "b"], ["y"])], [fin("a", [2, 3])], [out("y")], [w("b", (3,))],
              opset=6, name="gemm6"), "Gemm's input 1 has rank 1")
refused("Conv with a required input omitted",
        model([helper.make_node("Conv", ["x", ""], ["y"])], x4, [out("y")], name="conv_now"), "required but omitted")

# Integer arithmetic: defined results, never a trap.
i64 = np.iinfo(np.int64)
ints = helper.make_tensor_value_info("a", TensorProto.INT64, [4])
path = model([helper.make_node("Div", ["a", "b"], ["q"]), helper.make_node("Pow", ["a", "e"], ["p"]),
              helper.make_node("Mul", ["a", "a"], ["m"])],
             [ints], [out("q", TensorProto.INT64), out("p", TensorProto.INT64), out("m", TensorProto.INT64)],
             [numpy_helper.from_array(np.array([-1, 0, 7, 2], np.int64), "b"),
              numpy_helper.from_array(np.array([3, 50, 2, -1], np.int64), "e")], name="intops")
a = np.array([i64.min, 5, -7, 3], np.int64)
np.save(os.path.join(d, "a.npy"), a)
code, o, e = h.run("run", path, "-i", f"a={os.path.join(d, 'a.npy')}", "-o", os.path.join(d, "intout"))
q = np.load(os.path.join(d, "intout", "q.npy")) if code == 0 else None
p = np.load(os.path.join(d, "intout", "p.npy")) if code == 0 else None
m = np.load(os.path.join(d, "intout", "m.npy")) if code == 0 else None
wrap = lambda v: (v + 2**63) % 2**64 - 2**63  # noqa: E731  two's complement
h.check("integer Div: INT64_MIN / -1 wraps to INT64_MIN, x / 0 is 0, -7 / 7 = -1 (truncation)",
        q is not None and q.tolist() == [i64.min, 0, -1, 1], f"{code} {e} {q}")
h.check("integer Pow is exact and wraps: INT64_MIN^3, 5^50 mod 2^64, (-7)^2, 3^-1 = 0",
        p is not None and p.tolist() == [wrap(int(i64.min) ** 3), wrap(5 ** 50), 49, 0], f"{code} {e} {p}")
h.check("integer Mul wraps", m is not None and m.tolist() == [wrap(int(i64.min) ** 2), 25, 49, 9], f"{m}")
const = model([helper.make_node("Div", ["c", "b"], ["q"]), helper.make_node("Add", ["q", "a"], ["y"])],
              [ints], [out("y", TensorProto.INT64)],
              [numpy_helper.from_array(np.array([i64.min] * 4, np.int64), "c"),
               numpy_helper.from_array(np.array([-1, 0, 1, 2], np.int64), "b")], name="constdiv")
code, o, e = h.run("fold", const, "-o", os.path.join(d, "constdiv_folded.onnx"))
h.check("constant folding of INT64_MIN / -1 and x / 0 does not trap", code == 0, e)

# Class 5: nonsense the spec forbids.
refused("Conv pads = INT64_MAX", model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[0, 0, i64.max, 0])], x4,
                                       [out("y")], [w("w", (2, 2, 3, 3))], name="conv_hugepad"),
        "overflow", commands=("run", "fold"))
refused("auto_pad with explicit pads",
        model([helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", pads=[1, 1, 1, 1])], x4, [out("y")],
              [w("w", (2, 2, 3, 3))], name="autopad_pads"), "cannot be used together with auto_pad")
refused("ConvTranspose output_padding >= stride",
        model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], output_padding=[2, 0])], x4,
              [out("y")], [w("w", (2, 2, 3, 3))], name="ct_outpad"), "output_padding")
refused("AveragePool pads >= kernel",
        model([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], pads=[2, 0, 0, 0])], x4, [out("y")],
              name="avg_bigpad"), "must be smaller than kernel_shape")
refused("PRelu slope that does not broadcast to X",
        model([helper.make_node("PRelu", ["x", "s"], ["y"])], x4, [out("y")], [w("s", (3,))], name="prelu"),
        "broadcast", commands=("run", "fold"))
refused("Slice with a repeated axis",
        model([helper.make_node("Slice", ["x", "st", "en", "ax"], ["y"])], x4, [out("y")],
              [numpy_helper.from_array(np.array([0, 1], np.int64), "st"),
               numpy_helper.from_array(np.array([1, 2], np.int64), "en"),
               numpy_helper.from_array(np.array([2, 2], np.int64), "ax")], name="slice_dup"),
        "repeat", commands=("run", "fold"))
refused("Transpose perm that repeats an axis",
        model([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 1, 1, 2])], x4, [out("y")], name="perm_dup"),
        "repeats an axis")

# Class 7: no std:: exception text reaches a user.
tiny = model([helper.make_node("Relu", ["x"], ["y"])], x4, [out("y")], name="relu")
hdr = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2x, 5, 5), }"
hdr += b" " * (63 - 10 - len(hdr)) + b"\n"
bad_npy = os.path.join(d, "bad.npy")
open(bad_npy, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr)
code, o, e = h.run("run", tiny, "-i", f"x={bad_npy}")
h.check("a malformed .npy shape names the file and the problem",
        code == 1 and "malformed .npy shape" in e and bad_npy in e and "sto" not in e and "internal" not in e, e)
open(os.path.join(d, "a_file"), "w").close()
code, o, e = h.run("run", tiny, "-o", os.path.join(d, "a_file"))
h.check("run -o onto a file: a bnfold error, not a filesystem_error",
        code == 1 and "cannot create the output folder" in e and "filesystem" not in e, e)
code, o, e = h.run("fold", tiny, "-o", os.path.join(d, "f.onnx"), "--verify", "--mean", "1e999")
h.check("--mean 1e999: expected finite numbers", code == 1 and "finite numbers" in e, e)

# Class 8: memory.
big = model([helper.make_node("Relu", ["x"], ["y"])], [fin("x", [1, 64, 64, 64])], [out("y")], name="relu_big")
code, o, e = h.run("run", big, "--max-memory", "64K")
h.check("--max-memory 64K: a 1 MiB input is refused with the limit named",
        code == 1 and "over the memory limit of 64 KiB" in e, e)
code, o, e = h.run("run", tiny, "--max-memory", "lots")
h.check("--max-memory lots: a usage error", code == 1 and "expected a size such as 512M" in e, e)
shape_in = helper.make_tensor_value_info("shape", TensorProto.INT64, [1])
cos = model([helper.make_node("ConstantOfShape", ["shape"], ["y"])], [shape_in], [out("y")], name="cos")
np.save(os.path.join(d, "huge.npy"), np.array([900_000_000], np.int64))
t0 = time.time()
code, o, e = h.run("run", cos, "-i", f"shape={os.path.join(d, 'huge.npy')}", "--max-memory", "1G")
h.check(f"ConstantOfShape fed 9e8 at run time under --max-memory 1G: refused at once ({time.time() - t0:.1f} s)",
        code == 1 and "memory limit" in e and time.time() - t0 < 20, e)
tib = model([helper.make_node("ConstantOfShape", ["s"], ["y"])], [fin("x", [1])], [out("y")],
            [numpy_helper.from_array(np.array([2**20, 2**20, 256], np.int64), "s")], name="tib")
t0 = time.time()
code, o, e = h.run("run", tib)
h.check(f"a 1 TiB ConstantOfShape is refused before it is allocated ({time.time() - t0:.1f} s)",
        code == 1 and "memory limit" in e and time.time() - t0 < 20, e)
code, o, e = h.run("fold", tib, "-o", os.path.join(d, "tib_folded.onnx"))
h.check("fold leaves a 1 TiB ConstantOfShape to run time (constant folding does not allocate it)", code == 0, e)

# Issue 29, class D: one NaN (or infinite) pixel in the data is refused by its sample number; nothing is written.
resnet = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "models", "tiny_resnet.onnx")
x = np.random.default_rng(5).standard_normal((6, 3, 32, 32)).astype(np.float32)
for bad in (np.nan, np.inf):
    x[4, 0, 1, 2] = bad
    npy = os.path.join(d, "bad_pixel.npy")
    np.save(npy, x)
    written = [os.path.join(d, "recal.onnx"), os.path.join(d, "stats.json")]
    for args in (("recalibrate", resnet, "--data", npy, "-o", written[0]),
                 ("recalibrate", resnet, "--data", npy, "-o", written[0], "--mode", "update-bn"),
                 ("drift", resnet, "--data", npy, "--save-stats", written[1])):
        code, o, e = h.run(*args)
        h.check(f"{args[0]} on data with a {bad} pixel: exit 1 naming sample 4, nothing written",
                code == 1 and "sample 4 of" in e and not any(os.path.exists(p) for p in written), e)

# Issue 29, answers that mislead: a model without BN has nothing to audit or fold, and says so.
code, o, e = h.run("audit", tiny, "--random")
h.check("audit of a model without BN: exit 1, nothing to audit (not 'Safe to serve')",
        code == 1 and "nothing to audit" in e and "Safe" not in o, o + e)
code, o, e = h.run("fold", tiny, "-o", os.path.join(d, "relu_folded.onnx"))
h.check("fold of a model without BN says there is nothing to fold", code == 0 and "nothing to fold" in o, o + e)
code, o, e = h.run("fold", resnet, "-o", os.path.join(d, "tiny_folded.onnx"))
code, o, e = h.run("audit", os.path.join(d, "tiny_folded.onnx"), "--random")
h.check("audit of a folded model: exit 1, audit the original", code == 1 and "audit the original model" in e, e)

ten = os.path.join(d, "ten.npy")
np.save(ten, np.random.default_rng(7).standard_normal((10, 3, 32, 32)).astype(np.float32))
code, o, e = h.run("audit", resnet, "--data", ten, "--batch-sizes", "1,2,64")
h.check("audit says which batch sizes the data was too small for",
        code == 0 and "Not measured at batch size 64: the data holds only 10 samples." in o, o + e)

# Issue 29, class E: no output replaces an input or another output; the input is left as it was.
import hashlib  # noqa: E402
import shutil  # noqa: E402

m_copy = os.path.join(d, "m_copy.onnx")
shutil.copy(resnet, m_copy)
data_dir = os.path.join(d, "outputs_data")
os.makedirs(data_dir, exist_ok=True)
clean = os.path.join(data_dir, "x.npy")
np.save(clean, np.random.default_rng(6).standard_normal((4, 3, 32, 32)).astype(np.float32))
digest = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()  # noqa: E731
before = {p: digest(p) for p in (m_copy, clean)}
for args, says in (
        (("fold", m_copy, "-o", os.path.join(d, "f.onnx"), "--report", m_copy), "--report"),
        (("fold", m_copy, "-o", os.path.join(d, "f.onnx"), "--report", os.path.join(d, ".", "f.onnx")),
         "-o and --report both name"),
        (("fold", m_copy, "-o", os.path.join(d, "f.onnx"), "--verify", "-i", f"input={clean}", "--report", clean),
         "would overwrite -i"),
        (("drift", m_copy, "--data", data_dir, "--save-stats", clean), "would overwrite a file of --data"),
        (("drift", m_copy, "--data", clean, "--html", m_copy), "--html"),
        (("recalibrate", m_copy, "--data", clean, "-o", os.path.join(d, "r.onnx"), "--html",
          os.path.join(d, "r.onnx")), "-o and --html both name"),
        (("audit", m_copy, "--data", clean, "--html", clean), "would overwrite --data"),
        (("verify", m_copy, m_copy, "--report", m_copy), "would overwrite the original model")):
    code, o, e = h.run(*args)
    h.check(f"{args[0]} {' '.join(a for a in args[2:] if a.startswith('-'))}: refused, nothing replaced",
            code == 1 and says in e and all(digest(p) == v for p, v in before.items()), e)

# Issue 29, class F: SIGTERM or SIGINT while a 200 MB model is being written leaves no OUT.tmp.* behind,
# and bnfold still dies of the signal.
import signal  # noqa: E402
import subprocess  # noqa: E402

def default_signals():
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_DFL)


big = model([helper.make_node("Gemm", ["x", "w"], ["y"])], [fin("x", [1, 5000])], [out("y")],
            [numpy_helper.from_array(np.zeros((5000, 10000), np.float32), "w")], name="big")
for sig in (signal.SIGTERM, signal.SIGINT):
    dest = os.path.join(d, "big_out.onnx")
    caught = False
    for attempt in range(3):  # the write must still be going when the signal lands
        for f in os.listdir(d):
            if f.startswith("big_out.onnx"):
                os.remove(os.path.join(d, f))
        # As from a terminal: the signals at their defaults (a shell's background job ignores SIGINT).
        p = subprocess.Popen([sys.argv[1], "fold", big, "-o", dest], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL,
                             preexec_fn=default_signals)
        deadline = time.time() + 60
        while p.poll() is None and time.time() < deadline:
            if any(f.startswith("big_out.onnx.tmp.") for f in os.listdir(d)):
                p.send_signal(sig)
                caught = True
                break
            time.sleep(0.001)
        p.wait(timeout=60)
        if caught and not os.path.exists(dest):
            break
        caught = False
    left = [f for f in os.listdir(d) if f.startswith("big_out.onnx")]
    h.check(f"{sig.name} mid-write: bnfold dies of it and leaves no temporary ({left})",
            caught and p.returncode == -sig and not left, f"returncode {p.returncode}")
# Issue 29, class J: initializers taken over from the parsed file count against --max-memory like every tensor.
code, o, e = h.run("--max-memory", "100M", "run", big, "--no-save")
h.check("a 200 MB initializer under --max-memory 100M: refused, naming it",
        code == 1 and "initializer 'w' needs 191 MiB" in e and "over the memory limit of 100 MiB" in e, e)
code, o, e = h.run("--max-memory", "1G", "run", big, "--no-save")
h.check("the same model under --max-memory 1G runs", code == 0, e)
os.remove(big)

# Issue 29, busy machines: the data commands wait passively (libgomp's spin count 0) unless the user chose a
# policy; run and bench keep spinning (latency). libgomp prints its settings with OMP_DISPLAY_ENV=verbose.
def spin_counts(*args, **env):
    # Without a policy of its own (tools/test.sh sets one for every test): what a user's shell gives.
    base = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    r = subprocess.run([sys.argv[1], *args], capture_output=True, text=True,
                       env={**base, "OMP_DISPLAY_ENV": "verbose", **env}, timeout=120)
    return re.findall(r"GOMP_SPINCOUNT = '(\d+)'", r.stderr), r.returncode


for cmd in (("drift", m_copy, "--data", clean), ("audit", m_copy, "--data", clean, "--batch-sizes", "1"),
            ("recalibrate", m_copy, "--data", clean, "-o", os.path.join(d, "passive.onnx"))):
    counts, code = spin_counts(*cmd)
    h.check(f"{cmd[0]}: idle OpenMP threads wait passively by default", code == 0 and counts[-1:] == ["0"], counts)
counts, code = spin_counts("drift", m_copy, "--data", clean, OMP_WAIT_POLICY="active")
h.check("drift: a wait policy the user set is kept", code == 0 and counts and counts[-1] != "0", counts)
counts, code = spin_counts("run", m_copy)
h.check("run keeps libgomp's default (spinning first: it measures latency)", code == 0 and counts[-1] != "0", counts)

# Issue 29, class G: under an address-space limit, more threads than their stacks fit are refused with a count
# that fits, not ended by libgomp ("Thread creation failed"). Not where the limit stops bnfold itself (ASan
# reserves terabytes of address space).
import resource  # noqa: E402


def limited(mib, *args):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (mib << 20, mib << 20))
    return subprocess.run([sys.argv[1], *args], capture_output=True, text=True, preexec_fn=limit, timeout=120)


if limited(400, "--version").returncode == 0:
    r = limited(400, "run", m_copy, "--threads", "64")
    m = re.search(r"use (\d+) threads or fewer", r.stderr)
    h.check("--threads 64 under ulimit -v 400 MiB: refused with a count that fits, not libgomp's exit",
            r.returncode == 1 and m and "libgomp" not in r.stderr, r.stderr)
    if m:
        # Ten times: the workers' malloc arenas once took the room left for the run in about one run of ten,
        # and oneDNN's JIT then ended the process with SIGSEGV.
        codes = [limited(400, "run", m_copy, "--threads", m.group(1)).returncode for _ in range(10)]
        h.check(f"...and --threads {m.group(1)}, the count it said, runs (ten runs)", codes == [0] * 10, codes)
else:
    print("skip: bnfold cannot start under a 400 MiB address-space limit here (a sanitizer build)")

h.finish()
