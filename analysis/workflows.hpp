// The workflows every front end offers, written once: the CLI, the Python
// module and the C API call these and only parse, call and print, so that
// the same model and data give the same numbers whichever way they come in.
#pragma once

#include "graph/export.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/bn_analysis.hpp"
#include "analysis/verify_fold.hpp"
#include "passes/fold_report.hpp"
#include "passes/pipeline.hpp"
#include "runtime/session.hpp"

namespace bnfold BNFOLD_API {

// Loads a model for drift, recalibration and the audit. PyTorch's exporter
// shares equal initializers through Identity nodes (a fresh model's BNs all
// have mean 0, var 1); constant folding and dead-code removal give every BN
// its own constant parameters again, which the analyses read.
std::shared_ptr<Graph> load_for_bn_analysis(const std::string& path);
void prepare_for_bn_analysis(Graph& graph);

// What a user may say about the data beyond the files (images only).
struct ImageOptions {
  std::vector<int64_t> size;        // {H, W} the user expects; empty: the model's
  int64_t resize = 0;               // shorter side first resized to this, then centre-cropped
  std::vector<int64_t> crop;        // {H, W} of that crop: must be the model's; empty: the model's
  std::vector<float> mean, std;     // per channel; empty: 0 and 1
  bool bgr = false;
};
// The data options for the model's one required input: its dtype and the
// dims of one sample, which must be fixed (only the batch dim may be free).
// Throws naming the model (`what`) and the input otherwise.
DataOptions data_options_for(const Graph& graph, const std::string& what, const ImageOptions& images = {});

// Names as the CLI, Python and C take them; throw listing the valid ones.
BnMode parse_bn_mode(const std::string& name);  // "inference" or "batch"
const char* bn_mode_name(BnMode mode);
RecalibrationMode parse_recalibration_mode(const std::string& name);  // "sequential" or "update-bn"

// Folding as a workflow: fold a copy of the model, optionally verify it
// against the original.
struct FoldModelOptions {
  PipelineOptions pipeline;
  bool verify = false;
  VerifyOptions verify_options;
};
struct FoldResult {
  std::shared_ptr<Graph> model;  // the folded model, producer "bnfold"
  FoldReport report;             // with the errors measured at each fold when verified
  std::optional<VerifyResult> verification;
};
FoldResult fold_model(const Graph& original, const FoldModelOptions& options = {});

// Recalibration as a workflow: drift on the data before, recalibrate a copy
// of the model, drift after, the guard (the model before and after on
// held-out data), optionally fold. The written model is the source model with
// the new statistics under their original names, nothing else changed but
// its producer and metadata_props (bnfold.* keys: where it came from).
struct RecalibrateOptions {
  RecalibrationMode mode = RecalibrationMode::Sequential;
  int64_t batch = 32;
  int threads = 0;
  bool fold = false;
  bool unbiased_var = false;       // see recalibrate()
  const Dataset* eval = nullptr;   // held-out in-distribution data (with labels: accuracy, else agreement)
  double max_eval_drop = 0.01;     // warn when the eval accuracy (agreement) falls by more (0.01 = 1 point)
  std::string source_sha256;       // of the source model's file, for metadata_props
  std::string data_description;    // "factory2/: 640 samples", for metadata_props
  Progress progress;  // of the recalibration passes
};
// The model before and after recalibration on one data set, inference mode.
// metric: "accuracy" (labels), "agreement" (top-1 of after vs before) or
// "rel_l2" (outputs that are not class scores: relative L2 after vs before).
struct Evaluation {
  std::string data, metric;
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
};
// Copies each BN's running statistics from `recalibrated` (matched by
// node_name) into `target`, under target's names (see replace_constant), and
// drops the statistics no node reads any more.
void apply_statistics(Graph& target, const Graph& recalibrated);
RecalibrateResult recalibrate_model(std::shared_ptr<const Graph> source, const Dataset& data,
                                    const RecalibrateOptions& options);
// The same from statistics collected elsewhere (drift --save-stats shards,
// merged; a monitoring Session): RecalibrationMode::FromStatistics.
RecalibrateResult recalibrate_model(std::shared_ptr<const Graph> source, const BnInputStats& stats,
                                    const RecalibrateOptions& options);

// The one JSON form of each report (documented in docs/cli.md): the CLI
// prints it with --json, the Python module returns it as a dict.
std::string fold_json(const FoldResult& result);
// `bnfold inspect --json`: inputs, outputs, opsets, op counts, parameters and
// every BatchNormalization as a folding pass sees it; `path` names the model.
std::string inspect_json(const Graph& graph, const std::string& path);
std::string verify_json(const VerifyResult& result);  // `bnfold verify`; fold_json's "verification"
std::string drift_json(const DriftReport& report);
std::string audit_json(const AuditReport& report);
std::string recalibrate_json(const RecalibrateResult& result);

}  // namespace bnfold
