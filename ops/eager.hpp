// Internal: runs nodes and graphs on tensors whose values are all known. A
// kernel's infer() then sees every input's value, so an output whose shape
// a run-time value decides (NonZero's, NonMaxSuppression's) is no obstacle,
// and run() computes what infer() left. This serves what a plan cannot hold:
// a node that needs a run-time value to size its outputs (runtime/ runs it
// between two plans) and the bodies of control flow (If's branches).
#pragma once

#include <vector>

#include "bnfold/graph/graph.hpp"

namespace bnfold::ops {

// The node's outputs (an empty Tensor for an omitted one) for its inputs
// (nullptr for an omitted optional input).
std::vector<Tensor> run_node(const Node& node, const std::vector<const Tensor*>& inputs);

// g's outputs for its inputs, in g.inputs() order (nullptr: the input's default).
std::vector<Tensor> run_graph(const Graph& g, const std::vector<const Tensor*>& inputs);

}  // namespace bnfold::ops
