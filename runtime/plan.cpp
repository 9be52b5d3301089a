// Running a plan, and placing its activations in one arena by lifetime.
#include "runtime/plan.hpp"

#include "bnfold/graph/memory.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <omp.h>

#include "runtime/dnnl/dnnl_util.hpp"
#include "runtime/dnnl/weight_cache.hpp"
#include "runtime/plan_builder.hpp"

namespace bnfold::rt {

namespace {

constexpr size_t kAlign = 64;

size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// Sets OpenMP's thread count (a per-thread setting) to 1 for the steps made
// for one thread and back to the caller's for the rest, even when a step throws.
class OneThreadSwitch {
 public:
  OneThreadSwitch() : full_(omp_get_max_threads()) {}
  ~OneThreadSwitch() { set(false); }
  OneThreadSwitch(const OneThreadSwitch&) = delete;
  OneThreadSwitch& operator=(const OneThreadSwitch&) = delete;
  void set(bool one) {
    if (one == one_) return;
    omp_set_num_threads(one ? 1 : full_);
    one_ = one;
  }

 private:
  int full_;
  bool one_ = false;
};

}  // namespace

Plan::Plan(const Graph& graph, const std::vector<Input>& inputs, const SessionOptions& options,
           std::shared_ptr<WeightCache> weights, const std::unordered_set<const Node*>* done)
    : weights_(weights ? std::move(weights) : std::make_shared<WeightCache>()) {
  try {
    PlanBuilder(*this, graph, options).build(inputs, done);
  } catch (const dnnl::error& e) {
    // Where a builder did not expect oneDNN to refuse: one error type for callers.
    fail(ErrorCode::Unsupported, std::string("oneDNN cannot describe a step of the plan: ") + e.what());
  }
  plan_memory();
}

Plan::~Plan() = default;

void Plan::plan_memory() {
  // Lifetime of each activation: [defining step, last reading step]; graph
  // outputs live to the end. Inclusive ends keep a step's inputs and outputs
  // apart, so no kernel writes over what it reads.
  // A view's uses are its base's: lifetimes are per base slot.
  const int end = static_cast<int>(steps_.size());
  const auto root = [&](int s) { return slots_[static_cast<size_t>(s)].view_of >= 0 ? slots_[static_cast<size_t>(s)].view_of : s; };
  std::vector<int> first(slots_.size(), -1), last(slots_.size(), -1);
  for (int i = 0; i < end; ++i) {
    for (int s : steps_[static_cast<size_t>(i)]->out)
      if (s >= 0 && first[static_cast<size_t>(root(s))] < 0) first[static_cast<size_t>(root(s))] = i;
    for (const auto* list : {&steps_[static_cast<size_t>(i)]->out, &steps_[static_cast<size_t>(i)]->in})
      for (int s : *list)
        if (s >= 0) last[static_cast<size_t>(root(s))] = std::max(last[static_cast<size_t>(root(s))], i);
  }
  for (int s : output_slots_) last[static_cast<size_t>(root(s))] = end;

  std::vector<int> order;
  for (size_t s = 0; s < slots_.size(); ++s) {
    Slot& slot = slots_[s];
    if (slot.constant || slot.input >= 0 || slot.view_of >= 0 || first[s] < 0) continue;
    if (slot.bytes == 0) slot.bytes = static_cast<size_t>(checked_numel(slot.dims)) * dtype_size(slot.dtype);
    slot.bytes = aligned(slot.bytes);
    order.push_back(static_cast<int>(s));
  }
  // Largest first, each at the lowest offset that no slot alive at the same time uses.
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return slots_[static_cast<size_t>(a)].bytes > slots_[static_cast<size_t>(b)].bytes;
  });
  std::vector<int> placed;
  for (int s : order) {
    const auto us = static_cast<size_t>(s);
    Slot& slot = slots_[us];
    std::vector<std::pair<size_t, size_t>> busy;
    for (int p : placed) {
      const auto sp = static_cast<size_t>(p);
      if (first[sp] <= last[us] && first[us] <= last[sp])
        busy.emplace_back(slots_[sp].offset, slots_[sp].offset + slots_[sp].bytes);
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [b, e] : busy) {
      if (offset + slot.bytes <= b) break;
      offset = std::max(offset, e);
    }
    slot.offset = offset;
    arena_bytes_ = std::max(arena_bytes_, offset + slot.bytes);
    placed.push_back(s);
  }
  for (Slot& slot : slots_)
    if (slot.view_of >= 0) slot.offset = slots_[static_cast<size_t>(slot.view_of)].offset;
}

std::unique_ptr<Plan::Arena> Plan::take_arena() const {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!free_arenas_.empty()) {
      auto a = std::move(free_arenas_.back());
      free_arenas_.pop_back();
      return a;
    }
  }
  auto a = std::make_unique<Arena>();
  a->bytes = allocate(arena_bytes_, false, [] { return std::string("the plan's working memory"); });
  BNFOLD_CHECK(a->bytes != nullptr, ErrorCode::Io, "out of memory allocating {} bytes of activations", arena_bytes_);
  a->cache.resize(steps_.size());
  return a;
}

void Plan::give_back(std::unique_ptr<Arena> arena) const {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  free_arenas_.push_back(std::move(arena));
}

std::vector<Tensor> Plan::run(const std::vector<const Tensor*>& inputs, std::vector<double>* step_ms,
                              const BnStatsHook* bn_hook) const {
  // Returned to the pool when this run ends, also when a step throws.
  std::unique_ptr<Arena> arena = take_arena();
  struct Return {
    const Plan* plan;
    std::unique_ptr<Arena>* arena;
    ~Return() { plan->give_back(std::move(*arena)); }
  } give_back_at_end{this, &arena};
  auto* base = static_cast<char*>(arena->bytes.get());
  RunState state;
  state.ptr.resize(slots_.size());
  for (size_t s = 0; s < slots_.size(); ++s) {
    const Slot& slot = slots_[s];
    state.ptr[s] = slot.constant     ? const_cast<void*>(slot.constant->data())
                   : slot.input >= 0 ? const_cast<void*>(inputs[static_cast<size_t>(slot.input)]->data())
                                     : base + slot.offset;
  }
  // Then the views: a base may come after its view (a Concat's output after
  // the inputs written into it).
  for (size_t s = 0; s < slots_.size(); ++s) {
    const Slot& slot = slots_[s];
    if (slot.view_of >= 0)
      state.ptr[s] = static_cast<char*>(state.ptr[static_cast<size_t>(slot.view_of)]) + slot.view_bytes;
  }
  DnnlStream stream(uses_dnnl_);
  state.stream = stream.get();
  state.bn_hook = bn_hook;
  state.cache = &arena->cache;
  // Steps made for one thread run with OpenMP's count at 1 (oneDNN's own
  // parallel loops read it when they run); the rest with the caller's.
  OneThreadSwitch threads;
  if (step_ms) {
    step_ms->resize(steps_.size(), 0.0);
    for (size_t i = 0; i < steps_.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      state.step = i;
      threads.set(steps_[i]->one_thread);
      steps_[i]->run(state);
      stream.wait();
      (*step_ms)[i] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
  } else {
    for (size_t i = 0; i < steps_.size(); ++i) {
      state.step = i;
      threads.set(steps_[i]->one_thread);
      steps_[i]->run(state);
    }
  }
  threads.set(false);
  stream.wait();
  std::vector<Tensor> results;
  for (int s : output_slots_) {
    const Slot& slot = slots_[static_cast<size_t>(s)];
    results.push_back(Tensor::borrow(slot.dtype, slot.dims, state.ptr[static_cast<size_t>(s)]).clone());
  }
  return results;
}

}  // namespace bnfold::rt
