#include "bnfold/passes/pipeline.hpp"

#include "graph/check.hpp"
#include "passes/passes.hpp"

namespace bnfold {

namespace {

struct Entry {
  PassInfo info;
  std::unique_ptr<Pass> (*make)();
};

// The order matters; each line says why the pass stands where it does.
const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = {
      {{"eliminate-identity", "Identity and inference Dropout hide a Conv->BN adjacency"}, make_eliminate_identity},
      {{"constant-folding", "weights computed from constants (Cast, Reshape...) must be constants to fold into"},
       make_constant_folding},
      {{"dead-code", "drops what constant folding left unused"}, make_dead_code},
      {{"matmul-add-to-gemm", "Linear layers exported as MatMul+Add get a bias a BN can fold into"},
       make_matmul_add_to_gemm},
      {{"fold-bn-into-producer", "the exact fold: BN right after a Conv/ConvTranspose/Gemm/MatMul"},
       make_fold_bn_into_producer},
      {{"fold-bn-into-consumer", "a BN before an unpadded Conv, a Gemm or a MatMul folds forward exactly"},
       make_fold_bn_into_consumer},
      {{"bn-to-scale-shift", "what BN remains becomes a precomputed per-channel Mul+Add: no sqrt per run"},
       make_bn_to_scale_shift},
      {{"fold-affine-into-producer", "constant per-channel Mul/Add after a layer (exporters' decomposed BN) fold in"},
       make_fold_affine_into_producer},
      {{"dead-code", "drops the weights the folds replaced"}, make_dead_code},
  };
  return table;
}

}  // namespace

const std::vector<PassInfo>& default_pipeline() {
  static const std::vector<PassInfo> infos = [] {
    std::vector<PassInfo> v;
    for (const auto& e : entries()) v.push_back(e.info);
    return v;
  }();
  return infos;
}

std::unique_ptr<Pass> make_pass(const std::string& name) {
  // Not in the default pipeline: it changes what the model computes (fold --eval-mode).
  if (name == "eval-mode") return make_eval_mode();
  // Nor this one: for models that will be quantized (fold --equalize).
  if (name == "equalize") return make_equalize();
  std::string known;
  for (const auto& e : entries()) {
    if (name == e.info.name) return e.make();
    if (known.find(e.info.name) == std::string::npos) known += (known.empty() ? "" : ", ") + std::string(e.info.name);
  }
  failf(ErrorCode::InvalidArgument, "unknown pass '{}'; the passes are: {}, and eval-mode and equalize (not in the "
        "default pipeline: the first changes what the model computes, the second is for models to be quantized)",
        name, known);
}

std::vector<std::string> run_pipeline(Graph& graph, const PipelineOptions& options, FoldReport* report) {
  std::vector<std::string> names = options.passes;
  if (names.empty())
    for (const auto& info : default_pipeline()) names.push_back(info.name);
  std::vector<std::unique_ptr<Pass>> passes;
  for (const auto& n : names) passes.push_back(make_pass(n));  // unknown names fail before any change
  std::vector<std::string> changed;
  for (auto& pass : passes) {
    pass->set_report(report);
    if (pass->run(graph)) changed.push_back(pass->name());
    if (options.verify_each) {
      try {
        graph.verify();
      } catch (const Error& e) {
        failf(ErrorCode::Internal, "the graph is broken after pass {}: {}", pass->name(), e.what());
      }
    }
  }
  return changed;
}

}  // namespace bnfold
