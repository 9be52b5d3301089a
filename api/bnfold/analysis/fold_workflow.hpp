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
  // After folding, cross-layer equalization (the "equalize" pass) for a model
  // to be quantized to int8 with per-tensor weight scales; verification then
  // checks the equalized model, which computes the same up to rounding.
  bool equalize = false;
  bool verify = false;
  VerifyOptions verify_options;
};
struct FoldResult {
  std::shared_ptr<Graph> model;  // the folded model, producer "bnfold"
  FoldReport report;             // with the errors measured at each fold when verified
  std::optional<VerifyResult> verification;
  std::vector<std::string> converted;  // BNs eval_mode switched to inference mode, by output name
  // With equalize: the int8 readiness of the folded weights before and after
  // (analysis/quant_readiness.hpp): layers judged, per-tensor safe, and the
  // lowest per-tensor SQNR (dB).
  struct Equalization {
    bool changed = false;
    size_t layers = 0, safe_before = 0, safe_after = 0;
    double worst_before = 0, worst_after = 0;
  };
  std::optional<Equalization> equalization;
};
FoldResult fold_model(const Graph& original, const FoldModelOptions& options = {});

// Marks a model bnfold wrote: producer "bnfold" and this version.
void stamp_producer(Graph& graph);

}  // namespace bnfold
