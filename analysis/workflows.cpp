#include "analysis/workflows.hpp"

#include "graph/folded_bns.hpp"
#include "graph/inspect.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <ctime>
#include <map>

#include "bnfold/version.hpp"
#include "graph/check.hpp"
#include "graph/onnx_io.hpp"
#include "passes/fold.hpp"
#include "analysis/evaluate.hpp"
#include "runtime/tensor_tools.hpp"

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

json drift_value(const DriftReport& r) {
  json layers = json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"name", l.bn}, {"bn", l.bn}, {"channels", l.channels}, {"score", l.score},
                      {"baseline_score", opt(l.baseline_score)}, {"distance", l.distance}, {"noise", l.noise},
                      {"ratio", l.ratio}, {"drifted", l.drifted}, {"shifted_share", l.shifted_share},
                      {"var_shift_share", l.var_shift_share}, {"mean_shift_sigma", l.mean_shift_sigma},
                      {"var_ratio", l.var_ratio}});
  return {{"verdict", r.verdict},
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
          {"layers", layers}};
}

json evaluation_value(const Evaluation& e) {
  return {{"data", e.data}, {"metric", e.metric}, {"samples", e.samples}, {"before", e.before}, {"after", e.after}};
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

namespace {

// Runs the data through a session in inference mode and returns the outputs,
// concatenated over batches.
std::map<std::string, Tensor> run_data(const Session& s, const Dataset& data, int64_t batch) {
  const std::string in = s.inputs()[0].name;
  std::map<std::string, std::vector<Tensor>> parts;
  data.for_each_batch(batch, [&](int64_t, Tensor samples) {
    for (auto& [k, v] : s.run({{in, std::move(samples)}})) parts[k].push_back(std::move(v));
  });
  std::map<std::string, Tensor> out;
  for (auto& [k, list] : parts) out.emplace(k, concat_rows(list));
  return out;
}

Evaluation evaluate(std::shared_ptr<const Graph> before, std::shared_ptr<const Graph> after, const Dataset& data,
                    const std::string& what, const RecalibrateOptions& o) {
  SessionOptions so;
  so.threads = o.threads;
  const auto b = run_data(Session(before, so), data, o.batch);
  const auto a = run_data(Session(after, so), data, o.batch);
  std::vector<OutputSpec> specs;
  for (const auto& [k, t] : b) specs.push_back({k, t.dtype(), t.dims()});
  const int at = class_output(specs);
  Evaluation e;
  e.data = what;
  e.samples = data.size();
  if (at < 0) {
    e.metric = "rel_l2";
    double diff = 0, ref = 0;
    for (const auto& [k, t] : b)
      for (int64_t i = 0; i < t.numel(); ++i) {
        const double x = a.at(k).value_at(i), y = t.value_at(i);
        diff += (x - y) * (x - y);
        ref += y * y;
      }
    e.before = 0;
    e.after = ref > 0 ? std::sqrt(diff / ref) : std::sqrt(diff);
    return e;
  }
  const std::string& name = specs[static_cast<size_t>(at)].name;
  if (data.has_labels()) {
    check_labels_fit(data.labels(), specs[static_cast<size_t>(at)].dims[1], name);
    e.metric = "accuracy";
    e.before = top_k_accuracy(b.at(name), data.labels(), 1, what);
    e.after = top_k_accuracy(a.at(name), data.labels(), 1, what);
  } else {
    e.metric = "agreement";
    e.before = 1;
    e.after = top1_agreement(a.at(name), b.at(name));
  }
  return e;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

void apply_statistics(Graph& target, const Graph& recalibrated) {
  std::map<std::string, const Node*> by_name;
  for (const Node* n : recalibrated.nodes())
    if (n->op_type() == "BatchNormalization" && n->domain().empty()) by_name[node_name(*n)] = n;
  for (Node* n : target.topological_order()) {
    if (n->op_type() != "BatchNormalization" || !n->domain().empty() || n->inputs().size() < 5) continue;
    auto it = by_name.find(node_name(*n));
    if (it == by_name.end()) continue;
    for (size_t k = 3; k <= 4; ++k) {
      const Value* v = it->second->input(k);
      if (!v || !v->is_constant() || !n->input(k)) continue;
      // Unchanged statistics (a BN recalibrate skipped) stay as they are.
      if (n->input(k)->is_constant() && n->input(k)->data().nbytes() == v->data().nbytes() &&
          std::memcmp(n->input(k)->data().data(), v->data().data(), v->data().nbytes()) == 0)
        continue;
      replace_constant(target, n, k, v->data());
    }
  }
  target.remove_unused_values();
}

namespace {

// The guard and the written model, the same whichever way the statistics came.
void finish_recalibration(const std::shared_ptr<const Graph>& source, const std::shared_ptr<Graph>& prepared,
                          const std::shared_ptr<Graph>& updated, const Dataset* data, const std::string& data_what,
                          int64_t samples, const RecalibrateOptions& o, RecalibrateResult& r) {
  if (data && data->has_labels()) r.calibration = evaluate(prepared, updated, *data, "calibration data", o);
  if (o.eval) {
    r.eval = evaluate(prepared, updated, *o.eval, "eval data", o);
    const Evaluation& e = *r.eval;
    r.guard_tripped = e.metric != "rel_l2" && e.before - e.after > o.max_eval_drop;
    if (r.guard_tripped)
      r.warnings.push_back(fmt::format(
          "the eval data's {} fell from {:.1f}% to {:.1f}% ({:.1f} points, more than --max-eval-drop {:g}): the "
          "recalibrated model serves the original data worse",
          e.metric, 100 * e.before, 100 * e.after, 100 * (e.before - e.after), 100 * o.max_eval_drop));
  }
  // The written model: the source with the new statistics, nothing else moved.
  std::shared_ptr<Graph> out(clone_graph(*source));
  apply_statistics(*out, *updated);
  if (o.fold) r.fold = fold_batchnorms(*out);
  stamp(*out);
  set_metadata(*out, "bnfold.recalibrated_from_sha256", o.source_sha256.empty() ? "unknown" : o.source_sha256);
  set_metadata(*out, "bnfold.recalibration_data", o.data_description.empty() ? data_what : o.data_description);
  set_metadata(*out, "bnfold.recalibration_samples", std::to_string(samples));
  set_metadata(*out, "bnfold.recalibration_mode", recalibration_mode_name(r.report.mode));
  set_metadata(*out, "bnfold.variance",
               r.report.unbiased_var ? "unbiased (n-1), as PyTorch's running_var" : "population (biased, n)");
  set_metadata(*out, "bnfold.recalibration_date", utc_now());
  set_metadata(*out, "bnfold.version", BNFOLD_VERSION_STRING);
  r.model = std::move(out);
}

// The options any front end may pass, checked once here for all of them.
void check_recalibrate_options(const RecalibrateOptions& o) {
  check_batch_size(o.batch);
  BNFOLD_CHECK(std::isfinite(o.max_eval_drop) && o.max_eval_drop >= 0 && o.max_eval_drop <= 1,
               ErrorCode::InvalidArgument, "max_eval_drop {} is outside [0, 1] (a share: 0.01 is one point)",
               o.max_eval_drop);
}

}  // namespace

RecalibrateResult recalibrate_model(std::shared_ptr<const Graph> source, const Dataset& data,
                                    const RecalibrateOptions& o) {
  check_recalibrate_options(o);
  BNFOLD_CHECK(source != nullptr, ErrorCode::InvalidArgument, "recalibrate_model needs a graph");
  RecalibrateResult r;
  std::shared_ptr<Graph> prepared(clone_graph(*source));
  prepare_for_bn_analysis(*prepared);
  r.drift_before = compute_drift(*prepared, collect_bn_input_stats(prepared, data, o.batch, o.threads));
  std::shared_ptr<Graph> updated(clone_graph(*prepared));
  r.report = recalibrate(*updated, data, o.mode, o.batch, o.threads, o.progress, o.unbiased_var);
  r.drift_after = compute_drift(*updated, collect_bn_input_stats(updated, data, o.batch, o.threads));
  finish_recalibration(source, prepared, updated, &data, data.description, data.size(), o, r);
  return r;
}

RecalibrateResult recalibrate_model(std::shared_ptr<const Graph> source, const BnInputStats& stats,
                                    const RecalibrateOptions& o) {
  check_recalibrate_options(o);
  BNFOLD_CHECK(source != nullptr, ErrorCode::InvalidArgument, "recalibrate_model needs a graph");
  RecalibrateResult r;
  std::shared_ptr<Graph> prepared(clone_graph(*source));
  prepare_for_bn_analysis(*prepared);
  DriftOptions any;
  any.min_samples = 1;
  r.drift_before = compute_drift(*prepared, stats, any);
  std::shared_ptr<Graph> updated(clone_graph(*prepared));
  r.report = recalibrate_from_stats(*updated, stats, o.unbiased_var);
  r.drift_after = compute_drift(*updated, stats, any);
  finish_recalibration(source, prepared, updated, nullptr,
                       fmt::format("statistics of {} samples{}", stats.samples,
                                   stats.model.empty() ? "" : " collected for " + stats.model),
                       stats.samples, o, r);
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
              {"kept", r.report.count(FoldAction::Kept)}}},
            // BNs removed whose statistics a monitoring session can still measure (graph/folded_bns.hpp)
            {"monitorable", r.model ? folded_bns(*r.model).size() : 0}};
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
    ablation.push_back({{"bn", a.bn}, {"rel_l2", a.rel_l2}, {"top1_agreement", opt(a.top1_agreement)}, {"why", a.why}});
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
            {"ablation", {{"batch", r.ablation_batch}, {"samples", r.ablation_samples}, {"layers", ablation}}},
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
  if (r.fold) j["fold"] = {{"folded", r.fold->folded()}, {"total", r.fold->rows().size()}};
  // The guard, flat (docs/cli.md documents these keys).
  const auto flat = [&j](const std::optional<Evaluation>& e, const std::string& prefix) {
    if (!e) return;
    j[prefix] = evaluation_value(*e);
    const std::string metric = e->metric == "rel_l2" ? "rel_l2" : e->metric;
    j[prefix + "_" + metric + "_before"] = e->before;
    j[prefix + "_" + metric + "_after"] = e->after;
  };
  flat(r.calibration, "calibration");
  flat(r.eval, "eval");
  j["warnings"] = r.warnings;
  j["guard_tripped"] = r.guard_tripped;
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

std::string inspect_json(const Graph& graph, const std::string& path) {
  return inspect_value(path, summarize(graph)).dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace bnfold
