// Whether a model's layers survive int8, judged from the folded weights and
// the BN statistics: per layer, the spread of its per-output-channel weight
// ranges, the channels that per-tensor int8 rounds to zero, the weights'
// signal-to-quantization-noise ratio per tensor and per channel, channels
// whose tiny running variance inflated their folded weights, the
// pre-activation range the BN statistics give, and a verdict.
#pragma once

#include "bnfold/graph/export.hpp"

#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"

namespace bnfold BNFOLD_API {

enum class QuantVerdict {
  PerTensorSafe,      // per-tensor int8 weights keep the layer (SQNR >= the bar)
  NeedsPerChannel,    // only per-channel scales keep it
  NeedsEqualization,  // per-tensor collapses spread channel ranges that cross-layer equalization can even out
  KeepFp32,           // even per-channel int8 loses too much (outliers within a channel)
};
const char* to_string(QuantVerdict v);  // "per-tensor safe", "needs per-channel", ...

struct LayerReadiness {
  std::string node, op;        // node_name(), op type
  int64_t channels = 0;        // output channels
  bool depthwise = false;
  double range_ratio = 1;      // largest over smallest non-zero per-channel max|w|
  int64_t collapsed = 0;       // channels whose every weight per-tensor int8 rounds to 0
  double sqnr_tensor_db = 0, sqnr_channel_db = 0;  // weights, symmetric int8 (127 levels each side)
  std::string equalize_with;   // the next layer cross-layer equalization would pair it with ("" none)
  // From the BN folded into this layer (none: bn empty).
  std::string bn;
  std::vector<int64_t> inflated;  // channels whose 1/sqrt(var+eps) is over 10x the layer's median (tiny variance)
  double act_low = 0, act_high = 0;  // pre-activation range: per channel beta -+ 3|gamma|, clipped by a ReLU after
  QuantVerdict verdict = QuantVerdict::PerTensorSafe;
  std::string why;
};

struct ReadinessOptions {
  double min_sqnr_db = 30;  // the bar: quantization noise at most ~3% of the weights' RMS
};

// Every Conv, ConvTranspose, Gemm and MatMul with constant float weights of g,
// in graph order. g should be folded (weights as they will be quantized); the
// BN columns come from fold's records (graph/folded_bns.hpp).
std::vector<LayerReadiness> quantization_readiness(const Graph& g, const ReadinessOptions& options = {});

}  // namespace bnfold
