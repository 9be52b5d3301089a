#include "bnfold/analysis/fold_workflow.hpp"

#include "bnfold/version.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/graph/batchnorm.hpp"
#include "bnfold/passes/fold.hpp"
#include "bnfold/passes/pass.hpp"

namespace bnfold {

void stamp_producer(Graph& g) {
  g.info.producer_name = "bnfold";
  g.info.producer_version = BNFOLD_VERSION_STRING;
}

FoldResult fold_model(const Graph& original, const FoldModelOptions& options) {
  FoldResult r;
  std::shared_ptr<Graph> reference;
  if (options.eval_mode) {
    reference = clone_graph(original);
    std::vector<std::string> training;
    for (const Node* n : reference->topological_order())
      if (n->op_type() == "BatchNormalization" && n->domain().empty() && batchnorm_attrs(*n).training)
        training.push_back(n->output(0)->name());
    make_pass("eval-mode")->run(*reference);
    for (const auto& out : training) {
      const Value* v = reference->find_value(out);
      if (v && v->producer() && !batchnorm_attrs(*v->producer()).training) r.converted.push_back(out);
    }
  }
  const Graph& source = reference ? *reference : original;
  r.model = clone_graph(source);
  r.report = fold_batchnorms(*r.model, options.pipeline);
  if (options.verify) r.verification = verify_fold(source, *r.model, &r.report, options.verify_options);
  stamp_producer(*r.model);
  return r;
}

}  // namespace bnfold
