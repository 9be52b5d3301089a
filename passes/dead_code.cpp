// Dead-node elimination: nodes none of whose outputs is used or a graph
// output are removed (repeatedly, so whole dead chains go), then constants
// nothing reads. Folds leave the old weights behind; this drops them.
#include "passes/passes.hpp"

namespace bnfold {

namespace {

class DeadCode : public Pass {
 public:
  const char* name() const override { return "dead-code"; }

  bool run(Graph& g) override {
    bool changed = false;
    const auto order = g.topological_order();
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      Node* n = *it;
      bool live = false;
      for (const Value* out : n->outputs())
        if (out && (!out->uses().empty() || out->is_graph_output())) live = true;
      if (live) continue;
      g.erase_node(n);
      changed = true;
    }
    return g.remove_unused_values() > 0 || changed;
  }
};

}  // namespace

std::unique_ptr<Pass> make_dead_code() { return std::make_unique<DeadCode>(); }

}  // namespace bnfold
