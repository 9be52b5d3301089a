// Random verification inputs that look like the data a model expects: per
// channel N(mean, std) where that can be inferred from the model, so that a
// numerically chaotic network is checked in the regime it was trained for.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"
#include "bnfold/runtime/session.hpp"

namespace bnfold {

// The per-channel mean and std of a graph input, estimated from the first
// BatchNormalization's running statistics mapped back through the Conv
// between them (input -> Conv -> BN): with independent pixels of channel
// means m and variances v, the conv's output channel o has mean
// b_o + sum_c m_c sum_k W_ock and variance sum_c v_c sum_k W_ock^2; m and v
// are the least-squares fit (v >= 0) to the BN's running mean and var.
struct InputEstimate {
  bool found = false;
  std::vector<double> mean, std;  // per input channel
  double fit_residual = 0;        // relative residual of the variance fit
  std::string how;                // what was used, for reports ("BN 'bn1' through Conv 'conv1'")
};
InputEstimate estimate_input_statistics(const Graph& g, const std::string& input);

struct DataLikeInputs {
  std::map<std::string, Tensor> inputs;
  std::string description;  // "given", "random N(0,1)", "random per channel N(mean, std) ...: ..."
  bool all_given = false;   // every input was given: no batch size was chosen
};

// Random inputs for every input not in `given`, with batch `batch`: per
// channel N(mean, std) from `mean`/`std` when given (one value, or one per
// channel of axis 1), else from estimate_input_statistics where it finds
// an estimate with a variance fit residual below 50%, else N(0, 1).
DataLikeInputs data_like_inputs(const Graph& g, const Session& session, const std::map<std::string, Tensor>& given,
                                int64_t batch, uint64_t seed, const std::vector<double>& mean = {},
                                const std::vector<double>& std = {});

}  // namespace bnfold
