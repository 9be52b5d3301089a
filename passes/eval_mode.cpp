// eval-mode: what PyTorch's model.eval() does to an exported model. A
// BatchNormalization in training mode (training_mode=1; is_test=0 before
// opset 7) normalizes each batch by its own statistics, so a sample's output
// depends on the rest of its batch and at batch size 1 on itself alone; in
// inference mode it uses the running statistics the model carries. The node
// is replaced by one in inference mode with the same inputs and output name.
// Not in the default pipeline: `bnfold fold --eval-mode` asks for it, since
// it changes what the model computes.
#include <set>

#include "passes/graph_surgery.hpp"
#include "passes/passes.hpp"

namespace bnfold {

namespace {

class EvalMode : public Pass {
 public:
  const char* name() const override { return "eval-mode"; }

  bool run(Graph& g) override {
    return rewrite_until_stable(g, [&](Node* n) {
      if (n->op_type() != "BatchNormalization" || !n->domain().empty()) return false;
      const BatchNormAttrs a = batchnorm_attrs(*n);
      if (!a.training || done_.count(n->name())) return false;
      for (size_t k = 1; k < n->outputs().size(); ++k) {
        const Value* v = n->output(k);
        if (v && (!v->uses().empty() || v->is_graph_output())) {
          done_.insert(n->name());  // once: the model reads its updated statistics
          if (report_)
            report_->note(n->output(0)->name(),
                          fmt::format("stays in training mode: its output {} ('{}') is read by the model", k,
                                      v->name()));
          return false;
        }
      }
      const int64_t opset = n->graph_opset();
      std::vector<Value*> inputs(n->inputs().begin(), n->inputs().end());
      const std::string name = n->name();
      // A fresh output name for now; bypass gives it the old one.
      Node* eval = g.add_node("BatchNormalization", inputs, {g.unique_name(n->output(0)->name() + "_eval")}, name);
      for (const auto& [key, attr] : n->attrs())
        if (key != "training_mode" && key != "is_test") eval->set_attr(key, attr);
      if (opset < 7) {
        Attribute is_test;
        is_test.kind = AttrKind::Int;
        is_test.i = 1;
        eval->set_attr("is_test", is_test);
      }
      Value* old_out = n->output(0);
      bypass(g, old_out, eval->output(0), {n});
      ++converted_;
      return true;
    });
  }

 private:
  std::set<std::string> done_;
  int converted_ = 0;
};

}  // namespace

std::unique_ptr<Pass> make_eval_mode() { return std::make_unique<EvalMode>(); }

}  // namespace bnfold
