// Internal: a graph compiled for one input-shape signature. Built once (by
// PlanBuilder), then executed by any number of threads, each with its own
// arena of activations.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "bnfold/graph/graph.hpp"
#include "ops/kernel.hpp"
#include "bnfold/runtime/session.hpp"

namespace dnnl {
struct stream;
}

namespace bnfold::rt {

class WeightCache;

// The runtime builds on the ops layer's kernel interface and reference kernels.
using namespace bnfold::ops;

// One tensor of the plan: a weight or plan-time value, a run input, or an
// activation in the arena. Activations between oneDNN ops may be in a blocked
// layout; `bytes` then comes from oneDNN, and only oneDNN steps read them.
struct Slot {
  DType dtype = DType::Undefined;
  std::vector<int64_t> dims;
  const Tensor* constant = nullptr;
  int input = -1;     // index into the run's inputs, or -1
  size_t offset = 0;  // in the arena, for activations
  size_t bytes = 0;   // 0: the plain row-major size
  bool plain = true;
  // A view: the same bytes as slot `view_of` (a slot that is no view),
  // seen with other dims (Reshape, Flatten...) or as is (Identity), computed
  // by no step of its own, or a Concat input its producer writes into its box
  // of the output (view_bytes). It keeps its base alive as long as it is used.
  int view_of = -1;
  // Where in its base's bytes a view starts: 0, or a Concat input's box of
  // the output when its producer writes there (PlanBuilder::into_box).
  size_t view_bytes = 0;
};

// What a step sees while running: the address of every slot.
struct RunState {
  std::vector<void*> ptr;
  dnnl::stream* stream = nullptr;
  const BnStatsHook* bn_hook = nullptr;
  // Per step, what it keeps between runs that use the same arena (oneDNN
  // memory objects over the arena's addresses): one run at a time uses an
  // arena, so a step may change its entry without locking.
  std::vector<std::shared_ptr<void>>* cache = nullptr;
  size_t step = 0;  // the running step's index
};

// What executes a step, for plan statistics and the structural tests.
enum class StepKind {
  OneDnn,        // a oneDNN primitive computing a node (and what is fused into it)
  Reorder,       // a oneDNN layout change or copy that computes no node
  Native,        // bnfold's own vectorized loop, where no oneDNN primitive fits (Concat + affine)
  Reference,     // a plain reference kernel
  BnStatistics,  // a plain BatchNormalization that measures its input's statistics
  Statistics,    // measures a BN input's statistics in place, computes nothing
};

class Step {
 public:
  virtual ~Step() = default;
  virtual void run(RunState& state) const = 0;
  virtual StepKind kind() const = 0;
  virtual std::string describe() const = 0;  // "Conv (oneDNN) + relu", for logs and tests
  // The oneDNN implementation that runs it ("brg:avx512_core", "ref:any"); "" for plain kernels.
  virtual std::string implementation() const { return ""; }
  const Node* node = nullptr;  // the node it computes (null for inserted reorders)
  std::vector<int> in, out;    // slots read and written (-1: omitted)
  double flops = 0;            // multiply-adds x 2 of a Conv/Gemm/MatMul at this plan's shapes
  bool one_thread = false;     // too little work to share: runs on the calling thread alone
  // Why the plan builder chose this form where it had a choice (a fusion taken
  // or not, a layout kept, Winograd) and what oneDNN offered; "" where it had none.
  std::string why;
};

class Plan {
 public:
  struct Input {
    const Value* value;
    std::vector<int64_t> dims;
    const Tensor* known = nullptr;  // a value the plan may depend on (copied)
    DType dtype = DType::Undefined;  // the run's, where the graph does not say (a carried value)
  };
  // inputs: every graph input a run will feed (for a continuation: the values
  // carried from the plan before it). done: the nodes computed before this
  // plan, which it skips. Throws bnfold::Error naming the node that cannot
  // run, or NeedsInputValue.
  // weights: reordered constant weights shared with the session's other plans (null: the plan's own).
  Plan(const Graph& graph, const std::vector<Input>& inputs, const SessionOptions& options,
       std::shared_ptr<WeightCache> weights = nullptr, const std::unordered_set<const Node*>* done = nullptr);
  ~Plan();

  // inputs: in the order given to the constructor. With step_ms, each step
  // is timed (waiting for it to finish) and its milliseconds added there.
  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs, std::vector<double>* step_ms = nullptr,
                          const BnStatsHook* bn_hook = nullptr) const;

  // A plan stops before the nodes whose outputs' shapes need run-time values
  // (stops(), a NonZero on an image's scores, an If): its run then returns the
  // values that what is left reads (carry(), with carry_known()'s constant
  // where the plan knew it), the stops run on them (ops::run_node), and a
  // plan for the rest continues (runtime/stages.cpp). Without stops, run()
  // returns the graph's outputs.
  const std::vector<const Node*>& stops() const { return stops_; }
  const std::vector<const Value*>& carry() const { return carry_; }
  const std::vector<const Tensor*>& carry_known() const { return carry_known_; }
  // The nodes computed by this plan or before it.
  const std::unordered_set<const Node*>& done() const { return done_; }

  size_t arena_bytes() const { return arena_bytes_; }
  const std::vector<std::unique_ptr<Step>>& steps() const { return steps_; }
  const std::vector<Slot>& slots() const { return slots_; }
  const std::vector<int>& output_slots() const { return output_slots_; }

 private:
  friend class PlanBuilder;
  void plan_memory();

  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<Step>> steps_;
  std::vector<int> output_slots_;
  std::vector<const Node*> stops_;
  std::vector<const Value*> carry_;
  std::vector<const Tensor*> carry_known_;
  std::unordered_set<const Node*> done_;
  std::vector<std::unique_ptr<Tensor>> owned_;  // plan-time values (stable addresses)
  std::shared_ptr<WeightCache> weights_;
  size_t arena_bytes_ = 0;
  // Arenas of finished runs, reused: a fresh one would page-fault all of its
  // memory on every run (measured: most of a 300 MB batch-32 run's BN time).
  // Each concurrent run takes its own.
  struct Arena {
    std::shared_ptr<void> bytes;
    std::vector<std::shared_ptr<void>> cache;  // RunState::cache
  };
  std::unique_ptr<Arena> take_arena() const;
  void give_back(std::unique_ptr<Arena> arena) const;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Arena>> free_arenas_;
  bool uses_dnnl_ = false;
};

}  // namespace bnfold::rt
