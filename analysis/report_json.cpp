#include "bnfold/analysis/report_json.hpp"

#include <nlohmann/json.hpp>

#include "bnfold/graph/folded_bns.hpp"
#include "bnfold/graph/inspect.hpp"

namespace bnfold {

using nlohmann::json;

namespace {

json shape_json(const Shape& s) {
  if (!s.rank_known) return nullptr;
  json dims = json::array();
  for (const Dim& d : s.dims) {
    if (d.known()) dims.push_back(d.value);
    else if (!d.symbol.empty()) dims.push_back(d.symbol);
    else dims.push_back(nullptr);
  }
  return dims;
}

json tensors_json(const std::vector<TensorInfo>& list) {
  json out = json::array();
  for (const auto& t : list)
    out.push_back({{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", shape_json(t.shape)}});
  return out;
}

json inspect_value(const std::string& path, const ModelSummary& s) {
  json j;
  j["model"] = path;
  j["ir_version"] = s.info.ir_version;
  j["producer"] = {{"name", s.info.producer_name}, {"version", s.info.producer_version}};
  json opsets = json::object();
  for (const auto& [d, v] : s.info.opsets) opsets[d.empty() ? "ai.onnx" : d] = v;
  j["opsets"] = opsets;
  j["inputs"] = tensors_json(s.inputs);
  j["outputs"] = tensors_json(s.outputs);
  j["nodes"] = s.num_nodes;
  j["op_counts"] = s.op_counts;
  j["initializers"] = s.num_initializers;
  j["parameters"] = s.parameters;
  j["parameter_bytes"] = s.parameter_bytes;
  json bns = json::array();
  for (const auto& b : s.batchnorms) {
    json bj = {
        {"name", b.name},
        {"node_index", b.node_id},
        {"input", b.input},
        {"producer_op", b.producer_op},
        {"producer_name", b.producer_name},
        {"producer_consumers", b.producer_consumers},
        {"producer_output_is_graph_output", b.producer_output_is_graph_output},
        {"consumer_ops", b.consumer_ops},
        {"channels", b.channels},
        {"epsilon", b.epsilon},
        {"params_constant", b.params_constant},
        {"training", b.training},
        {"mode", b.mode},
        {"spatial", b.spatial},
        {"var_eps_nonpositive_channels", b.var_eps_nonpositive},
        {"nonfinite_channels", b.nonfinite},
    };
    if (b.params_constant) {
      bj["running_var_min"] = b.var_min;
      bj["running_var_max"] = b.var_max;
    }
    bns.push_back(bj);
  }
  j["batchnorms"] = bns;
  j["warnings"] = s.info.warnings;
  return j;
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

json opt(double v) { return v >= 0 ? json(v) : json(); }

json provenance_value(const StatsProvenance& p) {
  return {{"model_sha256", p.model_sha256.empty() ? json() : json(p.model_sha256)},
          {"collected_from", p.collected_from.empty() ? json() : json(p.collected_from)},
          {"collected_until", p.collected_until.empty() ? json() : json(p.collected_until)},
          {"sources", p.sources}};
}

json drift_value(const DriftReport& r) {
  json layers = json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"name", l.bn}, {"bn", l.bn}, {"channels", l.channels}, {"score", l.score},
                      {"baseline_score", opt(l.baseline_score)}, {"distance", l.distance}, {"noise", l.noise},
                      {"ratio", l.ratio}, {"drifted", l.drifted}, {"shifted_share", l.shifted_share},
                      {"var_shift_share", l.var_shift_share}, {"mean_shift_sigma", l.mean_shift_sigma},
                      {"var_ratio", l.var_ratio}});
  return {{"verdict", to_string(r.verdict)},
          {"deciding_layers", r.deciding},
          {"summary", r.summary},
          {"samples", r.samples},
          {"reference", r.reference},
          {"baseline_samples", r.baseline_samples > 0 ? json(r.baseline_samples) : json()},
          {"threshold", r.threshold},
          {"min_effect", r.min_effect},
          {"min_samples", r.min_samples},
          {"max_score", r.max_score},
          {"mean_score", r.mean_score},
          {"model", r.model},
          {"model_sha256", r.model_sha256.empty() ? json() : json(r.model_sha256)},
          {"time", r.time.empty() ? json() : json(r.time)},
          {"data", provenance_value(r.data)},
          {"baseline", r.baseline_samples > 0 ? provenance_value(r.baseline) : json()},
          {"layers", layers}};
}

json evaluation_value(const Evaluation& e) {
  return {{"data", e.data}, {"metric", to_string(e.metric)}, {"samples", e.samples}, {"before", e.before}, {"after", e.after}};
}

}  // namespace

std::string fold_json(const FoldResult& r) {
  json j = {{"batchnorms", fold_rows(r.report)},
            {"folded", r.report.folded()},
            {"total", r.report.rows().size()},
            {"counts",
             {{"total", r.report.rows().size()},
              {"folded", r.report.count(FoldAction::Folded)},
              {"folded_forward", r.report.count(FoldAction::FoldedForward)},
              {"scale_shift", r.report.count(FoldAction::ScaleShift)},
              {"kept", r.report.count(FoldAction::Kept)}}},
            // BNs removed whose statistics a monitoring session can still measure (graph/folded_bns.hpp)
            {"monitorable", r.model ? folded_bns(*r.model).size() : 0},
            // BNs --eval-mode switched from training to inference mode (by output name)
            {"converted", r.converted}};
  if (r.verification) {
    j["verification"] = verification_value(*r.verification);
    j["verified"] = r.verification->ok;
  }
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string drift_json(const DriftReport& r) { return drift_value(r).dump(2, ' ', false, json::error_handler_t::replace); }

std::string verify_json(const VerifyResult& r) { return verification_value(r).dump(2, ' ', false, json::error_handler_t::replace); }

std::string audit_json(const AuditReport& r) {
  json div = json::array();
  for (const auto& x : r.divergence)
    div.push_back({{"batch", x.batch}, {"output", x.output}, {"max_abs", x.max_abs}, {"rel_l2", x.rel_l2},
                   {"cosine", x.cosine}, {"argmax_agreement", opt(x.argmax_agreement)}});
  json layers = json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"bn", l.bn}, {"batch", l.batch}, {"values_per_channel", l.values},
                      {"mean_shift_sigma", l.mean_shift_sigma}, {"var_ratio", l.var_ratio}});
  json batches = json::array();
  for (const auto& a : r.accuracy) {
    json b = {{"batch", a.batch}, {"samples", a.samples}, {"top1_agreement", opt(a.top1_agreement)}};
    if (r.labeled) {
      b["accuracy_inference"] = a.inference_top1;
      b["accuracy_batch_stats"] = a.batch_stats_top1;
      b["top5_inference"] = opt(a.inference_top5);
      b["top5_batch_stats"] = opt(a.batch_stats_top5);
    }
    json outs = json::array(), per_layer = json::array();
    for (const auto& x : r.divergence)
      if (x.batch == a.batch) outs.push_back({{"output", x.output}, {"rel_l2", x.rel_l2}, {"max_abs", x.max_abs}, {"cosine", x.cosine}});
    for (const auto& l : r.layers)
      if (l.batch == a.batch)
        per_layer.push_back({{"bn", l.bn}, {"mean_shift_sigma", l.mean_shift_sigma}, {"var_ratio", l.var_ratio}});
    b["outputs"] = outs;
    b["layers"] = per_layer;
    batches.push_back(b);
  }
  json ablation = json::array();
  for (const auto& a : r.ablation)
    ablation.push_back({{"bn", a.bn}, {"rel_l2", a.rel_l2}, {"top1_agreement", opt(a.top1_agreement)},
                        {"accuracy", opt(a.accuracy)}, {"why", a.why}});
  json inv = json::array();
  for (const auto& [b, v] : r.invariance) inv.push_back({{"batch", b}, {"max_abs", v}});
  json j = {{"samples", r.samples},
            {"batch_sizes", r.batch_sizes},
            {"skipped_batch_sizes", r.skipped_batch_sizes},
            {"labeled", r.labeled},
            {"scores_output", r.scores_output.empty() ? json() : json(r.scores_output)},
            {"batches", batches},
            {"divergence", div},
            {"layers", layers},
            {"ablation", {{"batch", r.ablation_batch}, {"samples", r.ablation_samples},
                          {"accuracy_inference", opt(r.ablation_accuracy_inference)}, {"rule", r.blame_rule},
                          {"layers", ablation}}},
            {"culprits", r.culprits},
            {"degenerate_at_batch_1", r.degenerate_at_batch_1},
            {"batch_invariance", inv},
            {"fold_max_abs", r.fold_max_abs},
            {"fold_summary", r.fold_summary},
            {"agree_from_batch", r.agree_from_batch},
            {"verdict", r.verdict}};
  if (r.labeled) {
    j["accuracy_inference"] = r.accuracy_inference;
    j["top5_inference"] = opt(r.top5_inference);
  }
  if (!r.precisions.empty()) {
    j["precisions"] = json::array();
    for (const auto& c : r.precisions) j["precisions"].push_back(json::parse(precision_json(c)));
  }
  return j.dump(2, ' ', false, json::error_handler_t::replace);
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
  j["variance"] = r.report.unbiased_var ? "unbiased" : "population";
  j["prior"] = r.report.prior;
  if (r.fold) j["fold"] = {{"folded", r.fold->folded()}, {"total", r.fold->rows().size()}};
  // The guard, flat (docs/cli.md documents these keys).
  const auto flat = [&j](const std::optional<Evaluation>& e, const std::string& prefix) {
    if (!e) return;
    j[prefix] = evaluation_value(*e);
    const std::string metric = to_string(e->metric);
    j[prefix + "_" + metric + "_before"] = e->before;
    j[prefix + "_" + metric + "_after"] = e->after;
  };
  flat(r.calibration, "calibration");
  flat(r.eval, "eval");
  j["warnings"] = r.warnings;
  j["guard_tripped"] = r.guard_tripped;
  j["output"] = r.output;
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string inspect_json(const Graph& graph, const std::string& path) {
  return inspect_value(path, summarize(graph)).dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace bnfold
