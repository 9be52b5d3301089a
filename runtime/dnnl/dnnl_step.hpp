// Internal: a step that executes one oneDNN primitive, and the helpers the
// per-op factories share (fused post-ops, constant memories).
#pragma once

#include <dnnl.hpp>

#include <string>
#include <vector>

#include "runtime/dnnl/dnnl_util.hpp"
#include "runtime/plan_builder.hpp"

namespace bnfold::rt {

// Primitive attributes with a user-managed scratchpad: oneDNN's own
// scratchpad is shared by all executions of a primitive, so concurrent runs
// would overwrite each other's; ours lives in each run's arena.
dnnl::primitive_attr scratch_attr();

class DnnlStep : public Step {
 public:
  // pd must have been made with scratch_attr() (or a copy of it).
  DnnlStep(PlanBuilder& b, const dnnl::primitive_desc_base& pd, std::string what,
           StepKind kind = StepKind::OneDnn);
  // An argument backed by a slot, read or written in layout md.
  void arg(int dnnl_arg, int slot, const dnnl::memory::desc& md);
  // A constant argument (weights, bias, statistics), made once.
  void fixed(int dnnl_arg, dnnl::memory m) { fixed_.emplace_back(dnnl_arg, std::move(m)); }
  void run(RunState& state) const override;
  StepKind kind() const override { return kind_; }
  std::string describe() const override { return what_; }
  std::string implementation() const override { return impl_; }

 private:
  struct Arg {
    int dnnl_arg;
    int slot;
    dnnl::memory::desc md;
  };
  dnnl::primitive prim_;
  std::string what_;
  StepKind kind_;
  std::string impl_;  // primitive_desc::impl_info_str(), recorded at plan build
  std::vector<Arg> args_;
  std::vector<std::pair<int, dnnl::memory>> fixed_;
};

// An element-wise op as oneDNN algorithms (HardSigmoid takes two).
struct EltwiseAlg {
  dnnl::algorithm alg;
  float alpha, beta;
};
// The algorithms for node n (of entry e), or an empty list when oneDNN cannot express it.
std::vector<EltwiseAlg> eltwise_algs(const OpEntry& e, const Node& n, const PlanBuilder& b);
std::vector<EltwiseAlg> eltwise_algs(const Node& n, const PlanBuilder& b);

// A gated activation on value v: x * Sigmoid(x) (SiLU, oneDNN's swish) or
// x * HardSigmoid(x; 1/6, 1/2) (HardSwish), written as a gate node and a Mul;
// or GELU as exporters write it, 0.5 x (1 + erf(x / sqrt 2)): Div by sqrt 2
// (or Mul by its inverse), Erf, Add 1, then Mul by x and by 0.5 in either
// order (oneDNN's gelu_erf).
struct GatedActivation {
  dnnl::algorithm alg = dnnl::algorithm::undef;
  const Node* gate = nullptr;
  const Node* mul = nullptr;       // the node whose output it computes; null: v is not the input of one
  std::vector<const Node*> nodes;  // every node it stands for, in graph order (gate first, mul last)
  const char* name = "";           // "SiLU", "HardSwish", "GELU"
};
GatedActivation gated_activation(const PlanBuilder& b, const Value* v);

// The tensor v holds where the plan knows it when it is built: a constant
// slot (computed at plan time), or an initializer no step has met yet; null
// for activations, graph inputs and absent inputs.
const Tensor* known_constant(const PlanBuilder& b, const Value* v);

// Whether consumer c of x applies a constant operand to it that oneDNN can
// take as a binary post-op on an output of `dims`: Mul/Add by, Sub/Div by, a
// scalar or one value per channel (axis 1). Gives the algorithm, the constant
// and its dims broadcast to dims' rank.
// any_axes: a constant over any axes instead (each of its dims 1 or the
// output's: an attention score's bias [1, heads, T, T]), for the steps that
// try it and fall back where oneDNN has no fast kernel for it.
bool per_channel_constant(const PlanBuilder& b, const Node& c, const Value* x, const std::vector<int64_t>& dims,
                          dnnl::algorithm* alg, const Tensor** data, std::vector<int64_t>* cdims,
                          bool any_axes = false);

// Post-ops fused into a Conv / ConvTranspose / Gemm / binary: the chain of
// activations (and, where allowed, one residual Add) that follows it.
struct Fusion {
  dnnl::post_ops ops;
  // Constant operands of binary post-ops (a per-channel Mul/Add: BN kept as
  // scale-shift): post-op index, data, descriptor.
  struct BinaryArg {
    int index;
    const Tensor* data;
    dnnl::memory::desc md;
  };
  std::vector<BinaryArg> binary_args;
  std::vector<const Node*> absorbed;
  const Value* result = nullptr;  // the value the fused step finally produces
  int residual = -1;              // slot summed into dst (dst is prefilled with it)
  std::string what;               // " + add + relu"
  bool wide_binary = false;       // a binary post-op over more than the channel axis (any_axes)
};
// dims: the producer's output dims. any_axes: see per_channel_constant.
Fusion plan_fusion(PlanBuilder& b, const Node& producer, const std::vector<int64_t>& dims, bool allow_sum,
                   bool any_axes = false);
// Gives the step the constant operands of the fusion's binary post-ops.
void add_fusion_args(DnnlStep& step, const Fusion& f);

// Defines the fused step's output, prefills it with the residual, and marks
// the absorbed nodes. Returns the dst slot.
int finish_fusion(PlanBuilder& b, const Fusion& f, const Node& producer, const std::vector<int64_t>& dims,
                  const dnnl::memory::desc& dst_md);

using dims_t = dnnl::memory::dims;

// The slot of node input i (the value must have been computed or defined).
inline int input_slot(const PlanBuilder& b, const Node& n, size_t i) { return b.slot_of(n.input(i)); }
// A step computing node n; its description names the op and what is fused.
std::unique_ptr<DnnlStep> step_for(PlanBuilder& b, const Node& n, const dnnl::primitive_desc_base& pd,
                                   const std::string& extra = "");
// d with leading 1s up to `rank` (numpy broadcasting alignment).
std::vector<int64_t> with_rank(const std::vector<int64_t>& d, size_t rank);

// A plain f32 memory over a constant tensor (converted to f32 when needed).
dnnl::memory constant_memory(PlanBuilder& b, const Tensor& t, const std::vector<int64_t>& dims);

}  // namespace bnfold::rt
