// bnfold serve: the library's Server (bnfold/serve/server.hpp) behind a
// command line; SIGTERM and SIGINT stop it gracefully.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <signal.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <memory>
#include <thread>

#include "bnfold/serve/server.hpp"
#include "tools/arg_check.hpp"
#include "tools/commands.hpp"

namespace bnfold::cli {

namespace {

struct ServeArgs {
  std::vector<std::string> models, baselines;
  ServerOptions o;
  std::string window = "1h", snapshot_every = "0", timeout = "30s", precision = "fp32";
  double max_body_mb = 64, min_effect = -1;
};

// "90" or "90s", "15m", "1h", "7d" -> seconds.
double parse_duration(const std::string& text, const char* option) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = text.substr(used);
  const double scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : -1;
  BNFOLD_ARG_CHECK(used > 0 && scale > 0 && std::isfinite(v) && v >= 0, ErrorCode::InvalidArgument,
                   "{} '{}' is not a duration (a number of seconds, or with s, m, h or d: 90s, 15m, 1h, 7d)", option,
                   text);
  return v * scale;
}

// NAME=PATH or PATH.
std::pair<std::string, std::string> split_named(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos) return {"", text};
  return {text.substr(0, eq), text.substr(eq + 1)};
}

std::string stamp() {
  char buf[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int run_serve(ServeArgs& a) {
  std::vector<ServedModel> models;
  for (const std::string& m : a.models) {
    auto [name, path] = split_named(m);
    models.push_back({path, name, ""});
  }
  for (const std::string& b : a.baselines) {
    auto [name, path] = split_named(b);
    BNFOLD_ARG_CHECK(!name.empty() || models.size() == 1, ErrorCode::InvalidArgument,
                     "with several models, name the model a baseline is for: --baseline NAME=FILE");
    bool found = false;
    for (ServedModel& m : models) {
      const std::string model_name = m.name.empty() ? std::filesystem::path(m.path).stem().string() : m.name;
      if (name.empty() || model_name == name) {
        m.baseline = path;
        found = true;
      }
    }
    BNFOLD_ARG_CHECK(found, ErrorCode::InvalidArgument, "--baseline {}: no model is named '{}'", b, name);
  }
  a.o.window_s = parse_duration(a.window, "--window");
  a.o.snapshot_every_s = parse_duration(a.snapshot_every, "--snapshot-every");
  a.o.timeout_s = parse_duration(a.timeout, "--timeout");
  a.o.max_body_bytes = static_cast<size_t>(a.max_body_mb * (1 << 20));
  a.o.drift.min_effect = a.min_effect;
  a.o.precision = parse_precision(a.precision);
  a.o.log = [](const std::string& line) { fmt::print(stderr, "{} bnfold serve: {}\n", stamp(), line); };

  // Signals go to one thread that waits for them (every thread started from
  // here on inherits the blocked mask), which stops the server: no handler
  // runs inside a thread that holds a lock.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Server server(models, a.o);
  server.start();
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    a.o.log(fmt::format("{} received", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    server.stop();
  });
  server.wait();
  watcher.join();
  return 0;
}

}  // namespace

void add_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve models over HTTP (KServe v2), monitored: metrics, drift, alerts");
  cmd->add_option("models", a->models, "ONNX models to serve, as PATH or NAME=PATH (the name in URLs and labels)")
      ->required();
  cmd->add_option("--host", a->o.host, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
  in_range(cmd->add_option("-p,--port", a->o.port, "Port (0: any free port, printed at start)")->capture_default_str(),
           0, 65535);
  in_range(cmd->add_option("--max-batch", a->o.max_batch, "Samples one run may batch from waiting requests (1: off)")
               ->capture_default_str(),
           1, 4096);
  in_range(cmd->add_option("--max-delay-ms", a->o.max_delay_ms, "How long a request waits for others to batch with")
               ->capture_default_str(),
           0, 10000);
  in_range(cmd->add_option("--max-queue", a->o.max_queue, "Requests waiting per model; one more gets 503 + Retry-After")
               ->capture_default_str(),
           1, 1e6);
  cmd->add_option("--timeout", a->timeout, "A request still waiting after this gets 503 (90s, 1m)")->capture_default_str();
  in_range(cmd->add_option("--max-body-mb", a->max_body_mb, "Larger request bodies get 413")->capture_default_str(),
           0.001, 4096);
  in_range(cmd->add_option("--max-elements", a->o.max_elements, "Values in one request's tensors; more get 413")
               ->capture_default_str(),
           1, 1e12);
  in_range(cmd->add_option("--http-threads", a->o.http_threads, "Connections served at once")->capture_default_str(), 1,
           1024);
  add_threads_option(cmd, a->o.threads, "Kernel threads per model (0: one per core)");
  add_precision_option(cmd, a->precision);
  in_range(cmd->add_option("--monitor-every", a->o.monitor_every,
                           "Measure BN input statistics on every K-th sample's run (1: all; 0: no monitoring)")
               ->capture_default_str(),
           0, 1e12);
  cmd->add_option("--window", a->window, "The sliding window of the drift verdict (3600, 90m, 1h, 7d)")
      ->capture_default_str();
  cmd->add_option("--baseline", a->baselines,
                  "Statistics (drift --save-stats) to judge drift against, as FILE or NAME=FILE; default: the "
                  "model's running statistics");
  cmd->add_option("--snapshot-dir", a->o.snapshot_dir,
                  "Write statistics snapshots here (periodic, on POST .../snapshot, and at stop)");
  cmd->add_option("--snapshot-every", a->snapshot_every, "Snapshot period (0: only on request and at stop)")
      ->capture_default_str();
  in_range(cmd->add_option("--threshold", a->o.drift.threshold, "A BN site drifted above this many times the noise")
               ->capture_default_str(),
           1e-9, kNoLimit);
  in_range(cmd->add_option("--min-effect", a->min_effect,
                           "...and above this distance (default 0.25: a mean moved by 0.5 sd, a variance doubled; `bnfold shift-study` suggests one for your model)"),
           0, kNoLimit);
  in_range(cmd->add_option("--min-samples", a->o.drift.min_samples, "Fewer monitored samples: too-few-samples")
               ->capture_default_str(),
           1, 1e12);
  in_range(cmd->add_option("--refresh", a->o.page_refresh_s, "The live page (GET /) reloads every this many seconds")
               ->capture_default_str(),
           0, 86400);
  cmd->footer(
      "Endpoints (KServe v2 / Open Inference Protocol, REST):\n"
      "  GET  /v2/health/live, /v2/health/ready, /v2, /v2/models/NAME, /v2/models/NAME/ready\n"
      "  POST /v2/models/NAME/infer      JSON tensors, or the binary tensor data extension\n"
      "  GET  /v2/models/NAME/drift      the drift report (?window=since_start|sliding)\n"
      "  POST /v2/models/NAME/snapshot   the statistics since the previous snapshot\n"
      "                                  (bnfold drift MODEL --merge FILES... judges a fleet)\n"
      "  GET  /metrics                   Prometheus: requests, latency, batch sizes, queue,\n"
      "                                  drift per BN site and the verdict (window label)\n"
      "  GET  /                          the live page: the drift plots, reloaded\n"
      "Requests for one model wait up to --max-delay-ms and run together, up to\n"
      "--max-batch samples. SIGTERM or SIGINT: stop accepting, answer every request\n"
      "received, write the final snapshot (with --snapshot-dir), exit 0.\n"
      "tools/monitoring/ holds a Prometheus scrape config and alert rules.\n\n"
      "Examples:\n"
      "  bnfold serve models/factory_cnn.onnx --port 8000\n"
      "  bnfold serve cam=model.onnx --baseline cam=base.json --window 1d --snapshot-dir snaps/ --snapshot-every 1h\n"
      "  curl -s localhost:8000/v2/models/factory_cnn/drift?window=sliding");
  on_run(cmd, [a] { return run_serve(*a); });
}

}  // namespace bnfold::cli
