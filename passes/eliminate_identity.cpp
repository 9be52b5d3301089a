// Identity / inference Dropout elimination.
//
//   x -> Identity -> y -> ...      becomes      x -> ...   (x renamed y)
//
// Preconditions: (1) Dropout is not in training mode and its mask output is
// unused; (2) when y is a graph output, x must be free to take its name: not a
// graph input, not a constant, not another graph output. These ops hide a
// Conv -> BN adjacency from the folding passes.
#include "passes/affine.hpp"
#include "passes/graph_surgery.hpp"
#include "passes/passes.hpp"

namespace bnfold {

namespace {

class EliminateIdentity : public Pass {
 public:
  const char* name() const override { return "eliminate-identity"; }

  bool run(Graph& g) override {
    bool changed = false;
    for (Node* n : g.topological_order()) {
      if (!n->domain().empty() || (n->op_type() != "Identity" && n->op_type() != "Dropout")) continue;
      Value* x = n->input(0);
      Value* y = n->output(0);
      if (!x || !y) continue;
      if (n->op_type() == "Dropout" && !inference_dropout(*n)) continue;
      if (y->is_graph_output() && (x->is_graph_input() || x->has_data() || x->is_graph_output())) continue;
      if (x->has_data() && !x->is_constant()) continue;
      bypass(g, y, x, {n});
      changed = true;
    }
    return changed;
  }

 private:
  static bool inference_dropout(const Node& n) {
    if (n.output(1) && (!n.output(1)->uses().empty() || n.output(1)->is_graph_output())) return false;
    if (n.graph_opset() < 7 && n.has_attr("is_test") && n.attr_int("is_test") == 0) return false;
    const Value* mode = n.input(2);
    if (!mode) return true;
    return mode->is_constant() && mode->data().numel() == 1 && mode->data().value_at(0) == 0;
  }
};

}  // namespace

std::unique_ptr<Pass> make_eliminate_identity() { return std::make_unique<EliminateIdentity>(); }

}  // namespace bnfold
