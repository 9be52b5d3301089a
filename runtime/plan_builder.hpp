// Internal: builds a Plan. Walks the graph in topological order; for each node
// it infers shapes (the op's reference kernel), computes it now if its inputs
// are known, else picks a oneDNN step (runtime/dnnl/) or the reference kernel,
// inserting layout reorders only where a consumer needs another layout.
#pragma once

#include <dnnl.hpp>

#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bnfold/graph/folded_bns.hpp"
#include "ops/op_table.hpp"
#include "runtime/plan.hpp"

namespace bnfold::rt {

class PlanBuilder {
 public:
  PlanBuilder(Plan& plan, const Graph& graph, const SessionOptions& options);
  // done: nodes computed before this plan (see Plan's constructor).
  void build(const std::vector<Plan::Input>& inputs, const std::unordered_set<const Node*>* done = nullptr);

  // --- for the oneDNN step factories
  const Graph& graph() const { return graph_; }
  const SessionOptions& options() const { return options_; }
  // The data type of the compute steps' activations and weights: bf16 under
  // Precision::BFloat16 (the layout of a slot then carries it; a reader that
  // wants plain float32 gets a converting reorder from in_layout), else f32.
  dnnl::memory::data_type compute_type() const {
    return options_.precision == Precision::BFloat16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
  }
  // The data type a compute step writes v in: f32 for a graph output (no
  // rounding to bf16 at the model's edge), else compute_type().
  dnnl::memory::data_type output_type(const Value* v) const {
    return v && v->is_graph_output() ? dnnl::memory::data_type::f32 : compute_type();
  }
  const Slot& slot(int s) const { return plan_.slots_[static_cast<size_t>(s)]; }
  // The slot of a value computed so far, or -1.
  int slot_of(const Value* v) const;
  // The layout a slot is in (plain row-major unless a oneDNN step chose one),
  // with its data type (bf16 under Precision::BFloat16, u8/s8 for quantized data).
  dnnl::memory::desc layout(int s) const;
  // Plain row-major in the slot's own dtype: what reference kernels and graph outputs read.
  dnnl::memory::desc plain_of(int s) const;
  // A slot holding s's data in layout md: s itself, or a reorder inserted now
  // (reused by later consumers).
  int in_layout(int s, const dnnl::memory::desc& md);
  // A new activation slot for value v (its producer's output), in layout md.
  int define(const Value* v, DType dtype, const std::vector<int64_t>& dims, const dnnl::memory::desc* md);
  // v is computed inside another step, into slot s (a fused activation or Add).
  void alias(const Value* v, int s);
  // A slot for value v over the bytes of slot s, with dims (same element
  // count; s plain unless the dims are s's). Returns the new slot.
  int view(const Value* v, int s, const std::vector<int64_t>& dims);
  // Makes activation slot s (already written by earlier steps, in the layout
  // its readers expect) a view of `base` from byte `at`: what wrote s writes
  // there instead (a Concat input into its box of the output). False, changing
  // nothing, where s cannot move: an input, a constant, a view, a dtype other
  // than base's.
  bool into_box(int s, int base, size_t at);
  void add_step(std::unique_ptr<Step> step);
  // FLOPs a step computes for a node it absorbed (a fused depthwise Conv).
  void add_flops(double flops) { current_flops_ += flops; }
  // Whether v is measured for a BN that fold removed (collect_bn_stats on a
  // folded model): its producer must materialize it, no post-op may fuse past it.
  bool tapped(const Value* v) const { return taps_.count(v) != 0; }
  // Marks a node as computed by another node's step (fusion).
  void absorb(const Node* n) { absorbed_.insert(n); }
  // n's output (a DequantizeLinear's, whose readers take its quantized input
  // instead) is computed only if a reader asks for it after all: materialize.
  void defer(const Node* n) {
    deferred_.emplace(n->output(0), n);
    absorbed_.insert(n);
  }
  bool may_defer(const Node* n) const { return !undeferred_.count(n); }
  // The slot of v, building its deferred producer now when it has none (-1: neither).
  int materialize(const Value* v);
  // The node consuming v when it is v's only use and v is no graph output.
  const Node* sole_consumer(const Value* v) const;
  // Whether slot s may be written over by the step being built: an
  // activation (no input, constant or view) whose every value is no graph
  // output and has no consumer left to build besides the nodes in `fusing`.
  bool can_overwrite(int s, const std::vector<const Node*>& fusing) const;
  // Keeps a tensor alive as long as the plan (converted weights...).
  const Tensor* own(Tensor t);
  // A constant (`source` times `scale`, laid out as src_md) as float32 in
  // layout `want`, made once per session.
  dnnl::memory constant_weights(const Tensor& source, double scale, const dnnl::memory::desc& src_md,
                                const dnnl::memory::desc& want);

 private:
  void build_node(const Node& node);
  // After a plan that stops: its outputs are the values the rest reads.
  void carry(const std::vector<const Node*>& rest);
  // Slot s in plain row-major, for the plan's outputs.
  int plain_output(int s);
  // Output 0 as a view of input 0 (DataMovement::Kind::View); false when it
  // cannot be. unread_extra_outputs: the node's other outputs (an inference
  // Dropout's mask) have no reader and are not computed.
  bool build_view(const Node& node, const InferContext& ctx, const std::vector<int>& in,
                  bool unread_extra_outputs = false);
  void add_reference_step(const Node& node, std::unique_ptr<OpKernel> kernel, const InferContext& ctx,
                          const std::vector<int>& in);
  // Adds the statistics steps of the taps whose values exist by now.
  void add_pending_taps();

  Plan& plan_;
  bool continuation_ = false;  // a plan after a stop: its inputs are values computed before
  const Node* current_ = nullptr;  // the node being built, and its FLOPs
  double current_flops_ = 0;
  bool one_thread_ = false;  // the steps being added run on one thread (Step::one_thread), and why
  std::string one_thread_why_;
  const Graph& graph_;
  const SessionOptions& options_;
  std::unordered_map<const Value*, int> slot_of_;
  std::unordered_map<int, dnnl::memory::desc> layout_;  // slots not in plain layout
  struct Reorder {
    int from;
    dnnl::memory::desc md;
    int to;
  };
  std::vector<Reorder> reorders_;
  std::unordered_set<const Node*> absorbed_;
  std::unordered_map<const Value*, const Node*> deferred_;  // outputs of deferred nodes
  std::unordered_set<const Node*> undeferred_;              // deferred, then built after all
  std::unordered_set<const Node*> built_;  // nodes whose steps exist (or are being made)
  std::unordered_map<const Value*, FoldedBn> taps_;  // folded BNs still to measure, by value
  std::vector<const Value*> tap_order_;               // in the annex's order
  // The small graph inputs a run-time value is computed from (with constants),
  // or nullopt when a large input feeds it too (see small_sources()).
  std::optional<std::vector<std::string>> small_sources(const Value* v);
  std::unordered_map<const Value*, std::optional<std::vector<std::string>>> sources_;
};

// Tries to run node with oneDNN; false leaves the builder unchanged (the
// caller then uses the reference kernel). Defined in runtime/dnnl/.
bool build_dnnl_step(PlanBuilder& b, const OpEntry& entry, const Node& node, const InferContext& ctx);

// A kernel whose outputs are strided boxes of its input (Transpose, Slice,
// Split: DataMovement::Kind::Copy) as oneDNN reorders; false when it does not
// apply. Defined in runtime/dnnl/dnnl_copy.cpp.
bool build_copy(PlanBuilder& b, const Node& node, const InferContext& ctx, const DataMovement& mv);

// A BatchNormalization that computes its input's statistics (batch-statistics
// mode, or collection for a hook); false for nodes it does not cover.
// Defined in runtime/bn_step.cpp.
bool build_bn_stats_step(PlanBuilder& b, const Node& node, const InferContext& ctx, const std::vector<int>& in,
                         bool batch_stats);

// A step before an inference-mode BN that measures its input's statistics in
// the input's own layout for the run's hook; false when the layout is not one
// it reads (the caller then uses build_bn_stats_step). Defined in runtime/bn_tap.cpp.
bool build_bn_tap(PlanBuilder& b, const Node& node, const std::vector<int>& in);
// The same for a BN that fold removed: measures slot s (the value the
// record names) and maps the moments back to the BN's input. False when the
// layout is not one it reads.
bool build_folded_tap(PlanBuilder& b, const FoldedBn& bn, int s);

}  // namespace bnfold::rt
