// Internal: control-flow bodies at import (If, Loop, Scan): which outer
// names a body reads, and the types its captured inputs take.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"

namespace bnfold {

// The names a body reads from outer scopes: used there (or by a body nested
// in it, or listed as its output) and defined by none of its inputs,
// initializers and nodes. Appended to *out in first-use order, once each.
void free_names(const onnx::GraphProto& g, std::vector<std::string>* out);

// A body's captured inputs take the types of the outer values they stand
// for, known once the outer graph's types are (after shape inference).
void type_captures(const Graph& g);

// Every node of g and of the bodies nested in it.
template <typename F>
void each_node(const Graph& g, const F& f) {
  for (const Node* n : g.nodes()) {
    f(n);
    for (const auto& [name, a] : n->attrs())
      if (a.kind == AttrKind::Graph && a.g) each_node(*a.g, f);
  }
}

}  // namespace bnfold
