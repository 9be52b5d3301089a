"""What the serving tests share: a `bnfold serve` process on 127.0.0.1 with
an ephemeral port, a real HTTP client (urllib and raw sockets), KServe v2
request bodies, and a real Prometheus started on a temp config."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np


class Served:
    """`bnfold serve ARGS... --port 0`; the port is read from its first log line."""

    def __init__(self, bnfold, *args, timeout=60):
        self.proc = subprocess.Popen([bnfold, "serve", *args, "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.log = []
        self.port = None
        ready = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r"on http://127\.0\.0\.1:(\d+)/", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        ready.wait(timeout)
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("bnfold serve did not start:\n" + "".join(self.log))
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, path):
        return self.base + path

    def stop(self, timeout=60):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.reader.join(5)
        return code

    def text_log(self):
        return "".join(self.log)


def request(url, body=None, headers=None, method=None, timeout=60):
    """(status, headers, body bytes) of one HTTP request; HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def get_json(url):
    status, _, body = request(url)
    return status, json.loads(body)


def infer_body(inputs, binary=False, binary_outputs=False, outputs=None):
    """A v2 inference request for {name: array}: (body bytes, headers)."""
    doc = {"inputs": []}
    tail = b""
    for name, x in inputs.items():
        x = np.ascontiguousarray(x)
        dt = {np.float32: "FP32", np.int64: "INT64", np.float64: "FP64"}[x.dtype.type]
        entry = {"name": name, "shape": list(x.shape), "datatype": dt}
        if binary:
            entry["parameters"] = {"binary_data_size": x.nbytes}
            tail += x.tobytes()
        else:
            entry["data"] = x.reshape(-1).tolist()
        doc["inputs"].append(entry)
    if outputs is not None or binary_outputs:
        doc["outputs"] = [{"name": o, "parameters": {"binary_data": binary_outputs}} for o in (outputs or [])]
        if binary_outputs and not outputs:
            doc.pop("outputs")
            doc["parameters"] = {"binary_data_output": True}
    head = json.dumps(doc).encode()
    headers = {"Content-Type": "application/json"}
    if binary:
        headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(head))}
    return head + tail, headers


def outputs_of(status, headers, body):
    """{name: array} of a v2 inference response (JSON or binary)."""
    assert status == 200, (status, body[:500])
    n = headers.get("Inference-Header-Content-Length")
    head = json.loads(body[:int(n)] if n else body)
    out, offset = {}, int(n) if n else 0
    for o in head["outputs"]:
        dt = {"FP32": np.float32, "INT64": np.int64, "FP64": np.float64}[o["datatype"]]
        if "data" in o:
            out[o["name"]] = np.array(o["data"], dtype=dt).reshape(o["shape"])
        else:
            size = o["parameters"]["binary_data_size"]
            out[o["name"]] = np.frombuffer(body[offset:offset + size], dtype=dt).reshape(o["shape"])
            offset += size
    return out


def metric(text, name, **labels):
    """The value of one sample of a /metrics text (None when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A real Prometheus scraping one target every second, with the shipped alert rules."""

    def __init__(self, work, target, rules):
        os.makedirs(work, exist_ok=True)
        self.port = free_port()
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    f"rule_files:\n  - {rules}\n"
                    "scrape_configs:\n  - job_name: bnfold\n    static_configs:\n"
                    f"      - targets: ['{target}']\n")
        self.log = open(os.path.join(work, "prometheus.log"), "w")
        self.proc = subprocess.Popen(["prometheus", f"--config.file={config}",
                                      f"--storage.tsdb.path={os.path.join(work, 'data')}",
                                      f"--web.listen-address=127.0.0.1:{self.port}"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_until(lambda: request(self.url("/-/ready"))[0] == 200, 60, "Prometheus ready")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def query(self, promql):
        """The instant vector of a PromQL query: [(labels, value)]."""
        status, body = get_json(self.url("/api/v1/query?" + urllib.parse.urlencode({"query": promql})))
        assert status == 200 and body["status"] == "success", body
        return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]

    @staticmethod
    def wait_until(cond, seconds, what):
        end = time.time() + seconds
        while time.time() < end:
            try:
                if cond():
                    return True
            except (OSError, urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.25)
        return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()
