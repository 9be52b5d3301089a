// Internal: a served model's BN input statistics, kept three ways: since the
// server started, over a sliding window (buckets of a twelfth of the window,
// the oldest dropped as they leave it, so a shift that begins after a week
// shows within one window), and since the previous snapshot (snapshots cover
// disjoint intervals, so any set of them merges without double counting).
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <string>

#include "bnfold/analysis/bn_moments.hpp"
#include "bnfold/serve/server.hpp"

namespace bnfold::serve {

class Monitor {
 public:
  // `model`, `sha256` and `source` go into the statistics' provenance.
  Monitor(double window_s, std::string model, std::string sha256, std::string source);
  // One measured run: its moments and the samples it covered. Thread-safe.
  void add(const BnMoments& run, int64_t samples);
  BnInputStats stats(DriftWindow window) const;  // samples 0 when nothing was measured
  BnInputStats take_interval();                  // since the previous call, then starts a new interval

 private:
  using Clock = std::chrono::steady_clock;
  struct Part {
    Clock::time_point start;
    std::string from, until;  // ISO 8601 UTC of the first and the last run in it
    BnMoments moments;
    void add(const BnMoments& run, int64_t samples, const std::string& now);
  };
  BnInputStats as_stats(const Part& part) const;

  mutable std::mutex mutex_;
  std::chrono::duration<double> window_, bucket_;
  std::string model_, sha256_, source_;
  Part total_, interval_;
  std::deque<Part> buckets_;
};

}  // namespace bnfold::serve
