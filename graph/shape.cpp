#include "bnfold/graph/shape.hpp"

#include "graph/check.hpp"

namespace bnfold {

std::string Dim::str() const {
  if (known()) return std::to_string(value);
  if (!symbol.empty()) return symbol;
  return "?";
}

Shape Shape::of(const std::vector<int64_t>& fixed_dims) {
  Shape s;
  s.rank_known = true;
  for (int64_t d : fixed_dims) s.dims.push_back(Dim::fixed(d));
  return s;
}

bool Shape::fully_known() const {
  if (!rank_known) return false;
  for (const Dim& d : dims)
    if (!d.known()) return false;
  return true;
}

std::vector<int64_t> Shape::fixed() const {
  BNFOLD_CHECK(fully_known(), ErrorCode::InvalidArgument, "shape {} is not fully known", str());
  std::vector<int64_t> out;
  for (const Dim& d : dims) out.push_back(d.value);
  return out;
}

std::string Shape::str() const {
  if (!rank_known) return "[*]";
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ',';
    s += dims[i].str();
  }
  return s + "]";
}

}  // namespace bnfold
