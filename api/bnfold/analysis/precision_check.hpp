// Judging reduced precision: a model run in bfloat16, or an int8 QDQ model,
// against the float32 model it stands for. Folding is judged by float32's
// noise (verify_fold.hpp); reduced precision has an error by design, so it is
// judged by what it costs: with labels, the accuracy it loses; without, the
// size of each output's error relative to the output. Every output is also
// measured against the float32 model evaluated in float64, beside the float32
// model's own error there, so a report shows which error is the precision's.
// What `bnfold verify --precision`, `verify ORIGINAL MODEL.int8.onnx` and
// `audit --precision` do.
#pragma once

#include "bnfold/graph/export.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bnfold/analysis/dataset.hpp"
#include "bnfold/graph/graph.hpp"
#include "bnfold/runtime/session.hpp"

namespace bnfold BNFOLD_API {

struct PrecisionCheckOptions {
  // The samples, fed to the model's first input; labels give accuracies.
  // Null: random data-like inputs (analysis/verify_inputs.hpp), or `inputs`.
  const Dataset* data = nullptr;
  std::map<std::string, Tensor> inputs;  // without data: inputs given (one batch when all are)
  std::vector<double> mean, std;         // per channel of random inputs (empty: estimated)
  uint64_t seed = 0;
  int64_t samples = 256;  // at most this many samples (random inputs: exactly)
  int64_t batch = 8;
  // The first batch also against the float32 model evaluated in float64 by
  // the reference kernels (slow on large models, so one batch).
  bool float64_reference = true;
  // With labels and class scores: the candidate passes when its top-1
  // accuracy is at most this far below the float32 model's (0.01: 1 point).
  double max_accuracy_drop = 0.01;
  // Otherwise each output passes when its relative RMS error against the
  // float32 model is at most this; < 0: the precision's default
  // (default_relative_error).
  double max_relative_error = -1;
  int threads = 0;
};

// The relative RMS error a precision is allowed by default without labels:
// 0.02 for bf16 (8 significant bits, errors of ~0.4% per layer that add up
// over depth), 0.05 for int8 (per-tensor activation steps of 1/255 of the
// range). Measured on the bundled and zoo models: see docs/precision.md.
double default_relative_error(const std::string& precision);

struct PrecisionOutputCheck {
  std::string name;
  double relative_rms = 0;          // RMS(candidate - float32) / RMS(float32), over every sample
  double max_abs = 0;               // largest |candidate - float32|
  double relative_rms_f64 = -1;     // candidate against float64, first batch (-1: not measured)
  double float32_rms_f64 = -1;      // the float32 model against float64 there: its own error
  double agreement = -1;            // class scores: share of samples with the float32 model's top class
  bool ok = true;
  std::string verdict;
};

struct PrecisionCheck {
  std::string precision;  // "bf16", "int8", "int8 with bf16"
  std::string inputs;     // how the samples were made
  int64_t samples = 0, float64_samples = 0;
  std::string scores_output;  // the class scores, empty when none
  double accuracy_float32 = -1, accuracy_candidate = -1;  // top-1, with labels
  std::vector<PrecisionOutputCheck> outputs;
  std::string judged_by;  // "accuracy" or "relative error"
  double max_accuracy_drop = 0, max_relative_error = 0;
  bool ok = true;
  std::vector<std::string> verdict;  // plain-language lines, the answer first
};

// `float32_model` runs in float32, `candidate` with `candidate_precision`
// (an int8 QDQ candidate computes in int8 where it says so, in either).
// Throws InvalidArgument when the candidate is neither bfloat16 nor int8
// (nothing to judge: that is verify_fold), when its inputs or outputs are not
// the float32 model's, or for options out of range.
PrecisionCheck check_precision(std::shared_ptr<const Graph> float32_model, std::shared_ptr<const Graph> candidate,
                               Precision candidate_precision, const PrecisionCheckOptions& options = {});

// Whether a model quantizes with QuantizeLinear/DequantizeLinear (QDQ) or
// QLinear*/ConvInteger/MatMulInteger nodes: an int8 model.
bool is_quantized_model(const Graph& g);

// `bnfold verify --json` in precision mode: precision, inputs, samples,
// outputs (relative_rms, max_abs, relative_rms_float64, float32_rms_float64,
// top1_agreement, ok, verdict), accuracy, judged_by, ok, verdict.
std::string precision_json(const PrecisionCheck& check);

}  // namespace bnfold
