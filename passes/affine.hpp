// Internal: the arithmetic of folding a per-channel affine map y = x*s + t
// (an inference-mode BatchNormalization, or constant per-channel Mul/Add)
// into the layer before it or after it. Computed in double, stored in the
// weight's dtype. Every function checks its preconditions and returns a
// reason instead of changing the graph when one fails ("" means done).
// Folds never mutate an existing constant: they add new ones, so a weight
// shared with another node stays intact.
#pragma once

#include <string>
#include <vector>

#include "graph/graph.hpp"

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

// Folds the affine map applied to `producer`'s output into the producer
// (Conv, ConvTranspose, Gemm, MatMul with constant 2-D B and 2-D A). Returns
// "" and sets *result to the value that now carries the affine result (the
// producer's output, or the output of a Gemm that replaced a MatMul);
// otherwise the reason. The caller has checked that the affine node is the
// producer output's only consumer.
std::string fold_into_producer(Graph& g, Node* producer, const ChannelAffine& a, Value** result);

// Folds the affine map of value x into `consumer`, which reads the affine
// result at input 0 (Conv without padding, Gemm with transA=0, MatMul with a
// constant 2-D B on 2-D x). On success the layer reads x directly and
// *layer is set to it (a Gemm that replaced a MatMul is a new node).
std::string fold_into_consumer(Graph& g, Node* consumer, Value* x, const ChannelAffine& a, Node** layer);

// After a fold: every use of `old_out` (and its graph-output slot) moves to
// `result`, the nodes that computed it are erased, and `result` takes
// old_out's name, so graph outputs and downstream names stay the same.
void bypass(Graph& g, Value* old_out, Value* result, const std::vector<Node*>& erase);

}  // namespace bnfold
