// Cross-layer equalization's pairing rule, shared by the "equalize" pass and
// the int8 readiness report (analysis/quant_readiness.hpp).
#pragma once

#include "bnfold/graph/export.hpp"

#include <vector>

#include "bnfold/graph/graph.hpp"

namespace bnfold BNFOLD_API {

// The layer cross-layer equalization pairs `first` with: first (a Conv of any
// group, or a Gemm, with constant float32 weights used nowhere else) feeds,
// through at most a ReLU or LeakyReLU, exactly one Conv (dense or depthwise)
// or Gemm as its data input, with as many input channels as first has output
// channels. Null when there is none. `scales` (optional) gets the per-channel
// s_c = sqrt(r1_c / r2_c) that equalization would divide first's output
// channel c by and multiply the second's input channel c by (1 for a channel
// with no weight on either side).
const Node* equalization_pair(const Node& first, std::vector<double>* scales = nullptr);

}  // namespace bnfold
