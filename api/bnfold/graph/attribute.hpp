// A node attribute: one of ONNX's attribute kinds, held as plain C++ values.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include "bnfold/graph/tensor.hpp"

namespace bnfold BNFOLD_API {

enum class AttrKind { Float, Int, String, Tensor, Floats, Ints, Strings, Tensors };

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
