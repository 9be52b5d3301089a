// The server's life cycle: load and check, bind, serve, stop gracefully
// (stop accepting, answer what was received, final snapshot), and snapshots.
#include "api/serve/server_impl.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <regex>

#include "analysis/utc_time.hpp"
#include "bnfold/graph/error.hpp"
#include "bnfold/runtime/session.hpp"

namespace bnfold {

namespace {

void check_options(const std::vector<ServedModel>& models, const ServerOptions& o) {
  auto check = [](bool ok, const std::string& what) {
    if (!ok) throw Error(ErrorCode::InvalidArgument, what);
  };
  check(!models.empty(), "serve needs at least one model");
  check(o.port >= 0 && o.port <= 65535, fmt::format("port {} is not in 0..65535 (0: any free port)", o.port));
  check(o.max_batch >= 1, fmt::format("max_batch {} must be at least 1 (1: no batching)", o.max_batch));
  check(std::isfinite(o.max_delay_ms) && o.max_delay_ms >= 0 && o.max_delay_ms <= 10000,
        fmt::format("max_delay_ms {} is not in 0..10000", o.max_delay_ms));
  check(o.max_queue >= 1, fmt::format("max_queue {} must be at least 1", o.max_queue));
  check(std::isfinite(o.timeout_s) && o.timeout_s > 0, fmt::format("timeout {} s must be positive", o.timeout_s));
  check(o.max_body_bytes > 0, "max_body_bytes must be positive");
  check(o.max_elements > 0, fmt::format("max_elements {} must be positive", o.max_elements));
  check(o.http_threads >= 1 && o.http_threads <= 1024, fmt::format("http_threads {} is not in 1..1024", o.http_threads));
  check(std::isfinite(o.read_timeout_s) && o.read_timeout_s > 0, "read_timeout_s must be positive");
  check(o.monitor_every >= 0, fmt::format("monitor_every {} is negative (0: no monitoring)", o.monitor_every));
  check(std::isfinite(o.window_s) && o.window_s > 0, fmt::format("window {} s must be positive", o.window_s));
  check(std::isfinite(o.snapshot_every_s) && o.snapshot_every_s >= 0, "snapshot_every_s must be >= 0 (0: none)");
  check(o.snapshot_every_s == 0 || !o.snapshot_dir.empty(), "periodic snapshots (snapshot_every_s) need a snapshot_dir");
  check(std::isfinite(o.page_refresh_s) && o.page_refresh_s >= 0, "page_refresh_s must be >= 0 (0: no refresh)");
  check_thread_count(o.threads);
  check_drift_options(o.drift);
}

std::string compact_time() {  // 2026-12-06T06:14:24Z -> 20261206T061424Z: a file name part
  std::string t = utc_now(), out;
  for (char c : t)
    if (c != '-' && c != ':') out += c;
  return out;
}

}  // namespace

const char* to_string(DriftWindow window) { return window == DriftWindow::SinceStart ? "since_start" : "sliding"; }

serve::ModelService& Server::Impl::service(const std::string& name) {
  auto it = by_name.find(name);
  if (it != by_name.end()) return *it->second;
  std::string known;
  for (const auto& s : services) known += (known.empty() ? "" : ", ") + s->name();
  throw serve::HttpError{404, fmt::format("no model '{}' is served here (models: {})", name, known)};
}

Server::Server(std::vector<ServedModel> models, ServerOptions options) : impl_(std::make_unique<Impl>()) {
  check_options(models, options);
  impl_->options = options;
  const std::regex url_safe("[A-Za-z0-9_.-]+");
  for (const ServedModel& m : models) {
    auto s = std::make_unique<serve::ModelService>(m, options, "bnfold serve (pid " + std::to_string(getpid()) + ")");
    if (!std::regex_match(s->name(), url_safe))
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("model name '{}' cannot be part of a URL: use letters, digits, '_', '.' and '-' "
                              "(name it with NAME=PATH)", s->name()));
    if (impl_->by_name.count(s->name()))
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("two models are named '{}': name them apart with NAME=PATH", s->name()));
    impl_->by_name[s->name()] = s.get();
    impl_->services.push_back(std::move(s));
  }
  if (!options.snapshot_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.snapshot_dir, ec);
    if (ec) throw Error(ErrorCode::Io, fmt::format("cannot create the snapshot folder {}: {}", options.snapshot_dir, ec.message()));
  }
  impl_->add_routes();
}

Server::~Server() { stop(); }

void Server::start() {
  Impl& s = *impl_;
  const int http_threads = s.options.http_threads;
  s.http.new_task_queue = [http_threads] { return new httplib::ThreadPool(static_cast<size_t>(http_threads)); };
  s.http.set_payload_max_length(s.options.max_body_bytes);
  // httplib writes a response's headers and body apart: with Nagle's
  // algorithm on, the body then waits for the client's delayed ACK, 40 ms a
  // request on Linux (measured: 50.8 ms served vs 3.0 ms bench at batch 1).
  s.http.set_tcp_nodelay(true);
  const auto read_timeout = std::chrono::duration<double>(s.options.read_timeout_s);
  s.http.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(read_timeout));
  s.port = s.options.port == 0 ? s.http.bind_to_any_port(s.options.host)
                               : (s.http.bind_to_port(s.options.host, s.options.port) ? s.options.port : -1);
  if (s.port < 0)
    throw Error(ErrorCode::Io, fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)",
                                           s.options.host, s.options.port));
  s.started = std::chrono::system_clock::now();
  s.listener = std::thread([&s] { s.http.listen_after_bind(); });
  // stop() only reaches a server that has begun listening.
  for (int i = 0; i < 5000 && !s.http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (s.options.snapshot_every_s > 0) s.snapshotter = std::thread([&s] { s.periodic_snapshots(); });
  s.ready = true;
  std::string names;
  for (const auto& m : s.services)
    names += fmt::format("{}{} ({})", names.empty() ? "" : ", ", m->name(),
                         m->batchable() && s.options.max_batch > 1
                             ? fmt::format("batches up to {}", s.options.max_batch)
                             : std::string(m->batchable() ? "batching off" : "no batch dim: one request per run"));
  s.log(fmt::format("serving {} on http://{}:{}/ (KServe v2 under /v2, Prometheus metrics at /metrics)", names,
                    s.options.host, s.port));
}

int Server::port() const { return impl_->port; }

void Server::stop() {
  Impl& s = *impl_;
  {
    std::unique_lock<std::mutex> lock(s.life_mutex);
    if (s.stopping) {
      s.life_changed.wait(lock, [&] { return s.stopped; });
      return;
    }
    s.stopping = true;
  }
  s.life_changed.notify_all();
  s.ready = false;
  if (s.listener.joinable()) {
    s.log("stopping: no new connections; answering the requests already received");
    s.http.stop();  // listen returns once every connection's handler has finished
    s.listener.join();
  }
  for (auto& m : s.services) m->drain();
  if (s.snapshotter.joinable()) s.snapshotter.join();
  if (!s.options.snapshot_dir.empty() && s.port >= 0) s.snapshot_all("final");
  {
    std::lock_guard<std::mutex> lock(s.life_mutex);
    s.stopped = true;
  }
  s.life_changed.notify_all();
  if (s.port >= 0) s.log("stopped");
}

void Server::wait() {
  std::unique_lock<std::mutex> lock(impl_->life_mutex);
  impl_->life_changed.wait(lock, [&] { return impl_->stopped; });
}

std::vector<std::string> Server::models() const {
  std::vector<std::string> names;
  for (const auto& m : impl_->services) names.push_back(m->name());
  return names;
}

std::string Server::metrics() const { return impl_->metrics(); }

DriftResult Server::drift(const std::string& model, DriftWindow window) const {
  try {
    return impl_->service(model).drift(window);
  } catch (const serve::HttpError& e) {
    throw Error(ErrorCode::InvalidArgument, e.message);
  }
}

std::string Server::snapshot(const std::string& model, BnInputStats* stats) {
  try {
    return impl_->snapshot(impl_->service(model), stats);
  } catch (const serve::HttpError& e) {
    throw Error(ErrorCode::InvalidArgument, e.message);
  }
}

std::string Server::Impl::snapshot(serve::ModelService& m, BnInputStats* stats) {
  static std::atomic<int> sequence{0};
  BnInputStats s = m.take_snapshot();
  if (stats) *stats = s;
  if (s.samples == 0) return "";
  m.count_snapshot();
  if (options.snapshot_dir.empty()) return "";
  const std::string path = (std::filesystem::path(options.snapshot_dir) /
                            fmt::format("{}.{}.{}-{}.stats.json", m.name(), compact_time(), getpid(), ++sequence))
                               .string();
  s.save(path);
  return path;
}

void Server::Impl::snapshot_all(const char* why) {
  for (auto& m : services) {
    try {
      BnInputStats stats;
      const std::string path = snapshot(*m, &stats);
      if (!path.empty()) log(fmt::format("{} snapshot of {}: {} samples -> {}", why, m->name(), stats.samples, path));
    } catch (const std::exception& e) {  // a full disk must not stop the server; the operator reads why
      log(fmt::format("{} snapshot of {} failed: {}", why, m->name(), e.what()));
    }
  }
}

void Server::Impl::periodic_snapshots() {
  const auto every = std::chrono::duration<double>(options.snapshot_every_s);
  std::unique_lock<std::mutex> lock(life_mutex);
  while (!stopping) {
    if (life_changed.wait_for(lock, every, [&] { return stopping; })) break;
    lock.unlock();
    snapshot_all("periodic");
    lock.lock();
  }
}

}  // namespace bnfold
