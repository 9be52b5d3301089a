#include "graph/onnx_bodies.hpp"

#include <algorithm>
#include <set>

namespace bnfold {

void free_names(const onnx::GraphProto& g, std::vector<std::string>* out) {
  std::set<std::string> defined;
  for (const auto& v : g.input()) defined.insert(v.name());
  for (const auto& t : g.initializer()) defined.insert(t.name());
  for (const auto& t : g.sparse_initializer()) defined.insert(t.values().name());
  for (const auto& n : g.node())
    for (const auto& o : n.output()) defined.insert(o);
  const auto use = [&](const std::string& name) {
    if (!name.empty() && !defined.count(name) && std::find(out->begin(), out->end(), name) == out->end())
      out->push_back(name);
  };
  for (const auto& n : g.node()) {
    for (const auto& in : n.input()) use(in);
    for (const auto& a : n.attribute()) {
      if (a.type() != onnx::AttributeProto::GRAPH) continue;
      std::vector<std::string> inner;
      free_names(a.g(), &inner);
      for (const auto& name : inner) use(name);
    }
  }
  for (const auto& o : g.output()) use(o.name());
}

// The bodies belong to the import until it returns, hence the const_cast.
void type_captures(const Graph& g) {
  for (const Node* n : g.nodes())
    for (const auto& [name, a] : n->attrs()) {
      if (a.kind != AttrKind::Graph || !a.g) continue;
      Graph& body = const_cast<Graph&>(*a.g);
      const size_t k = static_cast<size_t>(a.i), nb = body.inputs().size(), nn = n->inputs().size();
      for (size_t j = 0; j < k && j < nb && j < nn; ++j) {
        Value* inner = body.inputs()[nb - k + j];
        const Value* outer = n->input(nn - k + j);
        if (!outer) continue;
        inner->set_dtype(outer->dtype());
        inner->set_shape(outer->shape());
      }
      type_captures(body);
    }
}

}  // namespace bnfold
