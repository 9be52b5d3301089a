// Internal: what Server holds, shared by its files (server.cpp: life cycle
// and snapshots; routes.cpp: the HTTP endpoints; exposition.cpp: /metrics;
// live_page.cpp: GET /).
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/serve/model_service.hpp"
#include "bnfold/serve/server.hpp"

namespace bnfold {

struct Server::Impl {
  ServerOptions options;
  std::vector<std::unique_ptr<serve::ModelService>> services;  // in the order given
  std::map<std::string, serve::ModelService*> by_name;
  httplib::Server http;
  int port = -1;
  std::chrono::system_clock::time_point started;
  std::atomic<bool> ready{false};
  std::atomic<uint64_t> unknown_model_requests{0};

  std::thread listener, snapshotter;
  std::mutex life_mutex;
  std::condition_variable life_changed;
  bool stopping = false, stopped = false;

  serve::ModelService& service(const std::string& name);  // throws HttpError 404 naming the models there are
  void log(const std::string& line) const {
    if (options.log) options.log(line);
  }
  void add_routes();
  std::string metrics() const;
  std::string live_page() const;
  // Writes a snapshot of one model; returns the path ("" without snapshot_dir).
  std::string snapshot(serve::ModelService& service, BnInputStats* stats);
  void snapshot_all(const char* why);
  void periodic_snapshots();
};

}  // namespace bnfold
