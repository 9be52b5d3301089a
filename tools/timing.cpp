#include "tools/timing.hpp"

#include <algorithm>
#include <chrono>

namespace bnfold::cli {

std::vector<double> time_runs(const std::function<void()>& run, const TimingPlan& plan) {
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < plan.warmup; ++i) run();
  std::vector<double> ms;
  const auto start = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  while (plan.iterations > 0 ? static_cast<int>(ms.size()) < plan.iterations
                             : ms.size() < plan.min_runs || elapsed() < plan.seconds) {
    const auto t0 = Clock::now();
    run();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return ms;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace bnfold::cli
