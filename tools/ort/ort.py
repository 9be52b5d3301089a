"""ONNX Runtime as an independent reference: onnxruntime-node from the npm
registry, pinned, installed into the build folder, driven through one
ort_server.js child process. Used by the benchmark (tools/benchmarks) and by the
tests that compare bnfold with ORT (tests/models).

    sys.path.insert(0, "tools/ort"); import ort
    modules = ort.ensure_ort("build")          # None when npm/node are missing and allow_missing
    with ort.Ort(modules) as o:
        s = o.ask(cmd="load", path="m.onnx", level="all", threads=2)
        outputs = o.run(s["id"], {"x": array}, workdir)   # {name: numpy array}
"""
import json
import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ORT_VERSION = "1.30.0"  # checked in STACK-NOTES; pinned so that runs compare


def ensure_ort(build, allow_missing=False):
    """BUILD/ort/node_modules with onnxruntime-node ORT_VERSION, installed once.

    Its install script would download CUDA parts: --ignore-scripts skips it.
    With allow_missing, returns None (and says why on stderr) where node or npm
    is missing or the registry cannot be reached, instead of raising."""
    prefix = os.path.join(os.path.abspath(build), "ort")
    pkg = os.path.join(prefix, "node_modules", "onnxruntime-node", "package.json")
    if os.path.exists(pkg) and json.load(open(pkg))["version"] == ORT_VERSION:
        return os.path.join(prefix, "node_modules")
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        if allow_missing:
            print(f"ONNX Runtime comparison skipped: {' and '.join(missing)} not found")
            return None
        raise RuntimeError(f"{' and '.join(missing)} not found: cannot install onnxruntime-node")
    os.makedirs(prefix, exist_ok=True)
    r = subprocess.run(["npm", "install", "--prefix", prefix, "--ignore-scripts", "--no-audit", "--no-fund",
                        f"onnxruntime-node@{ORT_VERSION}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        if allow_missing:
            print(f"ONNX Runtime comparison skipped: npm install failed: {r.stderr.strip()[-400:]}")
            return None
        raise RuntimeError(f"npm install onnxruntime-node@{ORT_VERSION} failed: {r.stderr.strip()[-400:]}")
    return os.path.join(prefix, "node_modules")


def _load(path):
    import numpy as np
    if path.endswith(".json"):
        j = json.load(open(path))
        return np.array(j["data"], dtype=object).reshape(j["dims"])
    return np.load(path)


class Ort:
    """One ort_server.js child process."""

    def __init__(self, node_modules):
        self.p = subprocess.Popen(["node", os.path.join(HERE, "ort_server.js"), node_modules],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def ask(self, **cmd):
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("onnxruntime: the node process ended")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"onnxruntime: {reply['error']}")
        return reply

    def run(self, session_id, inputs, workdir=None):
        """Runs a loaded session on {name: numpy array}; returns {output name: numpy array}."""
        import numpy as np
        with tempfile.TemporaryDirectory(dir=workdir) as d:
            files = {}
            for i, (name, x) in enumerate(inputs.items()):
                x = np.asarray(x)
                if x.dtype.kind in "OUS":  # strings travel as JSON
                    files[name] = os.path.join(d, f"in{i}.json")
                    data = [v.decode() if isinstance(v, bytes) else str(v) for v in x.ravel()]
                    json.dump({"dims": list(x.shape), "data": data}, open(files[name], "w"))
                else:
                    files[name] = os.path.join(d, f"in{i}.npy")
                    np.save(files[name], np.ascontiguousarray(x))
            reply = self.ask(cmd="run", id=session_id, inputs=files, out_dir=d)
            return {name: _load(path) for name, path in reply["outputs"].items()}

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            self.p.wait()


if __name__ == "__main__":
    # python3 tools/ort/ort.py BUILD: installs ORT into BUILD/ort (the tests'
    # fixture); exits 77 (skipped) without node or npm.
    import sys
    if len(sys.argv) != 2:
        sys.exit("usage: ort.py BUILD_DIR")
    modules = ensure_ort(sys.argv[1], allow_missing=shutil.which("npm") is None or shutil.which("node") is None)
    if modules is None:
        sys.exit(77)
    print(f"onnxruntime-node {ORT_VERSION} in {modules}")
