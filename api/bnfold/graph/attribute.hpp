// A node attribute: one of ONNX's attribute kinds, held as plain C++ values.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bnfold/graph/tensor.hpp"

namespace bnfold BNFOLD_API {

class Graph;

// Graph: a control-flow body (If's branches). Its graph inputs are the
// body's own, then the outer values it reads (captures): `i` counts those,
// and the node lists the same values as its last `i` inputs, so that every
// edge stays explicit in the outer graph.
enum class AttrKind { Float, Int, String, Tensor, Floats, Ints, Strings, Tensors, Graph };

const char* attr_kind_name(AttrKind k);

struct Attribute {
  AttrKind kind = AttrKind::Int;
  float f = 0;
  int64_t i = 0;
  std::string s;  // bytes, not necessarily UTF-8
  Tensor t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::shared_ptr<const Graph> g;  // AttrKind::Graph

  static Attribute of_int(int64_t v);
  static Attribute of_float(float v);
  static Attribute of_string(std::string v);
  static Attribute of_ints(std::vector<int64_t> v);
  static Attribute of_floats(std::vector<float> v);
  static Attribute of_tensor(Tensor v);

  bool operator==(const Attribute& o) const;
  // Compact text for dumps: "3", "[1,1]", "'NOTSET'", "<float32[2]>".
  std::string str() const;
};

}  // namespace bnfold
