// Internal: the graph edits the folds share: new constants under fresh
// names, installing folded weights, MatMul as Gemm, bypassing a node.
#pragma once

#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"

namespace bnfold {

// Input i of n when it is a constant, else nullptr.
const Tensor* constant_input(const Node* n, size_t i);
// A new constant named after `base` (made unique).
Value* add_new_constant(Graph& g, const std::string& base, Tensor t);
// "<node name or op>_<what>", a base for new names.
std::string base_name(const Node* n, const char* what);

// Gives a layer its folded weight (input 1) and bias (input 2) as new
// constants: the old ones may be shared with other nodes.
void install(Graph& g, Node* layer, Tensor weight, Tensor bias);

// A MatMul of 2-D A and constant 2-D B, as the equivalent Gemm (which has a
// bias input to fold into), added beside it. Returns the Gemm or nullptr
// with a reason.
Node* matmul_as_gemm(Graph& g, Node* mm, std::string* why);

// After a fold: every use of `old_out` (and its graph-output slot) moves to
// `result`, the nodes that computed it are erased, and `result` takes
// old_out's name, so graph outputs and downstream names stay the same.
void bypass(Graph& g, Value* old_out, Value* result, const std::vector<Node*>& erase);

}  // namespace bnfold
