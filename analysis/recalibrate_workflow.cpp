#include "bnfold/analysis/recalibrate_workflow.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <ctime>
#include <map>

#include "analysis/evaluate.hpp"
#include "analysis/utc_time.hpp"
#include "bnfold/analysis/fold_workflow.hpp"
#include "bnfold/version.hpp"
#include "bnfold/graph/batchnorm.hpp"
#include "graph/check.hpp"
#include "bnfold/graph/folded_bns.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/passes/fold.hpp"
#include "bnfold/runtime/tensor_tools.hpp"

namespace bnfold {

const char* to_string(EvaluationMetric metric) {
  static const char* const kWords[] = {"accuracy", "agreement", "rel_l2"};  // in enum order
  return kWords[static_cast<int>(metric)];
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
    e.metric = EvaluationMetric::RelL2;
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
    e.metric = EvaluationMetric::Accuracy;
    e.before = top_k_accuracy(b.at(name), data.labels(), 1, what);
    e.after = top_k_accuracy(a.at(name), data.labels(), 1, what);
  } else {
    e.metric = EvaluationMetric::Agreement;
    e.before = 1;
    e.after = top1_agreement(a.at(name), b.at(name));
  }
  return e;
}

}  // namespace

void apply_statistics(Graph& target, const Graph& recalibrated) {
  std::map<std::string, const Node*> by_name;
  for (const BatchNorm& bn : batchnorms(recalibrated)) by_name[bn.name()] = &bn.node();
  for (const BatchNorm& bn : batchnorms(target)) {
    Node* n = &bn.node();
    if (n->inputs().size() < 5) continue;
    auto it = by_name.find(bn.name());
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
    r.guard_tripped = e.metric != EvaluationMetric::RelL2 && e.before - e.after > o.max_eval_drop;
    if (r.guard_tripped)
      r.warnings.push_back(fmt::format(
          "the eval data's {} fell from {:.1f}% to {:.1f}% ({:.1f} points, more than --max-eval-drop {:g}): the "
          "recalibrated model serves the original data worse",
          to_string(e.metric), 100 * e.before, 100 * e.after, 100 * (e.before - e.after), 100 * o.max_eval_drop));
  }
  // The written model: the source with the new statistics, nothing else moved.
  std::shared_ptr<Graph> out(clone_graph(*source));
  apply_statistics(*out, *updated);
  if (o.fold) r.fold = fold_batchnorms(*out);
  stamp_producer(*out);
  set_metadata(*out, "bnfold.recalibrated_from_sha256", o.source_sha256.empty() ? "unknown" : o.source_sha256);
  set_metadata(*out, "bnfold.recalibration_data", o.data_description.empty() ? data_what : o.data_description);
  set_metadata(*out, "bnfold.recalibration_samples", std::to_string(samples));
  set_metadata(*out, "bnfold.recalibration_mode", recalibration_mode_name(r.report.mode));
  set_metadata(*out, "bnfold.variance",
               r.report.unbiased_var ? "unbiased (n-1), as PyTorch's running_var" : "population (biased, n)");
  if (r.report.prior > 0)
    set_metadata(*out, "bnfold.recalibration_prior",
                 fmt::format("{:g} pseudo-samples of the source statistics", r.report.prior));
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
  check_recalibration_prior(o.prior);
}

}  // namespace

bool write_recalibrated(RecalibrateResult& r, const std::string& path, bool force) {
  r.output.clear();
  if (r.guard_tripped && !force) return false;
  save_onnx(*r.model, path);
  r.output = path;
  return true;
}

RecalibrateResult recalibrate_model(const AnalysisModel& model, const Dataset& data, const RecalibrateOptions& o) {
  check_recalibrate_options(o);
  RecalibrateResult r;
  std::shared_ptr<Graph> prepared = model.copy();
  r.drift_before = compute_drift(*prepared, collect_bn_input_stats(prepared, data, o.batch, o.threads));
  std::shared_ptr<Graph> updated(clone_graph(*prepared));
  r.report = recalibrate(*updated, data, o.mode, o.batch, o.threads, o.progress, o.unbiased_var, o.prior);
  r.drift_after = compute_drift(*updated, collect_bn_input_stats(updated, data, o.batch, o.threads));
  finish_recalibration(model.original(), prepared, updated, &data, data.description, data.size(), o, r);
  return r;
}

RecalibrateResult recalibrate_model(const AnalysisModel& model, const BnInputStats& stats,
                                    const RecalibrateOptions& o) {
  check_recalibrate_options(o);
  RecalibrateResult r;
  std::shared_ptr<Graph> prepared = model.copy();
  DriftOptions any;
  any.min_samples = 1;
  r.drift_before = compute_drift(*prepared, stats, any);
  std::shared_ptr<Graph> updated(clone_graph(*prepared));
  r.report = recalibrate_from_stats(*updated, stats, o.unbiased_var, o.prior);
  r.drift_after = compute_drift(*updated, stats, any);
  finish_recalibration(model.original(), prepared, updated, nullptr,
                       fmt::format("statistics of {} samples{}", stats.samples,
                                   stats.model.empty() ? "" : " collected for " + stats.model),
                       stats.samples, o, r);
  return r;
}
}  // namespace bnfold
