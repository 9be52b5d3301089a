#include "bnfold/analysis/analysis_model.hpp"

#include <cmath>

#include "bnfold/graph/batchnorm.hpp"
#include "bnfold/graph/sha256.hpp"
#include "graph/check.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "bnfold/passes/pipeline.hpp"

namespace bnfold {

AnalysisModel AnalysisModel::load(const std::string& path) {
  AnalysisModel m(std::shared_ptr<const Graph>(load_onnx(path)), path);
  m.sha256_ = sha256_file(path);
  return m;
}

AnalysisModel::AnalysisModel(std::shared_ptr<const Graph> original, std::string name)
    : original_(std::move(original)), name_(std::move(name)) {
  BNFOLD_CHECK(original_ != nullptr, ErrorCode::InvalidArgument, "an analysis needs a model ({} is none)", name_);
  std::shared_ptr<Graph> g(clone_graph(*original_));
  for (const Node* n : g->topological_order())
    training_bns_ += n->op_type() == "BatchNormalization" && n->domain().empty() && batchnorm_attrs(*n).training;
  PipelineOptions po;
  po.passes = {"eval-mode", "constant-folding", "dead-code"};
  run_pipeline(*g, po, nullptr);
  prepared_ = std::move(g);
}

std::shared_ptr<Graph> AnalysisModel::copy() const { return clone_graph(*prepared_); }

DataOptions data_options_for(const Graph& graph, const std::string& what, const ImageOptions& images) {
  const auto req = graph.required_inputs();
  BNFOLD_CHECK(req.size() == 1, ErrorCode::Unsupported, "{}: the model has {} inputs; these commands need one", what,
               req.size());
  const Shape& s = req[0]->shape();
  BNFOLD_CHECK(s.rank_known && s.rank() >= 2, ErrorCode::InvalidArgument, "{}: input '{}' has no usable shape {}",
               what, req[0]->name(), s.str());
  DataOptions o;
  o.dtype = req[0]->dtype();
  for (size_t k = 1; k < s.rank(); ++k) {
    BNFOLD_CHECK(s.dims[k].known(), ErrorCode::InvalidArgument, "{}: input '{}' dim {} is not fixed ({})", what,
                 req[0]->name(), k, s.str());
    o.sample_dims.push_back(s.dims[k].value);
  }
  if (!images.size.empty()) {
    BNFOLD_CHECK(images.size.size() == 2 && o.sample_dims.size() == 3, ErrorCode::InvalidArgument,
                 "an image size is HxW, for a model taking [N,C,H,W] images (input '{}' is {})", req[0]->name(),
                 s.str());
    BNFOLD_CHECK(images.size[0] == o.sample_dims[1] && images.size[1] == o.sample_dims[2], ErrorCode::InvalidArgument,
                 "image size {}x{} differs from the model's input {}", images.size[0], images.size[1], s.str());
  }
  BNFOLD_CHECK(images.resize == 0 || images.size.empty(), ErrorCode::InvalidArgument,
               "--size resizes to H x W; --resize S --center-crop C resizes the shorter side and crops: give one");
  BNFOLD_CHECK(images.crop.empty() || images.resize > 0, ErrorCode::InvalidArgument,
               "--center-crop needs --resize S (the shorter side before the crop)");
  if (images.resize > 0) {
    BNFOLD_CHECK(o.sample_dims.size() == 3, ErrorCode::InvalidArgument,
                 "--resize is for a model taking [N,C,H,W] images (input '{}' is {})", req[0]->name(), s.str());
    if (!images.crop.empty())
      BNFOLD_CHECK(images.crop.size() == 2 && images.crop[0] == o.sample_dims[1] && images.crop[1] == o.sample_dims[2],
                   ErrorCode::InvalidArgument, "--center-crop {}x{} differs from the model's input {}",
                   images.crop.front(), images.crop.back(), s.str());
    BNFOLD_CHECK(images.resize >= std::min(o.sample_dims[1], o.sample_dims[2]), ErrorCode::InvalidArgument,
                 "--resize {} is smaller than the {}x{} crop the model takes", images.resize, o.sample_dims[1],
                 o.sample_dims[2]);
    o.resize_shorter = images.resize;
  }
  // One value, or one per channel; std divides.
  const size_t channels = o.sample_dims.size() == 3 ? static_cast<size_t>(o.sample_dims[0]) : 0;
  const std::pair<const char*, const std::vector<float>*> lists[] = {{"mean", &images.mean}, {"std", &images.std}};
  for (const auto& [what, values] : lists) {
    if (values->empty()) continue;
    const bool is_std = std::string(what) == "std";
    BNFOLD_CHECK(values->size() == 1 || values->size() == channels, ErrorCode::InvalidArgument,
                 "{} {} values for a model whose input '{}' has {} channels ({})", values->size(), what,
                 req[0]->name(), channels, s.str());
    for (float v : *values)
      BNFOLD_CHECK(std::isfinite(v) && (!is_std || v > 0), ErrorCode::InvalidArgument,
                   "{} {}: every value must be a finite number{}", what, v, is_std ? " above 0 (it divides)" : "");
  }
  if (!images.mean.empty()) o.mean = images.mean;
  if (!images.std.empty()) o.std = images.std;
  o.bgr = images.bgr;
  return o;
}

BnMode parse_bn_mode(const std::string& name) {
  if (name == "inference") return BnMode::Inference;
  if (name == "batch") return BnMode::BatchStatistics;
  failf(ErrorCode::InvalidArgument, "BN mode '{}': use inference or batch", name);
}

const char* bn_mode_name(BnMode mode) { return mode == BnMode::BatchStatistics ? "batch" : "inference"; }

}  // namespace bnfold
