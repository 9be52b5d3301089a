// The timing loops of the CLI (bench, fold --bench): warm-up runs, then timed
// runs (or alternating pairs of runs) until a count or a time budget is reached.
#pragma once

#include <functional>
#include <string>
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

// Two configurations timed run for run, alternating (a, b, a, b, ...), so
// that a busy machine slows both alike, and compared pair by pair: a ratio of
// two independent medians moves with whatever else ran during one of them.
struct PairedTiming {
  std::vector<double> a_ms, b_ms;   // each timed run, in pairs
  double median_a = 0, median_b = 0;
  double speedup = 0;               // the median over pairs of a's time / b's
  double low = 0, high = 0;         // a 95% confidence interval of that median (order statistics)
  // The interval is wider than 10% of the speedup: the machine was too busy
  // (or the runs too few) for the figure to be quoted.
  bool too_noisy() const { return high > low * 1.1; }
  // "1.23x (95% interval 1.21-1.25, 40 pairs)", and a warning when too noisy.
  std::string describe() const;
};
// plan.iterations counts pairs; plan.seconds is the budget for all of them.
PairedTiming time_pairs(const std::function<void()>& a, const std::function<void()>& b, const TimingPlan& plan);

}  // namespace bnfold::cli
