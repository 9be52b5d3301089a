// Internal: the plans a Session keeps. Plans by input signature (dims, plus
// the values of the inputs that decide shapes); and, for a plan that stops
// before nodes whose output shapes need run-time values (Plan::stops()), the
// plans that continue it, by the signature of what it carries to them.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "runtime/plan.hpp"

namespace bnfold::rt {

struct Stage;

class PlanCache {
 public:
  // bound: the most plans kept (0: all plans keyed by dims alone, and the
  // newest kValuePlans of those keyed by values).
  explicit PlanCache(size_t bound = 0) : bound_(bound) {}

  // The plan for these inputs, built when new. fed: what a run gives the
  // plan (a `known` there is a constant of the plan); values: the run's
  // tensors for them (null where only dims are known yet). measured: with
  // BN statistics steps (options.collect_bn_stats). done: Plan's constructor's.
  std::shared_ptr<const Stage> find(const Graph& graph, const SessionOptions& options, bool measured,
                                    const std::shared_ptr<WeightCache>& weights, const std::vector<Plan::Input>& fed,
                                    const std::vector<const Tensor*>& values,
                                    const std::unordered_set<const Node*>* done = nullptr);
  size_t size() const;

 private:
  // A stream of distinct values (boxes fed to a NonMaxSuppression, a mask to
  // NonZero) rebuilds plans instead of growing the cache without bound; runs
  // holding an evicted plan keep it alive.
  static constexpr size_t kValuePlans = 16;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Stage>> plans_;
  std::vector<bool> value_keyed_;  // per fed input
  std::deque<std::string> bounded_;  // the keys of the bounded plans, oldest first
  size_t bound_;
};

struct Stage {
  // A detector's boxes after NonMaxSuppression differ in count on every
  // image: the continuations of one plan are as many, the newest kept.
  static constexpr size_t kContinuations = 16;
  const Graph* graph = nullptr;
  SessionOptions options;
  std::shared_ptr<WeightCache> weights;
  std::shared_ptr<const Plan> plan;
  // What a continuation skips: the nodes the plan computed and its stops
  // (made with the stage, not per run).
  std::unordered_set<const Node*> done;
  mutable PlanCache next{kContinuations};
};

// Runs `first` and the plans that continue it: the graph's outputs.
std::vector<Tensor> run_stages(const Stage& first, const std::vector<const Tensor*>& inputs,
                               const BnStatsHook* hook);

}  // namespace bnfold::rt
