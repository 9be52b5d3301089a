#!/usr/bin/python3
"""bnfold serve end to end, with real parts on the loopback: a real HTTP
client, a real Prometheus scraping the server and evaluating the shipped
alert rules, promtool checking /metrics, headless Chromium on the live page,
and `bnfold run` / `bnfold drift` as the references.

    test_serve.py BNFOLD MODELS_DIR WORK_DIR
"""
import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
from harness import Harness  # noqa: E402
from serve_client import Prometheus, Served, infer_body, metric, outputs_of, request, get_json  # noqa: E402

BNFOLD, MODELS, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
RULES = os.path.join(HERE, "..", "..", "..", "tools", "monitoring", "alerts.yml")
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
h = Harness(BNFOLD)
check = h.check
CNN = os.path.join(MODELS, "factory_cnn.onnx")
MLP = os.path.join(MODELS, "mlp_bn.onnx")
rng = np.random.default_rng(7)


def reference(model, name, x, out):
    """`bnfold run` on the same input: the outputs the server must give."""
    path = os.path.join(WORK, "ref_in.npy")
    np.save(path, x)
    outdir = os.path.join(WORK, "ref_out")
    code, _, err = h.run("run", model, "-i", f"{name}={path}", "-o", outdir, "--threads", "1")
    assert code == 0, err
    return np.load(os.path.join(outdir, out + ".npy"))


def infer(served, model, inputs, **kw):
    body, headers = infer_body(inputs, **kw)
    return request(served.url(f"/v2/models/{model}/infer"), body, headers)


# In-distribution data and its baseline, as an operator makes them with `bnfold drift --save-stats`.
base_x = rng.standard_normal((256, 3, 32, 32)).astype(np.float32)
np.save(os.path.join(WORK, "base.npy"), base_x)
BASE = os.path.join(WORK, "base.json")
code, _, err = h.run("drift", CNN, "--data", os.path.join(WORK, "base.npy"), "--save-stats", BASE)
assert code == 0, err

SNAPS = os.path.join(WORK, "snaps")
s = Served(BNFOLD, f"cam={CNN}", MLP, "--baseline", f"cam={BASE}", "--window", "4s", "--max-delay-ms", "5",
           "--snapshot-dir", SNAPS, "--threads", "1", "--max-body-mb", "8", "--max-elements", "1000000",
           "--refresh", "2")

# ---- the protocol's health and metadata
check("live", get_json(s.url("/v2/health/live")) == (200, {"live": True}))
check("ready", get_json(s.url("/v2/health/ready")) == (200, {"ready": True}))
status, meta = get_json(s.url("/v2/models/cam"))
check("model metadata: inputs with -1 for the batch dim",
      status == 200 and meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 3, 32, 32]}]
      and meta["outputs"][0]["name"] == "logits", meta)
check("model ready", get_json(s.url("/v2/models/mlp_bn/ready")) == (200, {"name": "mlp_bn", "ready": True}))
status, server_meta = get_json(s.url("/v2"))
check("server metadata names the binary extension", "binary_tensor_data" in server_meta["extensions"], server_meta)

# ---- outputs equal `bnfold run`: JSON, binary, and versioned URLs
x = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)
want = reference(CNN, "image", x, "logits")
got = outputs_of(*infer(s, "cam", {"image": x}))["logits"]
check("JSON infer equals bnfold run", np.allclose(got, want, rtol=1e-4, atol=1e-5), f"{got}\n{want}")
got = outputs_of(*infer(s, "cam", {"image": x}, binary=True, binary_outputs=True))["logits"]
check("binary infer equals bnfold run", np.allclose(got, want, rtol=1e-4, atol=1e-5))
body, hdr = infer_body({"image": x[:1]}, binary=True, outputs=["logits"])
got = outputs_of(*request(s.url("/v2/models/cam/versions/1/infer"), body, hdr))["logits"]
check("a versioned URL and a binary input with a JSON output", np.allclose(got, want[:1], rtol=1e-4, atol=1e-5))
body, _ = infer_body({"image": x[:1]})  # 40 KB sent as a form, as `curl -d` does: still a v2 request
status, _, got = request(s.url("/v2/models/cam/infer"), body, {"Content-Type": "application/x-www-form-urlencoded"})
check("a JSON body sent with curl -d's form Content-Type", status == 200, got[:300])
xm = rng.standard_normal((3, 20)).astype(np.float32)
got = outputs_of(*infer(s, "mlp_bn", {"input": xm}))["output"]
check("the second model", np.allclose(got, reference(MLP, "input", xm, "output"), rtol=1e-4, atol=1e-5))

# ---- requests the server refuses, and keeps serving
def refused(name, status_want, text, body, headers=None, model="cam"):
    status, _, got = request(s.url(f"/v2/models/{model}/infer"), body, headers or {"Content-Type": "application/json"})
    try:
        message = json.loads(got)["error"]
    except (ValueError, KeyError):
        message = ""
    check(f"refused: {name}", status == status_want and text in message, f"{status} {got[:300]}")


refused("malformed JSON", 400, "not valid JSON", b'{"inputs": [')
refused("no inputs array", 400, '"inputs" array', b'{"x": 1}')
refused("unknown model", 404, "no model 'nope'", infer_body({"image": x})[0], model="nope")
refused("wrong input name", 400, "has no input 'img'", infer_body({"img": x})[0])
refused("wrong shape", 400, "has shape [4,3,30,32]", infer_body({"image": x[:, :, :30]})[0])
refused("wrong dtype", 400, "is float64", infer_body({"image": x.astype(np.float64)})[0])
refused("too few values", 400, "has 3 values",
        json.dumps({"inputs": [{"name": "image", "shape": [1, 3, 32, 32], "datatype": "FP32", "data": [1, 2, 3]}]}).encode())
refused("a string value", 400, "not a number",
        json.dumps({"inputs": [{"name": "image", "shape": [1, 1], "datatype": "FP32", "data": ["a"]}]}).encode())
refused("an unknown output", 400, "no output 'probs'", infer_body({"image": x}, outputs=["probs"])[0])
refused("more values than --max-elements", 413, "over the limit",
        json.dumps({"inputs": [{"name": "image", "shape": [400, 3, 32, 32], "datatype": "FP32", "data": []}]}).encode())
refused("a body over --max-body-mb", 413, "over the server's limit", b" " * (9 << 20))
body, hdr = infer_body({"image": x}, binary=True)
refused("binary data cut short", 400, "binary", body[:-10], hdr)
refused("a bad Inference-Header-Content-Length", 400, "not a byte count", body,
        dict(hdr, **{"Inference-Header-Content-Length": "x"}))
status, _, got = request(s.url("/v2/nothing"))
check("an unknown endpoint: 404 with a v2 error", status == 404 and b"no endpoint" in got, got)
# A slow client (headers never finished) is dropped; others are served meanwhile.
slow = socket.create_connection(("127.0.0.1", s.port))
slow.sendall(b"POST /v2/models/cam/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
t0 = time.time()
status, _, _ = infer(s, "cam", {"image": x[:1]})
check("served while a slow client hangs", status == 200 and time.time() - t0 < 5)
slow.settimeout(20)
try:
    slow.recv(100)  # b"" (closed) or an error answer: the server let go of it
    dropped = True
except socket.timeout:  # still held after 20 s
    dropped = False
except OSError:  # reset
    dropped = True
slow.close()
check("the slow client is dropped after the read timeout (5 s)", dropped and time.time() - t0 < 15)
check("still live after every refusal", get_json(s.url("/v2/health/live"))[0] == 200)

# ---- Prometheus: /metrics passes promtool, a real Prometheus scrapes it, the verdict turns to drifted
_, _, text = request(s.url("/metrics"))
text = text.decode()
p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
check("promtool check metrics accepts /metrics", p.returncode == 0, p.stdout + p.stderr)
check("failures by status code", metric(text, "bnfold_request_failures_total", model="cam", code="400") >= 10, text[:3000])
prom = Prometheus(os.path.join(WORK, "prometheus"), f"127.0.0.1:{s.port}", os.path.abspath(RULES))
try:
    def post_batches(data):
        for i in range(0, len(data), 8):
            assert infer(s, "cam", {"image": data[i:i + 8]})[0] == 200

    def verdict_in_prometheus(verdict):
        q = f'bnfold_drift_verdict{{model="cam",window="sliding",verdict="{verdict}"}}'
        return prom.wait_until(lambda: any(v == 1 for _, v in prom.query(q)), 40, verdict)

    time.sleep(4.5)  # the requests above leave the 4 s window
    post_batches(rng.standard_normal((96, 3, 32, 32)).astype(np.float32))
    check("Prometheus sees in-distribution for baseline-like data", verdict_in_prometheus("in-distribution"),
          str(prom.query("bnfold_drift_verdict")))
    shifted = (rng.standard_normal((96, 3, 32, 32)) * 1.6 + 0.8).astype(np.float32)
    post_batches(shifted)
    check("Prometheus sees the verdict turn to drifted after shifted data", verdict_in_prometheus("drifted"),
          str(prom.query("bnfold_drift_verdict")))
    pending = prom.wait_until(lambda: prom.query('ALERTS{alertname="BnfoldDrift",model="cam"}'), 30, "alert")
    check("the shipped BnfoldDrift rule goes pending in Prometheus", pending, str(prom.query("ALERTS")))
    check("per-BN-site distance reaches Prometheus",
          len(prom.query('bnfold_drift_distance{model="cam",window="sliding"}')) == 4)
finally:
    prom.stop()
status, drift = get_json(s.url("/v2/models/cam/drift?window=sliding"))
check("GET drift: the sliding window's report", status == 200 and drift["verdict"] == "drifted"
      and drift["reference"] == "baseline", drift.get("verdict"))
check("GET drift: a bad window is refused", get_json(s.url("/v2/models/cam/drift?window=week"))[0] == 400)

# ---- the live page, rendered by headless Chromium
def chromium(*args):
    return subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", f"--user-data-dir={os.path.join(WORK, 'chromium')}",
                           *args], capture_output=True, text=True, timeout=120)


# Shifted data keeps arriving while Chromium loads the page: on a loaded
# machine its start outlasted the 4 s sliding window once, and the page said
# "nothing measured yet".
stop_feed = threading.Event()


def feed():
    while not stop_feed.is_set():
        post_batches(shifted[:32])
        stop_feed.wait(0.5)


feeder = threading.Thread(target=feed, daemon=True)
feeder.start()
try:
    dom = chromium("--dump-dom", s.url("/")).stdout
    check("the live page shows the drift plots", dom.count("<svg") >= 3 and dom.count('class="bar"') >= 4
          and "cam: drifted" in dom and 'http-equiv="refresh"' in dom, dom[:2000])
    png = os.path.join(WORK, "live.png")
    chromium(f"--screenshot={png}", "--window-size=1200,1600", s.url("/"))
    check("a screenshot of the live page", os.path.exists(png) and os.path.getsize(png) > 20000)
finally:
    stop_feed.set()
    feeder.join()

# ---- load: 4 clients x 500 requests, every request answered exactly once
_, _, before = request(s.url("/metrics"))
one = x[:1]
want_one = want[:1]


def client(n):
    answers = []
    for _ in range(n):
        status, headers, body = infer(s, "cam", {"image": one}, binary=True, binary_outputs=True)
        answers.append(status == 200 and np.allclose(outputs_of(status, headers, body)["logits"], want_one,
                                                     rtol=1e-4, atol=1e-5))
    return answers


with concurrent.futures.ThreadPoolExecutor(4) as pool:
    answers = [a for part in pool.map(client, [500] * 4) for a in part]
_, _, after = request(s.url("/metrics"))
served = metric(after.decode(), "bnfold_requests_total", model="cam") - metric(before.decode(), "bnfold_requests_total", model="cam")
check("load: 2000 requests, 2000 right answers", len(answers) == 2000 and all(answers), f"{sum(answers)} right")
check("load: the server counted each request once", served == 2000, str(served))
runs = metric(after.decode(), "bnfold_batch_size_count", model="cam") - metric(before.decode(), "bnfold_batch_size_count", model="cam")
check("load: dynamic batching ran fewer runs than requests", 0 < runs < 2000, str(runs))

# ---- snapshots: disjoint intervals, merged by `bnfold drift --merge` into the fleet verdict
status, headers, body = request(s.url("/v2/models/cam/snapshot"), b"", method="POST")
first = json.loads(body)
check("POST snapshot: the statistics file, written to --snapshot-dir",
      status == 200 and first["format"] == "bnfold-bn-input-stats" and os.path.exists(headers.get("X-Bnfold-Snapshot-File", "")),
      f"{status} {body[:300]}")
status, _, _ = request(s.url("/v2/models/cam/snapshot"), b"", method="POST")
check("a second snapshot with nothing new: 409", status == 409)
code = s.stop()
check("SIGTERM: exit 0", code == 0, s.text_log())
snaps = sorted(os.path.join(SNAPS, f) for f in os.listdir(SNAPS) if f.startswith("cam."))
code, out, err = h.run("drift", CNN, *sum((["--merge", f] for f in snaps), []), "--baseline", BASE, "--json")
fleet = json.loads(out) if code == 0 else {}
check("the snapshots merge into every monitored sample", fleet.get("samples") == metric(
    after.decode(), "bnfold_monitored_samples_total", model="cam"), f"{code} {err} {fleet.get('samples')}")
check("the merged verdict over the fleet's snapshots", fleet.get("verdict") == "drifted", fleet.get("verdict"))

# ---- dynamic batching: requests that wait together run as one, and each gets its own rows
s = Served(BNFOLD, f"cam={CNN}", "--max-batch", "4", "--max-delay-ms", "5000", "--threads", "1")
barrier = threading.Barrier(4)


def single(i):
    barrier.wait()
    return outputs_of(*infer(s, "cam", {"image": x[i:i + 1]}))["logits"]


with concurrent.futures.ThreadPoolExecutor(4) as pool:
    rows = list(pool.map(single, range(4)))
_, _, text = request(s.url("/metrics"))
check("four single requests ran as one batch of 4",
      metric(text.decode(), "bnfold_batch_size_count", model="cam") == 1
      and metric(text.decode(), "bnfold_batch_size_sum", model="cam") == 4, text.decode()[:200])
check("each request got its own rows of the batch", all(np.allclose(rows[i], want[i:i + 1], rtol=1e-4, atol=1e-5)
                                                        for i in range(4)))
check("stopped: exit 0", s.stop() == 0)

# ---- a full queue: 503 with Retry-After, and nothing else goes wrong
s = Served(BNFOLD, f"cam={CNN}", "--max-batch", "1", "--max-queue", "1", "--threads", "1")
big = rng.standard_normal((512, 3, 32, 32)).astype(np.float32)
statuses, retry = [], []
for attempt in range(5):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: infer(s, "cam", {"image": big}, binary=True, binary_outputs=True), range(8)))
    statuses += [r[0] for r in results]
    retry += [r[1].get("Retry-After") for r in results if r[0] == 503]
    if 503 in statuses:
        break
check("a full queue answers 503 with Retry-After", 503 in statuses and all(retry), str(statuses))
check("...and every other request 200", set(statuses) <= {200, 503}, str(statuses))
check("stopped: exit 0", s.stop() == 0)

# ---- SIGTERM in the middle of a load: every request received is answered, exit 0, the snapshot complete
SNAPS2 = os.path.join(WORK, "snaps_sigterm")
s = Served(BNFOLD, f"cam={CNN}", "--snapshot-dir", SNAPS2, "--threads", "1", "--max-delay-ms", "2")
answered = {"ok": 0, "busy": 0, "refused": 0, "other": 0}
lock = threading.Lock()
started = threading.Event()


def until_stopped(_):
    for i in range(500):
        try:
            status, _, body = infer(s, "cam", {"image": one}, binary=True, binary_outputs=True)
            key = "ok" if status == 200 else "busy" if status == 503 else "other"
        except OSError:  # the server no longer accepts connections
            key = "refused"
        with lock:
            answered[key] += 1
            if answered["ok"] >= 300:
                started.set()
        if key == "refused":
            return


with concurrent.futures.ThreadPoolExecutor(4) as pool:
    futures = [pool.submit(until_stopped, i) for i in range(4)]
    started.wait(120)
    code = s.stop()
    for f in futures:
        f.result()
monitored = 0
for f in os.listdir(SNAPS2):
    with open(os.path.join(SNAPS2, f)) as fh:
        monitored += json.load(fh)["samples"]
check("SIGTERM under load: exit 0", code == 0, s.text_log())
check("SIGTERM under load: no request failed otherwise", answered["other"] == 0, str(answered))
check("SIGTERM under load: the final snapshot holds every sample that was run and answered",
      monitored == answered["ok"] and 300 <= answered["ok"] < 2000, f"{monitored} monitored, {answered}")
check("SIGTERM under load: the log tells the stop", "SIGTERM received" in s.text_log() and "stopped" in s.text_log(),
      s.text_log())

# ---- a folded model is served and monitored at every BN fold removed; periodic snapshots
FOLDED = os.path.join(WORK, "folded.onnx")
code, _, err = h.run("fold", CNN, "-o", FOLDED)
assert code == 0, err
SNAPS3 = os.path.join(WORK, "snaps_periodic")
s = Served(BNFOLD, f"cam={FOLDED}", "--baseline", f"cam={BASE}", "--snapshot-dir", SNAPS3, "--snapshot-every", "1s",
           "--threads", "1")
for i in range(0, 64, 8):
    infer(s, "cam", {"image": shifted[i:i + 8]})
status, drift = get_json(s.url("/v2/models/cam/drift"))
check("a folded model: every BN fold removed is monitored against the unfolded model's baseline",
      status == 200 and len(drift["layers"]) == 4 and drift["samples"] == 64 and drift["verdict"] == "drifted",
      json.dumps(drift)[:500])
periodic = Prometheus.wait_until(lambda: any(f.startswith("cam.") for f in os.listdir(SNAPS3)), 10, "snapshot")
check("--snapshot-every writes snapshots while serving", periodic, s.text_log())
check("stopped: exit 0", s.stop() == 0)
total = sum(json.load(open(os.path.join(SNAPS3, f)))["samples"] for f in os.listdir(SNAPS3))
check("periodic and final snapshots together hold each sample once", total == 64, str(total))

# ---- the CLI's checks
code, _, err = h.run("serve", CNN, "--window", "soon")
check("serve: a bad duration is refused", code != 0 and "not a duration" in err, err)
code, _, err = h.run("serve", CNN, CNN)
check("serve: two models with one name are refused", code != 0 and "two models are named" in err, err)
code, _, err = h.run("serve", CNN, "--baseline", f"other={BASE}")
check("serve: a baseline for no model is refused", code != 0 and "no model is named 'other'" in err, err)
code, _, err = h.run("serve", f"mlp={MLP}", "--baseline", BASE, "--port", "0")
check("serve: another model's baseline is refused at start", code != 0 and "another model" in err, err)

# ---- --precision bf16: served in bfloat16 where the CPU has it (`bnfold run --precision bf16` agrees), refused
# at start, with the reason, where it has not
probe = subprocess.run([BNFOLD, "run", CNN, "--precision", "bf16"], capture_output=True, text=True)
if probe.returncode == 0:
    s = Served(BNFOLD, f"cam={CNN}", "--precision", "bf16", "--threads", "1", "--max-batch", "1")
    got = outputs_of(*infer(s, "cam", {"image": x}))["logits"]
    scale = np.abs(want).max()
    check("bf16 serving: within bf16's precision of fp32, not fp32 itself",
          np.abs(got - want).max() < 0.03 * scale and not np.allclose(got, want, rtol=1e-6, atol=1e-7),
          f"{got}\n{want}")
    check("bf16 serving stops cleanly", s.stop() == 0, s.text_log())
else:
    code, _, err = h.run("serve", CNN, "--precision", "bf16", "--port", "0")
    check("serve --precision bf16 without native bf16: refused at start", code != 0 and "AVX512-BF16" in err, err)
h.finish()
