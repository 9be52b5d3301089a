// Internal to the tests: a one- or few-node graph built in code and run by
// oneDNN and by the reference kernels (test_dnnl_kernels.cpp,
// test_dnnl_conv_choice.cpp).
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "bnfold/runtime/session.hpp"
#include "tests/model_builder.hpp"

namespace bnfold::test {

// A one- or few-node graph built in code, run by both kernel sets.
struct Case : TestModel {
  using TestModel::TestModel;

  // Runs both ways; returns the oneDNN plan's step descriptions.
  std::vector<std::string> check(double rtol = 1e-4, double atol = 1e-5) {
    SessionOptions fast, ref;
    fast.threads = 2;
    ref.use_onednn = false;
    Session a(g, fast), b(g, ref);
    check_same_outputs(a.run(inputs), b.run(inputs), rtol, atol);
    return a.plan_stats(inputs).step_descriptions;
  }
};

inline bool contains(const std::vector<std::string>& steps, const std::string& what) {
  for (const auto& s : steps)
    if (s.find(what) != std::string::npos) return true;
  return false;
}

inline Attribute one(int64_t v) { return Attribute::of_int(v); }
inline Attribute real(float v) { return Attribute::of_float(v); }
inline Attribute text(const char* s) { return Attribute::of_string(s); }

}  // namespace bnfold::test
