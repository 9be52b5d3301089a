#include "bnfold/graph/attribute.hpp"
#include "bnfold/graph/graph.hpp"

#include <fmt/format.h>

namespace bnfold {

const char* attr_kind_name(AttrKind k) {
  switch (k) {
    case AttrKind::Float: return "float";
    case AttrKind::Int: return "int";
    case AttrKind::String: return "string";
    case AttrKind::Tensor: return "tensor";
    case AttrKind::Floats: return "floats";
    case AttrKind::Ints: return "ints";
    case AttrKind::Strings: return "strings";
    case AttrKind::Tensors: return "tensors";
    case AttrKind::Graph: return "graph";
  }
  return "?";
}

Attribute Attribute::of_int(int64_t v) {
  Attribute a;
  a.kind = AttrKind::Int;
  a.i = v;
  return a;
}
Attribute Attribute::of_float(float v) {
  Attribute a;
  a.kind = AttrKind::Float;
  a.f = v;
  return a;
}
Attribute Attribute::of_string(std::string v) {
  Attribute a;
  a.kind = AttrKind::String;
  a.s = std::move(v);
  return a;
}
Attribute Attribute::of_ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = AttrKind::Ints;
  a.ints = std::move(v);
  return a;
}
Attribute Attribute::of_floats(std::vector<float> v) {
  Attribute a;
  a.kind = AttrKind::Floats;
  a.floats = std::move(v);
  return a;
}
Attribute Attribute::of_tensor(Tensor v) {
  Attribute a;
  a.kind = AttrKind::Tensor;
  a.t = std::move(v);
  return a;
}

bool Attribute::operator==(const Attribute& o) const {
  if (kind != o.kind) return false;
  switch (kind) {
    case AttrKind::Float: return f == o.f || (f != f && o.f != o.f);
    case AttrKind::Int: return i == o.i;
    case AttrKind::String: return s == o.s;
    case AttrKind::Tensor: return t.same_as(o.t);
    case AttrKind::Floats: return floats == o.floats;
    case AttrKind::Ints: return ints == o.ints;
    case AttrKind::Strings: return strings == o.strings;
    case AttrKind::Tensors:
      if (tensors.size() != o.tensors.size()) return false;
      for (size_t k = 0; k < tensors.size(); ++k)
        if (!tensors[k].same_as(o.tensors[k])) return false;
      return true;
    case AttrKind::Graph: return g == o.g && i == o.i;
  }
  return false;
}

std::string Attribute::str() const {
  switch (kind) {
    case AttrKind::Float: return fmt::format("{}", f);
    case AttrKind::Int: return std::to_string(i);
    case AttrKind::String: return fmt::format("'{}'", s);
    case AttrKind::Tensor: return "<" + t.describe() + ">";
    case AttrKind::Floats: return fmt::format("[{}]", fmt::join(floats, ","));
    case AttrKind::Ints: return fmt::format("[{}]", fmt::join(ints, ","));
    case AttrKind::Strings: {
      std::string out = "[";
      for (size_t k = 0; k < strings.size(); ++k) out += (k ? ",'" : "'") + strings[k] + "'";
      return out + "]";
    }
    case AttrKind::Tensors: {
      std::string out = "[";
      for (size_t k = 0; k < tensors.size(); ++k) out += (k ? ",<" : "<") + tensors[k].describe() + ">";
      return out + "]";
    }
    case AttrKind::Graph:
      return g ? fmt::format("<graph: {} nodes, {} captured>", g->num_nodes(), i) : "<graph>";
  }
  return "?";
}

}  // namespace bnfold
