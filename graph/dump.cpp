// Graph::dump(): a readable, deterministic text form. Tests compare dumps to
// check that an export/import round trip changed nothing.
#include <fmt/format.h>

#include "bnfold/graph/graph.hpp"

namespace bnfold {

namespace {

std::string value_type(const Value* v) {
  return fmt::format("{}{}", dtype_name(v->dtype()), v->shape().str());
}

std::string value_list(const std::vector<Value*>& values) {
  std::string s;
  for (size_t k = 0; k < values.size(); ++k) {
    if (k) s += ", ";
    s += values[k] ? values[k]->name() : std::string("<none>");
  }
  return s;
}

}  // namespace

std::string Graph::dump() const {
  std::string out = fmt::format("graph '{}' ir={} producer='{}' '{}' model_version={}\n",
                                info.graph_name, info.ir_version, info.producer_name,
                                info.producer_version, info.model_version);
  for (const auto& [domain, version] : info.opsets)
    out += fmt::format("  opset {}:{}\n", domain.empty() ? "ai.onnx" : domain, version);
  for (const auto& [key, val] : info.metadata) out += fmt::format("  meta {}={}\n", key, val);

  out += "inputs:\n";
  for (const Value* v : inputs_) {
    out += fmt::format("  {}: {}{}\n", v->name(), value_type(v),
                       v->has_data() ? (v->is_overridable() ? " (default given)" : " (constant)")
                                     : "");
  }
  out += "initializers:\n";
  for (const auto& v : values_) {
    if (!v->has_data() || v->is_graph_input()) continue;
    out += fmt::format("  {}: {}\n", v->name(), value_type(v.get()));
  }

  std::vector<Node*> order;
  try {
    order = topological_order();
  } catch (...) {
    order = nodes();  // a cyclic graph still dumps, in insertion order
  }
  out += "nodes:\n";
  for (const Node* n : order) {
    out += fmt::format("  {}{} '{}' ({}) -> ({})", n->domain().empty() ? "" : n->domain() + ".",
                       n->op_type(), n->name(), value_list(n->inputs()), value_list(n->outputs()));
    if (!n->attrs().empty()) {
      out += " {";
      bool first = true;
      for (const auto& [name, attr] : n->attrs()) {
        out += fmt::format("{}{}={}", first ? "" : ", ", name, attr.str());
        first = false;
      }
      out += "}";
    }
    out += "\n";
    for (const Value* o : n->outputs())
      if (o && o->dtype() != DType::Undefined) out += fmt::format("      {}: {}\n", o->name(), value_type(o));
  }
  out += "outputs:\n";
  for (const Value* v : outputs_) out += fmt::format("  {}: {}\n", v->name(), value_type(v));
  return out;
}

}  // namespace bnfold
