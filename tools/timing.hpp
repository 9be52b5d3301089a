// The one timing loop of the CLI (bench, fold --bench): warm-up runs, then
// timed runs until a count or a time budget is reached.
#pragma once

#include <functional>
#include <vector>

namespace bnfold::cli {

struct TimingPlan {
  int warmup = 2;         // untimed runs first (they create oneDNN primitives)
  int iterations = 0;     // > 0: exactly this many timed runs
  double seconds = 2;     // else: runs until this much time has passed...
  size_t min_runs = 3;    // ...and at least this many runs
};

// Milliseconds of each timed run of `run`.
std::vector<double> time_runs(const std::function<void()>& run, const TimingPlan& plan);
// The p-quantile (0..1, nearest rank) of v; v must not be empty.
double percentile(std::vector<double> v, double p);

}  // namespace bnfold::cli
