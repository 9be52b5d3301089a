// bnfold quantize: an int8 model as ONNX QDQ (QuantizeLinear/DequantizeLinear
// around the data and weights of every Conv, Gemm and MatMul with constant
// weights), written after folding so that the weights quantized are the ones
// that will run: symmetric int8 weights with one scale per output channel,
// uint8 activations with one scale and zero point per tensor, int32 biases at
// the product of the two scales (ONNX Runtime's QDQ format, which it runs with
// its int8 kernels). Activation ranges come from calibration data, or without
// data from the folded BNs' statistics.
#pragma once

#include "bnfold/graph/export.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bnfold/analysis/dataset.hpp"
#include "bnfold/analysis/quant_readiness.hpp"
#include "bnfold/graph/graph.hpp"

namespace bnfold BNFOLD_API {

struct QuantizeOptions {
  // Calibration data: each quantized tensor's range is its min and max over
  // the data. Null: the pre-activation range of the BN folded into the layer
  // that makes the tensor (beta -+ 3|gamma| per channel, clipped by a ReLU or
  // Clip between), and `input_range` for graph inputs.
  const Dataset* data = nullptr;
  std::vector<double> input_range;  // {lo, hi}; empty: graph inputs need data
  int64_t batch = 32;
  int threads = 0;
  bool equalize = false;  // cross-layer equalization after folding (fold --equalize)
  // Correct each layer's bias for the mean shift its weights' rounding causes,
  // from the BN statistics of its input (Nagel et al. 2019): layers whose
  // input comes from a folded BN through ReLU/Clip, average pooling, reshapes.
  bool bias_correction = false;
  std::function<void(int64_t done, int64_t total)> progress;  // samples measured
};

struct QuantizedLayer {
  std::string node, op;
  std::string input;            // the activation quantized before it
  double low = 0, high = 0;     // its range
  double scale = 0;             // uint8 step
  int zero_point = 0;
  double weight_scale_min = 0, weight_scale_max = 0;  // per output channel
  bool bias = false;            // an int32 bias
  double bias_correction = 0;   // RMS of the bias shift applied (0: none)
  QuantVerdict verdict = QuantVerdict::PerTensorSafe;  // of its weights (per-channel is what is written)
};

struct QuantizeResult {
  std::shared_ptr<Graph> model;  // the QDQ model
  // The float model it was made from: folded (and equalized), before quantization.
  std::shared_ptr<const Graph> float_model;
  std::vector<QuantizedLayer> layers;
  std::vector<std::string> skipped;  // "node: why", layers left in float
  size_t folded = 0;                 // BNs folded first
  bool equalized = false;
  std::string ranges_from;           // "calibration data (N samples)", "BN statistics"
};

// Throws bnfold::Error when the model's opset is below 13 (per-channel
// scales need it) or, without data, for a tensor whose range nothing gives.
QuantizeResult quantize_model(const Graph& original, const QuantizeOptions& options);

// The int8 model against the float one it was made from (result.float_model) on the first `max_samples` samples of the data: the first
// output's relative RMS difference, top-1 agreement of class scores
// [batch, classes], and both accuracies when the data has labels (-1: none).
struct QuantizeCheck {
  int64_t samples = 0;
  double relative_rms = 0, agreement = 0, accuracy_float = -1, accuracy_int8 = -1;
};
QuantizeCheck check_quantized(const QuantizeResult& result, const Dataset& data, int64_t max_samples, int64_t batch,
                              int threads);

// `bnfold quantize --json`: "layers", "skipped", "ranges_from", ... and "check" when given.
std::string quantize_json(const QuantizeResult& result, const QuantizeCheck* check);
// The readiness of a model as it will be quantized: a copy, folded first
// when it has BNs that fold (bns_folded_first says how many).
struct ModelReadiness {
  std::vector<LayerReadiness> layers;
  size_t bns_folded_first = 0;
};
ModelReadiness model_readiness(const Graph& model);
// `bnfold inspect --quantization --json`'s "quantization": "layers" and "bns_folded_first".
std::string readiness_json(const std::vector<LayerReadiness>& layers, size_t bns_folded_first);

}  // namespace bnfold
