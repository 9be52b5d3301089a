#include "analysis/workflows.hpp"

#include <nlohmann/json.hpp>

#include <cmath>

#include "bnfold/version.hpp"
#include "graph/check.hpp"
#include "graph/onnx_io.hpp"
#include "passes/fold.hpp"

namespace bnfold {

using nlohmann::json;

void prepare_for_bn_analysis(Graph& graph) {
  PipelineOptions po;
  po.passes = {"constant-folding", "dead-code"};
  run_pipeline(graph, po, nullptr);
}

std::shared_ptr<Graph> load_for_bn_analysis(const std::string& path) {
  std::shared_ptr<Graph> g(load_onnx(path));
  prepare_for_bn_analysis(*g);
  return g;
}

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
      BNFOLD_CHECK(std::isfinite(v) && (!is_std || v != 0), ErrorCode::InvalidArgument,
                   "{} {}: every value must be a finite number{}", what, v, is_std ? ", not 0" : "");
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

RecalibrationMode parse_recalibration_mode(const std::string& name) {
  if (name == "sequential") return RecalibrationMode::Sequential;
  if (name == "update-bn") return RecalibrationMode::UpdateBn;
  failf(ErrorCode::InvalidArgument, "recalibration mode '{}': use sequential or update-bn", name);
}

namespace {

void stamp(Graph& g) {
  g.info.producer_name = "bnfold";
  g.info.producer_version = BNFOLD_VERSION_STRING;
}

json fold_rows(const FoldReport& report) {
  json rows = json::array();
  for (const auto& r : report.rows())
    rows.push_back({{"bn", r.bn},
                    {"output", r.output},
                    {"producer_op", r.producer_op},
                    {"consumer_ops", r.consumer_ops},
                    {"action", to_string(r.action)},
                    {"target", r.target},
                    {"reason", r.reason},
                    {"description", r.describe()},
                    {"max_abs_error", r.max_abs_error >= 0 ? json(r.max_abs_error) : json()},
                    {"isolated_error", r.isolated_error >= 0 ? json(r.isolated_error) : json()},
                    {"measured_at", r.measured_at}});
  return rows;
}

json check_value(const ValueCheck& c) {
  json v = {{"output", c.name}, {"max_abs", c.max_abs}, {"max_rel", c.max_rel}, {"scale", c.scale},
            {"atol", c.atol},   {"mismatches", c.mismatches}, {"ok", c.ok}, {"verdict", c.verdict},
            {"float32_noise", c.noise >= 0 ? json(c.noise) : json()}};
  if (c.isolated >= 0) v["isolated_error"] = c.isolated;
  return v;
}

json verification_value(const VerifyResult& r) {
  json outs = json::array(), folds = json::array();
  for (const auto& c : r.outputs) outs.push_back(check_value(c));
  for (const auto& c : r.folds) folds.push_back(check_value(c));
  return {{"ok", r.ok}, {"reference", r.reference}, {"inputs", r.inputs}, {"noise_factor", r.noise_factor},
          {"outputs", outs}, {"values", folds}};
}

json drift_value(const DriftReport& r) {
  json layers = json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"bn", l.bn}, {"channels", l.channels}, {"score", l.score}, {"shifted_share", l.shifted_share},
                      {"mean_shift_sigma", l.mean_shift_sigma}, {"var_ratio", l.var_ratio}});
  return {{"samples", r.samples}, {"max_score", r.max_score}, {"mean_score", r.mean_score}, {"layers", layers}};
}

}  // namespace

FoldResult fold_model(const Graph& original, const FoldModelOptions& options) {
  FoldResult r;
  r.model = clone_graph(original);
  r.report = fold_batchnorms(*r.model, options.pipeline);
  if (options.verify) r.verification = verify_fold(original, *r.model, &r.report, options.verify_options);
  stamp(*r.model);
  return r;
}

RecalibrateResult recalibrate_model(std::shared_ptr<const Graph> graph, const Dataset& data,
                                    const RecalibrateOptions& o) {
  BNFOLD_CHECK(graph != nullptr, ErrorCode::InvalidArgument, "recalibrate_model needs a graph");
  RecalibrateResult r;
  r.drift_before = compute_drift(*graph, collect_bn_input_stats(graph, data, o.batch, o.threads));
  std::shared_ptr<Graph> updated(clone_graph(*graph));
  r.report = recalibrate(*updated, data, o.mode, o.batch, o.threads, o.progress);
  r.drift_after = compute_drift(*updated, collect_bn_input_stats(updated, data, o.batch, o.threads));
  if (o.fold) r.fold = fold_batchnorms(*updated);
  stamp(*updated);
  r.model = std::move(updated);
  return r;
}

std::string fold_json(const FoldResult& r) {
  json j = {{"batchnorms", fold_rows(r.report)},
            {"folded", r.report.folded()},
            {"total", r.report.rows().size()},
            {"counts",
             {{"total", r.report.rows().size()},
              {"folded", r.report.count(FoldAction::Folded)},
              {"folded_forward", r.report.count(FoldAction::FoldedForward)},
              {"scale_shift", r.report.count(FoldAction::ScaleShift)},
              {"kept", r.report.count(FoldAction::Kept)}}}};
  if (r.verification) {
    j["verification"] = verification_value(*r.verification);
    j["verified"] = r.verification->ok;
  }
  return j.dump(2);
}

std::string drift_json(const DriftReport& r) { return drift_value(r).dump(2); }

std::string verify_json(const VerifyResult& r) { return verification_value(r).dump(2); }

std::string audit_json(const AuditReport& r) {
  json div = json::array();
  for (const auto& x : r.divergence)
    div.push_back({{"batch", x.batch}, {"output", x.output}, {"max_abs", x.max_abs}, {"rel_l2", x.rel_l2},
                   {"cosine", x.cosine},
                   {"argmax_agreement", x.argmax_agreement >= 0 ? json(x.argmax_agreement) : json()}});
  json layers = json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"bn", l.bn}, {"mean_shift_sigma", l.mean_shift_sigma}, {"var_ratio", l.var_ratio}});
  json inv = json::array();
  for (const auto& [b, v] : r.invariance) inv.push_back({{"batch", b}, {"max_abs", v}});
  return json({{"samples", r.samples},
               {"batch_sizes", r.batch_sizes},
               {"divergence", div},
               {"layers", layers},
               {"degenerate_at_batch_1", r.degenerate_at_batch_1},
               {"batch_invariance", inv},
               {"fold_max_abs", r.fold_max_abs},
               {"fold_summary", r.fold_summary},
               {"agree_from_batch", r.agree_from_batch},
               {"verdict", r.verdict}})
      .dump(2);
}

std::string recalibrate_json(const RecalibrateResult& r) {
  json layers = json::array();
  for (const auto& l : r.report.layers)
    layers.push_back({{"bn", l.bn}, {"mean_shift_sigma", l.mean_shift_sigma}, {"var_ratio", l.var_ratio}});
  json j = {{"mode", recalibration_mode_name(r.report.mode)},
            {"samples", r.report.samples},
            {"passes", r.report.passes},
            {"layers", layers},
            {"drift_before", drift_value(r.drift_before)},
            {"drift_after", drift_value(r.drift_after)}};
  if (r.fold) j["fold"] = {{"folded", r.fold->folded()}, {"total", r.fold->rows().size()}};
  return j.dump(2);
}

}  // namespace bnfold
