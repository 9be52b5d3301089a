// Internal: the arithmetic of folding a per-channel affine map y = x*s + t
// (an inference-mode BatchNormalization, or constant per-channel Mul/Add):
// computed in double, stored in the weight's dtype. The per-layer folds that
// use it are in layer_folds.hpp; the graph edits in graph_surgery.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"

namespace bnfold {

struct ChannelAffine {
  std::vector<double> scale, shift;  // per channel (axis 1 of the activation)
  size_t channels() const { return scale.size(); }
};

// s = gamma / sqrt(var + eps), t = beta - mean * s, for a BN in inference
// mode with constant parameters. Returns "" or why not (naming the channel
// for var + eps <= 0 and NaN/Inf parameters).
std::string batchnorm_affine(const Node& bn, ChannelAffine* out);

// The per-channel vector of a constant Mul/Add operand that broadcasts only
// along axis 1 of an activation of rank `rank` ([C,1,1], [1,C,1,1], a scalar,
// or [C] for rank 2). False when it has another shape.
bool channel_vector(const Tensor& t, size_t rank, int64_t channels, std::vector<double>* out);

// A tensor's values in double.
std::vector<double> doubles(const Tensor& t);
// A tensor of `dtype` and `dims` holding v; "" or why not: float16 overflow
// (naming the channel that channel_of maps the element to), or non-float weights.
std::string store_weights(DType dtype, const std::vector<int64_t>& dims, const std::vector<double>& v, Tensor* out,
                          const std::function<int64_t(size_t)>& channel_of);

}  // namespace bnfold
