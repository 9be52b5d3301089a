// Internal: a graph compiled for one input-shape signature. Built once, then
// executed by any number of threads, each with its own arena.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "graph/graph.hpp"
#include "runtime/kernel.hpp"
#include "runtime/session.hpp"

namespace bnfold::rt {

struct Slot {
  DType dtype = DType::Undefined;
  std::vector<int64_t> dims;
  const Tensor* constant = nullptr;  // weights and values computed at plan time
  int input = -1;                    // index into the run's inputs, or -1
  size_t offset = 0;                 // in the arena, for computed values
  size_t bytes = 0;
};

struct Step {
  const Node* node = nullptr;
  std::unique_ptr<OpKernel> kernel;
  std::vector<int> in, out;  // slot ids, -1 for omitted ones
};

class Plan {
 public:
  struct Input {
    const Value* value;
    std::vector<int64_t> dims;
    const Tensor* known = nullptr;  // a value the plan may depend on (copied)
  };
  // inputs: every graph input a run will feed. Throws bnfold::Error naming the
  // node that cannot run, or NeedsInputValue.
  Plan(const Graph& graph, const std::vector<Input>& inputs, const SessionOptions& options);

  // inputs: in the order given to the constructor.
  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs) const;

  size_t arena_bytes() const { return arena_bytes_; }
  size_t num_steps() const { return steps_.size(); }

 private:
  void plan_memory();

  std::vector<Slot> slots_;
  std::vector<Step> steps_;
  std::vector<int> output_slots_;
  std::vector<std::unique_ptr<Tensor>> folded_;  // plan-time values (stable addresses)
  size_t arena_bytes_ = 0;
};

}  // namespace bnfold::rt
