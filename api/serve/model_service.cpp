#include "api/serve/model_service.hpp"

#include <fmt/format.h>

#include <cstring>
#include <filesystem>

#include "bnfold/graph/error.hpp"

namespace bnfold::serve {

namespace {

std::string default_name(const std::string& path) {
  return std::filesystem::path(path).stem().string();
}

// Every input's and output's first dim free (symbolic or unknown), so that
// requests stack along it: the model's batch dim.
bool has_batch_dim(const Session& s) {
  auto free_first = [](const TensorSpec& t) {
    return t.shape.rank_known && t.shape.rank() > 0 && !t.shape.dims[0].known();
  };
  for (const TensorSpec& t : s.inputs())
    if (!free_first(t)) return false;
  for (const TensorSpec& t : s.outputs())
    if (!free_first(t)) return false;
  return true;
}

// Rows [begin, begin + rows) of a tensor along its first dim, as a new tensor.
Tensor rows_of(const Tensor& t, int64_t begin, int64_t rows) {
  std::vector<int64_t> dims = t.dims();
  const size_t row_bytes = t.dims()[0] ? t.nbytes() / static_cast<size_t>(t.dims()[0]) : 0;
  dims[0] = rows;
  Tensor out(t.dtype(), dims);
  std::memcpy(out.mutable_data(), static_cast<const char*>(t.data()) + row_bytes * begin, row_bytes * rows);
  return out;
}

Tensor stack(const std::vector<const Tensor*>& parts) {
  std::vector<int64_t> dims = parts[0]->dims();
  dims[0] = 0;
  for (const Tensor* p : parts) dims[0] += p->dims()[0];
  Tensor out(parts[0]->dtype(), dims);
  char* dst = static_cast<char*>(out.mutable_data());
  for (const Tensor* p : parts) {
    std::memcpy(dst, p->data(), p->nbytes());
    dst += p->nbytes();
  }
  return out;
}

}  // namespace

ModelService::ModelService(const ServedModel& m, const ServerOptions& options, const std::string& source)
    : options_(options),
      name_(m.name.empty() ? default_name(m.path) : m.name),
      model_(AnalysisModel::load(m.path)),
      monitor_(options.window_s, name_, model_.sha256(), source + " " + name_) {
  SessionOptions so;
  so.threads = options.threads;
  so.precision = options.precision;
  session_ = std::make_unique<Session>(model_.shared(), so);
  batchable_ = has_batch_dim(*session_);
  if (!m.baseline.empty()) {
    baseline_ = std::make_unique<BnInputStats>(BnInputStats::load(m.baseline));
    DriftOptions o = options.drift;
    o.baseline = baseline_.get();
    BnInputStats probe;  // the baseline itself, judged: throws now when it belongs to another model
    static_cast<BnMoments&>(probe) = *baseline_;
    compute_drift(model_.graph(), probe, o);
  }
  thread_ = std::thread([this] { batcher(); });
}

ModelService::~ModelService() { drain(); }

void ModelService::validate(InferRequest& r) const {
  const auto& specs = session_->inputs();
  for (const auto& [name, t] : r.inputs) {
    bool known = false;
    for (const TensorSpec& s : specs) known |= s.name == name;
    if (!known) throw HttpError{400, fmt::format("model '{}' has no input '{}'", name_, name)};
  }
  int64_t batch = -1;
  r.key.clear();
  for (const TensorSpec& s : specs) {
    auto it = r.inputs.find(s.name);
    if (it == r.inputs.end()) throw HttpError{400, fmt::format("input '{}' is missing (model '{}' needs it)", s.name, name_)};
    const Tensor& t = it->second;
    if (t.dtype() != s.dtype)
      throw HttpError{400, fmt::format("input '{}' is {}, the model takes {}", s.name, dtype_name(t.dtype()),
                                       dtype_name(s.dtype))};
    const std::string given = Shape::of(t.dims()).str();
    if (s.shape.rank_known) {
      if (t.rank() != s.shape.rank())
        throw HttpError{400, fmt::format("input '{}' has shape {}, the model takes {}", s.name, given, s.shape.str())};
      for (size_t d = 0; d < t.rank(); ++d) {
        const Dim& want = s.shape.dims[d];
        if (want.known() ? t.dims()[d] != want.value : t.dims()[d] < 1)
          throw HttpError{400, fmt::format("input '{}' has shape {}, the model takes {}{}", s.name, given,
                                           s.shape.str(), want.known() ? "" : " (a free dim must be at least 1)")};
      }
    }
    if (batchable_) {
      if (batch >= 0 && t.dims()[0] != batch)
        throw HttpError{400, fmt::format("the inputs disagree on the batch (first) dim: {} and {}", batch, t.dims()[0])};
      batch = t.dims()[0];
    }
    r.key += given.substr(given.find(',') == std::string::npos ? given.size() : given.find(',')) + ";";
  }
  r.samples = batchable_ ? batch : 1;
}

std::future<InferOutputs> ModelService::submit(InferRequest request) {
  auto p = std::make_shared<Pending>();
  p->request = std::move(request);
  p->arrived = Clock::now();
  std::future<InferOutputs> f = p->done.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (draining_) throw HttpError{503, "the server is shutting down", 1};
    if (static_cast<int64_t>(queue_.size()) >= options_.max_queue)
      throw HttpError{503, fmt::format("model '{}' has {} requests waiting (--max-queue); try again shortly", name_,
                                       queue_.size()), 1};
    queue_.push_back(std::move(p));
  }
  wake_.notify_one();
  return f;
}

void ModelService::drain() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    draining_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<std::shared_ptr<ModelService::Pending>> ModelService::take_batch(std::unique_lock<std::mutex>& lock) {
  const auto first = queue_.front();
  const bool batching = batchable_ && options_.max_batch > 1 && first->request.samples < options_.max_batch;
  auto fits = [&] {  // samples waiting that could join the first request
    int64_t n = 0;
    for (const auto& p : queue_)
      if (p->request.key == first->request.key && n + p->request.samples <= options_.max_batch) n += p->request.samples;
    return n;
  };
  if (batching) {
    const auto until = first->arrived + std::chrono::duration<double, std::milli>(options_.max_delay_ms);
    while (!draining_ && fits() < options_.max_batch && Clock::now() < until) wake_.wait_until(lock, until);
  }
  std::vector<std::shared_ptr<Pending>> batch;
  int64_t n = 0;
  for (auto it = queue_.begin(); it != queue_.end();) {
    // The first request always runs; others join while they fit. (Not "it ==
    // begin()": after the first is taken, the next one is the begin.)
    const bool joins = batch.empty() || (batching && (*it)->request.key == first->request.key &&
                                         n + (*it)->request.samples <= options_.max_batch);
    if (joins) {
      n += (*it)->request.samples;
      batch.push_back(*it);
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  return batch;
}

void ModelService::batcher() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return !queue_.empty() || draining_; });
    if (queue_.empty()) return;  // draining, and everything queued has run
    std::vector<std::shared_ptr<Pending>> batch = take_batch(lock);
    lock.unlock();
    // A request that waited past the timeout is answered without running.
    const auto oldest = Clock::now() - std::chrono::duration<double>(options_.timeout_s);
    std::vector<std::shared_ptr<Pending>> live;
    for (auto& p : batch) {
      if (p->arrived < oldest)
        p->done.set_exception(std::make_exception_ptr(
            HttpError{503, fmt::format("the request waited over {:g} s in model '{}''s queue", options_.timeout_s, name_), 1}));
      else
        live.push_back(p);
    }
    if (!live.empty()) run_batch(live);
    lock.lock();
  }
}

void ModelService::run_batch(const std::vector<std::shared_ptr<Pending>>& batch) {
  int64_t total = 0;
  for (const auto& p : batch) total += p->request.samples;
  const int64_t k = options_.monitor_every;
  const bool measure = k > 0 && (served_samples_ / k != (served_samples_ + total) / k);
  served_samples_ += total;
  try {
    std::map<std::string, Tensor> inputs;
    if (batch.size() == 1) {
      inputs = batch[0]->request.inputs;
    } else {
      for (const auto& [name, t] : batch[0]->request.inputs) {
        std::vector<const Tensor*> parts;
        for (const auto& p : batch) parts.push_back(&p->request.inputs.at(name));
        inputs[name] = stack(parts);
      }
    }
    BnMoments measured;
    InferOutputs outputs = measure ? session_->run(inputs, [&](const BnStats& s) { measured.add(s.bn, s.count, s.mean, s.var); })
                                   : session_->run(inputs);
    if (measure) monitor_.add(measured, total);
    batch_size.observe(static_cast<double>(total));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      counters_.runs += 1;
      counters_.samples += total;
      if (measure) counters_.monitored_samples += total;
    }
    if (batch.size() == 1) {
      batch[0]->done.set_value(std::move(outputs));
      return;
    }
    for (const auto& [name, t] : outputs)
      if (t.rank() == 0 || t.dims()[0] != total)
        throw Error(ErrorCode::Internal, fmt::format("output '{}' has shape {}: its first dim is not the batch of {}",
                                                     name, Shape::of(t.dims()).str(), total));
    int64_t row = 0;
    for (const auto& p : batch) {
      InferOutputs mine;
      for (const auto& [name, t] : outputs) mine[name] = rows_of(t, row, p->request.samples);
      row += p->request.samples;
      p->done.set_value(std::move(mine));
    }
  } catch (...) {
    for (const auto& p : batch) {
      try {
        p->done.set_exception(std::current_exception());
      } catch (const std::future_error&) {  // already answered
      }
    }
  }
}

DriftResult ModelService::drift(DriftWindow window) const {
  DriftRequest request;
  request.statistics = {monitor_.stats(window)};
  if (request.statistics[0].samples == 0)
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("model '{}' has no monitored samples {} yet", name_,
                            window == DriftWindow::SinceStart ? "since the server started" : "in the sliding window"));
  request.options = options_.drift;
  request.options.baseline = baseline_.get();
  return drift_model(model_, request);
}

BnInputStats ModelService::take_snapshot() { return monitor_.take_interval(); }

ModelService::Counters ModelService::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Counters c = counters_;
  c.queued = queue_.size();
  return c;
}

void ModelService::count_request(int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  counters_.requests += 1;
  if (status >= 400) counters_.failures[status] += 1;
}

void ModelService::count_snapshot() {
  std::lock_guard<std::mutex> lock(mutex_);
  counters_.snapshots += 1;
}

}  // namespace bnfold::serve
