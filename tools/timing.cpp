#include "tools/timing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace bnfold::cli {

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point t0, Clock::time_point t1) {
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

}  // namespace

std::vector<double> time_runs(const std::function<void()>& run, const TimingPlan& plan) {
  for (int i = 0; i < plan.warmup; ++i) run();
  std::vector<double> ms;
  const auto start = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  while (plan.iterations > 0 ? static_cast<int>(ms.size()) < plan.iterations
                             : ms.size() < plan.min_runs || elapsed() < plan.seconds) {
    const auto t0 = Clock::now();
    run();
    ms.push_back(ms_between(t0, Clock::now()));
  }
  return ms;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

PairedTiming time_pairs(const std::function<void()>& a, const std::function<void()>& b, const TimingPlan& plan) {
  for (int i = 0; i < plan.warmup; ++i) {
    a();
    b();
  }
  PairedTiming r;
  std::vector<double> ratios;
  const auto start = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  while (plan.iterations > 0 ? static_cast<int>(ratios.size()) < plan.iterations
                             : ratios.size() < plan.min_runs || elapsed() < plan.seconds) {
    // Which of the two goes first alternates too: a cache warmed by one
    // helps the other the same number of times.
    const bool a_first = ratios.size() % 2 == 0;
    double ta = 0, tb = 0;
    for (int k = 0; k < 2; ++k) {
      const bool run_a = (k == 0) == a_first;
      const auto t0 = Clock::now();
      run_a ? a() : b();
      (run_a ? ta : tb) = ms_between(t0, Clock::now());
    }
    r.a_ms.push_back(ta);
    r.b_ms.push_back(tb);
    ratios.push_back(tb > 0 ? ta / tb : 0.0);
  }
  r.median_a = percentile(r.a_ms, 0.5);
  r.median_b = percentile(r.b_ms, 0.5);
  r.speedup = percentile(ratios, 0.5);
  // The median's 95% interval by order statistics: the ranks n/2 -+ 0.98 sqrt(n)
  // (the binomial's normal approximation); the whole range below 6 pairs.
  std::sort(ratios.begin(), ratios.end());
  const double n = static_cast<double>(ratios.size());
  const double half = 0.98 * std::sqrt(n);
  const auto rank = [&](double x) { return static_cast<size_t>(std::clamp(x, 0.0, n - 1)); };
  r.low = ratios[rank(std::floor(n / 2 - half))];
  r.high = ratios[rank(std::ceil(n / 2 + half) - 1)];
  return r;
}

std::string PairedTiming::describe() const {
  std::string s = fmt::format("{:.2f}x (95% interval {:.2f}-{:.2f}, {} pairs)", speedup, low, high, a_ms.size());
  if (too_noisy()) s += "; too noisy to quote: rerun on a quieter machine or for longer";
  return s;
}

}  // namespace bnfold::cli
