// Shapes whose dims may be fixed (3), symbolic ("N", an ONNX dim_param that a
// dynamic batch keeps) or unknown. A shape may also have an unknown rank.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace bnfold BNFOLD_API {

struct Dim {
  int64_t value = -1;  // >= 0 when the dim is known
  std::string symbol;  // ONNX dim_param; empty when none

  static Dim fixed(int64_t v) { return Dim{v, {}}; }
  static Dim symbolic(std::string s) { return Dim{-1, std::move(s)}; }
  bool known() const { return value >= 0; }
  bool is_symbolic() const { return value < 0 && !symbol.empty(); }
  bool operator==(const Dim& o) const { return value == o.value && symbol == o.symbol; }
  bool operator!=(const Dim& o) const { return !(*this == o); }
  std::string str() const;  // "3", "N" or "?"
};

struct Shape {
  bool rank_known = false;
  std::vector<Dim> dims;

  static Shape unknown() { return Shape{}; }
  static Shape of(const std::vector<int64_t>& fixed_dims);
  size_t rank() const { return dims.size(); }
  bool fully_known() const;
  // The fixed dims; throws bnfold::Error if any dim is not known.
  std::vector<int64_t> fixed() const;
  bool operator==(const Shape& o) const { return rank_known == o.rank_known && dims == o.dims; }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;  // "[N,3,224,224]", "[]" for a scalar, "[*]" for unknown rank
};

}  // namespace bnfold
