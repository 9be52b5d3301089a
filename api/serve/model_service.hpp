// Internal: one served model. Requests are validated on the HTTP thread,
// queued, and run by the model's own batcher thread, which joins waiting
// requests of the same sample shape into one run (dynamic batching) and
// splits the outputs back; runs that monitoring picks measure every BN input
// into the since-start, sliding-window and since-last-snapshot statistics.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/serve/metrics.hpp"
#include "api/serve/monitor.hpp"
#include "bnfold/analysis/analysis_model.hpp"
#include "bnfold/runtime/session.hpp"
#include "bnfold/serve/server.hpp"

namespace bnfold::serve {

using Clock = std::chrono::steady_clock;

// An error with the HTTP status the client gets (4xx: the request; 5xx: us).
struct HttpError {
  int status = 400;
  std::string message;
  int retry_after_s = 0;  // > 0: sent as Retry-After
};

struct InferRequest {
  std::map<std::string, Tensor> inputs;  // validated: every model input, right dtype and shape
  int64_t samples = 1;                   // the batch dim (1 when the model has none)
  std::string key;                       // requests with equal keys can share a run (same dims after the batch)
};
using InferOutputs = std::map<std::string, Tensor>;

class ModelService {
 public:
  ModelService(const ServedModel& model, const ServerOptions& options, const std::string& source);
  ~ModelService();

  const std::string& name() const { return name_; }
  const Session& session() const { return *session_; }
  const AnalysisModel& model() const { return model_; }
  // Every input's first dim is free and every output's first dim follows it.
  bool batchable() const { return batchable_; }

  // Checks the tensors against the model's inputs; throws HttpError 400.
  void validate(InferRequest& request) const;
  // Queues a validated request; throws HttpError 503 when the queue is full.
  std::future<InferOutputs> submit(InferRequest request);
  // Runs what is queued, then ends the batcher (submit refuses afterwards).
  void drain();

  // Monitoring.
  DriftResult drift(DriftWindow window) const;
  BnInputStats take_snapshot();  // what was measured since the previous one; samples 0 when nothing
  const BnInputStats* baseline() const { return baseline_.get(); }

  struct Counters {
    uint64_t requests = 0, samples = 0, monitored_samples = 0, runs = 0, snapshots = 0;
    std::map<int, uint64_t> failures;  // by HTTP status
    size_t queued = 0;
  };
  Counters counters() const;
  void count_request(int status);  // every /infer answer for this model
  void count_snapshot();
  Histogram latency{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  Histogram batch_size{{1, 2, 4, 8, 16, 32, 64, 128}};

 private:
  struct Pending {
    InferRequest request;
    Clock::time_point arrived;
    std::promise<InferOutputs> done;
  };
  void batcher();
  std::vector<std::shared_ptr<Pending>> take_batch(std::unique_lock<std::mutex>& lock);
  void run_batch(const std::vector<std::shared_ptr<Pending>>& batch);

  ServerOptions options_;
  std::string name_;
  AnalysisModel model_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<BnInputStats> baseline_;
  bool batchable_ = false;
  Monitor monitor_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool draining_ = false;
  int64_t served_samples_ = 0;  // decides which runs monitoring measures (batcher thread only)
  Counters counters_;
  std::thread thread_;
};

}  // namespace bnfold::serve
