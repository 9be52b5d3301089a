#include "bnfold/analysis/fold_workflow.hpp"

#include "bnfold/version.hpp"

#include <algorithm>

#include "bnfold/analysis/quant_readiness.hpp"
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
  std::shared_ptr<Graph> folded_only;  // before equalization, for verification
  if (options.equalize) {
    const auto summary = [](const Graph& g, size_t* layers, size_t* safe, double* worst) {
      const auto layers_now = quantization_readiness(g);
      *layers = layers_now.size();
      *safe = 0;
      *worst = layers_now.empty() ? 0 : 1e300;
      for (const auto& l : layers_now) {
        *safe += l.verdict == QuantVerdict::PerTensorSafe;
        *worst = std::min(*worst, l.sqnr_tensor_db);
      }
    };
    FoldResult::Equalization e;
    summary(*r.model, &e.layers, &e.safe_before, &e.worst_before);
    if (options.verify) folded_only = clone_graph(*r.model);
    e.changed = make_pass("equalize")->run(*r.model);
    summary(*r.model, &e.layers, &e.safe_after, &e.worst_after);
    r.equalization = e;
  }
  if (options.verify) {
    if (r.equalization && r.equalization->changed) {
      // Each fold checked where it is (the model before equalization), and the
      // equalized model's outputs: its values between layers are rescaled per
      // channel by design.
      r.verification = verify_fold(source, *folded_only, &r.report, options.verify_options);
      VerifyOptions outputs = options.verify_options;
      outputs.outputs_only = true;
      const VerifyResult eq = verify_fold(source, *r.model, nullptr, outputs);
      r.verification->outputs = eq.outputs;
      r.verification->ok = r.verification->ok && eq.ok;
    } else {
      r.verification = verify_fold(source, *r.model, &r.report, options.verify_options);
    }
  }
  stamp_producer(*r.model);
  return r;
}

}  // namespace bnfold
