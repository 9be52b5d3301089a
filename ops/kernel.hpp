// Internal: the interface every op implements. A kernel object is made per
// node per plan: infer() runs once when the plan is built (validates
// attributes and dtypes, reads them into members, computes output shapes, and
// may compute outputs outright when they are known then, like Shape's);
// run() executes on plain row-major tensors and may be called from several
// threads at once, so it must not change the kernel.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graph/check.hpp"
#include "bnfold/graph/graph.hpp"

namespace bnfold::ops {

// What the planner knows about one input or output when the plan is built.
struct ArgInfo {
  bool present = false;
  DType dtype = DType::Undefined;
  std::vector<int64_t> dims;
  const Tensor* value = nullptr;  // set when the value is known at plan time
  std::string graph_input;        // the graph input it is, when it is one
  // A value computed at run time from small graph inputs (and constants)
  // alone: those inputs, whose values would make it known at plan time.
  std::vector<std::string> computed_from;
};

// The most elements a graph input may have for plans to be keyed by its
// value (shape-like); a larger one (an image, boxes) would make a plan per run.
constexpr int64_t kShapeLikeInput = 64;

// Thrown by InferContext::constant() when a shape-determining input is a
// shape-like graph input, or computed from such inputs and constants alone:
// the session then compiles plans per value of that input.
class NeedsInputValue : public Error {
 public:
  explicit NeedsInputValue(const std::string& input)
      : Error(ErrorCode::NeedsInputValue, "the plan needs the value of input '" + input + "'"), input_(input) {}
  const std::string& input() const { return input_; }

 private:
  std::string input_;
};

// Thrown by InferContext::constant() when a shape-determining input is
// computed at run time from large inputs (an image's scores to NonZero, a
// branch condition): the plan stops before the node, which then runs on the
// run's values (run_node) before a plan for the rest is built.
class NeedsRunValue : public Error {
 public:
  explicit NeedsRunValue(const std::string& message) : Error(ErrorCode::Unsupported, message) {}
};

class InferContext {
 public:
  InferContext(const Node& node, std::vector<ArgInfo> inputs);

  const Node& node() const { return node_; }
  int64_t opset() const { return node_.graph_opset(); }
  std::string label() const { return node_.label(); }

  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i].present; }
  // A required input; throws naming the node when absent.
  const ArgInfo& input(size_t i) const;
  const std::vector<int64_t>& dims(size_t i) const { return input(i).dims; }
  DType dtype(size_t i) const { return input(i).dtype; }
  // An input whose value must be known when the session is created (a shape,
  // axes, pads...). Throws naming the node when it is computed at run time.
  const Tensor& constant(size_t i, const char* what) const;
  // Reads an integer tensor input (int32 or int64) as int64 values.
  std::vector<int64_t> constant_ints(size_t i, const char* what) const;

  size_t num_outputs() const { return node_.outputs().size(); }
  bool has_output(size_t i) const { return node_.output(i) != nullptr; }
  void set_output(size_t i, DType dtype, std::vector<int64_t> dims);
  // The output's value is known now; no run-time work is needed for it.
  void set_output_value(size_t i, Tensor value);
  const std::vector<ArgInfo>& outputs() const { return outputs_; }
  std::vector<Tensor>& output_values() { return output_values_; }

 private:
  const Node& node_;
  std::vector<ArgInfo> inputs_;
  std::vector<ArgInfo> outputs_;
  std::vector<Tensor> output_values_;
};

// How a kernel's outputs relate to its input 0 when they only rearrange it
// (known after infer()), so that a runtime may move the data its own way.
struct DataMovement {
  enum class Kind {
    None,  // the kernel computes
    View,  // output 0 is input 0's bytes, with its own dims (Reshape, Identity...)
    Copy,  // each output is a strided box of input 0, its axes permuted
  };
  Kind kind = Kind::None;
  // Copy: output k's element at index i holds input 0's element at
  // start[k][a] + i[perm^-1 ...]; precisely, output axis j reads input axis
  // perm[j] (empty perm: the identity), from start[k][perm[j]] in steps of 1
  // (of step[a] where given).
  std::vector<int64_t> perm;
  std::vector<std::vector<int64_t>> start;  // per output, per input axis
  // Copy without perm: per input axis, the output's step through it (positive;
  // empty: every step 1). Output 0 only (Slice's steps).
  std::vector<int64_t> step;
};

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual void infer(InferContext& ctx) = 0;
  virtual DataMovement movement() const { return {}; }
  // in[i] is nullptr for an omitted optional input; out[i] for an unused output.
  virtual void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const = 0;
};

}  // namespace bnfold::ops

// Throws bnfold::Error prefixed with the node's label.
#define BNFOLD_NODE_CHECK(ctx, cond, ...)                                                   \
  do {                                                                                      \
    if (!(cond))                                                                            \
      ::bnfold::fail(::bnfold::ErrorCode::Unsupported,                                      \
                     (ctx).label() + ": " + fmt::format(__VA_ARGS__));                     \
  } while (0)
