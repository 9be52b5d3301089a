// The shift study: before deployment, how fragile is a model to the shifts
// sites have, how much does re-estimating its BN statistics recover, on how
// few samples, and would drift have warned before accuracy fell?
//
// Each cell (a corruption family at a severity) corrupts the user's images in
// pixel space (corruptions.hpp) and measures, in one streamed pass: accuracy
// (with labels) or agreement with the clean predictions (without), the mean
// confidence, the drift verdict against the clean data's statistics (or a
// given baseline) and the first sample count at which drift said "drifted";
// and the accuracy of the model recalibrated on the cell's first k samples,
// with the statistics replaced and mixed with the model's as N pseudo-samples
// (Schneider et al. 2020). `bnfold shift-study`, Python's shift_study() and
// the C API's bnfold_shift_study_files call shift_study.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include "bnfold/analysis/analysis_model.hpp"
#include "bnfold/analysis/bn_analysis.hpp"

namespace bnfold BNFOLD_API {

struct ShiftStudyOptions {
  std::vector<std::string> families;           // empty: every family, in corruption_families() order
  std::vector<int> severities = {1, 2, 3, 4, 5};
  std::vector<int64_t> recalibration_samples = {1, 8, 32, 256};  // k; those above the data's size are skipped
  double prior = 16;                           // N of the mixed recalibration; 0: only replacement
  uint64_t seed = 0;
  // How the model's input relates to pixels p in [0, 1]: x = (p - mean[c]) / std[c].
  // Empty: images use the mean/std they were read with (Dataset::image_mean),
  // arrays pixel_range, else the data's range.
  std::vector<float> mean, std;
  // {lo, hi}: arrays whose values lo..hi are the pixel range 0..1. Empty with
  // no mean/std: the clean data's minimum and maximum (first 256 samples).
  std::vector<double> pixel_range;
  // Accuracy (agreement) fall, as a share, that drift must warn of: a cell
  // that loses more without a "drifted" verdict is a miss.
  double max_drop = 0.05;
  DriftOptions drift;  // baseline (else the clean data's statistics), threshold, min_effect
  int64_t batch = 32;
  int threads = 0;
  Progress progress;  // over every sample of every cell
};

struct ShiftRecalibration {
  int64_t k = 0;       // samples of the shifted data the statistics were estimated on (its first k)
  double prior = 0;    // 0: replaced; else mixed with the model's as this many pseudo-samples
  double accuracy = -1;
};
struct ShiftCell {
  std::string family;
  int severity = 0;  // 0: the clean data
  double accuracy = -1;    // with labels; else agreement with the clean predictions
  double confidence = 0;   // mean highest softmax probability
  double distance = 0, ratio = 0;  // drift of the deciding (or the most drifted) layer, on every sample
  DriftVerdict verdict = DriftVerdict::InDistribution;
  int64_t samples_to_drift = -1;  // the first checkpoint (8, 16, 32, ...) at which it said "drifted"; -1: never
  std::vector<ShiftRecalibration> recalibrated;
  bool miss = false;       // lost more than max_drop without a "drifted" verdict
  bool false_alarm = false;  // "drifted" though it lost at most a point
};
struct ShiftFamilySummary {
  std::string family;
  double shifted_error = 0;              // mean over severities
  std::vector<double> recalibrated_error;  // per recalibration variant (report.variants), mean over severities
  int misses = 0;
};
struct ShiftStudyReport {
  std::string model, model_sha256, data, time;
  int64_t samples = 0, classes = 0;
  std::string metric;  // "accuracy" or "agreement"
  std::vector<double> pixel_mean, pixel_std;  // the pixel space used (x = (p - mean) / std)
  std::string pixel_space;                    // how it was chosen, in words
  std::string reference;                      // "the clean data's statistics" or "baseline"
  double threshold = 0, min_effect = 0, max_drop = 0;
  int64_t min_samples = 0;  // drift gives no verdict on fewer
  uint64_t seed = 0;
  ShiftCell clean;
  std::vector<ShiftCell> cells;                // family-major, severities ascending
  std::vector<ShiftRecalibration> variants;    // the (k, prior) pairs of every cell, in its order (accuracy unset)
  std::vector<ShiftFamilySummary> families;
  double clean_error = 0, shifted_error = 0;   // shifted: mean over cells
  std::vector<double> recalibrated_error;      // per variant, mean over cells
  int misses = 0, false_alarms = 0;
  // Calibration (which drift distance goes with which loss): the least
  // distance among cells that lost more than max_drop, and the largest among
  // cells that lost at most a point; -1 where no cell qualifies.
  double least_harmful_distance = -1, largest_harmless_distance = -1;
  // A --min-effect that keeps every harmful cell "drifted": 0.8x the least
  // harmful distance, or less, between the two, when they separate; -1 when
  // no cell lost more than max_drop. With the alarms it would still raise.
  double suggested_min_effect = -1;
  int harmless_cells = 0, alarms_at_suggestion = 0;
  std::vector<std::string> notes;    // skipped families and k, how to read the table
  std::vector<std::string> summary;  // plain-language lines, the answer first
  int64_t forward_samples = 0;       // samples run through a session, every pass counted
  double seconds = 0;
};

// Throws InvalidArgument for options no front end may pass (unknown family,
// severity outside 1-5, k < 1, negative prior, max_drop outside (0, 1), a
// pixel range with hi <= lo, mean/std of the wrong length or a zero std), and
// for a model without class scores ([N, classes]) or a data set that is not
// images [N, C, H, W].
ShiftStudyReport shift_study(const AnalysisModel& model, const Dataset& data, const ShiftStudyOptions& options);
void check_shift_study_options(const ShiftStudyOptions& options);

// `bnfold shift-study --json` (the keys are documented in docs/cli.md).
std::string shift_study_json(const ShiftStudyReport& report);
// The HTML report: the summary, heatmaps of accuracy and of drift per family
// and severity, accuracy against the recalibration sample count, the tables.
void write_shift_study_html(const std::string& path, const ShiftStudyReport& report);

}  // namespace bnfold
