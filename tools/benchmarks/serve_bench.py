#!/usr/bin/python3
"""bnfold serve under load: throughput and p50/p99 latency with dynamic
batching against without, and the serving overhead against `bnfold bench`
at the same batch size. Not a test: a measurement, with the CPU flags stated.

    /usr/bin/python3 tools/benchmarks/serve_bench.py --build build [--model M.onnx] [--clients 8]
        [--requests 100] [--rounds 3] [--max-batch 8] [--delay-ms 2]

Each round starts a server without batching (--max-batch 1) and one with it,
one after the other (never both at once: they would share the cores), and
sends the same load to each: CLIENTS threads, each REQUESTS requests of one
sample as binary tensors over a kept-alive connection. The overhead part
sends single requests one at a time (batch 1 and batch B) and compares the
median latency with `bnfold bench` at that batch, measured between the
rounds. The server monitors every run (the default, --monitor-every 1); the
bench does not. The model defaults to BUILD/zoo_small/resnet18.onnx (64x64).
"""
import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cpu_flags():
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            return " ".join(f for f in line.split(":")[1].split() if f.startswith(("avx", "fma", "amx")))
    return "?"


class Server:
    def __init__(self, bnfold, model, *args):
        self.proc = subprocess.Popen([bnfold, "serve", f"m={model}", "--port", "0", *args],
                                     stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            m = re.search(r"127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
                break
        else:
            sys.exit("serve_bench: the server did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def body_of(x):
    head = json.dumps({"inputs": [{"name": INPUT, "shape": list(x.shape), "datatype": "FP32",
                                   "parameters": {"binary_data_size": x.nbytes}}],
                       "parameters": {"binary_data_output": True}}).encode()
    return head + x.tobytes(), {"Content-Type": "application/octet-stream",
                                "Inference-Header-Content-Length": str(len(head))}


def post(conn, body, headers):
    t0 = time.perf_counter()
    conn.request("POST", "/v2/models/m/infer", body, headers)
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}")
    return time.perf_counter() - t0


def load(port, x, clients, requests):
    """(samples/s, latencies in s) of CLIENTS x REQUESTS single-sample requests."""
    body, headers = body_of(x[:1])
    latencies, lock = [], threading.Lock()
    start = threading.Barrier(clients + 1)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        start.wait()
        for _ in range(requests):
            mine.append(post(conn, body, headers))
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return clients * requests / (time.perf_counter() - t0), latencies


def one_at_a_time(port, x, n):
    body, headers = body_of(x)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(5):
        post(conn, body, headers)
    times = [post(conn, body, headers) for _ in range(n)]
    conn.close()
    return statistics.median(times)


def bench_ms(bnfold, model, batch, threads):
    out = subprocess.run([bnfold, "bench", model, "-b", str(batch), "-s", "2", "--json", "-t", str(threads)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["batches"][0]["median_ms"]


def pct(values, q):
    return float(np.percentile(values, q)) * 1000


def main():
    global INPUT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=100, help="per client and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--delay-ms", type=float, default=2)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    bnfold = os.path.join(a.build, "bnfold")
    model = a.model or os.path.join(a.build, "zoo_small", "resnet18.onnx")
    if not os.path.exists(model):
        sys.exit(f"serve_bench: {model} is missing (ctest -R generate_zoo makes the zoo)")
    spec = json.loads(subprocess.run([bnfold, "inspect", model, "--json"], capture_output=True, text=True,
                                     check=True).stdout)["inputs"][0]
    INPUT = spec["name"]
    dims = [d if isinstance(d, int) and d > 0 else 1 for d in spec["shape"]]
    x = np.random.default_rng(0).standard_normal([a.max_batch] + dims[1:]).astype(np.float32)
    common = ["--threads", str(a.threads)]
    results = {"off": [], "on": []}
    lat = {"off": [], "on": []}
    overhead = {1: [], a.max_batch: []}
    bench = {1: [], a.max_batch: []}
    for r in range(a.rounds):
        for mode in ("off", "on"):
            args = common + (["--max-batch", "1"] if mode == "off" else
                             ["--max-batch", str(a.max_batch), "--max-delay-ms", str(a.delay_ms)])
            s = Server(bnfold, model, *args)
            load(s.port, x, a.clients, 10)  # warm-up: plans for the batch sizes
            tput, l = load(s.port, x, a.clients, a.requests)
            results[mode].append(tput)
            lat[mode] += l
            if mode == "off":
                for b in overhead:
                    overhead[b].append(one_at_a_time(s.port, x[:b], 50))
            s.stop()
        for b in bench:
            bench[b].append(bench_ms(bnfold, model, b, a.threads))
        print(f"round {r + 1}: {results['off'][-1]:.0f} vs {results['on'][-1]:.0f} samples/s", file=sys.stderr)
    print(f"bnfold serve on {os.path.basename(model)}, {a.clients} clients x {a.requests} requests of 1 sample, "
          f"{a.rounds} rounds; {os.cpu_count()} cores; CPU flags: {cpu_flags()}")
    print(f"{'':26} {'samples/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for mode, label in (("off", "no batching (--max-batch 1)"),
                        ("on", f"batching up to {a.max_batch}, {a.delay_ms:g} ms")):
        print(f"{label:26.26} {statistics.median(results[mode]):>10.0f} {pct(lat[mode], 50):>8.2f} {pct(lat[mode], 99):>8.2f}")
    print(f"dynamic batching: {statistics.median(results['on']) / statistics.median(results['off']):.2f}x the throughput")
    print("serving overhead, one request at a time (median; the server also monitors BN statistics every run):")
    for b in overhead:
        served, direct = statistics.median(overhead[b]) * 1000, statistics.median(bench[b])
        print(f"  batch {b}: served {served:.2f} ms, bnfold bench {direct:.2f} ms: +{served - direct:.2f} ms "
              f"({served / direct:.2f}x)")


if __name__ == "__main__":
    main()
