// Folding as a workflow: fold a copy of the model, optionally verify it
// against the original. `bnfold fold`, Python's fold() and the C API's
// bnfold_model_fold_report call this.
#pragma once

#include "bnfold/graph/export.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bnfold/analysis/verify_fold.hpp"
#include "bnfold/passes/fold_report.hpp"
#include "bnfold/passes/pipeline.hpp"

namespace bnfold BNFOLD_API {

struct FoldModelOptions {
  PipelineOptions pipeline;
  // First convert BatchNormalization nodes in training mode to inference mode
  // (the "eval-mode" pass: what PyTorch's model.eval() does), so that they use
  // the running statistics the model carries and fold. Verification then
  // compares with the converted model: the original computes with batch
  // statistics, a different function.
  bool eval_mode = false;
  bool verify = false;
  VerifyOptions verify_options;
};
struct FoldResult {
  std::shared_ptr<Graph> model;  // the folded model, producer "bnfold"
  FoldReport report;             // with the errors measured at each fold when verified
  std::optional<VerifyResult> verification;
  std::vector<std::string> converted;  // BNs eval_mode switched to inference mode, by output name
};
FoldResult fold_model(const Graph& original, const FoldModelOptions& options = {});

// Marks a model bnfold wrote: producer "bnfold" and this version.
void stamp_producer(Graph& graph);

}  // namespace bnfold
