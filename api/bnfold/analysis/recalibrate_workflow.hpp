// Recalibration as a workflow: drift on the data before, recalibrate a copy
// of the model, drift after, the guard (the model before and after on
// held-out data), optionally fold. The written model is the source model with
// the new statistics under their original names, nothing else changed but
// its producer and metadata_props (bnfold.* keys: where it came from).
#pragma once

#include "bnfold/graph/export.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bnfold/analysis/analysis_model.hpp"
#include "bnfold/analysis/bn_analysis.hpp"
#include "bnfold/passes/fold_report.hpp"

namespace bnfold BNFOLD_API {

struct RecalibrateOptions {
  RecalibrationMode mode = RecalibrationMode::Sequential;
  int64_t batch = 32;
  int threads = 0;
  bool fold = false;
  bool unbiased_var = false;       // see recalibrate()
  double prior = 0;                // pseudo-count of the model's statistics in the mix (see recalibrate()); 0: replace
  const Dataset* eval = nullptr;   // held-out in-distribution data (with labels: accuracy, else agreement)
  double max_eval_drop = 0.01;     // warn when the eval accuracy (agreement) falls by more (0.01 = 1 point)
  std::string source_sha256;       // of the source model's file, for metadata_props
  std::string data_description;    // "factory2/: 640 samples", for metadata_props
  Progress progress;  // of the recalibration passes
};
// How the model before and after recalibration are compared on one data set.
enum class EvaluationMetric {
  Accuracy,   // top-1 accuracy (the data has labels)
  Agreement,  // top-1 of after vs before (class scores, no labels)
  RelL2,      // outputs that are not class scores: relative L2 after vs before
};
// "accuracy", "agreement", "rel_l2": the words of --json.
const char* to_string(EvaluationMetric metric);
// The model before and after recalibration on one data set, inference mode.
struct Evaluation {
  std::string data;
  EvaluationMetric metric = EvaluationMetric::Accuracy;
  int64_t samples = 0;
  double before = -1, after = -1;
};
struct RecalibrateResult {
  std::shared_ptr<Graph> model;  // the recalibrated (and folded) model, producer "bnfold"
  RecalibrationReport report;
  DriftReport drift_before, drift_after;
  std::optional<FoldReport> fold;
  std::optional<Evaluation> calibration;  // on the calibration data, when it has labels
  std::optional<Evaluation> eval;         // on options.eval
  std::vector<std::string> warnings;      // the guard's
  // The eval data's accuracy (agreement) fell by more than max_eval_drop: the
  // front ends write nothing unless told to (--force, force=True).
  bool guard_tripped = false;
  std::string output;  // where write_recalibrated wrote the model; "" when nothing was written
};
// Writes result.model to `path` (a temporary file, then a rename: nothing
// half-written) unless the guard tripped and `force` is false: a model that
// serves the original data worse is kept only when asked for. Sets
// result.output; returns whether it wrote.
bool write_recalibrated(RecalibrateResult& result, const std::string& path, bool force);
// Copies each BN's running statistics from `recalibrated` (matched by
// node_name) into `target`, under target's names (see replace_constant), and
// drops the statistics no node reads any more.
void apply_statistics(Graph& target, const Graph& recalibrated);
RecalibrateResult recalibrate_model(const AnalysisModel& model, const Dataset& data, const RecalibrateOptions& options);
// The same from statistics collected elsewhere (drift --save-stats shards,
// merged; a monitoring Session): RecalibrationMode::FromStatistics.
RecalibrateResult recalibrate_model(const AnalysisModel& model, const BnInputStats& stats,
                                    const RecalibrateOptions& options);

}  // namespace bnfold
