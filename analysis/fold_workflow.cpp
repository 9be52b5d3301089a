#include "bnfold/analysis/fold_workflow.hpp"

#include "bnfold/version.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/passes/fold.hpp"

namespace bnfold {

void stamp_producer(Graph& g) {
  g.info.producer_name = "bnfold";
  g.info.producer_version = BNFOLD_VERSION_STRING;
}

FoldResult fold_model(const Graph& original, const FoldModelOptions& options) {
  FoldResult r;
  r.model = clone_graph(original);
  r.report = fold_batchnorms(*r.model, options.pipeline);
  if (options.verify) r.verification = verify_fold(original, *r.model, &r.report, options.verify_options);
  stamp_producer(*r.model);
  return r;
}

}  // namespace bnfold
