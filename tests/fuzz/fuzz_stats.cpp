// libFuzzer target: the statistics file (`drift --save-stats` / `--merge`):
// parse, merge with itself, compare its moments with a copy of itself.
#include <cstddef>
#include <cstdint>
#include <string>

#include "bnfold/analysis/bn_moments.hpp"
#include "bnfold/graph/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    bnfold::BnInputStats s = bnfold::BnInputStats::parse(text, "fuzz.json");
    const bnfold::BnInputStats copy = s;
    s.merge(copy);
    for (const auto& name : s.order) {
      const auto& m = s.per_bn.at(name);
      for (size_t c = 0; c < m.mean.size(); ++c) (void)(m.m2[c] + m.mean[c]);
    }
  } catch (const bnfold::Error&) {
  }
  return 0;
}
