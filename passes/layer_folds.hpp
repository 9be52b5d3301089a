// Internal: folding a per-channel affine map into the layer before it or
// after it, one function per direction, each checking its preconditions and
// returning a reason instead of changing the graph when one fails ("" means
// done). Folds never mutate an existing constant: they add new ones, so a
// weight shared with another node stays intact.
#pragma once

#include <string>

#include "passes/affine.hpp"

namespace bnfold {

// A layer an affine map can fold into: Conv, ConvTranspose, Gemm, MatMul
// (default domain; nullptr is none).
bool is_foldable_layer(const Node* n);

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

}  // namespace bnfold
