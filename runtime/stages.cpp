#include "runtime/stages.hpp"

#include <unordered_map>

#include "ops/eager.hpp"

namespace bnfold::rt {

namespace {

std::string signature(const std::vector<Plan::Input>& fed, const std::vector<const Tensor*>& values,
                      const std::vector<bool>& value_keyed) {
  std::string key;
  for (size_t i = 0; i < fed.size(); ++i) {
    key.append(reinterpret_cast<const char*>(fed[i].dims.data()), fed[i].dims.size() * sizeof(int64_t));
    key += '|';
    if (value_keyed[i] && values[i] && !fed[i].known)
      key.append(static_cast<const char*>(values[i]->data()), values[i]->nbytes());
    key += ';';
  }
  return key;
}

}  // namespace

std::shared_ptr<const Stage> PlanCache::find(const Graph& graph, const SessionOptions& options, bool measured,
                                             const std::shared_ptr<WeightCache>& weights,
                                             const std::vector<Plan::Input>& fed,
                                             const std::vector<const Tensor*>& values,
                                             const std::unordered_set<const Node*>* done) {
  std::lock_guard<std::mutex> lock(mutex_);
  measured |= options.collect_bn_stats;
  if (value_keyed_.size() != fed.size()) value_keyed_.assign(fed.size(), false);
  for (;;) {
    const std::string key = (measured ? "m" : "p") + signature(fed, values, value_keyed_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
    std::vector<Plan::Input> in = fed;
    bool by_value = false;
    for (size_t i = 0; i < in.size(); ++i)
      if (value_keyed_[i] && !in[i].known && values[i]) {
        in[i].known = values[i];
        by_value = true;
      }
    try {
      auto stage = std::make_shared<Stage>();
      stage->graph = &graph;
      stage->options = options;  // only when a plan is built: run() stays free of copies
      stage->options.collect_bn_stats = measured;
      stage->weights = weights;
      stage->plan = std::make_shared<const Plan>(graph, in, stage->options, weights, done);
      if (!stage->plan->stops().empty()) {
        stage->done = stage->plan->done();
        stage->done.insert(stage->plan->stops().begin(), stage->plan->stops().end());
      }
      plans_.emplace(key, stage);
      if (bound_ || by_value) {
        bounded_.push_back(key);
        if (bounded_.size() > (bound_ ? bound_ : kValuePlans)) {
          plans_.erase(bounded_.front());
          bounded_.pop_front();
        }
      }
      return stage;
    } catch (const NeedsInputValue& e) {
      size_t i = 0;
      while (i < fed.size() && fed[i].value->name() != e.input()) ++i;
      BNFOLD_CHECK(i < fed.size() && !value_keyed_[i], ErrorCode::Internal,
                   "input '{}' decides a shape, but a plan keyed by its value still needs it", e.input());
      BNFOLD_CHECK(values[i], ErrorCode::NeedsInputValue,
                   "input '{}' decides a shape in the model; its value is needed to build the plan", e.input());
      value_keyed_[i] = true;
    }
  }
}

size_t PlanCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return plans_.size();
}

std::vector<Tensor> run_stages(const Stage& first, const std::vector<const Tensor*>& inputs,
                               const BnStatsHook* hook) {
  const Stage* stage = &first;
  // The continuations this run uses, kept alive while it does (a cache may evict them meanwhile).
  std::vector<std::shared_ptr<const Stage>> held;
  std::vector<Tensor> results = stage->plan->run(inputs, nullptr, hook);
  while (!stage->plan->stops().empty()) {
    const Plan& plan = *stage->plan;
    std::deque<Tensor> owned;  // stable addresses as it grows
    std::vector<Plan::Input> fed;
    std::vector<const Tensor*> values;
    std::unordered_map<const Value*, const Tensor*> at;
    const auto hold = [&](const Value* v, Tensor t, const Tensor* known) {
      owned.push_back(std::move(t));
      at[v] = &owned.back();
      fed.push_back({v, owned.back().dims(), known, owned.back().dtype()});
      values.push_back(&owned.back());
    };
    for (size_t i = 0; i < plan.carry().size(); ++i) hold(plan.carry()[i], std::move(results[i]), plan.carry_known()[i]);
    for (const Node* stop : plan.stops()) {
      std::vector<const Tensor*> in;
      for (const Value* v : stop->inputs()) {
        auto it = v ? at.find(v) : at.end();
        BNFOLD_CHECK(!v || it != at.end() || v->has_data(), ErrorCode::Internal, "{}: input '{}' was not carried",
                     stop->label(), v ? v->name() : "");
        in.push_back(!v ? nullptr : it != at.end() ? it->second : &v->data());
      }
      std::vector<Tensor> out = ops::run_node(*stop, in);
      for (size_t k = 0; k < out.size(); ++k)
        if (stop->output(k)) hold(stop->output(k), std::move(out[k]), nullptr);
    }
    held.push_back(stage->next.find(*stage->graph, stage->options, stage->options.collect_bn_stats, stage->weights,
                                    fed, values, &stage->done));
    stage = held.back().get();
    results = stage->plan->run(values, nullptr, hook);
  }
  return results;
}

}  // namespace bnfold::rt
