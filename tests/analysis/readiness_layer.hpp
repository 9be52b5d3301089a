// Internal to the tests: one layer of a readiness report, by node name.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "bnfold/analysis/quant_readiness.hpp"

namespace bnfold::test {

inline const LayerReadiness& layer(const std::vector<LayerReadiness>& r, const std::string& node) {
  for (const auto& l : r)
    if (l.node == node) return l;
  FAIL("no layer " << node);
  return r.front();
}

}  // namespace bnfold::test
