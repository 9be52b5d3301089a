// If: runs the branch its condition picks (ops/eager.cpp) when the plan is
// built, if the condition and what the branch reads are known then. Where
// they are run-time values, constant() stops the plan before the node and
// the runtime calls infer() again with the run's values (ops/eager.hpp).
#include "ops/eager.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

class If : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const Tensor& c = ctx.constant(0, "the condition, which picks the branch");
    BNFOLD_NODE_CHECK(ctx, c.numel() == 1, "the condition must hold one element, got {}", c.describe());
    const Node& n = ctx.node();
    const char* which = c.value_at(0) != 0 ? "then_branch" : "else_branch";
    auto it = n.attrs().find(which);
    BNFOLD_NODE_CHECK(ctx, it != n.attrs().end() && it->second.kind == AttrKind::Graph && it->second.g,
                      "no {} graph", which);
    const Graph& body = *it->second.g;
    const auto captured = static_cast<size_t>(it->second.i);
    BNFOLD_NODE_CHECK(ctx, body.inputs().size() == captured && ctx.num_inputs() == 1 + captured,
                      "{} declares inputs of its own; an If branch takes none", which);
    BNFOLD_NODE_CHECK(ctx, body.outputs().size() == ctx.num_outputs(), "{} has {} outputs, the node {}", which,
                      body.outputs().size(), ctx.num_outputs());
    std::vector<const Tensor*> in;
    for (size_t j = 0; j < captured; ++j)
      in.push_back(ctx.has_input(1 + j) ? &ctx.constant(1 + j, "a value the branch reads") : nullptr);
    std::vector<Tensor> out = run_graph(body, in);
    for (size_t k = 0; k < out.size(); ++k)
      if (ctx.has_output(k)) ctx.set_output_value(k, std::move(out[k]));
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&) const override {
    fail(ErrorCode::Internal, "If computes its outputs in infer()");
  }
};

}  // namespace

std::unique_ptr<OpKernel> make_if(const Node&, int) { return std::make_unique<If>(); }

}  // namespace bnfold::ops
