// `bnfold serve` as a library component: ONNX models served over HTTP with
// the KServe v2 / Open Inference Protocol REST API, requests batched
// dynamically, and every model's BatchNormalization inputs monitored while it
// serves: Prometheus metrics (/metrics), the drift verdict since start and
// over a sliding window, a live page, and statistics snapshots that `bnfold
// drift --merge` combines across replicas. The CLI's `serve` only parses
// arguments and waits for a signal; an application starts the same thing.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bnfold/analysis/drift_workflow.hpp"
#include "bnfold/graph/error.hpp"

namespace bnfold BNFOLD_API {

struct ServedModel {
  std::string path;      // the ONNX file (folded models too: their monitoring survives folding)
  std::string name;      // in URLs and labels; "" -> the file's name without .onnx
  std::string baseline;  // statistics file (`drift --save-stats`) to judge drift against; "" -> running statistics
};

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless asked: a served model is not for the whole network by default
  int port = 8000;                 // 0: any free port (Server::port() says which)
  // Dynamic batching: requests for one model wait up to max_delay_ms for
  // others and run together, up to max_batch samples (1: no batching).
  int64_t max_batch = 8;
  double max_delay_ms = 2;
  int64_t max_queue = 64;              // requests waiting per model; one more is answered 503 with Retry-After
  double timeout_s = 30;               // a request still waiting after this is answered 503
  size_t max_body_bytes = 64u << 20;   // larger request bodies: 413
  int64_t max_elements = 16 << 20;     // values in one request's tensors, summed: more is 413
  int http_threads = 32;               // connections served at once (more wait for a free one)
  double read_timeout_s = 5;           // a client that stops sending is dropped after this
  int threads = 0;                     // kernel threads of each model's session; 0: one per core
  Precision precision = Precision::Float32;  // of each model's session (bf16 needs AVX512-BF16 or AMX)
  // Monitoring: a run is measured whenever it brings the count of samples
  // served to a multiple of monitor_every (1: every run; with batch 1,
  // exactly every monitor_every-th sample); 0: no monitoring.
  int64_t monitor_every = 1;
  double window_s = 3600;              // the sliding window's length
  DriftOptions drift;                  // threshold, min_effect, min_samples (its baseline: ServedModel's)
  std::string snapshot_dir;            // where snapshots go; "" -> POST .../snapshot only returns them
  double snapshot_every_s = 0;         // periodic snapshots into snapshot_dir; 0: none (but one at stop)
  double page_refresh_s = 10;          // the live page reloads itself this often
  std::function<void(const std::string&)> log;  // one line per event (start, snapshot, stop); empty: silent
};

// Which statistics a drift verdict covers.
enum class DriftWindow { SinceStart, Sliding };
const char* to_string(DriftWindow window);  // "since_start", "sliding": the metrics' window label

class Server {
 public:
  // Loads every model and baseline and checks the options; throws
  // bnfold::Error naming what is wrong. Serves nothing until start().
  Server(std::vector<ServedModel> models, ServerOptions options);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and serves on background threads; throws when it cannot bind.
  void start();
  int port() const;
  // Graceful stop: no new connection is accepted, /v2/health/ready answers
  // 503, every request already received is answered, then a final snapshot
  // is written (with snapshot_dir). Safe from any thread; idempotent.
  void stop();
  // Blocks until stop() has finished.
  void wait();

  std::vector<std::string> models() const;
  // What GET /metrics answers.
  std::string metrics() const;
  // The drift verdict over the model's monitored statistics. Throws
  // InvalidArgument when nothing has been measured yet in that window.
  DriftResult drift(const std::string& model, DriftWindow window) const;
  // The statistics measured since the previous snapshot (so that any set of
  // snapshots merges without counting a sample twice), written to
  // snapshot_dir when set; returns the file's path ("" without snapshot_dir)
  // and fills `stats`. Nothing measured since: returns "" and leaves stats empty.
  std::string snapshot(const std::string& model, BnInputStats* stats = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bnfold
