// The attributes ops read as divisors, counts and sizes, checked once for
// every node when a model is imported, before anything (ONNX's shape
// inference included) divides by them: a bad value is an error naming the
// node, the attribute and the rule, never a crash further on.
#pragma once

#include <string>

#include "bnfold/graph/graph.hpp"

namespace bnfold {

// Throws ErrorCode::InvalidModel naming `where` (the node) and the rule.
void check_attributes(const Node& n, const std::string& where);

// Ranks the op requires, where the model declares its inputs' ranks (graph
// inputs, initializers), checked before ONNX's shape inference: libonnx 1.12
// indexes dims without checking them for some ops (found by fuzzing: Gemm
// before opset 7 on a 1-D B, ConvTranspose on a 2-D W). Conv-like and pooling
// ops: X rank >= 3, W's rank equal to X's, kernel_shape/strides/dilations/
// pads sized by X's spatial rank.
void check_input_ranks(const Node& n);

}  // namespace bnfold
